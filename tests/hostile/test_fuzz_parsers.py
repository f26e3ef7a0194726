"""A hostile world: every parser of user input, fed random and mutated input (issue 13).

Each parser answers with a result or with the library's own error naming the file and what
is wrong, never another exception, never a write outside its folder, never running code:

- :func:`brainmark.pipeline.archive.validate_archive` on zips built by hypothesis (hostile
  names, random bytes and file-type bits, damaged bytes), plus the archive cases
  ``tests/pipeline/test_archive.py`` leaves out: Windows drive paths and backslashes, every
  file type the external attributes can name (a zip has no hard links: a link is a file
  type or nothing), a zip inside a zip, a million entries, sizes that lie, a cut zip;
- :func:`brainmark._plugin_index.parse_registrations` on mutations of the built-in plugins'
  ``__init__.py`` files and random text, each carrying code that would leave a file behind
  if it ran;
- the stimulus set and assembly loaders on mutated CSV, schema and netCDF files in a store;
- ``POST /api/webhooks/git`` with random JSON and bytes, correctly signed;
- a 1 GB upload to a live ``brainmark serve``: refused with 413, the worker's memory bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import io
import itertools
import json
import os
import re
import select
import socket
import stat
import string
import struct
import urllib.request
import uuid
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.platform.live_site import BRAINMARK, clean_environment, run, serving, wait_until

from brainmark.exceptions import BrainmarkError, PluginIndexError
from brainmark.pipeline.archive import ArchiveError, ArchiveLimits, ValidatedArchive
from brainmark.pipeline.archive import validate_archive as validate

MB = 1024 * 1024
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

MODEL_METADATA = """\
architecture: CNN
parameters: 11689512
training_data: ImageNet-1k
license: MIT
reference: https://doi.org/10.1000/example
"""
GOOD = [
    ("models/my_net/__init__.py",
     'from brainmark.registry import model_registry\n\nmodel_registry["my-net"] = print\n'),
    ("models/my_net/test.py", "def test_nothing():\n    pass\n"),
    ("models/my_net/metadata.yml", MODEL_METADATA),
]


def write_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes | str]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return path


class Workspace:
    """A folder three levels deep with canary files beside and above it: an archive that
    escapes its destination would change the tree outside ``destination``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "a" / "b"
        self.folder.mkdir(parents=True)
        for canary in (root / "canary", root / "a" / "canary", self.folder / "canary"):
            canary.write_text("canary")
        self.before = self.snapshot()
        self._names = itertools.count()
        self.destinations: list[str] = []  # those of archives that passed

    def snapshot(self) -> dict[str, bytes]:
        return {
            path.relative_to(self.root).as_posix(): path.read_bytes() if path.is_file() else b""
            for path in self.root.rglob("*") if not path.is_symlink()
        } | {
            path.relative_to(self.root).as_posix(): b"link"
            for path in self.root.rglob("*") if path.is_symlink()
        }

    def validate(self, zip_path: Path, limits: ArchiveLimits | None = None
                 ) -> ValidatedArchive | ArchiveError:
        """The archive's result or its ArchiveError; nothing is written outside the new
        destination, which is left only when the archive passed."""
        destination = self.folder / f"out{next(self._names)}"
        try:
            result: ValidatedArchive | ArchiveError = validate(zip_path, destination,
                                                               limits=limits)
        except ArchiveError as error:
            assert error.problems, "an ArchiveError names at least one problem"
            for problem in error.problems:
                assert problem.file and problem.rule and problem.message, problem
                assert str(problem) in str(error)
            assert not os.path.lexists(destination)
            result = error
        else:
            assert result.folder == destination and destination.is_dir()
            for path in destination.rglob("*"):
                assert not path.is_symlink() and (path.is_dir() or path.is_file()), path
        self.before[zip_path.relative_to(self.root).as_posix()] = zip_path.read_bytes()
        if isinstance(result, ValidatedArchive):
            self.destinations.append(destination.relative_to(self.root).as_posix())
        outside = {name: data for name, data in self.snapshot().items()
                   if not any(name == d or name.startswith(d + "/") for d in self.destinations)}
        assert outside == self.before
        return result


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def refused_for(result: ValidatedArchive | ArchiveError, file: str, rule: str) -> None:
    assert isinstance(result, ArchiveError), result
    assert (file, rule) in {(p.file, p.rule) for p in result.problems}, result.problems


