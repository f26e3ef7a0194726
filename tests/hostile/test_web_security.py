"""The site against a hostile visitor: who may see and do what, CSRF, headers, passwords,
rate limits on the doors that cost work, and user-written text that must stay text.

Every case drives the real views through Django's test client on the test database (rows
written with the ORM, as ``tests/platform/conftest.py``'s ``rows`` does). The authorization
table is checked for completeness against Django's URL resolver: a new URL must be added to
the table or to :data:`PUBLIC` with a reason, or ``test_every_url_is_in_the_table`` fails.
(The crawl in ``tests/platform/test_boundaries.py`` checks that no page errs; the webhook's
signature and replay tests are in ``tests/platform/test_git_submissions.py``.)
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest

pytestmark = pytest.mark.db

PASSWORD = "Corvid-lumen-7342!quartz"
ROLES = ("anonymous", "owner", "other", "staff")
# Markers of ada's (the owner's) private things: a page shows them or it does not.
SECRET_LOG = "ada-secret-log-line"
SECRET_PACKAGE = "ada.secret.stimuli"
SECRET_TOKEN = "ada-secret-token"
WEBHOOK_SECRET = "w" * 32


# --- The world: ada owns private things, bob is another user, boss is staff ----------------


@pytest.fixture
def world(rows: dict) -> dict[str, Any]:
    """The example board (ada owns the private model gamma) plus ada's submission with a
    job, her data upload and API token; bob, another user with a private model of his own
    (epsilon, scored on b1); boss, a staff superuser."""
    from django.contrib.auth import get_user_model

    from brainmark.platform.accounts.models import ApiToken
    from brainmark.platform.leaderboard.models import Model, Score
    from brainmark.platform.submissions.models import Job, Submission
    from brainmark.platform.uploads.models import DataPackage

    users = get_user_model().objects
    ada = rows["ada"]
    # Accounts' user names are their e-mail addresses (log-in is by e-mail).
    bob = users.create_user("bob@example.org", "bob@example.org", None)
    boss = users.create_superuser("boss@example.org", "boss@example.org", None)
    gamma = Model.objects.get(identifier="gamma")
    version = gamma.versions.get()
    # bob has a private model of his own, so the boards he sees are filtered by "public or
    # his own", not the public board every visitor gets: gamma must stay out of it.
    epsilon = Model.objects.create(identifier="epsilon", public=False, owner=bob)
    epsilon_version = epsilon.versions.create(version=1, plugin_sha1="e" * 40,
                                              visual_degrees=8)
    Score.objects.create(model_version=epsilon_version, benchmark_version=rows["versions"]["b1"],
                         ceiled=0.7, raw=0.7, start=version.created, end=version.created)
    submission = Submission.objects.create(user=ada, kind="model", status="failed",
                                           log=f"{SECRET_LOG}\n", private=True)
    job = Job.objects.create(submission=submission, model_version=version,
                             benchmark_version=rows["versions"]["e1"], status="failed",
                             attempts=1, failure_kind="deterministic",
                             failure_reason="scoring raised")
    package = DataPackage.objects.create(
        owner=ada, identifier=SECRET_PACKAGE, kind="weights",
        key=f"uploads/{ada.pk}/{SECRET_PACKAGE}/weights.pt",
        location="file:///store/weights.pt", sha1="c" * 40, version_id="v1", size=10)
    token, clear_token = ApiToken.objects.create_token(ada, SECRET_TOKEN)
    return {
        "roles": {"anonymous": None, "owner": ada, "other": bob, "staff": boss},
        "ids": {"model": gamma.pk, "score": Score.objects.filter(
                    model_version=version).order_by("pk").first().pk,
                "submission": submission.pk, "job": job.pk, "package": package.pk,
                "token": token.pk},
        "clear_token": clear_token,
    }


def _client(world: dict, role: str, **options: Any):
    from django.test import Client

    client = Client(HTTP_HOST="localhost", **options)
    user = world["roles"][role]
    if user is not None:
        client.force_login(user)
    return client


# --- 1. The authorization table --------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``method url`` answered ``statuses`` (anonymous, owner, other, staff); ``secret``, when
    given, is in the body exactly for the roles in ``sees`` (a listing that must filter)."""

    method: str
    url: str
    statuses: tuple[int, int, int, int]
    secret: str = ""
    sees: tuple[str, ...] = ()
    data: tuple[tuple[str, str], ...] = ()


