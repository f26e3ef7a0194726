"""Labelled response data: xarray DataArray subclasses with multi-level coordinates.

Every coordinate that runs along one dimension (``stimulus_id``, ``object_name``,
``repetition`` on ``presentation``; ``neuroid_id``, ``region`` on ``neuroid``) becomes a
level of that dimension's MultiIndex, so ``assembly.sel(stimulus_id=...)`` works and the
levels travel together. Following xarray's advice on subclassing, the classes add no state
(``__slots__ = ()``); helpers are functions and re-wrap their results.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.indexes import PandasMultiIndex

from brainmark.exceptions import ValidationError


def gather_indexes(array: xr.DataArray) -> xr.DataArray:
    """Make every dimension with 1-d coordinates a MultiIndex over those coordinates."""
    new_indexes: dict[Hashable, list[Hashable]] = {}
    for dim in array.dims:
        levels = [
            name
            for name, coord in array.coords.items()
            if coord.dims == (dim,) and name != dim
        ]
        if not levels:
            continue
        index = array.indexes.get(dim)
        if isinstance(index, pd.MultiIndex) and set(index.names) >= set(levels):
            continue
        if index is not None:
            if dim in array.coords and not isinstance(index, pd.MultiIndex):
                continue  # A plain dimension coordinate stays the index, as the user set it.
            array = array.reset_index(dim)
            levels = [
                name
                for name, coord in array.coords.items()
                if coord.dims == (dim,) and name != dim
            ]
        new_indexes[dim] = levels
    for dim, levels in new_indexes.items():
        if len(levels) > 1:
            array = array.set_index({dim: levels})
            continue
        # set_index with one variable would rename it to the dim (stimulus_id -> presentation);
        # build a one-level MultiIndex instead, so every dim keeps its coordinate names.
        (level,) = levels
        values = array[level].values
        index = PandasMultiIndex(
            pd.MultiIndex.from_arrays([values], names=[level]),
            dim,
            level_coords_dtype={level: values.dtype},
        )
        array = array.drop_vars(level).assign_coords(xr.Coordinates.from_xindex(index))
    return array


class DataAssembly(xr.DataArray):
    """Base of all assemblies: a DataArray whose per-dimension coordinates are gathered."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("fastpath"):
            # xarray's internal re-wrapping: data and indexes are already consistent.
            super().__init__(*args, **kwargs)
            return
        super().__init__(gather_indexes(xr.DataArray(*args, **kwargs)))


class NeuroidAssembly(DataAssembly):
    """Neural responses: ``presentation x neuroid [x time_bin]``."""

    __slots__ = ()


class BehavioralAssembly(DataAssembly):
    """Behavioral responses: ``presentation [x choice]`` (or ``presentation x presentation``)."""

    __slots__ = ()


class PropertyAssembly(DataAssembly):
    """Per-neuroid or per-stimulus properties (tuning widths, RDM entries, ...)."""

    __slots__ = ()


ASSEMBLY_CLASSES: dict[str, type[DataAssembly]] = {
    cls.__name__: cls
    for cls in (DataAssembly, NeuroidAssembly, BehavioralAssembly, PropertyAssembly)
}


def assembly_class(name: str) -> type[DataAssembly]:
    """The assembly class called ``name`` (as stored in packaging records)."""
    try:
        return ASSEMBLY_CLASSES[name]
    except KeyError:
        raise ValidationError(
            f"Unknown assembly class {name!r}. Use one of {sorted(ASSEMBLY_CLASSES)}."
        ) from None


def coords_frame(assembly: xr.DataArray, dim: str) -> pd.DataFrame:
    """The coordinates along ``dim`` as a DataFrame, one row per position on ``dim``."""
    columns = {
        name: np.asarray(coord.values)
        for name, coord in assembly.coords.items()
        if coord.dims == (dim,) and name != dim
    }
    return pd.DataFrame(columns)


def walk_coords(assembly: xr.DataArray, dim: str) -> list[str]:
    """Names of the 1-d coordinates (MultiIndex levels included) along ``dim``."""
    return [
        str(name)
        for name, coord in assembly.coords.items()
        if coord.dims == (dim,) and name != dim
    ]


