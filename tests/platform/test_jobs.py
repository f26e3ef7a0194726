"""Job rows through the state machine: claims, heartbeats, retries, cancels, expired leases.

Every expected value follows from the events the test applies and the retry policy's rules
(see ``brainmark.execution.states``), worked by hand in each test.
"""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest

pytestmark = pytest.mark.db

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
LEASE = datetime.timedelta(minutes=5)


def _at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def _jobs(count: int, prefix: str = "jobs-test") -> list:
    """``count`` queued jobs, one model version on ``count`` benchmark versions, oldest first."""
    from django.utils import timezone

    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
    )
    from brainmark.platform.submissions.models import Job

    model = Model.objects.create(identifier=f"{prefix}-model", public=True)
    version = ModelVersion.objects.create(
        model=model, version=1, plugin_sha1="c" * 40, visual_degrees=8
    )
    jobs = []
    for index in range(count):
        kind = BenchmarkType.objects.create(identifier=f"{prefix}-b{index}", order=100 + index)
        benchmark = BenchmarkVersion.objects.create(benchmark_type=kind, version=1)
        job = Job.objects.create(model_version=version, benchmark_version=benchmark)
        # Distinct creation times, a minute apart, so "oldest" is unambiguous.
        created = timezone.now() - datetime.timedelta(minutes=count - index)
        Job.objects.filter(pk=job.pk).update(created=created)
        jobs.append(Job.objects.get(pk=job.pk))
    return jobs


def _delete_jobs_test_rows(prefix: str) -> None:
    from brainmark.platform.leaderboard.models import BenchmarkType, Model

    Model.objects.filter(identifier=f"{prefix}-model").delete()  # Cascades to versions, jobs.
    BenchmarkType.objects.filter(identifier__startswith=f"{prefix}-b").delete()


def _row(job) -> dict:
    from django.forms.models import model_to_dict

    from brainmark.platform.submissions.models import Job

    fresh = Job.objects.get(pk=job.pk)
    return {**model_to_dict(fresh), "updated": fresh.updated}


def test_the_job_statuses_are_the_state_machines(django_configured):
    from brainmark.execution import states
    from brainmark.platform.submissions.models import FailureKind, Job, JobStatus

    assert set(JobStatus.values) == {"queued", "running", "succeeded", "failed", "cancelled"}
    assert set(JobStatus.values) == {status.value for status in states.JobStatus}
    assert set(FailureKind.values) == {kind.value for kind in states.FailureKind}
    assert Job._meta.get_field("memory_tier").default == states.DEFAULT_POLICY.memory_tiers[0]


def test_claim_heartbeat_finish_writes_the_row(database):
    from brainmark.execution.states import Finished, Heartbeat, ResourceUse
    from brainmark.platform.submissions.jobs import apply, claim_next

    [job] = _jobs(1)
    claimed = claim_next("worker-a", lease=LEASE, now=_at(0))
    assert claimed.pk == job.pk
    row = _row(job)
    assert (row["status"], row["attempts"], row["worker"]) == ("running", 1, "worker-a")
    assert (row["started"], row["heartbeat"], row["lease_expires"]) == (_at(0), _at(0), _at(5))
    assert row["memory_tier"] == "standard"
    assert claim_next("worker-b", lease=LEASE, now=_at(0)) is None  # Nothing else queued.

    apply(job.pk, Heartbeat(worker="worker-a", now=_at(4), lease=LEASE))
    row = _row(job)
    assert (row["heartbeat"], row["lease_expires"]) == (_at(4), _at(9))

    usage = ResourceUse(wall_seconds=420.5, cpu_seconds=1600.25, peak_memory_bytes=3 * 2**30,
                        exit_code=0)
    apply(job.pk, Finished(worker="worker-a", now=_at(7), usage=usage), isolation="landlock")
    row = _row(job)
    assert row["status"] == "succeeded"
    assert (row["worker"], row["lease_expires"], row["finished"]) == ("", None, _at(7))
    assert (row["wall_seconds"], row["cpu_seconds"], row["peak_memory_bytes"],
            row["exit_code"]) == (420.5, 1600.25, 3221225472, 0)
    assert (row["isolation"], row["failure_kind"], row["failure_reason"]) == ("landlock", "", "")
    assert row["started"] == _at(0)
    assert "queued -> running on worker-a (attempt 1, standard memory)" in row["log"]
    assert "running -> succeeded" in row["log"]


