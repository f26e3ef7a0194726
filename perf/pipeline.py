"""A model submission through the whole pipeline: time to its first and last score, and
what the pipeline adds to the scoring; prints JSON and writes results/pipeline.json.

The submission is a built-in-size model: the built-in plugin ``resnet20_cifar10`` (1.5 MB
of trained weights) copied to ``models/perf_resnet20_cifar10`` and registered as
``perf-resnet20-cifar10`` (the platform refuses built-in identifiers), with a
``metadata.yml``; its ``brainmark test`` must pass before it is zipped. In a fresh
temporary ``BRAINMARK_HOME`` (SQLite), as ``tests/platform/test_pipeline_end_to_end.py``
does: ``brainmark migrate``, ``brainmark sync`` (the built-in plugins), a user and an API
token, ``brainmark serve``; then the zip is POSTed to ``/api/submissions/`` and
``brainmark dispatcher --until-idle --slots N --poll 0.2`` (local executor, every job in
the sandbox) runs it to its end: tests, merge, sync and plan, one scoring job per built-in
benchmark. Each slot count asked for gets a fresh site of its own (one entry of ``runs``).

Times are wall-clock, from the start of the POST (``t0``):

- ``time_to_first_score_s`` / ``time_to_last_score_s``: to the ``end`` of the first and
  last Score row of the submission's jobs (the moment the dispatcher wrote it). Targets:
  first < 120 s, last < 600 s. They include the dispatcher's process start (it is started
  right after the POST; a deployed one is already running).
- ``stages``: the submission's statuses as a watcher saw them (the database polled every
  0.2 s; the rows' own ``stages`` stamps have 1 s resolution and are shown too):
  ``intake_request_s`` (the POST: storing, validation, ownership checks),
  ``dispatcher_pickup_s`` (POST answered -> ``testing``), ``tests_s`` (the plugin's
  ``brainmark test`` in the sandbox: ``tests_preparation_s`` until the log says the
  sandboxed process started (unpacking the archive again, the test root, the Python
  environment), ``tests_sandboxed_process_s`` after, of which ``tests_pytest_s`` is
  pytest's own summary time), ``merge_s``, ``sync_and_plan_s`` (``merged`` ->
  ``scoring``: the facts child in the sandbox, the rows, the jobs planned),
  ``scoring_s`` (``scoring`` -> the last score), ``finish_s`` (-> ``succeeded``).
- ``jobs``: per benchmark, the Job row's ``wall_seconds`` (the sandboxed
  ``brainmark score`` process, measured by the sandbox), CPU seconds, peak memory, the
  queue wait (``scoring`` -> claimed), the score record's own ``wall_time_s`` (model load
  and the benchmark's call, inside the process) and ``in_process_overhead_s`` = job wall
  - record wall (interpreter and imports, plugin lookup, data and benchmark loading, the
  sandbox's start; ``setup.python_start_and_imports_s`` is the interpreter and imports
  alone), and ``dispatcher_overhead_s`` = (finished - started) - job wall (the
  snapshot and job folder, the spec, noticing the end, writing the score).
- ``overhead``: ``before_first_job_s`` (t0 -> the first job claimed: intake, tests, merge,
  sync, plan, dispatcher start); ``scoring_span_s`` (first job claimed -> last job
  finished) against ``job_wall_sum_s`` / slots; ``dispatch_gaps_sum_s`` (and the largest,
  ``dispatch_gap_max_s``): with the slots replayed in order of claim, the sum over jobs of
  (claimed - the moment its slot was free: scoring began or the slot's previous job was
  finished) - the time a free slot waited for the dispatcher; ``pipeline_s`` = everything
  up to the last score that is not job wall time on a slot: time_to_last_score_s -
  job_wall_sum_s / slots.
- ``bare_score``: the same model on one benchmark with a plain ``brainmark score --json``
  in a fresh home (``BRAINMARK_PLUGIN_PATH`` = the copied plugin's root, no sandbox, no
  dispatcher); each run's ``versus_bare`` sets that pair's job wall time against its
  process wall time (what the sandbox adds), checks the scores are equal, and sets the
  tests stage against the ``brainmark test`` of ``setup`` (run without the sandbox).

The machine's load (other processes) changes every number; the load average is recorded
before and after. Usage:

    .venv/bin/python perf/pipeline.py [--slots N[,N...]] [--bare BENCHMARK]
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    # perf/ holds platform.py: keep the standard library's platform module visible.
    del sys.path[0]

import argparse
import contextlib
import importlib.metadata
import json
import platform
import re
import selectors
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import requests

RESULTS = Path(__file__).parent / "results" / "pipeline.json"
BRAINMARK = Path(sys.executable).with_name("brainmark")
SOURCE = Path(__file__).resolve().parents[1] / "src/brainmark/plugins/models/resnet20_cifar10"
BUILT_IN = "resnet20-cifar10"
MODEL = "perf-resnet20-cifar10"
FOLDER = "perf_resnet20_cifar10"
METADATA = ("architecture: ResNet-20 (CIFAR)\n"
            "parameters: 269722\n"  # counted from CifarResNet(3).parameters()
            "training_data: CIFAR-10\n"
            "license: BSD-2-Clause\n"
            "reference: https://arxiv.org/abs/1512.03385\n")
PASSWORD = "a long pass phrase 42\n"
EMAIL = "perf@example.org"
TARGETS = {"first_score_s": 120.0, "last_score_s": 600.0}
POLL_S = 0.2
DISPATCH_TIMEOUT_S = 1500
# The log line processing.run_tests writes as the sandboxed `brainmark test` starts.
TEST_STARTED = "in the sandbox."
# pytest's summary line, e.g. "5 passed in 11.36s".
PYTEST_SUMMARY = re.compile(r"(\d+) passed[^\n]* in ([\d.]+)s")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def environment(home: Path, **extra: str) -> dict[str, str]:
    """This environment with no database address or brainmark setting but the home."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "BRAINMARK_DATABASE_URL", "DJANGO_SETTINGS_MODULE")
           and not name.startswith("BRAINMARK_")}
    return {**env, "BRAINMARK_HOME": str(home), **extra}


