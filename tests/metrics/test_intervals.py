"""The interval contract: resample indices, percentile intervals, storage, paired comparisons."""

import numpy as np
import pandas as pd
import pytest

from brainmark.benchmarks.tree import aggregate_scores
from brainmark.exceptions import MetricError
from brainmark.metrics.intervals import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    corrected_two_factor,
    decode_resamples,
    encode_resamples,
    node_resamples,
    paired_difference,
    percentile_interval,
    resample_counts,
    sorted_positions,
    stimulus_resamples,
    subject_resamples,
)


def test_resamples_are_a_pure_function_of_seed_count_and_number():
    first = stimulus_resamples(50, 200, seed=3)
    assert first.shape == (200, 50)
    np.testing.assert_array_equal(first, stimulus_resamples(50, 200, seed=3))
    np.testing.assert_array_equal(first[:100], stimulus_resamples(50, 100, seed=3))
    assert not np.array_equal(first, stimulus_resamples(50, 200, seed=4))
    assert not np.array_equal(first, subject_resamples(50, 200, seed=3))
    assert first.min() >= 0 and first.max() < 50
    assert DEFAULT_RESAMPLES == 1000 and DEFAULT_LEVEL == 0.95


def test_counts_and_sorted_positions():
    indices = np.array([[0, 0, 2], [1, 2, 2]])
    np.testing.assert_array_equal(resample_counts(indices, 3), [[2, 0, 1], [0, 1, 2]])
    np.testing.assert_array_equal(sorted_positions(["c", "a", "b"]), [2, 0, 1])


def test_percentile_interval_matches_numpy_and_ignores_nan():
    values = np.arange(1001, dtype=float)
    assert percentile_interval(values) == pytest.approx((25.0, 975.0))
    assert percentile_interval(np.append(values, np.nan), 0.5) == pytest.approx((250, 750))
    assert all(np.isnan(percentile_interval(np.full(3, np.nan))))
    with pytest.raises(MetricError, match="level"):
        percentile_interval(values, 95)


def test_encoding_round_trips_at_float32_precision_with_nan():
    values = np.array([0.1, -2.5, np.nan, 1e-3])
    text = encode_resamples(values)
    assert isinstance(text, str)
    decoded = decode_resamples(text)
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded, values.astype(np.float32).astype(np.float64))
    with pytest.raises(MetricError, match="base64"):
        decode_resamples("not base64!")


def test_paired_difference():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=1000)
    a = 0.5 + shared + rng.normal(scale=0.01, size=1000)
    b = 0.4 + shared + rng.normal(scale=0.01, size=1000)
    result = paired_difference(a, b, 0.5, 0.4)
    assert result.difference == pytest.approx(0.1)
    # paired: the shared spread cancels, so the interval is narrow and excludes 0
    assert result.excludes_zero and 0.05 < result.interval[0] < result.interval[1] < 0.15
    assert result.to_dict()["excludes_zero"] is True
    assert result.verdict == "a"
    assert paired_difference(b, a, 0.4, 0.5).verdict == "b"
    tied = paired_difference(a, a + rng.normal(scale=0.01, size=1000), 0.5, 0.5)
    assert not tied.excludes_zero and tied.verdict == "tied"
    with pytest.raises(MetricError, match="same resamples"):
        paired_difference(a, b[:10], 0.5, 0.4)


def test_node_resamples_follow_the_tree_rules():
    """Per resample, the node is what aggregate_scores gives for those leaf values."""
    rng = np.random.default_rng(1)
    leaves = {"a": rng.uniform(-0.2, 1.2, 20), "b": rng.uniform(0, 1, 20), "c": None}
    values = node_resamples(list(leaves.values()))
    parents = dict.fromkeys(leaves, "IT")
    for k in range(20):
        expected = aggregate_scores(
            {name: None if v is None else v[k] for name, v in leaves.items()}, parents)
        assert values[k] == pytest.approx(expected["IT"])
    assert np.isnan(node_resamples([None, np.full(5, np.nan)])).all()


def test_corrected_two_factor_lies_between_the_one_factor_and_the_naive_spread():
    rng = np.random.default_rng(2)
    stim, subj = rng.normal(scale=0.02, size=1000), rng.normal(scale=0.03, size=1000)
    both = stim + subj + rng.normal(scale=0.03, size=1000)
    values = corrected_two_factor(0.3, both, stim, subj, n_stimuli=40, n_subjects=8)
    assert np.mean(values) == pytest.approx(0.3)
    assert np.std(subj) <= np.std(values) <= np.std(both)
    np.testing.assert_array_equal(np.argsort(values), np.argsort(both))


