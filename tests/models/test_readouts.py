"""Behavioral readouts: fitted labels and probabilities, the network's classes, odd one out."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainmark.data import BehavioralAssembly, StimulusSet
from brainmark.exceptions import ModelError, ValidationError
from brainmark.model_interface import Task
from brainmark.models import ActivationsModel, ModelCommitment

from .conftest import PREPROCESSING, commitment, features, write_stimuli


@pytest.fixture
def fitting(tmp_path):
    return write_stimuli(tmp_path / "fitting", 20, identifier="fitting", seed=3)


def test_label_readout_is_fitted_on_the_fitting_stimuli(stimuli, fitting):
    model = commitment(behavioral_readout_layer="pool")
    model.start_task(Task.label, fitting)
    choices = model.look_at(stimuli)
    assert isinstance(choices, BehavioralAssembly) and choices.dims == ("presentation",)
    assert list(choices["stimulus_id"].values) == list(stimuli["stimulus_id"])
    # Dark and bright noise images are easy to tell apart from pooled conv features.
    assert list(choices.values) == list(stimuli["image_label"])


def test_probabilities_are_standardized_features_and_multinomial_logistic_regression(
    stimuli, fitting
):
    model = commitment(behavioral_readout_layer="fc")
    model.start_task(Task.probabilities, fitting)
    probabilities = model.look_at(stimuli)
    assert probabilities.dims == ("presentation", "choice")
    expected = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        features(model, fitting, "fc").astype(float), fitting["image_label"]
    )
    assert list(probabilities["choice"].values) == list(expected.classes_)
    np.testing.assert_allclose(
        probabilities.values,
        expected.predict_proba(features(model, stimuli, "fc").astype(float)),
        rtol=1e-6,
    )


def test_readouts_need_labelled_fitting_stimuli(stimuli):
    model = commitment()
    unlabelled = StimulusSet(stimuli[["stimulus_id"]], stimulus_paths=stimuli.stimulus_paths)
    with pytest.raises(ValidationError, match="'image_label' column"):
        model.start_task(Task.probabilities, unlabelled)
    with pytest.raises(ModelError, match="no named output classes"):
        model.start_task(Task.label, ["dark", "bright"])


class MeanColor(torch.nn.Module):
    """Class scores = mean red, green and blue of the image."""

    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.logits = torch.nn.Flatten()

    def forward(self, images):
        return self.logits(self.pool(images))


def test_label_names_are_mapped_onto_the_model_classes(tmp_path):
    colors = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
    for name, rgb in colors.items():
        Image.fromarray(np.full((8, 8, 3), rgb, dtype=np.uint8)).save(tmp_path / f"{name}.png")
    stimuli = StimulusSet(
        {"stimulus_id": list(colors)}, stimulus_paths={c: tmp_path / f"{c}.png" for c in colors}
    )
    model = ModelCommitment(
        "mean-color",
        ActivationsModel("mean-color", MeanColor(), preprocessing=PREPROCESSING),
        ["logits"],
        logits_layer="logits",
        class_names=["red", "green", "blue"],
        label_synonyms={"blue": "sky"},
    )
    model.start_task(Task.label, ["sky", "red"])
    # Green is not on offer: the model answers with the best-scoring offered class.
    choices = model.look_at(stimuli)
    assert dict(zip(choices["stimulus_id"].values, choices.values, strict=True))["red"] == "red"
    assert dict(zip(choices["stimulus_id"].values, choices.values, strict=True))["blue"] == "sky"
    assert set(choices.values) <= {"sky", "red"}
    with pytest.raises(ModelError, match="none of its classes"):
        model.start_task(Task.label, ["cat", "dog"])


def test_odd_one_out_leaves_out_the_image_least_correlated_with_the_others(stimuli):
    ids = list(stimuli["stimulus_id"])
    triplets = list(itertools.combinations(ids[:6], 3))
    trials = StimulusSet(
        {
            "stimulus_id": [f"t{n}" for n in range(len(triplets))],
            **{f"stimulus_id_{k}": [t[k] for t in triplets] for k in range(3)},
        },
        stimulus_paths=stimuli.stimulus_paths,
        identifier="tiny-trials",
    )
    model = commitment(behavioral_readout_layer="pool")
    model.start_task(Task.odd_one_out)
    odd = model.look_at(trials)
    assert list(odd["stimulus_id"].values) == list(trials["stimulus_id"])
    pooled = dict(zip(ids, features(model, stimuli, "pool").astype(float), strict=True))
    for triplet, chosen in zip(triplets, odd.values, strict=True):
        r = {
            pair: np.corrcoef(pooled[pair[0]], pooled[pair[1]])[0, 1]
            for pair in itertools.combinations(triplet, 2)
        }
        kept = max(r, key=r.get)
        assert chosen == next(sid for sid in triplet if sid not in kept)
