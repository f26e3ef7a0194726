"""Turn what a caller passed as a metric (a callable or a registered name) into a metric."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from brainmark.exceptions import MetricError
from brainmark.registry import metric_registry


def resolve_metric(metric: str | Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
    """The metric (or ceiling) itself, given either the metric or its registered name.

    A string is looked up in ``metric_registry`` and its factory called with ``kwargs``
    (``resolve_metric('pls', n_components=10)`` is ``brainmark.load_metric('pls',
    n_components=10)``); a callable is returned as it is, so code that expects a metric can
    accept both forms.

    Raises
    ------
    UnknownPluginError
        When no plugin registers the name (the message lists the closest names).
    MetricError
        When ``metric`` is neither, or keyword arguments come with an already built metric.
    """
    if isinstance(metric, str):
        return metric_registry.load(metric, **kwargs)
    if not callable(metric):
        raise MetricError(
            f"Expected a metric (a callable such as load_metric('pls')) or a registered "
            f"metric name such as 'pls'; got a {type(metric).__name__}: {metric!r}. "
            f"`brainmark list metrics` shows the registered names."
        )
    if kwargs:
        raise MetricError(
            f"Keyword arguments {sorted(kwargs)} configure a metric loaded by name; "
            f"{metric!r} is already built. Pass its name instead, or configure it yourself."
        )
    return metric
