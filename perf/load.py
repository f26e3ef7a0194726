"""The site under load: many concurrent readers, and a burst of submissions draining; prints
JSON and writes results/load.json.

1. ``web``: the leaderboard and the API under ``--clients`` concurrent clients for
   ``--seconds`` seconds. A fresh PostgreSQL database (``DATABASE_URL``, default
   ``postgresql://postgres@127.0.0.1:5432/postgres``: a new database is created on that
   server and dropped afterwards; SQLite when the server does not answer, and
   ``database`` says so), migrated and populated with a board of ``--board`` (100 models
   x 30 benchmarks, ``leaderboard.synthetic.populate`` as in ``perf/platform.py``), served
   by ``brainmark serve --workers 4 --threads 4`` (the unit of docs/deploy.md) with the
   production settings (``settings_production``: DEBUG off, HTTPS redirects, a secret key,
   allowed host and trusted proxy 127.0.0.1). Each client is a thread with a keep-alive
   ``requests.Session`` sending ``X-Forwarded-Proto: https`` as the TLS proxy in front
   would, and requests a URL of the mix (the page ``/``, the grid ``/api/leaderboard``,
   ``/api/models``, ``/api/scores``, ``/leaderboard.json``, a model page) chosen at random,
   one after the other. Reported: requests per second, p50/p95/p99 latency (ms) per URL
   and overall, and errors by status (anything but 200; ``exception`` when no answer).
   The clients run in this process, on the same cores as the server.
2. ``submissions``: ``--submissions`` tiny models queued at once. In a fresh SQLite home
   (the embedded default), as ``tests/platform/test_pipeline_end_to_end.py`` does:
   ``brainmark sync`` (the built-in plugins), staff users (no daily quota; one per 10
   submissions, the per-minute limit of a user's submissions) and their API tokens,
   every benchmark but ``Kriegeskorte2008.IT-rdm`` made private; the site served with
   the production settings. Each model is the built-in plugin ``pixels`` copied to
   ``models/load_pixels_NNN`` and registered as ``load-pixels-NNN``, with a
   ``metadata.yml``; all zips are POSTed to ``/api/submissions/`` at once (concurrent
   requests), then ``brainmark dispatcher --until-idle --slots 2`` (local executor, the
   sandbox) drains the queue. Reported: the intake (statuses, latency), the time until
   every submission is final (target < 15 min), how many succeeded, the correctness of
   the scores (each equal to the built-in ``pixels`` one from ``brainmark score pixels
   Kriegeskorte2008.IT-rdm --json`` in a home of its own, to 1e-9: the models are
   identical), and a probe requesting ``/`` every second meanwhile (p50/p99, errors).
   Times count from the first POST: ``final_at_s`` when each submission was seen final,
   ``final_by`` how many were at 5, 10, 15... minutes; ``stages`` the median, largest
   and summed span of each stage over the submissions (``Submission.stages``, 1 s
   stamps; a span includes waiting: the dispatcher runs ``dispatcher_stage_slots`` (2)
   submission stages at once beside its 2 job slots, so most of a burst waits its turn).

Every process is stopped and the database dropped on the way out. The machine's load
(other processes) changes every number; the load average is recorded before and after.
Usage:

    .venv/bin/python perf/load.py [--clients 50] [--seconds 60] [--submissions 100]
                                  [--skip-submissions]
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
import importlib.util
import json
import random
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "load.json"


def _perf_module(name: str):
    """A sibling perf script as a module (their helpers, not copies of them)."""
    spec = importlib.util.spec_from_file_location(f"perf_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pipeline = _perf_module("pipeline")
perf_platform = _perf_module("platform")
log, environment, timed_run = pipeline.log, pipeline.environment, pipeline.timed_run
started, server_address, free_port = pipeline.started, pipeline.server_address, pipeline.free_port

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# docs/deploy.md's unit: gthread workers, 4 processes x 4 threads.
WORKERS, THREADS = 4, 4
HEADERS = {"X-Forwarded-Proto": "https"}  # what the TLS proxy sets (settings_production)
PIXELS = Path(__file__).resolve().parents[1] / "src/brainmark/plugins/models/pixels"
BENCHMARK = "Kriegeskorte2008.IT-rdm"
METADATA = ("architecture: average pooling of the image\n"
            "parameters: 0\n"
            "training_data: none\n"
            "license: MIT\n"
            "reference: https://example.org/pixels\n")
# The per-minute limit on a user's submissions (accounts.ratelimit.SUBMISSION_USER; staff
# too): the burst comes from several submitters, each within it.
PER_USER_PER_MINUTE = 10
FINAL = ("succeeded", "failed", "rejected", "cancelled")
DRAIN_TARGET_S = 15 * 60
TOLERANCE = 1e-9


def production(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a production site on loopback, behind a (pretended) TLS proxy."""
    return environment(
        home, DJANGO_SETTINGS_MODULE="brainmark.platform.settings_production",
        BRAINMARK_SECRET_KEY=secrets.token_urlsafe(50), BRAINMARK_ALLOWED_HOSTS="127.0.0.1",
        BRAINMARK_TRUSTED_PROXIES="127.0.0.1", **extra)


