"""Checking, averaging and aligning the assemblies metrics receive (shared by all metrics)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import xarray as xr

from brainmark.data.assemblies import average_repetitions, walk_coords
from brainmark.data.validation import format_ids, validate_assembly
from brainmark.exceptions import MetricError
from brainmark.metrics.score import Score

SOURCE = "model (source)"
TARGET = "data (target)"


def responses(assembly: xr.DataArray, *, name: str, nan_padding: bool = False) -> xr.DataArray:
    """A checked ``presentation x neuroid`` assembly with one row per stimulus.

    Repetitions (presentations sharing a ``stimulus_id``) are averaged, ignoring NaN. With
    ``nan_padding`` (the data side) NaN marks missing trials: it is accepted as long as
    every stimulus keeps at least one non-NaN repetition per neuroid. Without it (the model
    side) any NaN is refused. Infinite values are always refused. A ``time_bin`` dim of size
    1 is squeezed away; several bins are refused here (callers that score per bin slice them
    first, see :func:`time_bin_pairs`).

    Raises
    ------
    ValidationError
        On missing dims or coordinates, or infinite values.
    MetricError
        On extra dims, NaN the model gave, or a stimulus without any valid repetition for
        a neuroid; the message names the stimulus and neuroid ids.
    """
    validate_assembly(
        assembly,
        dims=("presentation", "neuroid"),
        coords={"stimulus_id": "presentation"},
        name=name,
        allow_nan=True,  # NaN is judged below, by side; infinite values are refused here
    )
    assembly = squeeze_time_bin(assembly, name=name)
    extra = [dim for dim in assembly.dims if dim not in ("presentation", "neuroid")]
    if extra:
        raise MetricError(
            f"The {name} assembly has dims {list(assembly.dims)}; expected presentation x "
            f"neuroid. Select or average over {extra} first."
        )
    if assembly.dims != ("presentation", "neuroid"):
        assembly = assembly.transpose("presentation", "neuroid")
    if not nan_padding:
        _refuse_nan(assembly, name=name, what="NaN responses", remedy=(
            "A model must respond to every stimulus with finite numbers; check its outputs "
            "(e.g. a layer that overflowed) before scoring."))
    if not pd.Index(stimulus_ids(assembly)).is_unique:
        assembly = average_repetitions(assembly)
    if nan_padding:
        _refuse_nan(assembly, name=name, what="no valid repetition (every trial is NaN)",
                    remedy=(
            "NaN-padded trials are ignored when repetitions are averaged, but each stimulus "
            "needs at least one recorded trial per neuroid. Drop those stimuli or neuroids "
            "from the data (assembly.isel(...)) before scoring."))
    return assembly


def _refuse_nan(assembly: xr.DataArray, *, name: str, what: str, remedy: str) -> None:
    """Raise naming the stimuli and neuroids of any NaN in a presentation x neuroid assembly."""
    missing = np.isnan(np.asarray(assembly.values, dtype=np.float64))
    if not missing.any():
        return
    stimuli = pd.unique(stimulus_ids(assembly)[missing.any(axis=1)])
    neuroids = neuroid_labels(assembly)[missing.any(axis=0)]
    raise MetricError(
        f"The {name} assembly has {what} for {int(missing.sum())} (stimulus, neuroid) "
        f"pairs: stimulus_id {format_ids(stimuli)}; neuroid_id {format_ids(neuroids)}. "
        f"{remedy}"
    )


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


def mean_over_time_bins(scores: list[Score]) -> Score:
    """One score from the scores of each time bin (:func:`time_bin_pairs`): their mean.

    ``raw`` gains a ``time_bin`` dim, ``error`` is the mean of the bins' errors and
    ``per_time_bin`` keeps each bin's score; a single bin's score is returned as it is.
    Per-resample values are averaged over bins too (every bin resamples the same stimuli).
    """
    if len(scores) == 1:
        return scores[0]
    score = Score(float(np.mean([float(s) for s in scores])))
    score.attrs["raw"] = xr.concat([s.attrs["raw"] for s in scores], dim="time_bin")
    score.attrs["error"] = float(np.mean([s.attrs["error"] for s in scores]))
    score.attrs["per_time_bin"] = scores
    if all("resample_values" in s.attrs for s in scores):  # the same resamples in each bin
        from brainmark.metrics.intervals import attach_interval

        first = scores[0].attrs
        attach_interval(
            score, np.mean([s.attrs["resample_values"] for s in scores], axis=0),
            method=first["interval_method"], resamples=first["resamples"], seed=first["seed"],
            level=first["interval_level"],
        )
    return score


def _time_bin(assembly: xr.DataArray, position: int) -> xr.DataArray:
    if "time_bin" not in assembly.dims:
        return assembly
    position = min(position, assembly.sizes["time_bin"] - 1)
    return assembly.isel(time_bin=[position])


def stimulus_ids(assembly: xr.DataArray) -> np.ndarray:
    """The ``stimulus_id`` values along ``presentation`` as strings."""
    return coordinate(assembly, "stimulus_id").astype(str)


def coordinate(assembly: xr.DataArray, name: str) -> np.ndarray:
    """The values of coordinate ``name`` (read from its variable: building the coordinate
    DataArray, as ``assembly[name]`` does, costs far more for a MultiIndex level)."""
    return np.asarray(assembly.coords.variables[name].values)


def dim_coordinates(assembly: xr.DataArray, dim: str) -> dict[str, tuple[str, np.ndarray]]:
    """The 1-d coordinates along ``dim`` (not ``dim`` itself) as ``{name: (dim, values)}``,
    ready to label a result along the same dim."""
    return {
        str(name): (dim, np.asarray(variable.values))
        for name, variable in assembly.coords.variables.items()
        if variable.dims == (dim,) and name != dim
    }


def align(source_ids: np.ndarray, target_ids: np.ndarray) -> np.ndarray:
    """Positions in ``source_ids`` (the model's) of each of ``target_ids`` (the data's).

    Both sides must hold the same set of stimulus ids: a metric never silently drops
    stimuli. A mismatch is refused saying which side lacks which ids and what to do.
    """
    source_set, target_set = set(source_ids), set(target_ids)
    only_data = [sid for sid in pd.unique(np.asarray(target_ids)) if sid not in source_set]
    only_model = [sid for sid in pd.unique(np.asarray(source_ids)) if sid not in target_set]
    if only_data or only_model:
        problems = []
        if only_data:
            problems.append(
                f"The model's responses lack {len(only_data)} stimuli the data has: "
                f"stimulus_id {format_ids(only_data)}. The model was not shown them: show "
                f"it the data's whole stimulus set (a benchmark does), or, if the data "
                f"should not include them, select the data to the stimuli shown "
                f"(data.isel(presentation=...)) before scoring."
            )
        if only_model:
            problems.append(
                f"The data lacks {len(only_model)} stimuli the model's responses have: "
                f"stimulus_id {format_ids(only_model)}. The data has no responses to them: "
                f"select the model's responses to the data's stimuli "
                f"(model_responses.isel(presentation=...)), or, if the data should have "
                f"them, load the complete data assembly (are these ids in its stimulus "
                f"set but missing from its recordings?)."
            )
        raise MetricError(
            "Model and data must cover the same stimuli (matched by stimulus_id), but they "
            "do not. " + " ".join(problems)
        )
    return pd.Index(source_ids).get_indexer(target_ids)


def paired_responses(
    source: xr.DataArray, target: xr.DataArray
) -> tuple[np.ndarray, np.ndarray, xr.DataArray]:
    """float64 (stimuli x features, stimuli x neuroids) rows matched by ``stimulus_id``.

    Both sides are averaged over repetitions first (the data's NaN-padded trials ignored,
    see :func:`responses`). Returns the source values, the target values and the
    (averaged) target assembly whose row order both arrays follow.
    """
    source = responses(source, name=SOURCE)
    target = responses(target, name=TARGET, nan_padding=True)
    rows = align(stimulus_ids(source), stimulus_ids(target))
    source_values = np.asarray(source.values, dtype=np.float64)[rows]
    return source_values, np.asarray(target.values, dtype=np.float64), target


def neuroid_labels(assembly: xr.DataArray) -> np.ndarray:
    """``neuroid_id`` values (positions when the assembly has none), for messages and raw."""
    if "neuroid_id" in assembly.coords:
        return coordinate(assembly, "neuroid_id")
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
