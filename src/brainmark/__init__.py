"""brainmark: measure how brain-like computer vision models are.

The public API: loaders for every kind of plugin and the registries behind them. Importing
brainmark reads nothing, writes nothing and imports no web framework.
"""

from __future__ import annotations

from typing import Any

from brainmark._version import __version__
from brainmark.registry import (
    benchmark_registry,
    data_registry,
    metric_registry,
    model_registry,
    stimulus_set_registry,
)


def load_dataset(identifier: str, **kwargs: Any) -> Any:
    """The data assembly registered as ``identifier`` (e.g. ``'Kriegeskorte2008.mIT'``)."""
    return data_registry.load(identifier, **kwargs)


def load_stimulus_set(identifier: str, **kwargs: Any) -> Any:
    """The :class:`~brainmark.data.StimulusSet` registered as ``identifier``."""
    return stimulus_set_registry.load(identifier, **kwargs)


def load_metric(identifier: str, **kwargs: Any) -> Any:
    """A metric instance; keyword arguments configure it (e.g. ``load_metric('pls')``)."""
    return metric_registry.load(identifier, **kwargs)


def load_benchmark(identifier: str, **kwargs: Any) -> Any:
    """A benchmark instance; cheap: data loads on first use."""
    return benchmark_registry.load(identifier, **kwargs)


def load_model(identifier: str, **kwargs: Any) -> Any:
    """A :class:`~brainmark.model_interface.BrainModel` registered as ``identifier``."""
    return model_registry.load(identifier, **kwargs)


def score(model_identifier: str, benchmark_identifier: str, *, use_cache: bool = True) -> Any:
    """Score a registered model on a registered benchmark, as ``brainmark score`` does.

    Returns a :class:`~brainmark.scoring.ScoreRecord`: ``score`` (ceiled), ``raw``,
    ``ceiling``, ``error``, the layers used, the versions, plugin content hashes, data
    SHA1s and seeds the run used, and ``cached``. A worker calls this; the number is the
    one the CLI prints.
    """
    from brainmark.scoring import score_model

    return score_model(model_identifier, benchmark_identifier, use_cache=use_cache)


def compare_models(
    model_a: str, model_b: str, benchmarks: list[str] | None = None, *, use_cache: bool = True
) -> dict[str, Any]:
    """Paired bootstrap comparison of two registered models, as ``brainmark compare`` does.

    Per benchmark (default: every registered one) and per node of the benchmark tree:
    ``A - B``, its 95 % interval and whether that excludes 0 (the models are tied where it
    does not). See :func:`brainmark.comparison.compare_models`.
    """
    from brainmark.comparison import compare_models as compare

    return compare(model_a, model_b, benchmarks, use_cache=use_cache)


__all__ = [
    "__version__",
    "benchmark_registry",
    "compare_models",
    "data_registry",
    "load_benchmark",
    "load_dataset",
    "load_metric",
    "load_model",
    "load_stimulus_set",
    "metric_registry",
    "model_registry",
    "score",
    "stimulus_set_registry",
]
