"""The leaderboard as data: which models and benchmarks a viewer sees, their scores and ranks.

Every page, download and API answer that shows the leaderboard reads a :class:`Board` built
here, so the rules live in one place:

- Models shown: public and not withdrawn, plus the viewer's own (staff see every model that
  is not withdrawn). A withdrawn model is off the leaderboard for everyone.
- Private models never count: ranks, colour scales, medians and downloads are over public
  models only (:meth:`Board.column_values`, :meth:`Board.rank`).
- Benchmarks: the latest public version of each leaf benchmark type (visible ones).
- Node values (``V1``, ``neural_vision``, ``average_vision``, ...) come from the library's
  one aggregation function, :func:`brainmark.benchmarks.tree.aggregate_table` (mean of the
  children, a missing or errored child counting as 0), never from a second implementation.
- ``as_of``: the board as it was then: model and benchmark versions created by then and
  scores whose run ended by then.
- Uncertainty (:mod:`.uncertainty`): each value's interval, and on every node whether a
  public model is tied with the one ranked above it, from the records' resample values.

The queries do not grow with the number of models or benchmarks (five, whatever the size).
"""

from __future__ import annotations

import base64
import math
import sys
from array import array
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from brainmark.benchmarks.tree import (
    PARENT_ALIASES,
    TREE,
    aggregate_scores,
    aggregate_table,
    clamp_score,
)
from brainmark.platform.leaderboard.uncertainty import (
    LeafUncertainty,
    board_parents,
    leaf_uncertainty,
    leaves_under,
    model_resamples,
    ties,
)

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


@dataclass(frozen=True)
class Column:
    """A node of the tree or a benchmark, in tree order (parents before children)."""

    identifier: str
    parent: str | None
    depth: int
    is_benchmark: bool
    benchmark_version_id: int | None = None
    version: int | None = None
    ceiling: float | None = None


