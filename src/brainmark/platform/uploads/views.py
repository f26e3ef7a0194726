"""The upload pages: ``/uploads/`` (the form and the user's uploads) and one upload's page.

The upload view reads its request body through :mod:`.handlers` (streamed to disk, hashed,
stopped at the quota), so the handler must be installed before anything reads the body. The
CSRF check reads the body, so the view is exempt from the middleware's check and runs the
same check itself once the handler is in place (Django's documented pattern for per-view
upload handlers). Nothing is stored before the CSRF check passed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from brainmark.platform.uploads.forms import UploadForm
from brainmark.platform.uploads.handlers import received_file, store_received, streamed_upload
from brainmark.platform.uploads.models import DataPackage
from brainmark.platform.uploads.services import (
    UploadError,
    check_rate,
    format_bytes,
    registration_snippet,
    remaining_quota,
    uploads_of,
)


@csrf_exempt
def upload(request: HttpRequest) -> HttpResponse:
    """The form and the user's uploads; a POST streams one file in and stores it."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method != "POST":
        return _page(request, UploadForm())
    handler = None
    try:
        check_rate(request.user, count=False)  # Counted once the CSRF check passed.
        with streamed_upload(request) as handler:
            received_file(request, handler)
            return _store(request)
    except UploadError as error:
        # A body refused unread stays unread: asking for its fields would parse it.
        stated = _stated(request) if handler is not None and handler.parsed else {}
        return _page(request, UploadForm(initial=stated), error=error.message,
                     status=error.status)


@csrf_protect
def _store(request: HttpRequest) -> HttpResponse:
    check_rate(request.user)  # A refusal is answered by upload(), as any UploadError.
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        package = store_received(request, form)
    except UploadError as error:
        return _page(request, UploadForm(initial=_stated(request)), error=error.message,
                     status=error.status)
    messages.success(
        request,
        f"Stored {package.file_name}: {format_bytes(package.size)}, SHA1 {package.sha1}, "
        f"version {package.version_id}. Paste the snippet below into your plugin.",
    )
    return redirect("uploads:detail", pk=package.pk)


def _stated(request: HttpRequest) -> dict[str, str]:
    """What the uploader typed, to show again beside an error (the file must be chosen anew)."""
    return {name: request.POST.get(name, "") for name in ("kind", "identifier", "sha1")}


def _page(request: HttpRequest, form: UploadForm, *, error: str | None = None,
          status: int = 200) -> HttpResponse:
    used, quota = remaining_quota(request.user)
    context = {
        "form": form,
        "error": error,
        "packages": [
            (package, format_bytes(package.size, exact=False))
            for package in uploads_of(request.user)
        ],
        "used": used,
        "quota": quota,
        "left": max(quota - used, 0),
        "used_text": format_bytes(used),
        "quota_text": format_bytes(quota),
        "left_text": format_bytes(max(quota - used, 0)),
    }
    return render(request, "uploads/upload.html", context, status=status)


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One upload of the user's: where it is stored and the snippet that loads it."""
    package = get_object_or_404(DataPackage, pk=pk, owner=request.user)
    return render(request, "uploads/detail.html", {
        "package": package,
        "size_text": format_bytes(package.size),
        "snippet": registration_snippet(package),
    })
