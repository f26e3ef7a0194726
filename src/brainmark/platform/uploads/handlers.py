"""Receiving an upload: the request body streamed to a temporary file and hashed on arrival.

Django's default handlers keep small files in memory and hash nothing. Here one handler
replaces them for the upload views: every chunk is written to a temporary file and fed to a
SHA1 as it arrives, so the request never holds more than one chunk of the file whatever its
size (``FILE_UPLOAD_MAX_MEMORY_SIZE`` plays no part), the SHA1 is known the moment the last
byte is in, and an upload passing the uploader's quota is stopped at the first byte too many.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

from brainmark.platform.uploads.models import DataPackage
from brainmark.platform.uploads.services import (
    UploadError,
    check_request_size,
    quota_message,
    remaining_quota,
    store_upload,
)

FILE_FIELD = "file"
TEMPORARY_PREFIX = "brainmark-upload-"
# Django reads the body in chunks of the smallest chunk size of its handlers: 256 KiB keeps
# memory small and the number of writes low.
CHUNK_SIZE = 256 << 10


class StreamedUploadedFile(UploadedFile):
    """An uploaded file already on disk, with the SHA1 of its bytes computed on arrival.

    Closing it deletes the file (Django closes the request's files when the response is
    done), so no upload outlives its request.
    """

    def __init__(self, name: str, content_type: str | None, charset: str | None) -> None:
        folder = settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - owned by this object.
            dir=folder, prefix=TEMPORARY_PREFIX, suffix=".part", delete=False
        )
        super().__init__(handle, name, content_type, 0, charset)
        self.path = handle.name
        self._digest = hashlib.sha1()

    def write_chunk(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def finish(self) -> None:
        """The last byte is in: flush it to disk and rewind for readers."""
        self.file.flush()
        self.file.seek(0)

    @property
    def sha1(self) -> str:
        """Hex SHA1 of the bytes received."""
        return self._digest.hexdigest()

    def temporary_file_path(self) -> str:
        return self.path

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class HashingUploadHandler(FileUploadHandler):
    """Streams the one file of field ``file`` to disk and hashes it, up to ``limit`` bytes.

    A file in another field, or a second file, is skipped unread (and named in
    :attr:`skipped`, so the view can refuse the request). Passing ``limit`` stops the upload,
    deletes what arrived and leaves the reason in :attr:`refusal`.
    """

    chunk_size = CHUNK_SIZE

    def __init__(self, request: HttpRequest, *, limit: int, used: int, quota: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.used = used
        self.quota = quota
        self.upload: StreamedUploadedFile | None = None
        self.refusal: str | None = None
        self.skipped: list[str] = []
        self.parsed = False
        self.interrupted: str | None = None
        self.complete = False

    def new_file(self, field_name: str, file_name: str, content_type: str,
                 content_length: int | None, charset: str | None = None,
                 content_type_extra: dict[str, Any] | None = None) -> None:
        super().new_file(field_name, file_name, content_type, content_length, charset,
                         content_type_extra)
        if field_name != FILE_FIELD or self.upload is not None:
            self.skipped.append(f"{field_name}={file_name}")
            raise SkipFile
        self.upload = StreamedUploadedFile(file_name, content_type, charset)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        assert self.upload is not None
        if self.upload.size + len(raw_data) > self.limit:
            size = self.upload.size + len(raw_data)
            self.discard()
            self.refusal = quota_message(self.used, self.quota, size, at_least=True)
            raise StopUpload(connection_reset=False)
        self.upload.write_chunk(raw_data)
        return None  # Django hands a chunk on to later handlers only if one returns it.

    def file_complete(self, file_size: int) -> StreamedUploadedFile | None:
        if self.upload is None:
            return None
        self.upload.finish()
        self.complete = True
        return self.upload

    def upload_interrupted(self) -> None:
        """The client went away mid-file: nothing of it is kept.

        Django also calls this when the request's last file part was skipped (a second
        file); the file already complete is then kept for the view to refuse the request.
        """
        if self.upload is not None and self.complete:
            return
        if self.upload is not None:
            self.interrupted = (
                f"The upload was cut short: the request ended after {self.upload.size:,} "
                f"bytes of {self.upload.name}, before the file's end. Nothing was stored; "
                f"send it again."
            )
        self.discard()

    def discard(self) -> None:
        """Delete the temporary file, if any (safe to call more than once)."""
        if self.upload is not None:
            self.upload.close()
            self.upload = None


@contextlib.contextmanager
def streamed_upload(request: HttpRequest) -> Iterator[HashingUploadHandler]:
    """Make ``request`` parse its body through a :class:`HashingUploadHandler`.

    Refuses the request before reading its body when its Content-Length alone passes the
    uploader's quota. Whatever happens in the block, the temporary file is deleted when it
    ends: the stored copy is in the object store by then, or nothing is kept.
    """
    used, quota = remaining_quota(request.user)
    check_request_size(request, used, quota)
    handler = HashingUploadHandler(request, limit=max(quota - used, 0), used=used, quota=quota)
    request.upload_handlers = [handler]
    try:
        yield handler
    finally:
        handler.discard()


def received_file(request: HttpRequest, handler: HashingUploadHandler) -> None:
    """Parse the body now and refuse what the handler stopped or skipped."""
    try:
        request.POST  # noqa: B018 - parsing streams the file through the handler.
    except (MultiPartParserError, SuspiciousOperation) as error:
        raise UploadError(f"The upload could not be read as a multipart form: {error}") from None
    handler.parsed = True
    if handler.refusal:
        raise UploadError(handler.refusal, status=413)
    if handler.interrupted:
        raise UploadError(handler.interrupted)
    if handler.skipped:
        raise UploadError(
            f"Send one file per upload, in the field '{FILE_FIELD}'; this request also held "
            f"{', '.join(handler.skipped)}."
        )


def store_received(request: HttpRequest, form: Any) -> DataPackage:
    """Check and store the file of a valid :class:`~.forms.UploadForm`; return its row."""
    upload = form.cleaned_data["file"]
    if not isinstance(upload, StreamedUploadedFile):  # Only when parsed without our handler.
        raise UploadError("The file did not arrive through the upload stream; send it again.")
    return store_upload(
        user=request.user,
        kind=form.cleaned_data["kind"],
        identifier=form.cleaned_data["identifier"],
        stated_sha1=form.cleaned_data["sha1"],
        path=Path(upload.path),
        sha1=upload.sha1,
        size=upload.size,
        uploaded_name=upload.name,
    )
