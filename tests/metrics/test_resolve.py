"""resolve_metric: a registered name or a metric in, the metric out."""

from __future__ import annotations

import pytest

from brainmark.exceptions import MetricError, UnknownPluginError
from brainmark.metrics import PLSRegressionCorrelation, resolve_metric


def test_a_name_is_loaded_from_the_registry_with_its_settings():
    metric = resolve_metric("pls", n_components=7)
    assert isinstance(metric, PLSRegressionCorrelation) and metric.n_components == 7


def test_a_metric_is_passed_through():
    metric = PLSRegressionCorrelation()
    assert resolve_metric(metric) is metric


def test_an_unknown_name_is_refused_by_the_registry():
    with pytest.raises(UnknownPluginError, match="plss"):
        resolve_metric("plss")


def test_something_else_is_refused_saying_what_is_expected():
    with pytest.raises(MetricError, match=r"registered metric name such as 'pls'; got a int"):
        resolve_metric(3)


def test_settings_for_a_built_metric_are_refused():
    with pytest.raises(MetricError, match=r"\['n_components'\] configure a metric loaded by "
                                          r"name"):
        resolve_metric(PLSRegressionCorrelation(), n_components=3)
