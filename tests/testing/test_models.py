"""check_model: passes a well-formed model, names the problem of a broken one."""

from __future__ import annotations

import pytest
import torch

from brainmark.models import ActivationsModel, ImagePreprocessing, ModelCommitment
from brainmark.testing import check_model


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.flatten = torch.nn.Flatten()

    def forward(self, images):
        return self.flatten(self.pool(images))


def tiny_model(**kwargs):
    activations_model = ActivationsModel("tiny", Tiny(), preprocessing=ImagePreprocessing(16))
    kwargs.setdefault("region_layer_map", {"V1": "pool"})
    return ModelCommitment("tiny", activations_model, ["pool", "flatten"], **kwargs)


def test_a_well_formed_model_reports_what_it_supports():
    assert check_model(tiny_model()) == {
        "regions": ["V1"],
        "tasks": ["label", "probabilities", "odd_one_out"],
    }


class WrongDims(ModelCommitment):
    def look_at(self, stimuli, number_of_trials=1):
        result = super().look_at(stimuli, number_of_trials)
        return result.isel(time_bin=0) if "time_bin" in result.dims else result


class NoVisualDegrees(ModelCommitment):
    def visual_degrees(self):
        return 0


def test_a_recording_without_time_bins_is_reported():
    model = WrongDims("tiny", tiny_model().activations_model, ["pool"], {"V1": "pool"})
    with pytest.raises(AssertionError, match=r"recording V1: look_at returned|dims"):
        check_model(model)


def test_a_model_without_a_field_of_view_is_reported():
    model = NoVisualDegrees("tiny", tiny_model().activations_model, ["pool"], {"V1": "pool"})
    with pytest.raises(AssertionError, match="visual_degrees"):
        check_model(model)
