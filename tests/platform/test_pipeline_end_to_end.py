"""Submissions end to end, through the real pieces: ``brainmark serve`` answering the API,
``brainmark dispatcher`` processes with the local executor, the bubblewrap sandbox, the git
plugin store and the outbox.

One site for the module, on a SQLite home where ``brainmark sync`` put the built-in plugins.
Submitted plugins are the scaffolds ``brainmark new`` writes (small and fast), zipped as a
submitter would. The tests run in order and build on each other's rows: a model scored on
every built-in benchmark, a plugin whose test fails, a benchmark that triggers scoring of
every public model, and a dispatcher killed mid-job.
"""

from __future__ import annotations

import json
import math
import os
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from tests.platform.live_site import (
    BRAINMARK,
    DISPATCH_TIMEOUT_S,
    Site,
    clean_environment,
    run,
    scores_of,
    started_site,
    wait_until,
)

# Runs its own processes on a SQLite home: no `db` marker, so .ci/run does not repeat it.
pytestmark = pytest.mark.slow

MODEL_METADATA = {"architecture": "CNN", "parameters": 2000, "training_data": "none",
                  "license": "MIT", "reference": "https://example.org/paper"}
BENCHMARK_METADATA = {"region": "IT", "species": "macaque", "task": "passive viewing",
                      "stimuli": "objects", "license": "MIT",
                      "reference": "https://example.org/paper"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, read_server_address) -> Iterator[Site]:
    with started_site(tmp_path_factory.mktemp("pipeline_home"), read_server_address,
                      "submitter@example.org") as site:
        yield site


def plugin_zip(folder: Path, name: str, kind: str, *, test_source: str | None = None) -> Path:
    """A scaffolded plugin (``brainmark new model|benchmark NAME``) with its metadata.yml,
    zipped as ``<type>/<folder>/...``; ``test_source`` replaces its test.py."""
    from brainmark._scaffold import new_benchmark, new_model

    source = folder / f"source-{name}"
    scaffold = (new_model if kind == "model" else new_benchmark)(name, source)
    metadata = MODEL_METADATA if kind == "model" else BENCHMARK_METADATA
    (scaffold.folder / "metadata.yml").write_text(yaml.safe_dump(metadata))
    if test_source is not None:
        (scaffold.folder / "test.py").write_text(test_source)
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(source.rglob("*")):
            archive.write(file, file.relative_to(source).as_posix())
    return path


def built_in_benchmarks(site: Site) -> list[str]:
    return [name for (name,) in site.query(
        "SELECT DISTINCT t.identifier FROM leaderboard_benchmarktype t "
        "JOIN leaderboard_benchmarkversion v ON v.benchmark_type_id = t.id "
        "WHERE t.owner_id IS NULL ORDER BY t.identifier")]


def score_on_a_laptop(site: Site, model: str, benchmark: str, tmp_path: Path) -> dict:
    """``brainmark score --json`` in a home of its own, with the platform's plugin store (as
    it is now) as a plugin root: what a submitter gets on their machine."""
    home = tmp_path / "laptop-home"
    home.mkdir(exist_ok=True)
    env = {**clean_environment(home),
           "BRAINMARK_PLUGIN_PATH": str(site.home / "platform" / "plugins")}
    return json.loads(run([str(BRAINMARK), "score", model, benchmark, "--json"], env))


# --- (1) a model scored on every built-in benchmark -----------------------------------------


