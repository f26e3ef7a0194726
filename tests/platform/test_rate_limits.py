"""Rate limits on the accounts forms that mail or check a password, and the deletion of
sign-ups never activated.

Through Django's test client, with small limits (``BRAINMARK_RATE_LIMITS``) so each test
needs a few requests only. Time moves by moving the counted attempts' rows into the past,
or by passing ``now`` to :func:`brainmark.platform.accounts.ratelimit.record`.
"""

from __future__ import annotations

import datetime

import pytest

pytestmark = pytest.mark.db

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"
HOUR = 3600
LIMITS = {
    "mail_to_address": (2, HOUR),
    "signup_ip": (3, HOUR),
    "resend_activation_ip": (3, HOUR),
    "password_reset_ip": (3, HOUR),
    "login_failure": (3, 900),
}


@pytest.fixture(autouse=True)
def small_limits(database):
    """Fast hashing, the in-memory outbox and small limits."""
    from django.core import mail
    from django.test import override_settings

    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SITE_URL="https://brainmark.example.org",
        BRAINMARK_RATE_LIMITS=LIMITS,
    ):
        mail.outbox = []
        yield


@pytest.fixture
def client():
    from django.test import Client

    return Client(HTTP_HOST="localhost")


def _outbox() -> list:
    from django.core import mail

    return mail.outbox


def _user(email: str, *, active: bool = True, pending: bool = False):
    from brainmark.platform.accounts.models import PendingActivation
    from brainmark.platform.accounts.services import create_user

    user = create_user(email, PASSWORD, PASSWORD, active=active)
    if pending:
        PendingActivation.objects.create(user=user)
    return user


def _signup(client, email: str, ip: str = "203.0.113.1"):
    return client.post(
        "/accounts/signup/",
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR=ip,
    )


def _resend(client, email: str, ip: str = "203.0.113.1"):
    return client.post("/accounts/activate/again/", {"email": email}, REMOTE_ADDR=ip)


def _reset(client, email: str, ip: str = "203.0.113.1"):
    return client.post("/accounts/password-reset/", {"email": email}, REMOTE_ADDR=ip)


def _login(client, email: str, password: str, ip: str = "203.0.113.1"):
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def _move_attempts_back(seconds: int) -> None:
    """Every counted attempt happened ``seconds`` earlier: time passes for the limiter."""
    from django.db.models import F

    from brainmark.platform.accounts.models import RateLimitAttempt

    RateLimitAttempt.objects.update(at=F("at") - datetime.timedelta(seconds=seconds))


def _user_count() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.count()


# --- Sign-up ---------------------------------------------------------------------------------


def test_signup_per_ip_refuses_the_fourth_and_creates_nothing(client):
    for number in range(3):  # signup_ip allows 3 per hour.
        response = _signup(client, f"person{number}@example.org")
        assert response.status_code == 302, response.content.decode()
    assert len(_outbox()) == 3
    response = _signup(client, "person3@example.org")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many sign-ups from your network address" in page
    assert "at most 3 in 60 minutes" in page
    assert int(response["Retry-After"]) > 0
    assert len(_outbox()) == 3  # No mail,
    assert _user_count() == 3  # and no account.
    # Another client address is not limited by this one's sign-ups.
    assert _signup(client, "person3@example.org", ip="198.51.100.7").status_code == 302
    assert len(_outbox()) == 4


def test_signup_counts_against_the_addresss_mail_limit(client):
    # Two activation mails asked for an address that has no account yet (mail_to_address: 2):
    # its sign-up would be the third mail within the hour, so it is refused.
    assert _resend(client, "new@example.org").status_code == 302
    assert _resend(client, "New@Example.org ", ip="198.51.100.7").status_code == 302
    response = _signup(client, "new@example.org", ip="192.0.2.99")
    assert response.status_code == 429
    assert "Too many e-mails asked for to this address" in response.content.decode()
    assert _user_count() == 0 and _outbox() == []
    _move_attempts_back(HOUR)  # An hour later the address may sign up.
    assert _signup(client, "new@example.org", ip="192.0.2.99").status_code == 302
    [message] = _outbox()
    assert message.to == ["new@example.org"]


# --- Sending the activation mail again -------------------------------------------------------


