"""Paired comparison of two models: where is one reliably better than the other?

:func:`compare_models` scores both models on each benchmark (cached score records are
reused, nothing is refitted for a cached pair) and compares them by a paired bootstrap: the
resample indices are a function of the seed and the number of stimuli
(:mod:`brainmark.metrics.intervals`), so resample ``b`` of both models used the same
stimuli (and subjects), and the interval of the per-resample differences says how much the
difference could move on new stimuli. Tree nodes are compared the same way, each node's
per-resample values averaging its children's as the tree averages scores. A difference
whose interval excludes 0 is real at that level; otherwise the two models are tied there
(``docs/scores.md``, "Comparing two models").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from brainmark.metrics.intervals import (
    DEFAULT_LEVEL,
    decode_resamples,
    node_resamples,
    paired_difference,
)


def compare_models(
    model_a: str,
    model_b: str,
    benchmarks: Sequence[str] | None = None,
    *,
    use_cache: bool = True,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Any]:
    """Compare two registered models on benchmarks (default: every registered one).

    Returns ``{"model_a", "model_b", "level", "benchmarks": [row], "nodes": [row]}``; a row
    is ``{"name", "a", "b", "difference", "interval", "excludes_zero", "verdict"}`` with
    verdict ``"a better"``, ``"b better"`` or ``"tied"``, or ``{"name", "message"}`` when
    no paired interval exists there (a failed score, a record without resamples, or
    records resampled differently). ``difference`` is ``a - b`` of the ceiled scores (of
    the node scores for nodes, leaves clamped to [0, 1] as the tree does).
    """
    from brainmark.benchmarks.tree import TREE, aggregate_scores, tree_children
    from brainmark.registry import benchmark_registry
    from brainmark.scoring import score_model

    names = list(benchmarks) if benchmarks else list(benchmark_registry)
    records: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for benchmark in names:
        try:
            records[benchmark] = {
                side: score_model(model, benchmark, use_cache=use_cache)
                for side, model in (("a", model_a), ("b", model_b))
            }
        except Exception as error:  # One failing benchmark must not stop the comparison.
            failures[benchmark] = f"{type(error).__name__}: {error}"

    rows, values = [], {"a": {}, "b": {}}
    for benchmark in names:
        if benchmark in failures:
            rows.append({"name": benchmark, "message": failures[benchmark]})
            continue
        pair = records[benchmark]
        problem = _unpaired(pair["a"], pair["b"])
        for side in ("a", "b"):
            stored = pair[side].resample_values or {}
            values[side][benchmark] = (
                None if problem or stored.get("ceiled") is None
                else decode_resamples(stored["ceiled"])
            )
        if problem:
            rows.append({"name": benchmark, "message": problem})
            continue
        rows.append(_row(benchmark, pair["a"].score, pair["b"].score,
                         values["a"][benchmark], values["b"][benchmark], level))

    parents = {benchmark: pair["a"].parent for benchmark, pair in records.items()}
    nodes = []
    if parents:
        points = {side: aggregate_scores(
            {benchmark: pair[side].score for benchmark, pair in records.items()},
            parents) for side in ("a", "b")}
        node_values: dict[str, dict[str, np.ndarray | None]] = {"a": {}, "b": {}}
        for node, children in tree_children(parents).items():
            for side in ("a", "b"):
                child_values = [node_values[side][child] if child in TREE
                                else values[side].get(child) for child in children]
                scored = [child in TREE or records[child][side].score is not None
                          for child in children]
                # A scored child without resamples leaves the node without an interval.
                node_values[side][node] = None if any(
                    value is None and has_score
                    for value, has_score in zip(child_values, scored, strict=True)
                ) else node_resamples(child_values)
            a, b = node_values["a"][node], node_values["b"][node]
            if points["a"][node] is None or points["b"][node] is None:
                nodes.append({"name": node, "message": "no score for one of the models"})
            elif a is None or b is None:
                nodes.append({"name": node, "message": "a benchmark beneath has no resamples"})
            else:
                nodes.append(_row(node, points["a"][node], points["b"][node], a, b, level))
        order = list(TREE)
        nodes.sort(key=lambda row: order.index(row["name"]))
    return {"model_a": model_a, "model_b": model_b, "level": level,
            "benchmarks": rows, "nodes": nodes}


def _unpaired(a: Any, b: Any) -> str | None:
    """Why two records cannot be compared by a paired bootstrap, or None when they can."""
    if a.score is None or b.score is None:
        return "no score for one of the models"
    if not (a.resample_values and b.resample_values):
        return "a score record without resamples (scored before intervals; rescore it)"
    if (a.benchmark_version, a.resamples, a.seed) != (b.benchmark_version, b.resamples, b.seed):
        return (f"the records differ in benchmark version, resamples or seed "
                f"({a.benchmark_version}, {a.resamples}, {a.seed} vs {b.benchmark_version}, "
                f"{b.resamples}, {b.seed}), so their resamples do not pair up")
    return None


def _row(name: str, point_a: float, point_b: float, a: np.ndarray, b: np.ndarray,
         level: float) -> dict[str, Any]:
    result = paired_difference(a, b, point_a, point_b, level)
    lower, upper = result.interval
    return {
        "name": name, "a": point_a, "b": point_b, "difference": result.difference,
        "interval": [None if np.isnan(lower) else lower, None if np.isnan(upper) else upper],
        "excludes_zero": result.excludes_zero,
        "verdict": {"a": "a better", "b": "b better"}.get(result.verdict, "tied"),
    }
