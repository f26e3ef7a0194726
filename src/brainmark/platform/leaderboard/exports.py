"""The board as JSON, CSV and BibTeX: what downloads, the API and the page's grid send.

Values are sent as stored (full float precision), so a download can be checked against
``brainmark table`` to the last digit; the page rounds for display only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection

from brainmark.platform.leaderboard.board import Board, Column
from brainmark.platform.leaderboard.forms import format_as_of

RULE = (
    "A node's score is the mean of its children's scores; a missing or errored child "
    "counts as 0, and a node with no score anywhere beneath it is empty (null). Leaf "
    "scores are ceiled and clamped to [0, 1]. Ranks and colour scales are over public "
    "models only. Bounds are each value's 95 % confidence interval (a benchmark's from "
    "its record, a node's from its children's bootstrap resamples); a model is tied with "
    "the one ranked above it when the interval of their paired difference holds 0."
)


def column_scale(board: Board, column: str) -> tuple[float | None, float | None]:
    """The colour scale's ends for a column: min and max over public models."""
    values = board.column_values(column)
    return (min(values), max(values)) if values else (None, None)


def shown_columns(board: Board, benchmarks: Collection[str] | None) -> list[Column]:
    """The nodes and, of the benchmarks, all (``None``) or those in ``benchmarks``."""
    return [
        column for column in board.columns
        if not column.is_benchmark or benchmarks is None or column.identifier in benchmarks
    ]


def board_payload(board: Board, benchmarks: Collection[str] | None = None) -> dict:
    """The board as JSON-able data: columns (with scale) and rows (values, errors, ranks)."""
    columns = shown_columns(board, benchmarks)
    names = [column.identifier for column in columns]
    return {
        "as_of": format_as_of(board.as_of) if board.as_of else None,
        "excluded": sorted(board.excluded),
        "rule": RULE,
        "columns": [
            {
                "identifier": column.identifier,
                "parent": column.parent,
                "depth": column.depth,
                "is_benchmark": column.is_benchmark,
                "version": column.version,
                "ceiling": column.ceiling,
                "excluded": column.identifier in board.excluded,
                "scale": list(column_scale(board, column.identifier)),
            }
            for column in columns
        ],
        "rows": [
            {
                "model": row.model,
                "model_version": row.model_version,
                "public": row.public,
                "rank": row.rank,
                "metadata": row.metadata,
                "values": {name: row.values.get(name) for name in names},
                "errors": {name: text for name, text in row.errors.items() if name in names},
                "bounds": {name: list(row.bounds[name]) for name in names if name in row.bounds},
                "tied": {name: row.tied[name] for name in names if name in row.tied},
            }
            for row in board.rows
        ],
    }


def board_json(board: Board, benchmarks: Collection[str] | None = None) -> bytes:
    """:func:`board_payload` encoded (``NaN`` never appears: missing values are null)."""
    return json.dumps(board_payload(board, benchmarks), allow_nan=False).encode()


def board_csv(board: Board) -> bytes:
    """One line per public model: rank, whether it is tied with the model ranked above
    (``average_vision``), model, version, then every column not excluded, each followed by
    its lower and upper bound (``<column>_lower``, ``<column>_upper``).

    An errored score is written ``X``; a missing value, bound or tie is left empty.
    """
    columns = [column for column in board.columns if column.identifier not in board.excluded]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "tied_with_above", "model", "model_version", *(
        heading for c in columns
        for heading in (c.identifier, f"{c.identifier}_lower", f"{c.identifier}_upper")
    )])
    for row in board.rows:
        if not row.public:
            continue
        tied = row.tied.get("average_vision")
        cells = []
        for c in columns:
            name = c.identifier
            value = row.values.get(name)
            cells.append("X" if name in row.errors else "" if value is None else repr(value))
            bounds = row.bounds.get(name)
            cells.extend(("", "") if bounds is None else (repr(bounds[0]), repr(bounds[1])))
        writer.writerow([
            "" if row.rank is None else row.rank, "" if tied is None else str(tied).lower(),
            row.model, row.model_version, *cells,
        ])
    return out.getvalue().encode()


def board_bibtex(board: Board) -> bytes:
    """The references of every benchmark on the board (those not excluded), once each."""
    from brainmark.platform.leaderboard.models import BenchmarkVersion

    ids = [c.benchmark_version_id for c in board.benchmarks if c.identifier not in board.excluded]
    texts = dict(BenchmarkVersion.objects.filter(pk__in=ids).values_list("pk", "bibtex"))
    entries: list[str] = []
    for column in board.benchmarks:
        if column.identifier in board.excluded:
            continue
        text = (texts.get(column.benchmark_version_id) or "").strip()
        if not text:
            text = f"% {column.identifier} version {column.version}: no reference given."
        if text not in entries:
            entries.append(text)
    header = f"% References of the {len(entries)} benchmarks on the brainmark leaderboard"
    if board.as_of:
        header += f" as of {format_as_of(board.as_of)}"
    return ("\n\n".join([header, *entries]) + "\n").encode()