def test_a_transient_failure_is_retried_until_the_attempts_are_used(database):
    from brainmark.execution.states import Failed, FailureKind, RetryPolicy
    from brainmark.platform.submissions.jobs import apply, claim_next

    policy = RetryPolicy(max_attempts=2)
    [job] = _jobs(1)
    claim_next("w1", lease=LEASE, now=_at(0), policy=policy)
    apply(job.pk, Failed(worker="w1", now=_at(1), kind=FailureKind.TRANSIENT,
                         reason="ConnectionResetError"), policy=policy)
    row = _row(job)
    assert (row["status"], row["attempts"], row["worker"]) == ("queued", 1, "")
    assert (row["failure_kind"], row["failure_reason"]) == ("transient", "ConnectionResetError")
    assert row["finished"] == _at(1)

    claim_next("w2", lease=LEASE, now=_at(2), policy=policy)
    assert (_row(job)["attempts"], _row(job)["worker"]) == (2, "w2")
    apply(job.pk, Failed(worker="w2", now=_at(3), kind=FailureKind.TRANSIENT,
                         reason="BrokenPipeError"), policy=policy)
    row = _row(job)
    # Two claims of two allowed: failed, and the reason says so.
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert row["failure_reason"] == "gave up after 2 attempts; the last one: BrokenPipeError"
    assert claim_next("w3", lease=LEASE, now=_at(4), policy=policy) is None


def test_out_of_memory_moves_the_job_to_the_larger_tier_then_fails(database):
    from brainmark.execution.states import Failed, FailureKind
    from brainmark.platform.submissions.jobs import apply, claim_next

    [job] = _jobs(1)
    claim_next("w1", lease=LEASE, now=_at(0))
    apply(job.pk, Failed(worker="w1", now=_at(1), kind=FailureKind.OUT_OF_MEMORY,
                         reason="CUDA out of memory"))
    row = _row(job)
    assert (row["status"], row["memory_tier"], row["failure_kind"]) == (
        "queued", "large", "out_of_memory")
    # A worker that only serves the standard tier does not get it; one with large memory does.
    assert claim_next("small", lease=LEASE, now=_at(2), memory_tiers=["standard"]) is None
    assert claim_next("big", lease=LEASE, now=_at(2), memory_tiers=["large"]).pk == job.pk
    apply(job.pk, Failed(worker="big", now=_at(3), kind=FailureKind.OUT_OF_MEMORY,
                         reason="MemoryError"))
    row = _row(job)
    assert (row["status"], row["attempts"], row["memory_tier"]) == ("failed", 2, "large")
    assert row["failure_reason"] == (
        "out of memory on the largest memory request ('large'): MemoryError")


def test_a_deterministic_failure_fails_at_once_with_its_reason(database):
    from brainmark.execution.states import Failed, FailureKind, ResourceUse
    from brainmark.platform.submissions.jobs import apply, claim_next

    [job] = _jobs(1)
    claim_next("w1", lease=LEASE, now=_at(0))
    apply(job.pk, Failed(worker="w1", now=_at(2), kind=FailureKind.DETERMINISTIC,
                         reason="KeyError: 'IT' in model.py line 12",
                         usage=ResourceUse(wall_seconds=120.0, exit_code=1)))
    row = _row(job)
    assert (row["status"], row["attempts"], row["failure_kind"]) == (
        "failed", 1, "deterministic")
    assert row["failure_reason"] == "KeyError: 'IT' in model.py line 12"
    assert (row["exit_code"], row["wall_seconds"], row["cpu_seconds"]) == (1, 120.0, None)


def test_an_illegal_event_changes_nothing(database):
    from brainmark.execution.states import (
        Finished,
        Heartbeat,
        IllegalTransitionError,
        LeaseExpired,
    )
    from brainmark.platform.submissions.jobs import apply, claim_next

    [job] = _jobs(1)
    before = _row(job)
    with pytest.raises(IllegalTransitionError, match="Finished to a queued job"):
        apply(job.pk, Finished(worker="w1", now=_at(1)))
    assert _row(job) == before

    claim_next("w1", lease=LEASE, now=_at(0))
    running = _row(job)
    with pytest.raises(IllegalTransitionError, match="held by worker 'w1', not 'w2'"):
        apply(job.pk, Heartbeat(worker="w2", now=_at(1), lease=LEASE))
    with pytest.raises(IllegalTransitionError, match="lease is valid until"):
        apply(job.pk, LeaseExpired(now=_at(4)))
    assert _row(job) == running


