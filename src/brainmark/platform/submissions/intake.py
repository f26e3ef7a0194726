"""Receiving a submitted zip: quota, durable storage, then validation before any code runs.

:func:`receive_submission` is the one pipeline behind every door (the API, the site's form,
``brainmark submit``):

1. **Quota.** At most ``BRAINMARK_SUBMISSIONS_PER_DAY`` (default 5) accepted submissions
   per user in the last 24 hours; staff are exempt, rejected ones do not count. Refused
   before anything is stored.
2. **Durable first.** The zip goes to the object store under
   ``submissions/<user id>/<uuid>.zip`` and only then the row (status ``received``, the
   archive's key, SHA1, version id and size) is written, so the submitter sees it at once
   and nothing of it lives only in memory or a temporary file.
3. **Validation** (:func:`brainmark.pipeline.archive.validate_archive`) into a fresh work
   folder under home, then the ownership of every model and benchmark identifier. A refusal
   makes the submission ``rejected`` with every problem (file, rule, message); nothing is
   queued. The work folder is removed afterwards (the sandboxed plugin tests, which will
   use it, are a later stage).

Nothing of the submitted code is imported or run here: the archive module reads the
registrations with the registries' static parser.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from brainmark._files import sha1_of_file
from brainmark.pipeline.archive import (
    ArchiveError,
    ArchiveLimits,
    Problem,
    ValidatedArchive,
    receive_upload,
    validate_archive,
)
from brainmark.platform.accounts import ratelimit
from brainmark.platform.leaderboard.models import BenchmarkType, Model
from brainmark.platform.schemas import RequestRefused
from brainmark.platform.submissions import notifications
from brainmark.platform.submissions.models import Submission, SubmissionKind, SubmissionStatus

logger = logging.getLogger(__name__)

DEFAULT_PER_DAY = 5
QUOTA_WINDOW = timedelta(hours=24)
# Statuses that do not use up the quota: the archive was refused before any work was done
# for it (a cancelled status joins this when submissions can be cancelled).
NOT_COUNTED = (SubmissionStatus.REJECTED, SubmissionStatus.CANCELLED)
OWNERSHIP_RULE = "identifier ownership"


class IntakeError(RequestRefused):
    """A submission refused before it was stored; ``status`` is the HTTP answer."""


# --- quota ----------------------------------------------------------------------------------


def submissions_per_day() -> int:
    """Accepted submissions a user may make in 24 hours (``BRAINMARK_SUBMISSIONS_PER_DAY``)."""
    return int(getattr(settings, "BRAINMARK_SUBMISSIONS_PER_DAY", DEFAULT_PER_DAY))


def _counted(user: Any, now: datetime) -> list[datetime]:
    """Creation times of the user's submissions that use the quota now, oldest first."""
    return list(
        Submission.objects.filter(user=user, created__gt=now - QUOTA_WINDOW)
        .exclude(status__in=NOT_COUNTED)
        .order_by("created")
        .values_list("created", flat=True)
    )


def quota_left(user: Any, now: datetime | None = None) -> tuple[int | None, datetime | None]:
    """``(left, frees_at)``: submissions the user may still make now (None: no limit, staff)
    and, when none is left, when the oldest counted one leaves the 24-hour window."""
    if user.is_staff:
        return None, None
    now = timezone.now() if now is None else now
    counted = _counted(user, now)
    left = max(submissions_per_day() - len(counted), 0)
    frees_at = counted[len(counted) - submissions_per_day()] + QUOTA_WINDOW if not left else None
    return left, frees_at


def check_quota(user: Any) -> None:
    """Refuse (429) a submission over the user's daily quota, saying when one frees up."""
    left, frees_at = quota_left(user)
    if left is None or left > 0:
        return
    per_day = submissions_per_day()
    when = frees_at.strftime("%Y-%m-%d %H:%M UTC") if frees_at else "later"
    raise IntakeError(
        f"Submission quota reached: you have made {per_day} accepted submission(s) in the "
        f"last 24 hours, the most allowed per day; 0 are left. The next one frees up at "
        f"{when}. Refused archives do not count. Nothing was stored.",
        status=429,
    )


