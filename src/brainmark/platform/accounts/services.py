"""Creating users and API tokens for admins and scripts (``brainmark user/token create``).

Every refusal is an :class:`AccountError` whose message says what is wrong and what to do,
so the command line prints it as one ``Error:`` line. Django must be set up before this
module is imported (it imports the models).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from brainmark.exceptions import BrainmarkError
from brainmark.platform.accounts.models import ApiToken

# The name given to a token created without one: "cli", then "cli-2", "cli-3", ...
DEFAULT_TOKEN_NAME = "cli"


class AccountError(BrainmarkError, ValueError):
    """A user or a token cannot be created as asked (bad input, or the database not ready)."""


def require_migrated_database() -> None:
    """Refuse to go on unless every migration has been applied to the platform's database.

    ``brainmark migrate`` creates the tables; without it every query would fail with a
    database error naming a missing table.
    """
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        raise AccountError(f"Cannot read the platform's database: {error}") from error
    if pending:
        raise AccountError(
            f"The platform's database is not set up ({len(pending)} migration(s) not applied): "
            f"run 'brainmark migrate' first."
        )


def check_new_user_email(email: str) -> str:
    """``email`` without surrounding spaces, refused when invalid, too long or already used.

    Called before asking for a password, so a mistyped address is reported first.
    """
    user_model = get_user_model()
    email = email.strip()
    try:
        validate_email(email)
    except DjangoValidationError as error:
        raise AccountError(f"'{email}' is not a valid e-mail address.") from error
    username_length = user_model._meta.get_field(user_model.USERNAME_FIELD).max_length
    if username_length is not None and len(email) > username_length:
        raise AccountError(
            f"The e-mail address is {len(email)} characters long; at most {username_length} "
            f"fit a username."
        )
    if _user_with_email_exists(email):
        raise AccountError(f"A user with the e-mail address {email} already exists.")
    return email


def create_user(
    email: str, password: str, password_again: str, *, staff: bool = False
) -> AbstractBaseUser:
    """Create an active user whose username and e-mail are ``email``.

    Refused: an invalid e-mail address, one already used by a user (compared without
    case), two passwords that differ, or a password Django's validators reject (their
    messages are in the error). Nothing is written when refused.
    """
    email = check_new_user_email(email)
    if password != password_again:
        raise AccountError("The two passwords differ; no user was created.")
    user_model = get_user_model()
    unsaved = user_model(**{user_model.USERNAME_FIELD: email}, email=email)
    try:
        validate_password(password, user=unsaved)
    except DjangoValidationError as error:
        reasons = " ".join(error.messages)
        raise AccountError(f"The password was refused: {reasons}") from error
    try:
        with transaction.atomic():
            return user_model.objects.create_user(
                email, email=email, password=password, is_staff=staff, is_active=True
            )
    except IntegrityError as error:  # Created by another process since the check above.
        raise AccountError(f"A user with the e-mail address {email} already exists.") from error


def create_api_token(email: str, name: str | None = None) -> tuple[ApiToken, str]:
    """Create an API token for the active user with e-mail ``email``; return it and its clear value.

    Without ``name`` the token is called ``cli`` (``cli-2``, ... when taken). Only the
    token's hash is stored: the clear value returned here is the one chance to show it.
    """
    user = _active_user_by_email(email)
    if name is None:
        name = _free_token_name(user)
    else:
        name = name.strip()
        _check_token_name(user, name)
    try:
        with transaction.atomic():
            return ApiToken.objects.create_token(user, name)
    except IntegrityError as error:  # The same name taken by another process meanwhile.
        raise AccountError(
            f"{email} already has an active token named '{name}'; choose another --name."
        ) from error


def _user_with_email_exists(email: str) -> bool:
    """True when a user has ``email`` as username or e-mail, compared without case."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__iexact": email}).exists()
        or user_model.objects.filter(email__iexact=email).exists()
    )


def _active_user_by_email(email: str) -> AbstractBaseUser:
    """The user whose username is ``email`` (without case), refused when unknown or inactive."""
    user_model = get_user_model()
    email = email.strip()
    users = list(user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__iexact": email}))
    exact = [user for user in users if user.get_username() == email]
    if len(exact) == 1:
        user = exact[0]
    elif len(users) == 1:
        user = users[0]
    elif not users:
        raise AccountError(
            f"No user has the e-mail address {email}; create one with "
            f"'brainmark user create {email}'."
        )
    else:
        raise AccountError(
            f"Several users have the e-mail address {email} in different cases; "
            f"give it exactly as stored."
        )
    if not user.is_active:
        raise AccountError(f"The user {email} is not active; an inactive user gets no token.")
    return user


def _check_token_name(user: AbstractBaseUser, name: str) -> None:
    """Refuse a token name that is empty, too long, or taken by one of the user's active tokens."""
    max_length = ApiToken._meta.get_field("name").max_length
    if not name:
        raise AccountError("A token's name cannot be empty.")
    if max_length is not None and len(name) > max_length:
        raise AccountError(f"A token's name has at most {max_length} characters.")
    if ApiToken.objects.filter(user=user, name=name, revoked__isnull=True).exists():
        raise AccountError(
            f"{user.get_username()} already has an active token named '{name}'; "
            f"choose another --name."
        )


def _free_token_name(user: AbstractBaseUser) -> str:
    """``cli``, else the first of ``cli-2``, ``cli-3``, ... no active token of the user has."""
    taken = set(
        ApiToken.objects.filter(user=user, revoked__isnull=True).values_list("name", flat=True)
    )
    name, number = DEFAULT_TOKEN_NAME, 1
    while name in taken:
        number += 1
        name = f"{DEFAULT_TOKEN_NAME}-{number}"
    return name
