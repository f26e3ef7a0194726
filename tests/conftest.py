"""Fixtures for the registry, plugin index and concurrency tests: plugin folders written on
the fly, on a plugin path of their own."""

from __future__ import annotations

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