def test_resend_per_address_refuses_the_third_whether_or_not_the_account_exists(client):
    from django.test import Client

    _user("waiting@example.org", active=False, pending=True)
    for _ in range(2):
        assert _resend(client, "waiting@example.org").status_code == 302
    assert len(_outbox()) == 2
    # From another IP (and a fresh browser, without the messages queued above): still 429.
    known = _resend(Client(HTTP_HOST="localhost"), "waiting@example.org", ip="198.51.100.7")
    assert known.status_code == 429
    assert len(_outbox()) == 2
    for _ in range(2):
        assert _resend(client, "nobody@example.org", ip="192.0.2.10").status_code == 302
    unknown = _resend(Client(HTTP_HOST="localhost"), "nobody@example.org", ip="192.0.2.11")
    assert unknown.status_code == 429
    assert len(_outbox()) == 2
    # The refusals read the same: they do not tell which address has an account.
    assert _same_refusal_text(known, unknown)


def _same_refusal_text(first, second) -> bool:
    """The two refusal pages agree except for the time they name."""
    import re

    def without_times(response) -> str:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "TIME", response.content.decode())

    return without_times(first) == without_times(second)


def test_resend_per_ip_and_per_address_are_independent(client):
    # From one client address: 3 requests (resend_activation_ip: 3) for three addresses.
    for number in range(3):
        assert _resend(client, f"a{number}@example.org").status_code == 302
    refused = _resend(client, "a3@example.org")
    assert refused.status_code == 429
    assert "activation e-mails asked for from your network address" in refused.content.decode()
    # The same address from another client goes through: it had no mail counted.
    assert _resend(client, "a3@example.org", ip="198.51.100.7").status_code == 302
    # a0 has one mail counted: one more is allowed from elsewhere, then the address is full.
    assert _resend(client, "a0@example.org", ip="198.51.100.8").status_code == 302
    assert _resend(client, "a0@example.org", ip="198.51.100.9").status_code == 429


# --- Password reset --------------------------------------------------------------------------


def test_password_reset_per_address_and_per_ip(client):
    _user("member@example.org")
    for ip in ("192.0.2.1", "192.0.2.2"):
        assert _reset(client, "member@example.org", ip=ip).status_code == 302
    assert len(_outbox()) == 2
    refused = _reset(client, "MEMBER@example.org", ip="192.0.2.3")
    assert refused.status_code == 429
    assert "Too many e-mails asked for to this address" in refused.content.decode()
    assert len(_outbox()) == 2
    # Per client address: 3 resets (any addresses, known or not), then refused.
    for number in range(3):
        assert _reset(client, f"r{number}@example.org", ip="192.0.2.50").status_code == 302
    refused = _reset(client, "member2@example.org", ip="192.0.2.50")
    assert refused.status_code == 429
    assert "password resets asked for from your network address" in refused.content.decode()
    assert len(_outbox()) == 2  # Unknown addresses got nothing, the refused one neither.


def test_the_window_frees_up_after_an_hour(client):
    from django.utils import timezone

    from brainmark.platform.accounts.models import RateLimitAttempt

    _user("member@example.org")
    assert _reset(client, "member@example.org").status_code == 302
    assert _reset(client, "member@example.org").status_code == 302
    # Both attempts 20 minutes ago, to the second: the address is free again 40 minutes on.
    then = timezone.now().replace(microsecond=0) - datetime.timedelta(minutes=20)
    RateLimitAttempt.objects.update(at=then)
    refused = _reset(client, "member@example.org")
    assert refused.status_code == 429
    frees = then + datetime.timedelta(hours=1)
    assert f"Try again after <strong>{frees:%Y-%m-%d %H:%M:%S} UTC" in refused.content.decode()
    assert 39 * 60 <= int(refused["Retry-After"]) <= 40 * 60
    _move_attempts_back(40 * 60)  # Now the attempts are an hour old: out of the window.
    assert _reset(client, "member@example.org").status_code == 302
    assert len(_outbox()) == 3


