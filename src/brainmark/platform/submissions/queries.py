"""What a user may see of submissions: their own (staff: everyone's), with jobs and models.

One module serves the pages and the API, so both show the same things to the same people.
A submission of someone else is answered as if it did not exist (404), never 403, so ids
do not reveal what others submitted. Jobs of a submission can score models of other users
(a new benchmark is scored on every model): another user's private model is shown to a
non-staff viewer without its name, keeping private models private while the submitter
still sees the status of every job their submission started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from brainmark.platform.leaderboard.models import ModelVersion
from brainmark.platform.submissions.models import Job, Submission

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
    """One job as a viewer sees it: ``model`` is None for another user's private model."""

    id: int
    model: str | None
    model_version: int
    benchmark: str
    benchmark_version: int
    status: str
    status_display: str
    attempts: int
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
            created=job.created,
            updated=job.updated,
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
