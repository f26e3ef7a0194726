"""Safe extraction and validation of submitted zips (brainmark.pipeline.archive).

Every bad archive is built here with zipfile, or crafted by hand where zipfile would not
write it; each is refused with the file and the rule, and leaves nothing behind.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
import yaml

from brainmark._scaffold import new_model
from brainmark.exceptions import BrainmarkError
from brainmark.pipeline import archive as archive_module
from brainmark.pipeline.archive import (
    ArchiveError,
    ArchiveLimits,
    receive_upload,
    validate_archive,
)
from brainmark.registry import plugin_index

MB = 1024 * 1024

MODEL_METADATA = """\
architecture: CNN
parameters: 11689512
training_data: ImageNet-1k
license: MIT
reference: https://doi.org/10.1000/example
"""
BENCHMARK_METADATA = """\
region: IT
species: macaque
task: passive fixation
stimuli: Smith2024
license: CC-BY-4.0
reference: Smith et al. 2024
"""
INIT = 'from brainmark.registry import model_registry\n\nmodel_registry["{name}"] = print\n'


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes | str]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def plugin_entries(folder: str = "models/my_net", name: str = "my-net") -> list:
    return [
        (f"{folder}/__init__.py", INIT.format(name=name)),
        (f"{folder}/test.py", "def test_nothing():\n    pass\n"),
        (f"{folder}/metadata.yml", MODEL_METADATA),
    ]


def refused(tmp_path: Path, entries: list, limits: ArchiveLimits | None = None) -> ArchiveError:
    """The error of validating a zip of ``entries``, after checking nothing was left behind."""
    zip_path = make_zip(tmp_path / "submission.zip", entries)
    return refused_zip(tmp_path, zip_path, limits)


def refused_zip(tmp_path: Path, zip_path: Path, limits: ArchiveLimits | None = None):
    destination = tmp_path / "extracted"
    before = sorted(tmp_path.iterdir())
    with pytest.raises(ArchiveError) as caught:
        validate_archive(zip_path, destination, limits=limits)
    assert not os.path.lexists(destination)
    assert sorted(tmp_path.iterdir()) == before
    return caught.value


def assert_refused_for(error: ArchiveError, file: str, rule: str) -> None:
    assert (file, rule) in {(p.file, p.rule) for p in error.problems}, error.problems
    assert file in str(error) and rule in str(error)


# --- a good submission ------------------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINMARK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BRAINMARK_PLUGIN_PATH", raising=False)
    return tmp_path / "home"


@pytest.fixture
def scaffolded(tmp_path, home) -> Path:
    """A zip of what 'brainmark new model my-net' makes, plus its metadata.yml."""
    source = tmp_path / "source"
    new_model("my-net", source)
    (source / "models" / "my_net" / "metadata.yml").write_text(MODEL_METADATA)
    zip_path = tmp_path / "my-net.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*")):
            zf.write(path, path.relative_to(source).as_posix())
    return zip_path


def test_a_scaffolded_model_passes_with_what_the_registry_would_register(
    tmp_path, scaffolded, monkeypatch
):
    destination = tmp_path / "extracted"
    result = validate_archive(scaffolded, destination)

    assert result.folder == destination and result.root == destination
    assert stat.S_IMODE(destination.stat().st_mode) == 0o700
    assert result.sha1 == hashlib.sha1(scaffolded.read_bytes()).hexdigest()
    assert result.size == scaffolded.stat().st_size
    (plugin,) = result.plugins
    assert plugin.plugin_type == "models" and plugin.name == "my_net"
    assert plugin.folder == destination / "models" / "my_net"
    assert plugin.metadata == yaml.safe_load(MODEL_METADATA)
    assert plugin.requirements == ()  # the scaffold's requirements.txt holds comments only
    for source in (tmp_path / "source" / "models" / "my_net").iterdir():
        assert (plugin.folder / source.name).read_bytes() == source.read_bytes()

    # What the registries find when the extracted folder is a plugin root.
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(destination))
    registered = {
        (location.registry, location.identifier)
        for location in plugin_index()
        if location.folder == plugin.folder
    }
    assert registered == {("model_registry", "my-net")}
    assert set(result.identifiers()) == registered


def test_one_wrapping_folder_is_tolerated_and_mac_junk_skipped(tmp_path):
    entries = [(f"my-submission/{name}", data) for name, data in plugin_entries()]
    entries += [("__MACOSX/my-submission/._models", b"junk"), ("my-submission/.DS_Store", b"")]
    zip_path = make_zip(tmp_path / "s.zip", entries)
    result = validate_archive(zip_path, tmp_path / "out")
    assert result.root == tmp_path / "out" / "my-submission"
    assert [p.name for p in result.plugins] == ["my_net"]
    assert not (tmp_path / "out" / "__MACOSX").exists()
    assert not (result.root / ".DS_Store").exists()


def test_valid_requirements_are_returned_normalised(tmp_path):
    entries = [
        *plugin_entries(),
        (
            "models/my_net/requirements.txt",
            "# a comment\nnumpy>=1.20  # why\n\ntimm == 1.0.3\n"
            "torch>=2; python_version >= '3.10'\n",
        ),
    ]
    result = validate_archive(make_zip(tmp_path / "s.zip", entries), tmp_path / "out")
    assert result.plugins[0].requirements == (
        "numpy>=1.20",
        "timm==1.0.3",
        'torch>=2; python_version >= "3.10"',
    )


# --- safety: each stops at once and leaves nothing -----------------------------------------


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("/etc/evil.py", "relative paths only"),
        ("C:/evil.py", "relative paths only"),
        ("models/my_net/../../../evil.py", "no '..'"),
        ("models//my_net/x.py", "no empty or '.' components"),
        ("models/my_net/./x.py", "no empty or '.' components"),
        ("models\\my_net\\x.py", "forward slashes only"),
        ("models/my_net/my file.py", "no spaces in paths"),
        ("models/my_net/x\n.py", "no control characters"),
    ],
)
def test_unsafe_names_are_refused(tmp_path, name, rule):
    error = refused(tmp_path, [*plugin_entries(), (name, b"x")])
    assert error.safety and len(error.problems) == 1
    assert error.problems[0].rule == rule
    assert error.problems[0].file in (name, repr(name))


@pytest.mark.parametrize(
    ("file_type", "kind"),
    [
        (stat.S_IFLNK, "symbolic link"),
        (stat.S_IFCHR, "character device"),
        (stat.S_IFBLK, "block device"),
        (stat.S_IFIFO, "named pipe"),
    ],
)
def test_links_and_devices_are_refused(tmp_path, file_type, kind):
    info = zipfile.ZipInfo("models/my_net/weights.py")
    info.create_system = 3  # Unix: the file type is in the high 16 bits
    info.external_attr = (file_type | 0o777) << 16
    error = refused(tmp_path, [*plugin_entries(), (info, b"/etc/passwd")])
    assert_refused_for(error, "models/my_net/weights.py", "regular files only")
    assert kind in str(error)


def test_names_that_are_not_utf8_are_refused(tmp_path):
    zip_path = make_zip(tmp_path / "s.zip", [*plugin_entries(), ("models/my_net/QQ.py", b"")])
    data = zip_path.read_bytes()
    assert data.count(b"QQ.py") == 2  # local header and central directory, no UTF-8 flag
    zip_path.write_bytes(data.replace(b"QQ.py", b"\xff\xfe.py"))
    error = refused_zip(tmp_path, zip_path)
    assert error.problems[0].rule == "names in UTF-8" and "not valid UTF-8" in str(error)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(
    "second", ["models/my_net/test.py", "models/my_net/TEST.py", "Models/my_net/test.py"]
)
def test_duplicate_names_are_refused_also_ignoring_case(tmp_path, second):
    error = refused(tmp_path, [*plugin_entries(), (second, b"")])
    assert_refused_for(error, second, "no duplicate names")


def test_a_file_and_a_folder_of_the_same_name_are_refused(tmp_path):
    error = refused(tmp_path, [*plugin_entries(), ("models/my_net/test.py/x.py", b"")])
    assert error.problems[0].rule == "no duplicate names"


def test_too_many_files_are_refused_before_extracting(tmp_path):
    entries = [*plugin_entries(), *((f"models/my_net/f{i}.py", b"") for i in range(10))]
    error = refused(tmp_path, entries, ArchiveLimits(max_files=12))
    assert_refused_for(error, "submission.zip", "file count")
    assert "13 entries, over the limit of 12" in str(error)


def test_an_archive_over_the_size_limit_is_refused_before_reading(tmp_path):
    zip_path = make_zip(
        tmp_path / "submission.zip", [*plugin_entries(), ("models/my_net/w.bin", os.urandom(4096))]
    )
    error = refused_zip(tmp_path, zip_path, ArchiveLimits(max_archive_bytes=4000))
    assert_refused_for(error, "submission.zip", "archive size")
    assert f"{zip_path.stat().st_size:,} bytes" in str(error)


def test_a_single_file_over_its_limit_is_refused(tmp_path):
    error = refused(
        tmp_path,
        [*plugin_entries(), ("models/my_net/w.bin", os.urandom(300_000))],
        ArchiveLimits(max_file_bytes=200_000, chunk_bytes=4096),
    )
    assert_refused_for(error, "models/my_net/w.bin", "single-file size")


def test_the_total_over_its_limit_is_refused(tmp_path):
    parts = [(f"models/my_net/w{i}.bin", os.urandom(100_000)) for i in range(3)]
    error = refused(
        tmp_path,
        [*plugin_entries(), *parts],
        ArchiveLimits(max_total_bytes=250_000, chunk_bytes=4096),
    )
    assert_refused_for(error, "models/my_net/w2.bin", "total size")


def test_a_bomb_of_zeros_compressing_1000_to_1_is_refused_by_its_ratio(tmp_path):
    error = refused(tmp_path, [*plugin_entries(), ("models/my_net/zeros.bin", bytes(20 * MB))])
    assert_refused_for(error, "models/my_net/zeros.bin", "compression ratio")


def test_a_header_declaring_fewer_bytes_than_the_data_holds_is_refused_early(tmp_path, monkeypatch):
    zip_path = tmp_path / "submission.zip"
    info = zipfile.ZipInfo("models/my_net/zeros.bin")
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in plugin_entries():
            zf.writestr(name, data)
        zf.writestr(info, bytes(5 * MB))
        info.file_size = 1000  # the central directory now lies
    assert zipfile.ZipFile(zip_path).getinfo("models/my_net/zeros.bin").file_size == 1000
    produced = count_decompressed_bytes(monkeypatch)
    limits = ArchiveLimits(chunk_bytes=4096)
    error = refused_zip(tmp_path, zip_path, limits)
    assert_refused_for(error, "models/my_net/zeros.bin", "sizes as declared")
    zeros_entry = produced[-1]
    assert zeros_entry <= 1000 + limits.chunk_bytes


def test_a_header_declaring_more_bytes_than_the_data_holds_is_refused(tmp_path):
    zip_path = tmp_path / "submission.zip"
    info = zipfile.ZipInfo("models/my_net/model.py")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in plugin_entries():
            zf.writestr(name, data)
        zf.writestr(info, b"x = 1\n")
        info.file_size = 10_000
    error = refused_zip(tmp_path, zip_path)
    assert_refused_for(error, "models/my_net/model.py", "sizes as declared")
    assert "holds 6 bytes but its header declares 10,000" in str(error)


def test_a_damaged_entry_is_refused_by_its_checksum(tmp_path):
    zip_path = tmp_path / "submission.zip"
    info = zipfile.ZipInfo("models/my_net/model.py")  # stored: the bytes appear as they are
    with zipfile.ZipFile(zip_path, "w") as zf:
        for name, data in plugin_entries():
            zf.writestr(name, data)
        zf.writestr(info, b"weights = 'AAAA'\n")
    zip_path.write_bytes(zip_path.read_bytes().replace(b"'AAAA'", b"'AAAB'"))
    error = refused_zip(tmp_path, zip_path)
    assert_refused_for(error, "models/my_net/model.py", "checksum")


def test_entries_sharing_their_data_are_refused(tmp_path):
    """The 'overlapping files' bomb: many central entries pointing at one compressed blob."""
    zip_path = tmp_path / "submission.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in plugin_entries():
            zf.writestr(name, data)
        zf.writestr("models/my_net/a.bin", bytes(1000))
        twin = copy.copy(zf.getinfo("models/my_net/a.bin"))
        twin.filename = twin.orig_filename = "models/my_net/b.bin"
        zf.filelist.append(twin)  # a second central entry, the same local data
    error = refused_zip(tmp_path, zip_path)
    assert_refused_for(error, "models/my_net/b.bin", "no overlapping entries")


def test_a_local_header_naming_another_file_is_refused(tmp_path):
    zip_path = make_zip(
        tmp_path / "submission.zip", [*plugin_entries(), ("models/my_net/QQ.py", b"x = 1\n")]
    )
    data = zip_path.read_bytes()
    local = data.index(b"QQ.py")  # the local header comes first, the central entry last
    zip_path.write_bytes(data[:local] + b"RR.py" + data[local + 5 :])
    error = refused_zip(tmp_path, zip_path)
    assert_refused_for(error, "models/my_net/QQ.py", "zip format")
    assert "local header names another file" in str(error)


def test_not_a_zip_is_refused(tmp_path):
    zip_path = tmp_path / "submission.zip"
    zip_path.write_bytes(b"this is not a zip")
    assert_refused_for(refused_zip(tmp_path, zip_path), "submission.zip", "zip format")


# --- the 1 GB bomb: refused after at most a limit plus one chunk ---------------------------


def count_decompressed_bytes(monkeypatch) -> list[int]:
    """Wrap zlib's real decompressor so each entry's output bytes are counted here."""
    counts: list[int] = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args):
            self._inner = real(*args)
            counts.append(0)
            self._index = len(counts) - 1

        def decompress(self, data, max_length=0):
            out = self._inner.decompress(data, max_length)
            counts[self._index] += len(out)
            return out

        def __getattr__(self, name):
            return getattr(self._inner, name)

    monkeypatch.setattr(archive_module.zlib, "decompressobj", Counting)
    return counts


@pytest.fixture(scope="module")
def gigabyte_bomb(tmp_path_factory) -> Path:
    """1 GiB of zeros, deflated to about 1 MB (deflate's best is about 1030:1).

    Built without compressing a gigabyte: after a full flush deflate starts afresh, so the
    stream for 1 MiB of zeros, repeated 1024 times, is the stream of 1 GiB of zeros. zipfile
    writes it as a stored entry; the headers are then turned into a deflated one.
    """
    zeros = bytes(MB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = segment * 1024 + compressor.flush()
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    path = tmp_path_factory.mktemp("bomb") / "submission.zip"
    info = zipfile.ZipInfo("models/my_net/zeros.bin")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in plugin_entries():
            zf.writestr(name, data)
        zf.writestr(info, stream, compress_type=zipfile.ZIP_STORED)
        # The central directory: a deflated entry of 1 GiB.
        info.compress_type, info.CRC, info.file_size = zipfile.ZIP_DEFLATED, crc, 1024 * MB
    with path.open("r+b") as out:  # the local header too (method at +8, CRC and sizes at +14)
        out.seek(info.header_offset + 8)
        out.write(struct.pack("<H", zipfile.ZIP_DEFLATED))
        out.seek(info.header_offset + 14)
        out.write(struct.pack("<3L", crc, len(stream), 1024 * MB))
    with zipfile.ZipFile(path) as zf, zf.open("models/my_net/zeros.bin") as entry:
        assert entry.read(MB) == zeros  # a real zip, as any tool reads it
    return path


@pytest.mark.parametrize(
    ("limits", "rule"),
    [
        (ArchiveLimits(), None),  # the defaults: ratio and single-file size both near 100 MB
        (ArchiveLimits(max_file_bytes=10 * MB, chunk_bytes=32 * 1024), "single-file size"),
        (ArchiveLimits(max_total_bytes=5 * MB, max_ratio=1e9), "total size"),
        (ArchiveLimits(max_ratio=10.0), "compression ratio"),
    ],
    ids=["defaults", "single-file", "total", "ratio"],
)
def test_a_gigabyte_bomb_is_refused_after_a_limit_plus_one_chunk(
    tmp_path, monkeypatch, gigabyte_bomb, limits, rule
):
    compressed = zipfile.ZipFile(gigabyte_bomb).getinfo("models/my_net/zeros.bin").compress_size
    assert 1024 * MB / compressed > 500  # it really is a bomb
    # The first limit the zeros reach: bytes of one file, of all files, or ratio x compressed.
    limit = min(limits.max_file_bytes, limits.max_total_bytes, int(limits.max_ratio * compressed))
    produced = count_decompressed_bytes(monkeypatch)
    error = refused_zip(tmp_path, gigabyte_bomb, limits)
    assert error.safety
    assert error.problems[0].file == "models/my_net/zeros.bin"
    if rule is not None:
        assert error.problems[0].rule == rule
    small_entries = sum(len(data) for _, data in plugin_entries())
    assert limit - small_entries < sum(produced) <= limit + limits.chunk_bytes + small_entries
    assert produced[-1] <= limit + limits.chunk_bytes  # the bomb entry alone


def test_an_upload_is_refused_while_it_streams(tmp_path):
    handed_out = 0

    def endless():
        nonlocal handed_out
        for chunk in itertools.repeat(b"\0" * MB):
            handed_out += 1
            yield chunk

    path = tmp_path / "upload.zip"
    with pytest.raises(ArchiveError, match="archive size"):
        receive_upload(endless(), path, limits=ArchiveLimits(max_archive_bytes=3 * MB))
    assert handed_out == 4 and not path.exists()


def test_an_upload_within_the_limit_is_stored_with_its_sha1(tmp_path):
    data = os.urandom(300_000)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    sha1, size = receive_upload(chunks, tmp_path / "upload.zip")
    assert (sha1, size) == (hashlib.sha1(data).hexdigest(), len(data))
    assert (tmp_path / "upload.zip").read_bytes() == data


# --- layout, metadata, requirements, identifiers: every problem at once --------------------


def test_every_layout_and_metadata_problem_is_reported_at_once(tmp_path):
    entries = [
        # a models/ folder registering a benchmark, with an identifier of bad characters
        (
            "models/wrong_kind/__init__.py",
            'benchmark_registry["Smith2024.IT-pls"] = f\nmodel_registry["bad/name"] = g\n',
        ),
        ("models/wrong_kind/test.py", ""),
        (
            "models/wrong_kind/metadata.yml",
            "architecture: CNN\nparameters: -3\nlicense: ''\nreference: x\ncolour: red\n",
        ),
        (
            "models/wrong_kind/requirements.txt",
            "numpy>=1\n-e .\n--index-url https://evil.example/simple\n"
            "git+https://github.com/x/y\npkg @ https://x.example/pkg.whl\n./local\nnot valid!!\n",
        ),
        # a folder that is not a Python identifier, missing test.py and metadata.yml
        ("models/2fast/__init__.py", INIT.format(name="fast")),
        # a benchmark with broken YAML
        ("benchmarks/smith2024/__init__.py", 'benchmark_registry["Smith2024.IT-pls"] = f\n'),
        ("benchmarks/smith2024/test.py", ""),
        ("benchmarks/smith2024/metadata.yml", "region: [IT\n"),
        # a computed identifier the index cannot read
        ("metrics/my_metric/__init__.py", "metric_registry[name()] = f\n"),
        ("metrics/my_metric/test.py", ""),
        ("metrics/my_metric/metadata.yml", "license: MIT\nreference: x\n"),
        ("README.md", "hello"),
    ]
    error = refused(tmp_path, entries)
    assert not error.safety
    found = {(p.file, p.rule) for p in error.problems}
    init = "models/wrong_kind/__init__.py"
    requirements = "models/wrong_kind/requirements.txt"
    assert found == {
        (init + " line 1", "registry matches folder"),
        (init + " line 2", "identifier characters"),
        ("models/wrong_kind/metadata.yml", "metadata"),  # colour, training_data, ...
        *((f"{requirements} line {n}", "requirements") for n in range(2, 8)),
        ("models/2fast/", "plugin folder name"),
        ("models/2fast/test.py", "plugin layout"),
        ("models/2fast/metadata.yml", "plugin layout"),
        ("benchmarks/smith2024/metadata.yml", "metadata"),
        ("metrics/my_metric/__init__.py", "registrations readable without running code"),
        ("README.md", "plugin layout"),
    }
    text = str(error)
    for expected in (
        "unknown field(s) colour",
        "'training_data' is missing",
        "'parameters' must be a whole number >= 0",
        "'license' must be non-empty",
        "move it to benchmarks/",
        "'bad/name'",
        "not valid YAML line 2",
        "'-e .' is not a package from the index",
        "'not valid!!' is not a valid",
        "metrics/my_metric/__init__.py line 1",
    ):
        assert expected in text, expected
    # Each metadata problem is its own entry, all naming the file.
    metadata = [p for p in error.problems if p.file == "models/wrong_kind/metadata.yml"]
    assert len(metadata) == 4  # unknown field, missing training_data, parameters, license


def test_a_root_without_plugin_types_is_refused(tmp_path):
    error = refused(tmp_path, [("my_net/__init__.py", ""), ("other/x.py", "")])
    assert_refused_for(error, "/", "plugin layout")
    assert "my_net, other" in str(error)


def test_an_identifier_registered_by_two_plugins_is_refused(tmp_path):
    entries = [*plugin_entries("models/one"), *plugin_entries("models/two")]
    error = refused(tmp_path, entries)
    assert_refused_for(error, "models/two/__init__.py line 3", "unique identifiers")


def test_a_plugin_registering_nothing_is_refused(tmp_path):
    entries = [
        (name, "" if name.endswith("__init__.py") else data) for name, data in plugin_entries()
    ]
    error = refused(tmp_path, entries)
    assert_refused_for(error, "models/my_net/__init__.py", "registrations")


def test_benchmark_metadata_passes_and_is_returned(tmp_path):
    entries = [
        ("benchmarks/smith2024/__init__.py", 'benchmark_registry["Smith2024.IT-pls"] = f\n'),
        ("benchmarks/smith2024/test.py", ""),
        ("benchmarks/smith2024/metadata.yml", BENCHMARK_METADATA),
    ]
    result = validate_archive(make_zip(tmp_path / "s.zip", entries), tmp_path / "out")
    (plugin,) = result.plugins
    assert plugin.metadata == yaml.safe_load(BENCHMARK_METADATA)
    assert result.identifiers() == [("benchmark_registry", "Smith2024.IT-pls")]


# --- the call shape --------------------------------------------------------------------


def test_the_destination_must_be_new(tmp_path):
    zip_path = make_zip(tmp_path / "s.zip", plugin_entries())
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        validate_archive(zip_path, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        validate_archive(zip_path, tmp_path / "no" / "out")


@pytest.mark.parametrize("field", ["max_files", "chunk_bytes", "max_ratio"])
@pytest.mark.parametrize("value", [0, -1, True, "10"])
def test_limits_are_checked_up_front(field, value):
    with pytest.raises(ValueError, match=f"ArchiveLimits.{field} must be a positive"):
        ArchiveLimits(**{field: value})


def test_archive_error_is_a_brainmark_error():
    assert issubclass(ArchiveError, BrainmarkError) and issubclass(ArchiveError, ValueError)