def timed_run(args: list[str], env: dict[str, str], *, stdin: str | None = None,
              timeout: float = 900) -> tuple[float, str]:
    """Run a brainmark command to completion: (seconds, its stdout)."""
    start = time.perf_counter()
    result = subprocess.run([str(BRAINMARK), *args], env=env, input=stdin, text=True,
                            capture_output=True, timeout=timeout, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"brainmark {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def copy_plugin(root: Path) -> Path:
    """The built-in resnet20 as ``models/perf_resnet20_cifar10`` registering MODEL."""
    folder = root / "models" / FOLDER
    shutil.copytree(SOURCE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for path in folder.rglob("*"):
        if path.suffix in (".py", ".md"):
            path.write_text(path.read_text().replace(BUILT_IN, MODEL))
    (folder / "metadata.yml").write_text(METADATA)
    registration = (folder / "__init__.py").read_text()
    if f'model_registry["{MODEL}"]' not in registration:
        raise RuntimeError(f"{folder}/__init__.py does not register {MODEL}:\n{registration}")
    return folder


def zip_plugin(root: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(root.rglob("*")):
            if "__pycache__" not in file.parts and ".pytest_cache" not in file.parts:
                archive.write(file, file.relative_to(root).as_posix())
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], log_path: Path, **popen) -> Iterator[
        subprocess.Popen]:
    """A brainmark process (stderr to ``log_path``), stopped on the way out."""
    with log_path.open("ab") as stream:
        process = subprocess.Popen([str(BRAINMARK), *args], env=env, stderr=stream, **popen)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def server_address(process: subprocess.Popen, log_path: Path, timeout: float = 120) -> str:
    """The first line ``brainmark serve`` prints (its address, once listening)."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=0.5):
            line = process.stdout.readline()
            if line:
                return line.strip()
    raise RuntimeError(f"brainmark serve printed no address:\n{log_path.read_text()[-3000:]}")


class Watcher(threading.Thread):
    """Polls the database every POLL_S: when each submission status and each job status
    was first seen (epoch seconds), when the log first said the sandboxed test started,
    and the number of jobs ended."""

    def __init__(self, database: Path, submission_id: int) -> None:
        super().__init__(daemon=True)
        self.database, self.submission_id = database, submission_id
        self.seen: dict[str, float] = {}
        self.jobs_seen: dict[tuple[int, str], float] = {}
        self.test_started: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        scores = -1
        while not self.stop.is_set():
            now = time.time()
            try:
                with contextlib.closing(sqlite3.connect(
                        f"file:{self.database}?mode=ro", uri=True, timeout=5)) as connection:
                    [(status, text)] = connection.execute(
                        "SELECT status, log FROM submissions_submission WHERE id = ?",
                        (self.submission_id,)).fetchall()
                    job_rows = connection.execute(
                        "SELECT id, status FROM submissions_job WHERE submission_id = ?",
                        (self.submission_id,)).fetchall()
            except sqlite3.OperationalError:  # locked for a moment: look again
                self.stop.wait(POLL_S)
                continue
            if self.test_started is None and TEST_STARTED in text:
                self.test_started = now
            if status not in self.seen:
                self.seen[status] = now
                log(f"submission {status}")
            for job_id, job_status in job_rows:
                self.jobs_seen.setdefault((job_id, job_status), now)
            done = sum(1 for _, s in job_rows if s in ("succeeded", "failed"))
            if job_rows and done != scores:
                scores = done
                log(f"jobs ended: {done}/{len(job_rows)}")
            self.stop.wait(POLL_S)


def epoch(text: str | None) -> float | None:
    """Seconds since the epoch of a stored time (ISO, naive ones being UTC)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def span(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 2)


def read_jobs(database: Path, submission_id: int) -> list[dict]:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT j.id, t.identifier, j.status, j.attempts, j.started, j.finished, "
            "j.wall_seconds, j.cpu_seconds, j.peak_memory_bytes, j.isolation, "
            "s.ceiled, s.raw, s.ceiling, s.end, s.record, s.comment "
            "FROM submissions_job j "
            "JOIN leaderboard_benchmarkversion bv ON j.benchmark_version_id = bv.id "
            "JOIN leaderboard_benchmarktype t ON bv.benchmark_type_id = t.id "
            "LEFT JOIN leaderboard_score s ON s.model_version_id = j.model_version_id "
            "AND s.benchmark_version_id = j.benchmark_version_id "
            "WHERE j.submission_id = ? ORDER BY j.started", (submission_id,)).fetchall()
    jobs = []
    for (job_id, benchmark, status, attempts, started, finished, wall, cpu, memory,
         isolation, ceiled, raw, ceiling, score_end, record, comment) in rows:
        record_wall = json.loads(record).get("wall_time_s") if record else None
        jobs.append({
            "job": job_id, "benchmark": benchmark, "status": status, "attempts": attempts,
            "score": ceiled, "raw": raw, "ceiling": ceiling, "comment": comment or None,
            "started": epoch(started), "finished": epoch(finished),
            "score_end": epoch(score_end), "wall_s": wall, "cpu_s": cpu,
            "peak_memory_mb": round(memory / 2**20, 1) if memory else None,
            "record_wall_s": record_wall, "isolation": isolation,
        })
    return jobs


