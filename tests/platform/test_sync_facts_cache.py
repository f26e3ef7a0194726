"""The plugin facts cache of ``brainmark sync``: the child that imports every plugin runs
only when something the facts derive from changed (a plugin folder's files other than its
``test.py``, the library's code, the installed packages), and a damaged cache file is
recomputed with a warning naming it.

One test goes through the real child (twice: about 25 s); the others check the key and the
cache with a small facts payload in place of the child's output, on a real plugin root.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("django_configured")

PROBE = "facts-cache-probe"


@pytest.fixture
def probe_plugin(plugin_root: Path) -> Path:
    """A model plugin written by ``brainmark new model`` on this test's plugin path."""
    from brainmark._scaffold import new_model

    new_model(PROBE, plugin_root)
    folder = plugin_root / "models" / "facts_cache_probe"
    assert (folder / "model.py").is_file() and (folder / "test.py").is_file()
    return folder


@pytest.fixture
def child_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands ``subprocess.run`` was called with from the sync module (observed only:
    each call goes through to the real ``subprocess.run``)."""
    from brainmark.platform.leaderboard import sync

    calls: list[list[str]] = []
    real_run = subprocess.run

    def observed_run(command: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(command))
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(sync.subprocess, "run", observed_run)  # sync's own namespace only
    return calls


def _probe(facts: dict[str, Any]) -> dict[str, Any]:
    [entry] = [model for model in facts["models"] if model["identifier"] == PROBE]
    return entry


def test_the_child_runs_again_only_when_a_plugin_file_other_than_test_py_changes(
    probe_plugin, child_runs
):
    from brainmark._provenance import plugin_content_sha1
    from brainmark.platform.leaderboard.sync import read_plugin_facts

    first = read_plugin_facts()
    assert len(child_runs) == 1
    assert _probe(first)["plugin_sha1"] == plugin_content_sha1(probe_plugin)
    assert {"pixels", "alexnet-untrained"} <= {m["identifier"] for m in first["models"]}

    assert read_plugin_facts() == first
    assert len(child_runs) == 1, "a second reading with nothing changed started the child"

    test_py = probe_plugin / "test.py"
    test_py.write_text(test_py.read_text() + "\n# A pinned score changes no fact.\n")
    assert read_plugin_facts() == first
    assert len(child_runs) == 1, "editing test.py started the child"

    model_py = probe_plugin / "model.py"
    model_py.write_text(model_py.read_text().replace(
        "<one line saying what the model is>", "an edited description", 1))
    edited = read_plugin_facts()
    assert len(child_runs) == 2, "editing model.py did not start the child"
    assert _probe(first)["metadata"]["description"].startswith(
        "facts-cache-probe: <one line")
    assert _probe(edited)["metadata"]["description"].startswith(
        "facts-cache-probe: an edited description.")
    assert _probe(edited)["plugin_sha1"] == plugin_content_sha1(probe_plugin)
    assert _probe(edited)["plugin_sha1"] != _probe(first)["plugin_sha1"]
    assert read_plugin_facts() == edited
    assert len(child_runs) == 2


def _payload(description: str) -> dict[str, Any]:
    """Facts as the child prints them: one model."""
    return {"benchmarks": [], "problems": [], "models": [{
        "identifier": PROBE, "visual_degrees": 8.0, "plugin_sha1": "a" * 40,
        "license": "MIT", "metadata": {"description": description},
    }]}


@pytest.fixture
def fake_child(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The child's output replaced by :func:`_payload` (its description counts the runs)."""
    from brainmark.platform.leaderboard import sync

    runs: list[str] = []

    def child() -> dict[str, Any]:
        runs.append(f"run {len(runs) + 1}")
        return _payload(runs[-1])

    monkeypatch.setattr(sync, "run_plugin_facts_child", child)
    return runs


def test_the_key_follows_plugin_files_but_not_test_py(probe_plugin):
    from brainmark._provenance import plugin_content_sha1
    from brainmark.platform.leaderboard.sync import plugin_facts_key

    key = plugin_facts_key()
    assert [str(probe_plugin), plugin_content_sha1(probe_plugin)] in key["plugins"]
    assert len(key["plugins"]) > 10  # the built-in plugins, data and metrics included
    assert any(name == "numpy" for name, _ in key["packages"])
    (probe_plugin / "test.py").write_text("# edited\n")
    assert plugin_facts_key() == key
    (probe_plugin / "README.md").write_text("Edited.\n")
    assert plugin_facts_key() != key
    edited = plugin_facts_key()
    (probe_plugin / "extra.py").write_text("X = 1\n")
    assert plugin_facts_key() != edited


