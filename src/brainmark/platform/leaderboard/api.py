"""The leaderboard endpoints of the JSON API (mounted at ``/api/`` by
:mod:`brainmark.platform.api`): the board, models, benchmarks and scores.

Read endpoints are open to everyone; a request may say who it is with an API token
(``Authorization: Bearer bm_...``) or a logged-in session, and then also sees that user's
private models (staff: every model). A private model is a 404 to anyone else, exactly like
a model that does not exist, and never enters ranks, scales or another user's answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate

from brainmark.platform.leaderboard.exports import RULE, board_json
from brainmark.platform.leaderboard.forms import BoardState, BoardStateError, benchmarks_under
from brainmark.platform.leaderboard.models import (
    BenchmarkType,
    BenchmarkVersion,
    Model,
    Score,
)
from brainmark.platform.leaderboard.snapshots import board_for, memoized
from brainmark.platform.leaderboard.uncertainty import record_interval, reproduce_command
from brainmark.platform.schemas import ErrorOut, ValidationErrorOut

router = Router(tags=["leaderboard"])


def api_viewer(request: HttpRequest) -> Any:
    """Who asks: the user of a valid Bearer token, else the session's user (maybe
    anonymous). A token that is not valid is a 401, never a silent anonymous answer."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "Authorization must be 'Bearer <API token>'.")
        from brainmark.platform.accounts.models import ApiToken

        api_token = ApiToken.objects.authenticate(token.strip())
        if api_token is None:
            raise HttpError(401, "The API token is not valid (unknown, revoked, or its user "
                                 "is inactive).")
        return api_token.user
    return request.user


def models_seen_by(viewer: Any) -> Q:
    """The models ``viewer`` may see through the API: public ones not withdrawn, their own
    (withdrawn too: nothing about their own work is hidden from them), all for staff."""
    if viewer is not None and viewer.is_authenticated:
        if viewer.is_staff and viewer.is_active:
            return Q()
        return Q(public=True, withdrawn=False) | Q(owner_id=viewer.pk)
    return Q(public=True, withdrawn=False)


def _benchmark_versions_seen_by(viewer: Any) -> Q:
    if viewer is not None and viewer.is_authenticated and viewer.is_staff:
        return Q()
    return Q(public=True)


ERRORS = {401: ErrorOut, 422: ValidationErrorOut}
LARGEST_VERSION = 2**31 - 1  # a PositiveIntegerField's largest value


