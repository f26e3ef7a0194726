"""The job state machine: every legal transition, every refusal, retry bounds, and a property
over random event sequences."""

from __future__ import annotations

import dataclasses
import signal
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brainmark.execution.states import (
    FINAL_STATUSES,
    Cancel,
    Claimed,
    Failed,
    FailureKind,
    Finished,
    Heartbeat,
    IllegalTransitionError,
    JobState,
    JobStatus,
    LeaseExpired,
    Rerun,
    ResourceUse,
    RetryPolicy,
    classify_failure,
    transition,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
POLICY = RetryPolicy(max_attempts=3, memory_tiers=("standard", "large"))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def running(worker: str = "w1", **changes) -> JobState:
    state = transition(JobState(), Claimed(worker, T0, LEASE), policy=POLICY)
    return dataclasses.replace(state, **changes)


def apply(state: JobState, *events) -> JobState:
    for event in events:
        state = transition(state, event, policy=POLICY)
    return state


# --- the status strings are the platform's ----------------------------------------------------


def test_the_status_strings_are_the_five_the_platform_stores():
    # The platform's Job.status choices are built from this enum (tests/platform/test_jobs.py).
    assert [status.value for status in JobStatus] == [
        "queued", "running", "succeeded", "failed", "cancelled"
    ]


# --- legal transitions ------------------------------------------------------------------------


def test_claim_starts_an_attempt_with_a_lease():
    state = transition(JobState(), Claimed("w1", T0, LEASE), policy=POLICY)
    assert state.status == JobStatus.RUNNING
    assert state.attempts == 1
    assert state.worker == "w1"
    assert state.heartbeat == T0
    assert state.lease_expires == T0 + LEASE


def test_heartbeat_renews_the_lease():
    state = apply(running(), Heartbeat("w1", at(30), LEASE))
    assert state.status == JobStatus.RUNNING
    assert state.heartbeat == at(30)
    assert state.lease_expires == at(90)
    assert state.attempts == 1


def test_finish_succeeds_and_records_the_resource_use():
    usage = ResourceUse(wall_seconds=12.5, cpu_seconds=20.0, peak_memory_bytes=2**30, exit_code=0)
    state = apply(running(), Finished("w1", at(10), usage))
    assert state.status == JobStatus.SUCCEEDED
    assert state.usage == usage
    assert state.worker is None and state.lease_expires is None
    assert state.failure_kind is None and state.failure_reason == ""


def test_a_deterministic_failure_fails_at_once_with_its_reason():
    state = apply(running(), Failed("w1", at(5), FailureKind.DETERMINISTIC, "KeyError: 'IT'"))
    assert state.status == JobStatus.FAILED
    assert state.attempts == 1
    assert state.failure_kind == FailureKind.DETERMINISTIC
    assert state.failure_reason == "KeyError: 'IT'"


def test_a_transient_failure_is_retried_to_the_limit_then_failed_with_the_reason():
    state = JobState()
    for attempt in (1, 2):
        state = apply(
            state,
            Claimed(f"w{attempt}", at(attempt * 100), LEASE),
            Failed(f"w{attempt}", at(attempt * 100 + 1), FailureKind.TRANSIENT, "reset"),
        )
        assert state.status == JobStatus.QUEUED
        assert state.attempts == attempt
        assert state.failure_reason == "reset"  # the page says why it runs again
    state = apply(
        state,
        Claimed("w3", at(300), LEASE),
        Failed("w3", at(301), FailureKind.TRANSIENT, "connection reset"),
    )
    assert state.status == JobStatus.FAILED
    assert state.attempts == 3
    assert state.failure_kind == FailureKind.TRANSIENT
    assert state.failure_reason == "gave up after 3 attempts; the last one: connection reset"


def test_an_expired_lease_is_retried_then_failed_naming_the_silent_worker():
    state = apply(running(), LeaseExpired(at(61)))
    assert state.status == JobStatus.QUEUED
    assert state.failure_kind == FailureKind.TRANSIENT
    assert state.failure_reason == (
        "worker 'w1' stopped sending heartbeats (last at 2026-01-01T12:00:00+00:00; "
        "lease expired at 2026-01-01T12:01:00+00:00)"
    )
    state = apply(state, Claimed("w2", at(100), LEASE), LeaseExpired(at(160)))
    state = apply(state, Claimed("w3", at(200), LEASE), LeaseExpired(at(260)))
    assert state.status == JobStatus.FAILED
    assert state.failure_reason.startswith("gave up after 3 attempts; the last one: worker 'w3'")


def test_out_of_memory_is_retried_once_on_the_larger_tier_then_failed():
    state = apply(running(), Failed("w1", at(5), FailureKind.OUT_OF_MEMORY, "MemoryError"))
    assert state.status == JobStatus.QUEUED
    assert state.memory_tier == 1
    assert POLICY.memory_tiers[state.memory_tier] == "large"
    state = apply(
        state,
        Claimed("w2", at(10), LEASE),
        Failed("w2", at(15), FailureKind.OUT_OF_MEMORY, "MemoryError"),
    )
    assert state.status == JobStatus.FAILED
    assert state.attempts == 2  # attempts were left, but there is no larger tier
    assert (
        state.failure_reason == "out of memory on the largest memory request ('large'): MemoryError"
    )


def test_out_of_memory_on_the_last_attempt_is_not_retried():
    state = dataclasses.replace(running(), attempts=3)
    state = apply(state, Failed("w1", at(5), FailureKind.OUT_OF_MEMORY, "killed"))
    assert state.status == JobStatus.FAILED
    assert state.memory_tier == 0
    assert state.failure_reason == "gave up after 3 attempts; the last one: killed"


def test_a_policy_without_transient_retries_fails_a_transient_failure_at_once():
    policy = RetryPolicy(max_attempts=3, retry_on=frozenset())
    state = transition(running(), Failed("w1", at(1), "transient", "reset"), policy=policy)
    assert state.status == JobStatus.FAILED
    assert state.failure_reason == "reset"


@pytest.mark.parametrize("make", [JobState, running], ids=["queued", "running"])
def test_cancel_from_queued_or_running(make):
    state = apply(make(), Cancel("staff@example.org", "wrong benchmark"))
    assert state.status == JobStatus.CANCELLED
    assert state.worker is None and state.lease_expires is None
    assert state.failure_reason == "cancelled by staff@example.org: wrong benchmark"


def test_rerun_of_a_failed_job_resets_attempts_and_failure_but_keeps_the_memory_tier():
    state = apply(
        running(),
        Failed("w1", at(1), FailureKind.OUT_OF_MEMORY, "oom"),
        Claimed("w2", at(2), LEASE),
        Failed("w2", at(3), FailureKind.DETERMINISTIC, "ValueError"),
    )
    assert state.status == JobStatus.FAILED and state.attempts == 2
    state = apply(state, Rerun("staff"))
    assert state == JobState(memory_tier=1)


@pytest.mark.parametrize(
    "events",
    [
        [Finished("w1", at(1))],
        [Failed("w1", at(1), FailureKind.DETERMINISTIC, "x")],
        [Cancel("staff")],
    ],
    ids=["succeeded", "failed", "cancelled"],
)
def test_rerun_from_every_final_state_queues_a_fresh_job(events):
    state = apply(running(), *events)
    assert state.status in FINAL_STATUSES
    assert apply(state, Rerun("staff")) == JobState()


# --- illegal transitions ------------------------------------------------------------------------

ILLEGAL = [
    (
        "heartbeat of a queued job",
        JobState,
        Heartbeat("w1", T0, LEASE),
        "Cannot apply Heartbeat to a queued job: no attempt is running.",
    ),
    (
        "finishing a queued job",
        JobState,
        Finished("w1", T0),
        "Cannot apply Finished to a queued job: no attempt is running.",
    ),
    (
        "failing a queued job",
        JobState,
        Failed("w1", T0, FailureKind.TRANSIENT, "x"),
        "Cannot apply Failed to a queued job: no attempt is running.",
    ),
    (
        "expiring the lease of a queued job",
        JobState,
        LeaseExpired(T0),
        "Cannot apply LeaseExpired to a queued job: no attempt is running.",
    ),
    (
        "re-running a queued job",
        JobState,
        Rerun("staff"),
        "Cannot apply Rerun to a queued job: only a succeeded, failed or cancelled job can be "
        "re-run.",
    ),
    (
        "claiming a running job",
        running,
        Claimed("w2", T0, LEASE),
        "Cannot apply Claimed to a running job: it is already held by worker 'w1'.",
    ),
    (
        "re-running a running job",
        running,
        Rerun("staff"),
        "Cannot apply Rerun to a running job: only a succeeded, failed or cancelled job can be "
        "re-run.",
    ),
    (
        "a heartbeat from another worker",
        running,
        Heartbeat("w2", at(1), LEASE),
        "Cannot apply Heartbeat to a running job: it is held by worker 'w1', not 'w2' (whose "
        "lease was taken over).",
    ),
    (
        "a result from another worker",
        running,
        Finished("w2", at(1)),
        "Cannot apply Finished to a running job: it is held by worker 'w1', not 'w2' (whose "
        "lease was taken over).",
    ),
    (
        "a late heartbeat",
        running,
        Heartbeat("w1", at(61), LEASE),
        "Cannot apply Heartbeat to a running job: its lease expired at "
        "2026-01-01T12:01:00+00:00; the job is retried.",
    ),
    (
        "expiring a lease still valid",
        running,
        LeaseExpired(at(59)),
        "Cannot apply LeaseExpired to a running job: its lease is valid until "
        "2026-01-01T12:01:00+00:00.",
    ),
    (
        "finishing with a non-zero exit code",
        running,
        Finished("w1", at(1), ResourceUse(exit_code=2)),
        "Cannot apply Finished to a running job: the attempt exited with code 2: report it as "
        "Failed.",
    ),
    (
        "a failure without a reason",
        running,
        Failed("w1", at(1), FailureKind.DETERMINISTIC, "  "),
        "Cannot apply Failed to a running job: a failure must say why (the reason is empty).",
    ),
    (
        "claiming with no attempts left",
        lambda: JobState(attempts=3),
        Claimed("w1", T0, LEASE),
        "Cannot apply Claimed to a queued job: it has used all 3 attempts.",
    ),
    (
        "claiming with a zero lease",
        JobState,
        Claimed("w1", T0, timedelta(0)),
        "Claimed needs a positive lease; got 0:00:00.",
    ),
]
FINAL_EVENTS = [
    Claimed("w1", T0, LEASE),
    Heartbeat("w1", T0, LEASE),
    Finished("w1", T0),
    Failed("w1", T0, FailureKind.TRANSIENT, "x"),
    LeaseExpired(at(1000)),
    Cancel("staff"),
]
for _final, _ending in [
    ("succeeded", Finished("w1", at(1))),
    ("failed", Failed("w1", at(1), FailureKind.DETERMINISTIC, "x")),
    ("cancelled", Cancel("staff")),
]:
    for _event in FINAL_EVENTS:
        ILLEGAL.append(
            (
                f"{type(_event).__name__} of a {_final} job",
                lambda ending=_ending: apply(running(), ending),
                _event,
                f"Cannot apply {type(_event).__name__} to a {_final} job: a finished job changes "
                "only when staff re-run it.",
            )
        )


@pytest.mark.parametrize(
    ("make", "event", "message"),
    [case[1:] for case in ILLEGAL],
    ids=[case[0] for case in ILLEGAL],
)
def test_an_illegal_transition_is_refused_with_its_reason(make, event, message):
    state = make()
    with pytest.raises(IllegalTransitionError) as refused:
        transition(state, event, policy=POLICY)
    assert str(refused.value) == message


def test_a_policy_that_makes_no_sense_is_refused():
    with pytest.raises(ValueError, match=r"max_attempts must be at least 1\. Got 0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="memory_tiers must name at least one tier"):
        RetryPolicy(memory_tiers=())
    with pytest.raises(ValueError, match="must not hold out_of_memory"):
        RetryPolicy(retry_on=frozenset({FailureKind.OUT_OF_MEMORY}))


# --- classify_failure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "kind"),
    [
        ({"exit_code": 1, "stderr_tail": "KeyError: 'IT'"}, FailureKind.DETERMINISTIC),
        ({"exit_code": 1, "stderr_tail": "  raise MemoryError"}, FailureKind.OUT_OF_MEMORY),
        (
            {"exit_code": 1, "stderr_tail": "torch.OutOfMemoryError: CUDA out of memory."},
            FailureKind.OUT_OF_MEMORY,
        ),
        (
            {"exit_code": 1, "stderr_tail": "ConnectionResetError: [Errno 104]"},
            FailureKind.TRANSIENT,
        ),
        ({"exit_code": -signal.SIGKILL}, FailureKind.OUT_OF_MEMORY),  # the kernel's OOM killer
        ({"exit_code": 128 + signal.SIGKILL}, FailureKind.OUT_OF_MEMORY),  # as a shell says it
        ({"exit_code": None, "signal": signal.SIGKILL}, FailureKind.OUT_OF_MEMORY),
        ({"exit_code": -signal.SIGTERM}, FailureKind.TRANSIENT),
        ({"exit_code": None, "signal": signal.SIGHUP}, FailureKind.TRANSIENT),
        ({"exit_code": -signal.SIGSEGV}, FailureKind.DETERMINISTIC),
        ({"exit_code": 200}, FailureKind.DETERMINISTIC),  # not 128 + a signal number
        ({"exit_code": -9, "killed_by": "time_limit"}, FailureKind.DETERMINISTIC),
        ({"exit_code": -9, "killed_by": "memory_limit"}, FailureKind.OUT_OF_MEMORY),
        ({"exit_code": None, "killed_by": "worker_lost"}, FailureKind.TRANSIENT),
    ],
)
def test_classify_failure(arguments, kind):
    assert classify_failure(**arguments) == kind


def test_classify_failure_refuses_what_is_no_failure_or_an_unknown_killer():
    with pytest.raises(ValueError, match="exit code 0 without a signal is not a failure"):
        classify_failure(0)
    with pytest.raises(ValueError, match="needs an exit code or a signal"):
        classify_failure(None)
    with pytest.raises(ValueError, match=r"killed_by='oom' is not one of \['memory_limit'"):
        classify_failure(-9, killed_by="oom")


# --- the invariants hold on every path ------------------------------------------------------------

WORKERS = st.sampled_from(["w1", "w2"])
TIMES = st.integers(min_value=0, max_value=400).map(at)
LEASES = st.sampled_from([timedelta(seconds=30), timedelta(seconds=60)])
EVENTS = st.one_of(
    st.builds(Claimed, WORKERS, TIMES, LEASES),
    st.builds(Heartbeat, WORKERS, TIMES, LEASES),
    st.builds(Finished, WORKERS, TIMES),
    st.builds(Failed, WORKERS, TIMES, st.sampled_from(list(FailureKind)), st.just("why")),
    st.builds(LeaseExpired, TIMES),
    st.builds(Cancel, st.just("staff")),
    st.builds(Rerun, st.just("staff")),
)


def check_invariants(state: JobState, policy: RetryPolicy) -> None:
    assert 0 <= state.attempts <= policy.max_attempts
    assert 0 <= state.memory_tier < len(policy.memory_tiers)
    if state.status == JobStatus.RUNNING:
        assert state.worker is not None and state.lease_expires is not None
        assert state.attempts >= 1
    else:
        assert state.worker is None and state.lease_expires is None
    if state.status == JobStatus.QUEUED:
        assert state.attempts < policy.max_attempts
    if state.status == JobStatus.FAILED:
        assert state.failure_kind is not None and state.failure_reason


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(EVENTS, max_size=30),
    max_attempts=st.integers(min_value=1, max_value=4),
    tiers=st.sampled_from([("standard",), ("standard", "large"), ("s", "m", "l")]),
)
def test_any_event_sequence_is_refused_or_keeps_the_invariants(events, max_attempts, tiers):
    policy = RetryPolicy(max_attempts=max_attempts, memory_tiers=tiers)
    state = JobState()
    for event in events:
        try:
            after = transition(state, event, policy=policy)
        except IllegalTransitionError:
            continue
        if state.is_final:
            assert isinstance(event, Rerun)
        check_invariants(after, policy)
        state = after


def test_the_state_machine_loads_no_django():
    import subprocess
    import sys

    code = (
        "import sys, brainmark.execution.states\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'django' "
        "or m.startswith('brainmark.platform')]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
