"""The model, benchmark and compare pages, and each score's full record as JSON.

Every value, node aggregate, rank, best and median shown here comes from the one
:class:`~brainmark.platform.leaderboard.board.Board` built per request, so these pages agree
with the leaderboard and never average or rank on their own. What the board does not hold
(errors, raw scores, ceilings used, layer commitments, older versions, metadata) comes from
a few queries (value lists, ``select_related``), never one query per score.

Who sees what: a private model's page, scores and records are for its owner and staff
only (404 for anyone else, as if it did not exist); a withdrawn model's page says so, and
its scores stay visible to its owner and staff.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import escape
from django.utils.safestring import mark_safe

from brainmark.benchmarks.tree import TREE
from brainmark.platform.leaderboard import detail_tables, plots
from brainmark.platform.leaderboard.board import (
    Board,
    Column,
    Row,
    assemble_board,
    load_scores,
)
from brainmark.platform.leaderboard.models import (
    BenchmarkType,
    BenchmarkVersion,
    Model,
    ModelVersion,
    Score,
)
from brainmark.platform.leaderboard.snapshots import board_for, memoized
from brainmark.platform.leaderboard.uncertainty import (
    ModelResamples,
    Verdict,
    board_parents,
    compare,
    leaves_under,
    model_resamples,
    reproduce_command,
    ties,
)
from brainmark.platform.site.guides import render_markdown

if TYPE_CHECKING:
    from brainmark.metrics.intervals import PairedDifference

# ---------------------------------------------------------------------------------------
# Who may see a model


def sees_everything_of(user: Any, model: Model) -> bool:
    """True for the model's owner and for staff: they see it private or withdrawn."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff) or (model.owner_id is not None and model.owner_id == user.pk)


def visible_model(user: Any, identifier: str) -> Model:
    """The model named ``identifier`` if ``user`` may open its page, else 404.

    A private model answers 404 to others, exactly as an unknown name does, so its
    existence is not revealed.
    """
    model = Model.objects.select_related("owner").filter(identifier=identifier).first()
    if model is None or (not model.public and not sees_everything_of(user, model)):
        raise Http404(f"No model named {identifier!r}.")
    return model


def owner_name(user: Any, model: Model) -> str:
    """Who submitted the model, as shown to ``user``: the e-mail only to the owner and staff."""
    owner = model.owner
    if owner is None:
        return "built-in"
    if sees_everything_of(user, model):
        return owner.email or owner.get_username()
    return owner.get_full_name() or "a registered user"


# ---------------------------------------------------------------------------------------
# What a page shows per column of the tree


@dataclass(frozen=True)
class ColumnStats:
    """A column over the public models: how many have a value, their median and best."""

    count: int
    median: float | None
    best: float | None


def column_stats(board: Board, column: str) -> ColumnStats:
    """The public models' count, median and best on ``column``, from the board's values."""
    values = board.column_values(column, public_only=True)
    if not values:
        return ColumnStats(0, None, None)
    return ColumnStats(len(values), statistics.median(values), max(values))


def all_column_stats(board: Board, key: str | None) -> dict[str, ColumnStats]:
    """:func:`column_stats` of every column, kept with the board under its key (the public
    models' values are the same for every viewer of one state of the tables)."""
    return memoized(key, ("detail-column-stats",), lambda: {
        column.identifier: column_stats(board, column.identifier) for column in board.columns
    })


@dataclass(frozen=True)
class ScoreLine:
    """What the pages show of one Score row (its record only as a link)."""

    pk: int
    model_version_id: int
    benchmark_version_id: int
    benchmark: str
    benchmark_version: int
    raw: float | None
    ceiled: float | None
    error: float | None
    ceiling: float | None
    comment: str
    end: datetime | None
    layer_commitment: dict
    has_record: bool