# --- the archive cases test_archive.py leaves out ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("C:\\evil.py", "forward slashes only"),
        ("C:\\..\\..\\evil.py", "forward slashes only"),
        ("c:/evil.py", "relative paths only"),
        ("C:", "relative paths only"),
        ("..\\..\\evil.py", "forward slashes only"),
        ("models\\..\\..\\evil.py", "forward slashes only"),
        ("\\\\server\\share\\evil.py", "forward slashes only"),
        ("//server/share/evil.py", "relative paths only"),
        ("models/my_net/..", "no '..'"),
        ("../", "no '..'"),
    ],
)
def test_windows_paths_and_backslashes_are_refused(workspace, name, rule):
    zip_path = write_zip(workspace.folder / "s.zip", [*GOOD, (name, b"x")])
    result = workspace.validate(zip_path)
    assert isinstance(result, ArchiveError) and result.safety
    assert [p.rule for p in result.problems] == [rule]


@pytest.mark.parametrize("file_type", range(0, 0o200000, 0o10000), ids=oct)
def test_only_regular_files_and_folders_pass_whatever_the_file_type_bits(workspace, file_type):
    """A zip can mark an entry a link (or anything else) only by the file type in its
    external attributes: every one of the 16 values but 'none', file and folder is refused.
    (A zip has no hard links; a second entry of the same name is refused as a duplicate.)"""
    info = zipfile.ZipInfo("models/my_net/weights.py")
    info.create_system = 3
    info.external_attr = (file_type | 0o644) << 16
    result = workspace.validate(write_zip(workspace.folder / "s.zip", [*GOOD, (info, b"x")]))
    if file_type in (0, stat.S_IFREG):
        assert isinstance(result, ValidatedArchive)
        assert (result.root / "models/my_net/weights.py").read_bytes() == b"x"
    elif file_type == stat.S_IFDIR:
        # A folder's data is not written; a folder named weights.py is no file.
        assert isinstance(result, ValidatedArchive)
        assert (result.root / "models/my_net/weights.py").is_dir()
    else:
        refused_for(result, "models/my_net/weights.py", "regular files only")


