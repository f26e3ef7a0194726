"""Rate limits on the accounts forms that send mail or check a password, and on submitting
and uploading.

Without them anyone could make the site mail-bomb an address (sign-up, "send the activation
mail again", password reset) or guess passwords at the log-in form, and one account could
flood the intake or the object store with requests (``submissions/intake.check_rate``,
``uploads/services.check_rate``). Attempts are rows of
:class:`~brainmark.platform.accounts.models.RateLimitAttempt`, so every worker process
counts the same ones; a limit allows at most ``max_attempts`` in any sliding window of
``window`` before ``now``. Refused attempts are not written, so a refusal changes nothing
and the window frees up on its own.

The limits come from the setting ``BRAINMARK_RATE_LIMITS`` (``{kind: (max_attempts,
seconds)}``, merged over :data:`DEFAULT_LIMITS`); the client's address from ``REMOTE_ADDR``,
or from ``X-Forwarded-For`` only when ``REMOTE_ADDR`` is one of ``BRAINMARK_TRUSTED_PROXIES``
(IP addresses or networks; none by default, since anyone can send that header).
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from brainmark.platform.accounts.models import RateLimitAttempt

# Mails sent to one address: sign-up, activation again and password reset share it, so
# switching forms does not get an address more mail.
MAIL_TO_ADDRESS = "mail_to_address"
SIGNUP_IP = "signup_ip"
RESEND_ACTIVATION_IP = "resend_activation_ip"
PASSWORD_RESET_IP = "password_reset_ip"
# Failed log-ins of one address from one client address.
LOGIN_FAILURE = "login_failure"
# Submissions (zip or git) and data uploads of one user, each attempt counted: every one
# costs a stored archive, a validation or a git fetch, whatever its outcome.
SUBMISSION_USER = "submission_user"
UPLOAD_USER = "upload_user"

DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    MAIL_TO_ADDRESS: (3, 3600),
    SIGNUP_IP: (20, 3600),
    RESEND_ACTIVATION_IP: (20, 3600),
    PASSWORD_RESET_IP: (20, 3600),
    LOGIN_FAILURE: (10, 15 * 60),
    SUBMISSION_USER: (10, 60),
    UPLOAD_USER: (30, 60),
}

# What each limit counts, for the refusal page ("Too many <what> <whom>").
DESCRIPTIONS: dict[str, str] = {
    MAIL_TO_ADDRESS: "e-mails asked for to this address",
    SIGNUP_IP: "sign-ups from your network address",
    RESEND_ACTIVATION_IP: "activation e-mails asked for from your network address",
    PASSWORD_RESET_IP: "password resets asked for from your network address",
    LOGIN_FAILURE: "failed log-ins to this account from your network address",
    SUBMISSION_USER: "submissions from your account",
    UPLOAD_USER: "uploads from your account",
}


@dataclasses.dataclass(frozen=True)
class Limit:
    """At most ``max_attempts`` attempts of ``kind`` per key in any ``window``."""

    kind: str
    max_attempts: int
    window: datetime.timedelta

    @property
    def window_minutes(self) -> int:
        return round(self.window.total_seconds() / 60)

    @property
    def description(self) -> str:
        return DESCRIPTIONS.get(self.kind, self.kind.replace("_", " "))


def limit(kind: str) -> Limit:
    """The limit on ``kind``, from ``BRAINMARK_RATE_LIMITS`` or the default."""
    limits = {**DEFAULT_LIMITS, **getattr(settings, "BRAINMARK_RATE_LIMITS", {})}
    max_attempts, seconds = limits[kind]
    return Limit(kind, int(max_attempts), datetime.timedelta(seconds=seconds))


class RateLimited(Exception):
    """An attempt refused by ``limit`` for ``key``; allowed again at ``retry_at``."""

    def __init__(self, limit: Limit, key: str, retry_at: datetime.datetime) -> None:
        self.limit = limit
        self.key = key
        self.retry_at = retry_at
        super().__init__(self.message())

    def retry_after_seconds(self, now: datetime.datetime | None = None) -> int:
        """Whole seconds until ``retry_at`` (at least 1), for the ``Retry-After`` header."""
        now = now or timezone.now()
        return max(1, int((self.retry_at - now).total_seconds() + 0.999))

    def message(self) -> str:
        """What was limited and when it frees up (in UTC, the site's time zone)."""
        return (
            f"Too many {self.limit.description}: at most {self.limit.max_attempts} in "
            f"{self.limit.window_minutes} minutes. Try again after "
            f"{self.retry_at:%Y-%m-%d %H:%M:%S} UTC."
        )


def normalize_email(email: str) -> str:
    """The key of an address: without surrounding spaces, lower-cased (as accounts compare)."""
    return email.strip().lower()


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request``.

    ``REMOTE_ADDR``, unless it is a trusted proxy (``BRAINMARK_TRUSTED_PROXIES``): then the
    right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries left of
    it were written by the client and prove nothing).
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    trusted = _trusted_networks()
    if not trusted or not _is_trusted(remote, trusted):
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    for address in reversed(forwarded):
        if not _is_trusted(address, trusted):
            return address
    return forwarded[0] if forwarded else remote


