"""Receive a submitted zip safely and validate it before any submitted code runs.

Two steps, one call (:func:`validate_archive`):

1. **Safe extraction.** Every entry is checked before a byte of it is written: a relative
   path of valid UTF-8 without ``..``, ``.``, empty components, backslashes, control
   characters or spaces (Brain-Score's rule); a regular file or folder (no symlinks, no
   devices: the file type in the external attributes); no duplicate name, also ignoring
   case (two names one file on macOS and Windows); stored or deflated, not encrypted. The
   data is then decompressed entry by entry, in chunks, counting the bytes actually
   produced: the header's ``file_size`` is never trusted, and the archive is refused as
   soon as a limit (:class:`ArchiveLimits`) is passed, so a zip bomb costs at most one
   chunk beyond the limit. Files are written with ``O_EXCL | O_NOFOLLOW`` into a fresh
   folder created here with mode 0700; on any refusal that folder is removed again.
2. **Validation.** The layout (plugin folders under ``models/``, ``benchmarks/``,
   ``data/``, ``metrics/``, each with ``__init__.py``, ``test.py`` and ``metadata.yml``),
   the metadata (:data:`METADATA_FIELDS`), ``requirements.txt`` (package-index
   requirements only) and the registered identifiers, read with the registries' own
   static parser (:func:`brainmark._plugin_index.parse_registrations`): nothing is imported.
   Every problem is collected and reported at once; a safety violation (step 1) stops at
   the first.

Whether an identifier belongs to another user is the platform's question: the result lists
every identifier found so it can answer it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import keyword
import os
import re
import shutil
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import yaml

from brainmark._plugin_index import PLUGIN_TYPES, REGISTRY_PLUGIN_TYPES, parse_registrations
from brainmark.data.packaging import validate_identifier
from brainmark.exceptions import BrainmarkError, PluginIndexError, ValidationError

__all__ = [
    "METADATA_FIELDS",
    "ArchiveError",
    "ArchiveLimits",
    "Plugin",
    "Problem",
    "ValidatedArchive",
    "parse_requirements",
    "receive_upload",
    "validate_archive",
]

MB = 1024 * 1024

# Entries some zip tools add that are never part of a submission; skipped, never written.
_JUNK_PARTS = ("__MACOSX", "__pycache__")
_JUNK_NAMES = (".DS_Store", "Thumbs.db")
_JUNK_SUFFIXES = (".pyc", ".pyo")

# What a plugin folder must hold.
REQUIRED_FILES = ("__init__.py", "test.py", "metadata.yml")
MAX_METADATA_BYTES = 64 * 1024

# metadata.yml, per plugin type: field -> (type, required). Strings must be non-empty.
# ``license`` is an SPDX identifier (e.g. 'MIT', 'CC-BY-4.0') or, failing one, any
# non-empty text naming the licence; ``reference`` a DOI, URL or citation of the paper.
_COMMON = {"license": (str, True), "reference": (str, True), "description": (str, False)}
METADATA_FIELDS: Mapping[str, Mapping[str, tuple[type, bool]]] = {
    "models": {
        "architecture": (str, True),
        "parameters": (int, True),
        "training_data": (str, True),
        **_COMMON,
    },
    "benchmarks": {
        "region": (str, True),
        "species": (str, True),
        "task": (str, True),
        "stimuli": (str, True),
        **_COMMON,
    },
    "data": dict(_COMMON),
    "metrics": dict(_COMMON),
}

# The kind of identifier each registry holds, as brainmark.data.packaging.validate_identifier
# names it. Metrics have no kind of their own there: their names follow the general rule,
# the one model names follow.
_IDENTIFIER_KINDS = {
    "model_registry": "model",
    "benchmark_registry": "benchmark",
    "stimulus_set_registry": "stimulus set",
    "data_registry": "assembly",
    "metric_registry": "model",
}

# Fallback when the 'packaging' library is missing: name, extras, version specifiers, marker.
_REQUIREMENT = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
    r"(?:\[[A-Za-z0-9._,\s-]*\])?"
    r"\s*(?:(?:===|~=|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*"
    r"(?:;.*)?"
)
_NOT_FROM_INDEX = re.compile(r"^-|://|^git\+|^file:|^[./~\\]|@\s*\S", re.IGNORECASE)

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
# The end of central directory record (entries and directory size at fields 5 and 6), and
# its ZIP64 locator and record, which hold the real numbers when those overflow.
_END_RECORD = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_END_SIGNATURE = b"PK\x06\x06"
# A central entry is 46 bytes, its name, extra field and comment: 1 KiB on average leaves
# room for long names and any tool's extra fields.
_MAX_CENTRAL_ENTRY_BYTES = 1024


@dataclasses.dataclass(frozen=True)
class ArchiveLimits:
    """How much a submission may be. Every limit is checked on the bytes actually seen.

    Parameters
    ----------
    max_archive_bytes
        The zip file itself (Brain-Score's limit: 50 MB; weights go through the data upload).
    max_total_bytes
        All entries together, uncompressed.
    max_files
        Entries in the archive (folders included).
    max_file_bytes
        One entry, uncompressed.
    max_ratio
        Uncompressed / compressed bytes of one entry, and of the whole archive, once more
        than ``ratio_floor_bytes`` were produced (a tiny file of blanks may compress 500:1).
    ratio_floor_bytes
        Below this many uncompressed bytes the ratio is not checked.
    chunk_bytes
        Bytes decompressed per step: a bomb costs at most a limit plus one chunk.
    """

    max_archive_bytes: int = 50 * MB
    max_total_bytes: int = 200 * MB
    max_files: int = 2000
    max_file_bytes: int = 100 * MB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MB
    chunk_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            number = (int, float) if field.name == "max_ratio" else (int,)
            if isinstance(value, bool) or not isinstance(value, number) or value <= 0:
                kind = "number" if field.name == "max_ratio" else "integer"
                raise ValueError(
                    f"ArchiveLimits.{field.name} must be a positive {kind}; got {value!r}."
                )


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission: the file (path inside the archive) and the rule."""

    file: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message} [{self.rule}]"


