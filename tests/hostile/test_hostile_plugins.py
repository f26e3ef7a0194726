"""Hostile plugins: submitted code that attacks the platform, and the rules that stop it.

Two levels, nothing mocked (bubblewrap, cgroups, the kernel's limits, a git plugin store,
the real loopback servers of this machine):

- Through the submission stage: each hostile zip goes through intake
  (``receive_submission``) and the test stage (``processing.run_tests``: the plugin's
  ``brainmark test`` in the sandbox, its log streamed into the row) on a platform home where
  another user's plugin is merged, with secrets in the platform's environment and files.
  Each case asserts: failed (or rejected), the rule named in its log and in the owner's
  mail, its log bounded, the rows, the plugin store, the other plugins and the platform's
  files unchanged, no process of it left; after an endless loop a benign submission passes.
  The limits are the platform's test limits with a shorter wall clock and log (seconds,
  not the half hour a real test may take).
- Directly on ``run_sandboxed`` and ``run_scoring_job``, for what is too slow through the
  whole stage: other jobs beside a fork bomb and a memory hog, a daemon left behind, a log
  flood without end, a hostile model in a scoring job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hostile.plugins import (
    ENDLESS_LOOP,
    LOG_FLOOD,
    MEMORY_HOG,
    hostile_model_zip,
    probe_report,
    probe_test,
)

from brainmark.pipeline.sandbox import (
    TRUNCATION_LINE,
    SandboxLimits,
    SandboxResult,
    run_sandboxed,
)

PYTHON = sys.executable
MIB = 1024**2
LOG_BYTES = 64 * 1024
MARKER = f"hostile-leftover-{uuid.uuid4().hex[:12]}"
# Secrets the platform's own process holds; none may reach a plugin.
SECRETS = {
    "BRAINMARK_SECRET_KEY": f"env-secret-key-{uuid.uuid4().hex}",
    "DATABASE_URL": f"postgresql://brainmark:db-password-{uuid.uuid4().hex}@127.0.0.1:5432/prod",
    "BRAINMARK_TOKEN": f"api-token-{uuid.uuid4().hex}",
    "AWS_SECRET_ACCESS_KEY": f"aws-secret-{uuid.uuid4().hex}",
}
SSH_KEY = f"-----BEGIN OPENSSH PRIVATE KEY----- ssh-key-{uuid.uuid4().hex}"
SECRET_KEY_FILE = f"file-secret-key-{uuid.uuid4().hex}"
LOOPBACK_SERVICES = (5432, 6379)  # PostgreSQL and Redis, listening here and on CI


def leftovers(marker: str) -> list[str]:
    """Command lines of processes of this machine that carry ``marker``."""
    found = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> SHA1), to show nothing changed."""
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts}


def git(store: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(store), *args], capture_output=True, text=True,
                           check=True).stdout


# --- level 1: through the test stage ----------------------------------------------------------


@dataclasses.dataclass
class Case:
    """One submission after intake and (unless refused there) its test stage."""

    status: str
    log: str
    reason: str  # the "Failed: ..." line of its log
    mails: list[tuple[str, str]]  # the owner's mails about it: (subject, text)
    left_running: list[str]
    seconds: float


class HostilePlatform:
    """A platform home with another user's plugin merged into the plugin store, secrets in
    the platform's environment and files, and a process of the sandbox's uid outside any
    sandbox; :meth:`submit` takes a zip through intake and the test stage."""

    def __init__(self, home: Path, folder: Path, user_home: Path) -> None:
        from brainmark.platform.submissions import intake, processing

        self.home, self.folder, self.user_home = home, folder, user_home
        self.owner, other = _users()
        victim = intake.receive_submission(other, hostile_model_zip(folder, "victim-net"))
        assert processing.merge(victim), victim.log
        _own_model("victim-net", other)
        self.store = processing.plugin_store()
        self.head = self.store.head()
        self.snapshot = processing.store_snapshot(self.head)
        secret_key = home / "platform" / "secret_key"
        if not secret_key.exists():
            secret_key.write_text(SECRET_KEY_FILE)
        self.secret_key = secret_key.read_text()
        (home / "platform" / "canary.txt").write_text("the platform's own file")
        (home / "platform" / "brainmark.sqlite3").write_bytes(b"SQLite format 3\0 stand-in")
        self.rows = _row_counts()
        self.platform_files = _platform_files(home)
        self.store_files = tree_digest(self.store.path)

    def submit(self, zip_path: Path, limits: SandboxLimits | None = None) -> Case:
        """``zip_path`` through intake and, when validated, the test stage under ``limits``
        (the platform's test limits with a short wall clock and log by default)."""
        from brainmark.platform.submissions import intake, processing

        submission = intake.receive_submission(self.owner, zip_path)
        started = time.monotonic()
        if submission.status == "validated":
            claimed = processing.claim_stage(submission.pk, "validated", "testing")
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(processing, "TEST_LIMITS", limits or stage_limits())
                processing.run_tests(claimed)
        return _case(submission.pk, time.monotonic() - started)

    def assert_unchanged(self) -> None:
        """The rows, the platform's files and the plugin store are as before."""
        assert _row_counts() == self.rows  # no model, score or job row
        assert _platform_files(self.home) == self.platform_files
        assert tree_digest(self.store.path) == self.store_files
        assert git(self.store.path, "status", "--porcelain") == ""
        assert self.store.head() == self.head