def percentiles(seconds: list[float]) -> dict:
    if not seconds:
        return {"count": 0}
    ordered = sorted(seconds)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
                     * 1000, 1)

    return {"count": len(ordered), "p50_ms": at(0.5), "p95_ms": at(0.95),
            "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 1)}


@contextlib.contextmanager
def serving(env: dict[str, str], home: Path) -> Iterator[str]:
    """``brainmark serve`` with the deployment's workers on a free port: its address."""
    serve_log = home / "serve.log"
    with started(["serve", "--port", str(free_port()), "--workers", str(WORKERS),
                  "--threads", str(THREADS)], env, serve_log,
                 stdout=subprocess.PIPE, text=True) as server:
        yield server_address(server, serve_log)


@contextlib.contextmanager
def database(server_url: str) -> Iterator[tuple[str | None, str]]:
    """A new PostgreSQL database on ``server_url``'s server, dropped afterwards: (its URL,
    a description); (None, why not) when the server does not answer (SQLite then)."""
    import psycopg

    try:
        url, drop = perf_platform._postgres_database(server_url)
    except psycopg.OperationalError as error:
        yield None, f"sqlite (PostgreSQL at {server_url} did not answer: {error})"
        return
    try:
        yield url, "postgresql"
    finally:
        drop()


POPULATE = """
import sys, django
django.setup()
from brainmark.platform.leaderboard.models import Model
from brainmark.platform.leaderboard.synthetic import populate
populate(int(sys.argv[1]), int(sys.argv[2]), seed=1)
print(Model.objects.filter(public=True).order_by("identifier").first().identifier)
"""


class Client(threading.Thread):
    """Requests URLs of the mix one after the other until ``deadline``, recording each."""

    def __init__(self, address: str, urls: dict[str, str], deadline: float, seed: int):
        super().__init__(daemon=True)
        self.address, self.urls, self.deadline = address, urls, deadline
        self.random = random.Random(seed)
        self.records: list[tuple[str, str, float]] = []  # (url name, status, seconds)

    def run(self) -> None:
        names = list(self.urls)
        with requests.Session() as session:
            session.headers.update(HEADERS)
            while time.monotonic() < self.deadline:
                name = self.random.choice(names)
                start = time.perf_counter()
                try:
                    response = session.get(self.address + self.urls[name], timeout=60,
                                           allow_redirects=False)
                    response.content  # noqa: B018 (the whole body, as a browser reads it)
                    status = str(response.status_code)
                except requests.RequestException as error:
                    status = f"exception {type(error).__name__}"
                self.records.append((name, status, time.perf_counter() - start))


def web_load(folder: Path, server_url: str, clients: int, seconds: float,
             board: tuple[int, int]) -> dict:
    home = folder / "web-home"
    home.mkdir()
    with database(server_url) as (url, vendor):
        env = production(home, **({"DATABASE_URL": url} if url else {}))
        log(f"web: {vendor}; migrate, populate {board[0]} x {board[1]}")
        migrate_s = timed_run(["migrate"], env)[0]
        start = time.perf_counter()
        output = subprocess.run([sys.executable, "-c", POPULATE, *map(str, board)], env=env,
                                capture_output=True, text=True, timeout=900, check=False)
        if output.returncode != 0:
            raise RuntimeError(f"populating the board failed:\n{output.stderr[-3000:]}")
        populate_s = time.perf_counter() - start
        model = output.stdout.strip().splitlines()[-1]
        urls = {"page": "/", "api_leaderboard": "/api/leaderboard?expanded=",
                "api_models": "/api/models", "api_scores": "/api/scores",
                "leaderboard_json": "/leaderboard.json", "model_page": f"/models/{model}/"}
        with serving(env, home) as address:
            # The first request of each URL (a worker's imports, the board computed and
            # stored) is not measured; each must answer 200 before the load starts.
            warm_up = {}
            for name, path in urls.items():
                response = requests.get(address + path, headers=HEADERS, timeout=120,
                                        allow_redirects=False)
                warm_up[name] = response.status_code
            plain = requests.get(address + "/", timeout=60, allow_redirects=False)
            log(f"web: {clients} clients for {seconds:.0f} s at {address}")
            load_before = os.getloadavg()
            deadline = time.monotonic() + seconds
            threads = [Client(address, urls, deadline, seed) for seed in range(clients)]
            start = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=seconds + 120)
            elapsed = time.monotonic() - start
            load_after = os.getloadavg()
    records = [record for thread in threads for record in thread.records]
    errors = Counter(status for _, status, _ in records if status != "200")
    return {
        "database": vendor, "board": {"models": board[0], "benchmarks": board[1]},
        "migrate_s": round(migrate_s, 1), "populate_s": round(populate_s, 1),
        "server": {"workers": WORKERS, "threads": THREADS,
                   "settings": "brainmark.platform.settings_production"},
        "clients": clients, "seconds": round(elapsed, 1), "urls": urls,
        "warm_up_status": warm_up,
        "without_forwarded_proto_status": plain.status_code,
        "requests": len(records),
        "requests_per_s": round(len(records) / elapsed, 1),
        "latency": percentiles([s for _, status, s in records if status == "200"]),
        "per_url": {name: {**percentiles([s for n, status, s in records
                                          if n == name and status == "200"]),
                           "errors": sum(1 for n, status, _ in records
                                         if n == name and status != "200")}
                    for name in urls},
        "errors": sum(errors.values()), "errors_by_status": dict(errors),
        "load_average_during": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in load_after]},
    }


