"""The accounts endpoints of the JSON API (mounted at ``/api/accounts/``)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import django_auth

from brainmark.platform.accounts.auth import ApiTokenAuth
from brainmark.platform.leaderboard.models import Model
from brainmark.platform.schemas import ErrorOut

router = Router(tags=["accounts"])


class OwnModel(Schema):
    """One of the user's models and its switches."""

    identifier: str
    public: bool
    withdrawn: bool


class Me(Schema):
    """Who the token (or the session) belongs to."""

    email: str
    is_staff: bool
    models: list[OwnModel]


@router.get(
    "/me",
    response={200: Me, 401: ErrorOut},
    auth=[ApiTokenAuth(), django_auth],
    summary="The authenticated user",
)
def me(request: HttpRequest) -> Me:
    """The user the request authenticates as (a Bearer API token, or a logged-in session):
    their e-mail address, whether they are staff, and their models. 401 otherwise."""
    user = request.auth
    models = Model.objects.filter(owner=user).order_by("identifier")
    return Me(
        email=user.email or user.get_username(),
        is_staff=user.is_staff,
        models=[
            OwnModel(identifier=model.identifier, public=model.public, withdrawn=model.withdrawn)
            for model in models
        ],
    )