def stage_limits(**changes: object) -> SandboxLimits:
    """The platform's test limits with a wall clock and a log short enough for a test."""
    from brainmark.platform.submissions import processing

    return dataclasses.replace(processing.TEST_LIMITS, **{"wall_seconds": 240.0,
                                                          "log_bytes": LOG_BYTES, **changes})


@pytest.fixture
def hostile_platform(database: None,
                     brainmark_home: Path, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[HostilePlatform]:
    """The home (``BRAINMARK_HOME``, seen by the stage's threads too), secrets in the
    environment and a private key in ``~/.ssh``, mails kept in memory."""
    from django.core import mail
    from django.test import override_settings

    user_home = tmp_path / "platform-user"
    (user_home / ".ssh").mkdir(parents=True)
    (user_home / ".ssh" / "id_rsa").write_text(SSH_KEY)
    monkeypatch.setenv("HOME", str(user_home))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                           BRAINMARK_SUBMISSIONS_PER_DAY=100):
        mail.outbox = []
        (tmp_path / "zips").mkdir()
        yield HostilePlatform(brainmark_home, tmp_path / "zips", user_home)


def _row_counts() -> dict[str, int]:
    from brainmark.platform.leaderboard.models import BenchmarkType, Model, ModelVersion, Score
    from brainmark.platform.submissions.models import Job

    return {m.__name__: m.objects.count()
            for m in (Model, ModelVersion, BenchmarkType, Score, Job)}


def _platform_files(home: Path) -> dict[str, str]:
    """The platform's own files under home: all but the work folders, the outbox and the
    plugin store (compared through git)."""
    return {name: digest for name, digest in tree_digest(home / "platform").items()
            if not name.startswith(("work/", "outbox/", "plugins/", "environments/"))}


def _users():
    from django.contrib.auth import get_user_model

    make = get_user_model().objects.create_user
    return (make("hostile@example.org", "hostile@example.org", "a long pass phrase 42"),
            make("victim@example.org", "victim@example.org", "a long pass phrase 42"))


def _own_model(identifier: str, user) -> None:
    """The model row as sync writes it for a merged submission: owned by ``user``."""
    from brainmark.platform.leaderboard.models import Model

    Model.objects.create(identifier=identifier, owner=user, public=True)


def _case(pk: int, seconds: float) -> Case:
    from django.core import mail

    from brainmark.platform.submissions.models import Submission

    submission = Submission.objects.get(pk=pk)
    reasons = [line for line in submission.log.splitlines() if "Failed:" in line]
    mails = [(m.subject, m.body) for m in mail.outbox if f"#{pk}" in m.subject]
    return Case(status=submission.status, log=submission.log,
                reason=reasons[-1] if reasons else "", mails=mails,
                left_running=leftovers(MARKER), seconds=seconds)


def assert_failed_and_told(case: Case, rule: str) -> None:
    """Failed, ``rule`` in the reason and in the owner's one mail, the log bounded, no
    process left."""
    assert case.status == "failed", case.log[-3000:]
    assert rule in case.reason, case.reason
    [(subject, text)] = case.mails
    assert "tests failed" in subject
    assert rule in text, text[-2000:]
    # The submission's log: intake's lines, the stage's lines and the capped sandbox log.
    assert len(case.log.encode()) < LOG_BYTES + len(TRUNCATION_LINE) + 4096
    assert case.left_running == []