LOGIN = 302  # The anonymous are sent to log in (the same for an id that does not exist).
# ada's private model gamma: 404 to anyone but her and the staff, never 403.
PRIVATE = (404, 200, 404, 200)
# A page of ada's that needs a login: the anonymous log in first, others get a 404.
OWNED_PAGE = (LOGIN, 200, 404, 200)
OWNED_API = (401, 200, 404, 200)
STAFF_PAGE = (LOGIN, 404, 404, 200)
STAFF_ACTION = (LOGIN, 404, 404, 302)  # POST; staff are sent back to the queue or page.
ADMIN = (302, 302, 302, 200)  # Django's admin sends non-staff to its own log-in.
EVERYONE = (200, 200, 200, 200)
LOGGED_IN = (LOGIN, 200, 200, 200)
API_LOGGED_IN = (401, 200, 200, 200)
TOKEN_ONLY = (401, 401, 401, 401)  # Write endpoints take an API token, never the session.
OWNERS = ("owner", "staff")

TABLE: list[Case] = [
    # Models and scores
    Case("GET", "/models/gamma/", PRIVATE),
    Case("GET", "/models/gamma/scores/{score}.json", PRIVATE),
    Case("GET", "/api/scores/{score}", PRIVATE),
    # The form refuses a model the viewer cannot see as it refuses an unknown one
    # (test_comparing_with_a_private_model_reads_as_an_unknown_model).
    Case("GET", "/compare/?a=gamma&b=alpha", EVERYONE, "gamma vs alpha", OWNERS),
    Case("GET", "/compare/?a=alpha&b=gamma", EVERYONE, "alpha vs gamma", OWNERS),
    Case("GET", "/api/models/gamma", PRIVATE),
    Case("GET", "/api/models", EVERYONE, "gamma", OWNERS),
    Case("GET", "/api/scores", EVERYONE, "gamma", OWNERS),
    Case("GET", "/api/scores?model=gamma", EVERYONE, "gamma", OWNERS),
    Case("GET", "/api/leaderboard", EVERYONE, "gamma", OWNERS),
    Case("GET", "/", EVERYONE, "gamma", OWNERS),
    Case("GET", "/leaderboard.json", EVERYONE, "gamma", ()),
    Case("GET", "/leaderboard.csv", EVERYONE, "gamma", ()),
    Case("GET", "/leaderboard.bib", EVERYONE, "gamma", ()),
    Case("GET", "/benchmarks/b1/", EVERYONE, "gamma", OWNERS),
    # bob's own private model: on the boards he sees (and the staff's), on no one else's.
    Case("GET", "/", EVERYONE, "epsilon", ("other", "staff")),
    Case("GET", "/benchmarks/b1/", EVERYONE, "epsilon", ("other", "staff")),
    Case("GET", "/api/leaderboard", EVERYONE, "epsilon", ("other", "staff")),
    Case("GET", "/models/epsilon/", (404, 404, 200, 200)),
    Case("GET", "/api/benchmarks", EVERYONE),
    Case("GET", "/api/benchmarks/b1", EVERYONE),
    Case("POST", "/accounts/models/{model}/public/", (LOGIN, 302, 404, 404),
         data=(("value", "true"),)),
    Case("POST", "/accounts/models/{model}/withdrawn/", (LOGIN, 302, 404, 404),
         data=(("value", "true"),)),
    # Submissions and their logs
    Case("GET", "/submissions/{submission}/", OWNED_PAGE, SECRET_LOG, OWNERS),
    Case("GET", "/api/submissions/{submission}", OWNED_API, SECRET_LOG, OWNERS),
    Case("GET", "/submissions/", LOGGED_IN, "/submissions/{submission}/", ("owner",)),
    Case("GET", "/api/submissions/", API_LOGGED_IN, '"id": {submission}', ("owner",)),
    Case("GET", "/submissions/new/", LOGGED_IN),
    Case("POST", "/api/submissions/", TOKEN_ONLY),
    Case("POST", "/api/submissions/git", TOKEN_ONLY),
    # Data uploads
    Case("GET", "/uploads/", LOGGED_IN, SECRET_PACKAGE, ("owner",)),
    Case("GET", "/uploads/{package}/", (LOGIN, 200, 404, 404), SECRET_PACKAGE, ("owner",)),
    Case("GET", "/api/uploads/", API_LOGGED_IN, SECRET_PACKAGE, ("owner",)),
    Case("POST", "/api/uploads/", TOKEN_ONLY),
    # The account, its profile and API tokens
    Case("GET", "/accounts/profile/", LOGGED_IN, SECRET_TOKEN, ("owner",)),
    Case("POST", "/accounts/tokens/", (LOGIN, 200, 200, 200), data=(("name", "new"),)),
    Case("POST", "/accounts/tokens/{token}/revoke/", (LOGIN, 302, 404, 404)),
    Case("GET", "/accounts/password-change/", LOGGED_IN),
    Case("GET", "/accounts/delete/", LOGGED_IN),
    Case("GET", "/api/accounts/me", API_LOGGED_IN),
    # The staff's queue and its actions
    Case("GET", "/submissions/queue/", STAFF_PAGE),
    Case("POST", "/submissions/jobs/{job}/rerun/", STAFF_ACTION),
    Case("POST", "/submissions/jobs/{job}/cancel/", STAFF_ACTION),
    Case("POST", "/submissions/{submission}/rerun/", STAFF_ACTION),
    Case("POST", "/submissions/{submission}/cancel/", STAFF_ACTION),
    # The admin
    Case("GET", "/admin/", ADMIN),
    Case("GET", "/admin/submissions/submission/{submission}/change/", ADMIN, SECRET_LOG,
         ("staff",)),
    Case("GET", "/admin/accounts/apitoken/", ADMIN, SECRET_TOKEN, ("staff",)),
    Case("GET", "/admin/uploads/datapackage/{package}/change/", ADMIN, SECRET_PACKAGE,
         ("staff",)),
    # The webhook: a wrong signature is refused whoever sends it (the full signature and
    # replay tests are in tests/platform/test_git_submissions.py).
    Case("POST", "/api/webhooks/git", (403, 403, 403, 403), data=(("ref", "refs/heads/x"),)),
]