def dispatch_gaps(jobs: list[dict], slots: int, scoring_at: float) -> list[float]:
    """Replay the slots in order of claim: for each job, how long the slot it took had been
    free (since ``scoring_at`` or the end of the slot's previous job) when it was claimed."""
    free = [scoring_at] * slots
    gaps = []
    for job in sorted(jobs, key=lambda j: j["started"]):
        slot = min(range(slots), key=lambda index: free[index])
        gaps.append(max(0.0, job["started"] - free[slot]))
        free[slot] = job["finished"]
    return gaps


def analyse(t0: float, request_s: float, watcher: Watcher, stamps: dict, submission_log: str,
            jobs: list[dict], slots: int) -> dict:
    seen = watcher.seen
    found = PYTEST_SUMMARY.findall(submission_log)
    ends = sorted(job["score_end"] for job in jobs if job["score"] is not None)
    first, last = (ends[0], ends[-1]) if ends else (None, None)
    ran = [job for job in jobs if job["wall_s"] is not None and job["started"] is not None]
    # The watcher sees ``scoring`` up to POLL_S late; a job claimed earlier bounds it.
    scoring_at = min([moment for moment in (seen.get("scoring"),) if moment is not None]
                     + [job["started"] for job in ran], default=None)
    stages = {
        "intake_request_s": round(request_s, 2),
        "dispatcher_pickup_s": span(t0 + request_s, seen.get("testing")),
        "tests_s": span(seen.get("testing"), seen.get("tested")),
        "tests_preparation_s": span(seen.get("testing"), watcher.test_started),
        "tests_sandboxed_process_s": span(watcher.test_started, seen.get("tested")),
        "tests_pytest_s": float(found[-1][1]) if found else None,
        "merge_s": span(seen.get("tested"), seen.get("merged")),
        "sync_and_plan_s": span(seen.get("merged"), scoring_at),
        "scoring_s": span(scoring_at, last),
        "finish_s": span(last, seen.get("succeeded")),
        "seen_at_s": {status: round(moment - t0, 2) for status, moment in seen.items()},
        "stamped_at_s": {status: span(t0, epoch(moment)) for status, moment in stamps.items()},
    }
    wall_sum = sum(job["wall_s"] for job in ran)
    gaps = dispatch_gaps(ran, slots, scoring_at) if ran and scoring_at else []
    per_job = []
    for job in jobs:
        per_job.append({
            "benchmark": job["benchmark"], "status": job["status"],
            "attempts": job["attempts"], "score": job["score"], "raw": job["raw"],
            "comment": job["comment"],
            "claimed_at_s": span(t0, job["started"]),
            "queue_wait_s": span(scoring_at, job["started"]),
            "wall_s": round(job["wall_s"], 2) if job["wall_s"] is not None else None,
            "cpu_s": round(job["cpu_s"], 2) if job["cpu_s"] is not None else None,
            "peak_memory_mb": job["peak_memory_mb"],
            "record_wall_s": job["record_wall_s"],
            "in_process_overhead_s": span(job["record_wall_s"], job["wall_s"]),
            "dispatcher_overhead_s": (
                round(job["finished"] - job["started"] - job["wall_s"], 2)
                if None not in (job["finished"], job["started"], job["wall_s"]) else None),
            "score_written_at_s": span(t0, job["score_end"]),
            "isolation": job["isolation"],
        })
    overhead = {
        "before_first_job_s": span(t0, min((j["started"] for j in ran), default=None)),
        "scoring_span_s": span(min((j["started"] for j in ran), default=None),
                               max((j["finished"] for j in ran), default=None)),
        "job_wall_sum_s": round(wall_sum, 2),
        "job_wall_sum_per_slot_s": round(wall_sum / slots, 2),
        "job_cpu_sum_s": round(sum(j["cpu_s"] or 0 for j in ran), 2),
        "record_wall_sum_s": round(sum(j["record_wall_s"] or 0 for j in ran), 2),
        "in_process_overhead_sum_s": round(
            sum(j["wall_s"] - j["record_wall_s"] for j in ran if j["record_wall_s"]), 2),
        "dispatcher_overhead_sum_s": round(
            sum(j["finished"] - j["started"] - j["wall_s"] for j in ran), 2),
        "dispatch_gaps_sum_s": round(sum(gaps), 2),
        "dispatch_gap_max_s": round(max(gaps, default=0.0), 2),
        "pipeline_s": span(t0 + wall_sum / slots, last),
    }
    return {
        "status": "succeeded" if "succeeded" in seen else sorted(seen, key=seen.get)[-1],
        "time_to_first_score_s": span(t0, first),
        "time_to_last_score_s": span(t0, last),
        "time_to_succeeded_s": span(t0, seen.get("succeeded")),
        "jobs_failed": sum(1 for job in jobs if job["status"] != "succeeded"),
        "jobs_retried": sum(1 for job in jobs if job["attempts"] > 1),
        "targets_met": {
            "first_score_under_120_s": first is not None
            and first - t0 < TARGETS["first_score_s"],
            "last_score_under_600_s": last is not None and last - t0 < TARGETS["last_score_s"],
        },
        "stages": stages, "overhead": overhead, "jobs": per_job,
        "scores": {job["benchmark"]: job["score"] for job in jobs},
    }


