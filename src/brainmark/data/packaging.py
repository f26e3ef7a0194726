"""Package stimulus sets and assemblies into files with SHA1s, ready for an object store.

A stimulus set becomes a CSV (one row of metadata per stimulus plus the ``filename`` of its
image inside the ZIP) and a ZIP of the image files; an assembly becomes one compressed
netCDF file. Inputs are validated first, and every file is written to a temporary name and
moved into place only when complete, so an error never leaves a partial package behind.
The ZIP is deterministic (sorted members, fixed timestamps, no compression of the already
compressed images), so the same stimuli always give the same SHA1.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from brainmark._files import atomic_path, sha1_of_file
from brainmark.data._formats import SCHEMA_FORMAT, write_assembly_netcdf, write_frame_csv
from brainmark.data.assemblies import (
    BehavioralAssembly,
    DataAssembly,
    NeuroidAssembly,
    assembly_class,
)
from brainmark.data.validation import (
    validate_alignment,
    validate_assembly,
    validate_stimulus_set,
)
from brainmark.exceptions import ValidationError
from brainmark.settings import get_settings

FILENAME_COLUMN = "filename"
SCHEMA_MEMBER = "brainmark-stimulus-set.json"
# Every identifier names files, store keys and cache folders.
_FILE_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# A benchmark's also says whose data, which region and which metric (docs/submitting-a-
# benchmark.md): AuthorYear[suffix], an optional '.region', then '-metric'.
_BENCHMARK = re.compile(
    r"(?P<author_year>[A-Za-z][A-Za-z0-9_]*?[0-9]{4}[A-Za-z0-9_]*)"
    r"(?:\.(?P<region>[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*))?"
    r"-(?P<metric>[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*)"
)
_EXAMPLES = {
    "benchmark": "Kriegeskorte2008.IT-rdm",
    "model": "my-cornet-s",
    "stimulus set": "Smith2024",
    "assembly": "Smith2024.IT",
}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# What each assembly class must carry, checked before packaging.
_REQUIREMENTS: dict[type[DataAssembly], dict[str, Any]] = {
    NeuroidAssembly: {
        "dims": ("presentation", "neuroid"),
        "coords": {"stimulus_id": "presentation", "neuroid_id": "neuroid"},
    },
    BehavioralAssembly: {"dims": ("presentation",), "coords": {"stimulus_id": "presentation"}},
}


def stimulus_set_filenames(identifier: str) -> tuple[str, str]:
    """The CSV and ZIP file names (and store keys) of a packaged stimulus set."""
    validate_identifier(identifier, "stimulus set")
    return f"stimulus_{identifier}.csv", f"stimulus_{identifier}.zip"


def assembly_filename(identifier: str) -> str:
    """The netCDF file name (and store key) of a packaged assembly."""
    validate_identifier(identifier, "assembly")
    return f"assy_{identifier}.nc"


def validate_identifier(identifier: str, kind: str = "benchmark") -> str:
    """Refuse an identifier that is not of the form brainmark gives names of ``kind``.

    The one rule for every name: packaging (stimulus sets and assemblies), benchmarks at
    construction, ``brainmark new`` and :func:`brainmark.testing.check_benchmark` all call
    it. Every identifier becomes file names, store keys and cache folders, so it starts
    with a letter or digit and holds only letters, digits, ``.``, ``_`` and ``-``. A
    benchmark identifier also reads ``AuthorYear.region-metric`` (neural:
    ``Kriegeskorte2008.IT-rdm``) or ``AuthorYear-metric`` (behavioral and engineering:
    ``Geirhos2021edge-error_consistency``): the first author and year of the data's paper
    (any suffix after the year), an optional region after ``.`` and the metric after
    ``-``.

    Parameters
    ----------
    identifier
        The name to check.
    kind
        ``'benchmark'``, ``'model'``, ``'stimulus set'`` or ``'assembly'``.

    Returns
    -------
    str
        ``identifier``, unchanged.

    Raises
    ------
    ValidationError
        Naming the kind, the rule and the identifier.
    """
    if kind not in _EXAMPLES:
        raise ValueError(f"kind must be one of {sorted(_EXAMPLES)}; got {kind!r}.")
    if kind == "benchmark":
        if not isinstance(identifier, str) or not _BENCHMARK.fullmatch(identifier):
            raise ValidationError(
                f"The benchmark identifier must read 'AuthorYear.region-metric' (e.g. "
                f"'Kriegeskorte2008.IT-rdm') or 'AuthorYear-metric' for behavior (e.g. "
                f"'Geirhos2021edge-error_consistency'): author and year of the data's paper, "
                f"an optional region after '.', the metric after '-', each of letters, "
                f"digits and '_'. Got {identifier!r}. Rename the benchmark."
            )
    elif not isinstance(identifier, str) or not _FILE_SAFE.fullmatch(identifier):
        raise ValidationError(
            f"The {kind} identifier must start with a letter or digit and contain only "
            f"letters, digits, '.', '_' and '-' (e.g. {_EXAMPLES[kind]!r}). Got "
            f"{identifier!r}."
        )
    return identifier


def benchmark_identifier_parts(identifier: str) -> dict[str, str | None]:
    """``author_year``, ``region`` (None when absent) and ``metric`` of a benchmark identifier.

    ``benchmark_identifier_parts('Smith2024.IT-pls')`` is ``{'author_year': 'Smith2024',
    'region': 'IT', 'metric': 'pls'}``; an identifier not of the form is refused by
    :func:`validate_identifier`.
    """
    validate_identifier(identifier, "benchmark")
    match = _BENCHMARK.fullmatch(identifier)
    assert match is not None  # validate_identifier refused any other
    return match.groupdict()


def default_downloads_path() -> Path:
    """Where packaged files go unless told otherwise: ``<home>/packages``."""
    return get_settings().packages_dir


def package_stimulus_set_locally(
    proto_stimulus_set: pd.DataFrame,
    stimulus_set_identifier: str,
    downloads_path: str | Path | None = None,
) -> dict[str, Any]:
    """Write a stimulus set as CSV + ZIP in ``downloads_path``; return paths and SHA1s.

    Parameters
    ----------
    proto_stimulus_set
        A :class:`~brainmark.data.StimulusSet` with ``stimulus_paths`` for every id.
    stimulus_set_identifier
        Its name, e.g. ``'Kriegeskorte2008'``; the files are ``stimulus_<identifier>.csv``
        and ``.zip``.
    downloads_path
        Output folder, default ``<home>/packages``.

    Returns
    -------
    dict with ``identifier``, ``csv_path``, ``zip_path``, ``csv_sha1``, ``zip_sha1``.
    """
    csv_name, zip_name = stimulus_set_filenames(stimulus_set_identifier)
    validate_stimulus_set(proto_stimulus_set, name=stimulus_set_identifier)
    if FILENAME_COLUMN in proto_stimulus_set.columns:
        raise ValidationError(
            f"Stimulus set {stimulus_set_identifier!r} has a column {FILENAME_COLUMN!r}, "
            f"which packaging fills with each file's name inside the ZIP. Rename the column."
        )
    paths = {str(key): Path(value) for key, value in proto_stimulus_set.stimulus_paths.items()}
    frame = pd.DataFrame(proto_stimulus_set).reset_index(drop=True)
    members = _member_names([paths[str(sid)] for sid in frame["stimulus_id"]])
    frame[FILENAME_COLUMN] = pd.Series(
        [members[paths[str(sid)].absolute()] for sid in frame["stimulus_id"]], dtype="str"
    )
    folder = Path(downloads_path) if downloads_path is not None else default_downloads_path()
    csv_path, zip_path = folder / csv_name, folder / zip_name
    with atomic_path(csv_path) as csv_tmp, atomic_path(zip_path) as zip_tmp:
        with open(csv_tmp, "w", encoding="utf-8", newline="") as handle:
            schema = write_frame_csv(frame, handle)
        _write_zip(zip_tmp, members, schema)
        csv_sha1, zip_sha1 = sha1_of_file(csv_tmp), sha1_of_file(zip_tmp)
    return {
        "identifier": stimulus_set_identifier,
        "csv_path": csv_path,
        "zip_path": zip_path,
        "csv_sha1": csv_sha1,
        "zip_sha1": zip_sha1,
    }


def _member_names(paths: list[Path]) -> dict[Path, str]:
    """A unique name inside the ZIP for each distinct file: its own name where possible."""
    names: dict[Path, str] = {}
    used = {SCHEMA_MEMBER}
    for path in paths:
        path = path.absolute()
        if path in names:
            continue  # Two ids showing the same file share it.
        name, counter = path.name, 1
        while name in used:
            name = f"{path.stem}-{counter}{path.suffix}"
            counter += 1
        names[path] = name
        used.add(name)
    return names


def _write_zip(target: Path, members: dict[Path, str], schema: list[dict[str, Any]]) -> None:
    contents = {name: path for path, name in members.items()}
    schema_bytes = json.dumps(
        {"format": SCHEMA_FORMAT, "filename_column": FILENAME_COLUMN, "columns": schema},
        ensure_ascii=False,
        indent=1,
    ).encode()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted([*contents, SCHEMA_MEMBER]):
            data = schema_bytes if name == SCHEMA_MEMBER else contents[name].read_bytes()
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.create_system = 3  # Unix, whatever the packaging machine runs.
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


def read_zip_schema(zip_path: Path) -> dict[str, Any] | None:
    """The column schema stored in a packaged stimulus ZIP (None for foreign packages).

    A ZIP that cannot be read, or a schema that is not a JSON object listing ``columns``,
    is a :class:`ValidationError` naming the ZIP.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            try:
                content = archive.read(SCHEMA_MEMBER)
            except KeyError:
                return None
        schema = json.load(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:  # JSON errors too
        raise ValidationError(
            f"Stimulus ZIP {zip_path} cannot be read ({type(error).__name__}: {error}); "
            f"package the stimulus set again."
        ) from error
    if not isinstance(schema, dict) or not isinstance(schema.get("columns"), list):
        raise ValidationError(
            f"Stimulus ZIP {zip_path}: its {SCHEMA_MEMBER} is not a JSON object with a list "
            f"of 'columns'; package the stimulus set again."
        )
    return schema


def package_data_assembly_locally(
    proto_data_assembly: xr.DataArray,
    assembly_identifier: str,
    stimulus_set_identifier: str,
    assembly_class_name: str,
    downloads_path: str | Path | None = None,
    *,
    stimulus_set: pd.DataFrame | None = None,
    allow_nan: bool = False,
) -> dict[str, Any]:
    """Write an assembly as a compressed netCDF file; return its path and SHA1.

    Parameters
    ----------
    proto_data_assembly
        The data, e.g. a :class:`~brainmark.data.NeuroidAssembly`.
    assembly_identifier
        Its name, e.g. ``'Kriegeskorte2008.mIT'``; the file is ``assy_<identifier>.nc``.
    stimulus_set_identifier
        The stimulus set it was recorded with, stored in the file's attributes.
    assembly_class_name
        ``'NeuroidAssembly'``, ``'BehavioralAssembly'``, ``'PropertyAssembly'`` or
        ``'DataAssembly'``; the class's required dims and coords are checked.
    downloads_path
        Output folder, default ``<home>/packages``.
    stimulus_set
        When given, every stimulus id of the assembly must be in it.
    allow_nan
        Accept NaN values (e.g. padded repetitions); infinities are always refused.

    Returns
    -------
    dict with ``identifier``, ``path``, ``sha1``, ``cls`` (the class name).
    """
    filename = assembly_filename(assembly_identifier)
    validate_identifier(stimulus_set_identifier, "stimulus set")
    cls = assembly_class(assembly_class_name)
    requirements = _REQUIREMENTS.get(cls, {})
    validate_assembly(
        proto_data_assembly,
        dims=requirements.get("dims"),
        coords=requirements.get("coords"),
        name=assembly_identifier,
        allow_nan=allow_nan,
    )
    assembly = cls(proto_data_assembly)
    if stimulus_set is not None:
        other = getattr(stimulus_set, "identifier", None)
        if other is not None and other != stimulus_set_identifier:
            raise ValidationError(
                f"Assembly {assembly_identifier!r} is packaged against stimulus set "
                f"{stimulus_set_identifier!r}, but the stimulus set given is {other!r}. "
                f"Pass the matching stimulus set or identifier."
            )
        validate_alignment(assembly.assign_attrs(identifier=assembly_identifier), stimulus_set)
    path = (Path(downloads_path) if downloads_path is not None else default_downloads_path())
    path = path / filename
    with atomic_path(path) as temporary:
        write_assembly_netcdf(
            assembly,
            temporary,
            attrs={
                "identifier": assembly_identifier,
                "stimulus_set_identifier": stimulus_set_identifier,
            },
            class_name=cls.__name__,
        )
        sha1 = sha1_of_file(temporary)
    return {"identifier": assembly_identifier, "path": path, "sha1": sha1, "cls": cls.__name__}
