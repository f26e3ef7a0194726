"""A real ``brainmark serve`` (and other brainmark processes) for tests that need one.

Shared by the browser, end-to-end pipeline and CLI tests, so each starts servers the same way.
:func:`started_site` is a whole site (migrated, synced, one submitter with an API token,
served) and :class:`Site` what the end-to-end tests do with it: submit, read the API and the
SQLite database, run dispatchers, read the outbox.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import requests

BRAINMARK = Path(sys.executable).with_name("brainmark")
PASSWORD = "a long pass phrase 42\n"
DISPATCH_TIMEOUT_S = 900


def clean_environment(home: Path) -> dict[str, str]:
    """This process's environment with no database address and no brainmark settings but
    ``BRAINMARK_HOME=home``: the SQLite file under that home."""
    env = {
        name: value for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "BRAINMARK_DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        and not name.startswith("BRAINMARK_")
    }
    env["BRAINMARK_HOME"] = str(home)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(args: list[str], env: dict[str, str], *, timeout: float = 300) -> str:
    """Run a command to completion; its stdout. A failure shows both streams."""
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serving(env: dict[str, str], log_folder: Path, read_server_address, *,
            threads: int = 4) -> Iterator[str]:
    """``brainmark serve`` (one worker) on a free port; yields its address.

    The port is chosen first so that ``BRAINMARK_SITE_URL`` (the links of the mails) can
    name it; the printed address must be that same address.
    """
    stderr = log_folder / "serve.stderr"  # a file: the access log must never fill a pipe
    for attempt in range(3):  # another process may take the free port before serve does
        port = free_port()
        address = f"http://127.0.0.1:{port}"
        with stderr.open("w") as log:
            process = subprocess.Popen(
                [str(BRAINMARK), "serve", "--port", str(port), "--workers", "1",
                 "--threads", str(threads)],
                env={**env, "BRAINMARK_SITE_URL": address},
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        try:
            printed = read_server_address(process, stderr.read_text)
        except AssertionError:
            if attempt < 2 and "already in use" in stderr.read_text():
                continue
            raise
        break
    try:
        assert printed == address, f"brainmark serve printed {printed!r}, not {address!r}"
        yield address
    finally:
        stop(process)


# --- a whole site ------------------------------------------------------------------------------


@dataclass
class Site:
    """A served site: its address, home, environment, and one account's email and token."""

    address: str
    home: Path
    env: dict[str, str]
    token: str
    email: str

    @property
    def database(self) -> Path:
        return self.home / "platform" / "brainmark.sqlite3"

    def query(self, sql: str, *parameters: object) -> list[tuple]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(sql, parameters).fetchall()

    def submit(self, zip_path: Path, **fields: str) -> dict:
        with zip_path.open("rb") as stream:
            response = requests.post(f"{self.address}/api/submissions/",
                                     headers={"Authorization": f"Bearer {self.token}"},
                                     files={"file": (zip_path.name, stream)}, data=fields,
                                     timeout=120)
        assert response.status_code == 201, response.text
        return response.json()

    def submission(self, submission_id: int) -> dict:
        response = requests.get(f"{self.address}/api/submissions/{submission_id}",
                                headers={"Authorization": f"Bearer {self.token}"}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def dispatcher(self, *args: str) -> subprocess.Popen:
        log = (self.home / "dispatcher.log").open("ab")
        process = subprocess.Popen([str(BRAINMARK), "dispatcher", "--poll", "0.2", *args],
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return process

    def dispatch_until_idle(self, *args: str) -> None:
        process = self.dispatcher("--until-idle", *args)
        try:
            code = process.wait(timeout=DISPATCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        assert code == 0, (self.home / "dispatcher.log").read_text()[-5000:]

    def mails_to(self, address: str) -> list[EmailMessage]:
        outbox = self.home / "platform" / "outbox"
        mails = [message_from_bytes(path.read_bytes(), policy=policy.default)
                 for path in sorted(outbox.glob("*"))]
        return [mail for mail in mails if address in mail["To"]]


@contextlib.contextmanager
def started_site(home: Path, read_server_address, email: str,
                 settings: dict[str, str] | None = None) -> Iterator[Site]:
    """A site on ``home``: migrated, the built-in plugins synced, the account ``email`` with
    an API token, served by ``brainmark serve``; ``settings`` are further environment
    variables of every process (``BRAINMARK_...``)."""
    env = {**clean_environment(home), **(settings or {})}
    run([str(BRAINMARK), "migrate"], env)
    run([str(BRAINMARK), "sync"], env)
    subprocess.run([str(BRAINMARK), "user", "create", email], input=PASSWORD * 2, env=env,
                   text=True, check=True, capture_output=True, timeout=120)
    token = run([str(BRAINMARK), "token", "create", email], env).strip().splitlines()[-1]
    with serving(env, home, read_server_address) as address:
        yield Site(address, home, {**env, "BRAINMARK_SITE_URL": address}, token, email)


def scores_of(site: Site, model: str) -> dict[str, tuple]:
    """benchmark -> (ceiled, raw, comment) of the model's latest version."""
    return {benchmark: (ceiled, raw, comment) for benchmark, ceiled, raw, comment in site.query(
        "SELECT t.identifier, s.ceiled, s.raw, s.comment FROM leaderboard_score s "
        "JOIN leaderboard_modelversion mv ON s.model_version_id = mv.id "
        "JOIN leaderboard_model m ON mv.model_id = m.id "
        "JOIN leaderboard_benchmarkversion bv ON s.benchmark_version_id = bv.id "
        "JOIN leaderboard_benchmarktype t ON bv.benchmark_type_id = t.id "
        "WHERE m.identifier = ?", model)}


SERVER_START_TIMEOUT_S = 60


def read_server_address(process: subprocess.Popen, stderr_text: Callable[[], str]) -> str:
    """The first line ``brainmark serve`` prints on stdout (its address), waiting at most
    SERVER_START_TIMEOUT_S; a server that exits or stays silent is killed and its stderr shown."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = process.stdout.readline()
            if line:
                return line.strip()
        if process.poll() is not None:
            break
    process.kill()
    process.wait()
    raise AssertionError(f"brainmark serve printed no address; stderr:\n{stderr_text()}")


def wait_until(probe: Callable[[], object], *, within: float, what: str) -> object:
    """``probe()`` every 0.2 s until it gives something true (returned), at most ``within``
    seconds; then an AssertionError saying ``what`` did not happen."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {within} s")