def average_repetitions(
    assembly: xr.DataArray,
    *,
    dim: str = "presentation",
    by: str = "stimulus_id",
    drop: Sequence[str] = ("repetition",),
) -> xr.DataArray:
    """Mean over the presentations of each stimulus, ignoring NaN-padded repetitions.

    Coordinates that are constant within every stimulus are kept; per-trial coordinates
    (``repetition`` and any that vary within a stimulus) are dropped. The order of stimuli
    is that of their first presentation, so the result is deterministic.
    """
    frame = coords_frame(assembly, dim)
    if by not in frame:
        raise ValidationError(
            f"Cannot average repetitions: assembly has no {by!r} coordinate on {dim!r}. "
            f"Coordinates there: {list(frame.columns)}."
        )
    codes, uniques = pd.factorize(frame[by], sort=False)
    axis = assembly.get_axis_num(dim)
    values = np.moveaxis(np.asarray(assembly.values, dtype=float), axis, 0)
    flat = values.reshape(len(codes), -1)
    finite = np.isfinite(flat)
    sums = np.zeros((len(uniques), flat.shape[1]))
    counts = np.zeros((len(uniques), flat.shape[1]))
    np.add.at(sums, codes, np.where(finite, flat, 0.0))
    np.add.at(counts, codes, finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    means = np.moveaxis(means.reshape((len(uniques), *values.shape[1:])), 0, axis)

    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    kept = {}
    for name in frame.columns:
        if name in drop:
            continue
        column = frame[name]
        per_stimulus = column.groupby(codes).nunique(dropna=False)
        if (per_stimulus <= 1).all():
            kept[name] = (dim, column.to_numpy()[first])
    other_coords = _plain_coords(assembly, exclude=dim)
    result = xr.DataArray(
        means, dims=assembly.dims, coords={**other_coords, **kept}, attrs=dict(assembly.attrs)
    )
    return type(assembly)(result) if isinstance(assembly, DataAssembly) else result


def _plain_coords(assembly: xr.DataArray, exclude: str) -> dict[str, tuple]:
    """Coordinates not along ``exclude`` as plain (dims, values) pairs, indexes dropped."""
    return {
        str(name): (coord.dims, np.asarray(coord.values))
        for name, coord in assembly.coords.items()
        if exclude not in coord.dims
        and not (name in assembly.dims and isinstance(assembly.indexes.get(name), pd.MultiIndex))
    }


def attach_stimulus_set_meta(
    assembly: xr.DataArray, stimulus_set: pd.DataFrame, *, dim: str = "presentation"
) -> xr.DataArray:
    """Add the stimulus set's columns as coordinates on ``dim``, matched by ``stimulus_id``.

    Columns the assembly already has are left as they are. Every assembly stimulus_id must
    be in the stimulus set.
    """
    frame = coords_frame(assembly, dim)
    if "stimulus_id" not in frame:
        raise ValidationError(f"Assembly has no 'stimulus_id' coordinate on {dim!r}.")
    lookup = pd.DataFrame(stimulus_set).drop_duplicates("stimulus_id").set_index("stimulus_id")
    ids = frame["stimulus_id"].astype(str)
    lookup.index = lookup.index.astype(str)
    missing = sorted(set(ids) - set(lookup.index))
    if missing:
        raise ValidationError(
            f"Assembly has {len(missing)} stimulus_id values not in stimulus set "
            f"{getattr(stimulus_set, 'identifier', None)!r}: {missing[:10]}. Attach the "
            f"stimulus set the assembly was recorded with."
        )
    rows = lookup.loc[ids]
    new = {
        column: (dim, rows[column].to_numpy())
        for column in lookup.columns
        if column not in frame and column not in assembly.dims
    }
    if not new:
        return assembly
    plain = assembly.reset_index([d for d in assembly.dims if d in assembly.indexes])
    result = plain.assign_coords(new)
    return type(assembly)(result) if isinstance(assembly, DataAssembly) else gather_indexes(result)
