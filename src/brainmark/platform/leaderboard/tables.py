"""The leaderboard as an HTML table, so the page reads without JavaScript.

Built as a string (escaped) rather than through the template engine: 1,000 models x the
tree's nodes is ten thousand cells, and the result is kept per board key
(:func:`brainmark.platform.leaderboard.snapshots.memoized`).
"""

from __future__ import annotations

from urllib.parse import quote

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from brainmark.platform.leaderboard.board import Board, Column, Row
from brainmark.platform.leaderboard.exports import column_scale
from brainmark.platform.leaderboard.forms import BoardState, benchmarks_under, matches


def colour(value: float, low: float | None, high: float | None) -> str:
    """A cell's background class: ``hue-0`` (red, the column's lowest public value) to
    ``hue-120`` (green, highest), each ``hsl(<hue>,60%,80%)`` in leaderboard.css (a class,
    not a ``style`` attribute, which the Content-Security-Policy would block)."""
    if low is None or high is None:
        return ""
    share = 0.5 if high <= low else min(1.0, max(0.0, (value - low) / (high - low)))
    return f"hue-{round(120 * share)}"


def visible_columns(board: Board, state: BoardState) -> list[Column]:
    """The nodes, and the benchmarks beneath the expanded nodes."""
    shown = benchmarks_under(board, state.expanded)
    return [c for c in board.columns if not c.is_benchmark or c.identifier in shown]


def visible_rows(board: Board, state: BoardState) -> list[Row]:
    """The rows that match the filter text, in the state's order (missing values last)."""
    rows = [row for row in board.rows if matches(row.model, row.metadata, state.query)]
    if not state.sort:
        return rows
    if state.sort == "model":
        return sorted(rows, key=lambda row: row.model, reverse=state.descending)
    if state.sort == "rank":
        present = sorted((r for r in rows if r.rank is not None), key=lambda r: r.rank,
                         reverse=state.descending)
        return present + [r for r in rows if r.rank is None]
    present = [r for r in rows if r.values.get(state.sort) is not None]
    missing = [r for r in rows if r.values.get(state.sort) is None]
    present.sort(key=lambda r: r.values[state.sort], reverse=state.descending)
    return present + missing


def _header(board: Board, column: Column, state: BoardState, expandable: set[str]) -> str:
    descending = not (state.sort == column.identifier and state.descending)
    sort_link = "?" + state.query_string(sort=column.identifier, descending=descending)
    arrow = ""
    if state.sort == column.identifier:
        arrow = " ▼" if state.descending else " ▲"
    classes = f"col-{'benchmark' if column.is_benchmark else 'node'} depth-{column.depth}"
    if column.identifier in board.excluded:
        classes += " excluded"
    if column.is_benchmark:
        label = format_html(
            '<a href="/benchmarks/{}/" title="{} version {}, ceiling {}">{}</a>',
            quote(column.identifier), column.identifier, column.version,
            "none" if column.ceiling is None else f"{column.ceiling:.3g}", column.identifier,
        )
    else:
        label = escape(column.identifier)
    toggle = ""
    if column.identifier in expandable:
        expanded = column.identifier in state.expanded
        names = tuple(n for n in state.expanded if n != column.identifier) if expanded else (
            *state.expanded, column.identifier)
        toggle = format_html(
            ' <a class="toggle" href="?{}" title="{} the benchmarks of {}">{}</a>',
            state.query_string(expanded=names), "Hide" if expanded else "Show",
            column.identifier, "−" if expanded else "+",
        )
    return (f'<th scope="col" class="{classes}" data-column="{escape(column.identifier)}">'
            f'{label}{toggle} <a class="sort" href="{escape(sort_link)}" '
            f'title="Sort by {escape(column.identifier)}">⇅{arrow}</a></th>')


def error_bar(value: float, bounds: tuple[float, float]) -> str:
    """The interval as a bar on [0, 1] with a tick at the value: an SVG (attributes, not a
    ``style``, which the Content-Security-Policy would block), shown on hover by the CSS."""
    low, high, at = (f"{100 * min(max(x, 0.0), 1.0):.1f}" for x in (*bounds, value))
    return (f'<svg class="error-bar" viewBox="0 0 100 6" preserveAspectRatio="none" '
            f'aria-hidden="true"><line class="interval" x1="{low}" x2="{high}" y1="3" y2="3"/>'
            f'<line class="point" x1="{at}" x2="{at}" y1="0" y2="6"/></svg>')


def value_title(value: float, bounds: tuple[float, float] | None) -> str:
    """A value's tooltip: the value exactly, and its interval when known."""
    if bounds is None:
        return repr(value)
    return f"{value!r} (95% interval {bounds[0]:.3f} to {bounds[1]:.3f})"


def _cell(row: Row, column: Column, scale: tuple[float | None, float | None]) -> str:
    name = column.identifier
    if name in row.errors:
        return (f'<td class="error" title="{escape(row.errors[name])}">X</td>')
    value = row.values.get(name)
    if value is None:
        return '<td class="missing" title="No score">–</td>'
    bounds = row.bounds.get(name)
    bar = error_bar(value, bounds) if bounds is not None else ""
    return (f'<td class="{colour(value, *scale)}" title="{escape(value_title(value, bounds))}">'
            f'{value:.3f}{bar}</td>')


#: What the tie mark beside a rank says.
TIE_TITLE = ("Not distinguishable from the model ranked above: the 95% interval of their "
             "paired difference on average_vision holds 0")


def rank_text(row: Row) -> str:
    """A public model's rank, marked when it is tied with the model ranked above it."""
    if row.rank is None:
        return ""
    mark = (f' <span class="tie" title="{escape(TIE_TITLE)}">≈</span>'
            if row.tied.get("average_vision") else "")
    return f"{row.rank}{mark}"


def leaderboard_table(board: Board, state: BoardState) -> SafeString:
    """The ``<table>`` of the page: rank, model, then the visible columns."""
    columns = visible_columns(board, state)
    scales = {c.identifier: column_scale(board, c.identifier) for c in columns}
    expandable = {
        c.identifier for c in board.columns
        if not c.is_benchmark and benchmarks_under(board, [c.identifier])
    }
    rank_sort = "?" + state.query_string(
        sort="rank", descending=state.sort == "rank" and not state.descending)
    model_sort = "?" + state.query_string(
        sort="model", descending=not (state.sort == "model" and state.descending))
    parts = [
        '<table class="leaderboard" id="leaderboard-table"><thead><tr>',
        f'<th scope="col" class="col-rank"><a href="{escape(rank_sort)}">Rank</a></th>',
        f'<th scope="col" class="col-model"><a href="{escape(model_sort)}">Model</a></th>',
        *(_header(board, c, state, expandable) for c in columns),
        "</tr></thead><tbody>",
    ]
    for row in visible_rows(board, state):
        rank = rank_text(row) if row.rank is not None else (
            '<span class="private" title="Private: seen by its owner only, never ranked">'
            'private</span>' if not row.public else "")
        tied = ' class="tied"' if row.tied.get("average_vision") else ""
        parts.append(
            f'<tr data-model="{escape(row.model)}"{tied}><td class="rank">{rank}</td>'
            f'<th scope="row" class="model"><a href="/models/{escape(quote(row.model))}/">'
            f'{escape(row.model)}</a> <span class="version">v{row.model_version}</span></th>'
        )
        parts.extend(_cell(row, c, scales[c.identifier]) for c in columns)
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return mark_safe("".join(parts))
