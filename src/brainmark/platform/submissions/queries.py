"""What a user may see of submissions: their own (staff: everyone's), with their stages,
jobs, scores and models; and the staff's overview of the job queue.

One module serves the pages and the API, so both show the same things to the same people.
A submission of someone else is answered as if it did not exist (404), never 403, so ids
do not reveal what others submitted. Jobs of a submission can score models of other users
(a new benchmark is scored on every model): another user's private model is shown to a
non-staff viewer without its name, keeping private models private while the submitter
still sees the status of every job their submission started.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from brainmark.platform.leaderboard.models import ModelVersion, Score
from brainmark.platform.submissions.models import (
    FailureKind,
    Job,
    JobStatus,
    Submission,
    SubmissionStatus,
)

#: The largest id a database key holds (64-bit); larger ones name no submission.
MAX_ID = 2**63 - 1


def is_staff(user: Any) -> bool:
    """Active staff see every submission."""
    return bool(getattr(user, "is_staff", False) and getattr(user, "is_active", False))


def submissions_of(user: Any) -> QuerySet[Submission]:
    """The user's own submissions, newest first (without their logs, which can be long)."""
    return Submission.objects.filter(user=user).defer("log").order_by("-created", "-pk")


def submission_for(user: Any, pk: int) -> Submission:
    """Submission ``pk`` when ``user`` owns it or is staff; Http404 otherwise."""
    if not 0 < pk <= MAX_ID:  # out of the key's range: none, rather than a database error
        raise Http404("No such submission.")
    submission = Submission.objects.select_related("user").filter(pk=pk).first()
    if submission is None or not (submission.user_id == user.pk or is_staff(user)):
        raise Http404("No such submission.")
    return submission


@dataclass(frozen=True)
class JobLine:
    """One job as a viewer sees it: ``model`` is None for another user's private model, whose
    failure reason and log are then left out too (they may quote its code)."""

    id: int
    model: str | None
    model_version: int
    benchmark: str
    benchmark_version: int
    status: str
    status_display: str
    attempts: int
    worker: str
    failure_kind: str
    failure_kind_display: str
    failure_reason: str
    wall_seconds: float | None
    started: datetime | None
    finished: datetime | None
    log: str
    created: datetime
    updated: datetime


def job_lines(submission: Submission, viewer: Any) -> list[JobLine]:
    """The submission's jobs in the order they were planned, named for ``viewer``."""
    jobs = (
        Job.objects.filter(submission=submission)
        .select_related("model_version__model", "benchmark_version__benchmark_type")
        .order_by("created", "pk")
    )
    staff = is_staff(viewer)
    lines = []
    for job in jobs:
        model = job.model_version.model
        named = staff or model.public or model.owner_id == viewer.pk
        lines.append(JobLine(
            id=job.pk,
            model=model.identifier if named else None,
            model_version=job.model_version.version,
            benchmark=job.benchmark_version.benchmark_type.identifier,
            benchmark_version=job.benchmark_version.version,
            status=job.status,
            status_display=job.get_status_display(),
            attempts=job.attempts,
            worker=job.worker,
            failure_kind=job.failure_kind,
            failure_kind_display=job.get_failure_kind_display() if job.failure_kind else "",
            failure_reason=job.failure_reason if named else "",
            wall_seconds=job.wall_seconds,
            started=job.started,
            finished=job.finished,
            log=job.log if named else "",
            created=job.created,
            updated=job.updated,
        ))
    return lines


# --- stages, progress and why it failed -----------------------------------------------------

#: Every status in pipeline order; the ones a submission passes on its way to success are
#: shown ahead of time while it runs.
STAGE_ORDER = tuple(SubmissionStatus.values)
_ON_THE_WAY = (
    SubmissionStatus.RECEIVED, SubmissionStatus.VALIDATED, SubmissionStatus.TESTED,
    SubmissionStatus.MERGED, SubmissionStatus.SCORING, SubmissionStatus.SUCCEEDED,
)
FINISHED_JOB_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED)
#: Log lines shown as the reason of a failed submission none of whose jobs says why.
REASON_LOG_LINES = 10


@dataclass(frozen=True)
class Progress:
    """``finished`` (succeeded or failed) of ``total`` jobs."""

    finished: int
    total: int


@dataclass(frozen=True)
class Stage:
    """A status on the submission's way: ``time`` when reached (None: not yet, or unknown)."""

    status: str
    label: str
    time: datetime | None
    reached: bool
    current: bool


def job_progress(jobs: Iterable[JobLine]) -> Progress:
    """Scoring ``n of m``: jobs that finished (succeeded or failed) of all the jobs."""
    jobs = list(jobs)
    return Progress(sum(job.status in FINISHED_JOB_STATUSES for job in jobs), len(jobs))