def check_rate(user: Any, *, count: bool = True) -> None:
    """Refuse (429) a submission over the per-minute limit of the user's attempts
    (``ratelimit.SUBMISSION_USER``), saying when it frees up; ``count`` records this attempt
    (a door that still has a CSRF check to pass checks first and counts once it passed)."""
    try:
        ratelimit.attempt(ratelimit.SUBMISSION_USER, str(user.pk), count=count)
    except ratelimit.RateLimited as refusal:
        raise IntakeError(f"{refusal.message()} Nothing was stored.", status=429) from None


# --- receiving ------------------------------------------------------------------------------


def work_root() -> Path:
    """Where submissions are extracted for validation (``<home>/platform/work``)."""
    from brainmark.settings import get_settings

    return get_settings().home / "platform" / "work"


def receive_submission(
    user: Any,
    upload: str | os.PathLike[str] | Iterable[bytes],
    *,
    private: bool = False,
    limits: ArchiveLimits | None = None,
    name: str = "submission.zip",
    source_fields: Mapping[str, str] | None = None,
) -> Submission:
    """Store a submitted zip durably, record it, validate it; return the submission.

    ``upload`` is the zip's path, or its bytes in chunks (streamed to a temporary file and
    refused as soon as they pass ``limits.max_archive_bytes``). Raises :class:`IntakeError`
    when nothing was stored (quota: 429; too big: 413; the store refused: 502). A refused
    archive is not an exception: the returned submission is ``rejected`` with its problems.
    ``name`` is the file name the submitter gave, used where a problem is the zip itself.
    ``source_fields`` are further fields of the row, written with it (a git submission's
    ``source``, ``source_url``, ``source_ref``, ``source_commit``, ``commit_status_url``).
    """
    limits = ArchiveLimits() if limits is None else limits
    check_quota(user)
    work_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root(), prefix="incoming-") as incoming:
        if isinstance(upload, (str, os.PathLike)):
            path = Path(upload)
            size = path.stat().st_size
            if size > limits.max_archive_bytes:
                raise IntakeError(_too_big(size, limits), status=413)
        else:
            path = Path(incoming) / "submission.zip"
            try:
                _, size = receive_upload(upload, path, limits=limits)
            except ArchiveError:
                raise IntakeError(_too_big(None, limits), status=413) from None
        submission = _store(user, path, size, private=private, source_fields=source_fields)
        validate_stored(submission, path, limits, shown_name=Path(name).name or "submission.zip")
    return submission


def _too_big(size: int | None, limits: ArchiveLimits) -> str:
    shown = f"{size:,} bytes" if size is not None else "larger"
    return (
        f"The archive is {shown}, over the limit of {limits.max_archive_bytes:,} bytes. Leave "
        f"weights and data out of the zip: upload them as data and load them by SHA1. "
        f"Nothing was stored."
    )


def _store(user: Any, path: Path, size: int, *, private: bool,
           source_fields: Mapping[str, str] | None = None) -> Submission:
    """The zip into the object store, then its row: durable before anything else."""
    from brainmark.data.store import StoreError, default_store

    key = f"submissions/{user.pk}/{uuid.uuid4().hex}.zip"
    try:
        store = default_store()
        _, version_id = store.upload(path, key)
    except StoreError as error:
        raise IntakeError(f"The object store refused the archive: {error}", status=502) from None
    if version_id is None:
        raise IntakeError(
            f"The object store {store.location} keeps no versions (S3 versioning is off), so "
            f"the archive could not be pinned; the site's maintainers must turn versioning on.",
            status=502,
        )
    sha1 = sha1_of_file(path)
    # The row is written after the object: if writing it fails, the stored object is left
    # with nothing pointing at it (an orphan in the store, never a row without its archive).
    with transaction.atomic():
        # One submitter's requests are serialised here, so two at once cannot both pass the
        # quota's last place (the loser's stored object is then an orphan, like above).
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        check_quota(user)
        return Submission.objects.create(
            user=user,
            kind=_kind_from_names(path),
            status=SubmissionStatus.RECEIVED,
            private=private,
            archive_key=key,
            archive_sha1=sha1,
            archive_version_id=version_id,
            archive_size=size,
            stages={SubmissionStatus.RECEIVED: timezone.now().isoformat(timespec="seconds")},
            log=f"Received {size:,} bytes (SHA1 {sha1}), stored as {key}.\n",
            **(source_fields or {}),
        )