class ArchiveError(BrainmarkError, ValueError):
    """A submitted archive is refused; ``problems`` lists every reason found.

    ``safety`` is true when extraction stopped at a safety rule (a path escaping the
    folder, a link, a bomb): then ``problems`` holds that one problem only.
    """

    def __init__(self, problems: Iterable[Problem], *, safety: bool = False) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.safety = safety
        head = (
            "The submission was refused for safety before anything ran"
            if safety
            else f"The submission has {len(self.problems)} problem(s); fix them and submit again"
        )
        super().__init__(head + ":\n" + "\n".join(f"- {p}" for p in self.problems))

    def __str__(self) -> str:
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class Plugin:
    """One plugin folder of a submission.

    ``identifiers`` are (registry, identifier, line) as
    :func:`~brainmark._plugin_index.parse_registrations` reads them from ``__init__.py``;
    ``requirements`` the normalised lines of ``requirements.txt`` (empty without one).
    """

    plugin_type: str
    folder: Path
    identifiers: tuple[tuple[str, str, int], ...]
    metadata: Mapping[str, Any]
    requirements: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.folder.name


@dataclasses.dataclass(frozen=True)
class ValidatedArchive:
    """A submission that passed every check: where it was extracted and what it holds.

    ``root`` is the plugin root (the folder holding ``models/`` etc., inside one wrapping
    folder if the zip had one); ``folder`` the fresh folder it was all extracted into.
    """

    folder: Path
    root: Path
    plugins: tuple[Plugin, ...]
    sha1: str
    size: int

    def identifiers(self) -> list[tuple[str, str]]:
        """(registry, identifier) of every registration, for the platform's ownership check."""
        return [(r, i) for plugin in self.plugins for r, i, _ in plugin.identifiers]


# --- receiving ---------------------------------------------------------------------------


