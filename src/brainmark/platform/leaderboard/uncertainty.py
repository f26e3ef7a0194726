"""Uncertainty on the site: score intervals, node intervals and paired comparisons, computed
from the stored score records alone (nothing is scored again).

Each score record holds the ceiled score's interval (``interval``) and its per-resample
values (``resample_values["ceiled"]``, float32 in base64; see
:mod:`brainmark.metrics.intervals`). Two scores on one benchmark version with equal ``seed``
and ``resamples`` were computed on the same resampled stimuli, resample by resample, so:

- a tree node's per-resample values are its children's, averaged as the node's own value is
  (:func:`~brainmark.metrics.intervals.node_resamples`: clamped to [0, 1], a missing child
  counting 0, excluded benchmarks left out), and its bounds are their percentile interval;
- two models differ on a benchmark or node when the percentile interval of their paired
  differences excludes 0 (:func:`~brainmark.metrics.intervals.paired_difference`);
  otherwise they are tied. Models whose resamples cannot be paired (another seed or count)
  are not compared.

A score recorded before intervals existed has no bounds, and no comparison that needs it is
made (None: unknown, never a guess). Leaf bounds on the board are the record's interval
clamped to [0, 1], as the board's values are; the API's score bounds are the record's own.

:mod:`brainmark.metrics.intervals` is imported when first needed: it loads the library's
metrics package (numpy, scipy, pandas; never torch or a plugin).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from brainmark.metrics.intervals import PairedDifference
    from brainmark.platform.leaderboard.board import Column

#: A leaf whose value is known but whose resamples are not: every node above it is unknown.
_UNKNOWN = object()

#: Pairing key of a leaf's resamples: (seed, number of resamples).
PairingKey = tuple[int, int]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def record_interval(record: Any) -> tuple[float | None, float | None]:
    """(lower, upper) of a record's ``interval`` (the ceiled score's), or (None, None)."""
    interval = record.get("interval") if isinstance(record, Mapping) else None
    return parse_interval(interval)


def parse_interval(interval: Any) -> tuple[float | None, float | None]:
    """(lower, upper) of ``[lower, upper]``, both finite numbers, or (None, None)."""
    if isinstance(interval, list | tuple) and len(interval) == 2:
        lower, upper = _number(interval[0]), _number(interval[1])
        if lower is not None and upper is not None and lower <= upper:
            return lower, upper
    return None, None


@dataclass(frozen=True)
class LeafUncertainty:
    """What a score record says about its uncertainty."""

    interval: tuple[float, float] | None
    """The ceiled score's interval, as recorded (unclamped)."""
    values: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The ceiled score's per-resample values (float64); None when not recorded."""
    key: PairingKey | None = None


def leaf_uncertainty(interval: Any, encoded: Any, seed: Any, resamples: Any
                     ) -> LeafUncertainty | None:
    """A record's uncertainty from its ``interval``, ``resample_values["ceiled"]``, ``seed``
    and ``resamples`` fields; None when it has neither an interval nor resample values.
    Values that cannot be decoded, or whose count is not ``resamples``, are left out."""
    lower, upper = parse_interval(interval)
    values = None
    if isinstance(encoded, str) and encoded:
        from brainmark.exceptions import BrainmarkError
        from brainmark.metrics.intervals import decode_resamples

        try:
            values = decode_resamples(encoded)
        except BrainmarkError:
            values = None
    key = None
    if (isinstance(seed, int) and isinstance(resamples, int)
            and not isinstance(seed, bool) and not isinstance(resamples, bool)):
        key = (seed, resamples)
    if values is not None and (key is None or values.size != key[1] or values.size == 0):
        values = None
    if lower is None and values is None:
        return None
    return LeafUncertainty(None if lower is None else (lower, upper), values, key)


@dataclass(frozen=True)
class ModelResamples:
    """One model's per-resample values on every column of a board (None: unknown or no
    score), and the pairing key of each leaf beneath each column."""

    values: dict[str, np.ndarray | None]
    keys: dict[str, PairingKey]
    under: Mapping[str, Sequence[str]]
    """Column -> the benchmarks beneath it (itself, for a benchmark)."""

    def bounds(self, column: str, level: float | None = None) -> tuple[float, float] | None:
        """The percentile interval of the column's resamples (None when unknown)."""
        from brainmark.metrics.intervals import DEFAULT_LEVEL, percentile_interval

        values = self.values.get(column)
        if values is None or not np.isfinite(values).any():
            return None
        return percentile_interval(values, DEFAULT_LEVEL if level is None else level)