def stages_of(submission: Submission, progress: Progress) -> list[Stage]:
    """The statuses the submission reached (with the time from ``Submission.stages``) and,
    while it runs, those still ahead on the way to success."""
    times = {status: _parse_time(value) for status, value in (submission.stages or {}).items()}
    times.setdefault(SubmissionStatus.RECEIVED, submission.created)
    final = submission.status in Submission.FINAL_STATUSES
    current = STAGE_ORDER.index(submission.status)
    stages = []
    for index, status in enumerate(STAGE_ORDER):
        if status == submission.status:
            reached = True
        elif status in Submission.FINAL_STATUSES and (
            final or status != SubmissionStatus.SUCCEEDED
        ):
            continue  # another ending (e.g. the failure before a re-run) is not on the way
        elif status in times:
            reached = True
        elif status not in _ON_THE_WAY or (
            final and submission.status != SubmissionStatus.SUCCEEDED
        ):
            continue  # skipped, or not known to be passed on the way to a failure
        else:
            reached = index < current  # passed without a recorded time, or still ahead
        label = SubmissionStatus(status).label
        if status == SubmissionStatus.SCORING and progress.total:
            label = f"{label}: {progress.finished} of {progress.total} jobs finished"
        stages.append(Stage(status, label, times.get(status), reached,
                            status == submission.status))
    return stages


def _parse_time(value: Any) -> datetime | None:
    """An ISO time of ``Submission.stages`` (None when it is not one)."""
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def failure_reasons(submission: Submission, jobs: Iterable[JobLine]) -> list[str]:
    """Why a failed (or cancelled) submission ended: each failed job's reason, else the
    log's last lines. Empty unless it failed or was cancelled; never empty when it did.
    """
    if submission.status not in (SubmissionStatus.FAILED, SubmissionStatus.CANCELLED):
        return []
    reasons = [
        f"{job.model or 'a private model'} on {job.benchmark}: "
        f"{job.failure_reason or job.failure_kind_display or 'failed'}"
        for job in jobs if job.status == JobStatus.FAILED
    ]
    if reasons:
        return reasons
    lines = [line for line in submission.log.splitlines() if line.strip()]
    return lines[-REASON_LOG_LINES:] or ["The submission failed without a log line saying why."]


# --- scores ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreLine:
    """A score of a model or benchmark version the submission brought."""

    model: str | None
    model_version: int
    benchmark: str
    benchmark_version: int
    ceiled: float | None
    raw: float | None
    error: float | None
    comment: str


def score_lines(submission: Submission, viewer: Any) -> list[ScoreLine]:
    """Scores of the model versions from ``submission`` and of the versions of every
    benchmark it registers (``Submission.identifiers``), as they arrive."""
    benchmarks = [identifier for registry, identifier in (submission.identifiers or [])
                  if registry == "benchmark_registry"]
    scores = (
        Score.objects.filter(
            Q(model_version__submission=submission)
            | Q(benchmark_version__benchmark_type__identifier__in=benchmarks)
        )
        .select_related("model_version__model", "benchmark_version__benchmark_type")
        .order_by("model_version__model__identifier", "model_version__version",
                  "benchmark_version__benchmark_type__identifier", "benchmark_version__version")
    )
    staff = is_staff(viewer)
    lines = []
    for score in scores:
        model = score.model_version.model
        named = staff or model.public or model.owner_id == viewer.pk
        lines.append(ScoreLine(
            model=model.identifier if named else None,
            model_version=score.model_version.version,
            benchmark=score.benchmark_version.benchmark_type.identifier,
            benchmark_version=score.benchmark_version.version,
            ceiled=score.ceiled,
            raw=score.raw,
            error=score.error,
            comment=score.comment if named else "",
        ))
    return lines


@dataclass(frozen=True)
class ModelFromSubmission:
    """A model version this submission brought."""

    identifier: str
    version: int


def models_from(submission: Submission) -> list[ModelFromSubmission]:
    """The model versions that came from ``submission`` (ModelVersion.submission)."""
    versions = (
        ModelVersion.objects.filter(submission=submission)
        .select_related("model")
        .order_by("model__identifier", "version")
    )
    return [ModelFromSubmission(v.model.identifier, v.version) for v in versions]


# --- the staff's queue ----------------------------------------------------------------------

