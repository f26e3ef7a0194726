"""The submissions endpoints of the JSON API (mounted at ``/api/submissions/``).

``GET /api/submissions/`` lists the caller's submissions; ``GET /api/submissions/{id}``
gives one submission's status, log, jobs and the models it brought, to its owner and to
staff (404 to anyone else, as on the page). Both take an API token (``Authorization:
Bearer ...``) or a logged-in session. What is shown follows :mod:`.queries`, as the pages do.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Path, Router, Schema
from ninja.security import django_auth

from brainmark.platform.accounts.auth import ApiTokenAuth
from brainmark.platform.schemas import ErrorOut, ValidationErrorOut
from brainmark.platform.submissions.models import (
    JobStatus,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from brainmark.platform.submissions.queries import (
    MAX_ID,
    job_lines,
    models_from,
    submission_for,
    submissions_of,
)

router = Router(tags=["submissions"])

Kind = Literal["model", "benchmark", "plugins"]
Status = Literal["received", "validating", "validated", "testing", "tested", "merged",
                 "scoring", "succeeded", "failed", "rejected"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
# One list of each: the schema's enums are the models' choices.
assert set(Kind.__args__) == set(SubmissionKind.values)
assert set(Status.__args__) == set(SubmissionStatus.values)
assert set(JobState.__args__) == set(JobStatus.values)

AUTH = [ApiTokenAuth(), django_auth]


class SubmissionSummary(Schema):
    """A submission: what it is and how far it got."""

    id: int
    kind: Kind
    status: Status
    status_display: str
    final: bool
    created: datetime
    updated: datetime


class JobOut(Schema):
    """One scoring job of the submission. ``model`` is null for another user's private
    model (its name is theirs to share)."""

    id: int
    model: str | None
    model_version: int
    benchmark: str
    benchmark_version: int
    status: JobState
    status_display: str
    attempts: int
    created: datetime
    updated: datetime


class ModelVersionOut(Schema):
    """A model version the submission brought; its page is ``/models/{identifier}/``."""

    identifier: str
    version: int


class SubmissionDetail(SubmissionSummary):
    """A submission with its log, its jobs and the model versions it brought."""

    log: str
    jobs: list[JobOut]
    models: list[ModelVersionOut]


def _summary(submission: Submission) -> dict:
    return {
        "id": submission.pk,
        "kind": submission.kind,
        "status": submission.status,
        "status_display": submission.get_status_display(),
        "final": submission.status in Submission.FINAL_STATUSES,
        "created": submission.created,
        "updated": submission.updated,
    }


@router.get("/", response={200: list[SubmissionSummary], 401: ErrorOut}, auth=AUTH)
def list_submissions(request: HttpRequest) -> list[dict]:
    """The caller's submissions, newest first (status only; the log is on each one's own
    endpoint)."""
    return [_summary(submission) for submission in submissions_of(request.auth)]


@router.get(
    "/{submission_id}",
    response={200: SubmissionDetail, 401: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut},
    auth=AUTH,
)
def get_submission(
    request: HttpRequest, submission_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict:
    """One submission's status, log, jobs and models: to its owner and staff, a 404 to
    anyone else."""
    submission = submission_for(request.auth, submission_id)
    jobs = job_lines(submission, request.auth)
    return {
        **_summary(submission),
        "log": submission.log,
        "jobs": [
            {field: getattr(job, field) for field in JobOut.model_fields} for job in jobs
        ],
        "models": [asdict(model) for model in models_from(submission)],
    }
