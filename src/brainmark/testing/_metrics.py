"""Conformance checks for metric plugins, score assertions and small synthetic assemblies.

:func:`check_metric` is to metrics what scikit-learn's ``check_estimator`` is to
estimators: every metric plugin's ``test.py`` runs it. It builds small synthetic data of
the kind the metric declares in its ``kind`` attribute:

- ``"neural"`` (default): ``metric(model_responses, data_responses)``;
- ``"behavioral"``: ``metric(model_choices, subject_choices)``;
- ``"neural_ceiling"``, ``"rdm_ceiling"``, ``"behavioral_ceiling"``: ``ceiling(data)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from brainmark.data.assemblies import BehavioralAssembly, NeuroidAssembly, PropertyAssembly
from brainmark.exceptions import BrainmarkError

KINDS = ("neural", "behavioral", "neural_ceiling", "rdm_ceiling", "behavioral_ceiling")


def neural_assemblies(
    n_stimuli: int = 60,
    n_features: int = 30,
    n_neuroids: int = 8,
    *,
    n_repetitions: int = 1,
    noise: float = 0.5,
    seed: int = 0,
    objects: int | None = 4,
) -> tuple[NeuroidAssembly, NeuroidAssembly]:
    """(model, data): data neuroids are a random linear map of model features plus noise.

    The data has ``n_repetitions`` trials per stimulus (coordinate ``repetition``) and,
    unless ``objects`` is None, an ``object_name`` per stimulus.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"stim{k:04d}" for k in range(n_stimuli)])
    features = rng.standard_normal((n_stimuli, n_features))
    mapping = rng.standard_normal((n_features, n_neuroids)) / np.sqrt(n_features)
    signal = features @ mapping
    trials = np.concatenate(
        [signal + noise * rng.standard_normal(signal.shape) for _ in range(n_repetitions)]
    )
    presentation = {
        "stimulus_id": ("presentation", np.tile(ids, n_repetitions)),
        "repetition": ("presentation", np.repeat(np.arange(n_repetitions), n_stimuli)),
    }
    if objects is not None:
        names = np.array([f"object{k % objects}" for k in range(n_stimuli)])
        presentation["object_name"] = ("presentation", np.tile(names, n_repetitions))
    model = NeuroidAssembly(
        features,
        dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", ids),
                "neuroid_id": ("neuroid", [f"unit{k}" for k in range(n_features)])},
    )
    data = NeuroidAssembly(
        trials,
        dims=("presentation", "neuroid"),
        coords={**presentation,
                "neuroid_id": ("neuroid", [f"n{k}" for k in range(n_neuroids)]),
                "region": ("neuroid", ["IT"] * n_neuroids)},
    )
    return model, data


def behavioral_assemblies(
    n_stimuli: int = 40, n_subjects: int = 4, n_labels: int = 4, *, seed: int = 0,
    accuracy: float = 0.7,
) -> tuple[BehavioralAssembly, BehavioralAssembly]:
    """(model choices, subject choices): each stimulus answered once by each subject."""
    rng = np.random.default_rng(seed)
    labels = np.array([f"label{k}" for k in range(n_labels)])
    ids = np.array([f"image{k:03d}" for k in range(n_stimuli)])
    truth = labels[np.arange(n_stimuli) % n_labels]

    def answer(size: int) -> np.ndarray:
        wrong = labels[rng.integers(0, n_labels, size)]
        return np.where(rng.random(size) < accuracy, np.resize(truth, size), wrong)

    model = BehavioralAssembly(
        answer(n_stimuli), dims=("presentation",),
        coords={"stimulus_id": ("presentation", ids)},
    )
    data = BehavioralAssembly(
        answer(n_stimuli * n_subjects),
        dims=("presentation",),
        coords={
            "stimulus_id": ("presentation", np.tile(ids, n_subjects)),
            "truth": ("presentation", np.tile(truth, n_subjects)),
            "subject": ("presentation", np.repeat([f"s{k}" for k in range(n_subjects)],
                                                  n_stimuli)),
        },
    )
    return model, data


