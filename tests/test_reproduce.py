"""``brainmark reproduce``: a recorded score run again, from a record file, from the plugin
store's recorded plugin versions, and from a score id on a live site."""

from __future__ import annotations

import dataclasses
import json
import os
import textwrap
from pathlib import Path

import pytest

from brainmark.reproduce import Difference, Reproduction, record_differences
from brainmark.scoring import ScoreRecord

MODEL, BENCHMARK = "pixels", "Coggan2024.V1-rdm"

RECORD = ScoreRecord(
    model="m", benchmark="b", benchmark_version=1, parent="V1", score=0.1, raw=0.05,
    ceiling=0.5, error=0.01, layer_commitment={"V1": "layer1"}, brainmark_version="1.0",
    library_sha1="l" * 40, python="3.11.7", torch="2.3.0",
    plugins={"models/m": "a" * 40, "benchmarks/b": "b" * 40}, data_sha1s={"data": "d" * 40},
    seeds={"metric": 1}, wall_time_s=3.0, created="2026-01-01T00:00:00+00:00",
)


def test_records_that_differ_only_in_when_and_how_fast_are_identical():
    later = dataclasses.replace(RECORD, wall_time_s=9.5, created="2026-06-01T00:00:00+00:00",
                                cached=True)
    assert record_differences(RECORD, later) == []


def test_each_difference_names_its_field_kind_and_both_values_exactly():
    changed = dataclasses.replace(
        RECORD, score=0.1 + 2**-55, torch="2.4.0", plugins={"models/m": "c" * 40},
        layer_commitment={"V1": "layer2"}, seeds={"metric": 1, "ceiling": 3},
    )
    assert record_differences(RECORD, changed) == [
        # 0.1 + 2**-55 is the next float after 0.1: still a difference.
        Difference("score", "value", 0.1, 0.1 + 2**-55),
        Difference("layer_commitment.V1", "layer", "layer1", "layer2"),
        Difference("torch", "version", "2.3.0", "2.4.0"),
        # Listed by one record only: apart (a cached ceiling's plugin is not listed).
        Difference("plugins.benchmarks/b", "unlisted", "b" * 40, None),
        Difference("plugins.models/m", "hash", "a" * 40, "c" * 40),
        Difference("seeds.ceiling", "seed", None, 3),
    ]
    line = record_differences(RECORD, changed)[0].describe()
    assert line == ("score (value): recorded 0.1, now 0.10000000000000003 "
                    "(difference +2.77556e-17)")


def test_a_plugin_listed_by_one_record_only_leaves_the_runs_identical():
    more = dataclasses.replace(RECORD, plugins={**RECORD.plugins, "metrics/ceiling": "c" * 40})
    differences = record_differences(RECORD, more)
    assert differences == [Difference("plugins.metrics/ceiling", "unlisted", None, "c" * 40)]
    assert Reproduction(RECORD, more, [], differences).identical
    other = dataclasses.replace(more, plugins={**more.plugins, "models/m": "0" * 40})
    assert not Reproduction(RECORD, other, [], record_differences(RECORD, other)).identical


def test_per_resample_values_are_described_by_how_many_differ_and_by_how_much():
    import numpy as np

    from brainmark.metrics.intervals import encode_resamples

    values = np.linspace(0.0, 1.0, 100)
    changed = values.copy()
    changed[[3, 50]] += [0.25, -0.5]  # float32 holds 0.25 and 0.5 exactly
    before = dataclasses.replace(RECORD, resample_values={"ceiled": encode_resamples(values)})
    after = dataclasses.replace(RECORD, resample_values={"ceiled": encode_resamples(changed)})
    (difference,) = record_differences(before, after)
    assert difference.describe() == ("resample_values.ceiled (value): 2 of 100 resample "
                                     "values differ, the largest by 0.5")


def _environment(home: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("BRAINMARK_") and name != "DJANGO_SETTINGS_MODULE"}
    # No API token from the real user's configuration.
    return {**env, "BRAINMARK_HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
            **extra}


def test_a_built_in_score_reproduces_from_its_record_file(tmp_path, run_brainmark):
    env = _environment(tmp_path / "home")
    record_path = tmp_path / "record.json"
    scored = run_brainmark("score", MODEL, BENCHMARK, "--output", str(record_path), env=env)
    assert scored.returncode == 0, scored.stderr

    # In another home: nothing cached there, so it really runs again.
    again = run_brainmark("reproduce", str(record_path), env=_environment(tmp_path / "other"))
    assert (again.returncode, again.stdout) == (0, "identical\n"), again.stderr
    assert "models/pixels: built-in, recorded content" in again.stderr

    # A record that says otherwise: each difference is printed, and the status is 1.
    content = json.loads(record_path.read_text())
    recorded_score = content["score"]
    content.update(score=recorded_score + 1e-9, torch="0.0.1")
    content["data_sha1s"]["data"] = "0" * 40
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(content))
    result = run_brainmark("reproduce", str(changed), env=_environment(tmp_path / "other"))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "3 difference(s):"
    assert lines[1].startswith(f"  score (value): recorded {recorded_score + 1e-9!r}, "
                               f"now {recorded_score!r}")
    assert lines[2].startswith("  torch (version): recorded 0.0.1, now ")
    assert lines[3].startswith("  data_sha1s.data (data): recorded " + "0" * 40)


