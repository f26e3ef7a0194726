"""Git submissions in the JSON API: ``POST /api/submissions/git`` and ``POST /api/webhooks/git``.

``POST /api/submissions/git`` (API token, JSON ``{url, ref, private?, commit_status_url?}``)
fetches that ref of the repository and submits its plugin folders through
:func:`.git_source.receive_git_submission`; it answers like the zip upload
(``POST /api/submissions/``).

``POST /api/webhooks/git`` is what a code host (GitHub, Gitea, Forgejo) calls on ``push``
and ``pull_request`` events. It takes no token: the body must carry the HMAC-SHA256 of the
``webhook_secret`` setting (GitHub's ``X-Hub-Signature-256: sha256=<hex>``, or Gitea's
``X-Gitea-Signature: <hex>``), compared in constant time. Each delivery id
(``X-GitHub-Delivery`` / ``X-Gitea-Delivery``) and the SHA-256 of each signed body are
recorded once (:class:`WebhookDelivery`, both unique: the id is not signed), so a replayed
delivery answers 409 and starts nothing; one without an id is refused.
A delivery whose submission was refused before anything was stored (quota, fetch) is
forgotten again, so the code host's "redeliver" can retry it.

Every webhook submission belongs to one platform account, the ``webhook_user`` setting:
each repository pointing at this endpoint with the secret submits as that account. The
result is reported to the ``commit_status_url`` setting filled in with the repository and
the commit (the base repository for a pull request).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja import Status as Answer

from brainmark.platform.accounts.auth import ApiTokenAuth
from brainmark.platform.schemas import ErrorOut, ValidationErrorOut
from brainmark.platform.submissions.api import SubmissionReceived, received
from brainmark.platform.submissions.git_source import (
    MAX_REF_LENGTH,
    MAX_URL_LENGTH,
    commit_status_url_for,
    receive_git_submission,
)
from brainmark.platform.submissions.intake import IntakeError, check_rate
from brainmark.platform.submissions.models import WebhookDelivery
from brainmark.settings import get_settings

router = Router(tags=["submissions"])

_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_NO_COMMIT = "0" * 40
#: Pull request actions that bring new code to score; others (closed, labeled...) do not.
PULL_REQUEST_ACTIONS = ("opened", "synchronize", "reopened")


# --- POST /api/submissions/git -------------------------------------------------------------


class GitSubmissionIn(Schema):
    """Which commit of which public repository to submit."""

    url: str = Field(max_length=MAX_URL_LENGTH,
                     description="The repository, e.g. https://github.com/owner/name.git.")
    ref: str = Field(max_length=MAX_REF_LENGTH,
                     description="A branch, a tag or a full commit SHA.")
    private: bool = Field(False, description="Scores shown only to you and staff.")
    commit_status_url: str = Field(
        "", max_length=MAX_URL_LENGTH,
        description="Where to report the result as a commit status (GitHub's status API), "
        "on the host the site reports to; empty reports nothing.")


@router.post(
    "/submissions/git",
    auth=ApiTokenAuth(),
    response={201: SubmissionReceived, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut,
              422: ValidationErrorOut, 429: ErrorOut, 502: ErrorOut},
    summary="Submit the plugins of a git repository",
)
def submit_git(request: HttpRequest, body: GitSubmissionIn) -> Answer:
    """Fetch one branch, tag or commit of a public repository and submit the plugin folders
    at its root (``models/``, ``benchmarks/``, ``data/``, ``metrics/``).

    Answers 201 as ``POST /api/submissions/`` does (``validated``, or ``rejected`` with its
    problems). 400 for a URL or ref refused (credentials in it, a scheme this site does not
    fetch over, a ref starting with '-') or a fetch that failed, 413 over a size limit, 429
    over your daily quota or the per-minute limit, 502 when git did not finish; nothing is
    stored then.
    """
    try:
        check_rate(request.auth)
        submission = receive_git_submission(
            request.auth, body.url, body.ref, private=body.private,
            commit_status_url=body.commit_status_url)
    except IntakeError as error:
        return Answer(error.status, {"detail": error.message})
    return Answer(201, received(submission, request.auth))


# --- POST /api/webhooks/git ----------------------------------------------------------------


class WebhookAnswer(Schema):
    """What the delivery did: a ping answered, or why nothing was submitted."""

    detail: str


WEBHOOK_REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object",
        "description": "The code host's event payload (push or pull_request), signed.",
    }}},
}


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@router.post(
    "/webhooks/git",
    response={200: WebhookAnswer, 201: SubmissionReceived, 202: WebhookAnswer,
              400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
              413: ErrorOut, 429: ErrorOut, 502: ErrorOut},
    openapi_extra={"requestBody": WEBHOOK_REQUEST_BODY},
    summary="A code host's push or pull request event",
)
def git_webhook(request: HttpRequest) -> Answer:
    """Submit the commit a ``push`` or ``pull_request`` event names, as the site's webhook
    account.

    Signed with the site's webhook secret (``X-Hub-Signature-256`` or
    ``X-Gitea-Signature``; 401 without a signature, 403 with a wrong one), with a delivery
    id seen for the first time (400 without one, 409 for a replay). 201 with the
    submission; 200 for ``ping``; 202 with the reason for an event that submits nothing (a
    deleted branch, a tag, a pull request closed or labelled, another event). 404 when this
    site takes no webhooks.
    """
    try:
        secret, user = _configuration()
        body = _body(request)
        _check_signature(request, body, secret)
        delivery_id = _delivery_id(request)
        event = (request.headers.get("X-GitHub-Event")
                 or request.headers.get("X-Gitea-Event") or "").strip()
        action = _what_to_do(event, _payload(body))
        delivery = _record(delivery_id, event, body)
    except _Refused as refused:
        return Answer(refused.status, {"detail": refused.detail})
    if isinstance(action, tuple):  # (status, why nothing is submitted)
        status, detail = action
        _finish(delivery, detail)
        return Answer(status, {"detail": detail})
    try:
        submission = receive_git_submission(user, **action)
    except IntakeError as error:
        delivery.delete()  # Nothing was stored: a redelivery may try again.
        return Answer(error.status, {"detail": error.message})
    delivery.submission = submission
    _finish(delivery, f"Submission {submission.pk} ({submission.status}).")
    return Answer(201, received(submission, user))


def _configuration() -> tuple[str, Any]:
    settings = get_settings()
    if not settings.webhook_secret:
        raise _Refused(404, "This site takes no webhooks: it sets no BRAINMARK_WEBHOOK_SECRET.")
    user = None
    if settings.webhook_user:
        user = get_user_model().objects.filter(
            email__iexact=settings.webhook_user, is_active=True).first()
    if user is None:
        raise _Refused(404, "This site takes no webhooks: BRAINMARK_WEBHOOK_USER names no "
                            "active account to submit as.")
    return settings.webhook_secret, user


def _body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raise _Refused(413, f"The payload is over the {limit:,} bytes this site reads; send "
                            f"push and pull_request events only.") from None


def _check_signature(request: HttpRequest, body: bytes, secret: str) -> None:
    """The body's HMAC-SHA256 with the secret, as GitHub or Gitea send it, or a refusal."""
    github = request.headers.get("X-Hub-Signature-256")
    gitea = request.headers.get("X-Gitea-Signature")
    if github is None and gitea is None:
        raise _Refused(401, "The delivery is not signed: set the webhook's secret on the code "
                            "host (X-Hub-Signature-256 or X-Gitea-Signature is missing).")
    given = github.removeprefix("sha256=") if github is not None else gitea
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # Headers reach Django as latin-1 text, so this encoding never fails.
    if not hmac.compare_digest(given.strip().lower().encode("latin-1"), expected.encode()):
        raise _Refused(403, "The signature does not match this site's webhook secret.")