def bare_score(plugin_root: Path, benchmark: str, folder: Path) -> dict:
    """``brainmark score MODEL BENCHMARK --json`` in a fresh home, outside the pipeline."""
    home = folder / "bare-home"
    home.mkdir()
    env = environment(home, BRAINMARK_PLUGIN_PATH=str(plugin_root))
    log(f"bare brainmark score {MODEL} {benchmark}")
    seconds, stdout = timed_run(["score", MODEL, benchmark, "--json"], env)
    record = json.loads(stdout)
    return {"benchmark": benchmark, "process_wall_s": round(seconds, 2),
            "record_wall_s": record["wall_time_s"], "score": record["score"],
            "raw": record["raw"]}


def prepare(folder: Path) -> tuple[Path, Path, dict]:
    """The copied plugin, checked with ``brainmark test`` and zipped: (its plugin root, the
    zip, set-up times)."""
    plugin_root = folder / "plugin-root"
    plugin = copy_plugin(plugin_root)
    check_home = folder / "check-home"
    check_home.mkdir()
    log(f"brainmark test {plugin}")
    seconds = timed_run(["test", str(plugin)], environment(check_home))[0]
    archive = zip_plugin(plugin_root, folder / f"{FOLDER}.zip")
    # What every job's process pays before it scores anything.
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, brainmark.cli, brainmark.scoring"],
                   check=True, env=environment(check_home))
    imports = time.perf_counter() - start
    return plugin_root, archive, {"brainmark_test_s": round(seconds, 2),
                                  "zip_bytes": archive.stat().st_size,
                                  "python_start_and_imports_s": round(imports, 2)}