#: Failures are counted over this window, and workers seen finishing a job within it listed.
FAILURE_WINDOW = timedelta(days=7)
WORKER_WINDOW = timedelta(hours=24)
#: Running and failed jobs listed on the queue page at most (newest first).
MAX_LISTED_JOBS = 200
# The transitions clear a job's worker when its attempt ends; the log's claim line keeps it
# ("... queued -> running on <worker> (attempt N, ...)", written by jobs.apply).
_CLAIM_LINE = re.compile(r" -> running on (?P<worker>.+) \(attempt \d+")


@dataclass(frozen=True)
class WorkerLine:
    """A worker holding a job now or seen finishing one lately, with its last heartbeat."""

    name: str
    running: int
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class QueueJob:
    """A running or failed job as staff see it on the queue page."""

    id: int
    submission_id: int | None
    model: str
    model_version: int
    benchmark: str
    benchmark_version: int
    status: str
    status_display: str
    attempts: int
    worker: str
    heartbeat: datetime | None
    failure_kind: str
    failure_reason: str
    updated: datetime


@dataclass(frozen=True)
class QueueOverview:
    """What the staff's queue page shows (see :func:`queue_overview`)."""

    counts: dict[str, int]
    oldest_wait: timedelta | None
    median_wait: timedelta | None
    failures_by_kind: dict[str, int]
    workers: list[WorkerLine]
    jobs: list[QueueJob]


def queue_overview(now: datetime | None = None) -> QueueOverview:
    """Jobs by status; how long queued jobs have waited (since they were last queued: their
    ``updated``), oldest and median; failed jobs of the last 7 days by failure kind; workers
    running a job or seen finishing one in the last 24 hours; running and failed jobs."""
    now = timezone.now() if now is None else now
    counts = dict.fromkeys(JobStatus.values, 0)
    for row in Job.objects.values("status").annotate(number=Count("pk")):
        counts[row["status"]] = row["number"]
    waits = sorted(now - queued for queued in
                   Job.objects.filter(status=JobStatus.QUEUED).values_list("updated", flat=True))
    since = now - FAILURE_WINDOW
    recent_failures = Job.objects.filter(status=JobStatus.FAILED).filter(
        Q(finished__gte=since) | Q(finished__isnull=True, updated__gte=since)
    )
    failures = {kind: 0 for kind in FailureKind.values}
    for row in recent_failures.values("failure_kind").annotate(number=Count("pk")):
        failures[row["failure_kind"] or "unknown"] = row["number"]
    return QueueOverview(
        counts=counts,
        oldest_wait=waits[-1] if waits else None,
        median_wait=statistics.median(waits) if waits else None,
        failures_by_kind=failures,
        workers=_workers(now),
        jobs=_queue_jobs(),
    )


def _workers(now: datetime) -> list[WorkerLine]:
    running: dict[str, int] = {}
    heartbeats: dict[str, datetime | None] = {}

    def seen(name: str, heartbeat: datetime | None) -> None:
        last = heartbeats.get(name)
        heartbeats[name] = max(filter(None, (last, heartbeat)), default=None)

    for name, heartbeat in Job.objects.filter(status=JobStatus.RUNNING).values_list(
        "worker", "heartbeat"
    ):
        running[name] = running.get(name, 0) + 1
        seen(name, heartbeat)
    ended = Job.objects.filter(
        status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED],
        finished__gte=now - WORKER_WINDOW,
    )
    for log, heartbeat in ended.values_list("log", "heartbeat"):
        claims = _CLAIM_LINE.findall(log)
        if claims:
            seen(claims[-1], heartbeat)
    return sorted(
        (WorkerLine(name, running.get(name, 0), heartbeat)
         for name, heartbeat in heartbeats.items()),
        key=lambda worker: (-worker.running, worker.name),
    )


def _queue_jobs() -> list[QueueJob]:
    rows = Job.objects.select_related("model_version__model",
                                      "benchmark_version__benchmark_type")
    # Running first, then failed; the latest change first within each.
    running = list(rows.filter(status=JobStatus.RUNNING)
                   .order_by("-updated", "-pk")[:MAX_LISTED_JOBS])
    jobs = running + list(rows.filter(status=JobStatus.FAILED).order_by("-updated", "-pk")
                          [:MAX_LISTED_JOBS - len(running)])
    return [
        QueueJob(
            id=job.pk,
            submission_id=job.submission_id,
            model=job.model_version.model.identifier,
            model_version=job.model_version.version,
            benchmark=job.benchmark_version.benchmark_type.identifier,
            benchmark_version=job.benchmark_version.version,
            status=job.status,
            status_display=job.get_status_display(),
            attempts=job.attempts,
            worker=job.worker,
            heartbeat=job.heartbeat,
            failure_kind=job.failure_kind,
            failure_reason=job.failure_reason,
            updated=job.updated,
        )
        for job in jobs
    ]
