"""The states of a scoring job and every transition between them, as one pure function.

A job is a database row; the dispatcher reads it into a :class:`JobState`, applies an event
with :func:`transition` and writes the result back (compare-and-set on the old status, so
two dispatchers never both apply an event). Keeping the rules here, free of I/O, Django and
clocks (every event carries its own ``now``), lets the tests walk every path without
processes, as dask's ``worker_state_machine`` does.

States (the strings are those of the platform's ``JobStatus``)::

    queued --Claimed--> running --Finished--> succeeded
      ^                   |  \\--Failed / LeaseExpired--> queued (retry) or failed
      |                   \\--Cancel--> cancelled
      \\--Rerun-- succeeded | failed | cancelled       queued --Cancel--> cancelled

Retries (:class:`RetryPolicy`): a transient failure (a lost worker, an expired lease) is
retried until ``max_attempts`` claims were made, then failed with the reason; an
out-of-memory failure is retried once on the next larger memory tier; a deterministic
failure (the plugin's own error, a hung job killed at its time limit) is failed at once,
since running it again gives the same error.

Invariants kept by every transition: ``attempts <= max_attempts``; a running job has a
worker and a lease; a queued job has attempts left; a final state (succeeded, failed,
cancelled) is left only by :class:`Rerun`.
"""

from __future__ import annotations

import dataclasses
import enum
import signal as signals
from datetime import datetime, timedelta

from brainmark.exceptions import BrainmarkError


class JobStatus(enum.StrEnum):
    """A job's status; the values are the platform's ``JobStatus`` strings."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class FailureKind(enum.StrEnum):
    """Why an attempt failed, which decides whether it is retried."""

    OUT_OF_MEMORY = "out_of_memory"
    DETERMINISTIC = "deterministic"
    TRANSIENT = "transient"


class IllegalTransitionError(BrainmarkError, ValueError):
    """An event that the job's current state does not allow (e.g. finishing a cancelled job)."""


# --- policy --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often, and on what failures, a job is tried again.

    ``max_attempts`` bounds the claims of a job (first run included). ``retry_on`` are the
    failure kinds retried while attempts are left. ``memory_tiers`` are the memory requests,
    smallest first: an out-of-memory failure moves the job to the next tier, once per tier,
    and fails it on the largest.
    """

    max_attempts: int = 3
    retry_on: frozenset[FailureKind] = frozenset({FailureKind.TRANSIENT})
    memory_tiers: tuple[str, ...] = ("standard", "large")

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts must be at least 1. Got {self.max_attempts}."
            )
        if not self.memory_tiers or len(set(self.memory_tiers)) != len(self.memory_tiers):
            raise ValueError(
                "RetryPolicy.memory_tiers must name at least one tier, each once. "
                f"Got {self.memory_tiers!r}."
            )
        object.__setattr__(self, "retry_on", frozenset(FailureKind(k) for k in self.retry_on))
        if FailureKind.OUT_OF_MEMORY in self.retry_on:
            raise ValueError(
                "RetryPolicy.retry_on must not hold out_of_memory: an out-of-memory failure "
                "is retried by moving to the next of memory_tiers, not on the same request."
            )


DEFAULT_POLICY = RetryPolicy()


# --- state ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResourceUse:
    """What one attempt used, as the executor measured it."""

    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    exit_code: int | None = None


@dataclasses.dataclass(frozen=True)
class JobState:
    """Everything the transitions read or write of a job row.

    ``memory_tier`` indexes :attr:`RetryPolicy.memory_tiers`. ``failure_kind`` and
    ``failure_reason`` describe the last failed attempt (kept on a retried job, so the page
    can say why it runs again); ``usage`` is the last attempt's resource use.
    """

    status: JobStatus = JobStatus.QUEUED
    attempts: int = 0
    worker: str | None = None
    heartbeat: datetime | None = None
    lease_expires: datetime | None = None
    memory_tier: int = 0
    failure_kind: FailureKind | None = None
    failure_reason: str = ""
    usage: ResourceUse | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status))
        if self.failure_kind is not None:
            object.__setattr__(self, "failure_kind", FailureKind(self.failure_kind))

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


# --- events --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A dispatcher handed the queued job to ``worker``, holding it until ``now + lease``."""

    worker: str
    now: datetime
    lease: timedelta


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """The running job's worker is alive: its lease is renewed until ``now + lease``."""

    worker: str
    now: datetime
    lease: timedelta


@dataclasses.dataclass(frozen=True)
class Finished:
    """The attempt ended with exit code 0 and its result was stored."""

    worker: str
    now: datetime
    usage: ResourceUse | None = None