def run_site(home: Path, archive: Path, slots: int) -> dict:
    """A fresh site in ``home``: set it up, submit ``archive``, dispatch until idle."""
    setup: dict = {}
    home.mkdir()
    env = environment(home)
    log("brainmark migrate")
    setup["migrate_s"] = round(timed_run(["migrate"], env)[0], 2)
    log("brainmark sync (built-in plugins)")
    setup["sync_s"] = round(timed_run(["sync"], env)[0], 2)
    timed_run(["user", "create", EMAIL], env, stdin=PASSWORD * 2)
    token = timed_run(["token", "create", EMAIL], env)[1].strip().splitlines()[-1]
    database = home / "platform" / "brainmark.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as connection:
        [(benchmarks,)] = connection.execute(
            "SELECT COUNT(*) FROM leaderboard_benchmarkversion WHERE public = 1").fetchall()
    setup["built_in_benchmark_versions"] = benchmarks

    port = free_port()
    env = {**env, "BRAINMARK_SITE_URL": f"http://127.0.0.1:{port}"}
    serve_log = home / "serve.log"
    start = time.perf_counter()
    with started(["serve", "--port", str(port), "--workers", "1"], env, serve_log,
                 stdout=subprocess.PIPE, text=True) as server:
        address = server_address(server, serve_log)
        setup["serve_start_s"] = round(time.perf_counter() - start, 2)
        log(f"serving at {address}; submitting {archive.name} ({archive.stat().st_size:,} "
            f"bytes)")
        t0 = time.time()
        with archive.open("rb") as stream:
            response = requests.post(f"{address}/api/submissions/",
                                     headers={"Authorization": f"Bearer {token}"},
                                     files={"file": (archive.name, stream)}, timeout=300)
        request_s = time.time() - t0
        if response.status_code != 201 or response.json().get("status") != "validated":
            raise RuntimeError(f"the submission was refused ({response.status_code}): "
                               f"{response.text[:3000]}")
        submission_id = response.json()["id"]
        watcher = Watcher(database, submission_id)
        watcher.start()
        dispatcher_log = home / "dispatcher.log"
        log(f"submission {submission_id} validated in {request_s:.2f} s; dispatcher with "
            f"{slots} slot(s)")
        try:
            with started(["dispatcher", "--until-idle", "--slots", str(slots),
                          "--poll", str(POLL_S)], env, dispatcher_log,
                         stdout=subprocess.DEVNULL) as dispatcher:
                code = dispatcher.wait(timeout=DISPATCH_TIMEOUT_S)
        finally:
            time.sleep(2 * POLL_S)  # let the watcher see the last status
            watcher.stop.set()
            watcher.join()
        if code != 0:
            raise RuntimeError(f"the dispatcher exited {code}:\n"
                               f"{dispatcher_log.read_text()[-3000:]}")
    with contextlib.closing(sqlite3.connect(database)) as connection:
        [(stamps, submission_log)] = connection.execute(
            "SELECT stages, log FROM submissions_submission WHERE id = ?",
            (submission_id,)).fetchall()
    result = analyse(t0, request_s, watcher, json.loads(stamps), submission_log,
                     read_jobs(database, submission_id), slots)
    result["submission_log"] = [line for line in submission_log.splitlines()
                                if re.match(r"\d\d:\d\d:\d\d ", line)]
    if result["status"] != "succeeded":
        result["submission_log_tail"] = submission_log[-3000:]
    return {"slots": slots, "setup": setup, **result}


