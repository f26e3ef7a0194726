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


# What the built-in plugins' READMEs and bibtex state, read by hand: the licence
# identifiers named under "License" (data) or for the shipped weights (models), and the
# DOI of the benchmark's first citation where the data README gives one.
DATA_LICENSES = {"coggan2024": "MIT", "geirhos2021": "CC-BY-4.0, MIT", "kriegeskorte2008": "MIT"}
REFERENCE_URLS = {
    "Kiani2007.IT-rdm": "https://doi.org/10.1152/jn.00024.2007",
    "Kriegeskorte2008.IT-rdm": "https://doi.org/10.1016/j.neuron.2008.10.043",
    "Mur2013-rdm": "https://doi.org/10.3389/fpsyg.2013.00128",
}
# The metric each built-in benchmark names, by the metric part of its identifier (Mur2013
# calls its metric inside raw_score, so it states none the child could read).
METRICS = {"rdm": "rdm", "top1": "accuracy", "error_consistency": "error_consistency"}
# Parameters counted by hand: torchvision's published counts for AlexNet and ResNet-18;
# gabor-v1's one convolution of 8 orientations x 3 frequencies x 2 phases, 31 x 31, no
# bias; pixels has none.
PARAMETER_COUNTS = {
    "alexnet-untrained": 61_100_840,
    "resnet18-untrained": 11_689_512,
    "gabor-v1": 8 * 3 * 2 * 31 * 31,
    "pixels": 0,
}


def _expected_data(benchmark) -> dict:
    """The data description computed here, in the test process, from the loaded data."""
    import numpy as np

    data = benchmark.rdms if hasattr(benchmark, "rdms") else benchmark.assembly
    if "stimulus_row" in data.dims:
        stimuli = set(map(str, data["stimulus_row"].values)) | set(
            map(str, data["stimulus_column"].values)
        )
    else:
        stimuli = set(map(str, data["stimulus_id"].values))
    expected = {
        "identifiers": [data.attrs["identifier"]],
        "stimulus_set": data.attrs["stimulus_set_identifier"],
        "sha1": benchmark.data_sha1(),
        "stimuli": len(stimuli),
    }
    if "subject" in data.coords:
        expected["subjects"] = len(np.unique(data["subject"].values))
    if "presentation" in data.dims:
        expected["presentations"] = data.sizes["presentation"]
    if "neuroid" in data.dims:
        expected["neuroids"] = data.sizes["neuroid"]
    region = getattr(benchmark, "region", None) or data.attrs.get("region")
    if region:
        expected["region"] = region
    task = getattr(getattr(benchmark, "task", None), "value", None) or data.attrs.get("task")
    if task:
        expected["task"] = task
    for key in ("species", "recording"):
        if key in data.attrs:
            expected[key] = data.attrs[key]
    return expected