def _kind_from_names(path: Path) -> str:
    """A first guess of the kind from the zip's folder names (corrected after validation)."""
    tops: set[str] = set()
    with (contextlib.suppress(zipfile.BadZipFile, OSError, ValueError),
          zipfile.ZipFile(path) as archive):
        for name in archive.namelist():
            parts = [part for part in name.split("/") if part]
            tops.update(part for part in parts[:2] if part in ("models", "benchmarks",
                                                                 "data", "metrics"))
    return _kind_of(tops)


def _kind_of(plugin_types: set[str]) -> str:
    if plugin_types == {"models"}:
        return SubmissionKind.MODEL
    if plugin_types == {"benchmarks"}:
        return SubmissionKind.BENCHMARK
    return SubmissionKind.PLUGINS


# --- validation -----------------------------------------------------------------------------


def validate_stored(submission: Submission, path: Path, limits: ArchiveLimits, *,
              shown_name: str) -> None:
    """Validate the stored archive ``path``; the submission ends ``validated`` or
    ``rejected`` (at intake, and by a dispatcher when the intake's web worker died)."""
    _set_status(submission, SubmissionStatus.VALIDATING, "Validating the archive.")
    destination = work_root() / f"submission-{submission.pk}"
    try:
        try:
            archive = validate_archive(path, destination, limits=limits)
        except ArchiveError as error:
            # A problem of the zip as a whole names the file the submitter sent, not ours.
            _reject(submission, [
                Problem(shown_name, p.rule, p.message) if p.file == path.name else p
                for p in error.problems
            ])
            return
        problems = ownership_problems(submission.user, archive)
        if problems:
            _reject(submission, problems)
            return
        submission.kind = _kind_of({plugin.plugin_type for plugin in archive.plugins})
        submission.identifiers = [list(pair) for pair in archive.identifiers()]
        found = ", ".join(f"{identifier} ({registry})"
                          for registry, identifier in archive.identifiers())
        _set_status(submission, SubmissionStatus.VALIDATED,
                    f"The archive is valid; it registers {found or 'nothing'}.")
    finally:
        # Removed for now: the sandboxed plugin tests (a later stage) will extract anew.
        shutil.rmtree(destination, ignore_errors=True)


def ownership_problems(user: Any, archive: ValidatedArchive) -> list[Problem]:
    """Identifiers the user may not submit: a model or benchmark that another user (or the
    platform: the built-in ones) owns. A user's own identifier is a new version (a
    benchmark's must raise its version, checked once its facts are read)."""
    problems = []
    for plugin in archive.plugins:
        shown = f"{plugin.folder.relative_to(archive.root).as_posix()}/__init__.py"
        for registry, identifier, _line in plugin.identifiers:
            table = {"model_registry": Model, "benchmark_registry": BenchmarkType}.get(registry)
            row = table.objects.filter(identifier=identifier).first() if table else None
            if row is not None and row.owner_id != user.pk:
                owner = "another user" if row.owner_id else "the platform (built in)"
                problems.append(Problem(
                    shown, OWNERSHIP_RULE,
                    f"{identifier} belongs to {owner}; choose another name."))
    return problems


def _reject(submission: Submission, problems: Iterable[Problem]) -> None:
    problems = list(problems)
    for problem in problems:
        logger.info("Submission %s refused: %s", submission.pk, problem)
    submission.problems = [asdict(problem) for problem in problems]
    lines = "\n".join(f"- {problem}" for problem in problems)
    _set_status(submission, SubmissionStatus.REJECTED,
                f"Refused with {len(problems)} problem(s); nothing was queued:\n{lines}")
    notifications.submission_rejected(submission)


def _set_status(submission: Submission, status: str, line: str) -> None:
    submission.status = status
    submission.stages = {**submission.stages, status: timezone.now().isoformat(timespec="seconds")}
    submission.log += line.rstrip("\n") + "\n"
    submission.save(update_fields=["status", "kind", "problems", "identifiers", "stages", "log",
                                   "updated"])