def model_scores(model: Model) -> list[ScoreLine]:
    """Every score of every version of ``model``, in tree order (one query; the records,
    which can be long, are not read: only whether there is one)."""
    rows = (
        Score.objects.filter(model_version__model=model)
        .annotate(has_record=ExpressionWrapper(~Q(record={}), output_field=BooleanField()))
        .order_by("benchmark_version__benchmark_type__order",
                  "benchmark_version__benchmark_type__identifier",
                  "-benchmark_version__version")
        .values_list("pk", "model_version_id", "benchmark_version_id",
                     "benchmark_version__benchmark_type__identifier",
                     "benchmark_version__version", "raw", "ceiled", "error", "ceiling",
                     "comment", "end", "layer_commitment", "has_record")
    )
    return [ScoreLine(*row) for row in rows]


@dataclass(frozen=True)
class ModelLine:
    """One line of the model page's score table: a column of the tree for this model."""

    column: Column
    value: float | None
    error_text: str
    rank: int | None
    stats: ColumnStats
    score: ScoreLine | None
    bounds: tuple[float, float] | None = None
    vs_best: Verdict | None = None
    """Against the best public model on this column (None: no value, or this is it)."""
    vs_median: Verdict | None = None
    """Against the median public model (the one ranked in the middle)."""
    is_best: bool = False
    is_median: bool = False

    @property
    def ceiling(self) -> float | None:
        """The ceiling this score used (the benchmark version's when the row has none);
        None without a score."""
        if self.score is None:
            return None
        return self.score.ceiling if self.score.ceiling is not None else self.column.ceiling


@dataclass(frozen=True)
class VersionHistory:
    """One version of a model with its scores (on every benchmark version it was run on)."""

    version: ModelVersion
    scores: list[ScoreLine]
    submission_visible: bool
    table: str = ""


@dataclass(frozen=True)
class Commitment:
    """A brain region and the layer the model committed to it, on which benchmarks."""

    region: str
    layer: str
    benchmarks: list[str] = field(default_factory=list)


def layer_commitments(scores: Iterable[ScoreLine]) -> list[Commitment]:
    """Region -> layer over the scores, grouped: usually one layer per region, but a model
    may commit differently per benchmark, and then each choice is listed."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for score in scores:
        commitment = score.layer_commitment if isinstance(score.layer_commitment, dict) else {}
        for region, layer in commitment.items():
            grouped.setdefault((str(region), str(layer)), []).append(score.benchmark)
    return [
        Commitment(region, layer, sorted(benchmarks))
        for (region, layer), benchmarks in sorted(grouped.items())
    ]


def _off_board_row(board: Board, model: Model, version: ModelVersion) -> Row | None:
    """The values of a model the board leaves out (a withdrawn one, for its owner), computed
    by the board's own functions: its scores on the board's columns, aggregated by the
    library, unranked (entered as private)."""
    entry = {
        "model": model.identifier,
        "model_id": model.pk,
        "model_version": version.version,
        "model_version_id": version.pk,
        "public": False,
        "owner_id": model.owner_id,
    }
    scores, errors, leaves = load_scores([entry], board.columns)
    own = assemble_board(board.columns, [entry], scores, errors, leaves=leaves,
                         excluded=board.excluded, rank_ties=False)
    return own.rows[0] if own.rows else None


def model_lines(board: Board, stats: Mapping[str, ColumnStats], row: Row | None,
                latest_scores: Mapping[int, ScoreLine]) -> list[ModelLine]:
    """The model page's table: every column of the board with this model's value, rank,
    error and score row, beside the public models' median and best, and how it stands
    against those two by paired difference (:func:`standing`)."""
    against = standing(board, row) if row is not None else {}
    lines = []
    for column in board.columns:
        best, median = against.get(column.identifier, (None, None))
        lines.append(ModelLine(
            column=column,
            value=row.values.get(column.identifier) if row else None,
            error_text=row.errors.get(column.identifier, "") if row else "",
            rank=board.rank(row.model, column.identifier) if row else None,
            stats=stats[column.identifier],
            score=latest_scores.get(column.benchmark_version_id)
            if column.is_benchmark else None,
            bounds=row.bounds.get(column.identifier) if row else None,
            vs_best=best if best is not None and best.other != row.model else None,
            vs_median=median if median is not None and median.other != row.model else None,
            is_best=best is not None and best.other == row.model,
            is_median=median is not None and median.other == row.model,
        ))
    return lines


def best_and_median(board: Board, column: str) -> tuple[Row, Row] | None:
    """The best public model on ``column`` and the median one (ranked in the middle: the
    ``ceil(n / 2)``-th of ``n``), ties broken by name as the ranks are; None when no public
    model has a value there."""
    order = sorted(
        (row for row in board.rows if row.public and row.values.get(column) is not None),
        key=lambda row: (-row.values[column], row.model),
    )
    if not order:
        return None
    return order[0], order[(len(order) - 1) // 2]


def _resamples_of(board: Board, row: Row, leaves: Mapping[str, Mapping]) -> ModelResamples:
    """``row``'s per-resample values on the board's columns, from its records' ``leaves``."""
    return model_resamples(
        leaves.get(row.model, {}),
        {c.identifier for c in board.benchmarks if row.values.get(c.identifier) is not None},
        board_parents(board.columns, board.excluded),
        leaves_under(board.columns, board.excluded),
    )