def deflated_zeros_stream(megabytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``megabytes`` MiB of zeros and its CRC, built from one MiB
    (after a full flush deflate starts afresh, so the segments simply repeat)."""
    zeros = bytes(MB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    return segment * megabytes + compressor.flush(), crc


def bomb_zip(megabytes: int) -> bytes:
    """A zip whose one entry deflates ``megabytes`` MiB of zeros, as bytes."""
    stream, crc = deflated_zeros_stream(megabytes)
    name = b"zeros.bin"
    local = struct.pack(zipfile.structFileHeader, zipfile.stringFileHeader, 20, 0, 0,
                        zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(stream), megabytes * MB,
                        len(name), 0) + name
    central = struct.pack(zipfile.structCentralDir, zipfile.stringCentralDir, 20, 3, 20, 0, 0,
                          zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(stream), megabytes * MB,
                          len(name), 0, 0, 0, 0, 0o100644 << 16, 0) + name
    end = struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, 1, 1,
                      len(central), len(local) + len(stream), 0)
    return local + stream + central + end


def test_a_nested_zip_bomb_is_kept_as_bytes_never_opened(workspace):
    inner = bomb_zip(256)  # 256 MiB of zeros in about 260 KB
    with zipfile.ZipFile(io.BytesIO(inner)) as check:
        assert check.getinfo("zeros.bin").file_size == 256 * MB  # a real zip any tool reads
    zip_path = write_zip(workspace.folder / "s.zip",
                         [*GOOD, ("models/my_net/weights.zip", inner)])
    result = workspace.validate(zip_path)
    # The outer zip is within every limit: the inner one is written as the bytes it is.
    assert isinstance(result, ValidatedArchive)
    written = sum(p.stat().st_size for p in result.root.rglob("*") if p.is_file())
    assert written == len(inner) + sum(len(data) for _, data in GOOD)
    assert (result.root / "models/my_net/weights.zip").read_bytes() == inner

    # Nested twice, deflated each time: the outer entry is a bomb of its own kind.
    middle = io.BytesIO()
    with zipfile.ZipFile(middle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.zip", inner)
    zip_path = write_zip(workspace.folder / "s.zip",
                         [*GOOD, ("models/my_net/weights.zip", middle.getvalue())])
    result = workspace.validate(zip_path)
    assert isinstance(result, ValidatedArchive)
    assert (result.root / "models/my_net/weights.zip").read_bytes() == middle.getvalue()


def million_entries_zip(path: Path, count: int = 1_000_000) -> Path:
    """A zip whose central directory lists ``count`` empty files (4-letter names), all
    pointing at its one local header: 50 bytes an entry, under the 50 MB archive limit."""
    alphabet = (string.ascii_letters + string.digits).encode()
    names = itertools.islice(itertools.product(alphabet, repeat=4), count)
    entry = struct.Struct(zipfile.structCentralDir)
    with path.open("wb") as out:
        local = struct.pack(zipfile.structFileHeader, zipfile.stringFileHeader, 20, 0, 0, 0,
                            0, 0x21, 0, 0, 0, 4, 0) + b"aaaa"
        out.write(local)
        head = entry.pack(zipfile.stringCentralDir, 20, 3, 20, 0, 0, 0, 0, 0x21, 0, 0, 0, 4,
                          0, 0, 0, 0, 0o100644 << 16, 0)
        size = 0
        for batch in iter(lambda: list(itertools.islice(names, 65536)), []):
            block = b"".join(head + bytes(name) for name in batch)
            out.write(block)
            size += len(block)
        offset = len(local)
        out.write(struct.pack(zipfile.structEndArchive64, zipfile.stringEndArchive64, 44, 45,
                              45, 0, 0, count, count, size, offset))
        out.write(struct.pack(zipfile.structEndArchive64Locator,
                              zipfile.stringEndArchive64Locator, 0, offset + size, 1))
        out.write(struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0,
                              0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return path


def test_a_million_entries_are_refused_by_the_count_from_the_end_record(workspace):
    import tracemalloc

    zip_path = million_entries_zip(workspace.folder / "s.zip")
    assert zip_path.stat().st_size < ArchiveLimits().max_archive_bytes  # the count must refuse
    destination = workspace.folder / "out"
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError) as caught:
            validate(zip_path, destination)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    refused_for(caught.value, "s.zip", "file count")
    assert "1,000,000 entries, over the limit of 2,000" in str(caught.value)
    assert not os.path.lexists(destination)
    # zipfile would build a million ZipInfo objects (about half a gigabyte) to count them;
    # the end record's count needs the last 64 KiB of the file and little more.
    assert peak < 8 * MB, f"{peak:,} bytes allocated to refuse it"


def test_a_central_directory_lying_about_its_count_is_refused_by_its_size(workspace):
    zip_path = million_entries_zip(workspace.folder / "s.zip", count=10_000)
    data = bytearray(zip_path.read_bytes())
    # The ZIP64 record (56 bytes, 98 from the end) says 10 entries; the directory holds 10,000.
    record = len(data) - 22 - 20 - 56
    assert data[record:record + 4] == zipfile.stringEndArchive64
    data[record + 24:record + 40] = struct.pack("<2Q", 10, 10)
    zip_path.write_bytes(bytes(data))
    result = workspace.validate(zip_path, ArchiveLimits(max_files=12))
    refused_for(result, "s.zip", "file count")
    assert "central directory is 500,000 bytes" in str(result)


def test_a_compressed_size_smaller_than_the_data_is_refused(workspace):
    """The central directory says 100 compressed bytes; the deflate stream goes on."""
    zip_path = workspace.folder / "s.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in GOOD:
            archive.writestr(name, data)
        archive.writestr("models/my_net/w.bin", os.urandom(50_000))
        archive.getinfo("models/my_net/w.bin").compress_size = 100
    result = workspace.validate(zip_path)
    refused_for(result, "models/my_net/w.bin", "zip format")
    assert "ends before its end marker" in str(result)


def test_a_compressed_size_past_the_archive_end_is_refused(workspace):
    zip_path = workspace.folder / "s.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in GOOD:
            archive.writestr(name, data)
        archive.writestr("models/my_net/w.bin", b"x" * 1000)
        archive.getinfo("models/my_net/w.bin").compress_size = 10 * MB
    refused_for(workspace.validate(zip_path), "models/my_net/w.bin", "zip format")


def test_a_stored_entry_declaring_less_than_it_holds_is_refused(workspace):
    """Stored (not deflated): both sizes say 10 bytes, the data that follows is bigger; only
    the declared 10 are read, so they do not match the CRC of what was written."""
    zip_path = workspace.folder / "s.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in GOOD:
            archive.writestr(name, data)
        archive.writestr("models/my_net/w.bin", b"y" * 5000)
        info = archive.getinfo("models/my_net/w.bin")
        info.compress_size = info.file_size = 10
    result = workspace.validate(zip_path)
    assert isinstance(result, ArchiveError)
    assert result.problems[0].rule in ("checksum", "no overlapping entries", "zip format")


@pytest.mark.parametrize("keep", [0, 1, 4, 22, 30, 100, 0.25, 0.5, 0.9, 0.99, -22, -1])
def test_a_cut_zip_is_refused(workspace, keep):
    whole = write_zip(workspace.folder / "whole.zip",
                      [*GOOD, ("models/my_net/w.bin", os.urandom(3000))]).read_bytes()
    end = int(len(whole) * keep) if isinstance(keep, float) else keep % len(whole)
    zip_path = workspace.folder / "s.zip"
    zip_path.write_bytes(whole[:end])
    workspace.before["a/b/whole.zip"] = whole
    result = workspace.validate(zip_path)
    refused_for(result, "s.zip", "zip format")


# --- random zips --------------------------------------------------------------------------------

NAME_PARTS = ["models", "my_net", "benchmarks", "data", "x.py", "__init__.py", "..", ".", "",
              "C:", "c:", "\\", "..\\..", "é", "Ⅸ", "ǅ", "MODELS", "a b", "\t", "__MACOSX",
              "._x", ".DS_Store", "x.pyc", "metadata.yml", "test.py", "\u202e", "\ufeff"]
names = st.one_of(
    st.lists(st.sampled_from(NAME_PARTS), min_size=1, max_size=5).map("/".join),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20),
    st.text("/\\.:Cc aé\x00\n", min_size=1, max_size=12),
)
file_types = st.sampled_from([0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFCHR,
                              stat.S_IFIFO, stat.S_IFSOCK, 0o110000])
entries = st.tuples(
    names,
    st.one_of(st.binary(max_size=300), st.sampled_from([b"", bytes(5000), b"x = 1\n"])),
    st.one_of(file_types.map(lambda t: (t | 0o644) << 16), st.integers(0, 2**32 - 1)),
    st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
)
damages = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4)


def build_zip(path: Path, base: bool, extra: list, damage: list, cut: float | None) -> bool:
    """Write the zip; False when zipfile itself will not write these entries."""
    members = []
    for name, data, attributes, method in extra:
        info = zipfile.ZipInfo("x")
        info.filename = name  # as given: ZipInfo would cut at a NUL
        info.external_attr = attributes
        info.create_system = 3
        info.compress_type = method
        members.append((info, data))
    try:
        write_zip(path, [*(GOOD if base else []), *members])
    except (ValueError, UnicodeError, struct.error, OverflowError):
        return False
    data = bytearray(path.read_bytes())
    for where, value in damage:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if cut is not None:
        data = data[:int(cut * len(data))]
    path.write_bytes(bytes(data))
    return True


@FUZZ
@given(base=st.booleans(), extra=st.lists(entries, max_size=6), damage=damages,
       cut=st.none() | st.floats(0, 1))
def test_any_zip_is_validated_or_refused_naming_file_and_rule(tmp_path_factory, base, extra,
                                                             damage, cut):
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    zip_path = workspace.folder / "s.zip"
    if build_zip(zip_path, base, extra, damage, cut):
        workspace.validate(zip_path, ArchiveLimits(max_files=20, ratio_floor_bytes=1000))


# --- registrations: parsed, never run -----------------------------------------------------------

PLUGINS = Path(__file__).resolve().parents[2] / "src" / "brainmark" / "plugins"
SOURCES = sorted(path.read_text() for path in PLUGINS.glob("*/*/__init__.py"))
TOKENS = ["model_registry[", "benchmark_registry['x'] = f\n", "for x in [", "for a, b in ",
          "]:\n    ", "+", " + 1", "f'{", "{x!r:>3}", "}'", "(", ")", "[", "]", "\n", "\n    ",
          "\x00", '"""', "\\", "x = x + x\n", "lambda: 0", "import os\n", "del ", "*", "**",
          "await ", "global x\n", "def f(): model_registry['y'] = g\n", "#", ":", "=", ","]


