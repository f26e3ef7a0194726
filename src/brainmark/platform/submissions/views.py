"""The submissions pages: ``/submissions/`` (the user's) and ``/submissions/<id>/``.

Both need a login; a submission is shown to its owner and to staff, and is a 404 to anyone
else (see :mod:`.queries`).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from brainmark.platform.submissions.models import Submission
from brainmark.platform.submissions.queries import (
    job_lines,
    models_from,
    submission_for,
    submissions_of,
)


@login_required
def submission_list(request: HttpRequest) -> HttpResponse:
    """The user's submissions, newest first, each linking to its page."""
    return render(request, "submissions/list.html",
                  {"submissions": submissions_of(request.user)})


@login_required
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One submission: kind, status, times, its log, its jobs and the models it brought."""
    submission = submission_for(request.user, pk)
    jobs = job_lines(submission, request.user)
    return render(request, "submissions/detail.html", {
        "submission": submission,
        "final": submission.status in Submission.FINAL_STATUSES,
        "jobs": jobs,
        "hidden_models": sum(job.model is None for job in jobs),
        "models": models_from(submission),
    })