def standing(board: Board, row: Row) -> dict[str, tuple[Verdict, Verdict]]:
    """Column -> (``row``'s model against the best public model, against the median one) by
    paired difference of the stored resamples (:mod:`.uncertainty`; one query for the
    records of the few models involved). A verdict naming the model itself means it is the
    best (or median) one."""
    chosen = {column.identifier: pair for column in board.columns
              if row.values.get(column.identifier) is not None
              and (pair := best_and_median(board, column.identifier)) is not None}
    if not chosen:
        return {}
    involved = {row.model: row}
    for best, median in chosen.values():
        involved.setdefault(best.model, best)
        involved.setdefault(median.model, median)
    entries = [{"model": other.model, "model_version_id": other.model_version_id}
               for other in involved.values()]
    _, _, leaves = load_scores(entries, board.columns, board.as_of)
    resamples = {name: _resamples_of(board, other, leaves)
                 for name, other in involved.items()}
    own = resamples[row.model]
    result = {}
    for column, pair in chosen.items():
        verdicts = []
        for other in pair:
            difference = None if other.model == row.model else compare(
                own, resamples[other.model], column, row.values[column], other.values[column])
            verdicts.append(Verdict(other.model, difference))
        result[column] = (verdicts[0], verdicts[1])
    return result


def model_plot(model: str, lines: Iterable[ModelLine]) -> str:
    """The model page's dot plot: this model vs the median and best public model."""
    rows = [
        plots.DotRow(
            label=line.column.identifier,
            depth=line.column.depth,
            is_benchmark=line.column.is_benchmark,
            value=line.value,
            error=line.score.error if line.score is not None else None,
            median=line.stats.median,
            best=line.stats.best,
        )
        for line in lines
    ]
    return plots.dot_plot(rows, title=f"{model} beside the public models", model=model)


# ---------------------------------------------------------------------------------------
# Model page


