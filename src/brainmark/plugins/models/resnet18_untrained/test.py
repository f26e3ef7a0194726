"""resnet18-untrained: conformance, layers, and weights that reproduce from the seed."""

from brainmark import load_model
from brainmark.models import weights_sha1
from brainmark.testing import check_model


def test_identifier_layers_and_conformance():
    model = load_model("resnet18-untrained")
    assert model.identifier == "resnet18-untrained"
    assert model.layers == ["maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"]
    assert [model.layer_for(region) for region in ("V1", "V2", "V4", "IT")] == [
        "layer1", "layer2", "layer3", "layer4"
    ]
    assert check_model(model)["regions"] == ["V1", "V2", "V4", "IT"]


def test_weights_are_identical_on_every_load():
    first = load_model("resnet18-untrained").activations_model.module
    second = load_model("resnet18-untrained").activations_model.module
    assert weights_sha1(first) == weights_sha1(second)
