"""ModelCommitment: recording regions, starting tasks, refusing what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest

from brainmark.data import NeuroidAssembly
from brainmark.exceptions import ModelError, ValidationError
from brainmark.model_interface import Task

from .conftest import commitment, features


def test_recording_gives_the_same_activations_in_every_time_bin(stimuli):
    model = commitment()
    model.start_recording("IT", time_bins=[(70, 170), (170, 270), (270, 370)])
    recording = model.look_at(stimuli, number_of_trials=3)
    assert isinstance(recording, NeuroidAssembly)
    assert recording.dims == ("presentation", "neuroid", "time_bin")
    assert recording.sizes == {"presentation": 10, "neuroid": 16, "time_bin": 3}
    assert list(recording["time_bin_start"].values) == [70, 170, 270]
    assert list(recording["time_bin_end"].values) == [170, 270, 370]
    assert set(recording["region"].values) == {"IT"}
    assert set(recording["layer"].values) == {"pool"}
    assert list(recording["image_label"].values) == list(stimuli["image_label"])
    expected = features(model, stimuli, "pool")
    for time_bin in range(3):
        np.testing.assert_array_equal(recording.isel(time_bin=time_bin).values, expected)


def test_regions_without_a_layer_and_unknown_regions_are_refused():
    model = commitment()
    with pytest.raises(ModelError, match=r"commits no layer to region 'V4'.*layer_scorers"):
        model.start_recording("V4", time_bins=[(70, 170)])
    with pytest.raises(ModelError, match=r"Unknown recording target 'MT'"):
        model.start_recording("MT", time_bins=[(70, 170)])
    with pytest.raises(ValidationError, match="start < end"):
        model.start_recording("IT", time_bins=[(170, 70)])


def test_a_map_to_a_layer_outside_the_candidates_is_refused():
    model = commitment(region_layer_map={"IT": "flatten"})
    with pytest.raises(ModelError, match=r"not among its layers: \{'IT': 'flatten'\}"):
        model.layer_for("IT")


def test_looking_without_a_task_or_recording_is_refused(stimuli):
    with pytest.raises(ModelError, match="start_recording"):
        commitment().look_at(stimuli)


def test_unknown_tasks_are_refused():
    with pytest.raises(ModelError, match="unknown task 'dance'"):
        commitment().start_task("dance")


def test_a_task_that_fails_to_start_leaves_no_task_started(stimuli):
    model = commitment()
    model.start_task(Task.odd_one_out)
    with pytest.raises(ModelError, match="no named output classes"):
        model.start_task(Task.label, ["dark", "bright"])
    with pytest.raises(ModelError, match="without a task or a recording"):
        model.look_at(stimuli)
