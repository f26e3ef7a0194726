"""Region -> layer maps from JSON files and chosen by layer selection."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from brainmark._files import read_checked_json
from brainmark.data import StimulusSet
from brainmark.models import select_layers
from brainmark.settings import get_settings

from .conftest import commitment


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
