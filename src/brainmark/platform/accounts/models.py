"""API tokens (a user's keys for the CLI and the API, stored only as SHA-256 hashes) and
sign-ups awaiting activation."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Tokens start with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "bm_"


def hash_token(clear_token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(clear_token.encode()).hexdigest()


class ApiTokenManager(models.Manager["ApiToken"]):
    def create_token(self, user: models.Model, name: str) -> tuple[ApiToken, str]:
        """Create a token for ``user``; return the row and the clear token.

        The clear token exists only in the return value: show it to the user once, it is
        never stored and cannot be recovered.
        """
        clear_token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.create(user=user, name=name, token_hash=hash_token(clear_token))
        return token, clear_token

    def authenticate(self, clear_token: str) -> ApiToken | None:
        """The active token matching ``clear_token`` (its last use recorded), else None."""
        token = (
            self.select_related("user")
            .filter(token_hash=hash_token(clear_token), revoked__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            return None
        token.last_used = timezone.now()
        token.save(update_fields=["last_used"])
        return token


class ApiToken(models.Model):
    """One API token of a user: its name, the hash of its value, and when it was used."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'laptop'.")
    token_hash = models.CharField(
        max_length=64, unique=True, editable=False, help_text="SHA-256 of the token."
    )
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenManager()

    class Meta:
        verbose_name = "API token"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(revoked__isnull=True),
                name="accounts_active_token_name_unique_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked is None

    def revoke(self) -> None:
        """Make the token unusable from now on (the row stays, for the record)."""
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])


class PendingActivation(models.Model):
    """A user who signed up on the site and has not opened their activation link yet.

    Only these inactive users may activate themselves or get the activation e-mail again;
    an account the staff deactivated has no row here, so it stays inactive.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_activation"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} (awaiting activation since {self.created:%Y-%m-%d})"


class RateLimitAttempt(models.Model):
    """One counted attempt (a mail asked for, a failed log-in) of some ``kind`` by ``key``.

    Kept in the database, not in a process's memory or a local cache, because every
    gunicorn worker must see the same counts. :mod:`brainmark.platform.accounts.ratelimit`
    counts the rows of the sliding window and prunes older ones when it writes.
    """

    kind = models.CharField(max_length=32, help_text="What was attempted, e.g. 'login_failure'.")
    key = models.CharField(
        max_length=300, help_text="Who attempted it: a lower-cased e-mail address, an IP, or both."
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "key", "at"], name="accounts_ratelimit_window")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.key} at {self.at:%Y-%m-%d %H:%M:%S}"