def _trusted_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(entry, strict=False)
        for entry in getattr(settings, "BRAINMARK_TRUSTED_PROXIES", ())
    ]


def _is_trusted(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
                ) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # Not an address at all: never a trusted proxy.
        return False
    return any(ip in network for network in networks)


def record(
    attempts: Iterable[tuple[str, str]], now: datetime.datetime | None = None
) -> list[int]:
    """Count one attempt of each ``(kind, key)``, or refuse them all with :class:`RateLimited`.

    All or nothing, in one transaction: when any limit is reached nothing is written, so a
    refused attempt does not push its window further. Returns the ids of the rows written
    (:func:`forget` takes back an attempt that turned out not to count, e.g. a log-in that
    succeeded). On PostgreSQL a transaction lock per ``(kind, key)`` makes concurrent
    workers count one after the other; on SQLite the platform's transactions begin
    IMMEDIATE (``configuration.py``), so only one worker at a time is inside this block.
    """
    now = now or timezone.now()
    attempts = sorted(set(attempts))  # One lock order for everyone: no deadlocks.
    limits = {kind: limit(kind) for kind, _ in attempts}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for kind, key in attempts:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ratelimit:{kind}:{key}"]
                    )
        # Prune: rows out of their window are useless. Done before counting, so even an
        # SQLite transaction not begun IMMEDIATE holds the write lock while it counts.
        for kind, rule in limits.items():
            RateLimitAttempt.objects.filter(kind=kind, at__lte=now - rule.window).delete()
        for kind, key in attempts:
            refusal = _refusal(limits[kind], key, now)
            if refusal is not None:
                raise refusal  # Rolls the prune back too: a refusal changes nothing.
        rows = RateLimitAttempt.objects.bulk_create(
            [RateLimitAttempt(kind=kind, key=key, at=now) for kind, key in attempts]
        )
    return [row.pk for row in rows]


def check(kind: str, key: str, now: datetime.datetime | None = None) -> None:
    """Raise :class:`RateLimited` when ``kind``'s limit for ``key`` is reached (writes nothing)."""
    refusal = _refusal(limit(kind), key, now or timezone.now())
    if refusal is not None:
        raise refusal


def attempt(kind: str, key: str, *, count: bool = True) -> None:
    """:func:`record` one attempt of ``kind`` for ``key``, or only :func:`check` it when
    ``count`` is false (a view that still has a check to pass before the attempt counts)."""
    if count:
        record([(kind, key)])
    else:
        check(kind, key)


def forget(ids: Iterable[int]) -> None:
    """Remove attempts :func:`record` wrote that do not count after all."""
    RateLimitAttempt.objects.filter(pk__in=list(ids)).delete()


def _refusal(rule: Limit, key: str, now: datetime.datetime) -> RateLimited | None:
    """The refusal when ``key`` has ``rule.max_attempts`` attempts in the window, else None.

    It frees up when the oldest attempt that fills the window leaves it.
    """
    if rule.max_attempts < 1:  # A limit of 0 refuses everything, for a whole window.
        return RateLimited(rule, key, now + rule.window)
    times = list(
        RateLimitAttempt.objects.filter(kind=rule.kind, key=key, at__gt=now - rule.window)
        .order_by("-at")
        .values_list("at", flat=True)[: rule.max_attempts]
    )
    if len(times) < rule.max_attempts:
        return None
    return RateLimited(rule, key, times[-1] + rule.window)
