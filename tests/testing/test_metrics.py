"""check_metric catches non-conforming metrics; assert_scores_equal compares recursively."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr

from brainmark.metrics import Score
from brainmark.testing import assert_scores_equal, check_metric


class ConstantScore:
    kind = "neural"

    def __call__(self, source, target):
        score = Score(0.5)
        score.attrs["raw"] = xr.DataArray([0.5])
        score.attrs["error"] = 0.0
        return score


class ReturnsFloat(ConstantScore):
    def __call__(self, source, target):
        return 0.5


class Drifting(ConstantScore):
    def __init__(self):
        self.calls = itertools.count()

    def __call__(self, source, target):
        score = super().__call__(source, target)
        return Score(0.5 + 1e-12 * next(self.calls), attrs=score.attrs)


def test_a_metric_that_ignores_stimulus_ids_is_rejected():
    with pytest.raises(AssertionError, match="do not match"):
        check_metric(ConstantScore())


def test_a_metric_returning_a_float_is_rejected():
    with pytest.raises(AssertionError, match="must return a Score"):
        check_metric(ReturnsFloat())


def test_a_nondeterministic_metric_is_rejected():
    with pytest.raises(AssertionError, match="score differs"):
        check_metric(Drifting())


def test_an_unknown_kind_is_rejected():
    metric = ConstantScore()
    metric.kind = "telepathy"
    with pytest.raises(AssertionError, match="telepathy"):
        check_metric(metric)


def test_registered_metrics_pass_by_name():
    check_metric("ridge")


def test_assert_scores_equal_looks_into_raw_values():
    first, second = Score(0.5), Score(0.5)
    first.attrs["raw"] = xr.DataArray([0.1, 0.2], dims="split")
    second.attrs["raw"] = xr.DataArray([0.1, 0.2 + 1e-12], dims="split")
    first.attrs["error"] = second.attrs["error"] = np.nan
    with pytest.raises(AssertionError, match="raw"):
        assert_scores_equal(first, second)
    assert_scores_equal(first, second, rtol=1e-9)
