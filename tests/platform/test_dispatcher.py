"""The dispatcher's bookkeeping, on rows: what it records from an outcome, how it resumes,
and the layer maps kept once per model version. The whole loop runs end to end in
test_pipeline_end_to_end.py; here each rule is checked on its own, with a real local
executor that is never given a job."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.db


@pytest.fixture
def home(tmp_path: Path, database: None):
    from brainmark.settings import override_settings

    with override_settings(home=tmp_path / "home"):
        yield tmp_path / "home"


@pytest.fixture
def dispatcher(home):
    from brainmark.execution.executors import LocalExecutor
    from brainmark.platform.submissions.dispatcher import Dispatcher

    loop = Dispatcher(LocalExecutor(1), name="test-dispatcher")
    yield loop
    loop.executor.close()


def make_job(owner=None, *, benchmark: str = "Disp2026.IT-rdm", model: str = "disp-net"):
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
    )
    from brainmark.platform.submissions.models import Job

    model_row, _ = Model.objects.get_or_create(identifier=model, defaults={"public": True})
    version, _ = ModelVersion.objects.get_or_create(
        model=model_row, version=1, defaults={"plugin_sha1": "c" * 40, "visual_degrees": 8})
    kind = BenchmarkType.objects.create(identifier=benchmark, owner=owner)
    benchmark_version = BenchmarkVersion.objects.create(benchmark_type=kind, version=2)
    return Job.objects.create(model_version=version, benchmark_version=benchmark_version)


def claim(dispatcher, job):
    from django.utils import timezone

    from brainmark.platform.submissions import jobs

    claimed = jobs.claim_next(dispatcher.worker, lease=timedelta(minutes=5), now=timezone.now())
    assert claimed.pk == job.pk
    return claimed


def record_json(model: str, benchmark: str, version: int, score: float = 0.5) -> str:
    """A score record as ``brainmark score --json`` prints it (fields of ScoreRecord)."""
    from brainmark.scoring import ScoreRecord

    return ScoreRecord(
        model=model, benchmark=benchmark, benchmark_version=version, parent="IT",
        score=score, raw=score / 2, ceiling=0.5, error=0.01,
        layer_commitment={"IT": "layer"}, brainmark_version="0", library_sha1="a" * 40,
        python="3", torch="2", plugins={}, data_sha1s={}, seeds={}, wall_time_s=1.0,
        created="2026-11-29T00:00:00+00:00",
    ).to_json()


def outcome(job, record: str | None, **fields):
    from brainmark.execution.scoring_job import JobOutcome

    return JobOutcome(job.pk, job.attempts, record, 0 if record else 1, wall_seconds=2.0,
                      isolation="bubblewrap", log_tail="log line\n", **fields)


def test_a_record_of_its_own_pair_is_written_once_and_the_job_succeeds(dispatcher):
    from brainmark.platform.leaderboard.models import Score

    job = claim(dispatcher, make_job())
    dispatcher._record(outcome(job, record_json("disp-net", "Disp2026.IT-rdm", 2, 0.625)))

    job.refresh_from_db()
    assert (job.status, job.attempts, job.isolation) == ("succeeded", 1, "bubblewrap")
    assert job.output == "log line\n"
    [score] = Score.objects.filter(model_version=job.model_version)
    assert (score.ceiled, score.raw, score.comment) == (0.625, 0.3125, "")
    assert json.loads(json.dumps(score.record))["benchmark_version"] == 2

    # The same outcome again (a second report of one attempt) changes nothing.
    dispatcher._record(outcome(job, record_json("disp-net", "Disp2026.IT-rdm", 2, 0.9)))
    assert Score.objects.get(pk=score.pk).ceiled == 0.625

    # Another job of the same pair (two dispatchers planned it, or staff re-ran it) that
    # reports another number succeeds, and the number first written stays.
    from brainmark.platform.submissions.models import Job

    again = claim(dispatcher, Job.objects.create(model_version=job.model_version,
                                                 benchmark_version=job.benchmark_version))
    dispatcher._record(outcome(again, record_json("disp-net", "Disp2026.IT-rdm", 2, 0.9)))
    again.refresh_from_db()
    assert again.status == "succeeded"
    [score] = Score.objects.filter(model_version=job.model_version)
    assert (score.ceiled, score.raw) == (0.625, 0.3125)


def test_a_record_of_another_pair_fails_the_job_and_writes_no_number(dispatcher):
    from brainmark.platform.leaderboard.models import Score

    job = claim(dispatcher, make_job())
    dispatcher._record(outcome(job, record_json("disp-net", "Disp2026.IT-rdm", 1)))

    job.refresh_from_db()
    assert (job.status, job.failure_kind) == ("failed", "deterministic")
    assert job.failure_reason == ("The job returned the record of disp-net on Disp2026.IT-rdm "
                                  "v1, not of its own pair disp-net on Disp2026.IT-rdm v2.")
    [score] = Score.objects.filter(model_version=job.model_version)
    assert score.ceiled is None and score.comment == job.failure_reason


def test_a_transient_failure_is_queued_again_and_a_deterministic_one_fails(dispatcher):
    job = claim(dispatcher, make_job())
    dispatcher._record(outcome(job, None, failure_kind="transient",
                               failure_reason="worker lost"))
    job.refresh_from_db()
    assert (job.status, job.attempts, job.failure_reason) == ("queued", 1, "worker lost")

    job = claim(dispatcher, job)
    dispatcher._record(outcome(job, None, failure_kind="deterministic",
                               failure_reason="Exited with status 1: ValueError: bad"))
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 2)


def test_a_restarted_dispatcher_gives_its_running_jobs_back_to_the_queue(dispatcher, home):
    from brainmark.execution.executors import LocalExecutor
    from brainmark.platform.submissions.dispatcher import Dispatcher

    job = claim(dispatcher, make_job())
    again = Dispatcher(LocalExecutor(1), name="test-dispatcher")
    try:
        again.start()
    finally:
        again.executor.close()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.failure_kind) == ("queued", 1, "transient")
    assert "test-dispatcher restarted while the job ran" in job.log


@pytest.mark.parametrize("built_in", [True, False])
def test_layer_maps_are_kept_once_per_model_version_from_built_in_benchmarks_only(
        dispatcher, home, make_owner, built_in):
    from brainmark.execution.scoring_job import layer_maps_of
    from brainmark.platform.submissions.dispatcher import _keep_layer_maps, layer_maps_dir

    job = make_job(None if built_in else make_owner())
    attempt_home = home / "attempt-home"
    maps = layer_maps_of(attempt_home)
    maps.mkdir(parents=True)
    (maps / "map.json").write_text('{"IT": "layer3"}')

    _keep_layer_maps(job, attempt_home)

    kept = layer_maps_dir(job.model_version_id)
    assert kept.is_dir() is built_in
    spec = dispatcher.spec_for(claim(dispatcher, job))
    assert spec.layer_maps == (str(kept) if built_in else None)
    if built_in:
        assert (kept / "map.json").read_text() == '{"IT": "layer3"}'
        # A later job's maps never replace the first ones.
        (maps / "map.json").write_text('{"IT": "layer1"}')
        _keep_layer_maps(job, attempt_home)
        assert (kept / "map.json").read_text() == '{"IT": "layer3"}'


@pytest.fixture
def make_owner(database):
    from django.contrib.auth import get_user_model

    return lambda: get_user_model().objects.create_user("owner", "owner@example.org", "x" * 20)


def test_a_job_copies_its_model_versions_layer_maps_into_its_home(tmp_path):
    from brainmark.execution.scoring_job import JobSpec, layer_maps_of, run_scoring_job

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "map.json").write_text("{}")
    spec = JobSpec(job_id=1, attempt=1, model="no-such-model", benchmark="no-such-benchmark",
                   workdir=str(tmp_path / "job"), layer_maps=str(kept), wall_seconds=120)
    result = run_scoring_job(spec)

    assert not result.ok and result.failure_kind == "deterministic"
    assert "No plugin registers benchmark 'no-such-benchmark'" in result.log_tail
    assert (layer_maps_of(tmp_path / "job" / "home") / "map.json").read_text() == "{}"


def test_a_jobs_requirements_are_those_of_its_model_and_benchmark_folders(tmp_path):
    from brainmark.platform.submissions.processing import requirements_of

    def plugin(kind: str, folder: str, registry: str, identifier: str, requirements: str):
        path = tmp_path / kind / folder
        path.mkdir(parents=True)
        (path / "__init__.py").write_text(f"{registry}[{identifier!r}] = None\n")
        (path / "requirements.txt").write_text(requirements)

    plugin("models", "net", "model_registry", "req-net", "tomli-w>=1.0\n")
    plugin("benchmarks", "bench", "benchmark_registry", "Req2026-top1", "# none\nsix\n")
    plugin("models", "other", "model_registry", "other-net", "toolz\n")
    (tmp_path / "models" / "broken").mkdir()
    (tmp_path / "models" / "broken" / "__init__.py").write_text("model_registry[name()] = 1\n")

    lines = requirements_of(tmp_path, ("req-net", "Req2026-top1"))
    assert sorted(lines) == ["# none", "six", "tomli-w>=1.0"]


def test_a_submissions_code_never_sees_another_users_private_model(home, make_owner, tmp_path):
    from django.contrib.auth import get_user_model

    from brainmark.platform.leaderboard.models import Model
    from brainmark.platform.submissions.models import Submission
    from brainmark.platform.submissions.processing import _copy_visible

    submitter = make_owner()
    other = get_user_model().objects.create_user("other", "other@example.org", "y" * 20)
    snapshot = tmp_path / "snapshot"
    for folder, identifier in (("theirs", "their-private-net"), ("mine", "my-private-net"),
                               ("public", "public-net"), ("broken", None)):
        path = snapshot / "models" / folder
        path.mkdir(parents=True)
        registration = f"{identifier!r}" if identifier else "f()"  # f(): unreadable statically
        (path / "__init__.py").write_text(f"model_registry[{registration}] = None\n")
    Model.objects.create(identifier="their-private-net", owner=other, public=False)
    Model.objects.create(identifier="my-private-net", owner=submitter, public=False)
    Model.objects.create(identifier="public-net", owner=other, public=True)
    submission = Submission.objects.create(user=submitter, kind="model", status="validated")

    _copy_visible(snapshot, tmp_path / "root", submission, skip={("models", "public")})

    assert sorted(p.name for p in (tmp_path / "root" / "models").iterdir()) == ["broken", "mine"]


def test_the_next_stage_is_of_the_submission_nearest_to_scoring_then_the_oldest(make_owner):
    from brainmark.platform.submissions.models import Submission
    from brainmark.platform.submissions.processing import next_stage

    user = make_owner()
    made = {name: Submission.objects.create(user=user, kind="model", status=status)
            for name, status in (("old", "validated"), ("young", "validated"),
                                 ("tested", "tested"), ("merged", "merged"),
                                 ("done", "succeeded"))}
    order = []
    while (found := next_stage()) is not None:
        order.append(found)
        Submission.objects.filter(pk=found[0]).update(status="failed")
    assert order == [(made["merged"].pk, "merged"), (made["tested"].pk, "tested"),
                     (made["old"].pk, "validated"), (made["young"].pk, "validated")]


def test_stages_run_side_by_side_up_to_the_stage_slots_with_one_merge_at_a_time(
        home, make_owner, monkeypatch):
    """The dispatcher starts as many stages as it has stage slots, nearest to scoring
    first, never two merges at once (they write one plugin store) and never two stages of
    one submission."""
    import threading

    from brainmark.execution.executors import LocalExecutor
    from brainmark.platform.submissions import processing
    from brainmark.platform.submissions.dispatcher import Dispatcher
    from brainmark.platform.submissions.models import Submission

    user = make_owner()
    made = {name: Submission.objects.create(user=user, kind="model", status=status)
            for name, status in (("tested-1", "tested"), ("tested-2", "tested"),
                                 ("validated-1", "validated"), ("validated-2", "validated"),
                                 ("validated-3", "validated"))}
    release, started = threading.Event(), []

    def stage_that_waits(submission_id: int, status: str) -> None:
        started.append((submission_id, status))
        release.wait(30)

    monkeypatch.setattr(processing, "advance", stage_that_waits)
    loop = Dispatcher(LocalExecutor(1), name="stage-slots", stage_slots=3)
    try:
        assert loop._run_next_stage()
        assert sorted(started) == sorted([(made["tested-1"].pk, "tested"),
                                          (made["validated-1"].pk, "validated"),
                                          (made["validated-2"].pk, "validated")])
        assert loop.busy
        assert not loop._run_next_stage()  # every slot is taken
    finally:
        release.set()
        loop.close()
    assert not loop.busy