def receive_upload(
    chunks: Iterable[bytes], path: str | os.PathLike[str], *, limits: ArchiveLimits | None = None
) -> tuple[str, int]:
    """Write an upload's chunks to a new file ``path``; its (SHA1, size).

    The upload is refused while it streams, as soon as it passes
    ``limits.max_archive_bytes``, never after buffering it all; the partial file is removed.
    """
    limits = ArchiveLimits() if limits is None else limits
    path = Path(path)
    digest = hashlib.sha1()
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limits.max_archive_bytes:
                    raise ArchiveError(
                        [_too_big_archive(path.name, f"more than {size:,} bytes", limits)],
                        safety=True,
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


def _too_big_archive(name: str, size: str, limits: ArchiveLimits) -> Problem:
    return Problem(
        name,
        "archive size",
        f"the archive is {size}, over the limit of {limits.max_archive_bytes:,} bytes. Leave "
        f"weights and data out of the zip: upload them as data and load them by SHA1.",
    )


# --- the one call --------------------------------------------------------------------------


def validate_archive(
    zip_path: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    limits: ArchiveLimits | None = None,
) -> ValidatedArchive:
    """Extract ``zip_path`` safely into the new folder ``destination`` and validate it.

    Parameters
    ----------
    zip_path
        The submitted zip file.
    destination
        A folder that must not exist yet (its parent must): it is created with mode 0700 and
        removed again when the archive is refused.
    limits
        Sizes and counts; :class:`ArchiveLimits` defaults when omitted.

    Returns
    -------
    ValidatedArchive

    Raises
    ------
    ArchiveError
        Naming the file and the rule of every problem (only the first for safety problems).
    """
    limits = ArchiveLimits() if limits is None else limits
    if not isinstance(limits, ArchiveLimits):
        raise TypeError(f"limits must be an ArchiveLimits; got {type(limits).__name__}.")
    zip_path = Path(zip_path)
    destination = Path(destination)
    if not zip_path.is_file():
        raise FileNotFoundError(f"No archive at {zip_path}: expected a zip file.")
    if not destination.parent.is_dir():
        raise FileNotFoundError(
            f"The folder {destination.parent} to extract into does not exist; create it first."
        )
    if os.path.lexists(destination):
        raise FileExistsError(
            f"{destination} already exists; the archive is extracted into a new folder only, "
            f"so nothing of another submission mixes in. Choose a new destination."
        )
    size = zip_path.stat().st_size
    if size > limits.max_archive_bytes:
        raise ArchiveError([_too_big_archive(zip_path.name, f"{size:,} bytes", limits)],
                           safety=True)
    sha1 = _sha1(zip_path)
    os.mkdir(destination, 0o700)
    try:
        _extract(zip_path, destination, size, limits)
        root, plugins = _validate_tree(destination)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    return ValidatedArchive(destination, root, plugins, sha1, size)


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(MB), b""):
            digest.update(block)
    return digest.hexdigest()


# --- step 1: safe extraction -------------------------------------------------------------


def _refuse(file: str, rule: str, message: str) -> ArchiveError:
    return ArchiveError([Problem(file, rule, message)], safety=True)


def _extract(zip_path: Path, destination: Path, archive_size: int, limits: ArchiveLimits) -> None:
    with zip_path.open("rb") as raw:
        _refuse_too_many_entries(raw, zip_path.name, archive_size, limits)
    try:
        archive = zipfile.ZipFile(zip_path)
    except UnicodeDecodeError:
        raise _refuse(zip_path.name, "names in UTF-8",
                      "an entry flagged as UTF-8 has a name that is not valid UTF-8.") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise _refuse(zip_path.name, "zip format",
                      f"this is not a readable zip file ({error}). Make it with 'zip -r' or "
                      f"your system's 'compress' command.") from None
    with archive, zip_path.open("rb") as raw:
        infos = archive.infolist()
        if len(infos) > limits.max_files:
            raise _refuse(zip_path.name, "file count",
                          f"the archive holds {len(infos):,} entries, over the limit of "
                          f"{limits.max_files:,}.")
        entries = [(_checked_name(info), info) for info in infos]
        _refuse_duplicates(entries)
        _refuse_overlaps(entries, archive_size)
        total = 0
        for name, info in entries:
            if _is_junk(name):
                continue
            target = destination.joinpath(*name.parts)
            if not target.resolve().is_relative_to(destination.resolve()):  # belt and braces
                raise _refuse(str(name), "path inside the archive",
                              "the path leaves the extraction folder.")
            _make_parents(destination, name)
            if info.is_dir() or _file_type(info) == stat.S_IFDIR:
                _make_folder(target, str(name))
                continue
            total = _extract_file(raw, info, str(name), target, total, archive_size, limits)


