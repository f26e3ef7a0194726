"""The submissions endpoints of the JSON API (mounted at ``/api/submissions/``).

``GET /api/submissions/`` lists the caller's submissions; ``GET /api/submissions/{id}``
gives one submission's status, stages, log, problems, jobs, scores and the models it
brought, to its owner and to staff (404 to anyone else, as on the page). Both take an API
token (``Authorization: Bearer ...``) or a logged-in session. What is shown follows
:mod:`.queries`, as the pages do.

``POST /api/submissions/`` takes a zip of plugins (multipart: ``file``, ``private``) with an
API token and runs it through :func:`.intake.receive_submission`. The body is streamed
through the uploads' hashing handler (no body parameters for django-ninja to parse, which
would read it first); the form is described to OpenAPI explicitly. An archive that was
stored but refused by validation answers 201 too, with status ``rejected`` and its
problems: the submission exists and is shown on its page. Nothing is stored on 400, 401,
413 or 429.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Path, Router, Schema
from ninja import Status as Answer
from ninja.security import django_auth

from brainmark.pipeline.archive import ArchiveLimits
from brainmark.platform.accounts.auth import ApiTokenAuth
from brainmark.platform.schemas import ErrorOut, ValidationErrorOut
from brainmark.platform.submissions.forms import archive_too_big
from brainmark.platform.submissions.intake import (
    IntakeError,
    check_quota,
    check_rate,
    quota_left,
    receive_submission,
)
from brainmark.platform.submissions.models import (
    FailureKind,
    JobStatus,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from brainmark.platform.submissions.queries import (
    MAX_ID,
    failure_reasons,
    job_lines,
    job_progress,
    models_from,
    score_lines,
    stages_of,
    submission_for,
    submissions_of,
)
from brainmark.platform.uploads.handlers import FILE_FIELD, HashingUploadHandler, received_file
from brainmark.platform.uploads.services import FORM_OVERHEAD_BYTES, UploadError

router = Router(tags=["submissions"])

Kind = Literal["model", "benchmark", "plugins"]
Status = Literal["received", "validating", "validated", "testing", "tested", "merged",
                 "scoring", "succeeded", "failed", "rejected", "cancelled"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FailureKindOut = Literal["out_of_memory", "deterministic", "transient"]
# One list of each: the schema's enums are the models' choices.
assert set(Kind.__args__) == set(SubmissionKind.values)
assert set(Status.__args__) == set(SubmissionStatus.values)
assert set(JobState.__args__) == set(JobStatus.values)
assert set(FailureKindOut.__args__) == set(FailureKind.values)

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
    worker: str = Field(description="The worker holding it (empty unless running).")
    failure_kind: FailureKindOut | Literal[""] = Field(
        description="Why its last attempt failed; empty when none did."
    )
    failure_kind_display: str
    failure_reason: str
    wall_seconds: float | None = Field(description="The last attempt's wall time.")
    started: datetime | None
    finished: datetime | None
    log: str = Field(description="Its state changes, one line each (empty for another "
                     "user's private model).")
    created: datetime
    updated: datetime


class StageOut(Schema):
    """A status on the submission's way: ``time`` when it was reached (null: not yet, or not
    recorded); the scoring stage's label says how many jobs finished."""

    status: Status
    label: str
    time: datetime | None
    reached: bool
    current: bool


class ProgressOut(Schema):
    """Scoring n of m: ``finished`` (succeeded or failed) of ``total`` jobs."""

    finished: int
    total: int


class ScoreOut(Schema):
    """A score of a model or benchmark version the submission brought (``model`` null for
    another user's private model); ``comment`` says why a failed one has no value."""

    model: str | None
    model_version: int
    benchmark: str
    benchmark_version: int
    ceiled: float | None
    raw: float | None
    error: float | None
    comment: str


class ModelVersionOut(Schema):
    """A model version the submission brought; its page is ``/models/{identifier}/``."""

    identifier: str
    version: int


class ProblemOut(Schema):
    """Why an archive was refused: the file inside it, the rule, and what to do."""

    file: str
    rule: str
    message: str


