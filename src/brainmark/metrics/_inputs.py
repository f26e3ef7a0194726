"""Checking, averaging and aligning the assemblies metrics receive (shared by all metrics)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import xarray as xr

from brainmark.data.assemblies import average_repetitions, coords_frame, walk_coords
from brainmark.data.validation import format_ids, validate_assembly
from brainmark.exceptions import MetricError

SOURCE = "model (source)"
TARGET = "data (target)"


def responses(
    assembly: xr.DataArray, *, name: str, allow_nan: bool = False, average: bool = True
) -> xr.DataArray:
    """A checked ``presentation x neuroid`` assembly, one row per stimulus if ``average``.

    A ``time_bin`` dim of size 1 is squeezed away; several bins are refused here (callers
    that score per bin slice them first, see :func:`time_bin_pairs`).
    """
    validate_assembly(
        assembly,
        dims=("presentation", "neuroid"),
        coords={"stimulus_id": "presentation"},
        name=name,
        allow_nan=allow_nan,
    )
    assembly = squeeze_time_bin(assembly, name=name)
    extra = [dim for dim in assembly.dims if dim not in ("presentation", "neuroid")]
    if extra:
        raise MetricError(
            f"The {name} assembly has dims {list(assembly.dims)}; expected presentation x "
            f"neuroid. Select or average over {extra} first."
        )
    if average and not coords_frame(assembly, "presentation")["stimulus_id"].is_unique:
        assembly = average_repetitions(assembly)
    return assembly.transpose("presentation", "neuroid")


def squeeze_time_bin(assembly: xr.DataArray, *, name: str) -> xr.DataArray:
    """The assembly without its ``time_bin`` dim when that dim has a single bin."""
    if "time_bin" not in assembly.dims:
        return assembly
    if assembly.sizes["time_bin"] != 1:
        raise MetricError(
            f"The {name} assembly has {assembly.sizes['time_bin']} time bins; this metric "
            f"compares one. Select a bin (assembly.isel(time_bin=i)) or use a metric that "
            f"scores each bin."
        )
    names = [*walk_coords(assembly, "time_bin"), "time_bin"]
    squeezed = assembly.isel(time_bin=0)
    return squeezed.drop_vars([n for n in names if n in squeezed.coords])


def time_bin_pairs(
    source: xr.DataArray, target: xr.DataArray
) -> Iterator[tuple[xr.DataArray, xr.DataArray]]:
    """(source, target) per time bin: both with the same number of bins, or one bin each."""
    bins = [a.sizes.get("time_bin", 1) for a in (source, target)]
    if bins[0] == bins[1]:
        count = bins[0]
    elif 1 in bins:
        count = max(bins)
    else:
        raise MetricError(
            f"The model has {bins[0]} time bins and the data {bins[1]}; they must match "
            f"(or one side must have a single bin)."
        )
    for position in range(count):
        yield (_time_bin(source, position), _time_bin(target, position))


def _time_bin(assembly: xr.DataArray, position: int) -> xr.DataArray:
    if "time_bin" not in assembly.dims:
        return assembly
    position = min(position, assembly.sizes["time_bin"] - 1)
    return assembly.isel(time_bin=[position])


def stimulus_ids(assembly: xr.DataArray, dim: str = "presentation") -> np.ndarray:
    """The ``stimulus_id`` values along ``dim`` as strings."""
    return np.asarray(assembly["stimulus_id"].values).astype(str)


def align(
    source_ids: np.ndarray, target_ids: np.ndarray, *, what: str = "stimulus_id"
) -> np.ndarray:
    """Positions in ``source_ids`` of each of ``target_ids``; refuses any mismatch.

    Both sides must hold the same set of ids: a metric never silently drops stimuli.
    """
    source_set, target_set = set(source_ids), set(target_ids)
    missing = [sid for sid in pd.unique(target_ids) if sid not in source_set]
    extra = sorted(source_set - target_set)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} {what} values of the data are missing from the model's "
                         f"responses: {format_ids(missing)}")
        if extra:
            parts.append(f"{len(extra)} {what} values of the model are not in the data: "
                         f"{format_ids(extra)}")
        raise MetricError(
            f"Model and data must cover the same stimuli, but {'; '.join(parts)}. Record the "
            f"model on exactly the benchmark's stimulus set."
        )
    return pd.Index(source_ids).get_indexer(target_ids)


def paired_responses(
    source: xr.DataArray, target: xr.DataArray, *, allow_nan_target: bool = False
) -> tuple[np.ndarray, np.ndarray, xr.DataArray]:
    """float64 (stimuli x features, stimuli x neuroids) rows matched by ``stimulus_id``.

    Both sides are averaged over repetitions first. Returns the source values, the target
    values and the (averaged) target assembly whose row order both arrays follow.
    """
    source = responses(source, name=SOURCE)
    target = responses(target, name=TARGET, allow_nan=allow_nan_target)
    rows = align(stimulus_ids(source), stimulus_ids(target))
    source_values = np.asarray(source.values, dtype=np.float64)[rows]
    return source_values, np.asarray(target.values, dtype=np.float64), target


def neuroid_labels(assembly: xr.DataArray) -> np.ndarray:
    """``neuroid_id`` values (positions when the assembly has none), for messages and raw."""
    if "neuroid_id" in assembly.coords:
        return np.asarray(assembly["neuroid_id"].values)
    return np.arange(assembly.sizes["neuroid"])


def refuse_constant_neuroids(values: np.ndarray, assembly: xr.DataArray, *, name: str) -> None:
    """Refuse neuroids whose responses do not vary over stimuli (their r is undefined)."""
    spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    constant = np.flatnonzero(~(spread > 0))
    if len(constant):
        labels = neuroid_labels(assembly)[constant]
        raise MetricError(
            f"The {name} assembly has {len(constant)} neuroids with zero variance over "
            f"stimuli: neuroid_id {format_ids(labels)}. Their correlation is undefined; drop "
            f"them (assembly.isel(neuroid=...)) before scoring."
        )