#: Routes anyone may use, each with the reason it holds nothing private.
PUBLIC: dict[str, str] = {
    "api/openapi.json": "the API's description, the same for everyone",
    "api/docs": "the browsable API description",
    "api/": "django-ninja's root, answers 404",
    "accounts/signup/": "the sign-up form (rate-limited)",
    "accounts/signup/sent/": "a fixed 'mail sent' page",
    "accounts/activate/<uidb64>/<token>/": "guarded by a signed one-time token",
    "accounts/activate/again/": "re-sends an activation mail (rate-limited, reads the same "
                                "for unknown addresses)",
    "accounts/login/": "the log-in form (rate-limited)",
    "accounts/logout/": "ends the caller's own session (POST only)",
    "accounts/password-reset/": "asks for a reset mail (rate-limited, reads the same for "
                                "unknown addresses)",
    "accounts/password-reset/sent/": "a fixed page",
    "accounts/password-reset/<uidb64>/<token>/": "guarded by a signed one-time token",
    "accounts/password-reset/done/": "a fixed page",
    "guides/": "the guides, from docs/",
    "guides/<slug:name>/": "one guide",
}


def _format(text: str, world: dict) -> str:
    return text.format(**world["ids"])


@pytest.mark.parametrize("case", TABLE, ids=lambda case: f"{case.method} {case.url}")
def test_authorization_table(world, case):
    """Each role in turn, each in a savepoint rolled back after it (a POST of one role
    changes nothing the next one sees); every role's mismatch is reported together."""
    from django.db import transaction

    from brainmark.settings import override_settings

    url = _format(case.url, world)
    wrong = []
    for role, expected in zip(ROLES, case.statuses, strict=True):
        with override_settings(webhook_secret=WEBHOOK_SECRET,
                               webhook_user=world["roles"]["other"].email), \
                transaction.atomic():
            client = _client(world, role)
            if case.method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, dict(case.data),
                                       HTTP_X_HUB_SIGNATURE_256="sha256=0",
                                       HTTP_X_GITHUB_DELIVERY="d-1", HTTP_X_GITHUB_EVENT="push")
            transaction.set_rollback(True)
        if response.status_code != expected:
            wrong.append(f"{role}: {response.status_code}, expected {expected}")
            continue
        if response.status_code == 302 and role == "anonymous":
            login = "/admin/login/" if url.startswith("/admin/") else "/accounts/login/"
            if not response["Location"].startswith(login):
                wrong.append(f"{role}: sent to {response['Location']}, not {login}")
        if case.secret and response.status_code == 200:
            shown = _format(case.secret, world) in response.content.decode()
            if shown != (role in case.sees):
                wrong.append(f"{role}: {'shows' if shown else 'hides'} {case.secret!r}")
    assert not wrong, f"{case.method} {url}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", ["anonymous", "other"])
