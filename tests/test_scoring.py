"""score_model: results keyed by content, records checked when read, --no-cache reuses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import brainmark
import brainmark.models.activations as activations_module
import brainmark.models.placement as placement_module
from brainmark._files import read_checked_json, write_checked_json
from brainmark._scaffold import new_model
from brainmark.exceptions import CacheIntegrityWarning, SettingsError
from brainmark.registry import model_registry
from brainmark.scoring import ScoreRecord, score_model
from brainmark.settings import override_settings

BENCHMARK = "Coggan2024.V1-rdm"


def result_files(home: Path) -> list[Path]:
    return sorted((home / "results").rglob("*.json"))


def cli_score(model: str, benchmark: str, home: Path, plugin_path: Path) -> ScoreRecord:
    """``brainmark score --json`` in a fresh process, as a user runs it."""
    environment = {
        **os.environ, "BRAINMARK_HOME": str(home), "BRAINMARK_PLUGIN_PATH": str(plugin_path)
    }
    result = subprocess.run(
        [Path(sys.executable).parent / "brainmark", "score", model, benchmark, "--json"],
        capture_output=True, text=True, env=environment, check=False,
    )
    assert result.returncode == 0, result.stderr
    return ScoreRecord.from_json(result.stdout)


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
    assert second.cached is False
    assert second.score == fresh.score
    assert second.score != first.score


@pytest.mark.parametrize("content", [[], {}, {"model": "pixels"}])
def test_a_result_file_holding_no_record_is_reported_and_recomputed(content, brainmark_home):
    first = score_model("pixels", BENCHMARK)
    [path] = result_files(brainmark_home)
    path.write_text(json.dumps(content))
    with pytest.warns(CacheIntegrityWarning, match=str(path)):
        again = score_model("pixels", BENCHMARK)
    assert again.cached is False and again.score == first.score
    assert score_model("pixels", BENCHMARK).cached is True  # the file was healed


def test_a_checksummed_record_of_another_pair_is_not_used(brainmark_home):
    score_model("pixels", BENCHMARK)
    [path] = result_files(brainmark_home)
    record = read_checked_json(path, what="record")
    write_checked_json(path, {**record, "benchmark": "Coggan2024.IT-rdm", "score": 0.99})
    with pytest.warns(CacheIntegrityWarning, match="holds no record of pixels"):
        again = score_model("pixels", BENCHMARK)
    assert again.score == record["score"]


def test_an_edited_score_in_a_result_file_is_not_trusted(brainmark_home):
    first = score_model("pixels", BENCHMARK)
    [path] = result_files(brainmark_home)
    path.write_text(path.read_text().replace(json.dumps(first.score), "0.987654"))
    with pytest.warns(CacheIntegrityWarning, match="does not match its checksum"):
        again = score_model("pixels", BENCHMARK)
    assert again.score == first.score


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
    assert score_model("pixels", BENCHMARK).cached is True
    assert calls == {"extract": 0, "place": 0}
    again = score_model("pixels", BENCHMARK, use_cache=False)
    assert again.cached is False and again.score == first.score
    assert calls == {"extract": 1, "place": 1}


def test_a_gpu_that_torch_cannot_use_is_refused_before_any_work(monkeypatch):
    monkeypatch.setattr(activations_module.torch.cuda, "is_available", lambda: False)
    with override_settings(device="cuda"), pytest.raises(SettingsError, match="no usable GPU"):
        score_model("pixels", BENCHMARK)


def test_a_cached_result_is_answered_without_loading_the_model(monkeypatch):
    score_model("pixels", BENCHMARK)
    monkeypatch.setattr(model_registry, "load", lambda *a, **k: pytest.fail("model loaded"))
    assert score_model("pixels", BENCHMARK).cached is True


def test_a_score_record_round_trips_through_json_and_names_no_machine_path(brainmark_home):
    record = score_model("pixels", BENCHMARK)
    assert ScoreRecord.from_json(record.to_json()) == record
    content = json.loads(record.to_json())
    assert isinstance(content["score"], float) and content["score"] == record.score
    assert record.plugins.keys() >= {"models/pixels", "benchmarks/coggan2024",
                                     "data/coggan2024", "metrics/similarity"}
    text = record.to_json()
    assert str(brainmark_home) not in text and str(Path(brainmark.__file__).parent) not in text
    assert record.seeds == {}  # an RDM comparison and subject ceiling draw no random numbers


def test_a_score_record_names_the_sha1s_of_the_data_and_the_stimuli(brainmark_home):
    from brainmark.data import assembly_sha1, stimulus_set_sha1

    record = score_model("pixels", BENCHMARK)
    benchmark = brainmark.load_benchmark(BENCHMARK)
    assert record.data_sha1s == {
        "data": benchmark.data_sha1(),
        "stimuli": stimulus_set_sha1(benchmark.stimulus_set).removeprefix("files:"),
    }
    assert record.data_sha1s["data"] == assembly_sha1(benchmark.rdms)


def test_a_record_with_an_unknown_field_is_refused():
    with pytest.raises(ValueError, match="unknown fields \\['colour'\\]"):
        ScoreRecord.from_dict({"colour": "red"})


def test_the_record_lists_the_seed_of_every_seeded_part_of_a_benchmark():
    from types import SimpleNamespace

    from brainmark.metrics.ceiling import InternalConsistency
    from brainmark.scoring import _seeds

    benchmark = SimpleNamespace(_metric=SimpleNamespace(seed=3),
                                _ceiler=InternalConsistency(seed=5), region="IT")
    assert _seeds(benchmark) == {"ceiler": 5, "metric": 3}


def test_pinning_a_score_in_a_plugins_test_py_keeps_its_cached_scores(tmp_path, monkeypatch):
    root = tmp_path / "plugins"
    new_model("my-net", root)
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(root))
    first = score_model("my-net", BENCHMARK)
    test_file = root / "models" / "my_net" / "test.py"
    test_file.write_text(test_file.read_text() + f"\nPINNED = {first.score!r}\n")
    assert score_model("my-net", BENCHMARK).cached is True
    model_file = root / "models" / "my_net" / "model.py"
    model_file.write_text(model_file.read_text() + "\n# a reviewed change\n")
    assert score_model("my-net", BENCHMARK).cached is False


def test_a_score_record_carries_the_intervals_and_the_resamples_they_come_from(brainmark_home):
    from brainmark.metrics.intervals import decode_resamples

    record = score_model("pixels", BENCHMARK)
    content = json.loads(record.to_json())
    assert content["interval_level"] == 0.95 and content["resamples"] == 1000
    assert isinstance(content["seed"], int) and "Schütt" in content["interval_method"]
    values = {name: decode_resamples(text) for name, text in record.resample_values.items()}
    assert all(len(v) == 1000 for v in values.values())
    # ceiled = raw / ceiling on each shared resample (float32 storage)
    np.testing.assert_allclose(values["ceiled"], values["raw"] / values["ceiling"], rtol=1e-5)
    for name, interval in [("ceiled", record.interval), ("raw", record.raw_interval),
                           ("ceiling", record.ceiling_interval)]:
        finite = values[name][np.isfinite(values[name])]
        np.testing.assert_allclose(interval, np.percentile(finite, [2.5, 97.5]), rtol=1e-5)
    assert record.interval[0] < record.score < record.interval[1]
    assert record.raw_interval[0] < record.raw < record.raw_interval[1]


def test_a_record_stored_before_intervals_still_loads():
    record = score_record_without_intervals()
    loaded = ScoreRecord.from_dict(record)
    assert loaded.interval is None and loaded.resample_values is None
    assert loaded.score == record["score"]


def score_record_without_intervals() -> dict:
    return {
        "model": "pixels", "benchmark": BENCHMARK, "benchmark_version": 1, "parent": "V1",
        "score": 0.5, "raw": 0.25, "ceiling": 0.5, "error": 0.01, "layer_commitment": {},
        "brainmark_version": "0.1.0", "library_sha1": "0" * 40, "python": "3.11.0",
        "torch": None, "plugins": {}, "data_sha1s": {}, "seeds": {}, "wall_time_s": 1.0,
        "created": "2026-01-01T00:00:00+00:00", "cached": False,
    }


def test_the_record_names_the_numerical_packages_and_the_device(brainmark_home):
    """The manifest of a score holds the installed versions of the packages its numbers
    come from, and the device its model ran on (this machine has no GPU)."""
    from importlib import metadata

    import numpy
    import scipy

    record = score_model("pixels", BENCHMARK)
    assert record.packages["numpy"] == numpy.__version__
    assert record.packages["scipy"] == scipy.__version__
    assert record.packages["scikit-learn"] == metadata.version("scikit-learn")
    assert record.device == "cpu"
    assert ScoreRecord.from_json(record.to_json()) == record