def probe_config(platform: HostilePlatform, victim_pid: int) -> dict:
    """What the probe attacks: secret files, places outside its folder, loopback services,
    processes."""
    from brainmark.platform.submissions import processing

    home = platform.home / "platform"
    return {
        "marker": MARKER,
        "secret_files": [str(home / "secret_key"), str(home / "brainmark.sqlite3"),
                         str(platform.user_home / ".ssh" / "id_rsa"), "/root/.ssh/id_rsa",
                         "/proc/1/environ", f"/proc/{os.getpid()}/environ", "/etc/shadow"],
        "write_targets": [
            str(home / "canary.txt"),
            str(home / "plugins" / "models" / "victim_net" / "__init__.py"),
            str(home / "plugins" / f"{MARKER}.py"),
            str(platform.snapshot / "models" / "victim_net" / "__init__.py"),
            str(platform.snapshot / f"{MARKER}.py"),
            str(Path(sys.prefix) / f"{MARKER}.pth"),
            str(Path(socket.__file__).parent / f"{MARKER}.py"),  # the interpreter's stdlib
            str(Path(processing.__file__).parents[3] / f"{MARKER}.txt"),  # src/
            str(Path(processing.__file__)),
            str(platform.home / "store" / f"{MARKER}.txt"),  # the object store
            str(platform.user_home / ".ssh" / "authorized_keys"),
        ],
        "ports": list(LOOPBACK_SERVICES),
        "pids": [victim_pid, os.getpid()],
    }


@pytest.mark.db
@pytest.mark.slow
def test_a_probing_plugin_reaches_no_secret_file_network_process_or_other_plugin(
        hostile_platform: HostilePlatform):
    """Its test reads the platform's environment and secret files, writes into the plugin
    store, the snapshots, the other plugins of its test root, the Python environment and
    brainmark's source, connects to PostgreSQL and Redis on loopback, kills a process of
    its own uid outside, and leaves a process running; then fails."""
    platform = hostile_platform
    for port in LOOPBACK_SERVICES:  # they do listen, for the platform's process
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    # A process of the sandbox's uid outside any sandbox: a plugin that could see it could
    # kill it (same uid); only the PID namespace keeps it alive.
    drop = (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            if os.geteuid() == 0 else [])
    victim = subprocess.Popen([*drop, "sleep", "1000"], start_new_session=True)
    config = probe_config(platform, victim.pid)
    try:
        case = platform.submit(hostile_model_zip(platform.folder, "hostile-probe-net",
                                                 test_source=probe_test(config)))
        victim_alive = victim.poll() is None
    finally:
        victim.kill()
        victim.wait()
        for target in config["write_targets"]:  # there only if the sandbox let one through
            if MARKER in target:
                Path(target).unlink(missing_ok=True)
    report = probe_report(case.log)

    # Secrets: none in its environment, its output or the mail; every file refused.
    assert not set(SECRETS) & set(report["environ"]), report["environ"]
    for value in [*SECRETS.values(), SSH_KEY, platform.secret_key]:
        assert value not in case.log
        assert all(value not in text for _, text in case.mails)
    for path, outcome in report["reads"].items():
        assert outcome.split(":")[0] in {"FileNotFoundError", "PermissionError"}, (path, outcome)

    # Writes outside its folder: refused, nothing planted, nothing changed.
    assert {Path(f).name for f in report["plugin_folders"]} == {"victim_net",
                                                                "hostile_probe_net"}
    for path, outcome in report["writes"].items():
        assert outcome.split(":")[0] in {"OSError", "FileNotFoundError", "PermissionError"}, \
            (path, outcome)
    for path in config["write_targets"]:
        assert MARKER not in path or not Path(path).exists(), path
    assert not (platform.user_home / ".ssh" / "authorized_keys").exists()
    platform.assert_unchanged()  # the store, the other plugins, the rows, the secret key

    # The network: refused on loopback (nothing listens in its namespace).
    for port in LOOPBACK_SERVICES:
        assert report["connections"][str(port)].startswith("ConnectionRefusedError"), report

    # Processes outside: not even visible.
    assert all(o.startswith("ProcessLookupError") for o in report["kills"].values()), report
    assert victim_alive

    # It did start a process to leave behind; none is left, and the owner was told.
    assert report["left_behind"] == "started"
    assert_failed_and_told(case, "exit status 1")
    assert "a hostile plugin fails on purpose" in case.mails[0][1]