def model_page(request: HttpRequest, identifier: str) -> HttpResponse:
    """Every score of the model in the tree, its ranks, errors, layers and versions."""
    model = visible_model(request.user, identifier)
    privileged = sees_everything_of(request.user, model)
    show_scores = privileged or not model.withdrawn
    versions = list(
        ModelVersion.objects.filter(model=model).select_related("submission").order_by("-version")
    )
    scores = model_scores(model) if show_scores else []
    by_version: dict[int, list[ScoreLine]] = {}
    for score in scores:
        by_version.setdefault(score.model_version_id, []).append(score)
    latest = versions[0] if versions else None

    board, key = board_for(request.user)
    row = next((row for row in board.rows if row.model_id == model.pk), None)
    if row is None and show_scores and latest is not None:
        row = _off_board_row(board, model, latest)
    latest_scores = {
        score.benchmark_version_id: score
        for score in by_version.get(latest.pk if latest else -1, [])
    }
    lines = (model_lines(board, all_column_stats(board, key), row, latest_scores)
             if show_scores else [])
    site = request.build_absolute_uri("/")
    history = [
        VersionHistory(version, by_version.get(version.pk, []),
                       submission_visible=privileged and version.submission_id is not None,
                       table=detail_tables.history_table(model.identifier,
                                                         by_version.get(version.pk, []), site))
        for version in versions
    ]
    return render(request, "leaderboard/model.html", {
        "model": model,
        "owner_name": owner_name(request.user, model),
        "privileged": privileged,
        "show_scores": show_scores,
        "latest": latest,
        "row": row,
        "lines": lines,
        "scores_table": detail_tables.model_scores_table(model.identifier, lines, site),
        "standing": standing_summary(lines),
        "public_count": sum(1 for board_row in board.rows if board_row.public),
        "commitments": layer_commitments(latest_scores.values()),
        "history": history,
        "description": _description(model.metadata),
        "metadata": detail_tables.definition_list(
            {key: value for key, value in model.metadata.items() if key != "description"}
            if isinstance(model.metadata, dict) else model.metadata
        ),
        "plot": mark_safe(model_plot(model.identifier, lines)) if lines else "",
    })


@dataclass(frozen=True)
class StandingSummary:
    """Where the model is reliably better or worse than the best and the median public
    model: the columns of each verdict."""

    better_than_median: list[str]
    worse_than_median: list[str]
    worse_than_best: list[str]
    tied_with_best: list[str]
    compared: int


def standing_summary(lines: Iterable[ModelLine]) -> StandingSummary:
    """The model page's sentence about its standing, from the table's verdicts."""
    lines = list(lines)

    def where(attribute: str, word: str) -> list[str]:
        return [line.column.identifier for line in lines
                if (verdict := getattr(line, attribute)) is not None and verdict.word == word]

    return StandingSummary(
        better_than_median=where("vs_median", "better"),
        worse_than_median=where("vs_median", "worse"),
        worse_than_best=where("vs_best", "worse"),
        tied_with_best=[line.column.identifier for line in lines if line.is_best]
        + where("vs_best", "tied"),
        compared=sum(1 for line in lines
                     if (line.vs_best is not None and line.vs_best.word)
                     or (line.vs_median is not None and line.vs_median.word)),
    )


def score_record(request: HttpRequest, identifier: str, pk: int) -> JsonResponse:
    """The full score record (versions, plugin hashes, data SHA1s, seeds) of one score."""
    model = visible_model(request.user, identifier)
    if model.withdrawn and not sees_everything_of(request.user, model):
        raise Http404(f"{identifier} was withdrawn by its owner; its scores are not shown.")
    score = get_object_or_404(Score, pk=pk, model_version__model=model)
    return JsonResponse(score.record, safe=False, json_dumps_params={"indent": 2})


# ---------------------------------------------------------------------------------------
# Benchmark page


@dataclass(frozen=True)
class RankedModel:
    """One model on a benchmark page's ranking."""

    row: Row
    value: float | None
    rank: int | None
    error_text: str
    bounds: tuple[float, float] | None = None
    tied: bool = False
    """Not distinguishable from the model ranked just above (paired difference)."""
    reproduce: str = ""
    """The command reproducing this model's score (benchmarks only)."""


