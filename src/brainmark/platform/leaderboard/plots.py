"""Server-side SVG plots for the model, benchmark and compare pages.

The pages must read without JavaScript and the web process loads no plotting library, so
the plots are small SVG documents written here as text: each has a ``<title>``, labelled
axes and tick values, and a ``<title>`` on every mark (a tooltip on hover). Every string
that comes from the database is escaped, so a model named ``<script>`` stays text.

The functions only draw: the numbers (values, medians, bests) come from the caller, which
takes them from the leaderboard's :class:`~brainmark.platform.leaderboard.board.Board`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
MODEL_COLOUR = "#1f5f99"
MEDIAN_COLOUR = "#8a939c"
BEST_COLOUR = "#2f7d32"
OTHER_COLOUR = "#c2571a"


@dataclass(frozen=True)
class DotRow:
    """One line of :func:`dot_plot`: a column of the tree and the three values drawn on it."""

    label: str
    depth: int
    is_benchmark: bool
    value: float | None
    error: float | None
    median: float | None
    best: float | None


@dataclass(frozen=True)
class Point:
    """One benchmark of :func:`scatter`: its name and the two models' values."""

    label: str
    x: float
    y: float


def _number(value: float) -> str:
    """A coordinate, to a tenth of a pixel."""
    return f"{value:.1f}"


def _label(value: float) -> str:
    """A tick label: at most three significant decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _domain(values: Sequence[float]) -> tuple[float, float]:
    """The axis range: [0, 1] (where ceiled scores live), widened to hold every value."""
    finite = [value for value in values if math.isfinite(value)]
    low = min([0.0, *finite])
    high = max([1.0, *finite])
    return low, high


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(index * step, 10) for index in range(first, last + 1)]


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    """The document around ``body``: a titled, labelled image for screen readers too.

    Widened (the drawing stays left) when the title would not fit: about 9 px a character
    at the title's 14 px, bold."""
    width = max(width, 9.0 * len(title) + 24)
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" role="img" '
        f'viewBox="0 0 {_number(width)} {_number(height)}" width="{_number(width)}" '
        f'height="{_number(height)}" aria-label={quoteattr(title)} '
        f'font-family={quoteattr(FONT)} font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{_number(width)}" height="{_number(height)}" fill="#ffffff"/>',
        f'<text x="{_number(width / 2)}" y="18" text-anchor="middle" font-size="14" '
        f'font-weight="600">{escape(title)}</text>',
        *body,
        "</svg>",
    ])


def _x_axis(scale, ticks: Sequence[float], y: float, top: float, label: str,
            centre: float) -> list[str]:
    """Vertical grid lines with tick labels below ``y`` and the axis label under them."""
    parts = []
    for tick in ticks:
        x = _number(scale(tick))
        parts.append(f'<line x1="{x}" y1="{_number(top)}" x2="{x}" y2="{_number(y)}" '
                     f'stroke="#e3e7eb"/>')
        parts.append(f'<text x="{x}" y="{_number(y + 15)}" text-anchor="middle" '
                     f'fill="#5b6570">{_label(tick)}</text>')
    parts.append(f'<text class="axis-label" x="{_number(centre)}" y="{_number(y + 34)}" '
                 f'text-anchor="middle">{escape(label)}</text>')
    return parts


def _y_axis(scale, ticks: Sequence[float], x: float, right: float, label: str,
            centre: float) -> list[str]:
    """Horizontal grid lines with tick labels left of ``x`` and the rotated axis label."""
    parts = []
    for tick in ticks:
        y = _number(scale(tick))
        parts.append(f'<line x1="{_number(x)}" y1="{y}" x2="{_number(right)}" y2="{y}" '
                     f'stroke="#e3e7eb"/>')
        parts.append(f'<text x="{_number(x - 6)}" y="{y}" dy="4" text-anchor="end" '
                     f'fill="#5b6570">{_label(tick)}</text>')
    parts.append(f'<text class="axis-label" transform="translate(16 {_number(centre)}) '
                 f'rotate(-90)" text-anchor="middle">{escape(label)}</text>')
    return parts