@st.composite
def mutated_sources(draw) -> bytes:
    source = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(0, 6))):
        where = draw(st.integers(0, len(source)))
        kind = draw(st.sampled_from(["insert", "delete", "duplicate", "token"]))
        if kind == "insert":
            source = source[:where] + draw(st.text(max_size=10)) + source[where:]
        elif kind == "delete":
            source = source[:where] + source[where + draw(st.integers(1, 40)):]
        elif kind == "duplicate":
            source = source[:where] + source[where:where + draw(st.integers(1, 80))] * 2 + \
                source[where:]
        else:
            source = source[:where] + draw(st.sampled_from(TOKENS)) + source[where:]
    return source.encode("utf-8", "surrogatepass")


def payloads(canary: Path) -> list[str]:
    """Lines that leave ``canary`` behind if anything runs them."""
    opened = f"open({str(canary)!r}, 'w').write('ran')"
    return [
        f"{opened}\n",
        f"model_registry[{opened}] = f\n",
        f"model_registry[str({opened})] = f\n",
        f"for x in [{opened}]:\n    model_registry[x] = f\n",
        f"model_registry[f'{{{opened}}}'] = f\n",
        f"__import__('pathlib').Path({str(canary)!r}).touch()\n",
        f"x = [{opened}]\nmodel_registry[x[0]] = f\n",
    ]


