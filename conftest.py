"""Test-wide fixtures: every test runs with its own BRAINMARK_HOME, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def brainmark_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh home folder per test, so caches and stores never leak between tests."""
    home = tmp_path_factory.mktemp("brainmark_home")
    monkeypatch.setenv("BRAINMARK_HOME", str(home))
    monkeypatch.delenv("BRAINMARK_PLUGIN_PATH", raising=False)
    return home
