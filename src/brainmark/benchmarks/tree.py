"""The benchmark tree: how leaf benchmark scores aggregate into region and overall scores.

Kept as plain data (:data:`TREE`, :data:`PARENT_ALIASES`) and plain-Python functions so
the platform can read it and render it without importing any benchmark, pandas or xarray.
Leaf benchmarks name their parent (``V1``, ``V2``, ``V4``, ``IT``, ``behavior``, ``engineering``)::

    average_vision            engineering_vision   (a separate root, not averaged in)
    ├── neural_vision           └── <engineering benchmarks>
    │   ├── V1 ── <benchmarks>
    │   ├── V2 ── ...
    │   ├── V4 ── ...
    │   └── IT ── ...
    └── behavior_vision ── <behavior benchmarks>

A node's score is the mean of its children's scores; a child without a score (not run,
errored, NaN) counts as 0, as on Brain-Score. Nodes with no benchmark anywhere beneath them
are left out of the tree (they are not a missing score, there is nothing to score).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from brainmark.exceptions import ValidationError

#: node -> its parent node (``None`` for a root). Leaves are benchmarks, not listed here.
TREE: dict[str, str | None] = {
    "average_vision": None,
    "neural_vision": "average_vision",
    "behavior_vision": "average_vision",
    "V1": "neural_vision",
    "V2": "neural_vision",
    "V4": "neural_vision",
    "IT": "neural_vision",
    "engineering_vision": None,
}

#: Short parent names benchmarks may use for a node.
PARENT_ALIASES: dict[str, str] = {
    "behavior": "behavior_vision",
    "engineering": "engineering_vision",
}

#: Parent names a benchmark may declare.
VALID_PARENTS: tuple[str, ...] = ("V1", "V2", "V4", "IT", "behavior", "engineering")


def parent_node(parent: str) -> str:
    """The tree node a benchmark's declared ``parent`` attaches to (aliases resolved)."""
    node = PARENT_ALIASES.get(parent, parent)
    if node not in TREE:
        raise ValidationError(
            f"Benchmark parent {parent!r} is not a node of the benchmark tree. Use one of "
            f"{list(VALID_PARENTS)} (or a tree node: {sorted(TREE)})."
        )
    return node


def aggregate_scores(
    scores: Mapping[str, float | None], parents: Mapping[str, str]
) -> dict[str, float]:
    """Node scores from the leaf scores of one model.

    Parameters
    ----------
    scores
        benchmark identifier -> ceiled score; ``None`` or NaN for a missing/errored run.
        Benchmarks absent from ``scores`` but present in ``parents`` are missing too.
    parents
        benchmark identifier -> declared parent, for every benchmark of the leaderboard.

    Returns
    -------
    dict
        node name -> mean of its children (missing children count 0), for every node
        with at least one benchmark beneath it.
    """
    unknown = sorted(set(scores) - set(parents))
    if unknown:
        raise ValidationError(
            f"Scores given for benchmarks with no parent: {unknown[:10]}. Pass every "
            f"benchmark's parent in 'parents'."
        )
    children: dict[str, list[str]] = {}
    for benchmark, parent in parents.items():
        children.setdefault(parent_node(parent), []).append(benchmark)
    for node, parent in TREE.items():
        if parent is not None:
            children.setdefault(parent, []).append(node)

    result: dict[str, float] = {}

    def value(name: str) -> float | None:
        """Score of a leaf or node; None for a node with nothing beneath it."""
        if name not in TREE:  # a benchmark
            leaf = scores.get(name)
            return 0.0 if leaf is None or math.isnan(float(leaf)) else float(leaf)
        if name in result:
            return result[name]
        values = [v for v in (value(child) for child in children.get(name, [])) if v is not None]
        if not values:
            return None
        result[name] = sum(values) / len(values)
        return result[name]

    for node in TREE:
        value(node)
    return result


def aggregate_table(
    scores: Mapping[str, Mapping[str, object]], parents: Mapping[str, str]
) -> dict[str, dict[str, float | None]]:
    """Node scores of several models: ``{model: {benchmark: score}}`` -> ``{model: {node:
    score}}``.

    Every model gets the same nodes (tree order): those with a benchmark beneath them for
    any model; a score that is not a number counts as missing.
    """
    rows = {
        model: aggregate_scores(
            {benchmark: _as_float(value) for benchmark, value in row.items()}, parents
        )
        for model, row in scores.items()
    }
    nodes = [node for node in TREE if any(node in row for row in rows.values())]
    return {model: {node: row.get(node) for node in nodes} for model, row in rows.items()}


def _as_float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
