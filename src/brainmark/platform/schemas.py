"""Error answers shared by every router of the JSON API, so the OpenAPI description names
one schema for each, and the one exception the apps' services raise to refuse a request."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class RequestRefused(Exception):
    """A request refused by a service: ``message`` for the user, ``status`` the HTTP answer."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ErrorOut(Schema):
    """Why there is no answer, in words: a bad parameter (400), no valid token or session
    (401), nothing of that name for the caller (404), a refused upload (400, 413, 502)."""

    detail: str


class ValidationErrorOut(Schema):
    """The request did not validate (e.g. a page that is not a positive integer): one entry
    per problem, saying where (``loc``) and what (``msg``)."""

    detail: list[dict[str, Any]]