def _legend(entries: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """A row of (symbol, text) entries starting at (x, y); symbols are SVG fragments."""
    parts = []
    for symbol, text in entries:
        parts.append(f'<g transform="translate({_number(x)} {_number(y)})">{symbol}'
                     f'<text x="10" y="4">{escape(text)}</text></g>')
        x += 24 + 7 * len(text)
    return parts


def _circle(cx: float, cy: float, colour: str, tip: str = "", r: float = 4.5) -> str:
    title = f"<title>{escape(tip)}</title>" if tip else ""
    return (f'<circle cx="{_number(cx)}" cy="{_number(cy)}" r="{_number(r)}" '
            f'fill="{colour}">{title}</circle>')


def _diamond(cx: float, cy: float, colour: str, tip: str = "") -> str:
    title = f"<title>{escape(tip)}</title>" if tip else ""
    return (f'<polygon points="{cx:.1f},{cy - 5:.1f} {cx + 5:.1f},{cy:.1f} {cx:.1f},'
            f'{cy + 5:.1f} {cx - 5:.1f},{cy:.1f}" fill="{colour}">{title}</polygon>')


def _triangle(cx: float, cy: float, colour: str, tip: str = "") -> str:
    title = f"<title>{escape(tip)}</title>" if tip else ""
    return (f'<polygon points="{cx:.1f},{cy - 5:.1f} {cx + 5:.1f},{cy + 4:.1f} '
            f'{cx - 5:.1f},{cy + 4:.1f}" fill="none" stroke="{colour}" stroke-width="1.6">'
            f"{title}</polygon>")


def dot_plot(rows: Sequence[DotRow], *, title: str, model: str,
             x_label: str = "score (ceiled)") -> str:
    """One line per column of the tree: this model's value (with its ± error), the median
    and the best public model's, on one shared score axis.

    A dot plot rather than grouped bars: with hundreds of benchmarks the lines stay one
    per row and the three values stay comparable at a glance.
    """
    row_height, top = 18.0, 58.0
    label_width = min(360.0, 60.0 + 7.0 * max([len(row.label) + 2 * row.depth
                                                for row in rows] or [10]))
    plot_left, plot_width = label_width, 440.0
    width = plot_left + plot_width + 24
    bottom = top + row_height * max(len(rows), 1)
    height = bottom + 48
    numbers = [number for row in rows
               for number in (row.value, row.median, row.best,
                              None if row.value is None or row.error is None
                              else row.value + row.error)
               if number is not None]
    low, high = _domain(numbers)

    def scale(value: float) -> float:
        return plot_left + (value - low) / (high - low) * plot_width

    body = _legend(
        [(_circle(0, 0, MODEL_COLOUR), model),
         (_diamond(0, 0, MEDIAN_COLOUR), "median public model"),
         (_triangle(0, 0, BEST_COLOUR), "best public model")],
        plot_left, 38,
    )
    body += _x_axis(scale, _ticks(low, high), bottom, top - 6, x_label,
                    plot_left + plot_width / 2)
    if not rows:
        body.append(f'<text x="{_number(plot_left + plot_width / 2)}" y="{_number(top + 12)}" '
                    f'text-anchor="middle" fill="#5b6570">no scores</text>')
    for index, row in enumerate(rows):
        y = top + row_height * index + row_height / 2
        weight = "" if row.is_benchmark else ' font-weight="600"'
        body.append(f'<text x="{_number(8 + 12 * row.depth)}" y="{_number(y)}" dy="4"'
                    f"{weight}>{escape(row.label)}</text>")
        if index % 2 == 0:
            body.append(f'<rect x="{_number(plot_left)}" y="{_number(y - row_height / 2)}" '
                        f'width="{_number(plot_width)}" height="{_number(row_height)}" '
                        f'fill="#f4f6f8" fill-opacity="0.6"/>')
        if row.median is not None:
            body.append(_diamond(scale(row.median), y, MEDIAN_COLOUR,
                                 f"{row.label}: median public model {_label(row.median)}"))
        if row.best is not None:
            body.append(_triangle(scale(row.best), y, BEST_COLOUR,
                                  f"{row.label}: best public model {_label(row.best)}"))
        if row.value is not None:
            if row.error:
                body.append(f'<line x1="{_number(scale(row.value - row.error))}" '
                            f'y1="{_number(y)}" x2="{_number(scale(row.value + row.error))}" '
                            f'y2="{_number(y)}" stroke="{MODEL_COLOUR}" stroke-width="1.5"/>')
            tip = f"{row.label}: {model} {_label(row.value)}"
            if row.error:
                tip += f" ± {_label(row.error)}"
            body.append(_circle(scale(row.value), y, MODEL_COLOUR, tip))
    return _svg(width, height, title, body)


def histogram(values: Sequence[float], *, title: str, x_label: str = "score (ceiled)",
              y_label: str = "number of models", bins: int = 10) -> str:
    """How the public models' values on one column are distributed: ``bins`` equal bins
    over the score axis ([0, 1] unless a value lies outside), the last bin closed."""
    left, top, plot_width, plot_height = 64.0, 36.0, 460.0, 200.0
    width, height = left + plot_width + 24, top + plot_height + 52
    low, high = _domain(values)
    edges = [low + (high - low) * index / bins for index in range(bins + 1)]
    counts = [0] * bins
    for value in values:
        if math.isfinite(value):
            index = min(int((value - low) / (high - low) * bins), bins - 1)
            counts[index] += 1
    top_count = max([*counts, 1])
    count_ticks = [tick for tick in _ticks(0, top_count, min(top_count, 5))
                   if float(tick).is_integer()]

    def x_scale(value: float) -> float:
        return left + (value - low) / (high - low) * plot_width

    def y_scale(count: float) -> float:
        return top + plot_height - count / top_count * plot_height

    body = _x_axis(x_scale, _ticks(low, high), top + plot_height, top, x_label,
                   left + plot_width / 2)
    body += _y_axis(y_scale, count_ticks, left, left + plot_width, y_label,
                    top + plot_height / 2)
    for index, count in enumerate(counts):
        if not count:
            continue
        x0, x1 = x_scale(edges[index]), x_scale(edges[index + 1])
        closing = "]" if index == bins - 1 else ")"
        tip = (f"{count} model{'s' if count != 1 else ''} in [{_label(edges[index])}, "
               f"{_label(edges[index + 1])}{closing}")
        body.append(f'<rect x="{_number(x0 + 1)}" y="{_number(y_scale(count))}" '
                    f'width="{_number(max(x1 - x0 - 2, 1))}" '
                    f'height="{_number(plot_height - (y_scale(count) - top))}" '
                    f'fill="{MODEL_COLOUR}"><title>{escape(tip)}</title></rect>')
    if not values:
        body.append(f'<text x="{_number(left + plot_width / 2)}" '
                    f'y="{_number(top + plot_height / 2)}" text-anchor="middle" '
                    f'fill="#5b6570">no public model has a score yet</text>')
    return _svg(width, height, title, body)


def scatter(points: Sequence[Point], *, title: str, x_label: str, y_label: str) -> str:
    """Two models' values, one point per benchmark, with the diagonal where they are equal:
    points above it are benchmarks where the model on the y axis is higher."""
    left, top, side = 64.0, 36.0, 320.0
    width, height = left + side + 200, top + side + 52
    low, high = _domain([number for point in points for number in (point.x, point.y)])

    def x_scale(value: float) -> float:
        return left + (value - low) / (high - low) * side

    def y_scale(value: float) -> float:
        return top + side - (value - low) / (high - low) * side

    ticks = _ticks(low, high)
    body = _x_axis(x_scale, ticks, top + side, top, x_label, left + side / 2)
    body += _y_axis(y_scale, ticks, left, left + side, y_label, top + side / 2)
    body.append(f'<line class="diagonal" x1="{_number(x_scale(low))}" '
                f'y1="{_number(y_scale(low))}" x2="{_number(x_scale(high))}" '
                f'y2="{_number(y_scale(high))}" stroke="#8a939c" stroke-dasharray="4 3">'
                f"<title>equal scores</title></line>")
    for index, (colour, text) in enumerate(((OTHER_COLOUR, "above the diagonal:"),
                                            (None, "higher on the y axis"),
                                            (MODEL_COLOUR, "on or below it:"),
                                            (None, "higher or equal on the x axis"))):
        y = top + 12 + 16 * index
        if colour:
            body.append(_circle(left + side + 20, y - 4, colour, r=4))
        body.append(f'<text x="{_number(left + side + 30)}" y="{_number(y)}" '
                    f'fill="#5b6570">{text}</text>')
    for point in points:
        tip = f"{point.label}: {x_label} {_label(point.x)}, {y_label} {_label(point.y)}"
        colour = OTHER_COLOUR if point.y > point.x else MODEL_COLOUR
        body.append(_circle(x_scale(point.x), y_scale(point.y), colour, tip, r=4))
    if not points:
        body.append(f'<text x="{_number(left + side / 2)}" y="{_number(top + side / 2)}" '
                    f'text-anchor="middle" fill="#5b6570">no benchmark scored for both</text>')
    return _svg(width, height, title, body)