class Pages(PageNumberPagination):
    """Page-number pagination (100 a page by default, at most 1,000) with bounded numbers."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=10**6)
        page_size: int | None = Field(None, ge=1, le=1000)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(page_size=100, max_page_size=1000, **kwargs)


# ---------------------------------------------------------------------------------------
# The board


class ColumnOut(Schema):
    identifier: str
    parent: str | None
    depth: int
    is_benchmark: bool
    version: int | None
    ceiling: float | None
    excluded: bool
    scale: list[float | None] = Field(description="[min, max] over public models.")


class RowOut(Schema):
    model: str
    model_version: int
    public: bool
    rank: int | None = Field(description="Rank by average_vision among public models.")
    metadata: dict[str, Any]
    values: dict[str, float | None]
    errors: dict[str, str]
    bounds: dict[str, list[float]] = Field(
        description="Column -> [lower, upper] of the value's 95 % confidence interval (a "
                    "benchmark's from its score record, clamped to [0, 1] as the value is; a "
                    "node's from its children's bootstrap resamples). Absent where not known, "
                    "e.g. for scores recorded before intervals.")
    tied: dict[str, bool] = Field(
        description="Node of the tree -> whether this public model is tied with the model "
                    "ranked just above it there: equal values, or the 95 % interval of their "
                    "paired bootstrap difference holds 0. Absent for the first model and "
                    "where the two cannot be compared (no resamples recorded).")


class LeaderboardOut(Schema):
    as_of: str | None
    excluded: list[str]
    rule: str = Field(RULE)
    columns: list[ColumnOut]
    rows: list[RowOut]


@router.get("/leaderboard", response={200: LeaderboardOut, 400: ErrorOut, **ERRORS})
def leaderboard(
    request: HttpRequest,
    exclude: str = Query("", description="Benchmarks to leave out of the averages, a,b"),
    as_of: str = Query("", description="The board as of a date (2026-05-01) or time (ISO)"),
    expanded: str | None = Query(
        None, description="Only the nodes and the benchmarks beneath these nodes (a,b); "
                          "every column when absent"),
) -> Any:
    """The leaderboard: columns (the tree's nodes and the benchmarks, tree order) and rows
    (models with their values, errors and overall rank). Private models appear only to
    their owner and staff, unranked."""
    viewer = api_viewer(request)
    query = request.GET.copy()
    for name, value in (("exclude", exclude), ("as_of", as_of)):
        query[name] = value
    try:
        state = BoardState.from_query(query)
        board, key = board_for(viewer, as_of=state.as_of, excluded=state.excluded)
        state.check_against([c.identifier for c in board.columns],
                            [c.identifier for c in board.benchmarks])
    except BoardStateError as error:
        raise HttpError(400, str(error)) from None
    benchmarks = benchmarks_under(board, state.expanded) if expanded is not None else None
    body = memoized(key, ("api", state.board_query(), expanded),
                    lambda: board_json(board, benchmarks))
    return HttpResponse(body, content_type="application/json")


# ---------------------------------------------------------------------------------------
# Models


class ModelSummary(Schema):
    identifier: str
    public: bool
    withdrawn: bool
    license: str
    metadata: dict[str, Any]
    latest_version: int | None
    created: datetime


class ScoreOut(Schema):
    id: int
    model: str
    model_version: int
    benchmark: str
    benchmark_version: int
    raw: float | None
    ceiled: float | None
    error: float | None
    ceiling: float | None
    comment: str
    start: datetime | None
    end: datetime | None
    lower: float | None = Field(
        None, description="Lower bound of the ceiled score's confidence interval (the "
                          "record's interval, unclamped); null for scores recorded without one.")
    upper: float | None = Field(None, description="Upper bound of that interval.")
    interval_level: float | None = Field(None, description="The interval's level, e.g. 0.95.")

    @staticmethod
    def resolve_lower(score: Score) -> float | None:
        return record_interval(score.record)[0]

    @staticmethod
    def resolve_upper(score: Score) -> float | None:
        return record_interval(score.record)[1]

    @staticmethod
    def resolve_interval_level(score: Score) -> float | None:
        level = score.record.get("interval_level") if isinstance(score.record, dict) else None
        return level if isinstance(level, int | float) else None

    @staticmethod
    def resolve_model(score: Score) -> str:
        return score.model_version.model.identifier

    @staticmethod
    def resolve_model_version(score: Score) -> int:
        return score.model_version.version

    @staticmethod
    def resolve_benchmark(score: Score) -> str:
        return score.benchmark_version.benchmark_type.identifier

    @staticmethod
    def resolve_benchmark_version(score: Score) -> int:
        return score.benchmark_version.version


class ModelVersionWithScores(Schema):
    version: int
    plugin_sha1: str
    visual_degrees: float
    created: datetime
    scores: list[ScoreOut]


class ModelDetail(ModelSummary):
    versions: list[ModelVersionWithScores]


def _model_summary(model: Model) -> dict:
    versions = [version.version for version in model.versions.all()]
    return {
        "identifier": model.identifier, "public": model.public, "withdrawn": model.withdrawn,
        "license": model.license, "metadata": model.metadata,
        "latest_version": max(versions) if versions else None, "created": model.created,
    }


@router.get("/models", response={200: list[ModelSummary], **ERRORS})
@paginate(Pages)
def models(request: HttpRequest) -> Any:
    """Every model the caller may see (public ones, plus their own), by identifier."""
    viewer = api_viewer(request)
    return [
        _model_summary(model)
        for model in Model.objects.filter(models_seen_by(viewer))
        .prefetch_related("versions").order_by("identifier")
    ]


@router.get("/models/{identifier}", response={200: ModelDetail, 404: ErrorOut, **ERRORS})
def model(request: HttpRequest, identifier: str) -> Any:
    """One model with every version and each version's scores (404 when private to
    someone else)."""
    viewer = api_viewer(request)
    found = Model.objects.filter(models_seen_by(viewer), identifier=identifier).first()
    if found is None:
        raise HttpError(404, f"No model {identifier!r}.")
    scores = (
        Score.objects.filter(model_version__model=found)
        .filter(benchmark_version__in=BenchmarkVersion.objects.filter(
            _benchmark_versions_seen_by(viewer)))
        .select_related("model_version__model", "benchmark_version__benchmark_type")
        .order_by("benchmark_version__benchmark_type__identifier", "benchmark_version__version")
    )
    by_version: dict[int, list[Score]] = {}
    for score in scores:
        by_version.setdefault(score.model_version_id, []).append(score)
    versions = [
        {"version": version.version, "plugin_sha1": version.plugin_sha1,
         "visual_degrees": version.visual_degrees, "created": version.created,
         "scores": by_version.get(version.pk, [])}
        for version in found.versions.order_by("-version")
    ]
    return {**_model_summary(found), "versions": versions}


# ---------------------------------------------------------------------------------------
# Benchmarks


class BenchmarkSummary(Schema):
    identifier: str
    parent: str | None
    is_benchmark: bool = Field(description="A leaf with versions; false for a tree node.")
    latest_version: int | None
    ceiling: float | None


class BenchmarkVersionOut(Schema):
    version: int
    ceiling: float | None
    ceiling_error: float | None
    bibtex: str
    metadata: dict[str, Any]
    license: str
    public: bool
    created: datetime


class BenchmarkDetail(BenchmarkSummary):
    children: list[str]
    versions: list[BenchmarkVersionOut]


def _benchmark_summary(kind: BenchmarkType, versions: list[BenchmarkVersion]) -> dict:
    latest = max(versions, key=lambda version: version.version) if versions else None
    return {
        "identifier": kind.identifier,
        "parent": kind.parent.identifier if kind.parent else None,
        "is_benchmark": latest is not None,
        "latest_version": latest.version if latest else None,
        "ceiling": latest.ceiling if latest else None,
    }


@router.get("/benchmarks", response={200: list[BenchmarkSummary], **ERRORS})
@paginate(Pages)
def benchmarks(request: HttpRequest) -> Any:
    """The benchmark tree: its nodes and the benchmarks with a published version."""
    viewer = api_viewer(request)
    seen = _benchmark_versions_seen_by(viewer)
    versions: dict[int, list[BenchmarkVersion]] = {}
    for version in BenchmarkVersion.objects.filter(seen):
        versions.setdefault(version.benchmark_type_id, []).append(version)
    kinds = BenchmarkType.objects.select_related("parent").filter(visible=True)
    parents = set(BenchmarkType.objects.filter(parent__isnull=False)
                  .values_list("parent_id", flat=True))
    return [
        _benchmark_summary(kind, versions.get(kind.pk, []))
        for kind in kinds.order_by("identifier")
        if kind.pk in versions or kind.pk in parents
    ]


@router.get("/benchmarks/{identifier}",
            response={200: BenchmarkDetail, 404: ErrorOut, **ERRORS})
def benchmark(request: HttpRequest, identifier: str) -> Any:
    """One benchmark (or tree node): its versions with ceilings and references."""
    viewer = api_viewer(request)
    kind = BenchmarkType.objects.select_related("parent").filter(identifier=identifier).first()
    versions = list(kind.versions.filter(_benchmark_versions_seen_by(viewer))
                    .order_by("-version")) if kind else []
    children = list(kind.children.order_by("order", "identifier")
                    .values_list("identifier", flat=True)) if kind else []
    if kind is None or (not versions and not children):
        raise HttpError(404, f"No benchmark {identifier!r}.")
    return {
        **_benchmark_summary(kind, versions),
        "children": children,
        "versions": [
            {"version": v.version, "ceiling": v.ceiling, "ceiling_error": v.ceiling_error,
             "bibtex": v.bibtex, "metadata": v.metadata, "license": v.license,
             "public": v.public, "created": v.created}
            for v in versions
        ],
    }


# ---------------------------------------------------------------------------------------
# Scores


@router.get("/scores", response={200: list[ScoreOut], **ERRORS})
@paginate(Pages)
def scores(
    request: HttpRequest,
    model: str = Query("", description="Only this model's scores"),
    benchmark: str = Query("", description="Only this benchmark's scores"),
    version: int | None = Query(None, ge=1, le=LARGEST_VERSION,
                                description="Only this model version"),
    benchmark_version: int | None = Query(None, ge=1, le=LARGEST_VERSION,
                                          description="Only this benchmark version"),
) -> Any:
    """Scores (every version's, oldest first), filtered by model, benchmark and versions."""
    rows = _scores_seen_by(api_viewer(request))
    if model:
        rows = rows.filter(model_version__model__identifier=model)
    if benchmark:
        rows = rows.filter(benchmark_version__benchmark_type__identifier=benchmark)
    if version is not None:
        rows = rows.filter(model_version__version=version)
    if benchmark_version is not None:
        rows = rows.filter(benchmark_version__version=benchmark_version)
    return (
        rows.select_related("model_version__model", "benchmark_version__benchmark_type")
        .order_by("pk")
    )



def _scores_seen_by(viewer: Any) -> Any:
    """The Score rows ``viewer`` may see: of the models and benchmark versions they see."""
    return Score.objects.filter(
        model_version__model__in=Model.objects.filter(models_seen_by(viewer)),
        benchmark_version__in=BenchmarkVersion.objects.filter(
            _benchmark_versions_seen_by(viewer)),
    )


class ScoreDetail(ScoreOut):
    record: dict[str, Any] = Field(
        description="The full score record: the values, their intervals and resample values, "
                    "and the manifest (brainmark, Python and torch versions, plugin content "
                    "hashes, data SHA1s, seeds, layer commitment). Empty for a failed score.")
    plugin_commit: str = Field(
        description="The plugin store's commit the score was computed at; empty when only "
                    "built-in plugins (or a plugin path) were used.")
    reproduce: str = Field(description="The command that runs this score again and compares.")


@router.get("/scores/{score_id}", response={200: ScoreDetail, 404: ErrorOut, **ERRORS})
def score(request: HttpRequest, score_id: int) -> Any:
    """One score with its full record and the plugin store commit it was computed at: what
    ``brainmark reproduce SCORE_ID`` fetches (404 when the caller may not see it)."""
    from brainmark.platform.submissions.models import Job

    found = (_scores_seen_by(api_viewer(request)).filter(pk=score_id)
             .select_related("model_version__model", "benchmark_version__benchmark_type")
             .first())
    if found is None:
        raise HttpError(404, f"No score {score_id}.")
    commit = (Job.objects.filter(model_version_id=found.model_version_id,
                                 benchmark_version_id=found.benchmark_version_id,
                                 status=Job.Status.SUCCEEDED)
              .order_by("-finished").values_list("plugin_commit", flat=True).first())
    found.plugin_commit = commit or ""
    found.reproduce = reproduce_command(found.pk, request.build_absolute_uri("/"))
    return found
