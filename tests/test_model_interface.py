"""The model interface: any object answering its calls is a model, torch or not."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from brainmark.data import NeuroidAssembly, attach_stimulus_set_meta
from brainmark.exceptions import ModelError
from brainmark.model_interface import BrainModel, RecordingTarget, Task
from brainmark.testing import check_model


class MeanColorModel(BrainModel):
    """A numpy-only model: its 'IT' is the mean red, green and blue of each image."""

    identifier = "mean-color"

    def visual_degrees(self) -> float:
        return 8.0

    def start_task(self, task, fitting_stimuli=None):
        raise ModelError(f"{self.identifier} performs no task.")

    def start_recording(self, recording_target, time_bins):
        if recording_target != RecordingTarget.IT:
            raise ModelError(f"{self.identifier} has no {recording_target}.")
        self.time_bins = list(time_bins)

    def look_at(self, stimuli, number_of_trials=1):
        means = np.stack([
            np.asarray(Image.open(stimuli.get_stimulus(sid)).convert("RGB"), float).mean((0, 1))
            for sid in stimuli["stimulus_id"]
        ])
        values = np.repeat(means[:, :, None], len(self.time_bins), axis=2)
        assembly = NeuroidAssembly(
            values,
            dims=("presentation", "neuroid", "time_bin"),
            coords={
                "stimulus_id": ("presentation", list(stimuli["stimulus_id"])),
                "neuroid_id": ("neuroid", ["red", "green", "blue"]),
                "region": ("neuroid", ["IT"] * 3),
                "time_bin_start": ("time_bin", [start for start, _ in self.time_bins]),
                "time_bin_end": ("time_bin", [end for _, end in self.time_bins]),
            },
        )
        return attach_stimulus_set_meta(assembly, stimuli)


def test_a_model_without_torch_passes_the_conformance_checks():
    assert check_model(MeanColorModel()) == {"regions": ["IT"], "tasks": []}


def test_brain_model_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        BrainModel()


def test_tasks_and_recording_targets_compare_equal_to_their_names():
    assert Task.label == "label" and Task("odd_one_out") is Task.odd_one_out
    assert [target.value for target in RecordingTarget] == ["V1", "V2", "V4", "IT"]
    assert RecordingTarget("IT") is RecordingTarget.IT


def test_importing_brainmark_and_the_interface_does_not_import_torch():
    code = (
        "import sys, brainmark, brainmark.model_interface, brainmark.testing; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