def model_zip(folder: Path, number: int) -> tuple[str, Path]:
    """The built-in ``pixels`` plugin as ``load-pixels-NNN``, zipped: (identifier, zip)."""
    identifier, name = f"load-pixels-{number:03d}", f"load_pixels_{number:03d}"
    root = folder / "plugins" / name
    plugin = root / "models" / name
    shutil.copytree(PIXELS, plugin, ignore=shutil.ignore_patterns("__pycache__"))
    replacements = {
        "__init__.py": [('model_registry["pixels"]', f'model_registry["{identifier}"]')],
        # The identifier (the layer keeps its name "pixels").
        "model.py": [('ActivationsModel(\n        "pixels"',
                      f'ActivationsModel(\n        "{identifier}"'),
                     ('ModelCommitment(\n        "pixels"',
                      f'ModelCommitment(\n        "{identifier}"')],
        "test.py": [('load_model("pixels")', f'load_model("{identifier}")'),
                    ('identifier == "pixels"', f'identifier == "{identifier}"')],
    }
    for file, pairs in replacements.items():
        text = (plugin / file).read_text()
        for old, new in pairs:
            if old not in text:
                raise RuntimeError(f"{PIXELS / file} no longer holds {old!r}: update "
                                   f"perf/load.py's renaming of the pixels plugin.")
            text = text.replace(old, new)
        (plugin / file).write_text(text)
    (plugin / "metadata.yml").write_text(METADATA)
    return identifier, pipeline.zip_plugin(root, folder / f"{name}.zip")


