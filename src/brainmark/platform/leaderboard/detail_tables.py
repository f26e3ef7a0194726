"""The long tables of the model, benchmark and compare pages, written as HTML strings.

A model page lists every column of the tree (300 benchmarks and more) and every score of
every version; a benchmark page ranks every public model (1,000 and more). Through the
template engine each such table costs hundreds of milliseconds (a variable lookup and a
filter per cell), so they are built here as escaped strings, which takes a few: every
text from the database goes through :func:`html.escape`, numbers are formatted here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.utils.safestring import SafeString, mark_safe

from brainmark.platform.leaderboard.uncertainty import reproduce_command

if TYPE_CHECKING:
    from brainmark.platform.leaderboard.detail_views import (
        CompareLine,
        ModelLine,
        RankedModel,
        ScoreLine,
    )
    from brainmark.platform.leaderboard.uncertainty import Verdict

DASH = '<span class="muted">—</span>'


def number(value: float | None, digits: int = 3, *, sign: bool = False) -> str:
    """A value with ``digits`` decimals (``+`` before a positive one if ``sign``), or a dash."""
    if value is None:
        return DASH
    return f"{value:+.{digits}f}" if sign and value > 0 else f"{value:.{digits}f}"


def model_url(identifier: str) -> str:
    return f"/models/{quote(identifier)}/"


def benchmark_url(identifier: str) -> str:
    return f"/benchmarks/{quote(identifier)}/"


def record_url(model: str, score_pk: int) -> str:
    return f"/models/{quote(model)}/scores/{score_pk}.json"


def interval(bounds: tuple[float, float] | None) -> str:
    """``[lower, upper]`` with three decimals, or a dash (not recorded)."""
    if bounds is None:
        return ('<span class="muted" title="No interval recorded (a score from before '
                'intervals, or a node above one)">—</span>')
    return f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


#: How a verdict reads in a table cell.
VERDICT_WORDS = {"better": "reliably better", "worse": "reliably worse",
                 "tied": "not distinguishable"}


def verdict_cell(verdict: Verdict | None, model: str, *, is_self: bool, role: str) -> str:
    """How ``model`` stands against the best or median public model (``role``) on a
    column: the verdict, with the paired difference and its interval on hover."""
    if is_self:
        return f'<span class="verdict self">this is the {role}</span>'
    if verdict is None:
        return DASH
    difference = verdict.difference
    if difference is None:
        return (f'<span class="muted" title="Not comparable with {escape(verdict.other)}: a '
                f'score without recorded resamples, or resamples that do not pair">'
                f"n/a</span>")
    low, high = difference.interval
    tip = (f"{model} − {verdict.other} = {difference.difference:+.4f}, "
           f"{round(100 * difference.level)}% interval of the paired difference "
           f"[{low:+.4f}, {high:+.4f}]")
    return (f'<span class="verdict {verdict.word}" title="{escape(tip, quote=True)}">'
            f"{VERDICT_WORDS[verdict.word]}</span>")


def reproduce_cell(score_pk: int, site: str) -> str:
    """The command that runs the score again, to copy."""
    return reproduce_cell_text(reproduce_command(score_pk, site))


def reproduce_cell_text(command: str) -> str:
    return f'<code class="reproduce">{escape(command)}</code>' if command else ""


def _error(text: str, *, long: bool) -> str:
    """An errored score: X with its reason on hover and, when ``long``, in full below."""
    tip = escape(text[:300], quote=True)
    if long:
        return (f'<details class="failed"><summary title="{tip}">X failed</summary>'
                f'<pre class="error-text">{escape(text)}</pre></details>')
    return f'<span class="error-text" title="{tip}">X</span>'


def _row_header(identifier: str, depth: int, suffix: str = "") -> str:
    return (f'<th scope="row" class="depth-{min(depth, 6)}">'
            f'<a href="{escape(benchmark_url(identifier))}">{escape(identifier)}</a>{suffix}</th>')


def model_scores_table(model: str, lines: Sequence[ModelLine], site: str) -> SafeString:
    """The model page's table: one row per column of the tree, in tree order, with the
    value's interval, the verdicts against the best and median public models and the
    command reproducing each score (``site``: the site's address)."""
    parts = [
        '<table class="data scores"><thead><tr>'
        '<th scope="col">Benchmark</th><th scope="col">Score ± error</th>'
        '<th scope="col">95% interval</th>'
        '<th scope="col">Rank</th><th scope="col">Median public</th>'
        '<th scope="col">Best public</th>'
        '<th scope="col">Against the best</th><th scope="col">Against the median</th>'
        '<th scope="col">Raw</th>'
        '<th scope="col">Ceiling used</th><th scope="col">Record</th>'
        '<th scope="col">Reproduce</th>'
        "</tr></thead><tbody>"
    ]
    for line in lines:
        column, score = line.column, line.score
        kind = "benchmark" if column.is_benchmark else "node"
        if line.error_text:
            value = _error(line.error_text, long=True)
        elif line.value is not None:
            value = number(line.value)
            if score is not None and score.error is not None:
                value += f' <span class="muted">± {number(score.error)}</span>'
        else:
            value = '<span class="muted" title="Not scored: counts as 0 in its parent">—</span>'
        rank = (f'{line.rank} <span class="muted">/ {line.stats.count}</span>'
                if line.rank else DASH)
        raw = number(score.raw) if score is not None else DASH
        ceiling = number(line.ceiling) if column.is_benchmark else DASH
        record = (f'<a href="{escape(record_url(model, score.pk))}">JSON</a>'
                  if score is not None and score.has_record else "")
        command = (reproduce_cell(score.pk, site)
                   if score is not None and score.has_record else "")
        version = f' <span class="muted">v{column.version}</span>' if column.is_benchmark else ""
        bounds = interval(line.bounds) if line.value is not None else DASH
        parts.append(
            f'<tr class="{kind}" data-column="{escape(column.identifier)}">'
            f"{_row_header(column.identifier, column.depth, version)}"
            f'<td class="value">{value}</td><td class="interval">{bounds}</td>'
            f'<td class="rank">{rank}</td>'
            f'<td class="median">{number(line.stats.median)}</td>'
            f'<td class="best">{number(line.stats.best)}</td>'
            f'<td class="vs-best">'
            f'{verdict_cell(line.vs_best, model, is_self=line.is_best, role="best")}</td>'
            f'<td class="vs-median">'
            f'{verdict_cell(line.vs_median, model, is_self=line.is_median, role="median")}</td>'
            f'<td class="raw">{raw}</td><td class="ceiling">{ceiling}</td>'
            f"<td>{record}</td><td>{command}</td></tr>"
        )
    parts.append("</tbody></table>")
    return mark_safe("".join(parts))


def history_table(model: str, scores: Iterable[ScoreLine], site: str) -> SafeString:
    """The scores of one model version, on every benchmark version it was run on."""
    parts = [
        '<table class="data history"><thead><tr><th scope="col">Benchmark</th>'
        '<th scope="col">Version</th><th scope="col">Score ± error</th><th scope="col">Raw</th>'
        '<th scope="col">Ceiling used</th><th scope="col">Finished</th>'
        '<th scope="col">Record</th><th scope="col">Reproduce</th></tr></thead><tbody>'
    ]
    for score in scores:
        if score.ceiled is None:
            value = (f"{_error(score.comment, long=False)} "
                     f'<span class="error-text">{escape(score.comment[:200])}</span>')
        else:
            value = number(score.ceiled)
            if score.error is not None:
                value += f' <span class="muted">± {number(score.error)}</span>'
        finished = score.end.strftime("%Y-%m-%d %H:%M") if score.end else "—"
        record = (f'<a href="{escape(record_url(model, score.pk))}">JSON</a>'
                  if score.has_record else "")
        command = reproduce_cell(score.pk, site) if score.has_record else ""
        parts.append(
            f'<tr><th scope="row">{escape(score.benchmark)}</th>'
            f"<td>v{score.benchmark_version}</td><td>{value}</td><td>{number(score.raw)}</td>"
            f"<td>{number(score.ceiling)}</td><td>{finished}</td><td>{record}</td>"
            f"<td>{command}</td></tr>"
        )
    parts.append("</tbody></table>")
    return mark_safe("".join(parts))


def ranking_table(entries: Iterable[RankedModel], *, aggregate: bool) -> SafeString:
    """The benchmark page's ranking: rank (marked ≈ when not distinguishable from the model
    above), model (linked), value or error, its interval and, for a benchmark, the command
    reproducing the score."""
    heading = "Score (mean of children)" if aggregate else "Score (ceiled)"
    reproduce = "" if aggregate else '<th scope="col">Reproduce</th>'
    parts = [
        f'<table class="data ranking"><thead><tr><th scope="col">Rank</th>'
        f'<th scope="col">Model</th><th scope="col">{heading}</th>'
        f'<th scope="col">95% interval</th>{reproduce}</tr></thead><tbody>'
    ]
    empty = True
    for entry in entries:
        empty = False
        row = entry.row
        if entry.rank:
            rank = str(entry.rank) + (
                ' <span class="tie" title="Not distinguishable from the model ranked above: '
                'the 95% interval of their paired difference holds 0">≈</span>'
                if entry.tied else "")
        elif not row.public:
            rank = ('<span class="badge private" title="Private: shown to you, never ranked">'
                    "private</span>")
        else:
            rank = DASH
        if entry.error_text:
            value = (f"{_error(entry.error_text, long=False)} "
                     f'<span class="error-text">{escape(entry.error_text[:120])}</span>')
        elif entry.value is not None:
            value = number(entry.value)
        else:
            value = '<span class="muted">not scored</span>'
        parts.append(
            f'<tr class="{"" if row.public else "private"}" data-model="{escape(row.model)}">'
            f'<td class="rank">{rank}</td><th scope="row">'
            f'<a href="{escape(model_url(row.model))}">{escape(row.model)}</a></th>'
            f'<td class="value">{value}</td>'
            f'<td class="interval">{interval(entry.bounds) if entry.value is not None else ""}'
            f"</td>"
            + ("" if aggregate else
               f"<td>{reproduce_cell_text(entry.reproduce)}</td>")
            + "</tr>"
        )
    if empty:
        parts.append('<tr><td colspan="5" class="muted">No model on the leaderboard.</td></tr>')
    parts.append("</tbody></table>")
    return mark_safe("".join(parts))


def compare_table(a: str, b: str, lines: Iterable[CompareLine]) -> SafeString:
    """The compare page's table: both values, A − B with the 95% interval of the paired
    difference, the higher model and whether the difference is real, per column."""
    parts = [
        f'<table class="data compare"><thead><tr><th scope="col">Benchmark</th>'
        f'<th scope="col">{escape(a)}</th><th scope="col">{escape(b)}</th>'
        f'<th scope="col">Difference</th><th scope="col">95% interval (paired)</th>'
        f'<th scope="col">Higher</th><th scope="col">Verdict</th></tr></thead><tbody>'
    ]
    verdicts = {"a": f"{escape(a)} reliably higher", "b": f"{escape(b)} reliably higher",
                "tied": "not distinguishable",
                "": '<span class="muted" title="No resamples recorded to pair">n/a</span>'}
    names = {"a": escape(a), "b": escape(b), "equal": "equal", "": ""}
    for line in lines:
        column = line.column
        paired = DASH
        if line.paired is not None:
            low, high = line.paired.interval
            paired = f"[{low:+.3f}, {high:+.3f}]"
        cells = []
        for side, value, error in (("a", line.a, line.a_error), ("b", line.b, line.b_error)):
            text = _error(error, long=False) if error else number(value)
            cells.append(f'<td class="{side}">{text}</td>')
        parts.append(
            f'<tr class="{"benchmark" if column.is_benchmark else "node"}" '
            f'data-column="{escape(column.identifier)}">'
            f"{_row_header(column.identifier, column.depth)}{''.join(cells)}"
            f'<td class="difference">{number(line.difference, sign=True)}</td>'
            f'<td class="paired">{paired}</td>'
            f'<td class="higher">{names[line.higher]}</td>'
            f'<td class="verdict">{verdicts[line.verdict] if line.difference is not None else ""}'
            f"</td></tr>"
        )
    parts.append("</tbody></table>")
    return mark_safe("".join(parts))


def _definition_value(value: object) -> str:
    """One value of a metadata mapping as HTML: a nested mapping as a nested list, a list
    of plain values joined by commas, a web address as a link, text with line breaks as a
    pre-wrapped block; everything escaped."""
    if isinstance(value, dict):
        return definition_list(value)
    if isinstance(value, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in value):
            return escape(", ".join(str(item) for item in value))
        return "".join(f"<div>{_definition_value(item)}</div>" for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if isinstance(value, str) and text.startswith(("https://", "http://")) and " " not in text:
        return f'<a href="{escape(text)}" rel="nofollow noopener">{escape(text)}</a>'
    if "\n" in text:
        return f'<div class="multiline">{escape(text)}</div>'
    return escape(text)


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def definition_list(mapping: object) -> SafeString:
    """Whatever keys a metadata mapping holds, as a ``<dl>`` (empty values left out, so a
    key a plugin does not fill is simply absent). Keys read as words: ``stimulus_set`` ->
    "stimulus set"."""
    if not isinstance(mapping, dict):
        return mark_safe("" if _empty(mapping) else _definition_value(mapping))
    items = [
        f"<dt>{escape(str(key).replace('_', ' '))}</dt><dd>{_definition_value(value)}</dd>"
        for key, value in mapping.items() if not _empty(value)
    ]
    return mark_safe(f'<dl class="metadata">{"".join(items)}</dl>' if items else "")
