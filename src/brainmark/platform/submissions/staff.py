"""What staff do to jobs and submissions: re-run, cancel, rescore what old code computed.

The queue page, the admin's actions and ``brainmark jobs`` all call these. Job statuses are
never set by hand: every change is a :class:`~brainmark.execution.states.Rerun` or
:class:`~brainmark.execution.states.Cancel` event applied by :func:`.jobs.apply`, so the
state machine's rules (only a finished job is re-run, a finished job is not cancelled) hold
whoever asks. A refused change raises an error saying which job and why; nothing is written
for it.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from brainmark.exceptions import BrainmarkError
from brainmark.execution.states import Cancel, IllegalTransitionError, Rerun
from brainmark.platform.leaderboard.models import Model, Score
from brainmark.platform.submissions import jobs
from brainmark.platform.submissions.models import (
    LIVE_JOB_STATUSES,
    Job,
    JobStatus,
    Submission,
    SubmissionStatus,
)
from brainmark.platform.submissions.queries import MAX_ID

RERUN_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)


class UnknownIdError(BrainmarkError, LookupError):
    """No job or submission has the id given."""


class StaffActionError(BrainmarkError, ValueError):
    """A staff action the rows' state does not allow (the message says which and why)."""


def rerun_job(job_id: int, by: str) -> Job:
    """Queue the finished job ``job_id`` again with a fresh budget of attempts."""
    _require_job(job_id)
    try:
        return jobs.apply(job_id, Rerun(by=by))
    except IllegalTransitionError as error:
        raise StaffActionError(f"Job #{job_id} was not re-run: {error}") from None


def cancel_job(job_id: int, by: str) -> Job:
    """Cancel the queued or running job ``job_id`` (a running attempt is to be killed)."""
    _require_job(job_id)
    try:
        return jobs.apply(job_id, Cancel(by=by))
    except IllegalTransitionError as error:
        raise StaffActionError(f"Job #{job_id} was not cancelled: {error}") from None


def rerun_submission(submission_id: int, by: str) -> list[Job]:
    """Re-run every failed or cancelled job of the submission; it is scoring again.

    Refused when it has none (a submission that failed before scoring must be submitted
    anew). Returns the jobs queued again.
    """
    submission = require_submission(submission_id)
    ids = list(submission.jobs.filter(status__in=RERUN_STATUSES)
               .order_by("created", "pk").values_list("pk", flat=True))
    if not ids:
        raise StaffActionError(
            f"Submission #{submission_id} ({submission.status}) has no failed or cancelled "
            f"job to re-run; a submission that failed before scoring must be submitted anew."
        )
    rerun = []
    for job_id in ids:
        try:
            rerun.append(jobs.apply(job_id, Rerun(by=by)))
        except IllegalTransitionError:
            continue  # re-run by someone else meanwhile, or another job of the pair is live
    _set_status(submission_id, SubmissionStatus.SCORING,
                f"{len(rerun)} job(s) re-run by {by}: "
                f"{', '.join(f'#{job.pk}' for job in rerun) or 'none could be'}.")
    return rerun


def cancel_submission(submission_id: int, by: str) -> list[Job]:
    """Cancel the submission's queued and running jobs and end it ``cancelled`` (it no
    longer counts against its submitter's daily quota). Refused for a submission already
    finished. Returns the jobs cancelled."""
    submission = require_submission(submission_id)
    if submission.status in Submission.FINAL_STATUSES:
        raise StaffActionError(
            f"Submission #{submission_id} is already {submission.status}; only a submission "
            f"in progress can be cancelled."
        )
    cancelled = []
    for job_id in submission.jobs.filter(status__in=LIVE_JOB_STATUSES).order_by(
        "created", "pk"
    ).values_list("pk", flat=True):
        try:
            cancelled.append(jobs.apply(job_id, Cancel(by=by)))
        except IllegalTransitionError:
            continue  # it finished between the query and its lock: nothing to cancel
    _set_status(submission_id, SubmissionStatus.CANCELLED,
                f"Cancelled by {by} ({len(cancelled)} job(s) cancelled).")
    return cancelled


