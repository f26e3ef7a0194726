"""score_model: results keyed by content, records checked when read, --no-cache reuses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import brainmark.models.activations as activations_module
import brainmark.models.placement as placement_module
from brainmark._files import read_checked_json, write_checked_json
from brainmark._scaffold import new_model
from brainmark._scoring import score_model
from brainmark.exceptions import CacheIntegrityWarning, SettingsError
from brainmark.settings import override_settings

BENCHMARK = "Coggan2024.V1-rdm"


def result_files(home: Path) -> list[Path]:
    return sorted((home / "results").rglob("*.json"))


def cli_score(model: str, benchmark: str, home: Path, plugin_path: Path) -> dict:
    """``brainmark score --json`` in a fresh process, as a user runs it."""
    environment = {
        **os.environ, "BRAINMARK_HOME": str(home), "BRAINMARK_PLUGIN_PATH": str(plugin_path)
    }
    result = subprocess.run(
        [Path(sys.executable).parent / "brainmark", "score", model, benchmark, "--json"],
        capture_output=True, text=True, env=environment, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_model_whose_code_changed_but_not_its_weights_is_scored_anew(tmp_path, brainmark_home):
    root = tmp_path / "plugins"
    new_model("my-net", root)
    first = cli_score("my-net", BENCHMARK, brainmark_home, root)
    model_file = root / "models" / "my_net" / "model.py"
    source = model_file.read_text()
    relu = "nn.Conv2d(3, 16, 5, stride=2), nn.ReLU()"
    assert relu in source
    model_file.write_text(source.replace(relu, "nn.Conv2d(3, 16, 5, stride=2), nn.Tanh()"))
    second = cli_score("my-net", BENCHMARK, brainmark_home, root)
    # The independent value: the edited model scored in a home with nothing cached.
    fresh = cli_score("my-net", BENCHMARK, tmp_path / "fresh-home", root)
    assert second["cached"] is False
    assert second["score"] == fresh["score"]
    assert second["score"] != first["score"]


@pytest.mark.parametrize("content", [[], {}, {"model": "pixels"}])
def test_a_result_file_holding_no_record_is_reported_and_recomputed(content, brainmark_home):
    first = score_model("pixels", BENCHMARK)
    [path] = result_files(brainmark_home)
    path.write_text(json.dumps(content))
    with pytest.warns(CacheIntegrityWarning, match=str(path)):
        again = score_model("pixels", BENCHMARK)
    assert again["cached"] is False and again["score"] == first["score"]
    assert score_model("pixels", BENCHMARK)["cached"] is True  # the file was healed


def test_a_checksummed_record_of_another_pair_is_not_used(brainmark_home):
    score_model("pixels", BENCHMARK)
    [path] = result_files(brainmark_home)
    record = read_checked_json(path, what="record")
    write_checked_json(path, {**record, "benchmark": "Coggan2024.IT-rdm", "score": 0.99})
    with pytest.warns(CacheIntegrityWarning, match="holds no record of pixels"):
        again = score_model("pixels", BENCHMARK)
    assert again["score"] == record["score"]


def test_an_edited_score_in_a_result_file_is_not_trusted(brainmark_home):
    first = score_model("pixels", BENCHMARK)
    [path] = result_files(brainmark_home)
    path.write_text(path.read_text().replace(json.dumps(first["score"]), "0.987654"))
    with pytest.warns(CacheIntegrityWarning, match="does not match its checksum"):
        again = score_model("pixels", BENCHMARK)
    assert again["score"] == first["score"]


def test_no_cache_recomputes_activations_placement_and_ceiling_too(monkeypatch):
    first = score_model("pixels", BENCHMARK)
    calls = {"extract": 0, "place": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(activations_module, "_stream_to_cache",
                        counting("extract", activations_module._stream_to_cache))
    monkeypatch.setattr(placement_module, "_place_all",
                        counting("place", placement_module._place_all))
    assert score_model("pixels", BENCHMARK)["cached"] is True
    assert calls == {"extract": 0, "place": 0}
    again = score_model("pixels", BENCHMARK, use_cache=False)
    assert again["cached"] is False and again["score"] == first["score"]
    assert calls == {"extract": 1, "place": 1}


def test_a_gpu_that_torch_cannot_use_is_refused_before_any_work(monkeypatch):
    monkeypatch.setattr(activations_module.torch.cuda, "is_available", lambda: False)
    with override_settings(device="cuda"), pytest.raises(SettingsError, match="no usable GPU"):
        score_model("pixels", BENCHMARK)


def test_a_cached_result_is_answered_without_loading_the_model(monkeypatch):
    score_model("pixels", BENCHMARK)
    monkeypatch.setattr("brainmark.load_model", lambda *a, **k: pytest.fail("model loaded"))
    assert score_model("pixels", BENCHMARK)["cached"] is True