def test_the_sliding_window_counts_exactly(database):
    """Limit 2 per 60 s, attempts at t and t+30 s: refused until t+60 s, then allowed."""
    from django.test import override_settings

    from brainmark.platform.accounts import ratelimit
    from brainmark.platform.accounts.models import RateLimitAttempt

    t = datetime.datetime(2030, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    second = datetime.timedelta(seconds=1)
    with override_settings(BRAINMARK_RATE_LIMITS={"login_failure": (2, 60)}):
        attempt = [("login_failure", "k")]
        ratelimit.record(attempt, now=t)
        ratelimit.record(attempt, now=t + 30 * second)
        with pytest.raises(ratelimit.RateLimited) as refused:
            ratelimit.record(attempt, now=t + 59 * second)
        assert refused.value.retry_at == t + 60 * second
        assert refused.value.retry_after_seconds(now=t + 59 * second) == 1
        assert RateLimitAttempt.objects.count() == 2  # The refusal wrote nothing.
        ratelimit.record(attempt, now=t + 60 * second)  # t left the window.
        # Writing pruned the row at t (out of every window); t+30 s and t+60 s remain.
        times = sorted(RateLimitAttempt.objects.values_list("at", flat=True))
        assert times == [t + 30 * second, t + 60 * second]
        with pytest.raises(ratelimit.RateLimited) as refused:
            ratelimit.record(attempt, now=t + 61 * second)
        assert refused.value.retry_at == t + 90 * second
        ratelimit.record([("login_failure", "another key")], now=t + 61 * second)


# --- Log-in ----------------------------------------------------------------------------------


def test_login_failures_lock_out_even_the_right_password(client):
    _user("member@example.org")
    for _ in range(3):  # login_failure allows 3 per 15 minutes.
        response = _login(client, "member@example.org", WRONG)
        assert response.status_code == 200
        assert "The e-mail address or the password is wrong." in response.content.decode()
    response = _login(client, "Member@example.org", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed log-ins to this account from your network address" in page
    assert "at most 3 in 15 minutes. Try again after" in page
    assert "_auth_user_id" not in client.session
    # From another client address the account's owner can still log in.
    assert _login(client, "member@example.org", PASSWORD, ip="198.51.100.7").status_code == 302
    client.post("/accounts/logout/")
    # A quarter of an hour later the first address may try again.
    _move_attempts_back(15 * 60)
    assert _login(client, "member@example.org", PASSWORD).status_code == 302


def test_a_successful_login_does_not_count_as_a_failure(client):
    _user("member@example.org")
    for _ in range(2):
        assert _login(client, "member@example.org", WRONG).status_code == 200
    assert _login(client, "member@example.org", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    # Two failures so far: a third is still answered as a wrong password, not a refusal.
    assert _login(client, "member@example.org", WRONG).status_code == 200
    assert _login(client, "member@example.org", PASSWORD).status_code == 429


def test_the_right_password_of_an_inactive_account_is_not_a_failure(client):
    _user("waiting@example.org", active=False, pending=True)
    for _ in range(4):  # One more than login_failure allows.
        response = _login(client, "waiting@example.org", PASSWORD)
        assert response.status_code == 200
        assert "This account is not activated yet" in response.content.decode()


def test_unknown_addresses_are_limited_like_known_ones(client):
    for _ in range(3):
        assert _login(client, "ghost@example.org", WRONG).status_code == 200
    response = _login(client, "ghost@example.org", WRONG)
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()


# --- The client's address --------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_unless_from_a_trusted_proxy(client):
    from django.test import override_settings

    for number in range(3):  # The header changes each time; REMOTE_ADDR does not.
        response = client.post(
            "/accounts/password-reset/", {"email": f"x{number}@example.org"},
            REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR=f"10.0.0.{number}",
        )
        assert response.status_code == 302
    response = client.post(
        "/accounts/password-reset/", {"email": "x3@example.org"},
        REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="10.0.0.9",
    )
    assert response.status_code == 429
    with override_settings(BRAINMARK_TRUSTED_PROXIES=["203.0.113.0/24"]):
        # Behind the trusted proxy the client is the right-most untrusted forwarded address;
        # what the client itself put further left is not believed.
        for number in range(3):
            response = client.post(
                "/accounts/password-reset/", {"email": f"y{number}@example.org"},
                REMOTE_ADDR="203.0.113.1",
                HTTP_X_FORWARDED_FOR=f"1.2.3.{number}, 198.51.100.20, 203.0.113.2",
            )
            assert response.status_code == 302
        response = client.post(
            "/accounts/password-reset/", {"email": "y3@example.org"},
            REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="198.51.100.20",
        )
        assert response.status_code == 429
        response = client.post(
            "/accounts/password-reset/", {"email": "y3@example.org"},
            REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="198.51.100.21",
        )
        assert response.status_code == 302


# --- Sign-ups never activated ----------------------------------------------------------------


def test_a_new_signup_deletes_signups_unactivated_for_over_seven_days(client):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from brainmark.platform.accounts.models import PendingActivation

    now = timezone.now()
    old = _user("old@example.org", active=False, pending=True)
    recent = _user("recent@example.org", active=False, pending=True)
    _user("deactivated@example.org", active=False)  # By the staff: no pending row.
    _user("active@example.org")
    PendingActivation.objects.filter(user=old).update(created=now - datetime.timedelta(days=8))
    PendingActivation.objects.filter(user=recent).update(
        created=now - datetime.timedelta(days=6)
    )
    page = client.get("/accounts/signup/").content.decode()
    assert "not activated within 7 days is deleted" in page
    # The old sign-up's own address may sign up again: the old account makes way.
    assert _signup(client, "old@example.org").status_code == 302
    emails = set(get_user_model().objects.values_list("email", flat=True))
    assert emails == {
        "old@example.org", "recent@example.org", "deactivated@example.org", "active@example.org"
    }
    new_old = get_user_model().objects.get(email="old@example.org")
    assert new_old.pk != old.pk
    assert set(PendingActivation.objects.values_list("user__email", flat=True)) == {
        "old@example.org", "recent@example.org"
    }
    assert PendingActivation.objects.get(user=new_old).created > now - datetime.timedelta(
        minutes=1
    )


def test_stale_signups_go_whichever_address_signs_up(database):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from brainmark.platform.accounts.models import PendingActivation
    from brainmark.platform.accounts.services import delete_stale_signups

    now = timezone.now()
    for days, email in ((8, "a@example.org"), (7.01, "b@example.org"), (6.99, "c@example.org")):
        user = _user(email, active=False, pending=True)
        PendingActivation.objects.filter(user=user).update(
            created=now - datetime.timedelta(days=days)
        )
    assert delete_stale_signups(now=now) == 2
    assert list(get_user_model().objects.values_list("email", flat=True)) == ["c@example.org"]
    assert PendingActivation.objects.count() == 1


# --- Several workers at once -----------------------------------------------------------------


def test_concurrent_workers_never_exceed_the_limit(django_test_database):
    """Eight connections ask at the same moment for one key limited to 3: exactly 3 pass.

    Each thread has its own database connection, as each gunicorn worker has; the counting
    must be serialised by the database. (PostgreSQL only: SQLite's in-memory test database
    is shared between threads through table locks that fail rather than wait.)
    """
    import threading

    from django.db import connection, connections
    from django.test import override_settings

    from brainmark.platform.accounts import ratelimit
    from brainmark.platform.accounts.models import RateLimitAttempt

    if connection.vendor != "postgresql":
        pytest.skip("needs a database server that several connections can write at once")
    key = "concurrency-test-key"
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            start.wait()
            try:
                ratelimit.record([("login_failure", key)])
                outcomes.append("counted")
            except ratelimit.RateLimited:
                outcomes.append("refused")
        finally:
            connections.close_all()

    def clean_up() -> None:
        RateLimitAttempt.objects.filter(key=key).delete()
        connections.close_all()

    with override_settings(BRAINMARK_RATE_LIMITS={"login_failure": (3, 900)}):
        threads = [threading.Thread(target=worker) for _ in range(8)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            cleaner = threading.Thread(target=clean_up)  # Outside any test transaction.
            cleaner.start()
            cleaner.join(timeout=60)
    assert sorted(outcomes) == ["counted"] * 3 + ["refused"] * 5


CONCURRENT_SQLITE_SCRIPT = """
import threading
import django
django.setup()
from django.db import connection, connections
from django.test import override_settings
from brainmark.platform.accounts import ratelimit
assert connection.vendor == "sqlite", connection.vendor
outcomes, start = [], threading.Barrier(8)
def worker():
    try:
        start.wait()
        try:
            ratelimit.record([("login_failure", "k")])
            outcomes.append("counted")
        except ratelimit.RateLimited:
            outcomes.append("refused")
    finally:
        connections.close_all()
with override_settings(BRAINMARK_RATE_LIMITS={"login_failure": (3, 900)}):
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print(" ".join(sorted(outcomes)))
"""


def test_concurrent_workers_on_a_sqlite_file_never_exceed_the_limit(
    run_brainmark, sqlite_environment
):
    """The same on the SQLite file a small site runs on, in a process of its own."""
    import subprocess
    import sys

    migrated = run_brainmark("migrate", env=sqlite_environment)
    assert migrated.returncode == 0, migrated.stderr
    environment = {**sqlite_environment, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}
    result = subprocess.run(
        [sys.executable, "-c", CONCURRENT_SQLITE_SCRIPT],
        env=environment, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["counted"] * 3 + ["refused"] * 5


def test_the_staff_see_counted_attempts_in_the_admin(client):
    from django.contrib.auth import get_user_model

    for _ in range(3):
        _login(client, "target@example.org", WRONG)
    staff = get_user_model().objects.create_superuser(
        "admin@example.org", email="admin@example.org", password=PASSWORD
    )
    client.force_login(staff)
    page = client.get("/admin/accounts/ratelimitattempt/").content.decode()
    assert "target@example.org from 203.0.113.1" in page
    assert "3 rate limit attempts" in page