def test_a_model_zip_is_tested_merged_scored_on_every_built_in_benchmark_and_mailed(
        site: Site, tmp_path: Path):
    submitted = site.submit(plugin_zip(tmp_path, "e2e-net", "model"))
    assert submitted["status"] == "validated", submitted

    site.dispatch_until_idle("--slots", "2")

    submission = site.submission(submitted["id"])
    assert submission["status"] == "succeeded", submission["log"]
    assert '{"benchmarks": ' not in submission["log"]  # the facts are rows, not log lines
    reached = {stage["status"] for stage in submission["stages"] if stage["time"]}
    assert {"received", "validated", "testing", "tested", "merged", "scoring",
            "succeeded"} <= reached
    benchmarks = built_in_benchmarks(site)
    assert len(benchmarks) == 11
    scores = scores_of(site, "e2e-net")
    assert sorted(scores) == benchmarks
    assert all(ceiled is not None and math.isfinite(ceiled) for ceiled, _, _ in scores.values())
    [(attempts,)] = site.query("SELECT MAX(attempts) FROM submissions_job WHERE "
                               "submission_id = ?", submitted["id"])
    assert attempts == 1

    # The plugin store holds one commit for it, authored by the submitter.
    log = run(["git", "-C", str(site.home / "platform" / "plugins"), "log",
               "--format=%ae %s"], site.env)
    assert f"{site.email} Submission {submitted['id']}" in log

    # The number a job wrote is the number `brainmark score` gives (neural and behavioral).
    for benchmark in ("Kriegeskorte2008.IT-rdm", "Geirhos2021edge-error_consistency"):
        laptop = score_on_a_laptop(site, "e2e-net", benchmark, tmp_path)
        assert laptop["score"] == pytest.approx(scores[benchmark][0], abs=1e-9, rel=0)
        assert laptop["raw"] == pytest.approx(scores[benchmark][1], abs=1e-9, rel=0)

    # On the public leaderboard, and the submitter has the table by mail.
    board = requests.get(f"{site.address}/leaderboard.csv", timeout=60).text
    assert "e2e-net" in board
    [mail] = [m for m in site.mails_to(site.email) if "e2e-net" in m.as_string()
              and "scor" in m["Subject"].lower()]
    text = mail.get_body(("plain",)).get_content()
    assert f"{site.address}/submissions/{submitted['id']}/" in text
    assert f"{scores['Kriegeskorte2008.IT-rdm'][0]:.3f}" in text


# --- (5) a plugin whose test fails ----------------------------------------------------------


def test_a_plugin_whose_test_fails_is_refused_with_its_log_mailed(site: Site, tmp_path: Path):
    failing = ("def test_the_plugin_fails_on_purpose():\n"
               "    assert 1 + 1 == 3, 'deliberate failure 7f3a'\n")
    submitted = site.submit(plugin_zip(tmp_path, "e2e-broken-net", "model",
                                       test_source=failing))
    site.dispatch_until_idle()

    submission = site.submission(submitted["id"])
    assert submission["status"] == "failed"
    assert "deliberate failure 7f3a" in submission["log"]
    assert "tests of models/e2e_broken_net failed" in submission["log"]
    assert site.query("SELECT id FROM leaderboard_model WHERE identifier = 'e2e-broken-net'") == []
    log = run(["git", "-C", str(site.home / "platform" / "plugins"), "log", "--format=%s"],
              site.env)
    assert f"Submission {submitted['id']}" not in log
    [mail] = [m for m in site.mails_to(site.email) if "e2e-broken-net" in m.as_string()
              or f"#{submitted['id']}" in m["Subject"]]
    assert "deliberate failure 7f3a" in mail.as_string()


# --- (3) a benchmark scores every public model ----------------------------------------------


def test_a_benchmark_submission_scores_every_public_model(site: Site, tmp_path: Path):
    models = [name for (name,) in site.query(
        "SELECT identifier FROM leaderboard_model WHERE public = 1 AND withdrawn = 0")]
    assert "e2e-net" in models and "pixels" in models
    submitted = site.submit(plugin_zip(tmp_path, "E2e2026.IT-rdm", "benchmark"))
    assert submitted["status"] == "validated", submitted

    site.dispatch_until_idle("--slots", "2")

    submission = site.submission(submitted["id"])
    assert submission["status"] == "succeeded", submission["log"]
    scored = {model for model in models
              if scores_of(site, model).get("E2e2026.IT-rdm", (None,))[0] is not None}
    assert scored == set(models)
    [(owner,)] = site.query("SELECT u.email FROM leaderboard_benchmarktype t JOIN auth_user u "
                            "ON t.owner_id = u.id WHERE t.identifier = 'E2e2026.IT-rdm'")
    assert owner == site.email


