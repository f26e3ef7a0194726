"""The interval contract: resample indices, percentile intervals, storage, paired comparisons."""

import numpy as np
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
    tied = paired_difference(a, a + rng.normal(scale=0.01, size=1000), 0.5, 0.5)
    assert not tied.excludes_zero
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
