"""Benchmarks: compare a model with experimental data and return a ceiled score.

:class:`BenchmarkBase` is the contract; :class:`AssemblyBenchmark` adds data and stimuli
loaded on first use; :class:`NeuralBenchmark`, :class:`RSABenchmark` and
:class:`BehavioralBenchmark` implement the common kinds; :mod:`~brainmark.benchmarks.tree`
holds the aggregation tree the leaderboard uses.
"""

from brainmark.benchmarks.base import (
    AssemblyBenchmark,
    BenchmarkBase,
    placed_stimuli,
    validate_metric,
    validate_visual_degrees,
)
from brainmark.benchmarks.behavioral import BehavioralBenchmark
from brainmark.benchmarks.neural import NeuralBenchmark
from brainmark.benchmarks.rsa import RSABenchmark
from brainmark.benchmarks.tree import (
    PARENT_ALIASES,
    TREE,
    VALID_PARENTS,
    aggregate_scores,
    aggregate_table,
    parent_node,
)

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