@dataclasses.dataclass(frozen=True)
class Failed:
    """The attempt failed; ``kind`` (see :func:`classify_failure`) decides on a retry."""

    worker: str
    now: datetime
    kind: FailureKind
    reason: str
    usage: ResourceUse | None = None


@dataclasses.dataclass(frozen=True)
class LeaseExpired:
    """The dispatcher saw no heartbeat before the lease ran out: the worker is presumed lost."""

    now: datetime


@dataclasses.dataclass(frozen=True)
class Cancel:
    """Staff (or the submitter's withdrawal) stop the job; a running attempt is killed."""

    by: str
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Rerun:
    """Staff run a finished job again, with a fresh budget of attempts."""

    by: str


Event = Claimed | Heartbeat | Finished | Failed | LeaseExpired | Cancel | Rerun


# --- the transition function ---------------------------------------------------------------


def transition(state: JobState, event: Event, *, policy: RetryPolicy = DEFAULT_POLICY) -> JobState:
    """The job's state after ``event``; raises :class:`IllegalTransitionError` if not allowed.

    Pure: it reads nothing but its arguments, so the dispatcher can apply it inside the
    transaction that writes the row.
    """
    name = type(event).__name__
    if isinstance(event, Rerun):
        if not state.is_final:
            _refuse(state, name, "only a succeeded, failed or cancelled job can be re-run")
        # A fresh budget of attempts; the memory tier learnt from an out-of-memory failure
        # is kept, so the re-run does not fail again on the smaller request first.
        return JobState(memory_tier=min(state.memory_tier, len(policy.memory_tiers) - 1))
    if state.is_final:
        _refuse(state, name, "a finished job changes only when staff re-run it")
    if isinstance(event, Cancel):
        reason = f"cancelled by {event.by}" + (f": {event.reason}" if event.reason else "")
        return dataclasses.replace(
            state,
            status=JobStatus.CANCELLED,
            worker=None,
            lease_expires=None,
            failure_kind=None,
            failure_reason=reason,
        )
    if isinstance(event, Claimed):
        if state.status is not JobStatus.QUEUED:
            _refuse(state, name, f"it is already held by worker {state.worker!r}")
        if state.attempts >= policy.max_attempts:
            _refuse(state, name, f"it has used all {policy.max_attempts} attempts")
        _check_positive(event.lease, name)
        return dataclasses.replace(
            state,
            status=JobStatus.RUNNING,
            attempts=state.attempts + 1,
            worker=event.worker,
            heartbeat=event.now,
            lease_expires=event.now + event.lease,
        )
    # Every other event concerns a running attempt.
    if state.status is not JobStatus.RUNNING:
        _refuse(state, name, "no attempt is running")
    assert state.lease_expires is not None  # a running job always has a lease
    if isinstance(event, LeaseExpired):
        if event.now < state.lease_expires:
            _refuse(state, name, f"its lease is valid until {state.lease_expires.isoformat()}")
        reason = (
            f"worker {state.worker!r} stopped sending heartbeats (last at "
            f"{state.heartbeat.isoformat() if state.heartbeat else 'never'}; lease expired "
            f"at {state.lease_expires.isoformat()})"
        )
        return _after_failure(state, FailureKind.TRANSIENT, reason, None, policy)
    if event.worker != state.worker:
        _refuse(
            state,
            name,
            f"it is held by worker {state.worker!r}, not {event.worker!r} (whose lease was "
            "taken over)",
        )
    if isinstance(event, Heartbeat):
        if event.now > state.lease_expires:
            _refuse(
                state,
                name,
                f"its lease expired at {state.lease_expires.isoformat()}; the job is retried",
            )
        _check_positive(event.lease, name)
        return dataclasses.replace(
            state, heartbeat=event.now, lease_expires=event.now + event.lease
        )
    if isinstance(event, Finished):
        if event.usage is not None and event.usage.exit_code not in (None, 0):
            _refuse(
                state,
                name,
                f"the attempt exited with code {event.usage.exit_code}: report it as Failed",
            )
        return dataclasses.replace(
            state,
            status=JobStatus.SUCCEEDED,
            worker=None,
            lease_expires=None,
            failure_kind=None,
            failure_reason="",
            usage=event.usage,
        )
    if isinstance(event, Failed):
        if not event.reason.strip():
            _refuse(state, name, "a failure must say why (the reason is empty)")
        return _after_failure(state, FailureKind(event.kind), event.reason, event.usage, policy)
    raise TypeError(f"transition() got {event!r}, which is not a job event.")