@pytest.mark.db
@pytest.mark.slow
def test_memory_without_end_is_stopped_by_the_memory_limit(hostile_platform: HostilePlatform):
    case = hostile_platform.submit(
        hostile_model_zip(hostile_platform.folder, "hostile-memory-net",
                          init_source=MEMORY_HOG),
        stage_limits(memory_bytes=1536 * MIB))
    assert_failed_and_told(case, "stopped by the memory limit")
    hostile_platform.assert_unchanged()


@pytest.mark.db
@pytest.mark.slow
def test_an_endless_loop_is_stopped_by_the_time_limit_and_the_next_submission_passes(
        hostile_platform: HostilePlatform):
    case = hostile_platform.submit(
        hostile_model_zip(hostile_platform.folder, "hostile-loop-net",
                          init_source=ENDLESS_LOOP), stage_limits(wall_seconds=10.0))
    assert_failed_and_told(case, "stopped by the time limit")
    assert case.seconds < 10.0 + 15
    hostile_platform.assert_unchanged()
    benign = hostile_platform.submit(hostile_model_zip(hostile_platform.folder,
                                                       "benign-net"))
    assert benign.status == "tested", benign.log[-3000:]
    assert benign.mails == []


@pytest.mark.db
@pytest.mark.slow
def test_a_log_flood_is_capped_and_stopped(hostile_platform: HostilePlatform):
    case = hostile_platform.submit(
        hostile_model_zip(hostile_platform.folder, "hostile-flood-net",
                          init_source=LOG_FLOOD), stage_limits(wall_seconds=40.0))
    assert_failed_and_told(case, "stopped by the time limit")
    # It reached pytest (where it floods) within the wall clock, and the cap held.
    assert "gigabytes of log" in case.log and "[log truncated]" in case.log, case.log[-2000:]
    hostile_platform.assert_unchanged()


@pytest.mark.db
def test_another_users_identifier_is_rejected_at_intake(hostile_platform: HostilePlatform):
    case = hostile_platform.submit(hostile_model_zip(
        hostile_platform.folder, "hostile-identifier-net", register_as="victim-net"))
    assert case.status == "rejected", case.log
    assert "victim-net belongs to another user" in case.log
    [(subject, text)] = case.mails
    assert "rejected" in subject and "victim-net belongs to another user" in text
    hostile_platform.assert_unchanged()


# --- level 2: the sandbox and the scoring job directly ---------------------------------------


@pytest.fixture
def job(tmp_path: Path) -> dict[str, Path]:
    home = tmp_path / "home"
    (home / "platform").mkdir(parents=True)
    return {"tmp": tmp_path, "home": home}


def sandboxed(job: dict[str, Path], name: str, code: str, limits: SandboxLimits,
              *args: str) -> SandboxResult:
    work = job["tmp"] / name
    work.mkdir()
    return run_sandboxed([PYTHON, "-c", code, *args], workdir=work, limits=limits,
                         log_path=job["tmp"] / f"{name}.log", home=job["home"])


ENDLESS_FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
ENDLESS_MEMORY = "chunks = []\nwhile True: chunks.append(b'x' * (16 * 1024 * 1024))"
STEADY_WORK = """
import os, subprocess, sys, time
for step in range(8):  # processes of its own while the others run wild
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    time.sleep(0.2)
print("steady work done", sum(range(1000)))
"""


def test_other_jobs_keep_running_beside_a_fork_bomb_and_a_memory_hog(job: dict[str, Path]):
    """Each job has its own process and memory budget: the uid 65534 they all share
    does not let one job's bomb starve the others."""
    limits = SandboxLimits(wall_seconds=8, memory_bytes=256 * MIB, processes=64,
                           log_bytes=LOG_BYTES)
    results: dict[str, SandboxResult] = {}
    codes = {"bomb": ENDLESS_FORK_BOMB, "hog": ENDLESS_MEMORY, "steady": STEADY_WORK}
    threads = [threading.Thread(target=lambda n=n, c=c: results.__setitem__(
        n, sandboxed(job, n, c, limits if n != "steady" else
                     dataclasses.replace(limits, wall_seconds=60)))) for n, c in codes.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    steady = results["steady"]
    assert steady.ok, steady.log_path.read_text()
    assert "steady work done 499500" in steady.log_path.read_text()
    assert results["bomb"].killed_by in {"processes", "time"}
    assert results["hog"].killed_by == "memory"
    assert results["bomb"].wall_seconds < 8 + 5


LEAVE_A_DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()  # out of the job's session and process group
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(1000)",
                                  sys.argv[1]])
    os._exit(0)
