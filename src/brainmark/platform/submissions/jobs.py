"""Job rows driven by the pure state machine of :mod:`brainmark.execution.states`.

The rules (who may claim, when a failure is retried, which memory tier comes next) live in
:func:`~brainmark.execution.states.transition` only; this module reads a row into a
:class:`~brainmark.execution.states.JobState`, applies one event inside a transaction that
holds the row's lock, and writes every field the transition changed. Two dispatchers thus
never apply events to one job at once, and never claim the same queued job: on PostgreSQL
the claim skips rows another transaction locked (``FOR UPDATE SKIP LOCKED``); on SQLite
every write transaction is ``IMMEDIATE`` (see ``configuration._sqlite``), which serialises
them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from brainmark.execution import states
from brainmark.execution.states import (
    DEFAULT_POLICY,
    Claimed,
    Event,
    IllegalTransitionError,
    JobState,
    LeaseExpired,
    Rerun,
    ResourceUse,
    RetryPolicy,
    transition,
)
from brainmark.platform.submissions.models import Job, JobStatus

# The fields a transition writes (``updated`` so auto_now follows the change).
STATE_FIELDS = (
    "status", "attempts", "worker", "heartbeat", "lease_expires", "memory_tier",
    "failure_kind", "failure_reason", "wall_seconds", "cpu_seconds", "peak_memory_bytes",
    "exit_code", "started", "finished", "isolation", "log", "updated",
)


def job_state(job: Job, *, policy: RetryPolicy = DEFAULT_POLICY) -> JobState:
    """The state machine's view of ``job``; its memory tier is an index into the policy's."""
    if job.memory_tier not in policy.memory_tiers:
        raise IllegalTransitionError(
            f"Job #{job.pk} asks for memory tier {job.memory_tier!r}, which the retry policy "
            f"does not have (its tiers: {', '.join(policy.memory_tiers)})."
        )
    measured = (job.wall_seconds, job.cpu_seconds, job.peak_memory_bytes, job.exit_code)
    usage = (
        None if all(value is None for value in measured) else ResourceUse(*measured)
    )
    return JobState(
        status=states.JobStatus(job.status),
        attempts=job.attempts,
        worker=job.worker or None,
        heartbeat=job.heartbeat,
        lease_expires=job.lease_expires,
        memory_tier=policy.memory_tiers.index(job.memory_tier),
        failure_kind=states.FailureKind(job.failure_kind) if job.failure_kind else None,
        failure_reason=job.failure_reason,
        usage=usage,
    )


def apply(
    job_id: int,
    event: Event,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    isolation: str | None = None,
) -> Job:
    """Applies ``event`` to the job and stores the result, all in one transaction.

    An event the job's state does not allow raises
    :class:`~brainmark.execution.states.IllegalTransitionError` and writes nothing.
    ``isolation`` records which sandbox isolation the attempt ran in (the executor knows it,
    the event does not).
    """
    try:
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job_id)
            _apply_locked(job, event, policy, isolation)
    except IntegrityError as error:
        # Only a re-run can collide: another job for the same pair is queued or running.
        raise IllegalTransitionError(
            f"Cannot apply {type(event).__name__} to job #{job_id}: another job for the same "
            f"model and benchmark version is queued or running ({error})."
        ) from error
    return job


def claim_next(
    worker: str,
    *,
    lease: timedelta,
    now: datetime,
    policy: RetryPolicy = DEFAULT_POLICY,
    memory_tiers: Collection[str] | None = None,
) -> Job | None:
    """Claims the oldest queued job for ``worker`` (``None`` when none waits).

    Concurrent callers each get a different job. ``memory_tiers`` limits the claim to jobs
    whose memory request this worker can meet.
    """
    with transaction.atomic():
        queued = Job.objects.filter(status=JobStatus.QUEUED, attempts__lt=policy.max_attempts)
        if memory_tiers is not None:
            queued = queued.filter(memory_tier__in=list(memory_tiers))
        if connection.features.has_select_for_update_skip_locked:
            queued = queued.select_for_update(skip_locked=True)
        job = queued.order_by("created", "pk").first()
        if job is None:
            return None
        _apply_locked(job, Claimed(worker=worker, now=now, lease=lease), policy, None)
    return job


def expire_leases(now: datetime, *, policy: RetryPolicy = DEFAULT_POLICY) -> list[Job]:
    """Applies LeaseExpired to every running job whose lease ran out by ``now``.

    Each is retried or failed by the policy. A job that sent a heartbeat or ended between
    the query and its lock is left alone. Returns the jobs changed.
    """
    expired = Job.objects.filter(status=JobStatus.RUNNING, lease_expires__lte=now)
    changed = []
    for job_id in expired.order_by("lease_expires", "pk").values_list("pk", flat=True):
        try:
            changed.append(apply(job_id, LeaseExpired(now=now), policy=policy))
        except IllegalTransitionError:
            continue
    return changed


def _apply_locked(job: Job, event: Event, policy: RetryPolicy, isolation: str | None) -> None:
    """Transition of the locked ``job``, written back to its row."""
    old = job_state(job, policy=policy)
    new = transition(old, event, policy=policy)
    now = getattr(event, "now", None) or timezone.now()
    job.status = JobStatus(new.status.value)
    job.attempts = new.attempts
    job.worker = new.worker or ""
    job.heartbeat = new.heartbeat
    job.lease_expires = new.lease_expires
    job.memory_tier = policy.memory_tiers[new.memory_tier]
    job.failure_kind = new.failure_kind.value if new.failure_kind else ""
    job.failure_reason = new.failure_reason
    usage = new.usage or ResourceUse()
    job.wall_seconds = usage.wall_seconds
    job.cpu_seconds = usage.cpu_seconds
    job.peak_memory_bytes = usage.peak_memory_bytes
    job.exit_code = usage.exit_code
    if isolation is not None:
        job.isolation = isolation
    if isinstance(event, Claimed):
        job.started, job.finished = event.now, None
    elif old.status is states.JobStatus.RUNNING and new.status is not states.JobStatus.RUNNING:
        job.finished = now  # The attempt ended: finished, failed, lost or cancelled.
    elif new.status is states.JobStatus.QUEUED and old.is_final:
        job.started = job.finished = None  # A re-run starts afresh.
    elif new.status is states.JobStatus.CANCELLED:
        job.finished = now
    if new.status is not old.status:
        line = f"{now.isoformat(timespec='seconds')} {old.status} -> {new.status}"
        if new.status in (states.JobStatus.QUEUED, states.JobStatus.FAILED,
                          states.JobStatus.CANCELLED) and new.failure_reason:
            line += f": {new.failure_reason}"
        elif isinstance(event, Rerun):
            line += f" (re-run by {event.by})"
        elif isinstance(event, Claimed):
            line += f" on {event.worker} (attempt {new.attempts}, {job.memory_tier} memory)"
        job.log = f"{job.log}{line}\n"
    job.save(update_fields=STATE_FIELDS)
