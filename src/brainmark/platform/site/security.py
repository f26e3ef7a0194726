"""The Content-Security-Policy header on every response.

Django's ``SecurityMiddleware`` already sends ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy`` and ``XFrameOptionsMiddleware`` sends ``X-Frame-Options``; Django (before
6.0) has no CSP, so this middleware adds it. The policy lets a page load scripts, styles,
images and fonts from the site itself only: an injected ``<script>``, ``onerror=`` handler
or ``style=`` attribute is not run even if some escaping were ever missed. Every template
therefore keeps its scripts and styles in static files (``tests/hostile``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])


class ContentSecurityPolicyMiddleware:
    """Adds :data:`CONTENT_SECURITY_POLICY` to each response that sets none of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
