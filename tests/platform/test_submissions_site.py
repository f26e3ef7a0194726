"""The submissions pages (``/submissions/``, ``/submissions/<id>/``) and API
(``/api/submissions/``) through Django's test client, on rows made here.

Owners and staff see a submission; anyone else gets a 404 (never a hint that it exists);
the anonymous are sent to log in (pages) or get a 401 (API). Jobs scoring another user's
private model show no name for it.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

pytestmark = pytest.mark.db

_TOKEN_NAMES = itertools.count()
LOG = "validating archive.zip\n<script>alert('x')</script>\ntests passed\n"


@pytest.fixture(autouse=True)
def fast_passwords(database):
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def _user(email: str, *, staff: bool = False):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        username=email, email=email, password="not used here", is_staff=staff
    )


def _client(user=None):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    if user is not None:
        client.force_login(user)
    return client


def _token(user) -> str:
    """A new API token of ``user`` (each with its own name: active names are unique)."""
    from brainmark.platform.accounts.models import ApiToken

    return ApiToken.objects.create_token(user, f"test {next(_TOKEN_NAMES)}")[1]


@pytest.fixture
def world():
    """Alice's model submission with three jobs (one on Bob's private model), Bob's own
    submission, a staff member, and a benchmark."""
    from django.utils import timezone

    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
    )
    from brainmark.platform.submissions.models import Job, Submission

    alice, bob, staff = _user("alice@example.org"), _user("bob@example.org"), _user(
        "staff@example.org", staff=True
    )
    older = Submission.objects.create(user=alice, kind="benchmark", status="rejected",
                                      log="no benchmark registered")
    submission = Submission.objects.create(user=alice, kind="model", status="scoring", log=LOG)
    Submission.objects.filter(pk=older.pk).update(
        created=submission.created - timedelta(days=1)
    )
    older.refresh_from_db()
    bobs = Submission.objects.create(user=bob, kind="model", status="succeeded", log="bob's")
    mine = Model.objects.create(identifier="alices-net", owner=alice, public=True)
    version = ModelVersion.objects.create(model=mine, version=2, plugin_sha1="a" * 40,
                                          visual_degrees=8, submission=submission)
    hidden = Model.objects.create(identifier="bobs-secret-net", owner=bob, public=False)
    hidden_version = ModelVersion.objects.create(model=hidden, version=1, plugin_sha1="b" * 40,
                                                 visual_degrees=8)
    kind = BenchmarkType.objects.create(identifier="Coggan2024.V1-rdm")
    benchmark = BenchmarkVersion.objects.create(benchmark_type=kind, version=1, ceiling=0.4,
                                                public=True)
    other_kind = BenchmarkType.objects.create(identifier="Kiani2007.IT-rdm")
    other = BenchmarkVersion.objects.create(benchmark_type=other_kind, version=3, ceiling=1,
                                            public=True)
    jobs = [
        Job.objects.create(submission=submission, model_version=version,
                           benchmark_version=benchmark, status="succeeded", attempts=1,
                           wall_seconds=12.34),
        Job.objects.create(submission=submission, model_version=version,
                           benchmark_version=other, status="running", attempts=2,
                           worker="gpu-7", failure_kind="transient",
                           failure_reason="worker 'gpu-3' stopped sending heartbeats",
                           lease_expires=timezone.now() + timedelta(minutes=5)),
        Job.objects.create(submission=submission, model_version=hidden_version,
                           benchmark_version=benchmark, status="queued"),
    ]
    return {"alice": alice, "bob": bob, "staff": staff, "submission": submission,
            "older": older, "bobs": bobs, "jobs": jobs}


def _rows(html: str, section: str) -> list[list[str]]:
    """The text of each body row's cells in the table of ``<section id=section>``."""
    body = re.search(rf'<section id="{section}">(.*?)</section>', html, re.DOTALL).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody")[1], re.DOTALL)
    return [
        [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
         for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in rows
    ]


def test_the_owner_sees_kind_status_times_log_jobs_and_the_models_it_brought(world):
    submission = world["submission"]
    response = _client(world["alice"]).get(f"/submissions/{submission.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Submission #{submission.pk}" in html
    assert "<dd>Model</dd>" in html and "Scoring" in html and "in progress" in html
    assert submission.created.strftime("%Y-%m-%d %H:%M:%S") in html
    assert submission.updated.strftime("%Y-%m-%d %H:%M:%S") in html
    # The log, whole and escaped, in a scrollable monospace block.
    log = re.search(r'<pre class="log"[^>]*>(.*?)</pre>', html, re.DOTALL).group(1)
    assert unescape(log) == LOG and "<script>" not in log
    assert _rows(html, "jobs") == [
        ["alices-net v2", "Coggan2024.V1-rdm v1", "Succeeded", "1", "", "", "12.3 s",
         world["jobs"][0].updated.strftime("%Y-%m-%d %H:%M:%S") + " UTC"],
        ["alices-net v2", "Kiani2007.IT-rdm v3", "Running", "2", "gpu-7",
         "Transient (worker lost): worker 'gpu-3' stopped sending heartbeats", "",
         world["jobs"][1].updated.strftime("%Y-%m-%d %H:%M:%S") + " UTC"],
        ["a private model", "Coggan2024.V1-rdm v1", "Queued", "0", "", "", "",
         world["jobs"][2].updated.strftime("%Y-%m-%d %H:%M:%S") + " UTC"],
    ]
    assert "bobs-secret-net" not in html
    assert 'href="/models/alices-net/"' in html
    models = re.search(r'<section id="models">(.*?)</section>', html, re.DOTALL).group(1)
    assert re.findall(r'href="([^"]+)"', models) == ["/models/alices-net/"]
    assert 'href="/benchmarks/Kiani2007.IT-rdm/"' in html
    # In progress: the page follows it through the API (with the page's session).
    assert f'data-api="/api/submissions/{submission.pk}"' in html
    assert re.search(r'<script src="/static/submissions/live\.js"', html)


def test_staff_see_any_submission_with_every_model_named(world):
    response = _client(world["staff"]).get(f"/submissions/{world['submission'].pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "bobs-secret-net" in html and "alice@example.org" in html


def test_others_get_a_404_and_the_anonymous_are_sent_to_log_in(world):
    path = f"/submissions/{world['submission'].pk}/"

    assert _client(world["bob"]).get(path).status_code == 404
    assert _client(world["bob"]).get("/submissions/999999/").status_code == 404
    anonymous = _client().get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/accounts/login/?next={path}"
    assert _client().get("/submissions/").status_code == 302


def test_a_finished_submission_without_jobs_says_so(world):
    response = _client(world["alice"]).get(f"/submissions/{world['older'].pk}/")

    html = response.content.decode()
    assert "Rejected" in html and "in progress" not in html
    assert "No scoring jobs." in html and "no benchmark registered" in html
    assert '<section id="models">' not in html
    assert "live.js" not in html and "data-api" not in html  # a final status stays


def test_the_list_shows_the_users_own_submissions_newest_first(world):
    html = _client(world["alice"]).get("/submissions/").content.decode()

    links = re.findall(r'href="/submissions/(\d+)/"', html)
    assert links == [str(world["submission"].pk), str(world["older"].pk)]
    assert "Scoring" in html and "Rejected" in html
    bob = _client(world["bob"]).get("/submissions/").content.decode()
    assert re.findall(r'href="/submissions/(\d+)/"', bob) == [str(world["bobs"].pk)]
    nobody = _client(_user("carol@example.org")).get("/submissions/").content.decode()
    assert "No submissions yet." in nobody


def test_the_api_lists_only_the_callers_submissions_by_token_or_session(world):
    token = _token(world["alice"])
    by_token = _client().get("/api/submissions/", HTTP_AUTHORIZATION=f"Bearer {token}")
    by_session = _client(world["alice"]).get("/api/submissions/")

    assert by_token.status_code == 200
    assert by_token.json() == by_session.json()
    submission, older = world["submission"], world["older"]
    assert [
        (item["id"], item["kind"], item["status"], item["final"]) for item in by_token.json()
    ] == [(submission.pk, "model", "scoring", False), (older.pk, "benchmark", "rejected", True)]
    for item, row in zip(by_token.json(), (submission, older), strict=True):
        for name in ("created", "updated"):  # JSON times carry milliseconds
            sent = datetime.fromisoformat(item[name].replace("Z", "+00:00"))
            assert abs(sent - getattr(row, name)) < timedelta(milliseconds=1)
    assert [s["id"] for s in _client(world["staff"]).get("/api/submissions/").json()] == []


def test_the_api_refuses_the_anonymous_and_bad_tokens(world):
    assert _client().get("/api/submissions/").status_code == 401
    path = f"/api/submissions/{world['submission'].pk}"
    assert _client().get(path).status_code == 401
    assert _client().get(path, HTTP_AUTHORIZATION="Bearer bm_not-a-token").status_code == 401


def test_the_api_gives_status_log_jobs_and_models_to_the_owner_only(world):
    from brainmark.platform.accounts.models import ApiToken

    submission, jobs = world["submission"], world["jobs"]
    path = f"/api/submissions/{submission.pk}"
    answer = _client().get(path, HTTP_AUTHORIZATION=f"Bearer {_token(world['alice'])}")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["id"], body["kind"], body["status"], body["status_display"], body["final"],
            body["log"]) == (submission.pk, "model", "scoring", "Scoring", False, LOG)
    assert [
        (job["id"], job["model"], job["model_version"], job["benchmark"],
         job["benchmark_version"], job["status"], job["status_display"], job["attempts"])
        for job in body["jobs"]
    ] == [
        (jobs[0].pk, "alices-net", 2, "Coggan2024.V1-rdm", 1, "succeeded", "Succeeded", 1),
        (jobs[1].pk, "alices-net", 2, "Kiani2007.IT-rdm", 3, "running", "Running", 2),
        (jobs[2].pk, None, 1, "Coggan2024.V1-rdm", 1, "queued", "Queued", 0),
    ]
    assert body["models"] == [{"identifier": "alices-net", "version": 2}]

    bob = _client().get(path, HTTP_AUTHORIZATION=f"Bearer {_token(world['bob'])}")
    assert bob.status_code == 404 and "alices-net" not in bob.content.decode()
    staff = _client().get(path, HTTP_AUTHORIZATION=f"Bearer {_token(world['staff'])}")
    assert staff.status_code == 200
    assert [job["model"] for job in staff.json()["jobs"]] == [
        "alices-net", "alices-net", "bobs-secret-net"
    ]
    # A revoked token is no longer the owner.
    token = _token(world["alice"])
    for row in ApiToken.objects.filter(user=world["alice"]):
        row.revoke()
    assert _client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


@pytest.mark.parametrize("submission_id", ["0", "-1", str(2**63), str(10**30), "abc"])
def test_the_api_answers_ids_out_of_range_without_a_server_error(world, submission_id):
    response = _client(world["alice"]).get(f"/api/submissions/{submission_id}")

    assert response.status_code in (404, 422)


# --- the submit form ------------------------------------------------------------------------


def _model_zip(tmp_path):
    from tests.platform.test_intake import model_zip

    return model_zip(tmp_path)


def test_the_form_shows_the_quota_and_a_zip_becomes_a_submission(world, tmp_path):
    from brainmark.platform.submissions.models import Submission

    alice = world["alice"]
    client = _client(alice)
    # Alice's one counted submission (the scoring one; the rejected one does not count).
    form = client.get("/submissions/new/").content.decode()
    assert re.search(r"<strong>4</strong> submissions left today", form)
    assert 'enctype="multipart/form-data"' in form and 'name="private"' in form
    listed = client.get("/submissions/").content.decode()
    assert re.search(r"<strong>4</strong> submissions left today", listed)
    assert 'href="/submissions/new/"' in listed

    path = _model_zip(tmp_path)
    with path.open("rb") as stream:
        response = client.post("/submissions/new/", {"file": stream, "private": "on"})

    newest = Submission.objects.filter(user=alice).order_by("-pk").first()
    assert response.status_code == 302
    assert response["Location"] == f"/submissions/{newest.pk}/"
    assert (newest.status, newest.kind, newest.private) == ("validated", "model", True)
    page = client.get(response["Location"]).content.decode()
    assert f"Received {path.name}: Archive validated." in page
    assert re.search(r"<strong>3</strong> submissions left today",
                     client.get("/submissions/new/").content.decode())


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("notes.txt", b"PK\x05\x06" + b"\0" * 18, "notes.txt is not a .zip"),
    ("fake.zip", b"just some text, no archive", "fake.zip is not a zip archive"),
])
def test_the_form_refuses_what_is_not_a_zip_and_stores_nothing(world, name, content, expected):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from brainmark.platform.submissions.models import Submission

    before = Submission.objects.count()
    response = _client(world["alice"]).post(
        "/submissions/new/", {"file": SimpleUploadedFile(name, content)})

    assert response.status_code == 400
    assert expected in unescape(response.content.decode())
    assert Submission.objects.count() == before


