"""``brainmark jobs``: the platform's scoring jobs for admins (list, rerun, cancel, rescore).

Runs on the platform's host with its database (Django set up as ``brainmark user`` does);
every change goes through :mod:`brainmark.platform.submissions.staff`, so the job state
machine decides what is allowed, as on the queue page and in the admin.
"""

from __future__ import annotations

import getpass
import sys
from datetime import datetime

import click

from brainmark.exceptions import BrainmarkError


class JobCommandError(BrainmarkError):
    """A jobs command that did not do everything asked (the message says what failed)."""


def _by() -> str:
    """Who acts, for the job's log: the operator's login name."""
    try:
        return f"{getpass.getuser()} (brainmark jobs)"
    except (KeyError, OSError):
        return "brainmark jobs"


@click.group()
def jobs() -> None:
    """List, re-run and cancel the platform's scoring jobs (brainmark migrate must have run)."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "succeeded", "failed",
                                             "cancelled"]), default=None,
              help="Only jobs with this status.")
@click.option("--submission", "submission_id", type=int, default=None, metavar="ID",
              help="Only the jobs of this submission.")
def list_jobs(status: str | None, submission_id: int | None) -> None:
    """A table of jobs, oldest first: id, model, benchmark, status, attempts, worker, failure
    kind and age."""
    from brainmark.cli.accounts import _set_up_django

    _set_up_django()
    from django.utils import timezone

    from brainmark.platform.submissions.models import Job
    from brainmark.platform.submissions.staff import require_submission

    rows = Job.objects.select_related("model_version__model",
                                      "benchmark_version__benchmark_type")
    if status is not None:
        rows = rows.filter(status=status)
    if submission_id is not None:
        require_submission(submission_id)
        rows = rows.filter(submission_id=submission_id)
    now = timezone.now()
    table = [("ID", "MODEL", "BENCHMARK", "STATUS", "ATTEMPTS", "WORKER", "FAILURE", "AGE")]
    for job in rows.order_by("created", "pk"):
        table.append((
            str(job.pk),
            f"{job.model_version.model.identifier} v{job.model_version.version}",
            f"{job.benchmark_version.benchmark_type.identifier} v{job.benchmark_version.version}",
            job.status,
            str(job.attempts),
            job.worker or "-",
            job.failure_kind or "-",
            age(job.created, now),
        ))
    if len(table) == 1:
        click.echo("No jobs.")
        return
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths,
                                                                      strict=True)).rstrip())


def age(created: datetime, now: datetime) -> str:
    """``3d4h``, ``5h6m``, ``7m8s``, ``9s``: how long ago ``created`` was."""
    seconds = max(int((now - created).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def _each(job_ids: tuple[int, ...], submission_id: int | None, verb: str) -> None:
    """Re-run (``verb`` 'rerun') or cancel the jobs, or the submission; every refusal is
    printed and the command exits 1 if any."""
    from brainmark.cli.accounts import _set_up_django

    if bool(job_ids) == (submission_id is not None):
        raise click.UsageError("Give job ids or --submission ID (one of the two).")
    _set_up_django()
    from brainmark.platform.submissions import staff

    by = _by()
    if submission_id is not None:
        act = staff.rerun_submission if verb == "rerun" else staff.cancel_submission
        changed = act(submission_id, by)
        done = "re-run" if verb == "rerun" else "cancelled"
        click.echo(f"Submission #{submission_id}: {len(changed)} job(s) {done}"
                   f"{': ' if changed else ''}{', '.join(f'#{job.pk}' for job in changed)}.")
        return
    act_on_job = staff.rerun_job if verb == "rerun" else staff.cancel_job
    failures = []
    for job_id in job_ids:
        try:
            job = act_on_job(job_id, by)
        except (staff.UnknownIdError, staff.StaffActionError) as error:
            failures.append(str(error))
            continue
        click.echo(f"Job #{job.pk}: {job.status}.")
    if failures:
        for failure in failures:
            click.echo(f"Error: {failure}", err=True)
        sys.exit(1)


@jobs.command("rerun")
@click.argument("job_ids", nargs=-1, type=int, metavar="[JOB_ID]...")
@click.option("--submission", "submission_id", type=int, default=None, metavar="ID",
              help="Re-run every failed or cancelled job of this submission instead.")
def rerun(job_ids: tuple[int, ...], submission_id: int | None) -> None:
    """Queue finished jobs again (a fresh budget of attempts)."""
    _each(job_ids, submission_id, "rerun")


@jobs.command("cancel")
@click.argument("job_ids", nargs=-1, type=int, metavar="[JOB_ID]...")
@click.option("--submission", "submission_id", type=int, default=None, metavar="ID",
              help="Cancel this submission (its queued and running jobs) instead.")
def cancel(job_ids: tuple[int, ...], submission_id: int | None) -> None:
    """Cancel queued or running jobs."""
    _each(job_ids, submission_id, "cancel")


@jobs.command("rescore-outdated")
def rescore_outdated() -> None:
    """Queue a job for every score computed by other brainmark code than the installed one."""
    from brainmark.cli.accounts import _set_up_django

    _set_up_django()
    from brainmark.platform.submissions import staff

    count = staff.rescore_outdated(_by())
    click.echo(f"Queued {count} rescore job(s).")


COMMANDS = [jobs]