def test_comparing_with_a_private_model_reads_as_an_unknown_model(world, role):
    """To others, gamma on the compare page is answered as a model that does not exist:
    the same page with the name swapped, none of gamma's scores."""
    client = _client(world, role)
    private = client.get("/compare/?a=alpha&b=gamma")
    unknown = client.get("/compare/?a=alpha&b=nosuchmodel")
    assert private.status_code == unknown.status_code == 200

    def page(response) -> str:  # Without the per-response CSRF token of the log-out form.
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "",
                      response.content.decode())

    assert page(private).replace("gamma", "nosuchmodel") == page(unknown)


def _routes() -> set[str]:
    from django.urls import URLResolver, get_resolver

    def walk(patterns, prefix: str = ""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return set(walk(get_resolver().url_patterns))


def _route_of(url: str) -> str:
    from django.urls import resolve

    return resolve(url.split("?")[0]).route


def test_every_url_is_in_the_table(django_test_database):
    """Each URL pattern is in the table or public with a reason; the admin's many patterns
    are staff-only as a whole (Django's admin_view), sampled by the table's admin rows."""
    ids = dict.fromkeys(("model", "score", "submission", "job", "package", "token"), 1)
    tabled = {_route_of(case.url.format(**ids)) for case in TABLE}
    routes = _routes()
    missing = sorted(route for route in routes - tabled - set(PUBLIC)
                     if not route.startswith("admin/"))
    assert not missing, f"URLs in neither the authorization table nor PUBLIC: {missing}"
    stale = sorted(set(PUBLIC) - routes)
    assert not stale, f"PUBLIC names routes that no longer exist: {stale}"
    assert any(route.startswith("admin/") for route in tabled)


def test_the_admin_refuses_every_page_to_users_who_are_not_staff(world):
    """Every admin page (the index, each model's list and add page) sends bob to log in."""
    from django.contrib import admin

    client = _client(world, "other")
    urls = ["/admin/"] + [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/{page}"
        for model in admin.site._registry for page in ("", "add/")
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_the_api_takes_a_token_for_the_owners_data(world):
    """With ada's token (no session) the API shows her private things; after revoking it,
    it is a 401."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {world['clear_token']}"}
    url = f"/api/submissions/{world['ids']['submission']}"
    assert SECRET_LOG in client.get(url, **bearer).content.decode()
    assert "gamma" in client.get("/api/models", **bearer).content.decode()
    owner = _client(world, "owner")
    assert owner.post(f"/accounts/tokens/{world['ids']['token']}/revoke/").status_code == 302
    assert client.get(url, **bearer).status_code == 401


# --- 2. CSRF on every form -------------------------------------------------------------------


def _submission_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.md", "not a plugin")
    return buffer.getvalue()


def _upload_fields() -> dict[str, Any]:
    content = b"some weights"
    return {"kind": "weights", "identifier": "csrf.weights",
            "sha1": hashlib.sha1(content).hexdigest(),
            "file": ("w.pt", content)}


@dataclass(frozen=True)
class Form:
    """A POST form: who sends it (``role``), where, with what, and the status without and
    with the CSRF token (with it, the form does its work: a redirect or a page)."""

    role: str
    url: str
    fields: tuple[tuple[str, Any], ...]
    accepted: tuple[int, ...]


FORMS = [
    Form("anonymous", "/accounts/login/", (("username", "bob@example.org"),
                                           ("password", PASSWORD)), (302,)),
    Form("anonymous", "/accounts/signup/", (("email", "new@example.org"),
                                            ("password1", PASSWORD),
                                            ("password2", PASSWORD)), (302,)),
    Form("anonymous", "/accounts/activate/again/", (("email", "new@example.org"),), (302,)),
    Form("anonymous", "/accounts/password-reset/", (("email", "bob@example.org"),), (302,)),
    Form("other", "/accounts/password-change/", (("old_password", PASSWORD),
                                                 ("new_password1", PASSWORD + "x"),
                                                 ("new_password2", PASSWORD + "x")), (302,)),
    Form("owner", "/accounts/models/{model}/public/", (("value", "true"),), (302,)),
    Form("owner", "/accounts/models/{model}/withdrawn/", (("value", "true"),), (302,)),
    Form("owner", "/accounts/tokens/", (("name", "csrf"),), (200,)),
    Form("owner", "/accounts/tokens/{token}/revoke/", (), (302,)),
    Form("other", "/accounts/delete/", (("password", PASSWORD),), (302,)),
    Form("other", "/accounts/logout/", (), (302,)),
    Form("owner", "/uploads/", tuple(_upload_fields().items()), (302,)),
    Form("owner", "/submissions/new/", (("file", ("plugins.zip", _submission_zip())),),
         (302,)),
    Form("staff", "/submissions/jobs/{job}/rerun/", (), (302,)),
    Form("staff", "/submissions/jobs/{job}/cancel/", (), (302,)),
    Form("staff", "/submissions/{submission}/rerun/", (), (302,)),
    Form("staff", "/submissions/{submission}/cancel/", (), (302,)),
]


@pytest.fixture
def csrf_world(world, tmp_path):
    """The world with bob's password set and a store of its own for uploads and archives."""
    from django.test import override_settings as django_settings

    from brainmark.settings import override_settings

    bob = world["roles"]["other"]
    bob.set_password(PASSWORD)
    bob.save()
    home = tmp_path / "home"
    home.mkdir()
    with override_settings(home=home, store=(tmp_path / "store").as_uri()), \
            django_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        yield world


def _multipart(fields: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {name: SimpleUploadedFile(value[0], value[1]) if isinstance(value, tuple) else value
            for name, value in fields}


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.url)
def test_every_form_refuses_a_post_without_the_csrf_token(csrf_world, form):
    client = _client(csrf_world, form.role, enforce_csrf_checks=True)
    url = _format(form.url, csrf_world)
    refused = client.post(url, _multipart(form.fields))
    assert refused.status_code == 403, f"{url} without a CSRF token: {refused.status_code}"
    # A page with a form sets the CSRF cookie (the log-out form on any page, logged in).
    client.get("/accounts/login/" if form.role == "anonymous" else "/")
    token = client.cookies["csrftoken"].value
    accepted = client.post(url, {**_multipart(form.fields), "csrfmiddlewaretoken": token})
    assert accepted.status_code in form.accepted, (
        f"{url} with the CSRF token: {accepted.status_code} "
        f"{accepted.content.decode()[:2000]}")


def test_every_post_form_of_the_table_is_tested_for_csrf(django_test_database):
    """Each site route (outside the API, which takes tokens, and the admin, Django's own)
    that takes a POST is in FORMS."""
    ids = dict.fromkeys(("model", "submission", "job", "token"), 1)
    tested = {_route_of(form.url.format(**ids)) for form in FORMS}
    posted = {_route_of(case.url.format(**ids, score=1, package=1)) for case in TABLE
              if case.method == "POST" and not case.url.startswith("/api/")}
    posted |= {"accounts/login/", "accounts/signup/", "accounts/activate/again/",
               "accounts/password-reset/", "accounts/logout/", "uploads/", "submissions/new/"}
    assert posted <= tested, sorted(posted - tested)


# --- 4. Deployment: headers, cookies, password hashing ----------------------------------------

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")


@pytest.mark.parametrize("url", [
    "/", "/models/alpha/", "/benchmarks/b1/", "/compare/?a=alpha&b=beta", "/guides/",
    "/accounts/login/", "/accounts/signup/", "/submissions/", "/uploads/", "/admin/login/",
    "/api/docs", "/no-such-page/", "/api/leaderboard",
])
def test_every_response_carries_the_security_headers(world, url):
    response = _client(world, "owner").get(url)
    assert response["Content-Security-Policy"] == CSP
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


TEMPLATES = "src/brainmark/platform/*/templates/**/*.html"
# What a policy without 'unsafe-inline' blocks: inline scripts and styles, event handlers,
# style attributes and javascript: links.
BLOCKED_BY_CSP = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>|<style\b|\sstyle=|"
    r"\son[a-z]+=|javascript:", re.IGNORECASE)


def test_no_template_holds_what_the_policy_blocks():
    """Templates keep scripts and styles in static files (mails, read in mail programs, are
    not pages and keep their inline styles)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offending = []
    for path in sorted(root.glob(TEMPLATES)):
        if "/mail/" in str(path) or "/email/" in str(path):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if BLOCKED_BY_CSP.search(line):
                offending.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("url", ["/", "/?expanded=V1", "/models/alpha/", "/benchmarks/b1/",
                                 "/compare/?a=alpha&b=beta", "/benchmarks/neural_vision/"])
def test_generated_html_holds_nothing_the_policy_blocks(world, url):
    """The HTML built in Python (tables, plots) has no style attribute or inline script."""
    page = _client(world, "owner").get(url).content.decode()
    blocked = [match.group(0) for match in BLOCKED_BY_CSP.finditer(page)]
    assert not blocked, blocked


def test_the_colour_classes_match_the_grids_colours():
    """tables.colour's ``hue-N`` classes exist for every N, red to green as the grid's."""
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "src/brainmark/platform/leaderboard/static/"
           "leaderboard/leaderboard.css").read_text()
    for hue in range(121):
        assert f"td.hue-{hue} {{ background-color: hsl({hue},60%,80%); }}" in css


def test_production_settings_secure_cookies_and_hsts(run_brainmark, sqlite_environment):
    """In a fresh process on the production profile (``check --deploy`` itself is run by
    tests/platform/test_settings.py)."""
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
            "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_HTTPONLY, s.DEBUG, "
            "'brainmark.platform.site.security.ContentSecurityPolicyMiddleware' in "
            "s.MIDDLEWARE, s.PASSWORD_HASHERS[0])")
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**sqlite_environment,
             "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings_production"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True", "True", "31536000", "True", "True", "False", "True",
        "django.contrib.auth.hashers.Argon2PasswordHasher"]


def test_passwords_are_stored_with_argon2(database):
    from django.contrib.auth import authenticate, get_user_model

    from brainmark.platform.accounts.services import create_user

    user = create_user("hashed@example.org", PASSWORD, PASSWORD)
    stored = get_user_model().objects.get(pk=user.pk).password
    assert stored.startswith("argon2$argon2id$"), stored
    assert authenticate(username="hashed@example.org", password=PASSWORD) == user


# --- 5. Rate limits on submitting and uploading ---------------------------------------------

LIMITS = {"submission_user": (2, 60), "upload_user": (2, 60)}


@pytest.fixture
def limited(csrf_world):
    from django.test import override_settings as django_settings

    with django_settings(BRAINMARK_RATE_LIMITS=LIMITS):
        yield csrf_world


def _bearer(world: dict) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {world['clear_token']}"}


def _submit_api(client, world):
    return client.post("/api/submissions/", _multipart(
        (("file", ("plugins.zip", _submission_zip())),)), **_bearer(world))


def _submit_form(client, world):
    return client.post("/submissions/new/", _multipart(
        (("file", ("plugins.zip", _submission_zip())),)))


def _upload_api(client, world, number: int):
    content = f"weights {number}".encode()
    return client.post("/api/uploads/", {
        "kind": "weights", "identifier": f"w{number}", "sha1": hashlib.sha1(content).hexdigest(),
        "file": _multipart((("file", ("w.pt", content)),))["file"]}, **_bearer(world))


def _upload_form(client, world, number: int):
    content = f"form weights {number}".encode()
    return client.post("/uploads/", {
        "kind": "weights", "identifier": f"f{number}", "sha1": hashlib.sha1(content).hexdigest(),
        "file": _multipart((("file", ("w.pt", content)),))["file"]})


def test_submitting_is_limited_per_minute_across_the_api_and_the_form(limited):
    from datetime import timedelta

    from django.db.models import F

    from brainmark.platform.accounts.models import RateLimitAttempt
    from brainmark.platform.submissions.models import Submission

    client = _client(limited, "owner")
    before = Submission.objects.count()
    assert _submit_api(client, limited).status_code == 201
    assert _submit_form(client, limited).status_code == 302
    refused = _submit_api(client, limited)
    assert refused.status_code == 429
    assert "Too many submissions from your account: at most 2 in 1 minutes" in \
        refused.json()["detail"]
    page = _submit_form(client, limited)
    assert page.status_code == 429
    assert "Too many submissions from your account" in page.content.decode()
    assert Submission.objects.count() == before + 2  # The refused ones stored nothing.
    # Another user is not limited by ada's attempts; a minute later ada may submit again.
    assert _submit_form(_client(limited, "other"), limited).status_code == 302
    RateLimitAttempt.objects.update(at=F("at") - timedelta(seconds=60))
    assert _submit_api(client, limited).status_code == 201


def test_git_submissions_count_against_the_same_limit(limited):
    client = _client(limited, "owner")
    for _ in range(2):
        assert _submit_api(client, limited).status_code == 201
    refused = client.post("/api/submissions/git", {"url": "https://example.org/r.git",
                                                   "ref": "main"},
                          content_type="application/json", **_bearer(limited))
    assert refused.status_code == 429, refused.content.decode()


def test_a_form_post_refused_by_csrf_is_not_counted(limited):
    """A forged cross-site POST cannot spend the victim's attempts."""
    from brainmark.platform.accounts.models import RateLimitAttempt

    client = _client(limited, "owner", enforce_csrf_checks=True)
    for _ in range(3):
        assert _submit_form(client, limited).status_code == 403
        assert _upload_form(client, limited, 0).status_code == 403
    assert not RateLimitAttempt.objects.exists()


def test_uploading_is_limited_per_minute_across_the_api_and_the_form(limited):
    from brainmark.platform.uploads.models import DataPackage

    client = _client(limited, "owner")
    before = DataPackage.objects.count()
    assert _upload_api(client, limited, 1).status_code == 201
    assert _upload_form(client, limited, 2).status_code == 302
    refused = _upload_api(client, limited, 3)
    assert refused.status_code == 429
    assert "Too many uploads from your account: at most 2 in 1 minutes" in \
        refused.json()["detail"]
    page = _upload_form(client, limited, 4)
    assert page.status_code == 429
    assert "Too many uploads from your account" in page.content.decode()
    assert DataPackage.objects.count() == before + 2
    assert _upload_form(_client(limited, "other"), limited, 5).status_code == 302


# --- 6. User-written text stays text -----------------------------------------------------------

PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
PAYLOAD = "".join(PAYLOADS)
UNESCAPED = re.compile(r"<script>alert|<img src=x", re.IGNORECASE)


class _Injected(HTMLParser):
    """What a browser would run in a page: event-handler attributes, ``javascript:`` links,
    the payload's image and scripts calling alert. Escaped payload text ("onerror=" inside a
    title or a paragraph) is text, and is not counted."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip(
            ).lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("<img src=x>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert(" in data:
            self.found.append(f"<script>{data[:40]}")


def injected(html: str) -> list[str]:
    """Everything in ``html`` a hostile payload would make a browser run."""
    parser = _Injected()
    parser.feed(html)
    parser.close()
    return [match.group(0) for match in UNESCAPED.finditer(html)] + parser.found


@pytest.fixture
def hostile(world):
    """Every field a user or a plugin writes holds both payloads."""
    from django.contrib.auth import get_user_model

    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model, Score
    from brainmark.platform.submissions.models import Job, Submission
    from brainmark.platform.uploads.models import DataPackage

    ada = world["roles"]["owner"]
    get_user_model().objects.filter(pk=ada.pk).update(
        first_name=PAYLOAD, last_name=PAYLOAD, username=f"ada{PAYLOAD}",
        email=f"ada{PAYLOAD}@example.org")
    for identifier in ("alpha", "gamma"):
        Model.objects.filter(identifier=identifier).update(
            license=PAYLOAD[:100],
            metadata={"description": f"A *model* {PAYLOAD}", "architecture": PAYLOAD,
                      "layers": [PAYLOAD], "bibtex": f"@misc{{x, title={{{PAYLOAD}}}}}",
                      "reference_url": "javascript:alert(1)", "license_text": PAYLOAD,
                      "region_layer_map": {"V1": PAYLOAD}, PAYLOAD: PAYLOAD})
    BenchmarkVersion.objects.update(
        bibtex=f"@misc{{b, title={{{PAYLOAD}}}, url={{javascript:alert(1)}}}}",
        license=PAYLOAD[:100],
        metadata={"description": f"Docstring [link](javascript:alert(1)) {PAYLOAD}",
                  "reference_url": "javascript:alert(1)",
                  "metric": {"identifier": PAYLOAD, "description": PAYLOAD},
                  "ceiler": {"identifier": "c", "description": PAYLOAD},
                  "data": {"identifiers": [PAYLOAD], "region": PAYLOAD,
                           "license_text": PAYLOAD}})
    Score.objects.update(comment=PAYLOAD, layer_commitment={"V1": PAYLOAD},
                         record={"model": PAYLOAD, "comment": PAYLOAD})
    Submission.objects.update(log=PAYLOAD, source_url=f"https://example.org/{PAYLOAD}",
                              source_ref=PAYLOAD[:250],
                              problems=[{"file": PAYLOAD, "rule": PAYLOAD, "message": PAYLOAD}])
    Job.objects.update(failure_reason=PAYLOAD, log=PAYLOAD, output=PAYLOAD, worker=PAYLOAD)
    DataPackage.objects.update(details={"note": PAYLOAD}, key=f"uploads/1/x/{PAYLOAD}")
    world["roles"]["owner"].refresh_from_db()
    return world


def test_the_detector_finds_a_payload_shown_raw_and_passes_it_escaped():
    """The check below would catch a ``|safe`` on user text (and only that)."""
    from django.utils.html import escape

    for payload in PAYLOADS:
        assert injected(f"<p>{payload}</p>"), payload
        assert injected(f'<td title="{payload}">'), payload
        assert not injected(f"<p>{escape(payload)}</p><td title=\"{escape(payload)}\">")
    assert injected('<a href=" JavaScript:alert(1)">')


PAGES = [
    "/", "/?expanded=V1,IT", "/?q=alpha", "/models/alpha/", "/models/gamma/",
    "/benchmarks/b1/", "/benchmarks/V1/", "/benchmarks/b4/", "/compare/?a=alpha&b=gamma",
    "/leaderboard.json", "/leaderboard.csv", "/leaderboard.bib", "/api/leaderboard",
    "/api/models", "/api/models/gamma", "/api/benchmarks/b1", "/api/scores",
    "/models/gamma/scores/{score}.json", "/submissions/", "/submissions/{submission}/",
    "/api/submissions/{submission}", "/submissions/queue/", "/uploads/",
    "/uploads/{package}/", "/api/uploads/", "/accounts/profile/", "/guides/",
    "/admin/submissions/submission/{submission}/change/", "/admin/submissions/job/",
]


@pytest.mark.parametrize("url", PAGES)
def test_user_written_text_is_escaped_everywhere_it_is_shown(hostile, url):
    from brainmark.platform.leaderboard import snapshots

    snapshots.forget()
    role = "owner" if not url.startswith(("/submissions/queue", "/admin")) else "staff"
    if url.startswith("/uploads/") or url in ("/api/uploads/", "/accounts/profile/"):
        role = "owner"
    response = _client(hostile, role).get(_format(url, hostile))
    assert response.status_code == 200, (url, response.status_code)
    body = response.content.decode()
    kind = response["Content-Type"]
    if kind.startswith("text/html"):
        assert PAYLOADS[0] not in body and PAYLOADS[1] not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # Shown, as text.
        found = injected(body)
        assert not found, f"{url} would run {found}"
    elif url.startswith("/api/") or url.endswith(".json"):
        assert kind.split(";")[0] == "application/json", kind
        json.loads(body)  # Whole JSON: the payload sits inside strings.
    else:  # CSV and BibTeX are downloads, never rendered as HTML.
        assert not kind.startswith("text/html"), kind
