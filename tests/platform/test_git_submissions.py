"""Submissions from git: the API call, the signed webhook, and the commit status reported back.

Every test fetches from a real bare repository made with git in the test's folder (holding a
model plugin scaffolded by ``brainmark new model`` plus its metadata.yml), over ``file://``,
which the tests allow through the ``git_url_schemes`` setting. Webhook bodies are the real
GitHub payloads of ``tests/data/code-host-webhooks`` with their clone URL and commit pointed
at that repository, signed anew. Commit statuses go to a small HTTP server on loopback that
records what it receives. The repository, the payloads and the server are
``tests/platform/code_host.py``'s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.platform.code_host import Repository, StatusServer, git, payload, signed

pytestmark = pytest.mark.db

SECRET = "webhook-secret-for-tests-0123456789"
TOKEN = "status-token-for-tests"
SITE = "https://brainmark.example.org"


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    return Repository.create(tmp_path_factory.mktemp("git-template") / "repository")


@pytest.fixture
def repository(template: Repository, tmp_path: Path) -> Repository:
    return template.copy(tmp_path / "repository")


# --- the site ---------------------------------------------------------------------------------


@pytest.fixture
def status_server() -> Iterator[StatusServer]:
    server = StatusServer()
    yield server
    server.close()


@pytest.fixture
def webhook_user(database: None):
    from django.contrib.auth import get_user_model

    email = "webhooks@example.org"
    return get_user_model().objects.create_user(email, email)


@pytest.fixture
def site(tmp_path: Path, database: None, status_server: StatusServer,
         webhook_user) -> Iterator[Path]:
    """The settings of a site taking git submissions: its own home and LocalStore, file://
    allowed, a webhook secret and account, commit statuses to the loopback server."""
    from django.test import override_settings as django_settings

    from brainmark.settings import override_settings

    home = tmp_path / "home"
    home.mkdir()
    with override_settings(
        home=home, store=(tmp_path / "object-store").as_uri(),
        git_url_schemes=("https", "file"), webhook_secret=SECRET,
        webhook_user=webhook_user.email, site_url=SITE, commit_status_token=TOKEN,
        commit_status_url=f"{status_server.base}/repos/{{repository}}/statuses/{{sha}}",
    ), django_settings(ALLOWED_HOSTS=["testserver"]):
        yield home


@pytest.fixture
def user(database: None):
    from django.contrib.auth import get_user_model

    # No password: hashing one costs most of a test's time, and tokens need none.
    return get_user_model().objects.create_user("ada@example.org", "ada@example.org")


@pytest.fixture
def api(user):
    from django.test import Client

    from brainmark.platform.accounts.models import ApiToken

    _, clear = ApiToken.objects.create_token(user, "git test")
    return Client(headers={"Authorization": f"Bearer {clear}"})


def submit_git(api, **body):
    return api.post("/api/submissions/git", body, content_type="application/json")


def stored_zips(site: Path) -> list[Path]:
    folder = site.parent / "object-store" / "submissions"
    return sorted(folder.rglob("*.zip")) if folder.exists() else []


# --- the API ----------------------------------------------------------------------------------


def test_a_branch_is_fetched_zipped_and_validated_with_its_source(api, user, site,
                                                                  repository, status_server):
    from brainmark.data.store import open_store
    from brainmark.platform.submissions.models import Submission

    response = submit_git(api, url=repository.url, ref="main")

    assert response.status_code == 201, response.content
    body = response.json()
    row = Submission.objects.get(pk=body["id"])
    assert (body["status"], row.status, row.kind) == ("validated", "validated", "model")
    assert (row.source, row.source_url, row.source_ref) == ("git", repository.url, "main")
    assert row.source_commit == repository.head
    assert row.user == user and body["url"] == f"/submissions/{row.pk}/"
    assert "git-net" in row.log
    # The stored zip holds exactly the plugin folder's files at that commit (no README).
    store = open_store((site.parent / "object-store").as_uri())
    fetched = store.download(row.archive_key, site.parent / "fetched.zip",
                             version_id=row.archive_version_id)
    assert hashlib.sha1(fetched.read_bytes()).hexdigest() == row.archive_sha1
    with zipfile.ZipFile(fetched) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == \
            repository.plugin_files(repository.head)
    assert status_server.received == []  # No commit_status_url given: nothing reported.
    # Nothing of the fetch is left in the work folder.
    assert list((site / "platform" / "work").iterdir()) == []


def test_the_same_commit_gives_the_same_zip_by_branch_tag_or_sha(site, repository, tmp_path):
    from brainmark.platform.submissions.git_source import archive_from_git

    first = repository.head
    git("tag", "-a", "v1", "-m", "first release", cwd=repository.work)
    (repository.plugin / "model.py").write_text(
        (repository.plugin / "model.py").read_text() + "\n# a second commit\n")
    second = repository.commit("Second")
    repository.push("main", "v1")

    zips = {ref: tmp_path / f"{index}.zip" for index, ref in enumerate(["main", "v1", first])}
    commits = {ref: archive_from_git(repository.url, ref, path) for ref, path in zips.items()}

    assert commits == {"main": second, "v1": first, first: first}
    digest = {ref: hashlib.sha1(path.read_bytes()).hexdigest() for ref, path in zips.items()}
    assert digest["v1"] == digest[first] != digest["main"]
    with zipfile.ZipFile(zips["main"]) as archive:
        assert archive.read(f"models/{repository.plugin.name}/model.py").endswith(
            b"# a second commit\n")


@pytest.mark.parametrize(("url", "ref", "words"), [
    ("https://user:hunter2@github.com/owner/name.git", "main", "holds credentials"),
    ("https://ghp_token@github.com/owner/name.git", "main", "holds credentials"),
    ("ssh://github.com/owner/name.git", "main", "uses the scheme 'ssh'"),
    ("ext::sh", "main", "remote helper"),
    ("/srv/repositories/name.git", "main", "is not a URL"),
    ("{repository}", "--upload-pack=touch /tmp/owned", "starts with '-'"),
    ("{repository}", "main..other", "is not a branch, tag or commit name"),
    ("{repository}", "no-such-branch", "Could not fetch 'no-such-branch'"),
])
def test_a_refused_url_or_ref_is_400_naming_why_and_stores_nothing(api, site, repository,
                                                                   url, ref, words):
    from brainmark.platform.submissions.models import Submission

    response = submit_git(api, url=url.format(repository=repository.url), ref=ref)

    assert response.status_code == 400, response.content
    assert words in response.json()["detail"]
    assert "hunter2" not in response.json()["detail"]
    assert not Submission.objects.exists() and stored_zips(site) == []


def test_file_urls_are_refused_unless_the_setting_allows_them(api, site, repository):
    from brainmark.settings import Settings, override_settings

    assert Settings().git_url_schemes == ("https",)
    with override_settings(git_url_schemes=("https",)):
        response = submit_git(api, url=repository.url, ref="main")
    assert response.status_code == 400
    assert "uses the scheme 'file'" in response.json()["detail"]


def test_no_token_is_401(site, repository):
    from django.test import Client

    response = Client().post("/api/submissions/git", {"url": repository.url, "ref": "main"},
                             content_type="application/json")
    assert response.status_code == 401


def test_a_link_in_a_plugin_folder_is_refused(api, site, repository):
    (repository.plugin / "secrets.txt").symlink_to("/etc/passwd")
    repository.commit("A link")
    repository.push()

    response = submit_git(api, url=repository.url, ref="main")

    assert response.status_code == 400
    assert "secrets.txt" in response.json()["detail"]
    assert "symbolic link" in response.json()["detail"]


def test_a_commit_over_the_limits_is_413_before_anything_is_stored(site, repository,
                                                                   webhook_user):
    from brainmark.pipeline.archive import ArchiveLimits
    from brainmark.platform.submissions.git_source import receive_git_submission
    from brainmark.platform.submissions.intake import IntakeError
    from brainmark.platform.submissions.models import Submission

    # Random bytes do not compress: the fetch itself passes the cap.
    (repository.work / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    repository.commit("Weights beside the plugin")
    repository.push()
    limits = ArchiveLimits(max_total_bytes=2 * 1024 * 1024, ratio_floor_bytes=1024 * 1024)
    with pytest.raises(IntakeError, match="passed 2,097,152 bytes") as refused:
        receive_git_submission(webhook_user, repository.url, "main", limits=limits)
    assert refused.value.status == 413

    (repository.plugin / "big.bin").write_bytes(b"x" * 5000)
    repository.commit("A big file in the plugin")
    repository.push()
    small = ArchiveLimits(max_file_bytes=4096, max_total_bytes=10 * 1024 * 1024)
    with pytest.raises(IntakeError, match=r"big\.bin is 5,000 bytes") as refused:
        receive_git_submission(webhook_user, repository.url, "main", limits=small)
    assert refused.value.status == 413
    assert not Submission.objects.exists() and stored_zips(site) == []


def test_a_status_url_off_the_reporting_host_is_refused(api, site, repository):
    response = submit_git(api, url=repository.url, ref="main",
                          commit_status_url="https://attacker.example/collect")
    assert response.status_code == 400
    assert "commit_status_url" in response.json()["detail"]


def test_an_invalid_plugin_is_rejected_and_reported_as_failure(api, site, tmp_path, template,
                                                              status_server):
    from brainmark.platform.submissions.models import Submission

    broken = template.copy(tmp_path / "broken")
    (broken.plugin / "metadata.yml").unlink()
    broken.commit("No metadata")
    broken.push()
    address = f"{status_server.base}/repos/ada/broken/statuses/{broken.head}"

    response = submit_git(api, url=broken.url, ref="main", commit_status_url=address)

    assert response.status_code == 201, response.content
    row = Submission.objects.get(pk=response.json()["id"])
    assert row.status == "rejected" and row.commit_status_url == address
    assert any(problem["file"].endswith("metadata.yml") for problem in row.problems)
    [report] = status_server.received
    assert report["path"] == f"/repos/ada/broken/statuses/{broken.head}"
    assert report["authorization"] == f"Bearer {TOKEN}"
    assert report["body"]["state"] == "failure"
    assert report["body"]["context"] == "brainmark"
    assert report["body"]["target_url"] == f"{SITE}/submissions/{row.pk}/"
    assert report["body"]["description"].startswith("Rejected, ")
    assert len(report["body"]["description"]) <= 140


# --- the webhook ------------------------------------------------------------------------------


def deliver(event: str, content: dict, *, delivery: str | None = None,
            signature: str | None = None, headers: dict | None = None):
    from django.test import Client

    body = json.dumps(content).encode()
    sent = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": signature or signed(body, SECRET)}
    sent.update(headers or {})
    sent = {name: value for name, value in sent.items() if value is not None}
    return Client().post("/api/webhooks/git", body, content_type="application/json",
                         headers=sent)


def push_to(repository: Repository) -> dict:
    content = payload("push-with-new-branch.payload.json")
    content["repository"]["clone_url"] = repository.url
    content["after"] = repository.head
    content["ref"] = "refs/heads/main"
    return content


def test_a_signed_push_submits_the_commit_as_the_webhook_account(site, repository,
                                                                 webhook_user, status_server):
    from brainmark.platform.submissions.models import Submission, WebhookDelivery

    content = push_to(repository)
    delivery = str(uuid.uuid4())

    response = deliver("push", content, delivery=delivery)

    assert response.status_code == 201, response.content
    row = Submission.objects.get(pk=response.json()["id"])
    assert row.user == webhook_user and row.status == "validated"
    assert (row.source, row.source_url, row.source_ref, row.source_commit) == (
        "git", repository.url, "refs/heads/main", repository.head)
    full_name = content["repository"]["full_name"]
    assert full_name == "Codertocat/Hello-World"
    path = f"/repos/{full_name}/statuses/{repository.head}"
    assert row.commit_status_url == status_server.base + path
    [report] = status_server.received
    assert report["path"] == path
    assert report["authorization"] == f"Bearer {TOKEN}"
    assert report["content_type"] == "application/json"
    assert report["body"] == {"state": "pending", "description": "Archive validated.",
                              "target_url": f"{SITE}/submissions/{row.pk}/",
                              "context": "brainmark"}
    assert WebhookDelivery.objects.get(delivery_id=delivery).submission == row

    # The same delivery again is a replay: refused, and nothing starts.
    replay = deliver("push", content, delivery=delivery)
    assert replay.status_code == 409
    assert "received before" in replay.json()["detail"]
    assert Submission.objects.count() == 1 and len(status_server.received) == 1
    # The delivery id is not signed: the same signed body under a new id is a replay too.
    forged = deliver("push", content, delivery=str(uuid.uuid4()))
    assert forged.status_code == 409
    assert Submission.objects.count() == 1 and len(status_server.received) == 1


def test_the_pushed_commit_is_submitted_even_when_the_branch_moved_on(site, repository):
    from brainmark.platform.submissions.models import Submission

    content = push_to(repository)
    pushed = repository.head
    (repository.plugin / "model.py").write_text("# later\n")
    repository.commit("Later")
    repository.push()

    response = deliver("push", content)

    assert response.status_code == 201, response.content
    assert Submission.objects.get(pk=response.json()["id"]).source_commit == pushed


@pytest.mark.parametrize(("signature", "status", "words"), [
    (None, 401, "not signed"),
    ("sha256=" + "0" * 64, 403, "does not match"),
    ("wrong-secret", 403, "does not match"),
])
def test_a_missing_or_wrong_signature_stores_nothing(site, repository, signature, status,
                                                      words):
    from brainmark.platform.submissions.models import Submission, WebhookDelivery

    content = push_to(repository)
    if signature == "wrong-secret":
        signature = signed(json.dumps(content).encode(), "another-secret-of-some-length")
    headers = {"X-Hub-Signature-256": None} if signature is None else {}

    response = deliver("push", content, signature=signature, headers=headers)

    assert response.status_code == status
    assert words in response.json()["detail"]
    assert not Submission.objects.exists() and not WebhookDelivery.objects.exists()
    assert stored_zips(site) == []


def test_a_gitea_signature_is_accepted(site, repository):
    content = push_to(repository)
    body = json.dumps(content).encode()
    gitea = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    response = deliver("push", content, headers={
        "X-Hub-Signature-256": None, "X-Gitea-Signature": gitea,
        "X-GitHub-Event": None, "X-Gitea-Event": "push",
        "X-GitHub-Delivery": None, "X-Gitea-Delivery": str(uuid.uuid4())})

    assert response.status_code == 201, response.content


def test_a_delivery_without_an_id_is_refused(site, repository):
    from brainmark.platform.submissions.models import Submission

    response = deliver("push", push_to(repository), headers={"X-GitHub-Delivery": None})

    assert response.status_code == 400
    assert "no usable id" in response.json()["detail"]
    assert not Submission.objects.exists()


def test_ping_deletions_and_other_events_submit_nothing(site, status_server):
    from brainmark.platform.submissions.models import Submission

    ping = deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert ping.status_code == 200 and "pong" in ping.json()["detail"]

    deleted = payload("push-payload.json")  # a deleted tag: after is all zeros
    answer = deliver("push", deleted)
    assert answer.status_code == 202
    assert answer.json()["detail"] == (
        "refs/tags/simple-tag was deleted; there is nothing to submit.")

    other = deliver("issues", {"action": "opened"})
    assert other.status_code == 202 and "'issues' is not handled" in other.json()["detail"]
    assert not Submission.objects.exists() and status_server.received == []


def test_a_webhook_is_404_without_a_secret_or_an_account(site, repository):
    from brainmark.settings import override_settings

    with override_settings(webhook_secret=""):
        response = deliver("push", push_to(repository))
    assert response.status_code == 404
    assert "BRAINMARK_WEBHOOK_SECRET" in response.json()["detail"]
    with override_settings(webhook_user="nobody@example.org"):
        response = deliver("push", push_to(repository))
    assert response.status_code == 404
    assert "BRAINMARK_WEBHOOK_USER" in response.json()["detail"]


def test_an_opened_pull_request_is_submitted_and_a_closed_one_ignored(site, repository,
                                                                      status_server):
    from brainmark.platform.submissions.models import Submission

    opened = payload("pull_request-opened.payload.json")
    head = opened["pull_request"]["head"]
    head["repo"]["clone_url"] = repository.url
    head["sha"] = repository.head

    response = deliver("pull_request", opened)

    assert response.status_code == 201, response.content
    row = Submission.objects.get(pk=response.json()["id"])
    assert (row.source_ref, row.source_commit) == (head["ref"], repository.head)
    assert head["ref"] == "changes"
    # Reported on the base repository, where the pull request shows it.
    [report] = status_server.received
    assert report["path"] == (f"/repos/{opened['repository']['full_name']}/statuses/"
                              f"{repository.head}")

    closed = payload("pull_request-closed.payload.json")
    answer = deliver("pull_request", closed)
    assert answer.status_code == 202
    assert "'closed' brings no new code" in answer.json()["detail"]
    assert Submission.objects.count() == 1


def test_a_payload_missing_a_field_is_400_naming_it(site):
    content = payload("push-with-new-branch.payload.json")
    del content["repository"]["clone_url"]
    content["ref"] = "refs/heads/main"
    content["after"] = "a" * 40

    response = deliver("push", content)

    assert response.status_code == 400
    assert "repository.clone_url" in response.json()["detail"]


# --- reporting back ---------------------------------------------------------------------------


def test_each_status_is_reported_with_its_state(site, repository, status_server, webhook_user):
    from brainmark.platform.submissions.git_source import (
        commit_state,
        receive_git_submission,
        report_commit_status,
    )
    from brainmark.platform.submissions.models import SubmissionStatus

    expected = {"succeeded": "success", "failed": "failure", "rejected": "failure"}
    assert {status: commit_state(status) for status in SubmissionStatus.values} == {
        status: expected.get(status, "pending") for status in SubmissionStatus.values}

    address = f"{status_server.base}/repos/o/r/statuses/{repository.head}"
    submission = receive_git_submission(webhook_user, repository.url, "main",
                                        commit_status_url=address)
    submission.status = SubmissionStatus.SUCCEEDED
    report_commit_status(submission)
    submission.status = SubmissionStatus.FAILED
    report_commit_status(submission)
    assert [report["body"]["state"] for report in status_server.received] == [
        "pending", "success", "failure"]
    assert [report["body"]["description"] for report in status_server.received] == [
        "Archive validated.", "Succeeded.", "Failed."]


def test_a_status_that_cannot_be_delivered_is_logged_never_raised(site, repository,
                                                                  webhook_user, caplog):
    from brainmark.platform.submissions.git_source import receive_git_submission
    from brainmark.settings import override_settings

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with override_settings(commit_status_url=f"http://127.0.0.1:{port}/s/{{sha}}"):
        submission = receive_git_submission(
            webhook_user, repository.url, "main",
            commit_status_url=f"http://127.0.0.1:{port}/s/{repository.head}")
    assert submission.status == "validated"
    submission.refresh_from_db()
    assert "Could not report the commit status 'pending'" in submission.log
    assert submission.log.startswith("Received ")  # appended to the lines before it
    assert any("reporting commit status" in record.message for record in caplog.records)
    assert TOKEN not in caplog.text


def test_the_token_goes_only_to_the_reporting_host(site, status_server, webhook_user,
                                                    repository):
    from brainmark.platform.submissions.git_source import report_commit_status
    from brainmark.platform.submissions.models import Submission

    submission = Submission.objects.create(
        user=webhook_user, kind="model", status="validated",
        commit_status_url=f"http://localhost:{status_server.server.server_port}/x")
    report_commit_status(submission)
    [report] = status_server.received
    assert report["authorization"] is None


def test_git_settings_are_validated():
    from brainmark.exceptions import SettingsError
    from brainmark.settings import Settings

    settings = Settings.from_environ({
        "BRAINMARK_GIT_URL_SCHEMES": "https, FILE",
        "BRAINMARK_WEBHOOK_SECRET": "s" * 32, "BRAINMARK_COMMIT_STATUS_TOKEN": "t-hunter2",
    })
    assert settings.git_url_schemes == ("https", "file")
    assert "s" * 32 not in repr(settings) and "hunter2" not in repr(settings)
    with pytest.raises(SettingsError, match=r"git_url_schemes.*'ext'"):
        Settings.from_environ({"BRAINMARK_GIT_URL_SCHEMES": "https,ext"})
    with pytest.raises(SettingsError, match=r"webhook_secret.*at least 16"):
        Settings.from_environ({"BRAINMARK_WEBHOOK_SECRET": "short"})
    with pytest.raises(SettingsError, match="commit_status_url"):
        Settings.from_environ({"BRAINMARK_COMMIT_STATUS_URL": "https://h/{owner}/{sha}"})


def test_a_body_over_django_s_memory_limit_is_413(site):
    from django.test import Client

    body = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    response = Client().post("/api/webhooks/git", body, content_type="application/json",
                             headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1",
                                      "X-Hub-Signature-256": signed(body, SECRET)})
    assert response.status_code == 413
    assert "bytes this site reads" in response.json()["detail"]