@FUZZ
@given(source=st.one_of(mutated_sources(), st.binary(max_size=300),
                        st.text(max_size=300).map(str.encode)),
       payload=st.integers(0, 6), place=st.floats(0, 1))
def test_registrations_are_read_or_refused_and_never_run(tmp_path_factory, source, payload,
                                                          place):
    from brainmark._plugin_index import parse_registrations

    folder = tmp_path_factory.mktemp("plugin")
    canary = folder / "ran"
    lines = source.split(b"\n")
    at = int(place * len(lines))
    lines.insert(at, payloads(canary)[payload].encode().rstrip(b"\n"))
    init = folder / "__init__.py"
    init.write_bytes(b"\n".join(lines))
    try:
        found = parse_registrations(init)
    except PluginIndexError as error:
        assert str(init) in str(error)
    else:
        assert all(isinstance(key, str) and len(key) <= 10_000 for _, key, _ in found)
    assert not canary.exists()


def test_the_hostile_registrations_found_are_refused_quickly(tmp_path):
    """What the fuzzing found, each once: a TypeError, nesting too deep for the parser, a
    string doubling on every line, and loops in loops (24 million steps)."""
    from brainmark._plugin_index import parse_registrations

    loops = "".join("    " * i + f"for v{i} in {list(range(30))}:\n" for i in range(5))
    unreadable = "the registered identifier must be a string the plugin index can read"
    cases = {  # each case's source, and the reason it must be refused for
        "type": ('x = 1 + "a"\nmodel_registry[x] = f\n', f"line 2: {unreadable}"),
        "deep": ("x = " + "+".join(['"a"'] * 50_000) + "\n", "too deeply nested"),
        "double": ('a = "x"\n' + "a = a + a\n" * 40 + "model_registry[a] = f\n",
                   f"line 42: {unreadable}"),
        # A readable key in 30**5 iterations: only the step budget stops it.
        "loops": (loops + "    " * 5 + 'model_registry[f"m{v0}"] = f\n',
                  "line 6: reading the registrations takes over 100,000 steps"),
        "nul": ('model_registry["a"] = f\x00\n', "null bytes"),
    }
    for name, (source, reason) in cases.items():
        init = tmp_path / f"{name}.py"
        init.write_text(source)
        with pytest.raises(PluginIndexError, match=re.escape(reason)) as refused:
            parse_registrations(init)
        assert str(init) in str(refused.value)


