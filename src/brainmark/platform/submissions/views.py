"""The submissions pages: the user's list, the submit form, one submission, the staff queue.

All need a login; a submission is shown to its owner and to staff, and is a 404 to anyone
else (see :mod:`.queries`). The queue and its re-run/cancel buttons are for staff only: the
anonymous are sent to log in, other users get a 404 (the page does not exist for them).

The submit form reads its request body through the uploads' hashing handler (streamed to
disk, stopped at the archive size limit), so the handler must be installed before anything
reads the body; the CSRF check reads it too, so the view is exempt from the middleware's
check and runs the same check itself once the handler is in place, as the upload form does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from brainmark.pipeline.archive import ArchiveLimits
from brainmark.platform.submissions import staff
from brainmark.platform.submissions.forms import SubmissionForm, archive_too_big
from brainmark.platform.submissions.intake import (
    IntakeError,
    check_quota,
    check_rate,
    quota_left,
    receive_submission,
)
from brainmark.platform.submissions.models import Submission
from brainmark.platform.submissions.queries import (
    failure_reasons,
    is_staff,
    job_lines,
    job_progress,
    models_from,
    queue_overview,
    score_lines,
    stages_of,
    submission_for,
    submissions_of,
)
from brainmark.platform.uploads.handlers import HashingUploadHandler, received_file
from brainmark.platform.uploads.services import UploadError


def _quota(user: Any) -> dict[str, Any]:
    left, frees_at = quota_left(user)
    return {"submissions_left": left, "quota_frees_at": frees_at}


@login_required
def submission_list(request: HttpRequest) -> HttpResponse:
    """The user's submissions, newest first, each linking to its page."""
    return render(request, "submissions/list.html", {
        "submissions": submissions_of(request.user),
        "staff": is_staff(request.user),
        **_quota(request.user),
    })


@csrf_exempt
def submission_new(request: HttpRequest) -> HttpResponse:
    """The submit form; a POST streams the zip in and hands it to the intake."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method != "POST":
        return _form_page(request, SubmissionForm())
    limits = ArchiveLimits()
    handler = HashingUploadHandler(request, limit=limits.max_archive_bytes, used=0,
                                   quota=limits.max_archive_bytes)
    try:
        check_quota(request.user)
        check_rate(request.user, count=False)  # Counted once the CSRF check passed.
        request.upload_handlers = [handler]
        try:
            received_file(request, handler)
        except UploadError as error:
            message = archive_too_big(limits) if error.status == 413 else error.message
            raise IntakeError(message, status=error.status) from None
        return _receive(request, limits)
    except IntakeError as error:
        return _form_page(request, SubmissionForm(), error=error.message, status=error.status)
    finally:
        handler.discard()


@csrf_protect
def _receive(request: HttpRequest, limits: ArchiveLimits) -> HttpResponse:
    check_rate(request.user)
    form = SubmissionForm(request.POST, request.FILES, limits=limits)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    submission = receive_submission(request.user, upload.temporary_file_path(),
                                    private=form.cleaned_data["private"], limits=limits,
                                    name=upload.name)
    if submission.status == Submission.Status.REJECTED:
        messages.error(request, f"The archive was refused with {len(submission.problems)} "
                                f"problem(s); nothing was queued. See below.")
    else:
        messages.success(request, f"Received {upload.name}: {submission.get_status_display()}.")
    return redirect("submissions:detail", pk=submission.pk)


def _form_page(request: HttpRequest, form: SubmissionForm, *, error: str | None = None,
               status: int = 200) -> HttpResponse:
    return render(request, "submissions/new.html", {
        "form": form,
        "error": error,
        "max_megabytes": ArchiveLimits().max_archive_bytes // (1024 * 1024),
        **_quota(request.user),
    }, status=status)


@login_required
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One submission: its stages with their times, the problems of a rejected one, why a
    failed one failed, its jobs, scores, log and the models it brought."""
    submission = submission_for(request.user, pk)
    jobs = job_lines(submission, request.user)
    progress = job_progress(jobs)
    return render(request, "submissions/detail.html", {
        "submission": submission,
        "final": submission.status in Submission.FINAL_STATUSES,
        "stages": stages_of(submission, progress),
        "progress": progress,
        "reasons": failure_reasons(submission, jobs),
        "jobs": jobs,
        "job_logs": [job for job in jobs if job.log],
        "hidden_models": sum(job.model is None for job in jobs),
        "scores": score_lines(submission, request.user),
        "models": models_from(submission),
        "staff": is_staff(request.user),
    })


def _staff_only(request: HttpRequest) -> HttpResponse | None:
    """A login redirect for the anonymous, a 404 for users who are not staff."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not is_staff(request.user):
        raise Http404("No such page.")
    return None


def queue(request: HttpRequest) -> HttpResponse:
    """Staff's view of the job queue: counts, waiting times, failures, workers, and the
    running and failed jobs with re-run and cancel buttons."""
    refused = _staff_only(request)
    if refused is not None:
        return refused
    overview = queue_overview()
    return render(request, "submissions/queue.html", {
        "overview": overview,
        "failure_total": sum(overview.failures_by_kind.values()),
        "oldest_wait": _duration(overview.oldest_wait),
        "median_wait": _duration(overview.median_wait),
    })


@require_POST
def job_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Re-run or cancel job ``pk`` (staff, POST with CSRF); back to the queue with a note."""
    refused = _staff_only(request)
    if refused is not None:
        return refused
    by = request.user.get_username()
    act = {"rerun": staff.rerun_job, "cancel": staff.cancel_job}[action]
    try:
        job = act(pk, by)
    except (staff.UnknownIdError, staff.StaffActionError) as error:
        messages.error(request, str(error))
    else:
        done = "queued again" if action == "rerun" else "cancelled"
        messages.success(request, f"Job #{job.pk} {done}.")
    return redirect("submissions:queue")


@require_POST
def submission_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Re-run the failed jobs of submission ``pk`` or cancel it (staff, POST with CSRF)."""
    refused = _staff_only(request)
    if refused is not None:
        return refused
    by = request.user.get_username()
    try:
        if action == "rerun":
            changed = staff.rerun_submission(pk, by)
            messages.success(request, f"{len(changed)} job(s) of submission #{pk} re-run.")
        else:
            changed = staff.cancel_submission(pk, by)
            messages.success(request, f"Submission #{pk} cancelled ({len(changed)} job(s)).")
    except staff.UnknownIdError as error:
        messages.error(request, str(error))
        return redirect("submissions:queue")
    except staff.StaffActionError as error:
        messages.error(request, str(error))
    return redirect("submissions:detail", pk=pk)


def _duration(value: timedelta | None) -> str:
    """``2 d 3 h``, ``4 h 5 min``, ``6 min 7 s``, ``8 s``; an em dash for none."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"
