"""``brainmark sync``: the plugins into the database (in a child process), and their scores.

Reading every built-in plugin in the child takes about 8 s (the ceilings of the 11
built-in benchmarks included), so the tests writing rows share one reading per module
(``builtin_facts``); ``sync_plugins`` end to end (read, then write) runs in the fresh
interpreter test and twice through the ``brainmark sync`` command. Rows are rolled back
(fixture ``database``).
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def builtin_facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The checked facts of the built-in plugins, read once in a child with its own home."""
    from brainmark.platform.leaderboard.sync import read_plugin_facts

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRAINMARK_HOME", str(tmp_path_factory.mktemp("sync_home")))
        patch.delenv("BRAINMARK_PLUGIN_PATH", raising=False)
        return read_plugin_facts()


def _table_contents() -> dict[str, list[tuple]]:
    """Every leaderboard row's values (ids included), per table, in id order."""
    from brainmark.platform.leaderboard.models import (
        BenchmarkType,
        BenchmarkVersion,
        Model,
        ModelVersion,
        Score,
    )

    return {
        kind.__name__: [
            tuple(sorted(row.items(), key=lambda item: item[0]))
            for row in kind.objects.order_by("pk").values()
        ]
        for kind in (BenchmarkType, BenchmarkVersion, Model, ModelVersion, Score)
    }


def test_sync_creates_the_builtin_benchmarks_in_the_tree_and_the_builtin_models(
    database, builtin_facts
):
    import brainmark
    from brainmark._provenance import plugin_content_sha1
    from brainmark.benchmarks.tree import TREE, parent_node
    from brainmark.platform.leaderboard.models import BenchmarkType, BenchmarkVersion, Model
    from brainmark.platform.leaderboard.sync import write_plugin_facts
    from brainmark.registry import model_registry, plugin_index
    from brainmark.settings import override_settings

    # What the sync's child process sees: the plugin index, not factories an earlier test
    # of this worker registered in-process under a temporary plugin path.
    benchmarks = set(plugin_index().identifiers("benchmark_registry"))
    models = set(plugin_index().identifiers("model_registry"))
    report = write_plugin_facts(builtin_facts)

    assert report.problems == []
    for node, parent in TREE.items():
        row = BenchmarkType.objects.get(identifier=node)
        assert (row.parent.identifier if row.parent else None) == parent
    assert set(BenchmarkType.objects.values_list("identifier", flat=True)) == (
        set(TREE) | benchmarks
    )
    with override_settings(reuse_cache=False):  # computed again here, not read from the child
        for identifier in sorted(benchmarks):
            benchmark = brainmark.load_benchmark(identifier)
            ceiling = benchmark.ceiling
            row = BenchmarkVersion.objects.get(benchmark_type__identifier=identifier)
            assert row.version == benchmark.version
            assert row.benchmark_type.parent.identifier == parent_node(benchmark.parent)
            assert row.bibtex == benchmark.bibtex
            assert row.ceiling == pytest.approx(float(ceiling), rel=1e-12)
            error = float(ceiling.attrs.get("error", math.nan))
            assert (row.ceiling_error is None) if math.isnan(error) else (
                row.ceiling_error == pytest.approx(error, rel=1e-12)
            )
            assert row.public
    assert set(Model.objects.values_list("identifier", flat=True)) == models
    for model in Model.objects.all():
        (version,) = model.versions.all()
        folder = model_registry.locate(model.identifier).folder
        assert version.version == 1
        assert version.plugin_sha1 == plugin_content_sha1(folder)
        assert version.visual_degrees == brainmark.load_model(model.identifier).visual_degrees()
        assert model.owner is None and model.public


def test_a_second_sync_changes_nothing(database, builtin_facts):
    from brainmark.platform.leaderboard.sync import write_plugin_facts

    first = write_plugin_facts(builtin_facts)
    before = _table_contents()
    second = write_plugin_facts(builtin_facts)

    assert first.created and not first.updated
    assert (second.created, second.updated) == ({}, {})
    assert _table_contents() == before


def test_sync_score_stores_the_score_the_library_computes(database, builtin_facts):
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.leaderboard.sync import score_unscored, write_plugin_facts
    from brainmark.scoring import ScoreRecord, score_model

    write_plugin_facts(builtin_facts)
    outcomes = score_unscored(["pixels"], ["Coggan2024.V1-rdm"], progress=False)

    (score,) = Score.objects.all()
    expected = score_model("pixels", "Coggan2024.V1-rdm", use_cache=False)
    assert [(o.model, o.benchmark, o.error_text) for o in outcomes] == [
        ("pixels", "Coggan2024.V1-rdm", "")
    ]
    assert score.model_version.model.identifier == "pixels"
    assert score.benchmark_version.benchmark_type.identifier == "Coggan2024.V1-rdm"
    assert score.ceiled == pytest.approx(expected.score, rel=1e-9)
    assert score.raw == pytest.approx(expected.raw, rel=1e-9)
    assert score.ceiling == pytest.approx(expected.ceiling, rel=1e-9)
    assert score.layer_commitment == dict(expected.layer_commitment)
    assert ScoreRecord.from_dict(score.record).score == score.ceiled
    assert score.comment == "" and score.start <= score.end
    # Scored pairs are not scored again.
    assert score_unscored(["pixels"], ["Coggan2024.V1-rdm"], progress=False) == []