def test_a_record_whose_plugin_is_nowhere_is_refused_with_its_name(tmp_path, run_brainmark):
    path = tmp_path / "record.json"
    path.write_text(dataclasses.replace(
        RECORD, model=MODEL, benchmark=BENCHMARK,
        plugins={"models/no_such_plugin": "a" * 40}).to_json())
    result = run_brainmark("reproduce", str(path), env=_environment(tmp_path / "home"))
    assert result.returncode == 1
    assert "models/no_such_plugin, which no plugin root holds" in result.stderr


POOLING_MODEL = '''
from torch import nn

from brainmark.models import ActivationsModel, ImagePreprocessing, ModelCommitment
from brainmark.registry import model_registry

SIZE = {size}


class Pool(nn.Module):
    def __init__(self):
        super().__init__()
        self.pixels = nn.AdaptiveAvgPool2d(SIZE)

    def forward(self, images):
        return self.pixels(images)


def build():
    activations = ActivationsModel("stored-pool", Pool(), preprocessing=ImagePreprocessing(
        size=64, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)))
    return ModelCommitment("stored-pool", activations, ["pixels"],
                           region_layer_map={{"V1": "pixels"}}, visual_degrees=8)


model_registry["stored-pool"] = build
'''


def test_the_recorded_plugin_version_is_taken_from_the_plugin_store(tmp_path, run_brainmark):
    from brainmark.pipeline.plugin_store import PluginStore

    home = tmp_path / "home"
    store = PluginStore(home / "platform" / "plugins")
    store.init()
    source = tmp_path / "submission" / "models" / "stored_pool"
    source.mkdir(parents=True)

    def merge(size: int, submission: int) -> str:
        (source / "__init__.py").write_text(textwrap.dedent(POOLING_MODEL.format(size=size)))
        return store.commit_submission(source.parent.parent, submission_id=submission,
                                       author_name="Ada", author_email="ada@example.org",
                                       allow_replace=True)

    first = merge(16, 1)
    record_path = tmp_path / "record.json"
    scored = run_brainmark("score", "stored-pool", BENCHMARK, "--output", str(record_path),
                           env=_environment(home, BRAINMARK_PLUGIN_PATH=str(store.path)))
    assert scored.returncode == 0, scored.stderr
    merge(8, 2)  # a later version of the plugin: the store's head is no longer the record's

    # Nothing on the plugin path: the store's commit holding the recorded version is used.
    again = run_brainmark("reproduce", str(record_path), env=_environment(home))
    assert (again.returncode, again.stdout) == (0, "identical\n"), again.stderr
    assert f"plugin store at commit {first[:12]}" in again.stderr

    # With the store's head on the plugin path and no store to search: it runs the newer
    # version and says that the plugin's content and the values differ.
    changed = run_brainmark("reproduce", str(record_path), "--plugin-store",
                            str(tmp_path / "no-store"),
                            env=_environment(home, BRAINMARK_PLUGIN_PATH=str(store.path)))
    assert changed.returncode == 1, changed.stderr
    recorded = json.loads(record_path.read_text())
    assert f"  plugins.models/stored_pool (hash): recorded " \
           f"{recorded['plugins']['models/stored_pool']}, now " in changed.stdout
    assert "  score (value): recorded " in changed.stdout


@pytest.mark.slow
def test_a_score_id_of_a_live_site_reproduces(tmp_path, read_server_address, run_brainmark):
    from tests.platform.live_site import BRAINMARK, run, started_site

    with started_site(tmp_path / "site", read_server_address, "ada@example.org") as site:
        run([str(BRAINMARK), "sync", "--score", "--model", MODEL, "--benchmark", BENCHMARK],
            site.env)
        (score_id,) = site.query("SELECT id FROM leaderboard_score")[0]
        client = _environment(tmp_path / "client", BRAINMARK_URL=site.address)
        result = run_brainmark("reproduce", str(score_id), env=client)
        assert (result.returncode, result.stdout) == (0, "identical\n"), result.stderr
        missing = run_brainmark("reproduce", "999999", env=client)
        assert missing.returncode == 1 and "answered 404 for score 999999" in missing.stderr