class SubmissionDetail(SubmissionSummary):
    """A submission with its stages, log, problems, jobs, scores and the model versions it
    brought."""

    private: bool
    identifiers: list[tuple[str, str]] = Field(
        description="What the archive registers, each [registry, identifier]."
    )
    stages: list[StageOut]
    progress: ProgressOut
    log: str
    problems: list[ProblemOut]
    failure_reasons: list[str] = Field(
        description="Why a failed submission failed (each failed job's reason, else the "
        "log's last lines); empty unless failed."
    )
    jobs: list[JobOut]
    scores: list[ScoreOut]
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
    progress = job_progress(jobs)
    return {
        **_summary(submission),
        "private": submission.private,
        "identifiers": [tuple(pair) for pair in submission.identifiers or []],
        "stages": [asdict(stage) for stage in stages_of(submission, progress)],
        "progress": asdict(progress),
        "log": submission.log,
        "problems": submission.problems or [],
        "failure_reasons": failure_reasons(submission, jobs),
        "jobs": [
            {field: getattr(job, field) for field in JobOut.model_fields} for job in jobs
        ],
        "scores": [asdict(score) for score in score_lines(submission, request.auth)],
        "models": [asdict(model) for model in models_from(submission)],
    }


class SubmissionReceived(SubmissionSummary):
    """A stored submission: its archive, its problems (empty unless rejected), its page."""

    private: bool
    archive_sha1: str
    archive_size: int
    problems: list[ProblemOut]
    url: str
    submissions_left: int | None = Field(
        description="Accepted submissions you may still make in the next 24 hours; null "
        "for staff (no limit)."
    )


SUBMIT_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary",
                             "description": "The zip of plugin folders (models/, benchmarks/, "
                             "data/, metrics/), at most 50 MB."},
                    "private": {"type": "boolean", "default": False,
                                "description": "Scores shown only to you and staff."},
                },
            }
        }
    },
}

_TRUE = ("true", "1", "on", "yes")
_FALSE = ("false", "0", "off", "no", "")


def _private_field(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise IntakeError(f"The field 'private' must be true or false; got {value!r}.")


@router.post(
    "/",
    auth=ApiTokenAuth(),
    response={201: SubmissionReceived, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut,
              429: ErrorOut, 502: ErrorOut},
    openapi_extra={"requestBody": SUBMIT_REQUEST_BODY},
    summary="Submit a zip of plugins",
)
def submit(request: HttpRequest) -> Answer:
    """Store a zip of plugins and validate it before any of its code runs.

    Answers 201 with the submission once it is stored: status ``validated``, or
    ``rejected`` with every problem (file, rule, message) when the archive breaks a rule or
    names an identifier that is not yours; its page is ``url``. 400 for a bad form, 413 for
    an archive over the size limit, 429 over your daily quota or the per-minute limit (the
    answer says when one frees up); nothing is stored then.
    """
    limits = ArchiveLimits()
    try:
        check_quota(request.auth)
        check_rate(request.auth)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise IntakeError("The request's Content-Length is not a number.") from None
        if length - FORM_OVERHEAD_BYTES > limits.max_archive_bytes:
            raise IntakeError(archive_too_big(limits), status=413)
        if not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # Django reads a request body by its Content-Length only: a chunked one is empty.
            raise IntakeError("The zip was sent in chunks without a Content-Length, which this "
                              "site does not read; send it with its length (as curl -F, "
                              "requests and 'brainmark submit' do). Nothing was stored.")
        handler = HashingUploadHandler(request, limit=limits.max_archive_bytes, used=0,
                                       quota=limits.max_archive_bytes)
        request.upload_handlers = [handler]
        try:
            try:
                received_file(request, handler)
            except UploadError as error:
                if error.status == 413:  # The handler's words speak of the upload quota.
                    raise IntakeError(archive_too_big(limits), status=413) from None
                raise IntakeError(error.message, status=error.status) from None
            upload = request.FILES.get(FILE_FIELD)
            if upload is None:
                raise IntakeError(f"Send the zip in the field '{FILE_FIELD}'.")
            private = _private_field(request.POST.get("private", ""))
            submission = receive_submission(request.auth, upload.temporary_file_path(),
                                            private=private, limits=limits, name=upload.name)
        finally:
            handler.discard()
    except IntakeError as error:
        return Answer(error.status, {"detail": error.message})
    return Answer(201, received(submission, request.auth))


def received(submission: Submission, user: Any) -> dict:
    """The answer to a stored submission (:class:`SubmissionReceived`), whichever door it
    came through (a zip here, a git repository or a webhook in :mod:`.git_api`)."""
    return {
        **_summary(submission),
        "private": submission.private,
        "archive_sha1": submission.archive_sha1,
        "archive_size": submission.archive_size,
        "problems": submission.problems,
        "url": f"/submissions/{submission.pk}/",
        "submissions_left": quota_left(user)[0],
    }