def _refuse_too_many_entries(
    raw: BinaryIO, shown: str, archive_size: int, limits: ArchiveLimits
) -> None:
    """Refuse on the end record's entry count and central directory size alone.

    zipfile reads the whole central directory into objects (a million 46-byte entries fit
    in the 50 MB an archive may have, and cost half a gigabyte and many seconds) before
    the count can be checked; the end record says both numbers in a few bytes. A damaged
    end record is left for zipfile to report.
    """
    tail_size = min(archive_size, _END_RECORD.size + 0xFFFF)  # the record, then a comment
    raw.seek(archive_size - tail_size)
    tail = raw.read(tail_size)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or at + _END_RECORD.size > len(tail):
        return
    *_, entries, directory_size, _, _ = _END_RECORD.unpack_from(tail, at)
    locator_at = at - _ZIP64_LOCATOR.size
    if locator_at >= 0 and tail.startswith(_ZIP64_LOCATOR_SIGNATURE, locator_at):
        _, _, record_offset, _ = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        raw.seek(record_offset)
        record = raw.read(_ZIP64_END_RECORD.size)
        if len(record) == _ZIP64_END_RECORD.size and record.startswith(_ZIP64_END_SIGNATURE):
            *_, entries, directory_size, _ = _ZIP64_END_RECORD.unpack(record)
    if entries > limits.max_files:
        raise _refuse(shown, "file count",
                      f"the archive holds {entries:,} entries, over the limit of "
                      f"{limits.max_files:,}.")
    if directory_size > limits.max_files * _MAX_CENTRAL_ENTRY_BYTES:
        raise _refuse(shown, "file count",
                      f"the archive's central directory is {directory_size:,} bytes, more than "
                      f"{limits.max_files:,} entries of ordinary names take: over the limit of "
                      f"{limits.max_files:,} entries.")


def _checked_name(info: zipfile.ZipInfo) -> PurePosixPath:
    """The entry's path, or a refusal naming the rule it breaks."""
    raw_name = info.orig_filename
    if info.flag_bits & 0x800:
        name = raw_name
    else:
        # zipfile read a name without the UTF-8 flag as cp437, which maps every byte: undo it
        # and read the bytes as UTF-8, which is what zip tools write nowadays.
        try:
            name = raw_name.encode("cp437").decode("utf-8")
        except UnicodeError:
            raise _refuse(repr(raw_name), "names in UTF-8",
                          "the entry's name is not valid UTF-8. Re-create the zip on a "
                          "system that writes UTF-8 names (any recent zip tool).") from None
    shown = name
    if "\x00" in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise _refuse(repr(shown), "no control characters",
                      "the name holds a control character (NUL, newline, ...).")
    if "\\" in name:
        raise _refuse(shown, "forward slashes only",
                      "the name holds a backslash: use '/' between folders.")
    if name.startswith("/") or re.match(r"[A-Za-z]:(/|$)", name):
        raise _refuse(shown, "relative paths only",
                      "the name is an absolute path; paths must be relative to the archive.")
    parts = name.rstrip("/").split("/")
    if any(part == ".." for part in parts):
        raise _refuse(shown, "no '..'",
                      "the path holds a '..' component, which could write outside the folder.")
    if any(part in ("", ".") for part in parts):
        raise _refuse(shown, "no empty or '.' components",
                      "the path holds an empty or '.' component ('//' or '/./').")
    if any(c.isspace() for c in name):
        raise _refuse(shown, "no spaces in paths",
                      "the path holds a space; rename the file or folder without spaces.")
    file_type = _file_type(info)
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        kind = {stat.S_IFLNK: "a symbolic link", stat.S_IFCHR: "a character device",
                stat.S_IFBLK: "a block device", stat.S_IFIFO: "a named pipe",
                stat.S_IFSOCK: "a socket"}.get(file_type, f"of file type {oct(file_type)}")
        raise _refuse(shown, "regular files only",
                      f"the entry is {kind}; only regular files and folders are accepted. "
                      f"Put the file itself in the zip.")
    if info.flag_bits & 0x1:
        raise _refuse(shown, "no encryption",
                      "the entry is encrypted; submit an archive without a password.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) and not (
        info.is_dir() or file_type == stat.S_IFDIR
    ):
        raise _refuse(shown, "stored or deflated",
                      f"the entry uses compression method {info.compress_type}; only stored "
                      f"and deflated entries are read (the default of every zip tool).")
    return PurePosixPath(*parts)


