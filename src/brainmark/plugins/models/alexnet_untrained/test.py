"""alexnet-untrained: conformance, layers, and weights that reproduce from the seed."""

import torch

from brainmark import load_model
from brainmark.models import weights_sha1
from brainmark.testing import check_model


def test_identifier_layers_and_conformance():
    model = load_model("alexnet-untrained")
    assert model.identifier == "alexnet-untrained"
    assert model.layers[0] == "features.2" and model.layers[-1] == "classifier.5"
    assert model.layer_for("IT") == "features.12"
    assert check_model(model)["tasks"] == ["label", "probabilities", "odd_one_out"]


def test_weights_are_identical_on_every_load_and_leave_the_global_seed_alone():
    state = torch.random.get_rng_state()
    first = load_model("alexnet-untrained").activations_model.module
    second = load_model("alexnet-untrained").activations_model.module
    assert torch.equal(torch.random.get_rng_state(), state)
    assert weights_sha1(first) == weights_sha1(second)