def benchmark_ranking(board: Board, column: str,
                      commands: Mapping[int, str] | None = None) -> list[RankedModel]:
    """Public models by their rank on ``column`` (then the unscored ones, then the viewer's
    own private models, which are shown to them but never ranked). ``commands``: model
    version id -> the command reproducing its score here."""
    commands = commands or {}
    tied = column_ties(board, board.column(column))
    entries = [
        RankedModel(row, row.values.get(column), board.rank(row.model, column),
                    row.errors.get(column, ""), row.bounds.get(column),
                    bool(tied.get(row.model)), commands.get(row.model_version_id, ""))
        for row in board.rows
    ]
    return sorted(entries, key=lambda entry: (
        not entry.row.public,
        entry.rank is None,
        entry.rank or 0,
        entry.row.model,
    ))


@dataclass(frozen=True)
class ChildLine:
    """A child of an inner node: link, kind and the public models' median and best."""

    identifier: str
    is_benchmark: bool
    stats: ColumnStats
    on_board: bool


#: The parts of a benchmark version's metadata shown under their own heading, in order.
METADATA_SECTIONS = (("metric", "Metric"), ("ceiler", "Ceiling"), ("data", "Data"))


@functools.lru_cache(maxsize=256)
def description_html(text: str) -> str:
    """A plugin's description (Markdown, as the plugins write their docstrings) as HTML,
    raw HTML escaped and unsafe links dropped, by the guides' converter."""
    return render_markdown(text)[0]


def _description(metadata: Any) -> str:
    """The ``description`` a plugin wrote into its metadata, as HTML ("" when none)."""
    text = metadata.get("description") if isinstance(metadata, dict) else None
    if not isinstance(text, str) or not text.strip():
        return ""
    return mark_safe(description_html(text))


def metadata_sections(metadata: Any) -> list[tuple[str, str]]:
    """A benchmark version's metadata as (heading, HTML) sections: metric, ceiling, data,
    then whatever other keys exist; a missing key is simply left out."""
    rest = dict(metadata) if isinstance(metadata, dict) else {"metadata": metadata}
    rest.pop("description", None)
    rest.pop("parent", None)  # shown with the facts, linked, as the node of the tree
    sections = []
    for key, heading in METADATA_SECTIONS:
        value = rest.pop(key, None)
        if value not in (None, "", {}, []):
            html = detail_tables.definition_list(value)
            sections.append((heading, html if isinstance(value, dict)
                             else mark_safe(f"<p>{html}</p>")))
    other = detail_tables.definition_list(rest)
    if other:
        sections.append(("More", other))
    return sections


def _ancestors(benchmark: BenchmarkType) -> list[BenchmarkType]:
    """The nodes above a benchmark, root first (the tree is at most a few levels deep)."""
    chain, node, seen = [], benchmark.parent, set()
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        chain.append(node)
        node = node.parent
    return chain[::-1]


def column_ties(board: Board, column: Column) -> dict[str, bool]:
    """Public model -> whether it is tied with the one ranked above it on ``column``: the
    board's for a node; for a benchmark, from its scores' records (one query)."""
    if not column.is_benchmark:
        return {row.model: row.tied[column.identifier]
                for row in board.rows if column.identifier in row.tied}
    public = [row for row in board.rows
              if row.public and row.values.get(column.identifier) is not None]
    entries = [{"model": row.model, "model_version_id": row.model_version_id} for row in public]
    _, _, leaves = load_scores(entries, [column], board.as_of)
    parents = board_parents([column])
    under = leaves_under([column])
    order = sorted(
        ((row.model, row.values[column.identifier],
          model_resamples(leaves.get(row.model, {}), {column.identifier}, parents, under))
         for row in public),
        key=lambda entry: (-entry[1], entry[0]),
    )
    return ties(order, column.identifier)


def _reproduce_commands(request: HttpRequest, board: Board, column: Column | None
                        ) -> dict[int, str]:
    """Model version id -> the command reproducing its score on a benchmark ``column`` of
    the board (one query; none for a node, nor for a failed score, which has no record)."""
    if column is None or not column.is_benchmark:
        return {}
    site = request.build_absolute_uri("/")
    rows = (Score.objects.filter(benchmark_version_id=column.benchmark_version_id,
                                 model_version_id__in=[row.model_version_id for row in board.rows])
            .exclude(record={}).values_list("model_version_id", "pk"))
    return {version: reproduce_command(pk, site) for version, pk in rows}


