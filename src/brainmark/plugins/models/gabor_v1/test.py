"""gabor-v1: conformance, its layers, and orientation and frequency tuning of its cells."""

import numpy as np
import pytest
from PIL import Image

from brainmark import load_model
from brainmark.data import StimulusSet
from brainmark.testing import check_model


def test_identifier_layers_and_conformance():
    model = load_model("gabor-v1")
    assert model.identifier == "gabor-v1"
    assert model.layers == ["gabor", "simple", "complex", "pooled"]
    assert check_model(model)["regions"] == ["V1", "V2", "V4", "IT"]


@pytest.mark.parametrize("orientation", [0, 2, 5])
def test_complex_cells_prefer_the_grating_orientation_and_frequency(tmp_path, orientation):
    # A 2 cycles/degree grating (1/6 cycle per pixel at 12 px/degree) at 22.5 * k degrees
    # drives most the complex cells of that orientation and frequency (channel 8 + k).
    theta = np.pi * orientation / 8
    y, x = np.mgrid[:96, :96]
    grating = 0.5 + 0.5 * np.cos(2 * np.pi / 6 * (x * np.cos(theta) + y * np.sin(theta)))
    Image.fromarray((grating * 255).astype(np.uint8)).save(tmp_path / "grating.png")
    stimuli = StimulusSet(
        {"stimulus_id": ["grating"]}, stimulus_paths={"grating": tmp_path / "grating.png"}
    )
    activations = load_model("gabor-v1").activations_model(stimuli, ["complex"])
    mean_per_channel = activations.groupby("channel").mean("neuroid").values[0]
    assert np.argmax(mean_per_channel) == 8 + orientation
