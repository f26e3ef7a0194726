"""A git-webhook submission end to end, through the real pieces: a code host's signed push
to a live ``brainmark serve``, ``brainmark dispatcher`` testing, merging and scoring it, and
each status reported back to the code host's status API.

The repository is a real bare one on disk (fetched over ``file://``, which this site allows)
holding a model plugin scaffolded by ``brainmark new model``; the push is GitHub's own
example payload pointed at it and signed anew; the code host's status API is a recording
HTTP server on loopback (``tests/platform/code_host.py``). One public benchmark keeps the
scoring short.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tests.platform.code_host import Repository, StatusServer, git, payload, signed
from tests.platform.live_site import Site, run, scores_of, started_site

# Runs its own processes on a SQLite home: no `db` marker, so .ci/run does not repeat it.
pytestmark = pytest.mark.slow

SECRET = "end-to-end-webhook-secret-0123456789"
TOKEN = "end-to-end-status-token"
WEBHOOK_ACCOUNT = "webhooks@example.org"
BENCHMARK = "Kriegeskorte2008.IT-rdm"
BRANCH = "scored-model"


@pytest.fixture(scope="module")
def status_server() -> Iterator[StatusServer]:
    server = StatusServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, read_server_address,
         status_server: StatusServer) -> Iterator[Site]:
    """A site taking signed webhooks as ``WEBHOOK_ACCOUNT``, fetching over https and
    file://, reporting commit statuses to the recording server with ``TOKEN``."""
    settings = {
        "BRAINMARK_WEBHOOK_SECRET": SECRET,
        "BRAINMARK_WEBHOOK_USER": WEBHOOK_ACCOUNT,
        "BRAINMARK_GIT_URL_SCHEMES": "https,file",
        "BRAINMARK_COMMIT_STATUS_URL":
            f"{status_server.base}/repos/{{repository}}/statuses/{{sha}}",
        "BRAINMARK_COMMIT_STATUS_TOKEN": TOKEN,
    }
    with started_site(tmp_path_factory.mktemp("git_home"), read_server_address,
                      WEBHOOK_ACCOUNT, settings) as site:
        yield site


def test_a_signed_push_is_tested_merged_scored_and_each_status_reported(
        site: Site, status_server: StatusServer, tmp_path: Path):
    repository = Repository.create(tmp_path / "repository")
    git("checkout", "--quiet", "-b", BRANCH, cwd=repository.work)
    (repository.plugin / "README.md").write_text("Submitted by a push to a branch.\n")
    commit = repository.commit("The model, on its branch")
    repository.push(BRANCH)
    content = payload("push-with-new-branch.payload.json")
    content["ref"] = f"refs/heads/{BRANCH}"
    content["after"] = commit
    content["repository"]["clone_url"] = repository.url
    full_name = content["repository"]["full_name"]
    body = json.dumps(content).encode()

    # Only one public benchmark while this test runs.
    site.query("UPDATE leaderboard_benchmarkversion SET public = 0 WHERE benchmark_type_id "
               "NOT IN (SELECT id FROM leaderboard_benchmarktype WHERE identifier = ?)",
               BENCHMARK)
    try:
        response = requests.post(
            f"{site.address}/api/webhooks/git", data=body, timeout=120,
            headers={"Content-Type": "application/json", "X-GitHub-Event": "push",
                     "X-GitHub-Delivery": str(uuid.uuid4()),
                     "X-Hub-Signature-256": signed(body, SECRET)})
        assert response.status_code == 201, response.text
        received = response.json()
        assert received["status"] == "validated", received
        site.dispatch_until_idle()
    finally:
        site.query("UPDATE leaderboard_benchmarkversion SET public = 1")

    submission = site.submission(received["id"])
    assert submission["status"] == "succeeded", submission["log"]
    [(source, url, ref, fetched, owner)] = site.query(
        "SELECT s.source, s.source_url, s.source_ref, s.source_commit, u.email FROM "
        "submissions_submission s JOIN auth_user u ON s.user_id = u.id WHERE s.id = ?",
        received["id"])
    assert (source, url, ref, fetched, owner) == (
        "git", repository.url, f"refs/heads/{BRANCH}", commit, WEBHOOK_ACCOUNT)
    # The model is scored on the one public benchmark.
    scores = scores_of(site, "git-net")
    assert list(scores) == [BENCHMARK]
    ceiled = scores[BENCHMARK][0]
    assert ceiled is not None and math.isfinite(ceiled)
    # The plugin store holds the commit's files, in one commit for this submission.
    store = site.home / "platform" / "plugins"
    log = run(["git", "-C", str(store), "log", "--format=%(trailers:key=Submission-Id,"
               "valueonly)"], site.env)
    assert log.split().count(str(received["id"])) == 1
    merged = (store / "models" / repository.plugin.name / "README.md").read_text()
    assert merged == "Submitted by a push to a branch.\n"

    # The code host heard of every status change: pending from the webhook's answer on,
    # success at the end, each for that commit, with the token and the submission's page.
    reports = status_server.received
    states = [report["body"]["state"] for report in reports]
    assert len(states) >= 2 and states[-1] == "success", states
    assert set(states[:-1]) == {"pending"}, states
    assert reports[0]["body"]["description"] == "Archive validated."
    assert reports[-1]["body"]["description"] == "Succeeded."
    page = f"{site.address}/submissions/{received['id']}/"
    for report in reports:
        assert report["path"] == f"/repos/{full_name}/statuses/{commit}"
        assert report["authorization"] == f"Bearer {TOKEN}"
        assert report["body"]["target_url"] == page
        assert report["body"]["context"] == "brainmark"
    assert "Could not report the commit status" not in submission["log"]