def benchmark_page(request: HttpRequest, identifier: str) -> HttpResponse:
    """A benchmark (or a node of the tree): what it measures, its versions, its ceiling, the
    distribution of the public models' scores and their ranking."""
    benchmark = get_object_or_404(
        BenchmarkType.objects.select_related("parent__parent__parent"), identifier=identifier
    )
    staff = bool(getattr(request.user, "is_staff", False)) and request.user.is_active
    versions = list(BenchmarkVersion.objects.filter(benchmark_type=benchmark)
                    .order_by("-version"))
    if not staff:
        versions = [version for version in versions if version.public]
    children = list(benchmark.children.annotate(published=Exists(
        BenchmarkVersion.objects.filter(benchmark_type=OuterRef("pk"), public=True)
    )))
    if not staff:  # Others see the nodes and the published, visible benchmarks.
        children = [child for child in children
                    if child.visible and (child.published or child.identifier in TREE)]
    if not versions and not children and not staff:
        raise Http404(f"No published benchmark named {identifier!r}.")

    board, key = board_for(request.user)
    stats = all_column_stats(board, key)
    column = next((c for c in board.columns if c.identifier == benchmark.identifier), None)
    on_board = {c.identifier for c in board.columns}
    current = versions[0] if versions else None
    if column is not None and column.is_benchmark:
        current = next((v for v in versions if v.pk == column.benchmark_version_id), current)
    values = board.column_values(identifier) if column is not None else []
    metadata = current.metadata if current is not None else {}
    return render(request, "leaderboard/benchmark.html", {
        "benchmark": benchmark,
        "ancestors": _ancestors(benchmark),
        "column": column,
        "is_leaf": bool(versions) or (column is not None and column.is_benchmark),
        "current": current,
        "versions": versions,
        "description": _description(metadata),
        "sections": metadata_sections(metadata),
        "children": [
            ChildLine(child.identifier, child.identifier not in TREE,
                      stats.get(child.identifier, ColumnStats(0, None, None)),
                      child.identifier in on_board)
            for child in children
        ],
        "stats": stats.get(identifier, ColumnStats(0, None, None)),
        "ranking": detail_tables.ranking_table(
            benchmark_ranking(board, identifier, _reproduce_commands(request, board, column)),
            aggregate=not column.is_benchmark,
        ) if column is not None else "",
        "plot": mark_safe(plots.histogram(
            values, title=f"Public models' scores on {identifier}",
            x_label="score (ceiled)" if column is None or column.is_benchmark
            else "aggregate score (mean of the children)",
        )) if column is not None else "",
    })


# ---------------------------------------------------------------------------------------
# Compare page


class ModelSelect(forms.Select):
    """A ``<select>`` written as one string: Django renders each option through a template,
    which takes half a second for a thousand models."""

    def render(self, name: str, value: Any, attrs: dict | None = None,
               renderer: Any = None) -> str:
        selected = set(self.format_value(value))
        attributes = "".join(
            f' {key}="{escape(str(item))}"' if item is not True else f" {key}"
            for key, item in self.build_attrs(self.attrs, attrs).items()
            if item is not None and item is not False
        )
        options = "".join(
            f'<option value="{escape(str(choice))}"'
            f'{" selected" if str(choice) in selected else ""}>{escape(str(label))}</option>'
            for choice, label in self.choices
        )
        return mark_safe(f'<select name="{escape(name)}"{attributes}>{options}</select>')


