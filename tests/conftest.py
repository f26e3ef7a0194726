"""Fixtures shared by every test under tests/.

- The registry, plugin index and concurrency tests: plugin folders written on the fly, on
  a plugin path of their own.
- The platform's tests (tests/platform, tests/hostile): Django set up once per test
  process. Each pytest-xdist worker is its own process, so each sets Django up once with
  its own home and its own test database: in memory on SQLite, ``test_brainmark_<worker>``
  on PostgreSQL (when ``DATABASE_URL`` is set), so two workers never share tables. Tests
  that need rows ask for the ``database`` fixture, which rolls back whatever they wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MakePlugin = Callable[..., Path]


def _make_plugin(root: Path, folder: str, init: str, plugin_type: str = "models") -> Path:
    """Write ``<root>/<plugin_type>/<folder>/__init__.py`` holding ``init`` (dedented)."""
    path = root / plugin_type / folder
    path.mkdir(parents=True)
    (path / "__init__.py").write_text(textwrap.dedent(init))
    return path


@pytest.fixture
def make_plugin() -> MakePlugin:
    """A function writing a plugin folder: ``make_plugin(root, folder, init, plugin_type)``."""
    return _make_plugin


@pytest.fixture
def plugin_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An extra plugin root on BRAINMARK_PLUGIN_PATH."""
    root = tmp_path / "plugins"
    root.mkdir()
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(root))
    return root


@pytest.fixture
def unique() -> str:
    """Registries are process-wide, so each test registers names of its own."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-protocol HTTP server on 127.0.0.1 (a free port), for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


# --- the platform ---------------------------------------------------------------------------

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


@pytest.fixture(scope="session")
def read_server_address() -> Callable[[subprocess.Popen, Callable[[], str]], str]:
    """``read_server_address(process, stderr_text)``: the address a started server prints."""
    from tests.platform.live_site import read_server_address

    return read_server_address


@pytest.fixture
def rows(database: None) -> dict:
    """The example board of :func:`synthetic.write_example_board` (its docstring's table),
    with the process's board memo emptied so nothing of another test's board is read."""
    from brainmark.platform.leaderboard import snapshots
    from brainmark.platform.leaderboard.synthetic import write_example_board

    snapshots.forget()
    return write_example_board()