def compare(run: dict, bare: dict, brainmark_test_s: float) -> dict:
    """What the sandbox and the pipeline add to the same work done by hand."""
    jobs = [job for job in run["jobs"] if job["benchmark"] == bare["benchmark"]]
    comparison = {"tests_stage_minus_bare_brainmark_test_s": span(
        brainmark_test_s, run["stages"]["tests_s"])}
    if jobs:
        comparison.update({
            "job_wall_s": jobs[0]["wall_s"], "job_record_wall_s": jobs[0]["record_wall_s"],
            "job_minus_bare_wall_s": span(bare["process_wall_s"], jobs[0]["wall_s"]),
            "same_score": jobs[0]["score"] == bare["score"],
        })
    return comparison


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", default="2",
                        help="Dispatcher slots; several, comma-separated, run one fresh site "
                        "each (default 2).")
    parser.add_argument("--bare", default="Kriegeskorte2008.IT-rdm",
                        help="The benchmark of the bare `brainmark score` comparison.")
    args = parser.parse_args()
    slot_counts = [int(count) for count in args.slots.split(",")]
    results: dict = {
        "machine": {
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "torch": importlib.metadata.version("torch"),
            "brainmark": importlib.metadata.version("brainmark"),
            "bubblewrap": shutil.which("bwrap") is not None,
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {"slots": slot_counts, "executor": "local", "database": "sqlite",
                     "poll_s": POLL_S, "model": MODEL, "bare_benchmark": args.bare},
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="brainmark-perf-pipeline-") as folder:
        plugin_root, archive, results["setup"] = prepare(Path(folder))
        runs = [run_site(Path(folder) / f"home-{index}", archive, slots)
                for index, slots in enumerate(slot_counts)]
        results["bare_score"] = bare_score(plugin_root, args.bare, Path(folder))
    for run in runs:
        run["versus_bare"] = compare(run, results["bare_score"],
                                     results["setup"]["brainmark_test_s"])
    results["runs"] = runs
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(results, indent=2)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
