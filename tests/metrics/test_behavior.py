"""Behavioral metrics on hand-worked cases and against scikit-learn's Cohen's kappa."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import cohen_kappa_score

from brainmark import load_metric
from brainmark.data import BehavioralAssembly
from brainmark.exceptions import MetricError
from brainmark.metrics import cohen_kappa
from brainmark.metrics.behavior import i2n_signature
from brainmark.testing._metrics import behavioral_assemblies, with_stimulus_ids

IMAGES = ["i1", "i2", "i3", "i4"]
TRUTH = ["a", "b", "a", "b"]


def model_choices(choices, ids=IMAGES):
    return BehavioralAssembly(np.array(choices), dims=("presentation",),
                              coords={"stimulus_id": ("presentation", list(ids))})


def subject_trials(rows):
    """rows: (subject, stimulus_id, truth, choice[, condition])."""
    frame = pd.DataFrame(rows).iloc[:, :5]
    coords = {"subject": ("presentation", frame[0].tolist()),
              "stimulus_id": ("presentation", frame[1].tolist()),
              "truth": ("presentation", frame[2].tolist())}
    if frame.shape[1] == 5:
        coords["condition"] = ("presentation", frame[4].tolist())
    return BehavioralAssembly(frame[3].to_numpy(dtype=str), dims=("presentation",), coords=coords)


def test_accuracy_is_the_fraction_of_correct_images():
    data = subject_trials([("s1", i, t, t) for i, t in zip(IMAGES, TRUTH, strict=True)])
    score = load_metric("accuracy")(model_choices(["a", "a", "a", "b"]), data)
    assert float(score) == 0.75
    np.testing.assert_array_equal(score.attrs["raw"].values, [1, 0, 1, 1])
    assert score.attrs["error"] == pytest.approx(np.std([1, 0, 1, 1], ddof=1) / 2)


def test_cohen_kappa_equals_scikit_learn_on_correctness_vectors():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 2, 30), rng.integers(0, 2, 30)
        assert cohen_kappa(a.astype(float), b.astype(float)) == pytest.approx(
            cohen_kappa_score(a, b), abs=1e-12)


def test_error_consistency_on_a_hand_worked_case():
    # model correct on i1, i2. s1 correct on i1 only: c_obs 3/4, c_exp 1/2 -> kappa 1/2.
    # s2 correct on i2, i3: c_obs 1/2, c_exp 1/2 -> kappa 0. Mean 1/4.
    wrong = {"a": "b", "b": "a"}
    s1 = [True, False, False, False]
    s2 = [False, True, True, False]
    rows = [(s, i, t, t if ok else wrong[t])
            for s, pattern in (("s1", s1), ("s2", s2))
            for i, t, ok in zip(IMAGES, TRUTH, pattern, strict=True)]
    model = model_choices(["a", "b", "b", "a"])
    score = load_metric("error_consistency")(model, subject_trials(rows))
    assert float(score) == pytest.approx(0.25)
    np.testing.assert_allclose(score.attrs["raw"].values, [[0.5, 0.0]])


def test_error_consistency_averages_over_conditions_after_subjects():
    model, data = behavioral_assemblies(n_stimuli=40, n_subjects=3, seed=2)
    condition = np.where(np.arange(data.sizes["presentation"]) % 40 < 20, "easy", "hard")
    with_conditions = BehavioralAssembly(
        data.reset_index("presentation").assign_coords(condition=("presentation", condition)))
    score = load_metric("error_consistency")(model, with_conditions)
    table = score.attrs["raw"]
    assert list(table["condition"].values) == ["easy", "hard"]
    assert float(score) == pytest.approx(float(table.mean("subject").mean()))


def test_i2n_signature_on_a_hand_worked_case():
    # Class a: i1 (3 of 4 called a), i2 (1 of 2); class b: i3 (2 of 4 called b), i4 (4 of 4).
    trials = [("i1", "a")] * 3 + [("i1", "b")] + [("i2", "a"), ("i2", "b")] + \
             [("i3", "b")] * 2 + [("i3", "a")] * 2 + [("i4", "b")] * 4
    choices = pd.DataFrame(trials, columns=["stimulus_id", "choice"])
    truth = pd.Series(["a", "a", "b", "b"], index=["i1", "i2", "i3", "i4"])
    z = norm.ppf
    # false alarms: class-b images called a: 2 of 8; class-a images called b: 2 of 6.
    dprime = np.array([z(3 / 4) - z(2 / 8), z(1 / 2) - z(2 / 8),
                       z(2 / 4) - z(2 / 6), min(z(1 - 1e-5) - z(2 / 6), 5.0)])
    expected = np.concatenate([dprime[:2] - dprime[:2].mean(), dprime[2:] - dprime[2:].mean()])
    signature = i2n_signature(choices, truth, np.array(["a", "b"]))
    np.testing.assert_allclose(signature[[0, 1], 1], expected[:2], rtol=1e-12)
    np.testing.assert_allclose(signature[[2, 3], 0], expected[2:], rtol=1e-12)
    assert np.isnan(signature[[0, 1], 0]).all() and np.isnan(signature[[2, 3], 1]).all()


def test_i2n_metric_correlates_model_and_subject_signatures():
    model, data = behavioral_assemblies(n_stimuli=40, n_subjects=6, seed=1)
    score = load_metric("i2n")(model, data)
    model_sig, data_sig = score.attrs["raw"].values
    keep = np.isfinite(model_sig) & np.isfinite(data_sig)
    assert float(score) == pytest.approx(np.corrcoef(model_sig[keep], data_sig[keep])[0, 1])
    identical = data.isel(presentation=slice(0, 40))
    same = BehavioralAssembly(identical.reset_index("presentation").drop_vars(["truth",
                                                                              "subject"]))
    assert float(load_metric("i2n")(same, identical)) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["accuracy", "error_consistency", "i2n"])
def test_behavioral_metrics_refuse_mismatched_images(name):
    model, data = behavioral_assemblies()
    renamed = with_stimulus_ids(model, [f"x{k}" for k in range(model.sizes["presentation"])])
    with pytest.raises(MetricError, match="same stimuli"):
        load_metric(name)(renamed, data)
