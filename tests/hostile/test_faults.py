"""Faults: processes killed at random, the database, the object store and the disk gone for a
while, a backup taken mid-scoring. Each test breaks a real part (a process killed with
SIGKILL, a TCP proxy stopped, moto's server stopped, a 2 MiB tmpfs filled) and checks the
platform's promise: every submission ends in a definite state, nothing is lost, scored twice
or half-written, and work resumes once the part is back.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from tests.platform.live_site import (
    BRAINMARK,
    PASSWORD,
    Site,
    clean_environment,
    free_port,
    read_server_address,
    run,
    wait_until,
)
from tests.platform.test_pipeline_end_to_end import plugin_zip

FINAL_SUBMISSION = {"succeeded", "failed", "rejected", "cancelled"}
FINAL_JOB = {"succeeded", "failed", "cancelled"}
ONLY_BENCHMARK = "Kriegeskorte2008.IT-rdm"
MAX_ATTEMPTS = 3  # RetryPolicy's default max_attempts, the dispatcher's policy


# --- processes ------------------------------------------------------------------------------


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL ``process`` and everything in its process group (started in a session of
    its own), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)


class Server:
    """``brainmark serve`` on one fixed port, killed with SIGKILL and started again there."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.address = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        deadline = time.monotonic() + 60
        while True:  # the killed server's socket may linger a moment
            with self.log.open("a") as log:
                process = subprocess.Popen(
                    [str(BRAINMARK), "serve", "--port", str(self.port), "--workers", "1",
                     "--threads", "4"], env={**self.env, "BRAINMARK_SITE_URL": self.address},
                    stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
            try:
                printed = read_server_address(process, self.log.read_text)
            except AssertionError:
                if time.monotonic() < deadline and "in use" in self.log.read_text()[-2000:]:
                    time.sleep(0.5)
                    continue
                raise
            assert printed == self.address, printed
            self.process = process
            return

    def kill(self) -> None:
        if self.process is not None:
            kill_group(self.process)
            self.process = None


class Dispatchers:
    """``brainmark dispatcher --name NAME`` processes, each in a session of its own."""

    def __init__(self, env: dict[str, str], log: Path, name: str) -> None:
        self.env, self.log, self.name = env, log, name
        self.process: subprocess.Popen | None = None
        self.started: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [str(BRAINMARK), "dispatcher", "--poll", "0.2", "--slots", "2", "--name",
                 self.name, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.started.append(process)
        self.process = process
        return process

    def kill(self) -> None:
        """SIGKILL the dispatcher alone (its sandboxed jobs die with it: bubblewrap's
        --die-with-parent), as a crash would."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def kill_all(self) -> None:
        for process in self.started:
            kill_group(process)


def descendants(root: int) -> list[int]:
    """The processes below ``root`` (children, their children...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2:].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    return ""


def worker_pids(dispatchers: Dispatchers) -> list[int]:
    """This test's processes running a sandboxed scoring job (``brainmark.cli score`` in
    bubblewrap, below the current dispatcher): never anyone else's."""
    if dispatchers.process is None:
        return []
    return [pid for pid in descendants(dispatchers.process.pid)
            if "-m brainmark.cli score " in command_line(pid)]


def kill_a_worker(site: Site, dispatchers: Dispatchers, rng: random.Random) -> bool:
    """SIGKILL one of this test's sandboxed scoring jobs, waiting (bounded) for one to
    start while jobs are queued or running; False when none is left."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pids = worker_pids(dispatchers)
        if pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rng.choice(pids), signal.SIGKILL)
            return True
        if not site.query("SELECT id FROM submissions_job WHERE status IN ('queued', "
                          "'running')"):
            return False
        time.sleep(0.1)
    return False


def write_lock_held(sqlite_file: Path) -> bool:
    """Whether another connection holds SQLite's write lock right now."""
    connection = sqlite3.connect(sqlite_file, timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        connection.close()


def set_up_home(home: Path, email: str) -> tuple[dict[str, str], str]:
    """A migrated, synced SQLite home with one account (staff: no daily submission quota);
    (environment, API token)."""
    env = clean_environment(home)
    run([str(BRAINMARK), "migrate"], env)
    run([str(BRAINMARK), "sync"], env)
    subprocess.run([str(BRAINMARK), "user", "create", email, "--staff"], input=PASSWORD * 2,
                   env=env, text=True, check=True, capture_output=True, timeout=120)
    token = run([str(BRAINMARK), "token", "create", email], env).strip().splitlines()[-1]
    return env, token


def only_one_public_benchmark(site: Site) -> None:
    site.query("UPDATE leaderboard_benchmarkversion SET public = 0 WHERE benchmark_type_id "
               "NOT IN (SELECT id FROM leaderboard_benchmarktype WHERE identifier = ?)",
               ONLY_BENCHMARK)


def submit_until_answered(site: Site, zip_path: Path, *, within: float = 120) -> dict:
    """POST the zip, again while the server is down or the per-minute rate limit refuses
    (a request cut by a kill counts too); the answer."""
    deadline = time.monotonic() + within
    while True:
        try:
            with zip_path.open("rb") as stream:
                response = requests.post(
                    f"{site.address}/api/submissions/",
                    headers={"Authorization": f"Bearer {site.token}"},
                    files={"file": (zip_path.name, stream)}, timeout=60)
            if response.status_code != 429 or time.monotonic() > deadline:
                assert response.status_code == 201, response.text
                return response.json()
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(1.0)


def integrity_of(sqlite_file: Path) -> str:
    with sqlite3.connect(sqlite_file) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def assert_drained_and_consistent(site: Site) -> None:
    """Every submission final, no live job, attempts within the policy, at most one score
    per pair and one for each succeeded job, an intact database."""
    submissions = site.query("SELECT id, status, log FROM submissions_submission")
    stuck = [(pk, status, log[-600:]) for pk, status, log in submissions
             if status not in FINAL_SUBMISSION]
    assert not stuck, stuck
    jobs = site.query("SELECT id, status, attempts, log FROM submissions_job")
    assert all(status in FINAL_JOB for _, status, _, _ in jobs), jobs
    assert all(1 <= attempts <= MAX_ATTEMPTS for _, _, attempts, _ in jobs), jobs
    assert site.query("SELECT model_version_id, benchmark_version_id, COUNT(*) FROM "
                      "leaderboard_score GROUP BY 1, 2 HAVING COUNT(*) > 1") == []
    unscored = site.query(
        "SELECT j.id FROM submissions_job j LEFT JOIN leaderboard_score s ON "
        "s.model_version_id = j.model_version_id AND s.benchmark_version_id = "
        "j.benchmark_version_id WHERE j.status = 'succeeded' AND s.ceiled IS NULL")
    assert unscored == []
    # A succeeded model submission has the score of each of its jobs' pairs.
    for pk, status, log in submissions:
        if status == "succeeded":
            assert site.query("SELECT COUNT(*) FROM submissions_job WHERE submission_id = ? "
                              "AND status = 'succeeded'", pk)[0][0] >= 1, log
    assert integrity_of(site.database) == "ok"


# --- (1) kill -9 at random --------------------------------------------------------------------


KILLS = 20
SUBMISSIONS = 5
MIN_WORKER_KILLS = 1
SEED = 20261129


@pytest.mark.slow
def test_random_kills_leave_every_submission_definite_and_the_queue_drains(tmp_path: Path):
    """Twenty seeded SIGKILLs, each at a random moment while five model submissions go
    through tests, merge, sync and scoring: of the dispatcher (restarted with the same
    name), of a sandboxed scoring job (a worker), of the web server (restarted on its port)
    and of the dispatcher while it holds SQLite's write lock.

    SQLite has no server whose connection could drop: "the database connection" is killed
    as the process holding it, mid-transaction (SQLite's journal rolls it back); losing a
    PostgreSQL connection is :func:`test_the_dispatcher_survives_postgresql_going_away`.
    Afterwards one ``brainmark dispatcher --until-idle`` of the same name drains the queue.
    """
    rng = random.Random(SEED)
    home = tmp_path / "home"
    env, token = set_up_home(home, "killed@example.org")
    server = Server(env, free_port(), tmp_path / "serve.log")
    site = Site(server.address, home, {**env, "BRAINMARK_SITE_URL": server.address}, token,
                "killed@example.org")
    only_one_public_benchmark(site)
    dispatchers = Dispatchers(site.env, tmp_path / "dispatcher.log", "kill-loop")
    zips = [plugin_zip(tmp_path, f"killed-net-{number}", "model")
            for number in range(SUBMISSIONS)]
    started = time.monotonic()
    try:
        server.start()
        for path in zips[:SUBMISSIONS // 2]:
            site.submit(path)
        dispatchers.start()
        waiting, kills = list(zips[SUBMISSIONS // 2:]), []
        # First half: intake, tests, merge and sync. Second half, once jobs run: scoring.
        while len(kills) < KILLS:
            targets = {"dispatcher": 2, "database": 1, "server": 1}
            if len(kills) == KILLS // 2:  # the first kill of the second half: a job's
                wait_until(lambda: worker_pids(dispatchers), within=600,
                           what="a scoring job running")
                targets = {"worker": 1}
            else:
                time.sleep(rng.uniform(0.5, 5.0))
                if waiting and rng.random() < 0.4:
                    submit_until_answered(site, waiting.pop())
                if len(kills) > KILLS // 2:
                    targets["worker"] = 4
            [target] = rng.choices(list(targets), weights=list(targets.values()))
            if target == "worker":
                if not kill_a_worker(site, dispatchers, rng):
                    continue  # no job left to kill
            elif target == "server":
                server.kill()
                time.sleep(rng.uniform(0.0, 1.0))
                server.start()
            else:
                if target == "database":  # wait (bounded) for a write transaction
                    deadline = time.monotonic() + 3
                    while not write_lock_held(site.database) and time.monotonic() < deadline:
                        time.sleep(0.002)
                dispatchers.kill()
                dispatchers.start()
            kills.append(target)
        for path in waiting:
            submit_until_answered(site, path)
        dispatchers.kill()
        site.dispatch_until_idle("--name", "kill-loop", "--slots", "2")
    finally:
        dispatchers.kill_all()
        server.kill()

    print(f"{len(kills)} kills in {time.monotonic() - started:.0f} s: {kills}")
    assert len(kills) >= KILLS and kills.count("worker") >= MIN_WORKER_KILLS, kills
    assert {"dispatcher", "database", "server"} <= set(kills), kills
    submitted = site.query("SELECT COUNT(*) FROM submissions_submission")[0][0]
    assert submitted == SUBMISSIONS
    assert_drained_and_consistent(site)
    # The killed jobs cost attempts (SIGKILL reads as out of memory: the larger tier next).
    assert site.query("SELECT id FROM submissions_job WHERE attempts > 1 OR status = "
                      "'failed'"), site.query("SELECT id, log FROM submissions_job")
    # Every model submitted got its one row on the board and most were scored.
    scored = site.query(
        "SELECT m.identifier FROM leaderboard_score s JOIN leaderboard_modelversion mv ON "
        "s.model_version_id = mv.id JOIN leaderboard_model m ON mv.model_id = m.id WHERE "
        "m.identifier LIKE 'killed-net-%' AND s.ceiled IS NOT NULL")
    assert scored, "no submitted model was scored at all"
    assert time.monotonic() - started < 600


# --- (2) PostgreSQL unreachable for a while ---------------------------------------------------


class TcpProxy:
    """A loopback TCP forwarder to ``target`` that can be stopped (every connection cut,
    new ones refused) and started again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def postgresql_url() -> str | None:
    url = os.environ.get("BRAINMARK_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgresql://", "postgres://")) else None


def postgresql_admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


@pytest.mark.db
@pytest.mark.slow
def test_the_dispatcher_survives_postgresql_going_away(tmp_path: Path):
    """A ``brainmark dispatcher`` whose database is reached through a proxy that is stopped
    for a while: it logs the lost connection and keeps trying (no crash, no crash loop),
    and once the proxy is back it plans and finishes the submission queued meanwhile;
    the rows are whole (the submission final, its jobs final, one score per pair)."""
    url = postgresql_url()
    if url is None:
        pytest.skip("DATABASE_URL names no PostgreSQL server (.ci/run's second pass sets it)")
    import psycopg

    parts = urlsplit(url)
    name = f"brainmark_faults_{secrets.token_hex(4)}"
    postgresql_admin(url, f'CREATE DATABASE "{name}"')
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}"
                                        f"{':' + parts.password if parts.password else ''}"
                                        f"@127.0.0.1:{proxy.port}", path=f"/{name}"))
    direct = urlunsplit(parts._replace(path=f"/{name}"))
    home = tmp_path / "home"
    env = {**clean_environment(home), "DATABASE_URL": proxied}
    log = tmp_path / "dispatcher.log"
    dispatcher = None
    proxy.start()
    try:
        run([str(BRAINMARK), "migrate"], env)
        run([str(BRAINMARK), "sync"], env)
        with psycopg.connect(direct, autocommit=True) as connection:
            connection.execute(
                "UPDATE leaderboard_benchmarkversion SET public = false WHERE "
                "benchmark_type_id NOT IN (SELECT id FROM leaderboard_benchmarktype WHERE "
                "identifier = %s)", (ONLY_BENCHMARK,))
        with log.open("ab") as stream:
            dispatcher = subprocess.Popen(
                [str(BRAINMARK), "dispatcher", "--poll", "0.2", "--name", "pg-faults"],
                env=env, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: "running jobs" in log.read_text(), within=120,
                   what="the dispatcher starting")
        proxy.stop()
        wait_until(lambda: "database" in log.read_text().lower()
                   and "unavailable" in log.read_text().lower(), within=60,
                   what="the dispatcher reporting the lost database")
        time.sleep(3)  # a few more failed ticks
        assert dispatcher.poll() is None, log.read_text()[-3000:]
        # While it is away, a submission waits: a model version with a queued job, written
        # directly (the web process would refuse just as well without its database).
        queued = queue_a_scoring_job(direct)
        proxy.start()
        wait_until(lambda: job_status(direct, queued) in FINAL_JOB, within=300,
                   what=f"job {queued} ending after the database came back")
        assert dispatcher.poll() is None, log.read_text()[-3000:]
        assert job_status(direct, queued) == "succeeded", job_row(direct, queued)
        with psycopg.connect(direct) as connection:
            assert connection.execute(
                "SELECT COUNT(*) FROM leaderboard_score s JOIN submissions_job j ON "
                "s.model_version_id = j.model_version_id AND s.benchmark_version_id = "
                "j.benchmark_version_id WHERE j.id = %s AND s.ceiled IS NOT NULL",
                (queued,)).fetchone()[0] == 1
            assert connection.execute("SELECT COUNT(*) FROM submissions_job WHERE status IN "
                                      "('queued', 'running')").fetchone()[0] == 0
    finally:
        if dispatcher is not None:
            kill_group(dispatcher)
        proxy.stop()
        postgresql_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def queue_a_scoring_job(url: str) -> int:
    """A queued job scoring the built-in ``pixels`` on the one public benchmark (as the
    plan would queue it); its id."""
    import psycopg

    with psycopg.connect(url) as connection:
        model_version, = connection.execute(
            "SELECT mv.id FROM leaderboard_modelversion mv JOIN leaderboard_model m ON "
            "mv.model_id = m.id WHERE m.identifier = 'pixels' ORDER BY mv.version DESC"
        ).fetchone()
        benchmark_version, = connection.execute(
            "SELECT v.id FROM leaderboard_benchmarkversion v JOIN leaderboard_benchmarktype t "
            "ON v.benchmark_type_id = t.id WHERE t.identifier = %s ORDER BY v.version DESC",
            (ONLY_BENCHMARK,)).fetchone()
        connection.execute("DELETE FROM leaderboard_score WHERE model_version_id = %s AND "
                           "benchmark_version_id = %s", (model_version, benchmark_version))
        job, = connection.execute(
            "INSERT INTO submissions_job (model_version_id, benchmark_version_id, status, "
            "attempts, worker, memory_tier, failure_kind, failure_reason, output, log, "
            "needs_gpu, plugin_commit, isolation, created, updated) VALUES (%s, %s, 'queued', "
            "0, '', 'standard', '', '', '', '', false, '', '', now(), now()) RETURNING id",
            (model_version, benchmark_version)).fetchone()
    return job


def job_status(url: str, job_id: int) -> str:
    return job_row(url, job_id)[0]


def job_row(url: str, job_id: int) -> tuple[str, str, str]:
    """(status, failure reason, output) of a job."""
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute("SELECT status, failure_reason, output FROM "
                                  "submissions_job WHERE id = %s", (job_id,)).fetchone()


# --- (3) the object store unavailable -------------------------------------------------------


S3_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                  "AWS_DEFAULT_REGION": "us-east-1"}


class MotoServer:
    """moto's S3 server on one fixed loopback port, stopped and started again (its buckets
    live in this process, so they outlast a restart)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port,
                                          verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture
def stoppable_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MotoServer, str]]:
    """A versioned bucket on a moto server of this test's own; (server, bucket)."""
    import boto3

    for variable, value in S3_ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    server = MotoServer()
    server.start()
    bucket = f"brainmark-faults-{secrets.token_hex(4)}"
    client = boto3.client("s3", endpoint_url=server.endpoint)
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    try:
        yield server, bucket
    finally:
        server.stop()


def bucket_versions(server: MotoServer, bucket: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=server.endpoint)
    return [version["Key"] for version in
            client.list_object_versions(Bucket=bucket).get("Versions", [])]


@pytest.mark.db
@pytest.mark.usefixtures("database")
def test_an_unreachable_object_store_refuses_intake_and_uploads_with_a_502(
        stoppable_s3, tmp_path: Path):
    """With the S3 server down, a submission and a data upload are answered 502 naming the
    store, leaving no row and no object; the same requests succeed once it is back."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test import override_settings as django_settings

    from brainmark.platform.accounts.models import ApiToken
    from brainmark.platform.submissions.models import Submission
    from brainmark.platform.uploads.models import DataPackage
    from brainmark.settings import override_settings

    server, bucket = stoppable_s3
    user = get_user_model().objects.create_user("s3@example.org", "s3@example.org",
                                                "a long pass phrase 42")
    _, token = ApiToken.objects.create_token(user, "faults")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    archive = plugin_zip(tmp_path, "s3-faults-net", "model")
    weights = tmp_path / "weights.pt"
    weights.write_bytes(os.urandom(20_000))
    weights_sha1 = hashlib.sha1(weights.read_bytes()).hexdigest()

    def submit():
        with archive.open("rb") as stream:
            return api.post("/api/submissions/", {"file": stream})

    def upload():
        with weights.open("rb") as stream:
            return api.post("/api/uploads/", {"file": stream, "kind": "weights",
                                              "identifier": "s3-faults-weights",
                                              "sha1": weights_sha1})

    with (django_settings(ALLOWED_HOSTS=["testserver"]),
          override_settings(store=f"s3://{bucket}/site", s3_endpoint_url=server.endpoint)):
        server.stop()
        for answer in (submit(), upload()):
            assert answer.status_code == 502, answer.content
            message = answer.json()["detail"]
            assert "object store" in message and f"s3://{bucket}/site" in message, message
        assert Submission.objects.count() == 0 and DataPackage.objects.count() == 0
        server.start()
        assert bucket_versions(server, bucket) == []
        submitted, uploaded = submit(), upload()
        assert submitted.status_code == 201, submitted.content
        assert uploaded.status_code == 201, uploaded.content
    row = Submission.objects.get()
    assert row.status == "validated"
    assert sorted(bucket_versions(server, bucket)) == sorted(
        [f"site/{row.archive_key}", f"site/uploads/{user.pk}/s3-faults-weights/weights.pt"])


# --- (4) the disk full ----------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of its own (root only), unmounted afterwards."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, timeout=60)


def fill(folder: Path) -> None:
    """Fill the file system of ``folder`` up to its last block."""
    with (folder / "ballast").open("wb", buffering=0) as ballast:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while ballast.write(b"\0" * size):
                    pass


def left_over(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def test_a_full_disk_leaves_no_partial_file_and_the_old_version_intact(small_disk: Path,
                                                                       tmp_path: Path):
    """On a full file system, writing a cache entry (``atomic_path``), a result record
    (``write_json_atomically``) and an upload into a LocalStore each fail with ENOSPC,
    naming the file (the store's error: the key, the store and the disk being full); nothing partial
    or temporary is left and the previous version of each file is intact."""
    from brainmark._files import atomic_path, write_json_atomically
    from brainmark.data.store import LocalStore
    from brainmark.exceptions import StoreError

    cache = small_disk / "cache" / "activations.npy"
    record = small_disk / "results" / "record.json"
    store = LocalStore(small_disk / "store")
    first = tmp_path / "first.bin"
    first.write_bytes(b"first version")
    _, first_version = store.upload(first, "uploads/1/net/weights.bin")
    with atomic_path(cache) as temporary:
        temporary.write_bytes(b"old activations")
    write_json_atomically(record, {"score": 0.5})
    fill(small_disk)

    big = os.urandom(256 * 1024)
    with pytest.raises(OSError) as cache_error, atomic_path(cache) as temporary:
        temporary.write_bytes(big)
    assert cache_error.value.errno == errno.ENOSPC
    assert str(cache) in str(cache_error.value), cache_error.value  # says where
    with pytest.raises(OSError) as record_error:
        write_json_atomically(record, {"score": 0.75, "padding": "x" * len(big)})
    assert record_error.value.errno == errno.ENOSPC
    assert str(record) in str(record_error.value), record_error.value
    second = tmp_path / "second.bin"
    second.write_bytes(big)
    with pytest.raises(StoreError) as store_error:
        store.upload(second, "uploads/1/net/weights.bin")
    message = str(store_error.value)
    assert "uploads/1/net/weights.bin" in message and store.location in message, message
    assert "No space left" in message, message

    assert cache.read_bytes() == b"old activations"
    assert record.read_text() == '{"score": 0.5}'
    assert store.versions("uploads/1/net/weights.bin") == [first_version]
    assert (small_disk / "store" / "uploads/1/net/weights.bin").read_bytes() == b"first version"
    assert left_over(small_disk) == []
    # Room again: the same writes succeed.
    (small_disk / "ballast").unlink()
    _, second_version = store.upload(second, "uploads/1/net/weights.bin")
    assert store.versions("uploads/1/net/weights.bin") == [first_version, second_version]


# --- (5) a backup taken while scoring -------------------------------------------------------


@pytest.mark.slow
def test_a_backup_taken_while_scoring_restores_to_a_consistent_state(tmp_path: Path):
    """``brainmark backup`` while a dispatcher tests, merges and scores submissions; the
    backup restored into a fresh home is consistent, which here means:

    - SQLite's ``PRAGMA integrity_check`` is ``ok``;
    - every Score row's model version and benchmark version exist (foreign keys checked);
    - the plugin store's HEAD commit exists and every commit's ``Submission-Id`` trailer
      names a submission row; every submission with a ``plugin_commit`` has that commit;
    - every running job holds a lease (so it is retried, never stuck), and a dispatcher of
      the same name started on the restored home drains it: every submission ends final,
      every job final, at most one score per pair.
    """
    home = tmp_path / "home"
    env, token = set_up_home(home, "backup@example.org")
    server = Server(env, free_port(), tmp_path / "serve.log")
    site = Site(server.address, home, env, token, "backup@example.org")
    only_one_public_benchmark(site)
    dispatchers = Dispatchers(env, tmp_path / "dispatcher.log", "backup-loop")
    backup = tmp_path / "backup"
    try:
        server.start()
        for number in range(3):
            site.submit(plugin_zip(tmp_path, f"backup-net-{number}", "model"))
        server.kill()
        dispatchers.start()
        wait_until(lambda: site.query("SELECT id FROM submissions_job WHERE status = "
                                      "'running'"), within=300, what="a job running")
        run([str(BRAINMARK), "backup", str(backup)], env)
    finally:
        dispatchers.kill_all()
        server.kill()

    restored_home = tmp_path / "restored"
    restored_env = clean_environment(restored_home)
    run([str(BRAINMARK), "restore", str(backup), "--yes"], restored_env)
    restored = Site("", restored_home, restored_env, token, "backup@example.org")
    assert integrity_of(restored.database) == "ok"
    assert restored.query("PRAGMA foreign_key_check") == []
    assert restored.query(
        "SELECT s.id FROM leaderboard_score s LEFT JOIN leaderboard_modelversion mv ON "
        "s.model_version_id = mv.id LEFT JOIN leaderboard_benchmarkversion bv ON "
        "s.benchmark_version_id = bv.id WHERE mv.id IS NULL OR bv.id IS NULL") == []
    plugins = restored_home / "platform" / "plugins"
    git = ["git", "-C", str(plugins)]
    run([*git, "cat-file", "-e", "HEAD^{commit}"], restored_env)
    trailers = run([*git, "log", "--format=%(trailers:key=Submission-Id,valueonly)"],
                   restored_env).split()
    rows = {str(pk) for (pk,) in restored.query("SELECT id FROM submissions_submission")}
    assert set(trailers) <= rows, (trailers, rows)
    for (commit,) in restored.query("SELECT plugin_commit FROM submissions_submission "
                                    "WHERE plugin_commit != ''"):
        run([*git, "cat-file", "-e", f"{commit}^{{commit}}"], restored_env)
    assert restored.query("SELECT id FROM submissions_job WHERE status = 'running' AND "
                          "lease_expires IS NULL") == []
    restored.dispatch_until_idle("--name", "backup-loop", "--slots", "2")
    assert_drained_and_consistent(restored)


# --- (1b) the database lost mid-stage, deterministically ------------------------------------


@pytest.mark.db
@pytest.mark.usefixtures("database")
def test_a_sync_stage_cut_by_the_database_runs_again_and_plans_its_jobs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The moment the kill loop hits only by chance: the connection lost after a merged
    submission's rows are written and before its jobs are planned (a fault injected in
    ``plan_jobs``). Nothing of the stage stays, the stage is given back, and run again it
    writes the model version and plans its job: the submission is not ended without one."""
    import yaml
    from django.contrib.auth import get_user_model
    from django.db import OperationalError
    from tests.platform.test_pipeline_end_to_end import MODEL_METADATA

    from brainmark._scaffold import new_model
    from brainmark.platform.leaderboard.models import BenchmarkType, BenchmarkVersion, ModelVersion
    from brainmark.platform.submissions import processing
    from brainmark.platform.submissions.models import Job, Submission
    from brainmark.settings import override_settings

    with override_settings(home=tmp_path / "home"):
        user = get_user_model().objects.create_user("cut@example.org", "cut@example.org",
                                                    "a long pass phrase 42")
        benchmark = BenchmarkType.objects.create(identifier="Faults2026.IT-rdm")
        BenchmarkVersion.objects.create(benchmark_type=benchmark, version=1, public=True)
        scaffold = new_model("faults-cut-net", tmp_path / "source")
        (scaffold.folder / "metadata.yml").write_text(yaml.safe_dump(MODEL_METADATA))
        submission = Submission.objects.create(
            user=user, kind="model", status="merged",
            identifiers=[["model_registry", "faults-cut-net"]])
        submission.plugin_commit = processing.plugin_store().commit_submission(
            tmp_path / "source", submission_id=submission.pk, author_name="cut",
            author_email=user.email, allow_replace=True)
        submission.save(update_fields=["plugin_commit"])

        planner = processing.plan_jobs

        def connection_lost(*args: object, **kwargs: object) -> int:
            monkeypatch.setattr(processing, "plan_jobs", planner)  # once
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(processing, "plan_jobs", connection_lost)
        with pytest.raises(OperationalError):
            processing.advance(submission.pk, "merged")
        submission.refresh_from_db()
        assert submission.status == "merged", submission.log
        assert not ModelVersion.objects.filter(model__identifier="faults-cut-net").exists()

        processing.advance(submission.pk, "merged")
        submission.refresh_from_db()
        assert submission.status == "scoring", submission.log
        [job] = Job.objects.filter(submission=submission)
        assert (job.model_version.model.identifier, job.benchmark_version.benchmark_type_id,
                job.status) == ("faults-cut-net", benchmark.pk, "queued")
