"""Django for the platform's tests, set up once per test process.

Each pytest-xdist worker is its own process, so each sets Django up once with its own home
and its own test database: in memory on SQLite, ``test_brainmark_<worker>`` on PostgreSQL
(when ``DATABASE_URL`` is set), so two workers never share tables. Tests that need rows ask
for the ``database`` fixture, which rolls back whatever they wrote.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BRAINMARK = Path(sys.executable).with_name("brainmark")


@pytest.fixture(scope="session")
def django_configured(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Django set up in this process from brainmark's settings, with a session home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRAINMARK_HOME", str(tmp_path_factory.mktemp("platform_home")))
        patch.setenv("DJANGO_SETTINGS_MODULE", "brainmark.platform.settings")
        import django

        django.setup()  # Reads the settings now, while the environment above holds.


@pytest.fixture(scope="session")
def django_test_database(django_configured: None, worker_id: str) -> Iterator[None]:
    """This process's own test database with every migration applied, dropped at the end."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = f"test_brainmark_{worker_id}"
    databases = setup_databases(verbosity=0, interactive=False)
    yield
    teardown_databases(databases, verbosity=0)


@pytest.fixture
def database(django_test_database: None) -> Iterator[None]:
    """The test database, with everything the test writes rolled back afterwards."""
    from django.db import transaction

    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _run_brainmark(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BRAINMARK), *args],
        env=dict(os.environ) if env is None else env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def run_brainmark() -> Callable[..., subprocess.CompletedProcess]:
    """Runs the ``brainmark`` command in a fresh process: ``run_brainmark(*args, env=...)``.

    The environment defaults to this test's (its own ``BRAINMARK_HOME``).
    """
    return _run_brainmark


@pytest.fixture
def sqlite_environment(brainmark_home: Path) -> dict[str, str]:
    """This test's environment without a database address: the SQLite file under home."""
    return {
        name: value for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "BRAINMARK_DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }


SERVER_START_TIMEOUT_S = 60


def _read_server_address(process: subprocess.Popen, stderr_text: Callable[[], str]) -> str:
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


@pytest.fixture(scope="session")
def read_server_address() -> Callable[[subprocess.Popen, Callable[[], str]], str]:
    """``read_server_address(process, stderr_text)``: the address a started server prints."""
    return _read_server_address


@pytest.fixture
def rows(database: None) -> dict:
    """The example board of :func:`synthetic.write_example_board` (its docstring's table),
    with the process's board memo emptied so nothing of another test's board is read."""
    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.synthetic import write_example_board

    snapshots.forget()
    return write_example_board()
