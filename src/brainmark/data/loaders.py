"""Load packaged stimulus sets and assemblies from a store, through a checksum-keyed cache.

Files are cached under ``<home>/cache/data/<sha1>/<file name>``. Every load verifies the
SHA1: a cache entry whose bytes changed is fetched again, and a download whose SHA1 differs
from the pinned one is refused with :class:`~brainmark.exceptions.ChecksumMismatchError`.
Downloads go to a temporary file that replaces the cache entry only once verified, and a
stimulus ZIP is extracted to a temporary folder renamed into place, so processes loading
the same data at the same time never see or leave a partial file. The extracted files are
checked against the CRC-32 the ZIP records for each (once per process while a file is
unchanged) and extracted again when one differs; a stimulus CSV may only name files inside
its ZIP.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pandas as pd
import xarray as xr

from brainmark._files import (
    FileMemo,
    atomic_path,
    content_sha1,
    distrust_cache_file,
    sha1_of_file,
    stat_key,
)
from brainmark.data._formats import read_assembly_netcdf, read_frame_csv
from brainmark.data.assemblies import DataAssembly, assembly_class, attach_stimulus_set_meta
from brainmark.data.packaging import (
    FILENAME_COLUMN,
    assembly_filename,
    read_zip_schema,
    stimulus_set_filenames,
)
from brainmark.data.stimuli import StimulusSet
from brainmark.data.store import Store, open_store
from brainmark.data.validation import validate_alignment
from brainmark.exceptions import ChecksumMismatchError, StoreError, ValidationError
from brainmark.settings import get_settings

# The CRC-32 of each extracted stimulus file, per (path, inode, size, mtime, ctime), so one
# process reads every file once however often it loads the set (the rule of
# brainmark._files.content_sha1, which remembers the fetched files' SHA1s), shared by every
# thread of the process.
_verified_crc: FileMemo[int] = FileMemo()
_CHUNK = 1 << 20


def cache_folder(sha1: str) -> Path:
    """Cache folder of the file with this SHA1."""
    return get_settings().data_cache_dir / sha1


def fetch_file(
    store: Store | str,
    key: str,
    sha1: str,
    *,
    version_id: str | None = None,
    identifier: str | None = None,
) -> Path:
    """Local path of ``key`` (verified against ``sha1``), downloading it if needed.

    Parameters
    ----------
    store
        A store or its location (see :func:`~brainmark.data.store.open_store`).
    key
        The object's key in the store.
    sha1
        Expected SHA1 of its bytes; the cache is keyed by it.
    version_id
        Pin a version; None means the latest.
    identifier
        What the file holds, for error messages.

    Raises
    ------
    ChecksumMismatchError
        When the downloaded file's SHA1 is not ``sha1``.
    """
    store = open_store(store)
    target = cache_folder(sha1) / PurePosixPath(key).name
    if target.is_file():
        actual = content_sha1(target)
        if actual == sha1:
            return target
        distrust_cache_file(
            target, f"file of {identifier or key!r}",
            f"it is corrupt (SHA1 {actual}, expected {sha1}); fetching it again from "
            f"{store.location}",
        )
    with atomic_path(target) as temporary:
        store.download(key, temporary, version_id=version_id)
        actual = sha1_of_file(temporary)
        if actual != sha1:
            version = f" version {version_id!r}" if version_id else ""
            raise ChecksumMismatchError(
                f"SHA1 mismatch for {identifier or key!r}: {key!r}{version} from "
                f"{store.location} has SHA1 {actual}, expected {sha1}. The stored file is "
                f"not the one this loader pins: pin the right version_id, or package the "
                f"data again and update the pinned SHA1."
            )
    return target


def _file_members(zip_path: Path) -> list[zipfile.ZipInfo]:
    """The ZIP's file members (folders left out), refusing names that would leave its folder."""
    with zipfile.ZipFile(zip_path) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
    for info in members:
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts:
            raise StoreError(f"ZIP {zip_path} holds an unsafe member name {info.filename!r}.")
    return members


