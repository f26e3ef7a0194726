"""Conformance checks every model plugin must pass (its test.py and ``brainmark test``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from brainmark.data.assemblies import BehavioralAssembly, NeuroidAssembly, coords_frame
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError
from brainmark.model_interface import RecordingTarget, Task
from brainmark.testing._stimuli import make_stimulus_set

TIME_BINS = [(70, 170), (170, 270)]
LABELS = ["disk", "stripes"]


def check_model(model: Any, *, image_size: int = 32) -> dict[str, list[str]]:
    """Assert that ``model`` (an instance or a registered identifier) behaves as a BrainModel.

    Checks its identifier and ``visual_degrees()``, then, on a tiny generated stimulus set
    (``image_size`` pixels, two classes), every recording target and every task: each
    either raises :class:`~brainmark.exceptions.ModelError` at ``start_recording`` /
    ``start_task`` (not supported) or returns a well-formed assembly from ``look_at``
    (dims, stimulus order and metadata, neuroid ids, time bins, choices within the
    offered labels, probabilities summing to 1, odd ones within their trial). At least
    one target or task must be supported. Raises ``AssertionError`` naming the first
    problem; returns what was supported: ``{"regions": [...], "tasks": [...]}``.
    """
    if isinstance(model, str):
        from brainmark.registry import model_registry

        model = model_registry.load(model)
    name = getattr(model, "identifier", None)
    assert isinstance(name, str) and name, f"Model {model!r} has no string identifier."
    degrees = model.visual_degrees()
    assert isinstance(degrees, int | float) and np.isfinite(degrees) and degrees > 0, (
        f"Model {name!r}: visual_degrees() must be a positive number. Got {degrees!r}."
    )
    supported: dict[str, list[str]] = {"regions": [], "tasks": []}
    with tempfile.TemporaryDirectory() as folder:
        fitting = _tiny_stimuli(Path(folder), "fit", 8, image_size)
        test = _tiny_stimuli(Path(folder), "test", 4, image_size)
        for target in RecordingTarget:
            try:
                model.start_recording(target, time_bins=TIME_BINS)
            except ModelError:
                continue
            _check_recording(name, target.value, model.look_at(test), test)
            supported["regions"].append(target.value)
        checks = {
            "label": (Task.label, fitting, _check_labels),
            "label from names": (Task.label, list(LABELS), _check_labels),
            "probabilities": (Task.probabilities, fitting, _check_probabilities),
            "odd_one_out": (Task.odd_one_out, None, None),
        }
        for task_name, (task, fitting_stimuli, check) in checks.items():
            try:
                model.start_task(task, fitting_stimuli)
            except ModelError:
                continue
            if task is Task.odd_one_out:
                trials = _trials(test)
                _check_odd_one_out(name, model.look_at(trials), trials)
            else:
                check(name, model.look_at(test), test)
            supported["tasks"].append(task_name)
    assert supported["regions"] or supported["tasks"], (
        f"Model {name!r} supports no recording target and no task."
    )
    return supported


def _tiny_stimuli(folder: Path, prefix: str, count: int, size: int) -> StimulusSet:
    """Half disks, half stripes, in varying colors: two classes a readout can tell apart."""
    return make_stimulus_set(
        folder,
        [f"{prefix}{n}" for n in range(count)],
        identifier=f"brainmark-check-model-{prefix}-{size}px",
        labels=LABELS,
        image_size=size,
        seed=0 if prefix == "fit" else 1,
    )


def _trials(stimuli: StimulusSet) -> StimulusSet:
    ids = list(stimuli["stimulus_id"])
    triplets = [(ids[0], ids[1], ids[2]), (ids[1], ids[2], ids[3]), (ids[0], ids[2], ids[3])]
    return StimulusSet(
        {
            "stimulus_id": [f"trial{n}" for n in range(len(triplets))],
            **{f"stimulus_id_{k}": [t[k] for t in triplets] for k in range(3)},
        },
        stimulus_paths=dict(stimuli.stimulus_paths),
        identifier=f"{stimuli.identifier}-trials",
    )


def _check_presentation(name: str, what: str, assembly: Any, stimuli: StimulusSet) -> None:
    frame = coords_frame(assembly, "presentation")
    assert "stimulus_id" in frame, f"Model {name!r} {what}: no stimulus_id on presentation."
    assert list(frame["stimulus_id"].astype(str)) == list(stimuli["stimulus_id"]), (
        f"Model {name!r} {what}: presentations are not the stimuli in order."
    )
    missing = [column for column in stimuli.columns if column not in frame]
    assert not missing, f"Model {name!r} {what}: stimulus columns {missing} not attached."


def _check_recording(name: str, region: str, assembly: Any, stimuli: StimulusSet) -> None:
    what = f"recording {region}"
    assert isinstance(assembly, NeuroidAssembly), (
        f"Model {name!r} {what}: look_at returned {type(assembly).__name__}, "
        f"not a NeuroidAssembly."
    )
    assert tuple(assembly.dims) == ("presentation", "neuroid", "time_bin"), (
        f"Model {name!r} {what}: dims {assembly.dims}; expected presentation x neuroid x time_bin."
    )
    _check_presentation(name, what, assembly, stimuli)
    neuroids = coords_frame(assembly, "neuroid")
    assert "neuroid_id" in neuroids and neuroids["neuroid_id"].is_unique, (
        f"Model {name!r} {what}: neuroid_id missing or not unique."
    )
    assert "region" in neuroids and set(neuroids["region"]) == {region}, (
        f"Model {name!r} {what}: neuroid coord 'region' must be {region!r}."
    )
    bins = coords_frame(assembly, "time_bin")
    assert list(zip(bins.get("time_bin_start", []), bins.get("time_bin_end", []),
                    strict=False)) == TIME_BINS, (
        f"Model {name!r} {what}: time bins {bins.to_dict('list')}, asked for {TIME_BINS}."
    )
    assert np.isfinite(assembly.values).all(), f"Model {name!r} {what}: non-finite values."


def _check_labels(name: str, assembly: Any, stimuli: StimulusSet) -> None:
    assert isinstance(assembly, BehavioralAssembly) and assembly.dims == ("presentation",), (
        f"Model {name!r} label: look_at must return a BehavioralAssembly over presentation."
    )
    _check_presentation(name, "label", assembly, stimuli)
    chosen = set(map(str, assembly.values))
    assert chosen <= set(LABELS), f"Model {name!r} label: chose {chosen - set(LABELS)}."


def _check_probabilities(name: str, assembly: Any, stimuli: StimulusSet) -> None:
    assert isinstance(assembly, BehavioralAssembly) and tuple(assembly.dims) == (
        "presentation", "choice",
    ), f"Model {name!r} probabilities: expected a BehavioralAssembly presentation x choice."
    _check_presentation(name, "probabilities", assembly, stimuli)
    assert sorted(map(str, assembly["choice"].values)) == LABELS, (
        f"Model {name!r} probabilities: choices {assembly['choice'].values}, not {LABELS}."
    )
    values = np.asarray(assembly.values, dtype=float)
    assert ((values >= 0) & (values <= 1)).all() and np.allclose(values.sum(axis=1), 1), (
        f"Model {name!r} probabilities: rows must be probabilities summing to 1."
    )


def _check_odd_one_out(name: str, assembly: Any, trials: StimulusSet) -> None:
    assert isinstance(assembly, BehavioralAssembly) and assembly.dims == ("presentation",), (
        f"Model {name!r} odd_one_out: expected a BehavioralAssembly over presentation."
    )
    _check_presentation(name, "odd_one_out", assembly, trials)
    members = trials[["stimulus_id_0", "stimulus_id_1", "stimulus_id_2"]].to_numpy()
    for trial, odd, options in zip(trials["stimulus_id"], assembly.values, members, strict=True):
        assert str(odd) in set(map(str, options)), (
            f"Model {name!r} odd_one_out: trial {trial!r} answered {odd!r}, not one of {options}."
        )
