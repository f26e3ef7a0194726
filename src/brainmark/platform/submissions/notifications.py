"""E-mails telling a submitter what became of their submission and their models' scores.

One function per event, each sending one mail (plain text and an HTML alternative, both from
the templates under ``submissions/mail/``; subjects start with ``[brainmark]``) to the
submission's user:

- :func:`tests_failed`: the failing part of the plugin tests' log;
- :func:`submission_rejected`: every validation problem (file, rule, message);
- :func:`submission_failed`: a failure outside the tests (e.g. the merge), with its reason;
- :func:`scoring_finished`: a table of the new scores and the failed pairs' count;
- :func:`model_rescored`: a user's model scored on a new benchmark (version).

Links are absolute, built from the ``site_url`` setting (:func:`site_link`), never from a
request. A mail holds only what the recipient may see on the site: score tables leave out
every score of another user's private or withdrawn model and of a benchmark version that
is neither public nor the recipient's (a benchmark submitter is told about public models
only). Texts from the log and the database are shown verbatim in the plain part and escaped
in the HTML part (the template engine's autoescape); long texts are cut to
:data:`MAX_TEXT_BYTES`, keeping their end, where a failure shows.

Each function returns the number of mails sent: 0 when the user has no e-mail address, or
when the mail server refused it (logged as a warning: a lost notification never stops the
pipeline nor loses a submission; the page shows the same news).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from brainmark.platform.accounts.services import site_link
from brainmark.platform.leaderboard.models import ModelVersion, Score
from brainmark.platform.submissions.models import Submission

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_TEXT_BYTES",
    "ScoreLine",
    "model_rescored",
    "score_lines",
    "scoring_finished",
    "submission_failed",
    "submission_rejected",
    "tests_failed",
]

MAX_TEXT_BYTES = 8 * 1024
SUBJECT_PREFIX = "[brainmark]"


@dataclasses.dataclass(frozen=True)
class ScoreLine:
    """One row of a mail's score table: who on what, and the value or why it failed."""

    model: str
    model_version: int
    benchmark: str
    benchmark_version: int
    value: str  # the ceiled score with 3 decimals, or "failed: <first line of the comment>"
    failed: bool
    model_link: str


def tests_failed(submission: Submission, log_excerpt: str) -> int:
    """Mail that the plugin tests of ``submission`` failed, with ``log_excerpt`` (the failing
    part of the test log, cut to its last :data:`MAX_TEXT_BYTES`) and the submission's link."""
    excerpt, cut = _cut(log_excerpt)
    return _send(submission.user, "tests_failed",
                 f"Submission #{submission.pk}: the plugin tests failed",
                 {**_submission_context(submission), "log": excerpt, "cut": cut})


def submission_rejected(submission: Submission) -> int:
    """Mail that ``submission`` was rejected, listing each of its ``problems``."""
    problems = [
        {"file": str(problem.get("file", "")), "rule": str(problem.get("rule", "")),
         "message": str(problem.get("message", ""))}
        for problem in submission.problems or () if isinstance(problem, dict)
    ]
    return _send(submission.user, "submission_rejected",
                 f"Submission #{submission.pk} was rejected",
                 {**_submission_context(submission), "problems": problems})


def submission_failed(submission: Submission, reason: str) -> int:
    """Mail that ``submission`` failed outside its tests (e.g. merging it), saying why."""
    text, cut = _cut(reason)
    return _send(submission.user, "submission_failed", f"Submission #{submission.pk} failed",
                 {**_submission_context(submission), "reason": text, "cut": cut})


def scoring_finished(submission: Submission, scores: Sequence[Score]) -> int:
    """Mail the new ``scores`` of ``submission``: a table with links to the model pages,
    how many pairs failed, and the submission's link. Scores the user may not see on the
    site are left out (module docstring)."""
    lines = score_lines(submission.user, scores)
    failed = sum(line.failed for line in lines)
    return _send(submission.user, "scoring_finished",
                 f"Submission #{submission.pk}: scoring finished",
                 {**_submission_context(submission), **_table_context(lines),
                  "scored": len(lines) - failed, "failed": failed})