def _extracted(zip_path: Path, members: list[zipfile.ZipInfo]) -> Path:
    """The folder holding the ZIP's files, extracted once and re-extracted if any changed.

    Every extracted file is checked against the CRC-32 the ZIP's central directory records
    for it (so a same-size edit is caught, not only deleted or truncated files), once per
    process while the file's inode, size, mtime and ctime stay the same.
    """
    folder = zip_path.parent / "files"
    difference = _first_difference(folder, members)
    if difference is None:
        return folder
    if folder.exists():
        distrust_cache_file(folder, f"stimulus files extracted from {zip_path}",
                            f"{difference}; extracting the ZIP again")
        _remove_folder(folder)
    temporary = Path(tempfile.mkdtemp(dir=zip_path.parent, prefix=".files."))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(temporary)
        try:
            os.rename(temporary, folder)
        except OSError:
            if _first_difference(folder, members) is not None:  # Another process won the
                raise  # race only if its folder is complete.
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


def _first_difference(folder: Path, members: list[zipfile.ZipInfo]) -> str | None:
    """The first extracted file that is not its ZIP member, and how; None when all are."""
    subfolders = {parent for info in members for parent in PurePosixPath(info.filename).parents}
    for subfolder in sorted(subfolders):
        if (folder / subfolder).is_symlink():
            return f"folder {folder / subfolder} is a symbolic link"
    for info in members:
        path = folder / info.filename
        try:
            status = path.lstat()
        except OSError:
            return f"{path} is missing"
        if not stat.S_ISREG(status.st_mode):
            return f"{path} is not a regular file (a link?)"
        if status.st_size != info.file_size:
            return f"{path} has {status.st_size} bytes, its ZIP member {info.file_size}"
        key = stat_key(path, status)
        crc = _verified_crc.get(key)
        if crc is None:
            crc = _crc32_of_file(path)
            _verified_crc.remember(key, crc, [status])
        if crc != info.CRC:
            return f"{path} has other content than its ZIP member (CRC-32 differs)"
    return None


def _crc32_of_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _remove_folder(folder: Path) -> None:
    """Move a broken folder aside first, so no reader sees it half deleted."""
    trash = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".trash."))
    with contextlib.suppress(OSError):  # Another process removed or replaced it already.
        os.rename(folder, trash / "files")
    shutil.rmtree(trash, ignore_errors=True)


def load_stimulus_set_from_store(
    identifier: str,
    bucket: str | Store,
    csv_sha1: str,
    zip_sha1: str,
    csv_version_id: str | None = None,
    zip_version_id: str | None = None,
) -> StimulusSet:
    """Load a packaged stimulus set: metadata from the CSV, files extracted from the ZIP.

    Parameters
    ----------
    identifier
        The stimulus set's identifier; the keys are ``stimulus_<identifier>.csv``/``.zip``.
    bucket
        The store: ``file://`` or ``s3://`` location, bare ``bucket/prefix``, or a Store.
    csv_sha1, zip_sha1
        Pinned SHA1s, verified on every load.
    csv_version_id, zip_version_id
        Pinned store versions; None means the latest (and is the only choice for a plain
        folder such as a data plugin).

    Returns
    -------
    A :class:`~brainmark.data.StimulusSet` whose ``stimulus_paths`` point at the extracted
    files in the cache, with column dtypes as packaged.
    """
    csv_key, zip_key = stimulus_set_filenames(identifier)
    store = open_store(bucket)
    csv_path = fetch_file(store, csv_key, csv_sha1, version_id=csv_version_id,
                          identifier=identifier)
    zip_path = fetch_file(store, zip_key, zip_sha1, version_id=zip_version_id,
                          identifier=identifier)
    schema = read_zip_schema(zip_path)
    frame = read_frame_csv(csv_path, schema["columns"] if schema else None)
    filename_column = schema.get("filename_column", FILENAME_COLUMN) if schema else FILENAME_COLUMN
    members = _file_members(zip_path)
    names = _member_names(frame, filename_column, members, identifier=identifier,
                          csv_path=csv_path, zip_path=zip_path)
    folder = _extracted(zip_path, members)
    paths = {sid: folder / name for sid, name in names.items()}
    return StimulusSet(
        frame.drop(columns=filename_column), stimulus_paths=paths, identifier=identifier
    )