def revert_submission(submission_id: int, by: str) -> str:
    """Take a merged submission's plugins out of the plugin store (a revert commit authored
    by ``by``) and withdraw the models it brought from the leaderboard (their scores kept).
    Its queued or running jobs are cancelled first. Returns the revert commit's sha."""
    from brainmark.pipeline.plugin_store import PluginStoreError
    from brainmark.platform.submissions.processing import plugin_store

    submission = require_submission(submission_id)
    if not submission.plugin_commit:
        raise StaffActionError(
            f"Submission #{submission_id} ({submission.status}) was never merged into the "
            f"plugin store; there is nothing to revert."
        )
    for job_id in submission.jobs.filter(status__in=LIVE_JOB_STATUSES).values_list(
            "pk", flat=True):
        with contextlib.suppress(IllegalTransitionError):
            jobs.apply(job_id, Cancel(by=by, reason="submission reverted"))
    try:
        sha = plugin_store().revert_submission(submission_id, by=by)
    except PluginStoreError as error:
        raise StaffActionError(f"Submission #{submission_id} was not reverted: {error}") from None
    withdrawn = Model.objects.filter(versions__submission=submission).distinct()
    names = ", ".join(withdrawn.values_list("identifier", flat=True)) or "no model"
    withdrawn.update(withdrawn=True)
    status = (SubmissionStatus.CANCELLED if submission.status not in Submission.FINAL_STATUSES
              else submission.status)
    _set_status(submission_id, status,
                f"Reverted by {by} (plugin store commit {sha[:12]}); withdrawn: {names}.")
    return sha


def rescore_outdated(by: str, *, now: datetime | None = None) -> int:
    """Queue a job for every score computed by other brainmark code than this one.

    A score is outdated when its record's ``library_sha1`` (the SHA1 of brainmark's own
    source that computed it, what the result cache is keyed by too) differs from
    :func:`brainmark._provenance.library_sha1` here. Scores without a record (failed ones
    keep only their comment) say nothing of their code and are left alone; so is a pair
    that already has a queued or running job. Returns the number of jobs queued.
    """
    from brainmark._provenance import library_sha1

    now = timezone.now() if now is None else now
    current = library_sha1()
    live = Job.objects.filter(
        status__in=LIVE_JOB_STATUSES,
        model_version=OuterRef("model_version"),
        benchmark_version=OuterRef("benchmark_version"),
    )
    outdated = (
        Score.objects.filter(record__has_key="library_sha1")
        .exclude(record__library_sha1=current)
        .exclude(Exists(live))
        .order_by("pk")
    )
    commit = _plugin_store_head()
    queued = 0
    for score in outdated:
        previous = (Job.objects.filter(model_version=score.model_version_id,
                                       benchmark_version=score.benchmark_version_id)
                    .order_by("-created", "-pk").first())
        old = str(score.record.get("library_sha1", ""))
        try:
            with transaction.atomic():
                Job.objects.create(
                    model_version_id=score.model_version_id,
                    benchmark_version_id=score.benchmark_version_id,
                    status=JobStatus.QUEUED,
                    plugin_commit=commit,
                    needs_gpu=previous.needs_gpu if previous else False,
                    memory_tier=previous.memory_tier if previous else Job().memory_tier,
                    log=(f"{now.isoformat(timespec='seconds')} queued by {by}: rescore, the "
                         f"score was computed by brainmark code {old[:12]}, now "
                         f"{current[:12]}\n"),
                )
        except IntegrityError:
            continue  # a job for the pair was queued meanwhile
        queued += 1
    return queued


def _plugin_store_head() -> str:
    """The plugin store's latest commit (rescores score every accepted plugin as it is
    now); empty when there is no store yet (built-in plugins only)."""
    from brainmark.pipeline.plugin_store import PluginStore, PluginStoreError
    from brainmark.settings import get_settings

    folder = get_settings().plugin_store_dir
    if not (folder / ".git").exists():
        return ""
    try:
        return PluginStore(folder).head()
    except PluginStoreError:
        return ""


def _require_job(job_id: int) -> None:
    if not (0 < job_id <= MAX_ID and Job.objects.filter(pk=job_id).exists()):
        raise UnknownIdError(f"No job has the id {job_id}.")


def require_submission(submission_id: int) -> Submission:
    """Submission ``submission_id``; :class:`UnknownIdError` when there is none."""
    submission = (Submission.objects.filter(pk=submission_id).first()
                  if 0 < submission_id <= MAX_ID else None)
    if submission is None:
        raise UnknownIdError(f"No submission has the id {submission_id}.")
    return submission


def _set_status(submission_id: int, status: str, line: str) -> None:
    """The submission's new status, the time it was reached and a log line, under its lock."""
    now = timezone.now()
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        submission.status = status
        submission.stages = {**(submission.stages or {}), status: now.isoformat()}
        submission.log += f"{now.isoformat(timespec='seconds')} {line}\n"
        submission.save(update_fields=["status", "stages", "log", "updated"])