def test_sync_stores_what_each_plugin_states_about_its_data_metric_and_model(
    database, builtin_facts
):
    import inspect
    import sys

    import brainmark
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model
    from brainmark.platform.leaderboard.sync import write_plugin_facts
    from brainmark.registry import (
        benchmark_registry,
        data_registry,
        metric_registry,
        model_registry,
    )

    write_plugin_facts(builtin_facts)

    for row in BenchmarkVersion.objects.select_related("benchmark_type"):
        identifier = row.benchmark_type.identifier
        benchmark = brainmark.load_benchmark(identifier)
        metadata = row.metadata
        module = sys.modules[benchmark_registry[identifier].__module__]
        assert metadata["description"] == inspect.getdoc(module)
        data = dict(metadata["data"])
        license_text = data.pop("license_text")
        assert data == _expected_data(benchmark)
        (dataset,) = data["identifiers"]
        assert row.license == DATA_LICENSES[data_registry.locate(dataset).folder.name]
        assert "License" not in license_text and row.license.split(", ")[0] in license_text
        assert metadata.get("reference_url") == REFERENCE_URLS.get(identifier)
        metric = METRICS[identifier.rsplit("-", 1)[-1]]
        if identifier == "Mur2013-rdm":
            assert "metric" not in metadata
        else:
            assert isinstance(benchmark.metric, metric_registry[metric])
            assert metadata["metric"] == {
                "identifier": metric,
                "description": inspect.getdoc(type(benchmark.metric)).splitlines()[0],
            }
        # Ceilers given as anonymous functions (no_ceiling for ground truth and the one
        # pooled RDM) have no name to show; Mur2013 states none.
        anonymous = {"Kiani2007.IT-rdm", "Geirhos2021edge-top1", "Geirhos2021silhouette-top1",
                     "Mur2013-rdm"}
        assert ("ceiler" in metadata) == (identifier not in anonymous)
        if "ceiler" in metadata:
            assert isinstance(benchmark.ceiler, metric_registry[metadata["ceiler"]["identifier"]])
        assert metadata["parent"] == benchmark.parent

    for model_row in Model.objects.all():
        model = brainmark.load_model(model_row.identifier)
        network = model.activations_model.module
        metadata = dict(model_row.metadata)
        module = sys.modules[model_registry[model_row.identifier].__module__]
        assert metadata.pop("description") == inspect.getdoc(module)
        assert metadata.pop("architecture") == type(network).__name__
        assert metadata.pop("layers") == model.layers
        assert metadata.pop("region_layer_map") == {
            region: model.layer_for(region) for region in ("V1", "V2", "V4", "IT")
        }
        assert metadata.pop("behavioral_readout_layer") == model.behavioral_readout_layer
        assert metadata.pop("image_size") == model.activations_model.preprocessing.size
        count = metadata.pop("parameter_count")
        if model_row.identifier == "resnet20-cifar10":
            assert count == _checkpoint_parameter_count(model_registry, model_row.identifier)
            assert model_row.license == "BSD-2-Clause"
            assert metadata.pop("reference_url") == (
                "https://github.com/akamaster/pytorch_resnet_cifar10"
            )
            assert "@inproceedings{he2016deep" in metadata.pop("bibtex")
            assert "BSD-2-Clause" in metadata.pop("license_text")
        else:
            assert count == PARAMETER_COUNTS[model_row.identifier]
            assert model_row.license == ""  # no README: no licence stated, none invented
        assert metadata == {}


def _checkpoint_parameter_count(model_registry, identifier: str) -> int:
    """Parameters of the shipped checkpoint: its tensors less batch-norm running statistics."""
    import torch

    folder = model_registry.locate(identifier).folder
    (weights,) = folder.glob("*.th")
    state = torch.load(weights, map_location="cpu", weights_only=True)["state_dict"]
    return sum(
        tensor.numel() for name, tensor in state.items()
        if not name.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )


README = """# my-net

## Weights: `weights.pt`

- Source: https://example.org/my-net
- License: Apache-2.0, Copyright (c) 2024 Somebody.

```python
# Not a heading: a comment in a code block.
```

## Test images

- License: CC-BY-4.0 (these images are not shipped with the model).

```bibtex
@article{somebody2024,
  title = {A {Net} of Mine},
  doi = {10.1000/xyz.123},
  year = 2024
}
```
"""


def test_licences_and_references_are_read_from_what_a_readme_states():
    from brainmark.platform.leaderboard.plugin_facts import (
        bibtex_entries,
        license_identifiers,
        license_statement,
        readme_bibtex,
        reference_url,
    )

    # A model's licence is that of the weights it ships, not of its test images.
    assert license_statement(README) == "License: Apache-2.0, Copyright (c) 2024 Somebody."
    assert license_identifiers(license_statement(README)) == "Apache-2.0"
    data_readme = "# Data\n\n## License\n\nImages CC-BY-SA-4.0; code MIT.\n\n## Citation\n"
    assert license_statement(data_readme) == "Images CC-BY-SA-4.0; code MIT."
    assert license_identifiers("Images CC-BY-SA-4.0; code MIT.") == "CC-BY-SA-4.0, MIT"
    assert license_statement("# Nothing about licences\n") is None
    assert license_identifiers(None) == ""
    assert license_identifiers(" ".join(["MIT", "Apache-2.0"] * 3 + ["CC0-1.0"] * 40)) == (
        "MIT, Apache-2.0, CC0-1.0"  # each once
    )
    (entry,) = bibtex_entries(readme_bibtex(README)).values()
    assert entry == {"title": "A {Net} of Mine", "doi": "10.1000/xyz.123", "year": "2024"}
    assert reference_url(entry) == "https://doi.org/10.1000/xyz.123"
    assert reference_url({"howpublished": r"\url{https://github.com/x/y}"}) == (
        "https://github.com/x/y"
    )
    assert reference_url({"url": "javascript:alert(1)"}) is None