def _after_failure(
    state: JobState,
    kind: FailureKind,
    reason: str,
    usage: ResourceUse | None,
    policy: RetryPolicy,
) -> JobState:
    """Queued again (retry) or failed with the reason, by the policy."""
    attempts_left = state.attempts < policy.max_attempts
    tier = state.memory_tier
    retry = False
    if kind is FailureKind.OUT_OF_MEMORY:
        larger = tier + 1 < len(policy.memory_tiers)
        retry = larger and attempts_left
        if retry:
            tier += 1
        elif not larger:
            reason = (
                f"out of memory on the largest memory request "
                f"({policy.memory_tiers[tier]!r}): {reason}"
            )
    elif kind in policy.retry_on:
        retry = attempts_left
    if not retry and kind is not FailureKind.DETERMINISTIC and not attempts_left:
        reason = f"gave up after {state.attempts} attempts; the last one: {reason}"
    return dataclasses.replace(
        state,
        status=JobStatus.QUEUED if retry else JobStatus.FAILED,
        worker=None,
        lease_expires=None,
        memory_tier=tier,
        failure_kind=kind,
        failure_reason=reason,
        usage=usage,
    )


def _refuse(state: JobState, event_name: str, why: str) -> None:
    raise IllegalTransitionError(f"Cannot apply {event_name} to a {state.status} job: {why}.")


def _check_positive(lease: timedelta, event_name: str) -> None:
    if lease <= timedelta(0):
        raise IllegalTransitionError(f"{event_name} needs a positive lease; got {lease}.")


# --- classifying a failed attempt ----------------------------------------------------------

# Who stopped the attempt, when not the job itself, and what kind of failure that is.
KILLERS = {
    "time_limit": FailureKind.DETERMINISTIC,  # a hung job; running it again hangs again
    "memory_limit": FailureKind.OUT_OF_MEMORY,  # the sandbox's or cgroup's memory cap
    "worker_lost": FailureKind.TRANSIENT,  # the worker or its machine went away
}
_OOM_MARKERS = (
    "MemoryError",
    "OutOfMemoryError",
    "CUDA out of memory",
    "Cannot allocate memory",
    "std::bad_alloc",
)
_TRANSIENT_MARKERS = (
    "ConnectionResetError",
    "ConnectionRefusedError",
    "BrokenPipeError",
    "Temporary failure in name resolution",
)
_TRANSIENT_SIGNALS = frozenset({signals.SIGTERM, signals.SIGHUP, signals.SIGINT})


def classify_failure(
    exit_code: int | None,
    signal: int | None = None,
    stderr_tail: str = "",
    killed_by: str | None = None,
) -> FailureKind:
    """The kind of a failed attempt, from how it ended.

    In order: who killed it (``killed_by``, one of :data:`KILLERS`); the last lines of its
    stderr (a ``MemoryError`` or CUDA out-of-memory is out of memory, a reset connection is
    transient); the signal that ended it (from ``signal``, a negative ``exit_code`` as
    :mod:`subprocess` reports it, or ``128 + n`` as a shell does): SIGKILL nobody claims
    is the kernel's OOM killer, SIGTERM/SIGHUP/SIGINT mean the worker was stopped
    (transient), any other signal (a crash) is deterministic; any other non-zero exit code
    is the plugin's own error, deterministic.
    """
    if killed_by is not None:
        if killed_by not in KILLERS:
            raise ValueError(
                f"classify_failure: killed_by={killed_by!r} is not one of {sorted(KILLERS)}."
            )
        return KILLERS[killed_by]
    if signal is None and exit_code is not None:
        if exit_code < 0:
            signal = -exit_code
        elif exit_code > 128 and exit_code - 128 in _known_signals():
            signal = exit_code - 128
    if exit_code == 0 and signal is None:
        raise ValueError("classify_failure: exit code 0 without a signal is not a failure.")
    if exit_code is None and signal is None:
        raise ValueError("classify_failure needs an exit code or a signal; got neither.")
    if any(marker in stderr_tail for marker in _OOM_MARKERS):
        return FailureKind.OUT_OF_MEMORY
    if any(marker in stderr_tail for marker in _TRANSIENT_MARKERS):
        return FailureKind.TRANSIENT
    if signal is not None:
        if signal == signals.SIGKILL:
            return FailureKind.OUT_OF_MEMORY
        if signal in _TRANSIENT_SIGNALS:
            return FailureKind.TRANSIENT
    return FailureKind.DETERMINISTIC


def _known_signals() -> frozenset[int]:
    return frozenset(int(s) for s in signals.Signals)