# --- (6) a dispatcher killed mid-job --------------------------------------------------------


def test_a_dispatcher_killed_mid_job_is_resumed_and_the_score_written_once(site: Site,
                                                                            tmp_path: Path):
    # Only one public benchmark while this test runs (and the submitter's own from (3)).
    site.query("UPDATE leaderboard_benchmarkversion SET public = 0 WHERE benchmark_type_id "
               "NOT IN (SELECT id FROM leaderboard_benchmarktype WHERE identifier = "
               "'Kriegeskorte2008.IT-rdm')")
    try:
        submitted = site.submit(plugin_zip(tmp_path, "e2e-killed-net", "model"))
        first = site.dispatcher("--name", "e2e-dispatcher")
        try:
            running = wait_until(lambda: site.query(
                "SELECT id FROM submissions_job WHERE submission_id = ? AND status = "
                "'running'", submitted["id"]), within=DISPATCH_TIMEOUT_S, what="a running job")
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=60)
        [(job_id,)] = running
        site.dispatch_until_idle("--name", "e2e-dispatcher")
    finally:
        site.query("UPDATE leaderboard_benchmarkversion SET public = 1")

    [(status, attempts, log)] = site.query(
        "SELECT status, attempts, log FROM submissions_job WHERE id = ?", job_id)
    assert (status, attempts) == ("succeeded", 2), log
    assert "restarted while the job ran" in log
    scores = scores_of(site, "e2e-killed-net")
    assert sorted(scores) == ["E2e2026.IT-rdm", "Kriegeskorte2008.IT-rdm"]
    assert all(ceiled is not None for ceiled, _, _ in scores.values())
    [(count,)] = site.query(
        "SELECT COUNT(*) FROM leaderboard_score s JOIN submissions_job j ON "
        "s.model_version_id = j.model_version_id AND s.benchmark_version_id = "
        "j.benchmark_version_id WHERE j.id = ?", job_id)
    assert count == 1
    assert site.submission(submitted["id"])["status"] == "succeeded"


# --- (2) the same through the Dask executor -------------------------------------------------


def test_a_model_zip_is_scored_on_real_dask_scheduler_and_worker_processes(site: Site,
                                                                          tmp_path: Path):
    from tests.execution.dask_cluster import dask_processes

    two = ("Kriegeskorte2008.IT-rdm", "Geirhos2021silhouette-top1")
    site.query("UPDATE leaderboard_benchmarkversion SET public = 0 WHERE benchmark_type_id "
               f"NOT IN (SELECT id FROM leaderboard_benchmarktype WHERE identifier IN {two})")
    try:
        submitted = site.submit(plugin_zip(tmp_path, "e2e-dask-net", "model"))
        # The worker shares the platform's home (a shared filesystem, as docs/cluster.md
        # says) but holds no database address.
        with dask_processes(tmp_path / "dask", lambda _: dict(site.env)) as processes:
            _, scheduler = processes.scheduler("scheduler")
            _, worker = processes.worker(scheduler, "e2e-worker")
            site.dispatch_until_idle("--executor", "dask", "--scheduler", scheduler)
    finally:
        site.query("UPDATE leaderboard_benchmarkversion SET public = 1")

    submission = site.submission(submitted["id"])
    assert submission["status"] == "succeeded", submission["log"]
    scores = scores_of(site, "e2e-dask-net")
    assert set(two) <= set(scores)
    assert all(scores[name][0] is not None for name in two)
    outputs = [output for (output,) in site.query(
        "SELECT output FROM submissions_job WHERE submission_id = ?", submitted["id"])]
    assert outputs and all(f"ran on {worker}" in output for output in outputs)
    laptop = score_on_a_laptop(site, "e2e-dask-net", two[1], tmp_path)
    assert laptop["score"] == pytest.approx(scores[two[1]][0], abs=1e-9, rel=0)