def test_a_second_sync_changes_nothing(database, builtin_facts):
    from brainmark.platform.leaderboard.sync import write_plugin_facts

    first = write_plugin_facts(builtin_facts)
    before = _table_contents()
    second = write_plugin_facts(builtin_facts)

    assert first.created and not first.updated
    assert (second.created, second.updated) == ({}, {})
    assert _table_contents() == before
    # ... including the described plugins' metadata and licences.
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model

    assert all(row.metadata.get("data") for row in BenchmarkVersion.objects.all())
    assert Model.objects.exclude(license="").exists()


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


@pytest.mark.parametrize(
    ("kind", "change", "complaint"),
    [
        ("benchmark", {"metadata": {"data": {"stimuli": -3}}}, "metadata: data: stimuli:"),
        ("benchmark", {"metadata": {"data": {"sha1": "xyz"}}}, "metadata: data: sha1:"),
        ("benchmark", {"metadata": {"reference_url": "javascript:alert(1)"}},
         "metadata: reference_url:"),
        ("benchmark", {"metadata": {"metric": {"description": "no name"}}},
         "metadata: metric: missing keys ['identifier']"),
        ("benchmark", {"metadata": {"species": "human"}}, "metadata: unknown keys ['species']"),
        ("benchmark", {"metadata": ["not", "a", "mapping"]}, "metadata:"),
        ("benchmark", {"license": "x" * 101}, "longer than 100"),
        ("model", {"metadata": {"parameter_count": "many"}}, "metadata: parameter_count:"),
        ("model", {"metadata": {"layers": []}}, "metadata: layers:"),
        ("model", {"metadata": {"region_layer_map": {"V1": 3}}}, "metadata: region_layer_map:"),
        ("model", {"license": 7}, "is not a string"),
        ("model", {"metadata": {"description": "a\x00b"}}, "holds a NUL character"),
    ],
)
def test_a_malformed_metadata_fact_is_reported_not_stored(database, kind, change, complaint):
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model
    from brainmark.platform.leaderboard.sync import write_plugin_facts

    good = {"benchmarks": [_benchmark("Good.V1")], "models": [_model("good")]}
    bad = _benchmark("Bad.V1", **change) if kind == "benchmark" else _model("bad", **change)
    good[f"{kind}s"].append(bad)
    report = write_plugin_facts(_facts(**good))

    (problem,) = report.problems
    assert problem.startswith(f"{kind} {bad['identifier']}: invalid facts (")
    assert complaint in problem
    assert list(BenchmarkVersion.objects.values_list("benchmark_type__identifier", flat=True)) == [
        "Good.V1"
    ]
    assert list(Model.objects.values_list("identifier", flat=True)) == ["good"]


def test_well_formed_metadata_is_stored_as_given(database):
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model
    from brainmark.platform.leaderboard.sync import write_plugin_facts

    data = {"identifiers": ["Good.V1"], "sha1": "0" * 40, "stimuli": 12, "subjects": 2,
            "region": "V1", "species": "macaque"}
    write_plugin_facts(_facts(
        benchmarks=[_benchmark("Good.V1", license="CC-BY-4.0", metadata={
            "data": data, "metric": {"identifier": "pls"},
            "reference_url": "https://doi.org/10.1/x"})],
        models=[_model("good", license="MIT", metadata={"parameter_count": 0})],
    ))

    row = BenchmarkVersion.objects.get()
    assert row.license == "CC-BY-4.0"
    assert row.metadata == {"parent": "V1", "visual_degrees": 8.0, "data": data,
                            "metric": {"identifier": "pls"},
                            "reference_url": "https://doi.org/10.1/x"}
    model = Model.objects.get()
    assert (model.license, model.metadata) == ("MIT", {"parameter_count": 0})


def test_a_sync_leaves_public_as_people_set_it(database):
    """A sync publishes what it creates; a model its owner made private (or a benchmark
    version staff unpublished) stays so when the plugins are synced again."""
    from brainmark.platform.leaderboard.models import BenchmarkVersion, Model
    from brainmark.platform.leaderboard.sync import write_plugin_facts

    facts = _facts(benchmarks=[_benchmark("Good.V1")], models=[_model("good")])
    write_plugin_facts(facts)
    assert Model.objects.get().public and BenchmarkVersion.objects.get().public
    Model.objects.update(public=False)
    BenchmarkVersion.objects.update(public=False)

    report = write_plugin_facts(facts)

    assert (report.created, report.updated) == ({}, {})
    assert not Model.objects.get().public and not BenchmarkVersion.objects.get().public


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
