"""pixels: conformance, its one layer, and that its features are the pooled image."""

import numpy as np
from PIL import Image

from brainmark import load_model
from brainmark.data import StimulusSet
from brainmark.testing import check_model


def test_identifier_layers_and_conformance():
    model = load_model("pixels")
    assert model.identifier == "pixels"
    assert model.layers == ["pixels"]
    assert check_model(model)["regions"] == ["V1", "V2", "V4", "IT"]


def test_features_are_the_image_averaged_over_2x2_blocks(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "noise.png")
    stimuli = StimulusSet(
        {"stimulus_id": ["noise"]}, stimulus_paths={"noise": tmp_path / "noise.png"}
    )
    model = load_model("pixels")
    model.start_recording("V1", time_bins=[(70, 170)])
    recorded = model.look_at(stimuli).isel(time_bin=0).values[0]
    expected = (image / 255).reshape(32, 2, 32, 2, 3).mean(axis=(1, 3)).transpose(2, 0, 1)
    np.testing.assert_allclose(recorded, expected.ravel(), atol=1e-6)