def explicitly_resampled(assembly, drawn: list[str]):
    """The trials of the drawn images, an image drawn k times present k times (new ids)."""
    import xarray as xr

    from brainmark.data.assemblies import coords_frame

    frame = coords_frame(assembly, "presentation").reset_index(drop=True)
    frame["value"] = np.asarray(assembly.values)
    ids = frame["stimulus_id"].astype(str).to_numpy()
    pieces = []
    for copy, stimulus in enumerate(drawn):
        piece = frame[ids == stimulus].copy()
        piece["stimulus_id"] = f"{stimulus}#{copy:03d}"
        pieces.append(piece)
    rows = pd.concat(pieces)
    return xr.DataArray(rows["value"].to_numpy(), dims=("presentation",), coords={
        name: ("presentation", rows[name].to_numpy()) for name in rows if name != "value"})


@pytest.mark.parametrize("name", ["accuracy", "error_consistency", "i2n",
                                  "error_consistency_ceiling"])
def test_behavioral_resamples_equal_the_metric_on_explicitly_resampled_images(name):
    """Resample b's value is the metric's point value on the data with the drawn images
    (each as often as drawn) and no others: the weighted shortcut changes nothing."""
    from brainmark import load_metric
    from brainmark.testing._metrics import behavioral_assemblies

    model, data = behavioral_assemblies(n_stimuli=24, n_subjects=3, n_labels=3, seed=4,
                                        accuracy=0.6)
    metric = load_metric(name)
    metric.resamples = 4
    arguments = (data,) if name.endswith("ceiling") else (model, data)
    values = metric(*arguments).attrs["resample_values"]
    images = np.unique(np.asarray(data["stimulus_id"].values).astype(str))  # sorted
    metric.resamples = 0
    for b, indices in enumerate(stimulus_resamples(len(images), 4, metric.resample_seed)):
        drawn = list(images[indices])
        resampled = [explicitly_resampled(side, drawn) for side in arguments]
        assert values[b] == pytest.approx(float(metric(*resampled)), abs=1e-12)


def test_regression_resamples_recorrelate_held_out_predictions_without_refitting():
    """Resample b: per split, scikit-learn's ridge (fitted once on the split's training
    stimuli) predicts the test stimuli; each test stimulus counted as often as it was drawn,
    the per-neuroid Pearson r, the median over neuroids, the mean over splits."""
    from sklearn.linear_model import Ridge

    from brainmark.metrics import RidgeRegressionCorrelation, stratified_splits
    from brainmark.testing._metrics import neural_assemblies

    model, data = neural_assemblies(60, 12, 5, seed=2)
    metric = RidgeRegressionCorrelation(stratify_by=None)
    metric.resamples = 5
    values = metric(model, data).attrs["resample_values"]
    ids = np.asarray(data["stimulus_id"].values).astype(str)
    order = pd.Index(np.asarray(model["stimulus_id"].values).astype(str)).get_indexer(ids)
    x, y = np.asarray(model.values)[order], np.asarray(data.values)
    splits = stratified_splits(ids, stratify=None)
    draws = stimulus_resamples(len(ids), 5, metric.resample_seed)
    rank = sorted_positions(ids)
    for b in range(5):
        counts = np.bincount(draws[b], minlength=len(ids))[rank]  # in the data's row order
        medians = []
        for train, test in splits:
            prediction = Ridge(alpha=1.0).fit(x[train], y[train]).predict(x[test])
            repeat = counts[test]
            p, r = np.repeat(prediction, repeat, axis=0), np.repeat(y[test], repeat, axis=0)
            medians.append(np.median([np.corrcoef(p[:, k], r[:, k])[0, 1]
                                      for k in range(y.shape[1])]))
        assert values[b] == pytest.approx(np.mean(medians), abs=1e-9)


def test_internal_consistency_resamples_recorrelate_the_half_means_over_drawn_stimuli():
    """By hand: the same halves (half_splits, seed 1), each stimulus' half means repeated as
    often as it was drawn, Pearson r per neuroid, Spearman-Brown, median, mean over splits."""
    from brainmark.metrics import InternalConsistency
    from brainmark.metrics.ceiling import half_splits
    from brainmark.testing._metrics import neural_assemblies

    _, data = neural_assemblies(30, 10, 6, n_repetitions=4, seed=1)
    ceiling = InternalConsistency(n_splits=3)
    ceiling.resamples = 4
    values = ceiling(data).attrs["resample_values"]
    ids = np.asarray(data["stimulus_id"].values).astype(str)
    codes, uniques = pd.factorize(ids, sort=True)
    trials = np.asarray(data.transpose("presentation", "neuroid").values)
    sides = half_splits(codes, n_splits=3, seed=1)
    draws = stimulus_resamples(len(uniques), 4, ceiling.resample_seed)
    for b in range(4):
        counts = np.bincount(draws[b], minlength=len(uniques))
        medians = []
        for side in sides:
            halves = [np.stack([trials[(codes == k) & (side == h)].mean(axis=0)
                                for k in range(len(uniques))]) for h in (0, 1)]
            first, second = (np.repeat(half, counts, axis=0) for half in halves)
            r = np.array([np.corrcoef(first[:, n], second[:, n])[0, 1] for n in range(6)])
            medians.append(np.median(2 * r / (1 + r)))
        assert values[b] == pytest.approx(np.mean(medians), abs=1e-9)
