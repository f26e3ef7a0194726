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

The rules are Brain-Score's, so the numbers read the same:

- a leaf's ceiled score is clamped to [0, 1] before it is aggregated (the unclamped value
  stays in the score record, so a bad ceiling remains visible);
- a node's score is the sum of its children's scores divided by the number of all its
  children (equal weight per child at each level, not per leaf); a child without a score
  (not run, errored, NaN, or a node whose children are all without one) counts as 0;
- a node whose children are all without a score is itself without one (empty, not 0);
- nodes with no benchmark anywhere beneath them are left out of the tree (they are not a
  missing score, there is nothing to score).
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


def clamp_score(value: object) -> float | None:
    """A leaf score as aggregated and displayed: clamped to [0, 1]; None when not a number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else min(max(number, 0.0), 1.0)


def tree_children(parents: Mapping[str, str]) -> dict[str, list[str]]:
    """node -> its children (benchmarks and nodes), for every node with a benchmark beneath.

    ``parents`` maps each benchmark to its declared parent. Nodes come children before
    their parents, so a walk in this order can aggregate bottom-up; nodes with nothing
    beneath them are left out, of the result and of their parents' children.
    """
    children: dict[str, list[str]] = {}
    for benchmark, parent in parents.items():
        children.setdefault(parent_node(parent), []).append(benchmark)
    for node, parent in TREE.items():
        if parent is not None:
            children.setdefault(parent, []).append(node)
    # Nodes with a benchmark beneath them; TREE lists parents first, so walk it backwards.
    present: set[str] = set()
    for node in reversed(TREE):
        if any(child not in TREE or child in present for child in children.get(node, [])):
            present.add(node)
    return {
        node: [child for child in children.get(node, []) if child not in TREE or child in present]
        for node in reversed(TREE) if node in present
    }


def aggregate_scores(
    scores: Mapping[str, float | None], parents: Mapping[str, str]
) -> dict[str, float | None]:
    """Node scores from the leaf scores of one model (the rules are in the module docstring).

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
        node name -> its score, for every node with at least one benchmark beneath it;
        ``None`` for a node whose children all lack a score.
    """
    unknown = sorted(set(scores) - set(parents))
    if unknown:
        raise ValidationError(
            f"Scores given for benchmarks with no parent: {unknown[:10]}. Pass every "
            f"benchmark's parent in 'parents'."
        )
    result: dict[str, float | None] = {}
    for node, children in tree_children(parents).items():  # children before their parents
        values = [result[child] if child in TREE else clamp_score(scores.get(child))
                  for child in children]
        result[node] = (
            None if all(value is None for value in values)
            else sum(value or 0.0 for value in values) / len(values)
        )
    return {node: result[node] for node in TREE if node in result}


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
            {benchmark: clamp_score(value) for benchmark, value in row.items()}, parents
        )
        for model, row in scores.items()
    }
    nodes = [node for node in TREE if any(node in row for row in rows.values())]
    return {model: {node: row.get(node) for node in nodes} for model, row in rows.items()}