def leaves_under(columns: Sequence[Column], excluded: Collection[str] = ()
                 ) -> dict[str, list[str]]:
    """Column -> the benchmarks (not excluded) at or beneath it, from the columns' tree."""
    under: dict[str, list[str]] = {}
    parents = {column.identifier: column.parent for column in columns}
    for column in columns:
        if not column.is_benchmark or column.identifier in excluded:
            continue
        node: str | None = column.identifier
        while node is not None:
            under.setdefault(node, []).append(column.identifier)
            node = parents.get(node)
    return under


def board_parents(columns: Sequence[Column], excluded: Collection[str] = ()) -> dict[str, str]:
    """Benchmark -> its node, for the board's benchmarks not excluded (what the node values
    are aggregated over)."""
    return {column.identifier: column.parent for column in columns
            if column.is_benchmark and column.parent is not None
            and column.identifier not in excluded}


def model_resamples(
    leaves: Mapping[str, LeafUncertainty],
    scored: Collection[str],
    parents: Mapping[str, str],
    under: Mapping[str, Sequence[str]],
) -> ModelResamples:
    """Per-resample values of one model on every benchmark of ``parents`` (benchmark ->
    node, :func:`board_parents`) and every node above them.

    ``leaves``: benchmark -> its record's uncertainty; ``scored``: the benchmarks with a
    number (the others count 0 in their nodes). Nodes have the children the library's
    aggregation gives them (:func:`brainmark.benchmarks.tree.tree_children`); ``under`` is
    :func:`leaves_under` of the same board.
    """
    from brainmark.benchmarks.tree import tree_children
    from brainmark.exceptions import BrainmarkError
    from brainmark.metrics.intervals import node_resamples

    values: dict[str, Any] = {}
    for benchmark in parents:
        leaf = leaves.get(benchmark)
        if benchmark not in scored:
            values[benchmark] = None
        elif leaf is None or leaf.values is None:
            values[benchmark] = _UNKNOWN
        else:
            values[benchmark] = np.clip(leaf.values, 0.0, 1.0)
    for node, children in tree_children(parents).items():  # children before parents
        kids = [values[child] for child in children]
        if any(kid is _UNKNOWN for kid in kids):
            values[node] = _UNKNOWN
            continue
        try:
            values[node] = node_resamples(kids)
        except BrainmarkError:  # children with different resample counts: no pairing
            values[node] = _UNKNOWN
    keys = {name: leaf.key for name, leaf in leaves.items()
            if leaf.key is not None and leaf.values is not None}
    return ModelResamples(
        {name: None if value is _UNKNOWN else value for name, value in values.items()},
        keys, under,
    )


def compare(a: ModelResamples, b: ModelResamples, column: str,
            point_a: float | None, point_b: float | None) -> PairedDifference | None:
    """A minus B on ``column`` with its paired interval; None when either lacks a value or
    resamples, or their resamples do not pair (a leaf beneath with another seed or count)."""
    from brainmark.exceptions import BrainmarkError
    from brainmark.metrics.intervals import paired_difference

    first, second = a.values.get(column), b.values.get(column)
    if point_a is None or point_b is None or first is None or second is None:
        return None
    if first.shape != second.shape or not (np.isfinite(first - second)).any():
        return None
    for leaf in a.under.get(column, ()):
        if leaf in a.keys and leaf in b.keys and a.keys[leaf] != b.keys[leaf]:
            return None
    try:
        return paired_difference(first, second, point_a, point_b)
    except BrainmarkError:
        return None


def ties(order: Iterable[tuple[str, float, ModelResamples | None]], column: str
         ) -> dict[str, bool]:
    """For models in rank order on ``column`` (name, value, resamples), whether each is tied
    with the model just above it: equal values, or a paired difference whose interval holds
    0. The first model, and a model that cannot be compared with the one above, get no
    entry."""
    result: dict[str, bool] = {}
    above: tuple[str, float, ModelResamples | None] | None = None
    for entry in order:
        if above is not None:
            if entry[1] == above[1]:
                result[entry[0]] = True
            elif above[2] is not None and entry[2] is not None:
                difference = compare(above[2], entry[2], column, above[1], entry[1])
                if difference is not None:
                    result[entry[0]] = not difference.excludes_zero
        above = entry
    return result


@dataclass(frozen=True)
class Verdict:
    """How a model stands against another on one column, by paired difference."""

    other: str
    difference: PairedDifference | None

    @property
    def word(self) -> str:
        """'better', 'worse', 'tied' (the interval holds 0) or '' (not comparable)."""
        if self.difference is None:
            return ""
        return {"a": "better", "b": "worse"}.get(self.difference.verdict, "tied")


def reproduce_command(score_pk: int, site: str) -> str:
    """The command that runs score ``score_pk`` of the site at ``site`` again."""
    return f"brainmark reproduce {score_pk} --url {site.rstrip('/')}"