class CompareForm(forms.Form):
    """The two models to compare, by identifier, among those the viewer sees on the board."""

    a = forms.ChoiceField(label="Model A", widget=ModelSelect)
    b = forms.ChoiceField(label="Model B", widget=ModelSelect)

    def __init__(self, data: Mapping[str, Any] | None, *, models: Iterable[str]) -> None:
        super().__init__(data)
        choices = [("", "choose a model")] + [
            (name, name) for name in sorted(models, key=str.lower)
        ]
        for name in ("a", "b"):
            self.fields[name].choices = choices
            self.fields[name].error_messages.update({
                "invalid_choice":
                    f"Model {name.upper()}: no model named %(value)s is on the leaderboard.",
                "required": f"Model {name.upper()}: choose a model.",
            })

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("a") and cleaned.get("a") == cleaned.get("b"):
            raise forms.ValidationError("Choose two different models to compare.")
        return cleaned


@dataclass(frozen=True)
class CompareLine:
    """One column of the tree for the two models: values, difference (A − B), higher one."""

    column: Column
    a: float | None
    b: float | None
    a_error: str
    b_error: str
    paired: PairedDifference | None = None
    """A − B with the paired bootstrap interval (None: no resamples to pair)."""

    @property
    def difference(self) -> float | None:
        return None if self.a is None or self.b is None else self.a - self.b

    @property
    def verdict(self) -> str:
        """'a' or 'b' (reliably higher), 'tied' (the interval holds 0) or '' (unknown)."""
        return "" if self.paired is None else self.paired.verdict

    @property
    def higher(self) -> str:
        """'a', 'b', 'equal' or '' when either value is missing."""
        if self.difference is None:
            return ""
        return "a" if self.difference > 0 else "b" if self.difference < 0 else "equal"


def compare_lines(board: Board, a: Row, b: Row) -> list[CompareLine]:
    """Both models' values column by column (nodes and benchmarks, in tree order), with
    their paired difference from the stored resamples (one query for both records)."""
    entries = [{"model": row.model, "model_version_id": row.model_version_id} for row in (a, b)]
    _, _, leaves = load_scores(entries, board.columns, board.as_of)
    first, second = (_resamples_of(board, row, leaves) for row in (a, b))
    return [
        CompareLine(column, a.values.get(column.identifier), b.values.get(column.identifier),
                    a.errors.get(column.identifier, ""), b.errors.get(column.identifier, ""),
                    compare(first, second, column.identifier, a.values.get(column.identifier),
                            b.values.get(column.identifier)))
        for column in board.columns
    ]


def compare_page(request: HttpRequest) -> HttpResponse:
    """Two models side by side, benchmark by benchmark, with a scatter plot of A vs B."""
    board, _ = board_for(request.user)
    rows = {row.model: row for row in board.rows}
    bound = "a" in request.GET or "b" in request.GET
    form = CompareForm(request.GET if bound else None, models=rows)
    context: dict[str, Any] = {"form": form, "lines": [], "plot": ""}
    if bound and form.is_valid():
        a, b = rows[form.cleaned_data["a"]], rows[form.cleaned_data["b"]]
        lines = compare_lines(board, a, b)
        points = [
            plots.Point(line.column.identifier, line.a, line.b)
            for line in lines if line.column.is_benchmark and line.difference is not None
        ]
        context.update({
            "a": a,
            "b": b,
            "lines": lines,
            "table": detail_tables.compare_table(a.model, b.model, lines),
            "counts": {
                "a": sum(1 for line in lines if line.column.is_benchmark and line.higher == "a"),
                "b": sum(1 for line in lines if line.column.is_benchmark and line.higher == "b"),
                "equal": sum(1 for line in lines
                             if line.column.is_benchmark and line.higher == "equal"),
            },
            "reliably": {
                side: [line.column.identifier for line in lines if line.verdict == side]
                for side in ("a", "b", "tied")
            },
            "paired_count": sum(1 for line in lines if line.paired is not None),
            "plot": mark_safe(plots.scatter(
                points, title=f"{a.model} vs {b.model}, one point per benchmark",
                x_label=f"{a.model} (ceiled score)", y_label=f"{b.model} (ceiled score)",
            )),
        })
    return render(request, "leaderboard/compare.html", context)
