"""The staff's queue page, staff.py's re-run/cancel/rescore and the admin's actions, on rows
made here. Expected counts and waits are worked out by hand from those rows."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from html import unescape

import pytest

pytestmark = pytest.mark.db

_versions = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_passwords(database):
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def _user(email: str, *, staff: bool = False):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=email, email=email,
                                                password="not used", is_staff=staff)


def _client(user=None, **options):
    from django.test import Client

    client = Client(HTTP_HOST="localhost", **options)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def now():
    from django.utils import timezone

    return timezone.now()


@pytest.fixture
def make_job(database):
    """``make_job(status, **fields)``: a job on a pair of its own (one live job per pair)."""
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
    )
    from brainmark.platform.submissions.models import Job

    model = Model.objects.create(identifier="queue-net", public=True)
    version = ModelVersion.objects.create(model=model, version=1, plugin_sha1="a" * 40,
                                          visual_degrees=8)
    kind = BenchmarkType.objects.create(identifier="Queue2024.IT-rdm")

    def make(status: str, *, updated=None, **fields):
        benchmark = BenchmarkVersion.objects.create(benchmark_type=kind,
                                                    version=next(_versions), ceiling=1)
        if status == "running":
            fields.setdefault("lease_expires", fields.get("heartbeat") or updated)
        job = Job.objects.create(model_version=version, benchmark_version=benchmark,
                                 status=status, **fields)
        if updated is not None:
            Job.objects.filter(pk=job.pk).update(updated=updated)
            job.refresh_from_db()
        return job

    return make


@pytest.fixture
def queue_rows(make_job, now):
    hour = timedelta(hours=1)
    return {
        "queued": [make_job("queued", updated=now - timedelta(minutes=m)) for m in (10, 30, 50)],
        "running": [
            make_job("running", worker="gpu-1", heartbeat=now - timedelta(seconds=20),
                     attempts=1, updated=now),
            make_job("running", worker="gpu-2", heartbeat=now - timedelta(seconds=90),
                     attempts=2, updated=now),
        ],
        "failed": [
            make_job("failed", failure_kind="deterministic", failure_reason="bad layer",
                     finished=now - hour, attempts=1),
            make_job("failed", failure_kind="deterministic", failure_reason="NaN scores",
                     finished=now - 2 * hour, attempts=1),
            make_job("failed", failure_kind="out_of_memory", failure_reason="killed",
                     finished=now - 3 * hour, attempts=2),
            make_job("failed", failure_kind="transient", failure_reason="old",
                     finished=now - timedelta(days=10), attempts=3),  # outside 7 days
        ],
        "succeeded": [make_job(
            "succeeded", finished=now - hour, heartbeat=now - hour - timedelta(minutes=1),
            log="2030-01-01T00:00:00 queued -> running on cpu-9 (attempt 1, standard memory)\n"
                "2030-01-01T00:10:00 running -> succeeded\n")],
        "cancelled": [make_job("cancelled", finished=now - timedelta(days=2))],
    }


def test_the_overview_counts_waits_failures_and_workers(queue_rows, now):
    from brainmark.platform.submissions.queries import queue_overview

    overview = queue_overview(now)

    assert overview.counts == {"queued": 3, "running": 2, "succeeded": 1, "failed": 4,
                               "cancelled": 1}
    assert overview.oldest_wait == timedelta(minutes=50)
    assert overview.median_wait == timedelta(minutes=30)
    assert overview.failures_by_kind == {"out_of_memory": 1, "deterministic": 2,
                                         "transient": 0}
    assert [(w.name, w.running, w.last_heartbeat) for w in overview.workers] == [
        ("gpu-1", 1, now - timedelta(seconds=20)),
        ("gpu-2", 1, now - timedelta(seconds=90)),
        ("cpu-9", 0, now - timedelta(hours=1, minutes=1)),
    ]
    listed = {job.id for job in overview.jobs}
    assert listed == {job.pk for job in queue_rows["running"] + queue_rows["failed"]}


def test_staff_see_the_page_others_do_not(queue_rows):
    staff, user = _user("staff@example.org", staff=True), _user("user@example.org")

    response = _client(staff).get("/submissions/queue/")
    assert response.status_code == 200
    html = unescape(response.content.decode())
    counts = dict(re.findall(r'data-status="(\w+)">(\d+)<', html))
    assert counts == {"queued": "3", "running": "2", "succeeded": "1", "failed": "4",
                      "cancelled": "1"}
    assert dict(re.findall(r'data-kind="(\w+)">(\d+)<', html)) == {
        "out_of_memory": "1", "deterministic": "2", "transient": "0"}
    assert re.search(r'id="oldest-wait">50 min \d+ s<', html)
    assert "gpu-1" in html and "cpu-9" in html and "bad layer" in html
    # A button per listed job: re-run for a failed one, cancel for a running one.
    assert len(re.findall(r'/submissions/jobs/\d+/rerun/', html)) == 4
    assert len(re.findall(r'/submissions/jobs/\d+/cancel/', html)) == 2
    assert 'href="/submissions/queue/"' in _client(staff).get("/submissions/").content.decode()

    assert _client(user).get("/submissions/queue/").status_code == 404
    assert 'href="/submissions/queue/"' not in _client(user).get(
        "/submissions/").content.decode()
    anonymous = _client().get("/submissions/queue/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/accounts/login/?next=/submissions/queue/"


def test_the_buttons_re_run_and_cancel_for_staff_only(queue_rows):
    from brainmark.platform.submissions.models import Job

    staff, user = _user("staff@example.org", staff=True), _user("user@example.org")
    failed, running = queue_rows["failed"][0], queue_rows["running"][0]

    assert _client(user).post(f"/submissions/jobs/{failed.pk}/rerun/").status_code == 404
    no_token = _client(staff, enforce_csrf_checks=True).post(
        f"/submissions/jobs/{failed.pk}/rerun/")
    assert no_token.status_code == 403
    assert Job.objects.get(pk=failed.pk).status == "failed"

    response = _client(staff).post(f"/submissions/jobs/{failed.pk}/rerun/")
    assert response.status_code == 302 and response["Location"] == "/submissions/queue/"
    assert Job.objects.get(pk=failed.pk).status == "queued"
    _client(staff).post(f"/submissions/jobs/{running.pk}/cancel/")
    cancelled = Job.objects.get(pk=running.pk)
    assert cancelled.status == "cancelled"
    assert cancelled.failure_reason == "cancelled by staff@example.org"

    # Cancelling a finished job is refused with the state machine's reason.
    page = _client(staff).post(f"/submissions/jobs/{running.pk}/cancel/", follow=True)
    assert f"Job #{running.pk} was not cancelled: Cannot apply Cancel to a cancelled job" in \
        unescape(page.content.decode())


# --- staff.py -------------------------------------------------------------------------------


def test_rerun_and_cancel_follow_the_state_machine(queue_rows):
    from brainmark.platform.submissions import staff

    failed = queue_rows["failed"][2]  # out of memory: re-run keeps the larger tier
    failed.memory_tier = "large"
    failed.save(update_fields=["memory_tier"])
    job = staff.rerun_job(failed.pk, "ada")
    assert (job.status, job.attempts, job.memory_tier, job.failure_reason) == (
        "queued", 0, "large", "")
    assert job.log.endswith("failed -> queued (re-run by ada)\n")

    with pytest.raises(staff.StaffActionError,
                       match=rf"Job #{job.pk} was not re-run: Cannot apply Rerun to a queued "
                             r"job: only a succeeded, failed or cancelled job can be re-run"):
        staff.rerun_job(job.pk, "ada")
    cancelled = staff.cancel_job(job.pk, "ada")
    assert (cancelled.status, cancelled.failure_reason) == ("cancelled", "cancelled by ada")
    with pytest.raises(staff.StaffActionError, match="was not cancelled"):
        staff.cancel_job(job.pk, "ada")
    with pytest.raises(staff.UnknownIdError, match="No job has the id 999999999"):
        staff.rerun_job(999999999, "ada")
    with pytest.raises(staff.UnknownIdError, match="No job has the id"):
        staff.cancel_job(2**70, "ada")


@pytest.fixture
def submission(make_job):
    from brainmark.platform.submissions.models import Submission

    owner = _user("owner@example.org")
    return Submission.objects.create(user=owner, kind="model", status="failed",
                                     log="scoring failed\n")


def test_rerun_submission_reruns_its_failed_and_cancelled_jobs(make_job, submission, now):
    from brainmark.platform.submissions import staff
    from brainmark.platform.submissions.models import Job, Submission

    failed = make_job("failed", submission=submission, failure_kind="deterministic",
                      failure_reason="x", attempts=1)
    cancelled = make_job("cancelled", submission=submission)
    succeeded = make_job("succeeded", submission=submission, attempts=1)

    rerun = staff.rerun_submission(submission.pk, "ada")

    assert sorted(job.pk for job in rerun) == sorted([failed.pk, cancelled.pk])
    assert {job.pk: job.status for job in Job.objects.filter(submission=submission)} == {
        failed.pk: "queued", cancelled.pk: "queued", succeeded.pk: "succeeded"}
    row = Submission.objects.get(pk=submission.pk)
    assert row.status == "scoring" and "scoring" in row.stages
    assert f"2 job(s) re-run by ada: #{failed.pk}, #{cancelled.pk}." in row.log
    with pytest.raises(staff.StaffActionError, match="no failed or cancelled job to re-run"):
        staff.rerun_submission(submission.pk, "ada")


def test_cancel_submission_cancels_live_jobs_and_fails_it(make_job, submission, now):
    from brainmark.platform.submissions import staff
    from brainmark.platform.submissions.models import Job, Submission

    Submission.objects.filter(pk=submission.pk).update(status="scoring")
    queued = make_job("queued", submission=submission)
    running = make_job("running", submission=submission, worker="gpu-1", heartbeat=now,
                       attempts=1)
    done = make_job("succeeded", submission=submission, attempts=1)

    cancelled = staff.cancel_submission(submission.pk, "ada")

    assert sorted(job.pk for job in cancelled) == sorted([queued.pk, running.pk])
    assert {job.pk: job.status for job in Job.objects.filter(submission=submission)} == {
        queued.pk: "cancelled", running.pk: "cancelled", done.pk: "succeeded"}
    row = Submission.objects.get(pk=submission.pk)
    assert row.status == "cancelled" and "Cancelled by ada (2 job(s) cancelled)." in row.log
    with pytest.raises(staff.StaffActionError, match="is already cancelled"):
        staff.cancel_submission(submission.pk, "ada")
    with pytest.raises(staff.UnknownIdError, match="No submission has the id 0"):
        staff.cancel_submission(0, "ada")


def test_rescore_outdated_queues_one_job_per_score_of_other_code(make_job):
    from brainmark._provenance import library_sha1
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.submissions import staff
    from brainmark.platform.submissions.models import Job

    old = "0" * 40
    current_pair = make_job("succeeded")
    old_pair = make_job("succeeded", needs_gpu=True)
    live_pair = make_job("queued")  # outdated, but a job already waits for it
    no_record_pair = make_job("failed")
    for job, record in ((current_pair, {"library_sha1": library_sha1()}),
                        (old_pair, {"library_sha1": old}),
                        (live_pair, {"library_sha1": old}),
                        (no_record_pair, {})):
        Score.objects.create(model_version=job.model_version,
                             benchmark_version=job.benchmark_version, ceiled=0.5, record=record)
    before = set(Job.objects.values_list("pk", flat=True))

    assert staff.rescore_outdated("ada") == 1

    new = Job.objects.exclude(pk__in=before).get()
    assert (new.model_version_id, new.benchmark_version_id) == (
        old_pair.model_version_id, old_pair.benchmark_version_id)
    assert (new.status, new.submission_id, new.needs_gpu) == ("queued", None, True)
    assert "queued by ada: rescore" in new.log and old[:12] in new.log
    assert staff.rescore_outdated("ada") == 0  # its job is live now


def test_the_admin_actions_rerun_and_cancel(queue_rows):
    from brainmark.platform.submissions.models import Job

    admin = _user("admin@example.org", staff=True)
    admin.is_superuser = True
    admin.save()
    failed, running = queue_rows["failed"][0], queue_rows["running"][0]

    response = _client(admin).post("/admin/submissions/job/", {
        "action": "rerun_jobs", "_selected_action": [failed.pk, running.pk]}, follow=True)

    html = unescape(response.content.decode())
    assert Job.objects.get(pk=failed.pk).status == "queued"
    assert Job.objects.get(pk=running.pk).status == "running"
    assert f"Queued again: job(s) #{failed.pk}." in html
    assert f"Job #{running.pk} was not re-run" in html
    _client(admin).post("/admin/submissions/job/", {
        "action": "cancel_jobs", "_selected_action": [running.pk]})
    assert Job.objects.get(pk=running.pk).status == "cancelled"
    changelist = _client(admin).get("/admin/submissions/job/").content.decode()
    assert 'href="/submissions/queue/"' in changelist