def _delivery_id(request: HttpRequest) -> str:
    delivery_id = (request.headers.get("X-GitHub-Delivery")
                   or request.headers.get("X-Gitea-Delivery") or "").strip()
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise _Refused(400, "The delivery has no usable id (X-GitHub-Delivery or "
                            "X-Gitea-Delivery: 1 to 100 letters, digits, '.', '_', ':' or "
                            "'-'), so a replay could not be told apart.")
    return delivery_id


def _payload(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Refused(400, f"The payload is not JSON ({error}); set the webhook's content "
                            f"type to application/json.") from None
    if not isinstance(payload, dict):
        raise _Refused(400, "The payload is not a JSON object.")
    return payload


def _field(payload: dict, path: str, pattern: re.Pattern | None = None) -> str:
    """The string at ``path`` (dotted) of the payload, or a refusal naming the field."""
    value = _at(payload, path)
    if not isinstance(value, str) or not value or (pattern and not pattern.fullmatch(value)):
        raise _Refused(400, f"The payload's field {path} is missing or not what a "
                            f"{'40-hex commit SHA' if pattern else 'non-empty string'} is.")
    return value


def _at(payload: dict, path: str) -> Any:
    """The value at ``path`` (dotted) of the payload; None where a step is no object."""
    value: Any = payload
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _what_to_do(event: str, payload: dict) -> dict | tuple[int, str]:
    """The arguments of the submission an event asks for, or (status, why none)."""
    if event == "ping":
        return 200, "pong: the webhook reaches this site and its signature checks out."
    if event == "push":
        ref = _field(payload, "ref")
        after = payload.get("after")
        if payload.get("deleted") is True or after == _NO_COMMIT:
            return 202, f"{ref} was deleted; there is nothing to submit."
        if not ref.startswith("refs/heads/"):
            return 202, f"{ref} is not a branch; only pushes to branches are submitted."
        commit = _field(payload, "after", _COMMIT)
        repository = _field(payload, "repository.full_name")
        return {"url": _field(payload, "repository.clone_url"), "ref": ref, "commit": commit,
                "commit_status_url": commit_status_url_for(repository, commit)}
    if event == "pull_request":
        action = payload.get("action")
        if action not in PULL_REQUEST_ACTIONS:
            return 202, (f"A pull request {str(action)[:50]!r} brings no new code; only "
                         f"{', '.join(PULL_REQUEST_ACTIONS)} are submitted.")
        if not isinstance(_at(payload, "pull_request.head.repo"), dict):
            return 202, "The pull request's head repository is gone; nothing to fetch."
        commit = _field(payload, "pull_request.head.sha", _COMMIT)
        # The status goes to the base repository, where the pull request shows it.
        repository = _field(payload, "repository.full_name")
        return {"url": _field(payload, "pull_request.head.repo.clone_url"),
                "ref": _field(payload, "pull_request.head.ref"), "commit": commit,
                "commit_status_url": commit_status_url_for(repository, commit)}
    shown = event[:50] or "(no X-GitHub-Event or X-Gitea-Event header)"
    return 202, f"The event {shown!r} is not handled; send push and pull_request events."


def _record(delivery_id: str, event: str, body: bytes) -> WebhookDelivery:
    """The delivery's row, or a refusal when its id or its signed body was seen before (a
    replay: the id is not signed, so a captured body could come again under a new id)."""
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                delivery_id=delivery_id, event=event[:50],
                payload_sha256=hashlib.sha256(body).hexdigest())
    except IntegrityError:
        raise _Refused(409, f"Delivery {delivery_id}, or the same signed payload, was "
                            f"received before; a replay starts nothing.") from None


def _finish(delivery: WebhookDelivery, outcome: str) -> None:
    delivery.outcome = outcome[:300]
    delivery.save(update_fields=["outcome", "submission"])