# --- stimulus sets and assemblies -------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict:
    """A stimulus set and an assembly as packaging writes them (the bytes to mutate)."""
    from PIL import Image

    from brainmark.data import NeuroidAssembly, StimulusSet
    from brainmark.data.packaging import (
        package_data_assembly_locally,
        package_stimulus_set_locally,
    )

    folder = tmp_path_factory.mktemp("packaged")
    paths = {}
    for index, sid in enumerate("abcd"):
        paths[sid] = folder / f"{sid}.png"
        Image.fromarray(np.full((4, 4, 3), index * 40, np.uint8)).save(paths[sid])
    stimuli = StimulusSet({"stimulus_id": list("abcd"), "label": ["x", "y", "z", "w"],
                           "size": [1.5, 2.0, np.nan, 3.0], "count": [1, 2, 3, 4],
                           "mixed": ["a", None, "c", "d"]},
                          stimulus_paths=paths, identifier="Fuzz2024")
    record = package_stimulus_set_locally(stimuli, "Fuzz2024", folder)
    assembly = NeuroidAssembly(
        np.arange(24, dtype=np.float64).reshape(8, 3) / 7, dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", list("abcd") * 2),
                "repetition": ("presentation", [0] * 4 + [1] * 4),
                "neuroid_id": ("neuroid", ["n1", "n2", "n3"]),
                "region": ("neuroid", ["IT", "IT", "V4"])})
    netcdf = package_data_assembly_locally(assembly, "Fuzz2024.IT", "Fuzz2024",
                                           "NeuroidAssembly", folder)
    with zipfile.ZipFile(record["zip_path"]) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return {"csv": Path(record["csv_path"]).read_bytes(), "members": members,
            "netcdf": Path(netcdf["path"]).read_bytes()}


def mutate(data: bytes, edits: list[tuple[float, int, bytes]]) -> bytes:
    """Each edit deletes ``length`` bytes at a relative place and inserts ``insert``."""
    for where, length, insert in edits:
        at = int(where * len(data))
        data = data[:at] + insert + data[at + length:]
    return data


edits = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 8), st.one_of(
    st.binary(max_size=6),
    st.sampled_from([b",", b'"', b"\r\n", b"\n", b"\x00", b"\xff\xfe", b"null", b"[", b"{",
                     b"}", b'"x"', b"1e999", b"NaN", b"-", b"int64", b"object", b"json",
                     b"category", b"datetime64[ns]", b"<U", b"True"]),
)), max_size=5)


def store_file(store: Path, key: str, data: bytes) -> str:
    (store / key).write_bytes(data)
    return hashlib.sha1(data).hexdigest()


@FUZZ
@given(csv_edits=edits, schema_edits=edits, zip_cut=st.none() | st.floats(0, 1),
       schema=st.booleans())
def test_stimulus_sets_load_or_refuse_with_a_brainmark_error(tmp_path_factory, packaged,
                                                              csv_edits, schema_edits, zip_cut,
                                                              schema):
    """With the packaged schema (mutated) or without one (a foreign package: pandas reads
    the CSV)."""
    from brainmark.data import StimulusSet, load_stimulus_set_from_store
    from brainmark.data.packaging import SCHEMA_MEMBER

    store = tmp_path_factory.mktemp("store")
    members = dict(packaged["members"])
    if schema:
        members[SCHEMA_MEMBER] = mutate(members[SCHEMA_MEMBER], schema_edits)
    else:
        del members[SCHEMA_MEMBER]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    zip_bytes = buffer.getvalue()
    if zip_cut is not None:
        zip_bytes = zip_bytes[:int(zip_cut * len(zip_bytes))]
    csv_sha1 = store_file(store, "stimulus_Fuzz2024.csv", mutate(packaged["csv"], csv_edits))
    zip_sha1 = store_file(store, "stimulus_Fuzz2024.zip", zip_bytes)
    try:
        loaded = load_stimulus_set_from_store("Fuzz2024", store.as_uri(), csv_sha1, zip_sha1)
    except BrainmarkError as error:
        assert "Fuzz2024" in str(error)
    else:
        assert isinstance(loaded, StimulusSet)


@FUZZ
@given(cut=st.none() | st.integers(0, 20_000),
       junk=st.none() | st.binary(min_size=1, max_size=200),
       attrs=st.dictionaries(
           st.sampled_from(["brainmark_multiindex", "brainmark_dtype", "brainmark_class",
                            "brainmark_coords"]),
           st.one_of(st.text(max_size=20), st.sampled_from(
               ['{"presentation": ["nope", "x"]}', '{"neuroid": ["neuroid_id"]}', "[]",
                '["stimulus_id", 3]', "int8", "<U2", "object", "datetime64[ns]", "{",
                '{"presentation": "abc"}', "NeuroidAssembly", "NoSuchAssembly"]))),
       coord_dtype=st.none() | st.sampled_from(["int8", "bool", "float16", "xyz", "<M8[ns]"]))
