"""``brainmark jobs list|rerun|cancel|rescore-outdated`` on real job rows.

The commands run in this process (click's runner) on the test database, as the accounts
commands' tests do; one runs in a child process on a fresh migrated home to check the
command as an operator starts it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result

from brainmark.cli import main

pytestmark = pytest.mark.db

_versions = itertools.count(1)


@pytest.fixture
def invoke(database, monkeypatch):
    """Runs ``brainmark ARGS`` in this process."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "brainmark.platform.settings")

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args))

    return run


@pytest.fixture
def rows(database):
    """A submission with a failed, a running and a queued job, and a succeeded job of no
    submission, each on a pair of its own."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
    )
    from brainmark.platform.submissions.models import Job, Submission

    now = timezone.now()
    user = get_user_model().objects.create_user("cli@example.org", "cli@example.org", "x")
    submission = Submission.objects.create(user=user, kind="model", status="scoring")
    model = Model.objects.create(identifier="cli-net", owner=user)
    version = ModelVersion.objects.create(model=model, version=3, plugin_sha1="a" * 40,
                                          visual_degrees=8)
    kind = BenchmarkType.objects.create(identifier="Cli2024.IT-rdm")

    def job(status, **fields):
        benchmark = BenchmarkVersion.objects.create(benchmark_type=kind,
                                                    version=next(_versions), ceiling=1)
        made = Job.objects.create(model_version=version, benchmark_version=benchmark,
                                  status=status, **fields)
        Job.objects.filter(pk=made.pk).update(created=now - timedelta(hours=2, minutes=5))
        return made

    return {
        "submission": submission,
        "failed": job("failed", submission=submission, attempts=1,
                      failure_kind="deterministic", failure_reason="bad layer"),
        "running": job("running", submission=submission, attempts=2, worker="gpu-1",
                       heartbeat=now, lease_expires=now + timedelta(minutes=5)),
        "queued": job("queued", submission=submission),
        "other": job("succeeded", attempts=1),
    }


def _table(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()]


def test_list_shows_every_job_and_filters(invoke, rows):
    result = invoke("jobs", "list")

    assert result.exit_code == 0, result.output
    failed, running, queued, other = (rows[k] for k in ("failed", "running", "queued", "other"))
    version = {job: job.benchmark_version.version for job in (failed, running, queued, other)}
    assert _table(result.output) == [
        ["ID", "MODEL", "BENCHMARK", "STATUS", "ATTEMPTS", "WORKER", "FAILURE", "AGE"],
        [str(failed.pk), "cli-net", "v3", "Cli2024.IT-rdm", f"v{version[failed]}", "failed",
         "1", "-", "deterministic", "2h5m"],
        [str(running.pk), "cli-net", "v3", "Cli2024.IT-rdm", f"v{version[running]}",
         "running", "2", "gpu-1", "-", "2h5m"],
        [str(queued.pk), "cli-net", "v3", "Cli2024.IT-rdm", f"v{version[queued]}", "queued",
         "0", "-", "-", "2h5m"],
        [str(other.pk), "cli-net", "v3", "Cli2024.IT-rdm", f"v{version[other]}", "succeeded",
         "1", "-", "-", "2h5m"],
    ]
    running_only = invoke("jobs", "list", "--status", "running")
    assert [row[0] for row in _table(running_only.output)[1:]] == [str(running.pk)]
    of_submission = invoke("jobs", "list", "--submission", str(rows["submission"].pk))
    assert [row[0] for row in _table(of_submission.output)[1:]] == [
        str(failed.pk), str(running.pk), str(queued.pk)]
    unknown = invoke("jobs", "list", "--submission", "424242")
    assert unknown.exit_code == 1
    assert "No submission has the id 424242." in unknown.output


def test_rerun_and_cancel_jobs_by_id(invoke, rows):
    from brainmark.platform.submissions.models import Job

    failed, running = rows["failed"], rows["running"]

    rerun = invoke("jobs", "rerun", str(failed.pk))
    assert rerun.exit_code == 0, rerun.output
    assert rerun.output == f"Job #{failed.pk}: queued.\n"
    assert Job.objects.get(pk=failed.pk).status == "queued"

    cancel = invoke("jobs", "cancel", str(running.pk), "999999")
    assert cancel.exit_code == 1
    assert f"Job #{running.pk}: cancelled." in cancel.output
    assert "Error: No job has the id 999999." in cancel.output
    row = Job.objects.get(pk=running.pk)
    assert row.status == "cancelled" and row.failure_reason.startswith("cancelled by ")

    refused = invoke("jobs", "rerun", str(rows["queued"].pk))
    assert refused.exit_code == 1
    assert "was not re-run: Cannot apply Rerun to a queued job" in refused.output
    assert "Traceback" not in refused.output

    neither = invoke("jobs", "cancel")
    assert neither.exit_code == 2 and "Give job ids or --submission ID" in neither.output


def test_cancel_and_rerun_a_whole_submission(invoke, rows):
    from brainmark.platform.submissions.models import Job, Submission

    submission = rows["submission"]
    cancel = invoke("jobs", "cancel", "--submission", str(submission.pk))

    assert cancel.exit_code == 0, cancel.output
    assert cancel.output == (f"Submission #{submission.pk}: 2 job(s) cancelled: "
                             f"#{rows['running'].pk}, #{rows['queued'].pk}.\n")
    assert Submission.objects.get(pk=submission.pk).status == "cancelled"

    rerun = invoke("jobs", "rerun", "--submission", str(submission.pk))
    assert rerun.exit_code == 0, rerun.output
    assert set(Job.objects.filter(submission=submission).values_list("status", flat=True)) \
        == {"queued"}
    assert Submission.objects.get(pk=submission.pk).status == "scoring"
    again = invoke("jobs", "cancel", "--submission", "424242")
    assert again.exit_code == 1 and "No submission has the id 424242." in again.output


def test_rescore_outdated_queues_jobs_for_old_records(invoke, rows):
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.submissions.models import Job

    other = rows["other"]
    Score.objects.create(model_version=other.model_version,
                         benchmark_version=other.benchmark_version, ceiled=0.4,
                         record={"library_sha1": "f" * 40})

    result = invoke("jobs", "rescore-outdated")

    assert result.exit_code == 0, result.output
    assert result.output == "Queued 1 rescore job(s).\n"
    assert Job.objects.filter(benchmark_version=other.benchmark_version,
                              status="queued").count() == 1


def test_jobs_list_in_a_fresh_migrated_home(run_brainmark, sqlite_environment):
    assert run_brainmark("migrate", env=sqlite_environment).returncode == 0

    result = run_brainmark("jobs", "list", env=sqlite_environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No jobs.\n"
    unknown = run_brainmark("jobs", "rerun", "7", env=sqlite_environment)
    assert unknown.returncode == 1
    assert unknown.stderr == "Error: No job has the id 7.\n"
