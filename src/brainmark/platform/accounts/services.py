"""Users and API tokens: creation for admins and scripts (``brainmark user/token create``)
and for the site (sign-up, activation, tokens, account deletion).

Every refusal is an :class:`AccountError` whose message says what is wrong and what to do,
so the command line prints it as one ``Error:`` line. Django must be set up before this
module is imported (it imports the models).
"""

from __future__ import annotations

import dataclasses
import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from brainmark.exceptions import BrainmarkError
from brainmark.platform.accounts.models import ApiToken, PendingActivation
from brainmark.platform.leaderboard.models import Model as LeaderboardModel

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
    email: str, password: str, password_again: str, *, staff: bool = False, active: bool = True
) -> AbstractBaseUser:
    """Create a user whose username and e-mail are ``email`` (active unless ``active=False``:
    the site's sign-up makes inactive users, activated by the link in their e-mail).

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
                email, email=email, password=password, is_staff=staff, is_active=active
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
    return create_token_for_user(user, name, retry_hint="choose another --name")


def create_token_for_user(
    user: AbstractBaseUser, name: str, *, retry_hint: str = "choose another name"
) -> tuple[ApiToken, str]:
    """Create an API token called ``name`` for ``user``; return it and its clear value.

    Refused: an empty or too long name, or one of the user's active tokens already has it
    (``retry_hint`` ends that message). The clear value exists only in the return value.
    """
    name = name.strip()
    _check_token_name(user, name, retry_hint)
    try:
        with transaction.atomic():
            return ApiToken.objects.create_token(user, name)
    except IntegrityError as error:  # The same name taken by another process meanwhile.
        raise AccountError(
            f"{user.get_username()} already has an active token named '{name}'; {retry_hint}."
        ) from error


def user_for_email(email: str) -> AbstractBaseUser | None:
    """The user whose username is ``email``, compared without case (the exact spelling wins).

    None when there is no such user, or several differ only in case (only possible for
    users made outside the site and the CLI, which both refuse such duplicates).
    """
    user_model = get_user_model()
    email = email.strip()
    users = list(user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__iexact": email}))
    exact = [user for user in users if user.get_username() == email]
    if len(exact) == 1:
        return exact[0]
    return users[0] if len(users) == 1 else None


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


def _check_token_name(user: AbstractBaseUser, name: str, retry_hint: str) -> None:
    """Refuse a token name that is empty, too long, or taken by one of the user's active tokens."""
    max_length = ApiToken._meta.get_field("name").max_length
    if not name:
        raise AccountError("A token's name cannot be empty.")
    if max_length is not None and len(name) > max_length:
        raise AccountError(f"A token's name has at most {max_length} characters.")
    if ApiToken.objects.filter(user=user, name=name, revoked__isnull=True).exists():
        raise AccountError(
            f"{user.get_username()} already has an active token named '{name}'; {retry_hint}."
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


# --- The site: activation by e-mail, the owner's switches, deleting an account -------------


class ActivationTokenGenerator(PasswordResetTokenGenerator):
    """Django's signed, expiring user tokens (``PASSWORD_RESET_TIMEOUT``), for activation.

    Its own salt keeps an activation link from serving as a password-reset link and back;
    hashing ``is_active`` in makes a link useless once the account is active.
    """

    key_salt = "brainmark.platform.accounts.ActivationTokenGenerator"

    def _make_hash_value(self, user: AbstractBaseUser, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


activation_token_generator = ActivationTokenGenerator()


def site_link(path: str) -> str:
    """The absolute address of ``path`` on the site as users reach it (``SITE_URL``).

    E-mails are read away from the request that sent them, so their links come from the
    setting, not from the request's host.
    """
    return settings.SITE_URL.rstrip("/") + path


def activation_link(user: AbstractBaseUser) -> str:
    """The link of ``user``'s activation e-mail: ``{SITE_URL}/accounts/activate/<uid>/<token>/``."""
    path = reverse(
        "accounts:activate",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": activation_token_generator.make_token(user),
        },
    )
    return site_link(path)


def send_activation_email(user: AbstractBaseUser) -> None:
    """Send ``user`` the e-mail with their activation link (errors of the mail server raise)."""
    context = {
        "user": user,
        "link": activation_link(user),
        "resend_link": site_link(reverse("accounts:resend_activation")),
        "site_url": site_link(""),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    subject = render_to_string("accounts/email/activation_subject.txt", context)
    body = render_to_string("accounts/email/activation_body.txt", context)
    send_mail(" ".join(subject.split()), body, None, [user.email], fail_silently=False)


def sign_up(email: str, password: str, password_again: str) -> AbstractBaseUser:
    """Create an inactive user and send the activation e-mail, or neither.

    When the mail cannot be sent the user is not kept, so the address can sign up again
    (rather than being stuck with an account whose link never arrived).
    """
    try:
        with transaction.atomic():
            user = create_user(email, password, password_again, active=False)
            PendingActivation.objects.create(user=user)
            send_activation_email(user)
    except OSError as error:  # Connection errors and smtplib.SMTPException alike.
        raise AccountError(
            f"The activation e-mail to {email.strip()} could not be sent ({error}); no account "
            f"was created. Please try again later."
        ) from error
    return user


# Sign-ups not activated within this many days are deleted (``BRAINMARK_UNACTIVATED_DAYS``).
DEFAULT_UNACTIVATED_DAYS = 7


def unactivated_days() -> int:
    """Days a sign-up may wait for activation before the next sign-up deletes it."""
    return int(getattr(settings, "BRAINMARK_UNACTIVATED_DAYS", DEFAULT_UNACTIVATED_DAYS))


def delete_stale_signups(now: datetime.datetime | None = None) -> int:
    """Delete the users who signed up more than :func:`unactivated_days` ago and never
    activated (their :class:`PendingActivation` goes with them); return how many.

    Called when a sign-up is written, so no scheduled job is needed, and an address whose
    sign-up was never completed can sign up again. Users the staff deactivated have no
    pending row and stay. Such users cannot have logged in, so they own nothing else.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=unactivated_days())
    stale = get_user_model().objects.filter(
        is_active=False, pending_activation__created__lt=cutoff
    )
    user_model = get_user_model()
    with transaction.atomic():  # The users and their pending rows, or neither.
        _, per_model = stale.delete()
    return per_model.get(user_model._meta.label, 0)


def awaits_activation(user: AbstractBaseUser) -> bool:
    """True for an inactive user who signed up and has not activated yet (not one the staff
    deactivated)."""
    return not user.is_active and PendingActivation.objects.filter(user=user).exists()


def activate_user(uidb64: str, token: str) -> AbstractBaseUser | None:
    """Activate the user an activation link names; None when the link is invalid or used."""
    user_model = get_user_model()
    try:
        user = user_model.objects.get(pk=urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, OverflowError, user_model.DoesNotExist, DjangoValidationError):
        return None
    if not activation_token_generator.check_token(user, token):
        return None
    with transaction.atomic():
        # Deleting the pending row is what claims the link: two clicks at once activate once.
        claimed, _ = PendingActivation.objects.filter(user=user).delete()
        if not claimed or user.is_active:
            return None
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def resend_activation_email(email: str) -> bool:
    """Send a new activation link when ``email``'s account awaits activation; True if sent."""
    user = user_for_email(email)
    if user is None or not awaits_activation(user):
        return False
    send_activation_email(user)
    return True


def set_model_flags(
    model: LeaderboardModel, *, public: bool | None = None, withdrawn: bool | None = None
) -> None:
    """Switch a model between public and private, or off and back on the leaderboard.

    Saved with ``save()`` so whatever listens to the model's saves (precomputed
    leaderboards) sees the change at once.
    """
    fields = []
    if public is not None:
        model.public = public
        fields.append("public")
    if withdrawn is not None:
        model.withdrawn = withdrawn
        fields.append("withdrawn")
    if fields:
        model.save(update_fields=fields)


@dataclasses.dataclass(frozen=True)
class DeletedAccount:
    """What deleting an account removed and kept (counts), for the goodbye message."""

    models: int
    submissions: int
    tokens: int
    data_packages_kept: int


def delete_account(user: AbstractBaseUser) -> DeletedAccount:
    """Delete ``user`` with their models (versions and scores), submissions and tokens.

    Their data packages stay, with no owner: data plugins may load them by SHA1 and
    version, so the record of what is stored must outlive the uploader. All or nothing.
    """
    with transaction.atomic():
        owned_models = LeaderboardModel.objects.filter(owner=user)
        deleted = DeletedAccount(
            models=owned_models.count(),
            submissions=user.submissions.count(),
            tokens=user.api_tokens.count(),
            data_packages_kept=user.data_packages.count(),
        )
        owned_models.delete()  # Their versions, scores and jobs cascade.
        user.delete()  # Tokens and submissions cascade; data packages keep owner NULL.
    return deleted