def test_the_form_over_the_quota_says_when_it_frees_up(world, tmp_path):
    from django.test import override_settings

    from brainmark.platform.submissions.models import Submission

    before = Submission.objects.count()
    path = _model_zip(tmp_path)
    with override_settings(BRAINMARK_SUBMISSIONS_PER_DAY=1), path.open("rb") as stream:
        response = _client(world["alice"]).post("/submissions/new/", {"file": stream})

    frees_at = world["submission"].created + timedelta(hours=24)
    html = unescape(response.content.decode())
    assert response.status_code == 429
    assert "Submission quota reached" in html
    assert f"frees up at {frees_at.strftime('%Y-%m-%d %H:%M')} UTC" in html
    assert Submission.objects.count() == before


def test_the_anonymous_are_sent_to_log_in_from_the_form():
    response = _client().get("/submissions/new/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/submissions/new/"


# --- stages, problems, reasons, scores ------------------------------------------------------


def _stages(html: str) -> list[tuple[str, str, str]]:
    """(status, label, time text) of each stage on the page."""
    items = re.findall(r'<li class="stage([^"]*)" data-status="([^"]+)">(.*?)</li>', html,
                       re.DOTALL)
    return [
        (status,
         unescape(re.search(r'stage-label">(.*?)</span>', body).group(1)),
         unescape(re.search(r'stage-time muted">(.*?)</span>', body).group(1)))
        for _classes, status, body in items
    ]


def test_stages_show_their_times_and_those_ahead_while_scoring(world):
    from brainmark.platform.submissions.models import Submission

    submission = world["submission"]
    validated = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    scoring = datetime(2030, 1, 2, 4, 0, 0, tzinfo=UTC)
    Submission.objects.filter(pk=submission.pk).update(stages={
        "validated": validated.isoformat(), "scoring": scoring.isoformat()})
    html = _client(world["alice"]).get(f"/submissions/{submission.pk}/").content.decode()

    # One of the three jobs succeeded: 1 of 3 finished.
    assert _stages(html) == [
        ("received", "Received", submission.created.strftime("%Y-%m-%d %H:%M:%S") + " UTC"),
        ("validated", "Archive validated", "2030-01-02 03:04:05 UTC"),
        ("tested", "Plugin tests passed", ""),  # passed, its time not recorded
        ("merged", "Plugins merged", ""),
        ("scoring", "Scoring: 1 of 3 jobs finished", "2030-01-02 04:00:00 UTC"),
        ("succeeded", "Succeeded", "not yet"),
    ]
    body = _client(world["alice"]).get(f"/api/submissions/{submission.pk}").json()
    assert body["progress"] == {"finished": 1, "total": 3}
    assert [(s["status"], s["reached"], s["current"]) for s in body["stages"]] == [
        ("received", True, False), ("validated", True, False), ("tested", True, False),
        ("merged", True, False), ("scoring", True, True), ("succeeded", False, False)]
    assert body["stages"][1]["time"].startswith("2030-01-02T03:04:05")


def test_a_rejected_submission_shows_each_problem(world):
    from brainmark.platform.submissions.models import Submission

    problems = [
        {"file": "models/net/metadata.yml", "rule": "plugin layout",
         "message": "every plugin folder needs metadata.yml; it is missing."},
        {"file": "models/net/__init__.py", "rule": "identifier ownership",
         "message": "<b>net</b> belongs to another user; choose another name."},
    ]
    Submission.objects.filter(pk=world["older"].pk).update(problems=problems)
    html = _client(world["alice"]).get(f"/submissions/{world['older'].pk}/").content.decode()

    assert _rows(html, "problems") == [[p["file"], p["rule"], p["message"]] for p in problems]
    assert "<b>net</b>" not in html  # escaped
    assert [status for status, _, _ in _stages(html)] == ["received", "rejected"]
    body = _client(world["alice"]).get(f"/api/submissions/{world['older'].pk}").json()
    assert body["problems"] == problems and body["failure_reasons"] == []


def test_a_failed_submission_always_says_why(world):
    from brainmark.platform.submissions.models import Job, Submission

    submission = world["submission"]
    Submission.objects.filter(pk=submission.pk).update(status="failed")
    Job.objects.filter(pk=world["jobs"][1].pk).update(
        status="failed", lease_expires=None, failure_kind="deterministic",
        failure_reason="ValueError: layer 'fc9' does not exist")
    html = _client(world["alice"]).get(f"/submissions/{submission.pk}/").content.decode()

    reasons = re.search(r'<section id="failure">(.*?)</section>', html, re.DOTALL).group(1)
    assert [unescape(r) for r in re.findall(r"<li>(.*?)</li>", reasons)] == [
        "alices-net on Kiani2007.IT-rdm: ValueError: layer 'fc9' does not exist"]
    assert "live.js" not in html

    # Without a failed job, the log's last lines say why.
    Job.objects.filter(pk=world["jobs"][1].pk).update(status="succeeded", failure_kind="",
                                                     failure_reason="")
    body = _client(world["alice"]).get(f"/api/submissions/{submission.pk}").json()
    assert body["failure_reasons"] == [line for line in LOG.splitlines() if line]


def test_scores_of_the_models_it_brought_and_of_the_benchmarks_it_registers(world):
    from brainmark.platform.leaderboard.models import (
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )
    from brainmark.platform.submissions.models import Submission

    submission, jobs = world["submission"], world["jobs"]
    Score.objects.create(model_version=jobs[0].model_version,
                         benchmark_version=jobs[0].benchmark_version, ceiled=0.61234,
                         raw=0.5, error=0.01)
    Score.objects.create(model_version=jobs[2].model_version,  # Bob's private model
                         benchmark_version=jobs[2].benchmark_version, ceiled=0.3,
                         comment="secret layer names")
    path = f"/submissions/{submission.pk}/"
    assert _rows(_client(world["alice"]).get(path).content.decode(), "scores") == [
        ["alices-net v2", "Coggan2024.V1-rdm v1", "0.612", "0.500", "0.010", ""]]

    # Bob's benchmark submission registers Kiani2007.IT-rdm: every score on its versions.
    kiani = BenchmarkVersion.objects.get(benchmark_type__identifier="Kiani2007.IT-rdm")
    carols = Model.objects.create(identifier="carols-net", public=True)
    carols_version = ModelVersion.objects.create(model=carols, version=1, plugin_sha1="c" * 40,
                                                 visual_degrees=8)
    Score.objects.create(model_version=carols_version, benchmark_version=kiani, ceiled=None,
                         comment="failed: out of memory")
    Submission.objects.filter(pk=world["bobs"].pk).update(
        identifiers=[["benchmark_registry", "Kiani2007.IT-rdm"]])
    bob = _client(world["bob"]).get(f"/api/submissions/{world['bobs'].pk}").json()
    assert bob["identifiers"] == [["benchmark_registry", "Kiani2007.IT-rdm"]]
    assert bob["scores"] == [{
        "model": "carols-net", "model_version": 1, "benchmark": "Kiani2007.IT-rdm",
        "benchmark_version": 3, "ceiled": None, "raw": None, "error": None,
        "comment": "failed: out of memory"}]


def test_the_api_gives_each_jobs_worker_failure_wall_time_and_log(world):
    from brainmark.platform.submissions.models import Job

    Job.objects.filter(pk=world["jobs"][2].pk).update(log="queued -> running on w\n")
    body = _client(world["alice"]).get(f"/api/submissions/{world['submission'].pk}").json()

    first, running, hidden = body["jobs"]
    assert (first["wall_seconds"], first["worker"], first["failure_kind"]) == (12.34, "", "")
    assert (running["worker"], running["failure_kind"], running["failure_kind_display"],
            running["failure_reason"]) == (
        "gpu-7", "transient", "Transient (worker lost)",
        "worker 'gpu-3' stopped sending heartbeats")
    # Another user's private model: no name, and neither its reason nor its log.
    assert (hidden["model"], hidden["log"], hidden["failure_reason"]) == (None, "", "")


def test_a_succeeded_submission_passed_every_stage_a_failed_one_only_those_recorded(world):
    from brainmark.platform.submissions.models import Submission

    bobs = world["bobs"]  # succeeded, no stage times recorded
    html = _client(world["bob"]).get(f"/submissions/{bobs.pk}/").content.decode()
    assert [status for status, _, _ in _stages(html)] == [
        "received", "validated", "tested", "merged", "scoring", "succeeded"]

    Submission.objects.filter(pk=bobs.pk).update(
        status="failed", stages={"tested": "2030-01-01T00:00:00+00:00"})
    html = _client(world["bob"]).get(f"/submissions/{bobs.pk}/").content.decode()
    assert [status for status, _, _ in _stages(html)] == ["received", "tested", "failed"]