def _file_type(info: zipfile.ZipInfo) -> int:
    """The Unix file type in the external attributes (0 when the zip tool wrote none)."""
    return stat.S_IFMT(info.external_attr >> 16)


def _refuse_duplicates(entries: list[tuple[PurePosixPath, zipfile.ZipInfo]]) -> None:
    seen: dict[str, PurePosixPath] = {}
    for name, _ in entries:
        key = unicodedata.normalize("NFC", str(name)).casefold()
        if key in seen:
            same = "the same name" if seen[key] == name else f"the same name as {seen[key]}"
            raise _refuse(str(name), "no duplicate names",
                          f"two entries have {same} (letter case and Unicode normalisation "
                          f"ignored, as on macOS and Windows).")
        seen[key] = name


def _refuse_overlaps(entries: list[tuple[PurePosixPath, zipfile.ZipInfo]], size: int) -> None:
    """Entries sharing compressed bytes (the 'overlapping files' bomb) are refused."""
    # Each entry spans at least its local header, name and data (its extra field and data
    # descriptor are not counted: a lower bound, so no false alarm).
    spans = sorted(
        (info.header_offset,
         info.header_offset + _LOCAL_HEADER.size + len(_raw_name(info)) + info.compress_size,
         name)
        for name, info in entries
    )
    for (_, end, name), (start, _, other) in itertools.pairwise(spans):
        if start < end:
            raise _refuse(str(other), "no overlapping entries",
                          f"its data overlaps that of {name}: a crafted archive.")
    if spans and spans[-1][1] > size:
        raise _refuse(str(spans[-1][2]), "zip format", "the entry runs past the archive's end.")


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The entry's name as the bytes stored in the archive."""
    return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")


def _is_junk(name: PurePosixPath) -> bool:
    return (
        any(part in _JUNK_PARTS for part in name.parts)
        or name.name in _JUNK_NAMES
        or name.name.startswith("._")
        or name.suffix in _JUNK_SUFFIXES
    )


def _make_parents(destination: Path, name: PurePosixPath) -> None:
    current = destination
    for part in name.parts[:-1]:
        current = current / part
        _make_folder(current, str(name))


