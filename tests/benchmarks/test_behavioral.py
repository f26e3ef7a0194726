"""BehavioralBenchmark: fitting stimuli never leak the test images, nor their objects."""

from __future__ import annotations

import numpy as np
import pytest

from brainmark import load_metric
from brainmark.benchmarks import BehavioralBenchmark
from brainmark.data import BehavioralAssembly, StimulusSet
from brainmark.exceptions import ValidationError
from brainmark.metrics import no_ceiling
from brainmark.model_interface import BrainModel, Task
from brainmark.testing import make_stimulus_set

LABELS = ["cat", "dog", "oven"]
OBJECTS = [f"{label}{n}" for n in range(4) for label in LABELS]  # labels in turn


class MemorisingModel(BrainModel):
    """Answers the label of a fitted image of the same object, else 'unknown'.

    A perfect cheat: it scores 1 exactly when the readout saw the test objects.
    """

    identifier = "memorising"

    def __init__(self) -> None:
        self.fits: list[set[str]] = []
        self.tests: list[set[str]] = []

    def visual_degrees(self) -> float:
        return 8.0

    def start_task(self, task, fitting_stimuli=None):
        self.known = dict(zip(fitting_stimuli["object_id"], fitting_stimuli["image_label"],
                              strict=True))
        self.fits.append(set(self.known))

    def start_recording(self, recording_target, time_bins):
        raise NotImplementedError

    def look_at(self, stimuli, number_of_trials=1):
        self.tests.append(set(stimuli["object_id"]))
        choices = [self.known.get(obj, "unknown") for obj in stimuli["object_id"]]
        return BehavioralAssembly(
            np.array(choices, dtype=object),
            dims=("presentation",),
            coords={"stimulus_id": ("presentation", list(stimuli["stimulus_id"]))},
        )


def _rendering(folder, prefix: str) -> StimulusSet:
    """One image per object, ids '<prefix>_<object>', like Geirhos's edge/silhouette sets."""
    return make_stimulus_set(
        folder, [f"{prefix}_{obj}" for obj in OBJECTS], identifier=f"test-{prefix}",
        labels=LABELS, object_id=OBJECTS,
    )


def _benchmark(tmp_path, cross_fit_by: str | None) -> BehavioralBenchmark:
    test = _rendering(tmp_path / "edge", "edge")
    truth = list(test["image_label"])
    subjects = BehavioralAssembly(
        np.array(truth, dtype=object),
        dims=("presentation",),
        coords={
            "stimulus_id": ("presentation", list(test["stimulus_id"])),
            "truth": ("presentation", truth),
            "subject": ("presentation", ["s1"] * len(truth)),
        },
    )
    return BehavioralBenchmark(
        "Test2021edge-top1", version=1, assembly=subjects, stimulus_set=test,
        task=Task.label, fitting_stimuli=_rendering(tmp_path / "silhouette", "silhouette"),
        visual_degrees=8, metric=load_metric("accuracy"), ceiler=lambda _: no_ceiling(),
        parent="engineering", bibtex="@article{test}", cross_fit_by=cross_fit_by,
    )


def test_without_cross_fitting_a_readout_can_recognise_the_tested_objects(tmp_path):
    assert float(_benchmark(tmp_path, None)(MemorisingModel())) == 1.0


def test_cross_fitting_never_fits_and_tests_the_same_object(tmp_path):
    model = MemorisingModel()
    score = _benchmark(tmp_path, "object_id")(model)
    assert float(score) == 0.0  # the cheat has nothing to recall
    assert len(model.fits) == len(model.tests) == 2
    for fitted, tested in zip(model.fits, model.tests, strict=True):
        assert not fitted & tested
        assert {obj.rstrip("0123456789") for obj in fitted} == set(LABELS)
    assert model.tests[0] | model.tests[1] == set(OBJECTS)
    assert not model.tests[0] & model.tests[1]


def test_cross_fitting_needs_the_object_column_in_both_sets(tmp_path):
    benchmark = _benchmark(tmp_path, "photo")
    with pytest.raises(ValidationError, match=r"cross-fits by 'photo'.*fitting stimuli"):
        benchmark(MemorisingModel())
