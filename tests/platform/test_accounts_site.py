"""The accounts pages through Django's test client: sign-up with e-mail activation, log in
and out, password reset and change, the profile and its switches, API tokens, deleting an
account, and ``/api/accounts/me``.

E-mails go to Django's in-memory outbox (one test reads the real file outbox); their links
must start with ``SITE_URL``, which differs here from the host the client talks to.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.db

SITE_URL = "https://brainmark.example.org"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long passphrase 42"
LINK = re.compile(re.escape(SITE_URL) + r"(/accounts/[^\s]+/)")


@pytest.fixture(autouse=True)
def site_settings(database):
    """Fast password hashing, the in-memory outbox, and a site address unlike the client's."""
    from django.core import mail
    from django.test import override_settings

    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SITE_URL=SITE_URL + "/",
        DEFAULT_FROM_EMAIL="brainmark <noreply@brainmark.example.org>",
    ):
        mail.outbox = []
        yield


@pytest.fixture
def client():
    from django.test import Client

    return Client(HTTP_HOST="localhost")


def _user(email: str, *, active: bool = True, password: str = PASSWORD):
    from brainmark.platform.accounts.services import create_user

    return create_user(email, password, password, active=active)


def _signed_up_user(email: str):
    """An inactive user awaiting activation, as the sign-up page leaves one (without mail)."""
    from brainmark.platform.accounts.models import PendingActivation

    user = _user(email, active=False)
    PendingActivation.objects.create(user=user)
    return user


def _outbox():
    from django.core import mail

    return mail.outbox


def _link_path(body: str) -> str:
    """The path of the one link with a token in an e-mail body (it must start with SITE_URL).

    Every address in the mail must be on the site as users reach it.
    """
    assert re.findall(r"https?://[^\s]+", body) == [SITE_URL] + [
        SITE_URL + path for path in LINK.findall(body)
    ], body
    [path] = [path for path in LINK.findall(body) if "/again/" not in path]
    return path


def _logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def _sign_up(client, email: str, password: str = PASSWORD, again: str | None = None):
    return client.post(
        "/accounts/signup/",
        {"email": email, "password1": password, "password2": password if again is None else again},
    )


def test_signup_mails_an_activation_link_that_activates_and_logs_in(client):
    from django.contrib.auth import get_user_model

    from brainmark.platform.accounts.models import PendingActivation

    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert b'class="stacked"' in page.content and b'name="password2"' in page.content

    response = _sign_up(client, " Ada.Lovelace@Example.org ")
    assert response.status_code == 302 and response.url == "/accounts/signup/sent/"
    user = get_user_model().objects.get()
    # As the CLI makes users: the username and the e-mail are the address as given.
    assert user.username == "Ada.Lovelace@Example.org"
    assert user.email == "Ada.Lovelace@example.org"  # Django lower-cases the domain.
    assert not user.is_active and user.check_password(PASSWORD)
    assert PendingActivation.objects.filter(user=user).exists()
    assert _logged_in_user_id(client) is None
    assert b"Ada.Lovelace@example.org" in client.get(response.url).content

    [message] = _outbox()
    assert message.to == ["Ada.Lovelace@example.org"]
    assert message.from_email == "brainmark <noreply@brainmark.example.org>"
    assert "Activate" in message.subject
    path = _link_path(message.body)
    assert path.startswith("/accounts/activate/")

    activated = client.get(path)
    assert activated.status_code == 302 and activated.url == "/accounts/profile/"
    user.refresh_from_db()
    assert user.is_active and not PendingActivation.objects.filter(user=user).exists()
    assert _logged_in_user_id(client) == str(user.pk)
    profile = client.get("/accounts/profile/")
    assert profile.status_code == 200
    assert b"is active and you are logged in" in profile.content

    # The link works once; a used, mangled or foreign link gets a page that says so.
    for bad in (path, path.replace("/activate/", "/activate/x"), "/accounts/activate/MQ/abc-def/"):
        again = client.get(bad)
        assert again.status_code == 400
        assert b"This activation link is not valid" in again.content


def test_signup_reads_the_real_file_outbox(client, tmp_path: Path):
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    outbox = tmp_path / "outbox"
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    ):
        assert _sign_up(client, "grace@example.org").status_code == 302
    [written] = list(outbox.iterdir())
    content = written.read_text()
    assert "To: grace@example.org" in content
    assert client.get(_link_path(content)).status_code == 302
    assert get_user_model().objects.get(username="grace@example.org").is_active


def test_signup_refuses_an_address_already_used_in_any_case(client):
    from django.contrib.auth import get_user_model

    _user("ada@example.org")
    response = _sign_up(client, "ADA@Example.ORG")
    assert response.status_code == 200
    assert b"An account with this e-mail address already exists" in response.content
    assert b"Send the activation e-mail again" in response.content
    assert get_user_model().objects.count() == 1
    assert _outbox() == []