def test_cancel_and_rerun(database):
    from brainmark.execution.states import (
        Cancel,
        Failed,
        FailureKind,
        Finished,
        IllegalTransitionError,
        Rerun,
    )
    from brainmark.platform.submissions.jobs import apply, claim_next

    queued, running = _jobs(2)
    apply(queued.pk, Cancel(by="staff", reason="duplicate"))
    row = _row(queued)
    assert (row["status"], row["failure_reason"]) == ("cancelled", "cancelled by staff: duplicate")
    assert row["finished"] is not None

    claimed = claim_next("w1", lease=LEASE, now=_at(0))
    assert claimed.pk == running.pk  # The cancelled one is not claimed.
    apply(running.pk, Failed(worker="w1", now=_at(1), kind=FailureKind.OUT_OF_MEMORY,
                             reason="MemoryError"))
    claim_next("w1", lease=LEASE, now=_at(2))
    apply(running.pk, Cancel(by="ada"))
    row = _row(running)
    assert (row["status"], row["worker"], row["lease_expires"]) == ("cancelled", "", None)
    with pytest.raises(IllegalTransitionError, match="only when staff re-run it"):
        apply(running.pk, Finished(worker="w1", now=_at(3)))

    apply(running.pk, Rerun(by="staff"))
    row = _row(running)
    # A fresh budget; the larger memory tier learnt from the out-of-memory failure is kept.
    assert (row["status"], row["attempts"], row["memory_tier"]) == ("queued", 0, "large")
    assert (row["started"], row["finished"], row["failure_reason"]) == (None, None, "")
    assert "cancelled -> queued (re-run by staff)" in row["log"]


def test_a_rerun_while_the_pair_has_a_live_job_is_refused(database):
    from brainmark.execution.states import Cancel, IllegalTransitionError, Rerun
    from brainmark.platform.submissions.jobs import apply
    from brainmark.platform.submissions.models import Job

    [job] = _jobs(1)
    apply(job.pk, Cancel(by="staff"))
    Job.objects.create(model_version=job.model_version, benchmark_version=job.benchmark_version)
    with pytest.raises(IllegalTransitionError, match="another job for the same model"):
        apply(job.pk, Rerun(by="staff"))
    assert _row(job)["status"] == "cancelled"


def test_expire_leases_retries_the_lost_and_leaves_the_alive(database):
    from brainmark.execution.states import Heartbeat, RetryPolicy
    from brainmark.platform.submissions.jobs import apply, claim_next, expire_leases

    policy = RetryPolicy(max_attempts=2)
    lost, alive = _jobs(2)
    claim_next("w-lost", lease=LEASE, now=_at(0), policy=policy)  # Lease until 0:05.
    claim_next("w-alive", lease=LEASE, now=_at(0), policy=policy)
    apply(alive.pk, Heartbeat(worker="w-alive", now=_at(4), lease=LEASE), policy=policy)  # 0:09

    assert expire_leases(_at(4.9), policy=policy) == []
    changed = expire_leases(_at(6), policy=policy)
    assert [job.pk for job in changed] == [lost.pk]
    row = _row(lost)
    assert (row["status"], row["attempts"], row["failure_kind"]) == ("queued", 1, "transient")
    assert "worker 'w-lost' stopped sending heartbeats" in row["failure_reason"]
    assert _row(alive)["status"] == "running"

    # The second and last attempt is lost too: the job fails.
    claim_next("w-lost", lease=LEASE, now=_at(7), policy=policy)  # Lease until 0:12.
    apply(alive.pk, Heartbeat(worker="w-alive", now=_at(8), lease=LEASE), policy=policy)  # 0:13
    assert [job.pk for job in expire_leases(_at(12), policy=policy)] == [lost.pk]
    row = _row(lost)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert row["failure_reason"].startswith("gave up after 2 attempts; the last one: worker")
    assert _row(alive)["status"] == "running"


# --- Several dispatchers at once -------------------------------------------------------------

CLAIMERS = 8


