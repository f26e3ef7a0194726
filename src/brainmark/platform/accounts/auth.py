"""API authentication: ``Authorization: Bearer <token>`` with a token of :class:`ApiToken`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from brainmark.platform.accounts.models import ApiToken


class ApiTokenAuth(HttpBearer):
    """The token's user, when the token is active (not revoked, its user active)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = ApiToken.objects.authenticate(token)
        if api_token is None:
            return None
        request.user = api_token.user
        return api_token.user