time.sleep(0.5)
print("daemon started")
"""


@pytest.mark.parametrize("isolation", ["bubblewrap", "rlimits+netns"])
def test_a_daemon_left_behind_ends_with_its_job(job: dict[str, Path], isolation: str):
    marker = f"hostile-daemon-{uuid.uuid4().hex[:12]}"
    work = job["tmp"] / "work"
    work.mkdir()
    try:
        result = run_sandboxed([PYTHON, "-c", LEAVE_A_DAEMON, marker], workdir=work,
                               limits=SandboxLimits(wall_seconds=30), isolation=isolation,
                               log_path=job["tmp"] / "log", home=job["home"])
        assert result.ok and "daemon started" in result.log_path.read_text()
        assert leftovers(marker) == []
    finally:
        for line in leftovers(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)


def test_a_log_flood_without_end_is_capped_and_stopped_by_the_clock(job: dict[str, Path]):
    """Several processes writing stdout and stderr as fast as they can: the log file stops
    at its cap, the job at its wall clock, and the parent keeps up (never blocked)."""
    code = ("import os, sys\nfor _ in range(3): os.fork()\n"
            "line = b'flood ' * 10000\nwhile True: os.write(1, line); os.write(2, line)")
    started = time.monotonic()
    result = sandboxed(job, "flood", code, SandboxLimits(wall_seconds=4, log_bytes=LOG_BYTES))
    assert time.monotonic() - started < 4 + 10
    assert result.killed_by == "time" and result.log_truncated
    assert result.log_path.stat().st_size == LOG_BYTES + len(TRUNCATION_LINE)


HOSTILE_SCORING_MODEL = '''
import json, os
print("SCORING-PROBE " + json.dumps(dict(os.environ)), flush=True)
for path in %(paths)r:
    try:
        print("SCORING-PROBE read", path, open(path).read()[:100], flush=True)
    except OSError as error:
        print("SCORING-PROBE refused", path, type(error).__name__, flush=True)
chunks = []
while True:
    chunks.append(b"x" * (16 * 1024 * 1024))
'''


@pytest.mark.slow
def test_a_hostile_model_in_a_scoring_job(job: dict[str, Path], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch):
    """The model's code runs when the job imports it: it sees no secret and its memory
    hog ends as a memory failure of the job (retried on the larger tier, never fatal)."""
    from brainmark.execution.scoring_job import JobSpec, run_scoring_job

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BRAINMARK_HOME", str(job["home"]))
    (job["home"] / "platform" / "secret_key").write_text(SECRET_KEY_FILE)
    user_home = tmp_path / "user"
    (user_home / ".ssh").mkdir(parents=True)
    (user_home / ".ssh" / "id_rsa").write_text(SSH_KEY)
    monkeypatch.setenv("HOME", str(user_home))
    paths = [str(job["home"] / "platform" / "secret_key"), str(user_home / ".ssh" / "id_rsa")]
    zip_path = hostile_model_zip(tmp_path, "hostile-scoring-net",
                                 init_source=HOSTILE_SCORING_MODEL % {"paths": paths})
    root = tmp_path / "root"
    shutil.unpack_archive(zip_path, root)
    spec = JobSpec(job_id=1, attempt=1, model="hostile-scoring-net",
                   benchmark="Kriegeskorte2008.IT-rdm", workdir=str(tmp_path / "job"),
                   plugin_roots=(str(root),), memory_bytes=768 * MIB, wall_seconds=120)
    outcome = run_scoring_job(spec)
    assert outcome.killed_by == "memory_limit", outcome
    assert outcome.failure_kind == "out_of_memory" and not outcome.ok
    assert "SCORING-PROBE {" in outcome.log_tail  # its code did run
    for value in [*SECRETS.values(), SSH_KEY, SECRET_KEY_FILE]:
        assert value not in outcome.log_tail
    assert outcome.log_tail.count("SCORING-PROBE refused") == 2, outcome.log_tail