def bare_pixels_score(folder: Path) -> dict:
    """``brainmark score pixels BENCHMARK --json`` in a fresh home, outside the site."""
    home = folder / "bare-home"
    home.mkdir()
    log(f"bare brainmark score pixels {BENCHMARK}")
    seconds, stdout = timed_run(["score", "pixels", BENCHMARK, "--json"], environment(home))
    record = json.loads(stdout)
    return {"score": record["score"], "raw": record["raw"], "process_wall_s": round(seconds, 2)}


class Probe(threading.Thread):
    """Requests ``/`` every second (a visitor while the queue drains)."""

    def __init__(self, address: str):
        super().__init__(daemon=True)
        self.address = address
        self.records: list[tuple[str, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    response = session.get(self.address + "/", timeout=30,
                                           allow_redirects=False)
                    status = str(response.status_code)
                except requests.RequestException as error:
                    status = f"exception {type(error).__name__}"
                seconds = time.perf_counter() - start
                self.records.append((status, seconds))
                self.stop.wait(max(0.0, 1.0 - seconds))


def submit(address: str, token: str, archive: Path) -> dict:
    start = time.perf_counter()
    with archive.open("rb") as stream:
        response = requests.post(f"{address}/api/submissions/",
                                 headers={**HEADERS, "Authorization": f"Bearer {token}"},
                                 files={"file": (archive.name, stream)}, timeout=600,
                                 allow_redirects=False)
    seconds = time.perf_counter() - start
    body = response.json() if response.headers.get("content-type", "").startswith(
        "application/json") else {}
    return {"status_code": response.status_code, "seconds": seconds, "id": body.get("id"),
            "status": body.get("status"), "text": response.text[:500]}


def statuses(database_path: Path, ids: list[int]) -> dict[int, str]:
    marks = ",".join("?" * len(ids))
    with contextlib.closing(sqlite3.connect(f"file:{database_path}?mode=ro", uri=True,
                                            timeout=10)) as connection:
        return dict(connection.execute(
            f"SELECT id, status FROM submissions_submission WHERE id IN ({marks})",
            ids).fetchall())


# The stages of one submission, as (name, from status, to status) of Submission.stages.
STAGES = (("queue_wait_s", "validated", "testing"), ("tests_s", "testing", "tested"),
          ("merge_s", "tested", "merged"), ("sync_and_plan_s", "merged", "scoring"),
          ("scoring_s", "scoring", "succeeded"))


def stage_spans(database_path: Path, ids: list[int]) -> dict:
    """Per stage, over the submissions: the median, largest and summed span (the stamps'
    1 s resolution)."""
    marks = ",".join("?" * len(ids))
    with contextlib.closing(sqlite3.connect(database_path)) as connection:
        rows = connection.execute(
            f"SELECT stages FROM submissions_submission WHERE id IN ({marks})",
            ids).fetchall()
    spans: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for (text,) in rows:
        stamps = json.loads(text)
        for name, start, end in STAGES:
            span = pipeline.span(pipeline.epoch(stamps.get(start)),
                                 pipeline.epoch(stamps.get(end)))
            if span is not None:
                spans[name].append(span)
    return {name: {"median": statistics.median(values), "max": max(values),
                   "sum": round(sum(values), 1)} if values else None
            for name, values in spans.items()}


def submission_load(folder: Path, count: int, drain_timeout: float) -> dict:
    bare = bare_pixels_score(folder)
    home = folder / "submissions-home"
    home.mkdir()
    env = production(home)
    users = -(-count // PER_USER_PER_MINUTE)
    log(f"submissions: migrate, sync (built-in plugins), {users} staff user(s) and tokens")
    setup = {"migrate_s": round(timed_run(["migrate"], env)[0], 1),
             "sync_s": round(timed_run(["sync"], env)[0], 1), "submitters": users}
    tokens = []
    for user in range(users):
        email = f"load-{user:02d}@example.org"
        timed_run(["user", "create", email, "--staff"], env, stdin=pipeline.PASSWORD * 2)
        tokens.append(timed_run(["token", "create", email], env)[1].strip().splitlines()[-1])
    database_path = home / "platform" / "brainmark.sqlite3"
    with contextlib.closing(sqlite3.connect(database_path)) as connection, connection:
        connection.execute(
            "UPDATE leaderboard_benchmarkversion SET public = 0 WHERE benchmark_type_id NOT "
            "IN (SELECT id FROM leaderboard_benchmarktype WHERE identifier = ?)", (BENCHMARK,))
    zips = dict(model_zip(folder, number) for number in range(1, count + 1))
    port = free_port()
    env = {**env, "BRAINMARK_SITE_URL": f"http://127.0.0.1:{port}"}
    serve_log = home / "serve.log"
    with started(["serve", "--port", str(port), "--workers", str(WORKERS), "--threads",
                  str(THREADS)], env, serve_log, stdout=subprocess.PIPE, text=True) as server:
        address = server_address(server, serve_log)
        probe = Probe(address)
        probe.start()
        load_before = os.getloadavg()
        log(f"submissions: POSTing {count} zips at once")
        t0 = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=min(count, 50)) as pool:
                answers = list(pool.map(
                    lambda pair: submit(address, tokens[pair[0] % users], pair[1]),
                    enumerate(zips.values())))
            intake_s = time.monotonic() - t0
            ids = [answer["id"] for answer in answers if answer["status_code"] == 201]
            log(f"submissions: {len(ids)} accepted in {intake_s:.1f} s; dispatcher --slots 2")
            drained_s, counts, final_at = None, Counter(), {}
            dispatcher_log = home / "dispatcher.log"
            with started(["dispatcher", "--until-idle", "--slots", "2", "--poll", "0.2"], env,
                         dispatcher_log, stdout=subprocess.DEVNULL) as dispatcher:
                while ids and time.monotonic() - t0 < drain_timeout:
                    try:
                        now = statuses(database_path, ids)
                    except sqlite3.OperationalError:  # locked for a moment: look again
                        time.sleep(1)
                        continue
                    counts = Counter(now.values())
                    for key, status in now.items():
                        if status in FINAL:
                            final_at.setdefault(key, time.monotonic() - t0)
                    if len(final_at) == len(ids):
                        drained_s = time.monotonic() - t0
                        break
                    if dispatcher.poll() is not None:
                        break
                    time.sleep(1)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    dispatcher.wait(timeout=30)  # --until-idle: it ends once idle
                dispatcher_code = dispatcher.poll()
        finally:
            probe.stop.set()
            probe.join()
        load_after = os.getloadavg()
        log(f"submissions: drained in {drained_s} s: {dict(counts)}")
    with contextlib.closing(sqlite3.connect(database_path)) as connection:
        scores = dict(connection.execute(
            "SELECT m.identifier, s.ceiled FROM leaderboard_score s "
            "JOIN leaderboard_modelversion mv ON s.model_version_id = mv.id "
            "JOIN leaderboard_model m ON mv.model_id = m.id "
            "JOIN leaderboard_benchmarkversion bv ON s.benchmark_version_id = bv.id "
            "JOIN leaderboard_benchmarktype t ON bv.benchmark_type_id = t.id "
            "WHERE t.identifier = ? AND m.identifier LIKE 'load-pixels-%'",
            (BENCHMARK,)).fetchall())
        failures = connection.execute(
            "SELECT s.id, s.status, substr(s.log, -600), "
            "(SELECT group_concat(substr(j.log, -600) || ' || ' || substr(j.output, -1500), ' | ') "
            "FROM submissions_job j "
            "WHERE j.submission_id = s.id AND j.status != 'succeeded') "
            "FROM submissions_submission s WHERE s.status != 'succeeded' LIMIT 3").fetchall()
    deviations = [abs(scores[model] - bare["score"]) for model in zips
                  if scores.get(model) is not None]
    probe_ok = [seconds for status, seconds in probe.records if status == "200"]
    probe_errors = Counter(status for status, _ in probe.records if status != "200")
    return {
        "database": "sqlite", "benchmark": BENCHMARK, "slots": 2, "executor": "local",
        "submitted": count, "setup": setup,
        "intake": {"seconds": round(intake_s, 1),
                   "status_codes": dict(Counter(a["status_code"] for a in answers)),
                   "statuses": dict(Counter(a["status"] for a in answers)),
                   "latency": percentiles([a["seconds"] for a in answers]),
                   "refused_example": next((a["text"] for a in answers
                                            if a["status_code"] != 201), None)},
        "drained_s": round(drained_s, 1) if drained_s is not None else None,
        "drain_under_15_min": drained_s is not None and drained_s < DRAIN_TARGET_S,
        "drain_timeout_s": drain_timeout, "dispatcher_exit_code": dispatcher_code,
        "final_statuses": dict(counts),
        "final_by": {f"{minutes}_min": sum(1 for at in final_at.values() if at < minutes * 60)
                     for minutes in (5, 10, 15, 20, 30)},
        "final_at_s": sorted(round(at) for at in final_at.values()),
        "stages": stage_spans(database_path, ids) if ids else None,
        "succeeded": counts["succeeded"],
        "correctness": {
            "bare_pixels": bare, "scores_found": len(deviations),
            "all_equal_to_bare_within_1e-9": len(deviations) == count
            and max(deviations, default=0.0) <= TOLERANCE,
            "max_abs_deviation": max(deviations, default=None),
        },
        "leaderboard_probe_while_draining": {
            **percentiles(probe_ok), "errors": sum(probe_errors.values()),
            "errors_by_status": dict(probe_errors)},
        "failures_example": [{"id": i, "status": s, "log_tail": text, "jobs_log_tail": jobs}
                             for i, s, text, jobs in failures],
        "load_average_during": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in load_after]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--board", default="100x30", help="Models x benchmarks (web part).")
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--drain-timeout", type=float, default=1800,
                        help="Seconds the queue may take to drain before it is abandoned.")
    parser.add_argument("--skip-submissions", action="store_true")
    parser.add_argument("--note", default="", help="Written into the JSON as `note`.")
    args = parser.parse_args()
    board = tuple(int(part) for part in args.board.split("x"))
    server = (os.environ.get("BRAINMARK_DATABASE_URL") or os.environ.get("DATABASE_URL")
              or DEFAULT_SERVER)
    results: dict = {
        "note": args.note,
        "machine": {
            "cpu_count": os.cpu_count(),
            "brainmark": importlib.metadata.version("brainmark"),
            "gunicorn": importlib.metadata.version("gunicorn"),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "targets": {"web_errors": 0, "drain_s": DRAIN_TARGET_S,
                    "score_tolerance": TOLERANCE},
    }
    with tempfile.TemporaryDirectory(prefix="brainmark-perf-load-") as folder:
        results["web"] = web_load(Path(folder), server, args.clients, args.seconds, board)
        if not args.skip_submissions:
            results["submissions"] = submission_load(Path(folder), args.submissions,
                                                     args.drain_timeout)
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(results, indent=2)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