def test_concurrent_claims_each_get_a_different_job(django_test_database):
    """Eight connections claim at the same moment from five queued jobs: five distinct jobs
    are claimed, three claimers get none. (PostgreSQL only: SQLite's in-memory test database
    is shared between threads through table locks that fail rather than wait; the SQLite
    file is tested below, in a process of its own.)"""
    import threading

    from django.db import connection, connections

    from brainmark.platform.submissions.jobs import claim_next

    if connection.vendor != "postgresql":
        pytest.skip("needs a database server that several connections can write at once")
    prefix = "jobs-concurrency"
    made: list = []

    def make() -> None:
        try:
            made.extend(_jobs(5, prefix))
        finally:
            connections.close_all()

    maker = threading.Thread(target=make)  # Committed, outside the test transaction.
    maker.start()
    maker.join(timeout=60)
    start = threading.Barrier(CLAIMERS)
    claimed: list[int | None] = []

    def claimer(name: str) -> None:
        try:
            start.wait()
            job = claim_next(name, lease=LEASE, now=_at(0))
            claimed.append(None if job is None else job.pk)
        finally:
            connections.close_all()

    def clean_up() -> None:
        try:
            _delete_jobs_test_rows(prefix)
        finally:
            connections.close_all()

    try:
        assert len(made) == 5
        threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(CLAIMERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        cleaner = threading.Thread(target=clean_up)
        cleaner.start()
        cleaner.join(timeout=60)
    got = [pk for pk in claimed if pk is not None]
    assert len(claimed) == CLAIMERS
    assert sorted(got) == sorted(job.pk for job in made)  # Each job once, none twice.
    assert claimed.count(None) == CLAIMERS - 5


CONCURRENT_SQLITE_SCRIPT = """
import datetime, sys, threading
import django
django.setup()
from django.db import connection, connections
sys.path.insert(0, {tests!r})
from test_jobs import LEASE, _at, _jobs
from brainmark.platform.submissions.jobs import claim_next
from brainmark.platform.submissions.models import Job
assert connection.vendor == "sqlite", connection.vendor
made = [job.pk for job in _jobs(5, "jobs-sqlite")]
connections.close_all()
claimed, start = [], threading.Barrier({claimers})
def claimer(name):
    try:
        start.wait()
        job = claim_next(name, lease=LEASE, now=_at(0))
        claimed.append(None if job is None else job.pk)
    finally:
        connections.close_all()
threads = [threading.Thread(target=claimer, args=(f"w{{i}}",)) for i in range({claimers})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
got = sorted(pk for pk in claimed if pk is not None)
assert len(claimed) == {claimers}, claimed
assert got == sorted(made), (got, made)
workers = set(Job.objects.filter(pk__in=made).values_list("worker", flat=True))
assert len(workers) == 5, workers
print("claimed", len(got), "none", claimed.count(None))
"""


def test_concurrent_claims_on_a_sqlite_file_each_get_a_different_job(
    run_brainmark, sqlite_environment
):
    """The same on the SQLite file a small site runs on, in a process of its own."""
    from pathlib import Path

    migrated = run_brainmark("migrate", env=sqlite_environment)
    assert migrated.returncode == 0, migrated.stderr
    environment = {**sqlite_environment, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}
    script = CONCURRENT_SQLITE_SCRIPT.format(
        tests=str(Path(__file__).parent), claimers=CLAIMERS
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["claimed", "5", "none", str(CLAIMERS - 5)]


def test_the_admin_shows_why_a_job_failed_and_what_it_used(database):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from brainmark.execution.states import Failed, FailureKind, ResourceUse
    from brainmark.platform.submissions.jobs import apply, claim_next

    [job] = _jobs(1)
    claim_next("gpu-node-7", lease=LEASE, now=_at(0))
    apply(job.pk, Failed(worker="gpu-node-7", now=_at(1), kind=FailureKind.DETERMINISTIC,
                         reason="ValueError: layer 'IT' not found",
                         usage=ResourceUse(peak_memory_bytes=123456789, exit_code=1)),
          isolation="namespaces")
    staff = get_user_model().objects.create_superuser(
        "admin-jobs", email="admin-jobs@example.org", password=None
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    listing = client.get("/admin/submissions/job/?failure_kind__exact=deterministic")
    assert listing.status_code == 200
    assert "gpu-node-7" not in listing.content.decode()  # The worker is cleared when it ends.
    assert f"/admin/submissions/job/{job.pk}/change/" in listing.content.decode()
    page = client.get(f"/admin/submissions/job/{job.pk}/change/").content.decode()
    for shown in ("ValueError: layer &#x27;IT&#x27; not found", "123456789", "namespaces",
                  "Last attempt"):
        assert shown in page, shown
