"""The dask executor against real ``dask scheduler`` and ``dask worker`` processes on loopback.

The module's cluster: one scheduler (``allowed-failures`` 0, as docs/cluster.md advises) and
two single-thread workers without nanny, ``plain`` and ``big`` (the only one advertising the
``MEMORY`` resource). The fake jobs of ``dask_jobs.py`` record the process they ran in; one
test runs the real ``run_scoring_job`` on a worker and compares with ``brainmark score``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.execution.dask_cluster import Processes, dask_processes

from brainmark.execution.dask_executor import DaskExecutor, SchedulerUnreachableError
from brainmark.execution.scoring_job import JobOutcome, JobSpec
from brainmark.execution.states import FailureKind
from brainmark.scoring import ScoreRecord

HERE = Path(__file__).resolve().parent
DASK = Path(sys.executable).parent / "dask"
BRAINMARK = Path(sys.executable).parent / "brainmark"
STARTUP_S = 30.0  # a scheduler or worker process is up within this (a few seconds usually)
LARGE_MEMORY = 4e9
_LOCK = threading.Lock()


class Cluster:
    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        _, self.address = processes.scheduler("scheduler")
        self.plain_process, self.plain = processes.worker(self.address, "plain")
        self.big_process, self.big = processes.worker(self.address, "big",
                                                      f"MEMORY={2 * LARGE_MEMORY:.0f}")


def fake_jobs_environment(folder: Path) -> dict[str, str]:
    """The workers' environment: a home of their own, and the fake jobs importable."""
    home = folder / "worker-home"
    home.mkdir()
    env = {**os.environ, "BRAINMARK_HOME": str(home),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    env.pop("BRAINMARK_PLUGIN_PATH", None)
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with dask_processes(tmp_path_factory.mktemp("dask"), fake_jobs_environment) as processes:
        yield Cluster(processes)


@pytest.fixture(scope="module")
def jobs():
    """The fake jobs module, imported under the name the workers import it by."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(HERE))
        import dask_jobs

        yield dask_jobs


def spec(tmp_path: Path, job_id: int, **fields) -> JobSpec:
    return JobSpec(job_id=job_id, attempt=1, model="pixels", benchmark="Kriegeskorte2008.IT-rdm",
                   workdir=str(tmp_path / f"job-{job_id}"), **fields)


def collect(executor: DaskExecutor, count: int, within: float = 30.0) -> list[JobOutcome]:
    """``count`` outcomes from ``executor.finished``, failing after ``within`` seconds."""
    outcomes: list[JobOutcome] = []
    deadline = time.monotonic() + within
    while len(outcomes) < count and time.monotonic() < deadline:
        outcomes += executor.finished(timeout=deadline - time.monotonic())
    assert len(outcomes) == count, f"got {len(outcomes)} of {count} outcomes in {within} s"
    return outcomes


def wait_for_file(path: Path, within: float = 20.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if text := path.read_text():
                return text
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear in {within} s")


@pytest.fixture
def executor_factory(cluster: Cluster) -> Iterator:
    made: list[DaskExecutor] = []

    def make(address: str = cluster.address, **options) -> DaskExecutor:
        made.append(DaskExecutor(address, **options))
        return made[-1]

    yield make
    for executor in made:
        executor.close()


def test_jobs_go_round_trip_within_the_slots(cluster, jobs, executor_factory, tmp_path):
    executor = executor_factory(slots=2, run=jobs.quick)
    assert executor.name == f"dask@{cluster.address}"
    assert executor.free_slots() == 2 and executor.running() == []
    specs = [spec(tmp_path, 1), spec(tmp_path, 2)]
    for job in specs:
        executor.submit(job)
    assert executor.free_slots() == 0
    assert executor.running() == specs
    with pytest.raises(RuntimeError, match="no free slot"):
        executor.submit(spec(tmp_path, 3))
    with pytest.raises(ValueError, match="already submitted"):
        executor.submit(specs[0])

    outcomes = sorted(collect(executor, 2), key=lambda outcome: outcome.job_id)
    workers = {cluster.plain: cluster.plain_process.pid, cluster.big: cluster.big_process.pid}
    for job, outcome in zip(specs, outcomes, strict=True):
        pid = int((Path(job.workdir) / jobs.PID_FILE).read_text())
        assert outcome.worker in workers and workers[outcome.worker] == pid
        assert outcome == JobOutcome(job.job_id, 1, jobs.expected_record(job, pid), 0,
                                     worker=outcome.worker)
    assert executor.running() == [] and executor.free_slots() == 2
    assert executor.finished(timeout=0) == []  # each outcome is handed back once


def test_default_slots_are_the_cluster_threads(cluster, jobs, executor_factory):
    assert executor_factory(run=jobs.quick).free_slots() == 2  # two one-thread workers


def test_finished_waits_no_longer_than_its_timeout(cluster, jobs, executor_factory, tmp_path):
    executor = executor_factory(run=jobs.wait_for_release)
    held = spec(tmp_path, 10)
    executor.submit(held)
    wait_for_file(Path(held.workdir) / jobs.PID_FILE)
    started = time.monotonic()
    assert executor.finished(timeout=0.5) == []
    assert 0.5 <= time.monotonic() - started < 2.5
    assert executor.running() == [held]
    (Path(held.workdir) / jobs.RELEASE_FILE).write_text("")
    [outcome] = collect(executor, 1)
    assert outcome.ok and outcome.job_id == 10


def test_a_raising_runner_is_a_lost_attempt_naming_its_worker(cluster, jobs, executor_factory,
                                                              tmp_path):
    executor = executor_factory(run=jobs.raising)
    executor.submit(spec(tmp_path, 20))
    [outcome] = collect(executor, 1)
    assert not outcome.ok and outcome.failure_kind == FailureKind.TRANSIENT.value
    assert outcome.killed_by == "worker_lost" and outcome.worker in {cluster.plain, cluster.big}
    assert "runner broke on brainmark-job-20-attempt-1" in outcome.failure_reason


def test_large_tier_jobs_run_only_on_the_worker_with_memory(cluster, jobs, executor_factory,
                                                            tmp_path):
    executor = executor_factory(slots=6, run=jobs.quick,
                                memory_resources={"large": LARGE_MEMORY})
    large = [spec(tmp_path, 30 + n, memory_tier="large") for n in range(3)]
    standard = [spec(tmp_path, 40 + n) for n in range(3)]
    assert executor.resources_for(large[0]) == {"MEMORY": LARGE_MEMORY}
    assert executor.resources_for(standard[0]) == {}
    assert executor.resources_for(spec(tmp_path, 50, needs_gpu=True, memory_tier="large")) == {
        "GPU": 1, "MEMORY": LARGE_MEMORY}
    for job in large + standard:
        executor.submit(job)
    outcomes = {outcome.job_id: outcome for outcome in collect(executor, 6)}
    assert all(outcome.ok for outcome in outcomes.values())
    for job in large:  # the plain worker idles while they queue on big: never there
        pid = int((Path(job.workdir) / jobs.PID_FILE).read_text())
        assert (outcomes[job.job_id].worker, pid) == (cluster.big, cluster.big_process.pid)


def test_a_worker_killed_mid_job_gives_a_lost_attempt(cluster, jobs, executor_factory, tmp_path):
    gpu_process, gpu = cluster.processes.worker(cluster.address, "gpu", "GPU=1")
    executor = executor_factory(run=jobs.wait_for_release)
    job = spec(tmp_path, 60, needs_gpu=True)  # only the gpu worker may run it
    executor.submit(job)
    assert int(wait_for_file(Path(job.workdir) / jobs.PID_FILE)) == gpu_process.pid
    os.kill(gpu_process.pid, signal.SIGKILL)
    [outcome] = collect(executor, 1)
    assert outcome == JobOutcome.lost(job, outcome.failure_reason, worker=gpu)
    assert f"The Dask worker {gpu} died while running the job" in outcome.failure_reason
    assert executor.running() == []


def test_losing_the_scheduler_gives_lost_attempts_then_reconnects(jobs, tmp_path):
    (tmp_path / "own").mkdir()
    with dask_processes(tmp_path / "own", fake_jobs_environment) as processes:
        scheduler, address = processes.scheduler("lost-scheduler")
        processes.worker(address, "lost-worker")
        executor = DaskExecutor(address, slots=2, run=jobs.wait_for_release, connect_timeout=2,
                                reconnect_interval=0.5)
        try:
            held = [spec(tmp_path, 70), spec(tmp_path, 71)]  # one runs, one waits
            for job in held:
                executor.submit(job)
            deadline = time.monotonic() + 20
            while not any((Path(job.workdir) / jobs.PID_FILE).exists() for job in held):
                assert time.monotonic() < deadline, "neither held job started in 20 s"
                time.sleep(0.05)
            os.killpg(scheduler.pid, signal.SIGKILL)
            outcomes = sorted(collect(executor, 2, within=20), key=lambda o: o.job_id)
            assert outcomes == [JobOutcome.lost(job, outcomes[0].failure_reason)
                                for job in held]
            assert "connection to the Dask scheduler" in outcomes[0].failure_reason
            for job in held:  # the orphaned run ends (its result has nowhere to go)
                Path(job.workdir).mkdir(parents=True, exist_ok=True)
                (Path(job.workdir) / jobs.RELEASE_FILE).write_text("")
            assert executor.free_slots() == 0  # nothing is claimed while it is gone

            # The scheduler comes back at the same address: the executor works again.
            port = address.rsplit(":", 1)[1]
            processes.scheduler("back-scheduler", port=int(port))
            processes.worker(address, "back-worker")
            deadline = time.monotonic() + 20
            while executor.free_slots() == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert executor.free_slots() == 2
            again = spec(tmp_path, 72)
            executor.submit(again)
            Path(again.workdir).mkdir(parents=True)
            (Path(again.workdir) / jobs.RELEASE_FILE).write_text("")
            [outcome] = collect(executor, 1)
            assert outcome.ok and outcome.job_id == 72
        finally:
            executor.close()


def test_an_unreachable_scheduler_is_refused_at_once(tmp_path):
    with pytest.raises(SchedulerUnreachableError, match="no Dask scheduler answered"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1)


@pytest.mark.parametrize(("options", "message"), [
    ({"slots": 0}, "slots must be a positive integer"),
    ({"memory_resources": {"large": -1}}, r"memory_resources\['large'\] must be a positive"),
    ({"gpu_resource": ""}, "gpu_resource must be a resource name"),
    ({"run": lambda spec: _LOCK}, "cannot be sent to Dask workers"),  # a lock cannot travel
])
def test_bad_options_are_refused_before_connecting(options, message):
    with pytest.raises(ValueError, match=message):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1, **options)


def test_a_real_scoring_job_runs_on_a_worker_as_brainmark_score_does(cluster, executor_factory,
                                                                    tmp_path):
    reference_home = tmp_path / "reference-home"
    reference_home.mkdir()
    environment = {**os.environ, "BRAINMARK_HOME": str(reference_home)}
    reference = subprocess.Popen(
        [str(BRAINMARK), "score", "pixels", "Kriegeskorte2008.IT-rdm", "--json"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    executor = executor_factory()  # the real run_scoring_job
    job = spec(tmp_path, 80)
    executor.submit(job)
    [outcome] = collect(executor, 1, within=50)
    stdout, stderr = reference.communicate(timeout=50)
    assert reference.returncode == 0, stderr
    assert outcome.ok, outcome.failure_reason + outcome.log_tail
    assert outcome.worker in {cluster.plain, cluster.big}
    record = ScoreRecord.from_json(outcome.record_json)
    expected = ScoreRecord.from_json(stdout)
    assert (record.model, record.benchmark) == ("pixels", "Kriegeskorte2008.IT-rdm")
    for field in ("score", "raw", "ceiling", "error"):
        assert getattr(record, field) == pytest.approx(getattr(expected, field), abs=1e-9)
    assert (record.plugins, record.data_sha1s) == (expected.plugins, expected.data_sha1s)


def test_the_module_workers_import_loads_no_django_nor_torch():
    code = ("import sys, brainmark.execution.dask_executor\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'torch')\n"
            "             or m.startswith('brainmark.platform')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