def rdm_assembly(n_stimuli: int = 12, n_subjects: int = 4, *, seed: int = 0) -> PropertyAssembly:
    """Subjects' RDMs (subject x stimulus_row x stimulus_column): shared structure + noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((n_stimuli, 20))
    ids = [f"stim{k:04d}" for k in range(n_stimuli)]
    rdms = np.stack([
        1 - np.corrcoef(patterns + 0.8 * rng.standard_normal(patterns.shape))
        for _ in range(n_subjects)
    ])
    return PropertyAssembly(
        rdms, dims=("subject", "stimulus_row", "stimulus_column"),
        coords={"subject": [f"s{k}" for k in range(n_subjects)],
                "stimulus_row": ids, "stimulus_column": ids},
    )


def check_metric(metric: Any) -> None:
    """Assert that a metric or ceiling (an instance or a registered name) is well behaved.

    Checks: it is callable with the declared call shape and returns a 0-d
    :class:`~brainmark.metrics.Score` with ``raw`` and ``error`` in ``attrs`` and a finite
    value; two calls give bit-identical results; a metric refuses a model whose stimulus
    ids do not match the data's. Raises ``AssertionError`` naming the first problem.
    """
    from brainmark.metrics import Score

    if isinstance(metric, str):
        from brainmark.metrics.resolve import resolve_metric

        metric = resolve_metric(metric)
    name = repr(metric)
    kind = getattr(metric, "kind", "neural")
    assert kind in KINDS, f"Metric {name} declares kind {kind!r}; use one of {KINDS}."
    assert callable(metric), f"Metric {name} is not callable."
    arguments = _arguments(kind)
    first = metric(*arguments)
    second = metric(*arguments)
    assert isinstance(first, Score), (
        f"Metric {name} returned a {type(first).__name__}; it must return a Score."
    )
    assert first.ndim == 0, f"Metric {name} returned a Score with dims {first.dims}; want 0-d."
    for attribute in ("raw", "error"):
        assert attribute in first.attrs, f"Metric {name}'s Score has no attrs[{attribute!r}]."
    assert math.isfinite(float(first)), f"Metric {name} returned {float(first)} on clean data."
    assert_scores_equal(first, second)
    if len(arguments) == 2:
        source, target = arguments
        renamed = with_stimulus_ids(source, np.char.add(
            np.asarray(source["stimulus_id"].values).astype(str), "-other"))
        try:
            metric(renamed, target)
        except BrainmarkError:
            pass
        else:
            raise AssertionError(
                f"Metric {name} accepted a model whose stimulus ids do not match the data's; "
                f"it must raise a brainmark error naming the mismatched ids."
            )


def with_stimulus_ids(assembly: xr.DataArray, ids: Any) -> xr.DataArray:
    """The assembly with new ``stimulus_id`` values on ``presentation`` (same class)."""
    plain = assembly.reset_index("presentation") if "presentation" in assembly.indexes else (
        assembly)
    relabelled = plain.assign_coords(stimulus_id=("presentation", np.asarray(ids)))
    return type(assembly)(relabelled) if type(assembly) is not xr.DataArray else relabelled


def _arguments(kind: str) -> tuple[xr.DataArray, ...]:
    if kind == "neural":
        return neural_assemblies()
    if kind == "behavioral":
        return behavioral_assemblies()
    if kind == "neural_ceiling":
        return (neural_assemblies(n_repetitions=4)[1],)
    if kind == "rdm_ceiling":
        return (rdm_assembly(),)
    return (behavioral_assemblies()[1],)


def assert_scores_equal(actual: Any, desired: Any, *, rtol: float = 0) -> None:
    """Assert two scores are equal: values, and recursively ``raw``, ``error``, ``ceiling``.

    With ``rtol=0`` (default) equality is exact to the last bit (NaN equals NaN); labelled
    raw values must also have the same dims and coordinates.
    """
    _assert_close(actual, desired, rtol=rtol, where="score")


def _assert_close(actual: Any, desired: Any, *, rtol: float, where: str) -> None:
    if isinstance(desired, xr.DataArray):
        assert isinstance(actual, xr.DataArray), f"{where}: expected a DataArray, got {actual!r}"
        assert actual.dims == desired.dims, f"{where}: dims {actual.dims} != {desired.dims}"
        for coordinate in desired.coords:
            assert coordinate in actual.coords, f"{where}: coordinate {coordinate!r} is missing"
            np.testing.assert_array_equal(
                actual[coordinate].values, desired[coordinate].values,
                err_msg=f"{where}: coordinate {coordinate!r} differs",
            )
        _assert_values(actual.values, desired.values, rtol=rtol, where=where)
        for key in ("raw", "error", "ceiling"):
            if key in desired.attrs:
                assert key in actual.attrs, f"{where}: attrs[{key!r}] is missing"
                _assert_close(actual.attrs[key], desired.attrs[key], rtol=rtol,
                              where=f"{where}.attrs[{key!r}]")
    elif isinstance(desired, list | tuple):
        assert len(actual) == len(desired), f"{where}: lengths {len(actual)} != {len(desired)}"
        for position, (a, d) in enumerate(zip(actual, desired, strict=True)):
            _assert_close(a, d, rtol=rtol, where=f"{where}[{position}]")
    else:
        _assert_values(actual, desired, rtol=rtol, where=where)


def _assert_values(actual: Any, desired: Any, *, rtol: float, where: str) -> None:
    actual, desired = np.asarray(actual), np.asarray(desired)
    if desired.dtype.kind in "fc" or actual.dtype.kind in "fc":
        np.testing.assert_allclose(actual, desired, rtol=rtol, atol=0, equal_nan=True,
                                   err_msg=f"{where} differs")
    else:
        np.testing.assert_array_equal(actual, desired, err_msg=f"{where} differs")
