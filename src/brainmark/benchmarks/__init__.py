"""Benchmarks: compare a model with experimental data and return a ceiled score.

:class:`BenchmarkBase` is the contract; :class:`AssemblyBenchmark` adds data and stimuli
loaded on first use; :class:`NeuralBenchmark`, :class:`RSABenchmark` and
:class:`BehavioralBenchmark` implement the common kinds; :mod:`~brainmark.benchmarks.tree`
holds the aggregation tree the leaderboard uses.

Only the tree is imported with the package: the benchmark classes (and with them xarray
and the metrics) load when first asked for, so the site can read the tree cheaply.
"""

from __future__ import annotations

from brainmark._lazy import lazy_exports
from brainmark.benchmarks.tree import (
    PARENT_ALIASES,
    TREE,
    VALID_PARENTS,
    aggregate_scores,
    aggregate_table,
    parent_node,
)

# Name -> the module defining it, imported on first use.
_BENCHMARK_CLASSES = {
    "AssemblyBenchmark": "brainmark.benchmarks.base",
    "BenchmarkBase": "brainmark.benchmarks.base",
    "placed_stimuli": "brainmark.benchmarks.base",
    "validate_metric": "brainmark.benchmarks.base",
    "validate_visual_degrees": "brainmark.benchmarks.base",
    "BehavioralBenchmark": "brainmark.benchmarks.behavioral",
    "NeuralBenchmark": "brainmark.benchmarks.neural",
    "RSABenchmark": "brainmark.benchmarks.rsa",
}

__all__ = [
    "PARENT_ALIASES",
    "TREE",
    "VALID_PARENTS",
    "AssemblyBenchmark",
    "BehavioralBenchmark",
    "BenchmarkBase",
    "NeuralBenchmark",
    "RSABenchmark",
    "aggregate_scores",
    "aggregate_table",
    "parent_node",
    "placed_stimuli",
    "validate_metric",
    "validate_visual_degrees",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _BENCHMARK_CLASSES)