@pytest.mark.parametrize(
    ("email", "password", "again", "message"),
    [
        ("ada@example.org", PASSWORD, PASSWORD + "x", b"The two passwords differ."),
        ("ada@example.org", "password", "password", b"This password is too common."),
        ("ada@example.org", "ada@example.org", "ada@example.org", b"too similar"),
        ("not-an-address", PASSWORD, PASSWORD, b"Enter a valid email address."),
    ],
)
def test_signup_refuses_bad_input_by_field(client, email, password, again, message):
    from django.contrib.auth import get_user_model

    response = _sign_up(client, email, password, again)
    assert response.status_code == 200
    assert message in response.content
    assert b'class="errorlist"' in response.content
    assert not get_user_model().objects.exists()
    assert _outbox() == []


def test_an_inactive_user_is_told_to_activate_and_can_get_the_mail_again(client):
    user = _signed_up_user("ada@example.org")

    wrong = client.post("/accounts/login/", {"username": "ada@example.org", "password": "nope"})
    assert wrong.status_code == 200
    assert b"The e-mail address or the password is wrong." in wrong.content
    assert b"not activated" not in wrong.content  # Only the password's holder learns that.

    refused = client.post("/accounts/login/", {"username": "ada@example.org", "password": PASSWORD})
    assert refused.status_code == 200
    assert b"This account is not activated yet" in refused.content
    assert b"Send the activation e-mail again" in refused.content
    assert _logged_in_user_id(client) is None

    resent = client.post("/accounts/activate/again/", {"email": "ada@example.org"})
    assert resent.status_code == 302 and resent.url == "/accounts/login/"
    [message] = _outbox()
    assert message.to == ["ada@example.org"]
    assert client.get(_link_path(message.body)).status_code == 302
    assert _logged_in_user_id(client) == str(user.pk)


def test_an_account_the_staff_deactivated_cannot_activate_itself(client):
    from brainmark.platform.accounts.services import activation_link

    user = _signed_up_user("ada@example.org")
    path = activation_link(user).removeprefix(SITE_URL)
    assert client.get(path).status_code == 302  # Activated, then used for a while...
    client.post("/accounts/logout/")
    user.refresh_from_db()
    user.is_active = False  # ...until the staff deactivate it.
    user.save()
    # Its old link (even one made for the current state) and a new mail do not bring it back.
    assert client.get(path).status_code == 400
    assert client.get(activation_link(user).removeprefix(SITE_URL)).status_code == 400
    refused = client.post("/accounts/login/", {"username": "ada@example.org", "password": PASSWORD})
    assert b"deactivated by the site&#x27;s staff" in refused.content
    assert b"Send the activation e-mail again" not in refused.content
    client.post("/accounts/activate/again/", {"email": "ada@example.org"})
    assert _outbox() == []
    user.refresh_from_db()
    assert not user.is_active and _logged_in_user_id(client) is None


def test_resending_to_an_unknown_or_active_address_sends_nothing_and_says_the_same(client):
    _user("ada@example.org")
    for email in ("ada@example.org", "nobody@example.org"):
        response = client.post("/accounts/activate/again/", {"email": email}, follow=True)
        assert f"If an account with {email} awaits activation".encode() in response.content
    assert _outbox() == []