def _make_folder(path: Path, shown: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        # A folder made earlier for another entry is fine; a file (or anything else) is not.
        if path.is_symlink() or not path.is_dir():
            raise _refuse(shown, "no duplicate names",
                          f"{path.name} is both a file and a folder in the archive.") from None


def _extract_file(
    raw: BinaryIO,
    info: zipfile.ZipInfo,
    shown: str,
    target: Path,
    total: int,
    archive_size: int,
    limits: ArchiveLimits,
) -> int:
    """Decompress one entry into ``target`` in chunks; the running total of bytes produced."""
    raw.seek(info.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
        raise _refuse(shown, "zip format", "the entry's local header is missing or damaged.")
    fields = _LOCAL_HEADER.unpack(header)
    name_length, extra_length = fields[-2], fields[-1]
    if raw.read(name_length) != _raw_name(info):
        raise _refuse(shown, "zip format",
                      "the entry's local header names another file than the central directory: "
                      "a crafted archive.")
    raw.seek(extra_length, os.SEEK_CUR)
    remaining = info.compress_size
    decompressor = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    produced = 0
    crc = 0
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    except FileExistsError:
        raise _refuse(shown, "no duplicate names",
                      f"{target.name} is both a file and a folder in the archive.") from None
    with os.fdopen(fd, "wb") as out:
        while True:
            if decompressor is None:
                if remaining == 0:
                    break
                data = raw.read(min(limits.chunk_bytes, remaining))
                if not data:
                    raise _refuse(shown, "zip format", "the entry's data is cut short.")
                remaining -= len(data)
            else:
                if decompressor.eof:
                    break
                source = decompressor.unconsumed_tail
                if not source:
                    if remaining == 0:
                        raise _refuse(shown, "zip format",
                                      "the entry's compressed data ends before its end marker.")
                    source = raw.read(min(limits.chunk_bytes, remaining))
                    if not source:
                        raise _refuse(shown, "zip format", "the entry's data is cut short.")
                    remaining -= len(source)
                try:
                    # At most one chunk out per step, however much the input expands.
                    data = decompressor.decompress(source, limits.chunk_bytes)
                except zlib.error as error:
                    raise _refuse(shown, "zip format",
                                  f"the entry's data cannot be decompressed ({error}).") from None
                if decompressor.eof and decompressor.unused_data:
                    raise _refuse(shown, "zip format",
                                  "the entry holds data after its end marker: a crafted archive.")
            produced += len(data)
            total += len(data)
            _check_limits(shown, info, produced, total, archive_size, limits)
            crc = zlib.crc32(data, crc)
            out.write(data)
    if decompressor is not None and remaining:
        raise _refuse(shown, "zip format",
                      "the entry's compressed data goes on after its end marker.")
    if produced != info.file_size:
        raise _refuse(shown, "sizes as declared",
                      f"the entry holds {produced:,} bytes but its header declares "
                      f"{info.file_size:,}: a damaged or crafted archive.")
    if crc != info.CRC:
        raise _refuse(shown, "checksum", "the entry's CRC-32 does not match: a damaged archive.")
    return total


def _check_limits(
    shown: str,
    info: zipfile.ZipInfo,
    produced: int,
    total: int,
    archive_size: int,
    limits: ArchiveLimits,
) -> None:
    """Refuse the moment the bytes produced so far pass a limit."""
    if produced > info.file_size:
        raise _refuse(shown, "sizes as declared",
                      f"the entry holds more than the {info.file_size:,} bytes its header "
                      f"declares: a crafted archive.")
    if produced > limits.max_file_bytes:
        raise _refuse(shown, "single-file size",
                      f"the entry is over the limit of {limits.max_file_bytes:,} bytes "
                      f"uncompressed. Large files (weights, data) go through the data upload.")
    if total > limits.max_total_bytes:
        raise _refuse(shown, "total size",
                      f"the archive's entries are over the limit of "
                      f"{limits.max_total_bytes:,} bytes uncompressed in all.")
    if produced > limits.ratio_floor_bytes and produced > limits.max_ratio * max(
        info.compress_size, 1
    ):
        raise _refuse(shown, "compression ratio",
                      f"the entry decompresses to over {limits.max_ratio:g} times its "
                      f"compressed size ({info.compress_size:,} bytes): a zip bomb?")
    if total > limits.ratio_floor_bytes and total > limits.max_ratio * archive_size:
        raise _refuse(shown, "compression ratio",
                      f"the archive decompresses to over {limits.max_ratio:g} times its size "
                      f"({archive_size:,} bytes): a zip bomb?")


# --- step 2: layout, metadata, requirements, identifiers -----------------------------------


def _validate_tree(folder: Path) -> tuple[Path, tuple[Plugin, ...]]:
    problems: list[Problem] = []
    root = _plugin_root(folder, problems)
    if root is None:
        raise ArchiveError(problems)
    plugins: list[Plugin] = []
    for child in sorted(root.iterdir()):
        if child.name not in PLUGIN_TYPES:
            problems.append(Problem(
                _shown(child, folder), "plugin layout",
                f"only {', '.join(t + '/' for t in PLUGIN_TYPES)} belong at the root of a "
                f"submission; move or remove {child.name}."))
            continue
        if not child.is_dir():
            problems.append(Problem(_shown(child, folder), "plugin layout",
                                    f"{child.name} must be a folder of plugin folders."))
            continue
        folders = sorted(child.iterdir())
        if not folders:
            problems.append(Problem(_shown(child, folder) + "/", "plugin layout",
                                    "the folder holds no plugin folder."))
        for plugin_folder in folders:
            plugin = _validate_plugin(child.name, plugin_folder, folder, problems)
            if plugin is not None:
                plugins.append(plugin)
    _refuse_identifiers_registered_twice(plugins, folder, problems)
    if problems:
        raise ArchiveError(problems)
    return root, tuple(plugins)


def _shown(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _plugin_root(folder: Path, problems: list[Problem]) -> Path | None:
    """The folder holding the plugin types: the archive's root or its one wrapping folder."""
    children = list(folder.iterdir())
    if any(child.name in PLUGIN_TYPES for child in children):
        return folder
    if len(children) == 1 and children[0].is_dir() and any(
        (children[0] / plugin_type).exists() for plugin_type in PLUGIN_TYPES
    ):
        return children[0]
    found = ", ".join(sorted(child.name for child in children)) or "nothing"
    problems.append(Problem(
        "/", "plugin layout",
        f"the archive's root must hold at least one of "
        f"{', '.join(t + '/' for t in PLUGIN_TYPES)} (or one folder that does); it holds "
        f"{found}. Zip the folder that contains models/ (or benchmarks/, ...)."))
    return None


def _validate_plugin(
    plugin_type: str, plugin_folder: Path, folder: Path, problems: list[Problem]
) -> Plugin | None:
    shown = _shown(plugin_folder, folder)
    if not plugin_folder.is_dir():
        problems.append(Problem(shown, "plugin layout",
                                f"{plugin_type}/ holds plugin folders only, not files."))
        return None
    name = plugin_folder.name
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        problems.append(Problem(
            shown + "/", "plugin folder name",
            f"{name!r} is not a valid plugin folder name: a Python identifier (letters, digits "
            f"and '_', not starting with a digit or '_', not a keyword), e.g. "
            f"{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_') or 'my_plugin'!r}."))
    missing = [f for f in REQUIRED_FILES if not (plugin_folder / f).is_file()]
    for file in missing:
        problems.append(Problem(f"{shown}/{file}", "plugin layout",
                                f"every plugin folder needs {file}; it is missing."))
    metadata: Mapping[str, Any] = {}
    if "metadata.yml" not in missing:
        metadata = _validate_metadata(plugin_type, plugin_folder / "metadata.yml",
                                      f"{shown}/metadata.yml", problems)
    requirements: tuple[str, ...] = ()
    if (plugin_folder / "requirements.txt").is_file():
        requirements = _validate_requirements(plugin_folder / "requirements.txt",
                                              f"{shown}/requirements.txt", problems)
    identifiers: tuple[tuple[str, str, int], ...] = ()
    if "__init__.py" not in missing:
        identifiers = _validate_registrations(plugin_type, plugin_folder / "__init__.py",
                                              f"{shown}/__init__.py", problems)
    return Plugin(plugin_type, plugin_folder, identifiers, metadata, requirements)


def _validate_metadata(
    plugin_type: str, path: Path, shown: str, problems: list[Problem]
) -> Mapping[str, Any]:
    fields = METADATA_FIELDS[plugin_type]
    if path.stat().st_size > MAX_METADATA_BYTES:
        problems.append(Problem(shown, "metadata",
                                f"metadata.yml is over {MAX_METADATA_BYTES:,} bytes."))
        return {}
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(shown, "metadata", "metadata.yml is not UTF-8 text."))
        return {}
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        problems.append(Problem(shown, "metadata",
                                f"metadata.yml is not valid YAML{line}: "
                                f"{getattr(error, 'problem', None) or error}."))
        return {}
    required = ", ".join(f for f, (_, needed) in fields.items() if needed)
    if not isinstance(content, dict):
        problems.append(Problem(shown, "metadata",
                                f"metadata.yml must be a mapping of field: value with {required}."))
        return {}
    before = len(problems)
    unknown = sorted(str(key) for key in content if key not in fields)
    if unknown:
        problems.append(Problem(shown, "metadata",
                                f"unknown field(s) {', '.join(unknown)}; the fields of "
                                f"{plugin_type} are {', '.join(fields)}."))
    for field, (kind, needed) in fields.items():
        if field not in content or content[field] is None:
            if needed:
                problems.append(Problem(shown, "metadata",
                                        f"the field '{field}' is missing (required: {required})."))
            continue
        value = content[field]
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(Problem(shown, "metadata",
                                        f"'{field}' must be a whole number >= 0 (e.g. 11689512); "
                                        f"got {value!r}."))
        elif not isinstance(value, str) or not value.strip():
            problems.append(Problem(shown, "metadata",
                                    f"'{field}' must be non-empty text; got {value!r}."))
    if len(problems) > before:
        return {}
    return {field: content[field] for field in fields if content.get(field) is not None}


def _validate_requirements(path: Path, shown: str, problems: list[Problem]) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        problems.append(Problem(shown, "requirements", "requirements.txt is not UTF-8 text."))
        return ()
    found, found_problems = parse_requirements(lines, shown)
    problems.extend(found_problems)
    return found


def parse_requirements(
    lines: Iterable[str], shown: str
) -> tuple[tuple[str, ...], list[Problem]]:
    """The requirements of ``requirements.txt`` lines, normalised, and every problem found.

    Only plain package-index requirements (``name[extras] specifiers ; marker``) are
    accepted: options (``-e``, ``--index-url``, ``-r``), URLs, ``git+`` and local paths are
    problems, so a plugin can never change where packages come from. Comments and blank
    lines are skipped. ``shown`` names the file in each problem (``<shown> line <n>``).
    The archive's validation and the environments built for plugins
    (:mod:`brainmark.pipeline.environments`) share this one rule.
    """
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging comes with pip and pytest
        Requirement = None
        InvalidRequirement = ValueError
    found: list[str] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        text = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not text:
            continue
        where = f"{shown} line {number}"
        if _NOT_FROM_INDEX.search(text):
            problems.append(Problem(where, "requirements",
                                    f"{text!r} is not a package from the index: options (-e, "
                                    f"--index-url, -r), URLs, 'git+' and paths are refused; "
                                    f"write 'name>=version'."))
            continue
        if Requirement is not None:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as error:
                problems.append(Problem(where, "requirements",
                                        f"{text!r} is not a valid requirement: {error}."))
                continue
            if requirement.url:
                problems.append(Problem(where, "requirements",
                                        f"{text!r} names a URL; packages come from the index."))
                continue
            found.append(str(requirement))
        elif _REQUIREMENT.fullmatch(text):
            found.append(text)
        else:
            problems.append(Problem(where, "requirements",
                                    f"{text!r} is not a valid requirement ('name>=version')."))
    return tuple(found), problems


def _validate_registrations(
    plugin_type: str, init_path: Path, shown: str, problems: list[Problem]
) -> tuple[tuple[str, str, int], ...]:
    try:
        registrations = parse_registrations(init_path)
    except PluginIndexError as error:
        message = str(error).replace(str(init_path), shown)
        problems.append(Problem(shown, "registrations readable without running code", message))
        return ()
    except (RecursionError, MemoryError, ValueError):
        problems.append(Problem(shown, "registrations readable without running code",
                                "__init__.py is too deeply nested to be read."))
        return ()
    if not registrations:
        problems.append(Problem(shown, "registrations",
                                f"__init__.py registers nothing; a {plugin_type} plugin assigns "
                                f"into its registry, e.g. "
                                f"{_example_registry(plugin_type)}['name'] = factory."))
        return ()
    before = len(problems)
    for registry, identifier, line in registrations:
        expected = REGISTRY_PLUGIN_TYPES[registry]
        if expected != plugin_type:
            problems.append(Problem(
                f"{shown} line {line}", "registry matches folder",
                f"{registry}[{identifier!r}] registers a {expected} plugin from a "
                f"{plugin_type}/ folder; move it to {expected}/."))
            continue
        try:
            validate_identifier(identifier, _IDENTIFIER_KINDS[registry])
        except ValidationError as error:
            detail = str(error)
            if registry == "metric_registry":
                detail = "Metric identifiers follow the rule of model identifiers: " + detail
            problems.append(Problem(f"{shown} line {line}", "identifier characters", detail))
    if len(problems) > before:
        return ()
    return tuple((r, i, line) for r, i, line in registrations)


def _example_registry(plugin_type: str) -> str:
    return next(r for r, t in REGISTRY_PLUGIN_TYPES.items() if t == plugin_type)


def _refuse_identifiers_registered_twice(
    plugins: list[Plugin], folder: Path, problems: list[Problem]
) -> None:
    seen: dict[tuple[str, str], Plugin] = {}
    for plugin in plugins:
        for registry, identifier, line in plugin.identifiers:
            other = seen.setdefault((registry, identifier), plugin)
            if other is not plugin:
                problems.append(Problem(
                    f"{_shown(plugin.folder, folder)}/__init__.py line {line}",
                    "unique identifiers",
                    f"{identifier!r} is also registered by {_shown(other.folder, folder)}."))
