"""ModelCommitment: recordings, region->layer maps, layer selection, behavioral readouts."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainmark._files import read_checked_json
from brainmark.data import BehavioralAssembly, NeuroidAssembly, StimulusSet
from brainmark.exceptions import ModelError, ValidationError
from brainmark.model_interface import Task
from brainmark.models import ActivationsModel, ModelCommitment, select_layers
from brainmark.settings import get_settings

from .conftest import PREPROCESSING, TinyNet, write_stimuli


def commitment(net=None, **kwargs):
    activations_model = ActivationsModel("tiny", net or TinyNet(), preprocessing=PREPROCESSING)
    kwargs.setdefault("region_layer_map", {"V1": "relu", "IT": "pool"})
    return ModelCommitment("tiny", activations_model, ["conv", "relu", "pool", "fc"], **kwargs)


def features(model, stimuli, layer):
    return model.activations_model(stimuli, [layer]).values


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


def test_the_region_layer_map_is_read_from_a_json_file(tmp_path):
    path = tmp_path / "region_layer_map.json"
    path.write_text(json.dumps({"V1": "conv", "V2": "relu", "V4": "pool", "IT": "fc"}))
    model = commitment(region_layer_map=path)
    assert [model.layer_for(r) for r in ("V1", "V2", "V4", "IT")] == ["conv", "relu", "pool", "fc"]


# --- layer selection with a real metric: cross-validated ridge regression -------------------


def cross_validated_ridge_r(source: np.ndarray, target: np.ndarray, *, folds=5, alpha=1.0):
    """Mean over folds of the median over target columns of Pearson r on held-out rows."""
    order = np.random.default_rng(0).permutation(len(source))
    scores = []
    for test in np.array_split(order, folds):
        train = np.setdiff1d(order, test)
        x_mean, y_mean = source[train].mean(0), target[train].mean(0)
        x, y = source[train] - x_mean, target[train] - y_mean
        # Dual form: the weights live in the span of the training rows.
        dual = np.linalg.solve(x @ x.T + alpha * np.eye(len(x)), y)
        prediction = (source[test] - x_mean) @ (x.T @ dual) + y_mean
        r = [np.corrcoef(prediction[:, j], target[test][:, j])[0, 1] for j in range(y.shape[1])]
        scores.append(np.median(r))
    return float(np.mean(scores))


class RidgeScorer:
    """Scores a model by how well its IT recording predicts a target, counting its calls."""

    identifier = "synthetic-IT-ridge"

    def __init__(self, stimuli, target):
        self.stimuli, self.target, self.calls = stimuli, target, 0

    def __call__(self, model):
        self.calls += 1
        model.start_recording("IT", time_bins=[(70, 170)])
        source = model.look_at(self.stimuli).isel(time_bin=0).values.astype(float)
        return cross_validated_ridge_r(source, self.target)


@pytest.fixture
def it_scorer(tmp_path):
    """A synthetic 'IT': a noisy linear readout of TinyNet's standardized pooled layer.

    The images are gray noise of random contrast per channel and quadrant: 12 numbers the
    pooled rectified responses carry, but no linear function of pixels (``conv``) does,
    and ``fc`` keeps only 5 dimensions of them.
    """
    rng = np.random.default_rng(1)
    folder = tmp_path / "selection"
    folder.mkdir()
    paths = {}
    for n in range(40):
        contrast = np.kron(rng.uniform(5, 60, (2, 2, 3)), np.ones((16, 16, 1)))
        pixels = np.clip(128 + contrast * rng.normal(size=(32, 32, 3)), 0, 255)
        paths[f"s{n}"] = folder / f"s{n}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(paths[f"s{n}"])
    stimuli = StimulusSet({"stimulus_id": list(paths)}, stimulus_paths=paths, identifier="sel")
    pooled = commitment().activations_model(stimuli, ["pool"]).values.astype(float)
    pooled = (pooled - pooled.mean(0)) / pooled.std(0)
    target = pooled @ rng.normal(size=(16, 6)) + 0.1 * rng.normal(size=(40, 6))
    return RidgeScorer(stimuli, target)


def test_layer_selection_picks_the_layer_that_predicts_the_target_best(it_scorer, tmp_path):
    model = commitment()
    path = tmp_path / "map.json"
    record = select_layers(
        model.activations_model, ["conv", "pool", "fc"], {"IT": it_scorer}, path=path
    )
    scores = record["regions"]["IT"]["scores"]
    assert record["regions"]["IT"]["layer"] == "pool"
    # Measured: conv -0.01, pool 0.84, fc 0.63.
    assert scores["pool"] > 0.7 and scores["conv"] < 0.3 and scores["fc"] < scores["pool"] - 0.1
    assert record["regions"]["IT"]["scorer"] == "synthetic-IT-ridge"
    assert json.loads(path.read_text()) == record
    assert commitment(region_layer_map=path).layer_for("IT") == "pool"


def test_a_region_without_a_layer_is_chosen_by_its_scorer_once_and_remembered(it_scorer):
    model = commitment(region_layer_map={"V1": "relu"}, layer_scorers={"IT": it_scorer})
    model.start_recording("IT", time_bins=[(70, 170)])
    assert model.layer_for("IT") == "pool"
    assert it_scorer.calls == 4  # every candidate layer once
    stored = list((get_settings().layer_maps_dir).glob("tiny-*.json"))
    record = read_checked_json(stored[0], what="layer map")
    assert len(stored) == 1 and "layer selection" in record["method"]
    again = commitment(region_layer_map={"V1": "relu"}, layer_scorers={"IT": it_scorer})
    assert again.layer_for("IT") == "pool"
    assert it_scorer.calls == 4


# --- behavior -------------------------------------------------------------------------------


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


def test_looking_without_a_task_or_recording_is_refused(stimuli):
    with pytest.raises(ModelError, match="start_recording"):
        commitment().look_at(stimuli)


def test_unknown_tasks_are_refused():
    with pytest.raises(ModelError, match="unknown task 'dance'"):
        commitment().start_task("dance")