def test_login_by_email_in_any_case_and_logout_only_by_post(client):
    user = _user("ada@example.org")
    response = client.post(
        "/accounts/login/", {"username": "ADA@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302 and response.url == "/accounts/profile/"
    assert _logged_in_user_id(client) == str(user.pk)
    assert b"ada@example.org" in client.get("/accounts/profile/").content

    assert client.get("/accounts/logout/").status_code == 405
    assert _logged_in_user_id(client) == str(user.pk)
    out = client.post("/accounts/logout/")
    assert out.status_code == 302 and out.url == "/"
    assert _logged_in_user_id(client) is None
    assert client.get("/accounts/profile/").url == "/accounts/login/?next=/accounts/profile/"


def test_password_reset_by_email_changes_the_password(client):
    user = _user("ada@example.org")
    form = client.get("/accounts/password-reset/")
    assert form.status_code == 200 and b'class="stacked"' in form.content
    sent = client.post("/accounts/password-reset/", {"email": "Ada@Example.org"})
    assert sent.status_code == 302 and sent.url == "/accounts/password-reset/sent/"
    [message] = _outbox()
    assert message.to == ["ada@example.org"]
    path = _link_path(message.body)

    set_password = client.get(path)  # Django hides the token behind a redirect.
    assert set_password.status_code == 302
    page = client.get(set_password.url)
    assert b"Choose a new password" in page.content
    done = client.post(
        set_password.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done.url == "/accounts/password-reset/done/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)

    used = client.get(path, follow=True)
    assert b"This reset link is not valid" in used.content
    # An unknown address gets the same answer and no mail.
    client.post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert len(_outbox()) == 1


def test_password_change_for_a_logged_in_user(client):
    user = _user("ada@example.org")
    client.force_login(user)
    wrong = client.post(
        "/accounts/password-change/",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200 and b"errorlist" in wrong.content
    changed = client.post(
        "/accounts/password-change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302 and changed.url == "/accounts/profile/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert _logged_in_user_id(client) == str(user.pk)  # The session survives the change.


def _belongings(user, tag: str) -> dict[str, object]:
    """A model, a submission, a data package and a token of ``user``, named after ``tag``."""
    from brainmark.platform.accounts.models import ApiToken
    from brainmark.platform.leaderboard.models import Model
    from brainmark.platform.submissions.models import Submission
    from brainmark.platform.uploads.models import DataPackage

    sha1 = hashlib.sha1(tag.encode()).hexdigest()
    return {
        "model": Model.objects.create(identifier=f"{tag}-net", owner=user, public=True),
        "submission": Submission.objects.create(user=user, kind="model", status="failed"),
        "package": DataPackage.objects.create(
            owner=user, identifier=f"{tag}2024.IT", key=f"data/{tag}.nc", sha1=sha1,
            version_id=f"version-of-{tag}", size=2048,
        ),
        "token": ApiToken.objects.create_token(user, f"{tag}-laptop")[0],
    }


def test_the_profile_lists_only_the_users_own_things(client):
    ada, bob = _user("ada@example.org"), _user("bob@example.org")
    own, other = _belongings(ada, "ada"), _belongings(bob, "bob")
    client.force_login(ada)
    page = client.get("/accounts/profile/").content.decode()

    assert 'href="/models/ada-net/"' in page
    assert f'href="/submissions/{own["submission"].pk}/"' in page
    for shown in ("ada2024.IT", "data/ada.nc", own["package"].sha1, "version-of-ada",
                  "2.0\xa0KB", "ada-laptop", 'href="/uploads/"', 'class="data left"'):
        assert shown in page, shown
    for hidden in ("bob-net", f'/submissions/{other["submission"].pk}/', "bob2024.IT",
                   other["package"].sha1, "bob-laptop"):
        assert hidden not in page, hidden


def test_owners_switch_public_and_withdrawn_and_nobody_else_can(client):
    from django.test import Client

    from brainmark.platform.leaderboard.models import Model

    ada, bob = _user("ada@example.org"), _user("bob@example.org")
    model = Model.objects.create(identifier="ada-net", owner=ada, public=True)
    public_url = f"/accounts/models/{model.pk}/public/"
    withdrawn_url = f"/accounts/models/{model.pk}/withdrawn/"

    client.force_login(bob)
    assert client.post(public_url, {"value": "false"}).status_code == 404
    assert client.post(withdrawn_url, {"value": "true"}).status_code == 404
    anonymous = Client(HTTP_HOST="localhost").post(public_url, {"value": "false"})
    assert anonymous.status_code == 302 and anonymous.url.startswith("/accounts/login/")
    model.refresh_from_db()
    assert (model.public, model.withdrawn) == (True, False)

    client.force_login(ada)
    assert client.get(public_url).status_code == 405
    assert client.post(public_url, {"value": "maybe"}).status_code == 400
    assert client.post(public_url, {"value": "false"}).url == "/accounts/profile/"
    assert client.post(withdrawn_url, {"value": "true"}).url == "/accounts/profile/"
    model.refresh_from_db()
    assert (model.public, model.withdrawn) == (False, True)
    page = client.get("/accounts/profile/").content.decode()
    assert "Make public" in page and "Return to the leaderboard" in page
    assert "ada-net is now withdrawn from the leaderboard" in page
    client.post(public_url, {"value": "true"})
    client.post(withdrawn_url, {"value": "false"})
    model.refresh_from_db()
    assert (model.public, model.withdrawn) == (True, False)


def test_changes_need_the_csrf_token():
    from django.test import Client

    from brainmark.platform.leaderboard.models import Model

    ada = _user("ada@example.org")
    model = Model.objects.create(identifier="ada-net", owner=ada, public=True)
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    client.force_login(ada)
    refused = client.post(f"/accounts/models/{model.pk}/public/", {"value": "false"})
    assert refused.status_code == 403
    model.refresh_from_db()
    assert model.public


def test_a_token_is_shown_once_authenticates_the_api_and_stops_when_revoked(client):
    from django.test import Client

    from brainmark.platform.accounts.models import ApiToken, hash_token
    from brainmark.platform.leaderboard.models import Model

    ada = _user("ada@example.org")
    Model.objects.create(identifier="b-net", owner=ada, public=False, withdrawn=True)
    Model.objects.create(identifier="a-net", owner=ada, public=True)
    Model.objects.create(identifier="someone-elses", owner=_user("bob@example.org"))
    client.force_login(ada)

    created = client.post("/accounts/tokens/", {"name": "laptop"})
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    shown = re.search(r'<pre class="token" id="clear-token">(bm_[^<]+)</pre>', created.text)
    clear = shown[1]
    token = ApiToken.objects.get(user=ada, name="laptop")
    assert token.token_hash == hash_token(clear)
    profile = client.get("/accounts/profile/").content.decode()
    assert "laptop" in profile and clear not in profile  # Never shown again.
    assert "never" in profile  # Not used yet.

    duplicate = client.post("/accounts/tokens/", {"name": "laptop"})
    assert duplicate.status_code == 400
    assert "already has an active token named &#x27;laptop&#x27;" in duplicate.content.decode()

    api = Client(HTTP_HOST="localhost")
    me = api.get("/api/accounts/me", HTTP_AUTHORIZATION=f"Bearer {clear}")
    assert me.status_code == 200
    assert me.json() == {
        "email": "ada@example.org",
        "is_staff": False,
        "models": [
            {"identifier": "a-net", "public": True, "withdrawn": False},
            {"identifier": "b-net", "public": False, "withdrawn": True},
        ],
    }
    token.refresh_from_db()
    assert token.last_used is not None
    unauthorized = api.get("/api/accounts/me")
    assert unauthorized.status_code == 401 and unauthorized.json() == {"detail": "Unauthorized"}
    assert api.get("/api/accounts/me", HTTP_AUTHORIZATION="Bearer bm_wrong").status_code == 401
    assert client.get("/api/accounts/me").json()["email"] == "ada@example.org"  # The session.

    revoked = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 302
    assert api.get("/api/accounts/me", HTTP_AUTHORIZATION=f"Bearer {clear}").status_code == 401
    assert "revoked" in client.get("/accounts/profile/").content.decode()


def test_nobody_revokes_another_users_token(client):
    ada, bob = _user("ada@example.org"), _user("bob@example.org")
    token = _belongings(ada, "ada")["token"]
    client.force_login(bob)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked is None


def test_deleting_the_account_removes_models_keeps_data_packages_without_owner(client):
    from django.contrib.auth import get_user_model

    from brainmark.platform.accounts.models import ApiToken
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )
    from brainmark.platform.submissions.models import Submission
    from brainmark.platform.uploads.models import DataPackage

    ada, bob = _user("ada@example.org"), _user("bob@example.org")
    own, other = _belongings(ada, "ada"), _belongings(bob, "bob")
    benchmark = BenchmarkVersion.objects.create(
        benchmark_type=BenchmarkType.objects.create(identifier="IT"), version=1, ceiling=0.8
    )
    for model in (own["model"], other["model"]):
        version = ModelVersion.objects.create(
            model=model, version=1, plugin_sha1="a" * 40, visual_degrees=8.0
        )
        Score.objects.create(model_version=version, benchmark_version=benchmark, raw=0.4)
    client.force_login(ada)

    page = client.get("/accounts/delete/").content.decode()
    assert "ada-net" in page and "data upload" in page and "no owner" in page
    wrong = client.post("/accounts/delete/", {"password": "nope"})
    assert b"The password is wrong; nothing was deleted." in wrong.content
    assert get_user_model().objects.filter(pk=ada.pk).exists()

    deleted = client.post("/accounts/delete/", {"password": PASSWORD})
    assert deleted.status_code == 302 and deleted.url == "/"
    assert _logged_in_user_id(client) is None
    assert not get_user_model().objects.filter(pk=ada.pk).exists()
    assert list(Model.objects.values_list("identifier", flat=True)) == ["bob-net"]
    assert list(ModelVersion.objects.values_list("model__identifier", flat=True)) == ["bob-net"]
    assert Score.objects.get().model_version.model == other["model"]
    assert list(Submission.objects.all()) == [other["submission"]]
    assert list(ApiToken.objects.all()) == [other["token"]]
    kept = DataPackage.objects.get(pk=own["package"].pk)
    assert kept.owner is None and kept.sha1 == own["package"].sha1
    assert DataPackage.objects.get(pk=other["package"].pk).owner == bob
    # The address is free again.
    assert _sign_up(client, "ada@example.org").status_code == 302