def test_assemblies_load_or_refuse_with_a_brainmark_error(tmp_path_factory, packaged, cut,
                                                           junk, attrs, coord_dtype):
    """HDF5's own bytes are cut or replaced, never flipped in place: the HDF5 library can
    loop without end on a flipped byte in a B-tree (seen in h5ds.get_num_scales), which no
    Python code around it can stop; the scoring job's time limit bounds that case."""
    import xarray as xr

    from brainmark.data import DataAssembly, load_assembly_from_store

    store = tmp_path_factory.mktemp("store")
    data = packaged["netcdf"]
    if attrs or coord_dtype:
        with xr.open_dataset(io.BytesIO(data), engine="h5netcdf") as opened:
            dataset = opened.load()
        (name,) = [n for n in dataset.data_vars if "brainmark_coords" in dataset[n].attrs]
        dataset[name].attrs.update(attrs)
        if coord_dtype:
            dataset["repetition"].attrs["brainmark_dtype"] = coord_dtype
        path = tmp_path_factory.mktemp("nc") / "a.nc"
        dataset.to_netcdf(path, engine="h5netcdf")
        data = path.read_bytes()
    if cut is not None:
        data = data[:cut]
    if junk is not None:
        data = junk
    sha1 = store_file(store, "assy_Fuzz2024.IT.nc", data)
    try:
        loaded = load_assembly_from_store("Fuzz2024.IT", store.as_uri(), sha1)
    except BrainmarkError as error:
        assert "assy_Fuzz2024.IT.nc" in str(error) or "Fuzz2024" in str(error)
    else:
        assert isinstance(loaded, DataAssembly)


# --- webhook payloads ---------------------------------------------------------------------------

SECRET = "webhook-secret-for-fuzzing-0123456789"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
event_keys = st.fixed_dictionaries({}, optional={
    "ref": st.sampled_from(["refs/heads/main", "refs/tags/v1", "main", "", "refs/heads/-x"])
    | st.text(max_size=20),
    "after": st.sampled_from(["0" * 40, "a" * 40, "", "zz"]) | st.text(max_size=45),
    "deleted": st.booleans() | json_values,
    "action": st.sampled_from(["opened", "synchronize", "closed", "labeled"]) | json_values,
    "repository": st.fixed_dictionaries({}, optional={
        "clone_url": st.sampled_from(["https://example.org/x.git", "file:///etc", "-x",
                                      "ssh://h/x"]) | st.text(max_size=30),
        "full_name": st.text(max_size=20) | json_values,
    }) | json_values,
    "pull_request": json_values,
    "zen": st.text(max_size=10),
})


@pytest.mark.db
@FUZZ
@given(body=st.one_of(event_keys.map(lambda v: json.dumps(v).encode()),
                      json_values.map(lambda v: json.dumps(v).encode()),
                      st.binary(max_size=200)),
       event=st.sampled_from(["push", "pull_request", "ping", "issues", "", "push\x7f"]),
       gitea=st.booleans())
def test_signed_webhook_payloads_never_make_a_server_error(webhook_site, body, event, gitea):
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = ({"HTTP_X_GITEA_SIGNATURE": signature, "HTTP_X_GITEA_EVENT": event,
                "HTTP_X_GITEA_DELIVERY": str(uuid.uuid4())} if gitea else
               {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + signature,
                "HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": str(uuid.uuid4())})
    response = webhook_site.post("/api/webhooks/git", body, content_type="application/json",
                                 **headers)
    assert response.status_code < 500 or response.status_code == 502, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json() or response.status_code == 201


