"""The uploads endpoints of the JSON API (mounted by :mod:`brainmark.platform.api`).

``POST /api/uploads/`` takes the same multipart form as the page (``file``, ``kind``,
``identifier``, ``sha1``) with an API token. The body is streamed through the upload
handler, so the operation declares no body parameters for django-ninja to parse (that
would read the body before the handler is in place); the form is described to OpenAPI
explicitly instead, and validated by :class:`~.forms.UploadForm`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.security import django_auth

from brainmark.platform.accounts.auth import ApiTokenAuth
from brainmark.platform.schemas import ErrorOut
from brainmark.platform.uploads.forms import UploadForm
from brainmark.platform.uploads.handlers import received_file, store_received, streamed_upload
from brainmark.platform.uploads.models import UploadKind
from brainmark.platform.uploads.services import (
    UploadError,
    check_rate,
    package_summary,
    uploads_of,
)

router = Router(tags=["uploads"])

Kind = Literal["stimulus_csv", "stimulus_zip", "assembly", "weights"]
assert set(Kind.__args__) == set(UploadKind.values)  # One list of kinds.


class DataPackageOut(Schema):
    """One stored file: where it is, what pins it, and the code that loads it."""

    id: int
    identifier: str
    kind: Kind
    key: str
    location: str
    file_name: str
    sha1: str
    version_id: str
    size: int
    created: datetime
    details: dict[str, str]
    snippet: str


UPLOAD_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "kind", "identifier", "sha1"],
                "properties": {
                    "file": {"type": "string", "format": "binary",
                             "description": "The file's bytes (one file per request)."},
                    "kind": {"type": "string", "enum": list(UploadKind.values),
                             "description": "What the file is; checked by its bytes."},
                    "identifier": {
                        "type": "string", "maxLength": 200,
                        "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                        "description": "Stimulus set, assembly or model identifier, e.g. "
                        "Kriegeskorte2008.IT.",
                    },
                    "sha1": {"type": "string", "pattern": "^[0-9a-fA-F]{40}$",
                             "description": "The SHA1 you computed; the upload is refused "
                             "unless the bytes that arrive have it."},
                },
            }
        }
    },
}


@router.post(
    "/",
    auth=ApiTokenAuth(),
    response={201: DataPackageOut, 400: ErrorOut, 401: ErrorOut,
              413: ErrorOut, 429: ErrorOut, 502: ErrorOut},
    openapi_extra={"requestBody": UPLOAD_REQUEST_BODY},
    summary="Upload a data file or model weights",
)
def upload(request: HttpRequest) -> Status:
    """Stream one file to the object store, checked against its stated SHA1 and its kind.

    Answers 201 with the stored file and its registration snippet; 400 naming what is wrong
    (SHA1 mismatch, content not of its kind, bad form field); 413 when it would pass your
    quota; 429 over the per-minute limit of uploads. Nothing is stored unless the answer
    is 201.
    """
    try:
        check_rate(request.auth)
        with streamed_upload(request) as handler:
            received_file(request, handler)
            form = UploadForm(request.POST, request.FILES)
            if not form.is_valid():
                return Status(400, {"detail": form.error_text()})
            package = store_received(request, form)
    except UploadError as error:
        return Status(error.status, {"detail": error.message})
    return Status(201, package_summary(package))


@router.get(
    "/",
    auth=[ApiTokenAuth(), django_auth],
    response={200: list[DataPackageOut], 401: ErrorOut},
    summary="Your uploads",
)
def list_uploads(request: HttpRequest) -> list[dict]:
    """Every file you uploaded, newest first, with its registration snippet."""
    packages = uploads_of(request.auth)
    return [package_summary(package, packages) for package in packages]
