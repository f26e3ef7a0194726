"""Regression-correlation metrics against scikit-learn / numpy references and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import xarray as xr
from scipy.stats import pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

from brainmark import load_metric
from brainmark.data import NeuroidAssembly, average_repetitions
from brainmark.exceptions import MetricError, ValidationError
from brainmark.metrics import stratified_splits
from brainmark.metrics._solvers import (
    CrossProducts,
    least_squares_solution,
    pls_predictions,
    ridgecv_solution,
)
from brainmark.testing import assert_scores_equal
from brainmark.testing._metrics import neural_assemblies, with_stimulus_ids


def relative_difference(actual: np.ndarray, desired: np.ndarray) -> float:
    """Largest absolute difference relative to the largest absolute reference value."""
    return float(np.abs(actual - desired).max() / np.abs(desired).max())


def random_problem(n: int, p: int, q: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) + 2.0  # non-zero means exercise the centering
    y = x[:, : min(p, 10)] @ rng.standard_normal((min(p, 10), q)) * 0.3
    return x, y + rng.standard_normal((n, q)) + 5.0


@pytest.mark.parametrize(("n", "p"), [(70, 120), (150, 40)])
def test_pls_predictions_equal_converged_scikit_learn_nipals(n, p):
    x, y = random_problem(n, p, 6)
    splits = stratified_splits(np.arange(n), n_splits=2)
    predictions, extracted = pls_predictions(CrossProducts(x, y), splits, 25)
    assert extracted == [25, 25]
    for (train, test), prediction in zip(splits, predictions, strict=True):
        reference = PLSRegression(n_components=25, scale=False, tol=1e-14, max_iter=20000)
        expected = reference.fit(x[train], y[train]).predict(x[test])
        assert relative_difference(prediction, expected) < 1e-5


def brain_score_procedure(model, data, fit_predict, *, stratify: bool = True) -> float:
    """The whole procedure written with pandas, scikit-learn and scipy: repetitions averaged
    per stimulus (rows in order of first presentation), Brain-Score's splitter over the
    averaged rows, per split a fit and a Pearson r per neuroid, median over neuroids, mean
    over splits."""
    frame = pd.DataFrame(data.values)
    frame["stimulus_id"] = data["stimulus_id"].values
    averaged = frame.groupby("stimulus_id", sort=False).mean()
    objects = pd.Series(data["object_name"].values, index=data["stimulus_id"].values)
    model_rows = pd.Index(model["stimulus_id"].values).get_indexer(averaged.index)
    x, y = model.values[model_rows], averaged.to_numpy()
    if stratify:
        splitter = StratifiedShuffleSplit(n_splits=10, train_size=0.9, test_size=None,
                                          random_state=1)
        splits = splitter.split(np.zeros(len(y)), objects.groupby(level=0, sort=False).first())
    else:
        splitter = ShuffleSplit(n_splits=10, train_size=0.9, test_size=None, random_state=1)
        splits = splitter.split(np.zeros(len(y)))
    medians = []
    for train, test in splits:
        prediction = fit_predict(x[train], y[train], x[test])
        medians.append(np.median([pearsonr(prediction[:, k], y[test, k])[0]
                                  for k in range(y.shape[1])]))
    return float(np.mean(medians))


# (name, the fit written with scikit-learn, tolerance on the score): NIPALS at tol 1e-14
# is converged to about 1e-9 in the score; ridge and least squares agree to rounding.
CONVERGED_PLS = (
    "pls", lambda a, b, c: PLSRegression(25, scale=False, tol=1e-14, max_iter=100_000)
    .fit(a, b).predict(c), 1e-8,
)
RIDGE = ("ridge", lambda a, b, c: Ridge(alpha=1.0).fit(a, b).predict(c), 1e-12)
LINEAR = ("linear", lambda a, b, c: LinearRegression().fit(a, b).predict(c), 1e-12)


@pytest.mark.parametrize(("name", "fit_predict", "tolerance"), [CONVERGED_PLS, RIDGE, LINEAR])
def test_score_equals_the_procedure_written_with_scikit_learn(name, fit_predict, tolerance):
    model, data = neural_assemblies(n_stimuli=80, n_features=40, n_neuroids=5, n_repetitions=2)
    shuffled = model.isel(presentation=np.random.default_rng(1).permutation(80))
    score = load_metric(name)(shuffled, data)
    expected = brain_score_procedure(model, data, fit_predict)
    assert float(score) == pytest.approx(expected, abs=tolerance)
    assert score.attrs["raw"].dims == ("split", "neuroid")
    medians = np.median(score.attrs["raw"].values, axis=1)
    assert score.attrs["error"] == pytest.approx(scipy.stats.sem(medians))


@pytest.mark.parametrize(("name", "fit_predict", "tolerance"), [CONVERGED_PLS, RIDGE])
def test_without_object_names_the_splits_are_brain_scores_shuffle_splits(
    name, fit_predict, tolerance
):
    model, data = neural_assemblies(n_stimuli=70, n_features=40, n_neuroids=4)
    score = load_metric(name, stratify_by=None)(model, data)
    expected = brain_score_procedure(model, data, fit_predict, stratify=False)
    assert float(score) == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize(("n", "p"), [(60, 90), (90, 20)])
def test_ridgecv_picks_scikit_learns_alpha_and_predictions(n, p):
    x, y = random_problem(n, p, 4, seed=3)
    alphas = np.logspace(-3, 4, 15)
    (train, test), = stratified_splits(np.arange(n), n_splits=1)
    products = CrossProducts(x, y)
    split = products.split(train, test)
    for per_target in (False, True):
        solution, chosen = ridgecv_solution(split, alphas, alpha_per_target=per_target)
        reference = RidgeCV(alphas=alphas, gcv_mode="svd", alpha_per_target=per_target)
        reference.fit(x[train], y[train])
        np.testing.assert_array_equal(chosen, np.broadcast_to(reference.alpha_, chosen.shape))
        np.testing.assert_allclose(split.predict(solution), reference.predict(x[test]),
                                   rtol=1e-7)


def test_least_squares_is_minimum_norm_with_more_features_than_stimuli():
    x, y = random_problem(30, 50, 3, seed=4)
    train, test = np.arange(25), np.arange(25, 30)
    split = CrossProducts(x, y).split(train, test)
    x_mean, y_mean = x[train].mean(0), y[train].mean(0)
    weights = np.linalg.lstsq(x[train] - x_mean, y[train] - y_mean, rcond=None)[0]
    expected = (x[test] - x_mean) @ weights + y_mean
    np.testing.assert_allclose(split.predict(least_squares_solution(split)), expected,
                               rtol=1e-8)


def test_identical_representations_score_one():
    _, data = neural_assemblies(n_stimuli=60, n_neuroids=6)
    score = load_metric("linear")(data, data)
    assert float(score) == pytest.approx(1.0, abs=1e-10)


def test_shuffled_targets_score_near_zero():
    model, data = neural_assemblies(n_stimuli=300, n_features=20, n_neuroids=30, noise=0.0)
    rng = np.random.default_rng(5)
    shuffled = data.copy(data=data.values[rng.permutation(300)])
    assert abs(float(load_metric("ridge")(model, shuffled))) < 0.1
    assert float(load_metric("ridge")(model, data)) > 0.99


def test_repetitions_are_averaged_before_fitting():
    model, data = neural_assemblies(n_repetitions=3)
    assert_scores_equal(load_metric("pls", n_components=5)(model, data),
                        load_metric("pls", n_components=5)(model, average_repetitions(data)))


def test_rows_are_matched_by_stimulus_id_not_position():
    model, data = neural_assemblies()
    reversed_model = model.isel(presentation=slice(None, None, -1))
    np.testing.assert_allclose(float(load_metric("ridge")(reversed_model, data)),
                               float(load_metric("ridge")(model, data)), rtol=1e-12)


def test_splits_are_stratified_by_object_name():
    model, data = neural_assemblies(n_stimuli=40, objects=4)
    plain = data.reset_index("presentation").drop_vars("object_name")
    assert float(load_metric("ridge")(model, data)) != float(
        load_metric("ridge")(model, NeuroidAssembly(plain)))


def test_each_time_bin_is_scored_and_averaged():
    model, data = neural_assemblies()
    early = data.expand_dims(time_bin=[0])
    late = data.copy(data=data.values[:, ::-1].copy()).expand_dims(time_bin=[1])
    both = xr.concat([early, late], dim="time_bin").transpose("presentation", "neuroid",
                                                              "time_bin")
    metric = load_metric("ridge")
    score = metric(model, both)
    per_bin = [float(metric(model, early)), float(metric(model, late))]
    assert float(score) == pytest.approx(np.mean(per_bin))
    assert score.attrs["raw"].dims == ("time_bin", "split", "neuroid")


def test_stimuli_the_model_was_not_shown_are_named_as_missing_from_the_model():
    model, data = neural_assemblies()
    with pytest.raises(MetricError) as error:
        load_metric("ridge")(model.isel(presentation=slice(0, 57)), data)
    message = str(error.value)
    assert "The model's responses lack 3 stimuli the data has: stimulus_id ['stim0057', " \
           "'stim0058', 'stim0059']" in message
    assert "show it the data's whole stimulus set" in message
    assert "The data lacks" not in message


def test_stimuli_the_data_lacks_are_named_as_missing_from_the_data():
    model, data = neural_assemblies()
    with pytest.raises(MetricError) as error:
        load_metric("ridge")(model, data.isel(presentation=slice(2, None)))
    message = str(error.value)
    assert "The data lacks 2 stimuli the model's responses have: stimulus_id ['stim0000', " \
           "'stim0001']" in message
    assert "select the model's responses to the data's stimuli" in message
    assert "The model's responses lack" not in message


def test_both_sides_missing_stimuli_are_each_named():
    model, data = neural_assemblies()
    ids = model["stimulus_id"].values.astype(str).copy()
    ids[:3] = ["x1", "x2", "x3"]
    with pytest.raises(MetricError, match=r"lack 3 stimuli the data has: stimulus_id "
                                          r"\['stim0000'.*The data lacks 3 stimuli.*'x1'"):
        load_metric("pls", n_components=5)(with_stimulus_ids(model, ids), data)


def test_a_neuroid_without_variance_is_reported_by_id():
    model, data = neural_assemblies()
    values = data.values.copy()
    values[:, 2] = 1.5
    with pytest.raises(MetricError, match=r"zero variance.*'n2'"):
        load_metric("ridge")(model, data.copy(data=values))


def test_too_few_stimuli_for_the_splits_are_refused():
    model, data = neural_assemblies(n_stimuli=20)
    with pytest.raises(MetricError, match="20 stimuli are too few"):
        load_metric("ridge")(model, data)


def test_pls_needs_as_many_features_as_components():
    model, data = neural_assemblies(n_features=10)
    with pytest.raises(MetricError, match="n_components=10"):
        load_metric("pls")(model, data)


def padded(data, trials: list[int], single: list[tuple[int, int]] = ()):
    """The data with whole trials and single (trial, neuroid) values set to NaN."""
    values = data.values.copy()
    values[trials] = np.nan
    for trial, neuroid in single:
        values[trial, neuroid] = np.nan
    return data.copy(data=values)


@pytest.mark.parametrize("name", ["pls", "ridge"])
def test_nan_padded_trials_are_left_out_of_the_repetition_average(name):
    model, data = neural_assemblies(n_stimuli=60, n_repetitions=3)
    with_padding = padded(data, trials=[3, 70, 125], single=[(10, 2), (75, 6)])
    frame = pd.DataFrame(with_padding.values)
    frame["stimulus_id"] = data["stimulus_id"].values
    means = frame.groupby("stimulus_id", sort=False).mean()  # pandas skips NaN
    averaged = NeuroidAssembly(
        means.to_numpy(), dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", means.index.to_numpy()),
                "object_name": ("presentation", data["object_name"].values[:60]),
                "neuroid_id": ("neuroid", data["neuroid_id"].values)},
    )
    metric = load_metric(name, n_components=5) if name == "pls" else load_metric(name)
    assert float(metric(model, with_padding)) == pytest.approx(float(metric(model, averaged)),
                                                               abs=1e-12)


def test_a_stimulus_without_any_recorded_trial_for_a_neuroid_is_refused_by_name():
    model, data = neural_assemblies(n_stimuli=60, n_repetitions=3)
    # stim0004 is trials 4, 64 and 124; neuroid n1 is missing from all three.
    with_gap = padded(data, trials=[70], single=[(4, 1), (64, 1), (124, 1)])
    with pytest.raises(MetricError, match=r"no valid repetition \(every trial is NaN\) for 1 "
                                          r"\(stimulus, neuroid\) pairs: stimulus_id "
                                          r"\['stim0004'\]; neuroid_id \['n1'\]"):
        load_metric("ridge")(model, with_gap)


def test_nan_from_the_model_is_refused_naming_stimulus_and_unit():
    model, data = neural_assemblies()
    values = model.values.copy()
    values[4, 1] = np.nan
    with pytest.raises(MetricError) as error:
        load_metric("ridge")(model.copy(data=values), data)
    assert "model (source) assembly has NaN responses" in str(error.value)
    assert "stimulus_id ['stim0004']; neuroid_id ['unit1']" in str(error.value)
    assert "allow_nan" not in str(error.value)


def test_infinite_responses_are_refused():
    model, data = neural_assemblies()
    values = data.values.copy()
    values[4, 1] = np.inf
    with pytest.raises(ValidationError, match="stim0004"):
        load_metric("ridge")(model, data.copy(data=values))


def test_pls_splits_advance_together_as_each_would_alone():
    # Stimuli 0 and 1 share their features: a split training on both has one dimension
    # less, so the splits run out of components at different points.
    x, y = random_problem(30, 40, 3, seed=2)
    x[1] = x[0]
    splits = stratified_splits(np.arange(30), n_splits=6, train_size=0.8)
    products = CrossProducts(x, y)
    together, extracted = pls_predictions(products, splits, 26)
    alone = [pls_predictions(products, [split], 26) for split in splits]
    assert sorted(set(extracted)) == [22, 23]  # 24 training stimuli: rank 23, or 22 with both
    assert extracted == [count for _, (count,) in alone]
    for prediction, ((single,), _) in zip(together, alone, strict=True):
        np.testing.assert_allclose(prediction, single, rtol=1e-10)


def test_ridgecv_records_the_alpha_of_every_split():
    model, data = neural_assemblies()
    score = load_metric("ridgecv", alphas=[0.1, 1.0, 10.0])(model, data)
    assert score.attrs["alpha"].shape == (10, 8)
    assert set(np.unique(score.attrs["alpha"])) <= {0.1, 1.0, 10.0}