def test_an_added_plugin_folder_changes_the_key(probe_plugin, plugin_root):
    from brainmark._scaffold import new_model
    from brainmark.platform.leaderboard.sync import plugin_facts_key

    key = plugin_facts_key()
    new_model("facts-cache-second", plugin_root)
    assert plugin_facts_key() != key


def test_a_flipped_byte_warns_naming_the_file_and_the_facts_are_read_again(
    probe_plugin, fake_child
):
    from brainmark.exceptions import CacheIntegrityWarning
    from brainmark.platform.leaderboard.sync import (
        plugin_facts_cache_path,
        plugin_facts_key,
        read_plugin_facts,
    )

    assert _probe(read_plugin_facts())["metadata"]["description"] == "run 1"
    path = plugin_facts_cache_path(plugin_facts_key())
    assert json.loads(path.read_text())["content"]["facts"] == _payload("run 1")
    data = bytearray(path.read_bytes())
    at = data.index(b"run 1") + 4
    data[at] ^= 0x01  # "run 1" -> "run 0": still JSON, no longer the checked content
    path.write_bytes(bytes(data))

    with pytest.warns(CacheIntegrityWarning, match=str(path)):
        facts = read_plugin_facts()
    assert _probe(facts)["metadata"]["description"] == "run 2"
    assert fake_child == ["run 1", "run 2"]
    assert _probe(read_plugin_facts())["metadata"]["description"] == "run 2"
    assert fake_child == ["run 1", "run 2"]


def test_facts_of_other_code_in_the_file_are_refused(probe_plugin, fake_child):
    from brainmark._files import write_checked_json
    from brainmark.exceptions import CacheIntegrityWarning
    from brainmark.platform.leaderboard.sync import (
        plugin_facts_cache_path,
        plugin_facts_key,
        read_plugin_facts,
    )

    key = plugin_facts_key()
    path = plugin_facts_cache_path(key)
    path.parent.mkdir(parents=True)
    write_checked_json(path, {"key": {**key, "library_sha1": "0" * 40},
                              "facts": _payload("stale")})
    with pytest.warns(CacheIntegrityWarning, match=str(path)):
        facts = read_plugin_facts()
    assert _probe(facts)["metadata"]["description"] == "run 1"


def test_reuse_cache_off_and_no_cache_read_the_plugins_again(probe_plugin, fake_child):
    from brainmark.platform.leaderboard.sync import read_plugin_facts
    from brainmark.settings import override_settings

    read_plugin_facts()
    read_plugin_facts()
    assert fake_child == ["run 1"]
    with override_settings(reuse_cache=False):
        assert _probe(read_plugin_facts())["metadata"]["description"] == "run 2"
    assert _probe(read_plugin_facts(use_cache=False))["metadata"]["description"] == "run 3"
    # What was read last is what a later sync reuses.
    assert _probe(read_plugin_facts())["metadata"]["description"] == "run 3"
    assert fake_child == ["run 1", "run 2", "run 3"]


def test_facts_naming_a_problem_are_not_cached(probe_plugin, monkeypatch):
    from brainmark.platform.leaderboard import sync

    runs = []

    def child() -> dict[str, Any]:
        runs.append(1)
        return {**_payload("x"), "problems": [
            {"kind": "benchmark", "identifier": "B", "error": "OSError: store unreachable"}
        ]}

    monkeypatch.setattr(sync, "run_plugin_facts_child", child)
    assert sync.read_plugin_facts()["problems"] == ["benchmark B: OSError: store unreachable"]
    sync.read_plugin_facts()
    assert len(runs) == 2


def test_the_key_is_computed_without_importing_a_plugin_or_torch(probe_plugin, tmp_path):
    import os
    import sys

    script = (
        "import sys\n"
        "from brainmark.platform.leaderboard.sync import plugin_facts_key\n"
        "plugin_facts_key()\n"
        "loaded = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', "
        "'brainmark_plugin_', 'brainmark.plugins.'))]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + script],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_only_the_newest_readings_are_kept(probe_plugin):
    from brainmark.platform.leaderboard.sync import (
        FACTS_CACHE_KEEP,
        cached_plugin_facts,
        plugin_facts_key,
        store_plugin_facts,
    )

    key = plugin_facts_key()
    paths = [store_plugin_facts({**key, "python": f"other {n}"}, _payload(str(n)))
             for n in range(FACTS_CACHE_KEEP + 3)]
    assert len(list(paths[-1].parent.glob("*.json"))) == FACTS_CACHE_KEEP
    assert paths[-1].is_file()
    assert _probe(cached_plugin_facts({**key, "python": f"other {FACTS_CACHE_KEEP + 2}"}))[
        "metadata"]["description"] == str(FACTS_CACHE_KEEP + 2)
