"""Checks that stimulus sets and assemblies meet the data standards, before anything uses them.

Like scikit-learn's ``check_array``: small public validators that return their input
unchanged when it is valid and otherwise raise :class:`~brainmark.exceptions.ValidationError`
saying what is wrong, where (the offending ids or coordinates, first ten and a count), and
what to do. Packaging calls them before writing a byte; every metric calls
:func:`validate_assembly` on entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from brainmark.data.images import verify_image
from brainmark.exceptions import ImageTooLargeError, ValidationError

# Coordinates (or dimensions) whose values are stimulus ids of the assembly's stimulus set:
# ``stimulus_id`` on presentations, and the two axes of an RDM.
STIMULUS_ID_COORDS = ("stimulus_id", "stimulus_row", "stimulus_column")

_Assembly = TypeVar("_Assembly", bound=xr.DataArray)
_Frame = TypeVar("_Frame", bound=pd.DataFrame)


def format_ids(values: Iterable[object], *, limit: int = 10) -> str:
    """``['a', 'b', ...] (and 5 more)``: the first ``limit`` values of a list for a message."""
    values = list(values)
    shown = [value.item() if isinstance(value, np.generic) else value for value in values]
    text = repr(shown[:limit])
    if len(values) > limit:
        text += f" (and {len(values) - limit} more)"
    return text


def validate_stimulus_set(stimulus_set: _Frame, *, name: str | None = None) -> _Frame:
    """Check a stimulus set: unique ``stimulus_id``, a decodable image file for every id.

    Parameters
    ----------
    stimulus_set
        A :class:`~brainmark.data.StimulusSet` (or DataFrame with ``stimulus_paths``).
    name
        What to call the set in messages; defaults to its ``identifier``.

    Returns
    -------
    The same stimulus set, unchanged.

    Raises
    ------
    ValidationError
        On a missing ``stimulus_id`` column, missing or duplicate ids, ids without a path,
        files that do not exist, or files Pillow cannot decode as images; as
        :class:`~brainmark.exceptions.ImageTooLargeError` on images over the pixel budget
        that cannot be reduced while decoding (see :mod:`brainmark.data.images`).
    """
    label = _label("Stimulus set", name or getattr(stimulus_set, "identifier", None))
    if not isinstance(stimulus_set, pd.DataFrame):
        raise ValidationError(
            f"{label} must be a StimulusSet (a pandas DataFrame). Got {type(stimulus_set)}."
        )
    if "stimulus_id" not in stimulus_set.columns:
        raise ValidationError(
            f"{label} has no 'stimulus_id' column. Columns: {list(stimulus_set.columns)}. "
            f"Add one unique id per stimulus."
        )
    non_string_columns = [column for column in stimulus_set.columns if not isinstance(column, str)]
    if non_string_columns:
        raise ValidationError(
            f"{label} has column names that are not strings: {format_ids(non_string_columns)}. "
            f"Rename them, e.g. stimulus_set.columns = stimulus_set.columns.astype(str)."
        )
    repeated_columns = stimulus_set.columns[stimulus_set.columns.duplicated()].unique()
    if len(repeated_columns):
        raise ValidationError(
            f"{label} has repeated column names: {format_ids(repeated_columns)}. Rename them."
        )
    ids = stimulus_set["stimulus_id"]
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())
        raise ValidationError(
            f"{label} has {len(rows)} rows without a stimulus_id (rows {format_ids(rows)}). "
            f"Give every stimulus an id."
        )
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise ValidationError(
            f"{label} has {len(duplicated)} duplicate stimulus_id values: "
            f"{format_ids(duplicated)}. Each stimulus needs a unique id."
        )
    paths = getattr(stimulus_set, "stimulus_paths", None) or {}
    without_path = [sid for sid in ids if str(sid) not in paths]
    if without_path:
        raise ValidationError(
            f"{label} has {len(without_path)} stimulus_id values without a file in "
            f"stimulus_paths: {format_ids(without_path)}. Set stimulus_paths[id] to each "
            f"image's path."
        )
    missing = [sid for sid in ids if not Path(paths[str(sid)]).is_file()]
    if missing:
        raise ValidationError(
            f"{label} has {len(missing)} stimulus files that do not exist: "
            f"{format_ids(missing)} (first: {paths[str(missing[0])]}). Fix stimulus_paths "
            f"or restore the files."
        )
    unreadable: dict[object, str] = {}
    too_large: dict[object, ImageTooLargeError] = {}
    for sid in ids:
        try:
            verify_image(paths[str(sid)])
        except ImageTooLargeError as error:
            too_large[sid] = error
        except Exception as error:  # Pillow raises many types for broken files.
            unreadable[sid] = f"{type(error).__name__}: {error}"
    if unreadable:
        first = next(iter(unreadable))
        raise ValidationError(
            f"{label} has {len(unreadable)} stimulus files that are not readable images: "
            f"{format_ids(unreadable)} (first: {paths[str(first)]}: {unreadable[first]}). "
            f"Replace them with valid image files."
        )
    if too_large:
        first = next(iter(too_large))
        raise ImageTooLargeError(
            f"{label} has {len(too_large)} stimulus images too large to decode within the "
            f"pixel budget: {format_ids(too_large)}. First, stimulus_id {first!r}: "
            f"{too_large[first]}"
        )
    return stimulus_set


def validate_assembly(
    assembly: _Assembly,
    *,
    dims: Sequence[str] | None = None,
    coords: Sequence[str] | dict[str, str] | None = None,
    name: str | None = None,
    allow_nan: bool = False,
) -> _Assembly:
    """Check an assembly's dimensions, coordinates and values; return it unchanged.

    Parameters
    ----------
    assembly
        An xarray DataArray (usually a :class:`~brainmark.data.DataAssembly`).
    dims
        Dimensions it must have (any order, others allowed).
    coords
        Coordinates it must have: a list of names, or ``{name: dim}`` when the coordinate
        must run along a given dimension (e.g. ``{'stimulus_id': 'presentation'}``).
    name
        What to call the assembly in messages, e.g. the metric's argument name.
    allow_nan
        Accept NaN (e.g. padded repetitions); infinite values are always refused.

    Raises
    ------
    ValidationError
        When something required is missing or values are not finite; the message names the
        missing dims/coords or the stimulus ids (and other coordinates) of the bad values.
    """
    identifier = assembly.attrs.get("identifier") if isinstance(assembly, xr.DataArray) else None
    label = _label("Assembly", name or identifier)
    if not isinstance(assembly, xr.DataArray):
        raise ValidationError(
            f"{label} must be an xarray DataArray (e.g. a NeuroidAssembly). "
            f"Got {type(assembly).__name__}."
        )
    missing_dims = [dim for dim in dims or () if dim not in assembly.dims]
    if missing_dims:
        raise ValidationError(
            f"{label} is missing dimension(s) {missing_dims}; it has {list(assembly.dims)}. "
            f"Expected at least {list(dims or ())}."
        )
    required = coords.items() if isinstance(coords, dict) else ((c, None) for c in coords or ())
    for coord, dim in required:
        if coord not in assembly.coords:
            raise ValidationError(
                f"{label} is missing the coordinate {coord!r}"
                f"{f' on dimension {dim!r}' if dim else ''}. Its coordinates: "
                f"{sorted(map(str, assembly.coords))}."
            )
        if dim is not None and assembly.coords[coord].dims != (dim,):
            raise ValidationError(
                f"{label} has the coordinate {coord!r} along {assembly.coords[coord].dims}, "
                f"but it must run along {dim!r}."
            )
    if assembly.dtype.kind in "fc":
        values = np.asarray(assembly.values)
        bad = ~np.isfinite(values) if not allow_nan else np.isinf(values)
        if bad.any():
            what = "infinite" if allow_nan else "NaN or infinite"
            hint = (
                "Remove them or mark missing data as NaN."
                if allow_nan
                else "Remove them, or pass allow_nan=True where NaN marks missing data."
            )
            raise ValidationError(
                f"{label} has {int(bad.sum())} {what} values, at "
                f"{_locate(assembly, bad)}. {hint}"
            )
    elif assembly.dtype.kind not in "biuUSO?":
        raise ValidationError(
            f"{label} has values of dtype {assembly.dtype}; expected numbers (or labels)."
        )
    return assembly


def _locate(assembly: xr.DataArray, bad: np.ndarray) -> str:
    """Describe where ``bad`` is true: per dimension, the labels of the affected positions."""
    parts = []
    for axis, dim in enumerate(assembly.dims):
        positions = np.flatnonzero(bad.any(axis=tuple(i for i in range(bad.ndim) if i != axis)))
        labels = _labels(assembly, str(dim))
        shown = labels[positions] if labels is not None else positions
        kind = _label_name(assembly, str(dim)) if labels is not None else "positions"
        parts.append(f"{dim} {kind} {format_ids(shown)}")
    return "; ".join(parts)


def _label_name(assembly: xr.DataArray, dim: str) -> str:
    for name in (*STIMULUS_ID_COORDS, "neuroid_id", "subject"):
        if name in assembly.coords and assembly.coords[name].dims == (dim,) and name != dim:
            return name
    return "values"


def _labels(assembly: xr.DataArray, dim: str) -> np.ndarray | None:
    """The most telling labels along ``dim``: stimulus_id / neuroid_id, else the dim coord."""
    for name in (*STIMULUS_ID_COORDS, "neuroid_id", "subject"):
        if name in assembly.coords and assembly.coords[name].dims == (dim,) and name != dim:
            return np.asarray(assembly.coords[name].values)
    index = assembly.indexes.get(dim)
    if index is not None and not isinstance(index, pd.MultiIndex):
        return np.asarray(index)
    return None


def assembly_stimulus_ids(assembly: xr.DataArray) -> list:
    """Every stimulus id the assembly refers to (``stimulus_id``, RDM rows and columns)."""
    ids: dict = {}
    for name in STIMULUS_ID_COORDS:
        if name in assembly.coords:
            ids.update(dict.fromkeys(np.asarray(assembly.coords[name].values).ravel().tolist()))
    return list(ids)


def validate_alignment(assembly: _Assembly, stimulus_set: pd.DataFrame) -> _Assembly:
    """Check that every stimulus id in the assembly is in the stimulus set; return it.

    Ids are compared as strings (CSV files and netCDF files store them that way).

    Raises
    ------
    ValidationError
        Naming the assembly ids absent from the stimulus set (first ten and a count).
    """
    assembly_name = assembly.attrs.get("identifier")
    set_name = getattr(stimulus_set, "identifier", None)
    if "stimulus_id" not in stimulus_set.columns:
        raise ValidationError(
            f"{_label('Stimulus set', set_name)} has no 'stimulus_id' column, so assembly "
            f"{assembly_name!r} cannot be matched with it."
        )
    ids = assembly_stimulus_ids(assembly)
    if not ids:
        raise ValidationError(
            f"{_label('Assembly', assembly_name)} has none of the coordinates "
            f"{list(STIMULUS_ID_COORDS)}, so it cannot be matched with stimulus set "
            f"{set_name!r}. Add a 'stimulus_id' coordinate on 'presentation'."
        )
    known = set(stimulus_set["stimulus_id"].astype(str))
    absent = [sid for sid in ids if str(sid) not in known]
    if absent:
        raise ValidationError(
            f"{_label('Assembly', assembly_name)} has {len(absent)} stimulus_id values not in "
            f"stimulus set {set_name!r}: {format_ids(absent)}. Package it against the "
            f"stimulus set it was recorded with."
        )
    return assembly


def _label(kind: str, name: str | None) -> str:
    return f"{kind} {name!r}" if name else kind