@pytest.fixture
def webhook_site(tmp_path: Path, database: None):
    """Django's test client on a site taking webhooks (the settings of
    tests/platform/test_git_submissions.py), git fetching over file:// only, so nothing
    reaches the network."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test import override_settings as django_settings

    from brainmark.settings import override_settings

    email = "webhooks@example.org"
    get_user_model().objects.create_user(email, email)
    home = tmp_path / "home"
    home.mkdir()
    with override_settings(home=home, store=(tmp_path / "object-store").as_uri(),
                           git_url_schemes=("file",), webhook_secret=SECRET,
                           webhook_user=email, site_url="https://brainmark.example.org"), \
            django_settings(ALLOWED_HOSTS=["testserver"]):
        yield Client()


# --- a 1 GB upload to a live site ---------------------------------------------------------------

GB = 1024 * MB
#: The web worker's peak resident memory may not pass this, whatever it is sent.
WORKER_PEAK_BOUND = 400 * MB


def processes() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, command line) of every process /proc shows."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                found[int(entry.name)] = (parent, (entry / "cmdline").read_text().split("\0"))
    return found


def serve_processes(port: str) -> list[int]:
    """The 'brainmark serve' process listening on ``port`` (the master, not its worker)."""
    table = processes()
    serving = {pid for pid, (_, args) in table.items()
               if "serve" in args and port in args and any(a.endswith("brainmark") for a in args)}
    return [pid for pid in serving if table[pid][0] not in serving]


def children_of(pid: int) -> list[int]:
    return [child for child, (parent, _) in processes().items() if parent == pid]


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def post_gigabyte(address: str, token: str, *, chunked: bool) -> tuple[int, dict, int]:
    """POST 1 GB of generated multipart body (never held in memory) to the submissions API;
    sending stops when the server answers. The status, its JSON and the bytes sent."""
    host, port = address.removeprefix("http://").split(":")
    boundary = "fuzzboundary42"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.zip\"\r\nContent-Type: application/zip\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = os.urandom(MB)
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    connection.putrequest("POST", "/api/submissions/")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    if chunked:
        connection.putheader("Transfer-Encoding", "chunked")
    else:
        connection.putheader("Content-Length", str(len(head) + GB + len(tail)))
    connection.endheaders()
    sock = connection.sock
    sent = 0

    def send(data: bytes) -> None:
        nonlocal sent
        if chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        sock.sendall(data)
        sent += len(data)

    try:
        send(head)
        for _ in range(GB // MB):
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered (or closed): stop sending
            send(block)
        else:
            send(tail)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading; its answer is waiting
    with contextlib.suppress(OSError):  # the server may have closed the connection already
        sock.shutdown(socket.SHUT_WR)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, json.loads(body), sent


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_gigabyte_upload_is_refused_and_the_worker_memory_stays_bounded(
    tmp_path, read_server_address, chunked
):
    import sys

    home = tmp_path / "home"
    env = clean_environment(home)
    run([str(BRAINMARK), "migrate"], env)
    make_token = (
        "import django; django.setup()\n"
        "from brainmark.platform.accounts.services import create_api_token, create_user\n"
        "create_user('big@example.org', 'Cobol-nanosecond-1906!wire', "
        "'Cobol-nanosecond-1906!wire')\n"
        "print(create_api_token('big@example.org', 'fuzz')[1])\n"
    )
    token = run([sys.executable, "-c", make_token],
                {**env, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}).split()[-1]
    with serving(env, home, read_server_address) as address:
        # One small request first, so the worker has loaded the site before it is measured
        # (and exists: the server prints its address before gunicorn forks the worker).
        with urllib.request.urlopen(f"{address}/api/openapi.json", timeout=60) as warm:
            assert warm.status == 200
        (serve_pid,) = serve_processes(address.rsplit(":", 1)[1])
        (worker,) = wait_until(lambda: children_of(serve_pid), within=30,
                               what="the server's worker process")
        before = peak_rss(worker)
        status, answer, sent = post_gigabyte(address, token, chunked=chunked)
        after = peak_rss(worker)
        alive = Path(f"/proc/{worker}").exists()
    print(f"\n1 GB upload ({'chunked' if chunked else 'Content-Length'}): answered {status} "
          f"after {sent:,} bytes sent; worker peak RSS {before / MB:.0f} MB before, "
          f"{after / MB:.0f} MB after (VmHWM of pid {worker}); {answer.get('detail')!r}")
    assert alive
    assert status in (400, 411, 413), answer
    assert "detail" in answer
    if chunked:  # Django reads no body without a Content-Length: it is refused unread
        assert status == 400 and "without a Content-Length" in answer["detail"]
    else:
        assert status == 413 and "over the limit" in answer["detail"]
    assert sent < GB  # refused while streaming, not after the whole body
    assert after < WORKER_PEAK_BOUND
