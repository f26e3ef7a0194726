"""resnet20-cifar10: conformance, its layers, and real classification of held-out images."""

from pathlib import Path

import numpy as np
import pytest

from brainmark import load_model
from brainmark.data import StimulusSet
from brainmark.model_interface import Task
from brainmark.testing import check_model

IMAGES = Path(__file__).parent / "test_images"


@pytest.fixture(scope="module")
def model():
    return load_model("resnet20-cifar10")


def test_identifier_layers_and_visual_degrees(model):
    assert model.identifier == "resnet20-cifar10"
    assert model.visual_degrees() == 8
    assert model.layers == [
        "relu", "layer1", "layer2.0", "layer2", "layer3.0", "layer3", "avgpool", "linear"
    ]
    assert {region: model.layer_for(region) for region in ("V1", "V2", "V4", "IT")} == {
        "V1": "layer1", "V2": "layer2.0", "V4": "layer2", "IT": "layer3"
    }


def test_model_passes_the_conformance_checks(model):
    supported = check_model(model)
    assert supported["regions"] == ["V1", "V2", "V4", "IT"]
    assert supported["tasks"] == ["label", "probabilities", "odd_one_out"]


def test_classifies_held_out_edge_drawings_far_above_chance(model):
    # 70 line drawings (Geirhos et al., 10 per class) of 7 CIFAR-10 classes, never seen in
    # training; labels named as in Geirhos et al.'s 16 classes, so 'car' and 'boat' are
    # reached through the model's label synonyms. Chance is 1/7; 25 of 70 correct has a
    # binomial tail probability of 7e-6 under chance. The model gets 31 of 70 (0.44).
    paths = sorted(IMAGES.glob("*.png"))
    labels = [path.stem.rstrip("0123456789") for path in paths]
    stimuli = StimulusSet(
        {"stimulus_id": [path.stem for path in paths], "truth": labels},
        stimulus_paths={path.stem: path for path in paths},
        identifier="resnet20-cifar10-test-edges",
    )
    label_set = sorted(set(labels))
    model.start_task(Task.label, label_set)
    choices = model.look_at(stimuli)
    accuracy = np.mean(choices.values == np.asarray(labels, dtype=object))
    assert accuracy >= 25 / 70