def _member_names(
    frame: pd.DataFrame,
    filename_column: str,
    members: list[zipfile.ZipInfo],
    *,
    identifier: str,
    csv_path: Path,
    zip_path: Path,
) -> dict[str, PurePosixPath]:
    """Each stimulus id's file inside the ZIP, checked before anything is extracted.

    A filename that is absolute or climbs out with ``..`` would make the stimulus set point
    at any file on the machine; one that is no member of the ZIP at none it was packaged
    with. Both are refused, naming the stimulus ids and filenames.
    """
    missing = [column for column in ("stimulus_id", filename_column) if column not in frame]
    if missing:
        raise ValidationError(
            f"Stimulus set {identifier!r}: its CSV {csv_path} has no column "
            f"{' and no column '.join(map(repr, missing))}; it is damaged or not written by "
            f"packaging. Package the stimulus set again."
        )
    available = {PurePosixPath(info.filename) for info in members}
    names: dict[str, PurePosixPath] = {}
    outside, absent = [], []
    for sid, filename in zip(frame["stimulus_id"], frame[filename_column], strict=True):
        name = PurePosixPath(str(filename))
        if name.is_absolute() or ".." in name.parts:
            outside.append(f"{str(sid)!r} -> {str(filename)!r}")
        elif name not in available:
            absent.append(f"{str(sid)!r} -> {str(filename)!r}")
        names[str(sid)] = name
    where = f"Stimulus set {identifier!r} ({csv_path}, column {filename_column!r})"
    if outside:
        raise ValidationError(
            f"{where} names {len(outside)} files outside its stimulus folder: stimulus_id "
            f"{_listed(outside)}. Filenames must be relative paths inside the stimulus ZIP; "
            f"package the stimulus set again (package_stimulus_set_locally)."
        )
    if absent:
        raise ValidationError(
            f"{where} names {len(absent)} files that are not in its ZIP {zip_path}: "
            f"stimulus_id {_listed(absent)}. The CSV and ZIP come from different packagings; "
            f"package the stimulus set again."
        )
    return names


def _listed(items: list[str], limit: int = 10) -> str:
    text = ", ".join(items[:limit])
    return text + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def load_assembly_from_store(
    identifier: str,
    bucket: str | Store,
    sha1: str,
    version_id: str | None = None,
    cls: type[DataAssembly] | str | None = None,
    stimulus_set_loader: Callable[[], StimulusSet] | None = None,
    *,
    merge_stimulus_set_meta: bool = True,
) -> DataAssembly:
    """Load a packaged assembly, optionally joined with its stimulus set.

    Parameters
    ----------
    identifier
        The assembly's identifier; the key is ``assy_<identifier>.nc``.
    bucket
        The store: ``file://`` or ``s3://`` location, bare ``bucket/prefix``, or a Store.
    sha1
        Pinned SHA1, verified on every load.
    version_id
        Pinned store version; None means the latest.
    cls
        Assembly class (or its name); default: the class recorded at packaging.
    stimulus_set_loader
        Called to load the stimulus set the assembly was recorded with: its ids must cover
        the assembly's, its columns are added to ``presentation`` (unless
        ``merge_stimulus_set_meta=False``) and it is kept as ``attrs['stimulus_set']``, as in
        Brain-Score.

    Returns
    -------
    The assembly with MultiIndexes restored and ``attrs['identifier']``,
    ``attrs['stimulus_set_identifier']`` set.
    """
    store = open_store(bucket)
    path = fetch_file(store, assembly_filename(identifier), sha1, version_id=version_id,
                      identifier=identifier)
    array, recorded_class = read_assembly_netcdf(path)
    if isinstance(cls, str):
        cls = assembly_class(cls)
    elif cls is None:
        cls = assembly_class(recorded_class) if recorded_class else DataAssembly
    assembly = cls(array)
    assembly.attrs["identifier"] = identifier
    if stimulus_set_loader is not None:
        stimulus_set = stimulus_set_loader()
        validate_alignment(assembly, stimulus_set)
        if merge_stimulus_set_meta and _has_presentation_ids(assembly):
            assembly = attach_stimulus_set_meta(assembly, stimulus_set)
        assembly.attrs["stimulus_set"] = stimulus_set
    return assembly


def _has_presentation_ids(assembly: xr.DataArray) -> bool:
    return "stimulus_id" in assembly.coords and assembly.coords["stimulus_id"].dims == (
        "presentation",
    )


# The names Brain-Score's tutorials use; ``bucket`` may be any store location here.
load_stimulus_set_from_s3 = load_stimulus_set_from_store
load_assembly_from_s3 = load_assembly_from_store