def model_rescored(user: AbstractBaseUser, model_version: ModelVersion,
                   scores: Sequence[Score]) -> int:
    """Mail ``user`` the new ``scores`` of their ``model_version`` (scored on a new benchmark
    or benchmark version), with a link to the model's page.

    Raises ``ValueError`` when ``user`` does not own the model or a score is of another
    model version: the mail would show someone else's scores.
    """
    model = model_version.model
    if model.owner_id is None or model.owner_id != user.pk:
        raise ValueError(f"model_rescored: {model.identifier} is not {user.get_username()}'s "
                         f"model; only its owner is told about its scores.")
    others = sorted({score.pk for score in scores if score.model_version_id != model_version.pk})
    if others:
        raise ValueError(f"model_rescored: score(s) {others} are not of {model_version}.")
    lines = score_lines(user, scores)
    failed = sum(line.failed for line in lines)
    return _send(user, "model_rescored", f"New scores for your model {model.identifier}",
                 {"model": model.identifier, "model_version": model_version.version,
                  "model_link": _model_link(model.identifier), **_table_context(lines),
                  "scored": len(lines) - failed, "failed": failed})


def score_lines(user: AbstractBaseUser, scores: Iterable[Score]) -> list[ScoreLine]:
    """The rows of a score table for ``user``: one per score ``user`` may see, ordered by
    model, model version, benchmark and benchmark version (one query)."""
    ids = [score.pk for score in scores]
    visible = (
        Score.objects.filter(pk__in=ids)
        # The recipient's own models, and others' only while public and not withdrawn.
        .filter(Q(model_version__model__owner_id=user.pk)
                | Q(model_version__model__public=True, model_version__model__withdrawn=False))
        # Public benchmark versions, and the recipient's own benchmarks.
        .filter(Q(benchmark_version__public=True)
                | Q(benchmark_version__benchmark_type__owner_id=user.pk))
        .select_related("model_version__model", "benchmark_version__benchmark_type")
        .order_by("model_version__model__identifier", "model_version__version",
                  "benchmark_version__benchmark_type__identifier", "benchmark_version__version")
    )
    return [_score_line(score) for score in visible]


def _score_line(score: Score) -> ScoreLine:
    model = score.model_version.model.identifier
    failed = score.ceiled is None or math.isnan(score.ceiled)
    if failed:
        reason = next((line.strip() for line in score.comment.splitlines() if line.strip()),
                      "no reason recorded")
        value = f"failed: {reason}"
    else:
        value = f"{score.ceiled:.3f}"
    return ScoreLine(model=model, model_version=score.model_version.version,
                     benchmark=score.benchmark_version.benchmark_type.identifier,
                     benchmark_version=score.benchmark_version.version, value=value,
                     failed=failed, model_link=_model_link(model))


def _table_context(lines: Sequence[ScoreLine]) -> dict[str, Any]:
    """The score table for both parts: the rows (HTML) and the aligned plain-text table."""
    header = ("Model", "Benchmark", "Score")
    rows = [(f"{line.model} v{line.model_version}",
             f"{line.benchmark} v{line.benchmark_version}", line.value) for line in lines]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(2)]
    text = "\n".join(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip()
                     for row in (header, *rows))
    return {"lines": lines, "table_text": text}


def _model_link(identifier: str) -> str:
    return site_link(reverse("leaderboard:model", kwargs={"identifier": identifier}))


def _submission_context(submission: Submission) -> dict[str, Any]:
    return {
        "submission": submission,
        "kind": submission.get_kind_display().lower(),
        "link": site_link(reverse("submissions:detail", kwargs={"pk": submission.pk})),
    }


def _cut(text: str) -> tuple[str, int]:
    """``text`` cut to its last :data:`MAX_TEXT_BYTES` bytes of UTF-8, and how many bytes
    were left out (0 when it fits)."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= MAX_TEXT_BYTES:
        return text, 0
    # errors="ignore" drops a character the cut went through.
    return data[-MAX_TEXT_BYTES:].decode("utf-8", errors="ignore"), len(data) - MAX_TEXT_BYTES


def _send(user: AbstractBaseUser, template: str, subject: str, context: dict[str, Any]) -> int:
    """Render ``submissions/mail/<template>.txt`` and ``.html`` and mail them to ``user``."""
    address = getattr(user, "email", "")
    if not address:
        return 0
    context = {**context, "site_url": site_link("")}
    text = render_to_string(f"submissions/mail/{template}.txt", context)
    html = render_to_string(f"submissions/mail/{template}.html", context)
    message = EmailMultiAlternatives(
        f"{SUBJECT_PREFIX} {' '.join(subject.split())}", text, None, [address])
    message.attach_alternative(html, "text/html")
    try:
        return message.send(fail_silently=False)
    except OSError as error:  # SMTP errors too: a mail that cannot go never stops the pipeline
        logger.warning("The mail %r to %s could not be sent: %s", subject, address, error)
        return 0