def test_a_failed_score_is_stored_with_its_error_text(database):
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.leaderboard.sync import score_unscored, write_plugin_facts

    write_plugin_facts(_facts(models=[_model("pixels")], benchmarks=[_benchmark("Nope.V1")]))
    outcomes = score_unscored(progress=False)

    (score,) = Score.objects.all()
    assert score.ceiled is None and score.raw is None and score.record == {}
    assert "Nope.V1" in score.comment and outcomes[0].error_text == score.comment


def _benchmark(identifier: str, **changes) -> dict:
    return {"identifier": identifier, "version": 1, "parent": "V1", "bibtex": "",
            "ceiling": 0.5, "ceiling_error": 0.1, "visual_degrees": 8.0, **changes}


def _model(identifier: str, **changes) -> dict:
    return {"identifier": identifier, "visual_degrees": 8.0, "plugin_sha1": "a" * 40, **changes}


def _facts(**facts) -> dict:
    from brainmark.platform.leaderboard.sync import validate_plugin_facts

    return validate_plugin_facts({"benchmarks": [], "models": [], "problems": [], **facts})


def test_invalid_facts_are_reported_and_skipped_and_the_rest_written(database):
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model, ModelVersion
    from brainmark.platform.leaderboard.sync import write_plugin_facts

    facts = _facts(
        benchmarks=[_benchmark("Good.V1"), _benchmark("NoCeiling.V1", ceiling=None),
                    _benchmark("Elsewhere", parent="V9")],
        models=[_model("good"), _model("flat", visual_degrees=0)],
        problems=[{"kind": "model", "identifier": "broken", "error": "ImportError: no"}],
    )
    report = write_plugin_facts(facts)

    assert [problem.split(":")[0] for problem in report.problems] == [
        "model broken", "benchmark NoCeiling.V1", "benchmark Elsewhere", "model flat"
    ]
    assert list(BenchmarkVersion.objects.values_list("benchmark_type__identifier", flat=True)) == [
        "Good.V1"
    ]
    assert list(Model.objects.values_list("identifier", flat=True)) == ["good"]
    # A changed plugin is a new model version; the old one stays.
    write_plugin_facts(_facts(models=[_model("good", plugin_sha1="b" * 40)]))
    assert list(ModelVersion.objects.values_list("version", "plugin_sha1")) == [
        (2, "b" * 40), (1, "a" * 40)
    ]


SYNC_IN_A_FRESH_INTERPRETER = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "brainmark.platform.settings"
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from brainmark.platform.leaderboard.models import Score
from brainmark.platform.leaderboard.sync import score_unscored, sync_plugins
report = sync_plugins()
assert report.created["BenchmarkVersion"] == 11, report
score_unscored(["pixels"], ["Coggan2024.V1-rdm"], progress=False)
assert Score.objects.get().ceiled is not None
loaded = sorted(m for m in sys.modules
                if m == "torch" or m.startswith(("torch.", "brainmark_plugin_")))
assert not loaded, loaded
"""


def test_sync_and_score_import_no_plugin_and_no_torch_in_the_syncing_process(
    sqlite_environment,
):
    result = subprocess.run(
        [sys.executable, "-c", SYNC_IN_A_FRESH_INTERPRETER],
        env=sqlite_environment, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_brainmark_sync_twice_the_second_changes_nothing(run_brainmark, sqlite_environment):
    assert run_brainmark("migrate", env=sqlite_environment).returncode == 0
    first = run_brainmark("sync", env=sqlite_environment)
    assert first.returncode == 0, first.stderr
    assert "11 BenchmarkVersion created" in first.stdout
    second = run_brainmark(
        "sync", "--score", "--model", "pixels", "--benchmark", "Coggan2024.V1-rdm",
        env=sqlite_environment,
    )
    assert second.returncode == 0, second.stderr
    assert "Synced: nothing changed." in second.stdout
    assert "Scored 1 pairs, 0 failed." in second.stdout


def test_a_plugin_that_fails_to_load_is_reported_and_skipped(
    database, plugin_root, make_plugin
):
    from brainmark.platform.leaderboard.models import Model
    from brainmark.platform.leaderboard.sync import read_plugin_facts, write_plugin_facts

    make_plugin(plugin_root, "broken_sync", """
        from brainmark.registry import model_registry


        def broken():
            raise RuntimeError("the weights are missing")


        model_registry["broken-sync"] = broken
    """)
    report = write_plugin_facts(read_plugin_facts())

    assert report.problems == ["model broken-sync: RuntimeError: the weights are missing"]
    assert "pixels" in set(Model.objects.values_list("identifier", flat=True))
    assert not Model.objects.filter(identifier="broken-sync").exists()


def test_brainmark_sync_refuses_a_choice_without_score_and_unknown_choices(
    run_brainmark, sqlite_environment
):
    without_score = run_brainmark("sync", "--model", "pixels", env=sqlite_environment)
    assert without_score.returncode == 2 and "add --score" in without_score.stderr
    assert run_brainmark("migrate", env=sqlite_environment).returncode == 0
    unknown = run_brainmark("sync", "--score", "--model", "pixel", env=sqlite_environment)
    assert unknown.returncode == 2 and "model pixel" in unknown.stderr