@dataclass(frozen=True)
class Row:
    """One model: its latest version as of the board's date, its values and errors."""

    model: str
    model_id: int
    model_version: int
    model_version_id: int
    public: bool
    owner_id: int | None
    values: dict[str, float | None]
    """Column identifier -> ceiled score clamped to [0, 1] (benchmarks) or aggregate
    (nodes); None if none."""
    errors: dict[str, str]
    """Benchmark identifier -> error text, for scores that failed."""
    rank: int | None
    """Rank by ``average_vision`` among public models; None for a private model."""
    metadata: dict = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Column -> (lower, upper) of the value's confidence interval, where known (see
    :mod:`.uncertainty`)."""
    tied: dict[str, bool] = field(default_factory=dict)
    """Node -> whether this public model is tied with the one ranked just above it (the
    paired difference's interval holds 0); absent when first or not comparable. Ties on a
    benchmark are computed by the page that ranks it (one column, on request): on every
    benchmark of a large board they would cost a paired bootstrap per model and column."""


@dataclass(frozen=True)
class Board:
    """The leaderboard one viewer sees (see the module docstring for the rules)."""

    columns: list[Column]
    rows: list[Row]
    as_of: datetime | None
    excluded: frozenset[str] = frozenset()
    """Benchmarks left out of the node values (custom aggregation); their columns stay."""
    ranks: Mapping[str, dict[str, int]] = field(default_factory=dict, repr=False)
    """Column -> model -> rank among public models (filled by :func:`rank_rows`)."""

    def column(self, identifier: str) -> Column:
        """The column named ``identifier`` (KeyError when the board has none)."""
        for column in self.columns:
            if column.identifier == identifier:
                return column
        raise KeyError(identifier)

    def column_values(self, column: str, *, public_only: bool = True) -> list[float]:
        """The values of one column over the rows (public ones by default), missing left out.

        What colour scales, medians and distributions are computed from.
        """
        return [
            value
            for row in self.rows
            if (row.public or not public_only) and (value := row.values.get(column)) is not None
        ]

    def rank(self, model: str, column: str) -> int | None:
        """Rank of ``model`` in ``column`` among public models: 1 is best, ties share a rank
        ("1224" ranking). None for a private model or a missing value."""
        return self.ranks.get(column, {}).get(model)

    @property
    def benchmarks(self) -> list[Column]:
        """The benchmark columns, in tree order."""
        return [column for column in self.columns if column.is_benchmark]

    @property
    def nodes(self) -> list[Column]:
        """The node columns (aggregates), in tree order."""
        return [column for column in self.columns if not column.is_benchmark]


def competition_ranks(values: Mapping[str, float | None]) -> dict[str, int]:
    """Ranks of the given values, largest first, ties sharing the best rank ("1224").

    Missing values (None, NaN) get no rank.
    """
    present = sorted(
        ((value, key) for key, value in values.items() if value is not None and value == value),
        key=lambda item: -item[0],
    )
    ranks: dict[str, int] = {}
    previous: float | None = None
    rank = 0
    for position, (value, key) in enumerate(present, start=1):
        if previous is None or value != previous:
            rank, previous = position, value
        ranks[key] = rank
    return ranks


def tree_columns(benchmarks: Iterable[tuple[str, str, int | None, int | None, float | None]]
                 ) -> list[Column]:
    """The columns of a board: tree nodes with a benchmark beneath them, then benchmarks.

    ``benchmarks``: ``(identifier, parent node, benchmark_version_id, version, ceiling)`` in
    the order they should appear under their node. Depth-first: a node, then its child nodes
    (in :data:`TREE` order), then its benchmarks.
    """
    benchmarks = list(benchmarks)
    parents = {identifier: parent for identifier, parent, *_ in benchmarks}
    present = aggregate_scores({}, parents)  # the library decides which nodes exist
    under: dict[str, list[tuple]] = {}
    for entry in benchmarks:
        under.setdefault(PARENT_ALIASES.get(entry[1], entry[1]), []).append(entry)
    columns: list[Column] = []

    def visit(node: str, parent: str | None, depth: int) -> None:
        if node not in present:
            return
        columns.append(Column(node, parent, depth, False))
        for child, child_parent in TREE.items():
            if child_parent == node:
                visit(child, node, depth + 1)
        for identifier, _, version_id, version, ceiling in under.get(node, []):
            columns.append(Column(identifier, node, depth + 1, True, version_id, version, ceiling))

    for node, parent in TREE.items():
        if parent is None:
            visit(node, None, 0)
    return columns


def assemble_board(
    columns: list[Column],
    models: Iterable[Mapping],
    scores: Mapping[str, Mapping[str, float | None]],
    errors: Mapping[str, Mapping[str, str]],
    *,
    as_of: datetime | None = None,
    excluded: Collection[str] = (),
    leaves: Mapping[str, Mapping[str, LeafUncertainty]] | None = None,
    rank_ties: bool = True,
) -> Board:
    """A board from plain data: the aggregation and ranking, with no database access.

    ``models``: mappings with the :class:`Row` fields ``model``, ``model_id``,
    ``model_version``, ``model_version_id``, ``public``, ``owner_id`` (and optionally
    ``metadata``); ``scores``: model -> benchmark -> ceiled score (None or NaN when it
    failed); ``errors``: model -> benchmark -> error text. Leaf values are shown as the
    library aggregates them (:func:`clamp_score`: clamped to [0, 1]; the unclamped value
    stays in the score row and record). Nodes are recomputed without the ``excluded``
    benchmarks by the library's :func:`aggregate_table`. ``leaves``: model -> benchmark ->
    the record's uncertainty, from which each value's bounds and, with ``rank_ties``, the
    ties with the model ranked above are computed (:mod:`.uncertainty`).
    """
    excluded = frozenset(excluded)
    benchmark_columns = [column for column in columns if column.is_benchmark]
    parents = {
        column.identifier: column.parent
        for column in benchmark_columns if column.identifier not in excluded
    }
    models = list(models)
    leaf_values = {
        entry["model"]: {
            column.identifier: clamp_score(scores.get(entry["model"], {}).get(column.identifier))
            for column in benchmark_columns
        }
        for entry in models
    }
    node_values = aggregate_table(
        {
            model: {name: value for name, value in values.items() if name in parents}
            for model, values in leaf_values.items()
        },
        parents,
    )
    node_columns = {column.identifier for column in columns if not column.is_benchmark}
    public = {entry["model"] for entry in models if entry["public"]}
    all_values = {
        model: {
            name: (node_values[model].get(name) if name in node_columns
                   else leaf_values[model][name])
            for name in (column.identifier for column in columns)
        }
        for model in leaf_values
    }
    ranks = {
        column.identifier: competition_ranks(
            {model: values[column.identifier] for model, values in all_values.items()
             if model in public}
        )
        for column in columns
    }
    bounds, tied = _uncertainty(columns, all_values, leaf_values, leaves or {}, excluded,
                                public if rank_ties else set())
    overall = ranks.get("average_vision", {})
    rows = [
        Row(
            model=entry["model"],
            model_id=entry["model_id"],
            model_version=entry["model_version"],
            model_version_id=entry["model_version_id"],
            public=entry["public"],
            owner_id=entry["owner_id"],
            values=all_values[entry["model"]],
            errors=dict(errors.get(entry["model"], {})),
            rank=overall.get(entry["model"]) if entry["public"] else None,
            metadata=dict(entry.get("metadata") or {}),
            bounds=bounds.get(entry["model"], {}),
            tied=tied.get(entry["model"], {}),
        )
        for entry in models
    ]
    rows.sort(key=_row_order)
    return Board(columns=columns, rows=rows, as_of=as_of, excluded=excluded, ranks=ranks)


def _uncertainty(
    columns: list[Column],
    values: Mapping[str, Mapping[str, float | None]],
    leaf_values: Mapping[str, Mapping[str, float | None]],
    leaves: Mapping[str, Mapping[str, LeafUncertainty]],
    excluded: frozenset[str],
    ranked: Collection[str],
) -> tuple[dict[str, dict[str, tuple[float, float]]], dict[str, dict[str, bool]]]:
    """Each model's bounds per column, and the ``ranked`` models' ties per node."""
    under = leaves_under(columns, excluded)
    parents = board_parents(columns, excluded)
    resamples = {
        model: model_resamples(
            leaves.get(model, {}),
            {name for name, value in leaf_values[model].items() if value is not None},
            parents, under,
        )
        for model in values if leaves.get(model)
    }
    bounds: dict[str, dict[str, tuple[float, float]]] = {}
    for model, own in resamples.items():
        found = bounds.setdefault(model, {})
        for column in columns:
            name = column.identifier
            if values[model].get(name) is None:
                continue
            leaf = leaves[model].get(name) if column.is_benchmark else None
            if leaf is not None and leaf.interval is not None:
                lower, upper = leaf.interval
                found[name] = (min(max(lower, 0.0), 1.0), min(max(upper, 0.0), 1.0))
            elif (interval := own.bounds(name)) is not None:
                found[name] = interval
    tied: dict[str, dict[str, bool]] = {}
    for column in columns:
        if column.is_benchmark:
            continue
        name = column.identifier
        order = sorted(
            ((model, value, resamples.get(model)) for model in ranked
             if (value := values[model].get(name)) is not None),
            key=lambda entry: (-entry[1], entry[0]),
        )
        for model, flag in ties(order, name).items():
            tied.setdefault(model, {})[name] = flag
    return bounds, tied


def _row_order(row: Row) -> tuple:
    overall = row.values.get("average_vision")
    return overall is None, -(overall or 0.0), row.model


def with_private_rows(public: Board, viewer: AbstractBaseUser | AnonymousUser | None) -> Board:
    """``public`` (the board of public models) plus the private models ``viewer`` sees,
    computed alone: private rows change no rank, scale or median, so the public part can
    come from storage while only the viewer's few private models are read (three queries).
    """
    models = load_models(viewer, public.as_of, private_only=True)
    if not models:
        return public
    scores, errors, leaves = load_scores(models, public.columns, public.as_of)
    private = assemble_board(public.columns, models, scores, errors, as_of=public.as_of,
                             excluded=public.excluded, leaves=leaves, rank_ties=False)
    return Board(public.columns, sorted([*public.rows, *private.rows], key=_row_order),
                 public.as_of, public.excluded, public.ranks)


def visible_models_filter(viewer: AbstractBaseUser | AnonymousUser | None):
    """The ``Q`` of the models ``viewer`` sees on the leaderboard (module docstring)."""
    from django.db.models import Q

    shown = Q(withdrawn=False)
    if viewer is not None and getattr(viewer, "is_staff", False) and viewer.is_active:
        return shown
    if viewer is not None and viewer.is_authenticated:
        return shown & (Q(public=True) | Q(owner_id=viewer.pk))
    return shown & Q(public=True)


def load_columns(as_of: datetime | None = None) -> list[Column]:
    """The board's columns from the database: latest public benchmark versions as of then.

    Two queries: the benchmark types and the public benchmark versions.
    """
    from brainmark.platform.leaderboard.models import BenchmarkType, BenchmarkVersion

    types = {
        row["id"]: row
        for row in BenchmarkType.objects.filter(visible=True).values(
            "id", "identifier", "parent__identifier", "order"
        )
    }
    versions = BenchmarkVersion.objects.filter(public=True, benchmark_type_id__in=list(types))
    if as_of is not None:
        versions = versions.filter(created__lte=as_of)
    latest: dict[int, tuple[int, int, float | None]] = {}
    for type_id, version_id, version, ceiling in versions.values_list(
        "benchmark_type_id", "id", "version", "ceiling"
    ):
        if type_id not in latest or version > latest[type_id][1]:
            latest[type_id] = (version_id, version, ceiling)
    entries = []
    for type_id, (version_id, version, ceiling) in latest.items():
        row = types[type_id]
        parent = row["parent__identifier"]
        if parent is None or PARENT_ALIASES.get(parent, parent) not in TREE:
            continue  # not a leaf of the tree (a node, or a benchmark under a benchmark)
        entries.append((row["order"], row["identifier"], parent, version_id, version, ceiling))
    entries.sort()
    return tree_columns(
        (identifier, parent, version_id, version, ceiling)
        for _, identifier, parent, version_id, version, ceiling in entries
    )


def load_models(viewer: AbstractBaseUser | AnonymousUser | None,
                as_of: datetime | None = None, *, private_only: bool = False) -> list[dict]:
    """The models ``viewer`` sees with their latest version as of ``as_of`` (two queries);
    only the private ones with ``private_only``."""
    from brainmark.platform.leaderboard.models import Model, ModelVersion

    models = Model.objects.filter(visible_models_filter(viewer))
    if private_only:
        models = models.filter(public=False)
    if as_of is not None:
        models = models.filter(created__lte=as_of)
    by_id = {
        row["id"]: row
        for row in models.values("id", "identifier", "public", "owner_id", "metadata")
    }
    versions = ModelVersion.objects.filter(model__in=models)
    if as_of is not None:
        versions = versions.filter(created__lte=as_of)
    latest: dict[int, tuple[int, int]] = {}
    for model_id, version_id, version in versions.values_list("model_id", "id", "version"):
        if model_id not in latest or version > latest[model_id][1]:
            latest[model_id] = (version_id, version)
    return [
        {
            "model": by_id[model_id]["identifier"],
            "model_id": model_id,
            "model_version": version,
            "model_version_id": version_id,
            "public": by_id[model_id]["public"],
            "owner_id": by_id[model_id]["owner_id"],
            "metadata": by_id[model_id]["metadata"],
        }
        for model_id, (version_id, version) in sorted(latest.items())
        if model_id in by_id
    ]


def load_scores(
    models: list[dict], columns: list[Column], as_of: datetime | None = None
) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, str]],
           dict[str, dict[str, LeafUncertainty]]]:
    """Scores, error texts and the records' uncertainty (:func:`.uncertainty.leaf_uncertainty`)
    of the models' versions on the columns' benchmark versions (one query, which reads of
    each record only its interval, resample values, seed and resample count)."""
    from brainmark.platform.leaderboard.models import Score

    by_version = {entry["model_version_id"]: entry["model"] for entry in models}
    benchmark_by_version = {
        column.benchmark_version_id: column.identifier for column in columns if column.is_benchmark
    }
    scores: dict[str, dict[str, float | None]] = {}
    errors: dict[str, dict[str, str]] = {}
    leaves: dict[str, dict[str, LeafUncertainty]] = {}
    if not by_version or not benchmark_by_version:
        return scores, errors, leaves
    rows = Score.objects.filter(
        model_version_id__in=list(by_version), benchmark_version_id__in=list(benchmark_by_version)
    )
    if as_of is not None:
        rows = rows.filter(end__lte=as_of)
    for (version_id, benchmark_version_id, ceiled, comment, interval, encoded, seed,
         resamples) in rows.values_list(
        "model_version_id", "benchmark_version_id", "ceiled", "comment", "record__interval",
        "record__resample_values__ceiled", "record__seed", "record__resamples",
    ):
        model, benchmark = by_version[version_id], benchmark_by_version[benchmark_version_id]
        scores.setdefault(model, {})[benchmark] = ceiled
        if ceiled is None or math.isnan(ceiled):
            errors.setdefault(model, {})[benchmark] = comment or "No score was recorded."
        elif (leaf := leaf_uncertainty(interval, encoded, seed, resamples)) is not None:
            leaves.setdefault(model, {})[benchmark] = leaf
    return scores, errors, leaves


def build_board(
    viewer: AbstractBaseUser | AnonymousUser | None,
    *,
    as_of: datetime | None = None,
    excluded: Collection[str] = (),
) -> Board:
    """The leaderboard ``viewer`` sees (None: an anonymous visitor), as of a date if given.

    ``excluded``: benchmarks left out of the node values (custom aggregation).
    """
    columns = load_columns(as_of)
    models = load_models(viewer, as_of)
    scores, errors, leaves = load_scores(models, columns, as_of)
    return assemble_board(columns, models, scores, errors, as_of=as_of, excluded=excluded,
                          leaves=leaves)


def board_to_dict(board: Board) -> dict:
    """The board as JSON-able data, for storage.

    The values and ranks, a models x columns matrix each, travel as base64 of packed
    float64 (NaN for none) and int32 (0 for none): exact, and ten times faster to write and
    read than a JSON number per cell.
    """
    names = [column.identifier for column in board.columns]
    values = array("d", (
        math.nan if (value := row.values.get(name)) is None else value
        for row in board.rows for name in names
    ))
    ranks = array("i", (
        board.ranks.get(name, {}).get(row.model) or 0 for row in board.rows for name in names
    ))
    bounds = [
        array("d", (
            math.nan if (pair := row.bounds.get(name)) is None else pair[side]
            for row in board.rows for name in names
        ))
        for side in (0, 1)
    ]
    tied = array("b", (
        _TIED_CODES[row.tied.get(name)] for row in board.rows for name in names
    ))
    return {
        "format": BOARD_FORMAT,
        "columns": [
            [c.identifier, c.parent, c.depth, c.is_benchmark, c.benchmark_version_id, c.version,
             c.ceiling]
            for c in board.columns
        ],
        "rows": [
            [row.model, row.model_id, row.model_version, row.model_version_id, row.public,
             row.owner_id, row.errors, row.rank, row.metadata]
            for row in board.rows
        ],
        "values": base64.b64encode(_little_endian(values).tobytes()).decode(),
        "ranks": base64.b64encode(_little_endian(ranks).tobytes()).decode(),
        "lower": base64.b64encode(_little_endian(bounds[0]).tobytes()).decode(),
        "upper": base64.b64encode(_little_endian(bounds[1]).tobytes()).decode(),
        "tied": base64.b64encode(tied.tobytes()).decode(),
        "as_of": board.as_of.isoformat() if board.as_of else None,
        "excluded": sorted(board.excluded),
    }


#: The layout :func:`board_to_dict` writes; a stored board of another layout is recomputed.
BOARD_FORMAT = 2
#: A row's ``tied`` entry as stored: absent, False, True.
_TIED_CODES = {None: 0, False: 1, True: 2}
_TIED_VALUES = {1: False, 2: True}


def _little_endian(numbers: array) -> array:
    if sys.byteorder != "little":
        numbers = array(numbers.typecode, numbers)
        numbers.byteswap()
    return numbers


class _PackedRanks(Mapping):
    """Column -> model -> rank, read from the stored int32 matrix one column at a time
    (a page asks for a few columns; building all 300,000 entries would cost more)."""

    def __init__(self, names: list[str], models: list[str], matrix: array) -> None:
        self._names, self._models, self._matrix = names, models, matrix
        self._index = {name: position for position, name in enumerate(names)}
        self._columns: dict[str, dict[str, int]] = {}

    def __getitem__(self, column: str) -> dict[str, int]:
        if column not in self._columns:
            position, width = self._index[column], len(self._names)
            self._columns[column] = {
                model: rank
                for model, rank in zip(self._models, self._matrix[position::width], strict=True)
                if rank
            }
        return self._columns[column]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def board_from_dict(data: Mapping) -> Board:
    """The board :func:`board_to_dict` wrote (of :data:`BOARD_FORMAT`)."""
    columns = [Column(*entry) for entry in data["columns"]]
    names = [column.identifier for column in columns]
    width = len(names)
    values = _little_endian(array("d", base64.b64decode(data["values"])))
    ranks = _little_endian(array("i", base64.b64decode(data["ranks"])))
    lower = _little_endian(array("d", base64.b64decode(data["lower"])))
    upper = _little_endian(array("d", base64.b64decode(data["upper"])))
    tied = array("b", base64.b64decode(data["tied"]))
    rows = []
    for index, (model, model_id, model_version, model_version_id, public, owner_id, errors,
                rank, metadata) in enumerate(data["rows"]):
        cells = slice(index * width, (index + 1) * width)
        rows.append(Row(
            model, model_id, model_version, model_version_id, public, owner_id,
            {name: None if value != value else value
             for name, value in zip(names, values[cells], strict=True)},
            errors, rank, metadata,
            {name: (low, high)
             for name, low, high in zip(names, lower[cells], upper[cells], strict=True)
             if low == low},
            {name: _TIED_VALUES[code]
             for name, code in zip(names, tied[cells], strict=True) if code},
        ))
    as_of = datetime.fromisoformat(data["as_of"]) if data["as_of"] else None
    return Board(columns, rows, as_of, frozenset(data["excluded"]),
                 _PackedRanks(names, [row.model for row in rows], ranks))
