"""Conformance checks every benchmark plugin must pass (its test.py and ``brainmark test``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainmark.benchmarks.tree import parent_node
from brainmark.data.packaging import validate_identifier


def check_benchmark(benchmark: Any, *, compute_ceiling: bool = True) -> None:
    """Assert that ``benchmark`` (an instance or a registered identifier) is well formed.

    Checks: it loads, its identifier has the form ``AuthorYear.region-metric`` /
    ``AuthorYear-metric``, its version is an int >= 1, it has a bibtex entry, its parent is
    a node of the benchmark tree, and (unless ``compute_ceiling=False``) its ceiling is a
    finite number in (0, 1]. Raises ``AssertionError`` naming the first problem.
    """
    if isinstance(benchmark, str):
        from brainmark.registry import benchmark_registry

        benchmark = benchmark_registry.load(benchmark)
    name = getattr(benchmark, "identifier", None)
    assert callable(benchmark), f"Benchmark {name!r} is not callable with a model."
    try:
        validate_identifier(name, "benchmark")  # type: ignore[arg-type]
    except ValueError as error:
        raise AssertionError(str(error)) from None
    version = getattr(benchmark, "version", None)
    assert isinstance(version, int) and not isinstance(version, bool) and version >= 1, (
        f"Benchmark {name!r} has version {version!r}; it must be an int >= 1."
    )
    bibtex = getattr(benchmark, "bibtex", None)
    assert isinstance(bibtex, str) and bibtex.strip().startswith("@"), (
        f"Benchmark {name!r} has no bibtex entry (got {bibtex!r}); cite the data's paper."
    )
    parent = getattr(benchmark, "parent", None)
    try:
        parent_node(parent)  # type: ignore[arg-type]
    except (ValueError, TypeError) as error:
        raise AssertionError(f"Benchmark {name!r}: {error}") from None
    if compute_ceiling:
        ceiling = float(benchmark.ceiling)
        assert np.isfinite(ceiling) and 0 < ceiling <= 1, (
            f"Benchmark {name!r} has ceiling {ceiling}; a ceiling must be in (0, 1]."
        )
