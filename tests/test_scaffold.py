import pytest
from click.testing import CliRunner

from brainmark._scaffold import folder_name, new_model
from brainmark.cli import main
from brainmark.exceptions import DuplicateRegistrationError
from brainmark.registry import BUILTIN_ROOT, model_registry, parse_registrations

PLUGIN_TYPES = {"benchmark": "benchmarks", "model": "models", "data": "data"}


FILES = {
    "benchmark": ["__init__.py", "benchmark.py", "requirements.txt", "test.py"],
    "model": ["__init__.py", "model.py", "requirements.txt", "test.py"],
    "data": ["README.md", "__init__.py", "assy_Smith2024.IT.nc", "data.py", "package_data.py",
             "requirements.txt", "sha1s.json", "stimulus_Smith2024.csv",
             "stimulus_Smith2024.zip", "test.py"],
}


@pytest.mark.parametrize(
    ("kind", "identifier", "folder", "registrations"),
    [
        ("benchmark", "Smith2024.IT-rdm", "benchmarks/smith2024_it_rdm",
         [("benchmark_registry", "Smith2024.IT-rdm")]),
        ("benchmark", "Smith2024.V4-pls", "benchmarks/smith2024_v4_pls",
         [("benchmark_registry", "Smith2024.V4-pls")]),
        ("benchmark", "Smith2024-odd_one_out", "benchmarks/smith2024_odd_one_out",
         [("benchmark_registry", "Smith2024-odd_one_out")]),
        ("model", "my-net", "models/my_net", [("model_registry", "my-net")]),
        ("data", "Smith2024", "data/smith2024",
         [("stimulus_set_registry", "Smith2024"), ("data_registry", "Smith2024.IT")]),
    ],
)
def test_scaffold_writes_a_plugin_folder_that_registers_its_names(
    kind, identifier, folder, registrations, tmp_path
):
    result = CliRunner().invoke(main, ["new", kind, identifier, str(tmp_path)])
    assert result.exit_code == 0, result.output
    plugin = tmp_path / folder
    assert sorted(p.name for p in plugin.iterdir()) == FILES[kind]
    found = [(registry, name) for registry, name, _ in parse_registrations(plugin / "__init__.py")]
    assert found == registrations


@pytest.mark.parametrize(
    ("identifier", "kind", "benchmark_class", "metric"),
    [
        ("Smith2024.IT-pls", "neural", "NeuralBenchmark", 'metric="pls"'),
        ("Smith2024.V1-ridge", "neural", "NeuralBenchmark", 'metric="ridge"'),
        ("Smith2024.IT-cka", "neural", "NeuralBenchmark", 'metric="cka"'),
        ("Smith2024.IT-rdm", "rsa", "RSABenchmark", None),
        ("Smith2024-top1", "behavioral", "BehavioralBenchmark", 'metric="accuracy"'),
        ("Smith2024-error_consistency", "behavioral", "BehavioralBenchmark",
         'metric="error_consistency"'),
        ("Smith2024-i2n", "behavioral", "BehavioralBenchmark", 'metric="i2n"'),
    ],
)
def test_the_kind_of_benchmark_is_guessed_from_the_metric_and_said(
    identifier, kind, benchmark_class, metric, tmp_path
):
    result = CliRunner().invoke(main, ["new", "benchmark", identifier, str(tmp_path)])
    assert result.exit_code == 0, result.output
    metric_name = identifier.rsplit("-", 1)[1]
    assert result.output.startswith(
        f"Kind: {kind} (guessed from the metric {metric_name!r} in the identifier; choose "
        f"another with --kind neural|rsa|behavioral).\n"
    )
    code = (tmp_path / "benchmarks" / folder_name(identifier) / "benchmark.py").read_text()
    assert f"return {benchmark_class}(" in code
    assert metric is None or metric in code


def test_kind_given_with_the_option_wins_and_an_unknown_metric_gets_a_stand_in(tmp_path):
    result = CliRunner().invoke(
        main, ["new", "benchmark", "Smith2024.V4-mystery", str(tmp_path), "--kind", "neural"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "Kind: neural (as given with --kind).\nMetric: 'pls' stands in for 'mystery', which "
        "brainmark does not register for a neural benchmark; set metric= in benchmark.py.\n"
    )
    code = (tmp_path / "benchmarks" / "smith2024_v4_mystery" / "benchmark.py").read_text()
    assert 'region="V4"' in code and 'parent="V4"' in code and 'metric="pls"' in code


def test_an_unknown_metric_without_a_kind_is_refused_saying_how_to_choose(tmp_path):
    result = CliRunner().invoke(main, ["new", "benchmark", "Smith2024.IT-mystery", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Cannot tell the kind of benchmark 'Smith2024.IT-mystery' from its metric "
        "'mystery'. Pass --kind: neural (trial-level responses compared by a regression "
        "metric or CKA, e.g. '-pls'), rsa (RDMs, '-rdm') or behavioral (choices, '-top1', "
        "'-error_consistency', '-i2n').\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("benchmark", "Smith2024.IT", "The benchmark identifier must read "
                                      "'AuthorYear.region-metric'"),
        ("model", "my net", "The model identifier must start with a letter or digit"),
        ("data", "Smith/2024", "The stimulus set identifier must start with a letter or digit"),
    ],
)
def test_names_breaking_the_one_identifier_rule_are_refused(kind, name, message, tmp_path):
    result = CliRunner().invoke(main, ["new", kind, name, str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {message}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "identifier"),
    [
        ("benchmark", "Smith2024.IT-pls"),
        ("benchmark", "Smith2024.IT-rdm"),
        ("benchmark", "Smith2024-top1"),
        ("model", "my-net"),
        ("data", "Smith2024"),
    ],
)
def test_scaffolded_plugin_passes_brainmark_test_before_any_edit(kind, identifier, tmp_path,
                                                                capfd):
    runner = CliRunner()
    assert runner.invoke(main, ["new", kind, identifier, str(tmp_path)]).exit_code == 0
    folder = tmp_path / PLUGIN_TYPES[kind] / folder_name(identifier)
    result = runner.invoke(main, ["test", str(folder)])
    output = capfd.readouterr().out
    assert result.exit_code == 0, output
    # Benchmarks and models: registration + generic check + the plugin's 2 tests; data:
    # its 2 registrations + the plugin's 2 tests.
    assert "4 passed" in output


def test_folder_names_are_importable_lower_case_words():
    assert folder_name("Smith2024.IT-rdm") == "smith2024_it_rdm"
    assert folder_name("my-net") == "my_net"


@pytest.mark.parametrize(
    ("kind", "identifier", "what", "registered_as", "folder"),
    [
        ("model", "pixels", "model", "a model", "models/pixels"),
        ("benchmark", "Coggan2024.V1-rdm", "benchmark", "a benchmark", "benchmarks/coggan2024"),
        ("model", "Kriegeskorte2008", "model", "a stimulus set", "data/kriegeskorte2008"),
        ("data", "Kriegeskorte2008", "stimulus set", "a stimulus set", "data/kriegeskorte2008"),
        ("data", "Coggan2024", "stimulus set", "a stimulus set", "data/coggan2024"),
    ],
)
def test_scaffold_refuses_an_identifier_a_registry_already_knows(
    kind, identifier, what, registered_as, folder, tmp_path
):
    result = CliRunner().invoke(main, ["new", kind, identifier, str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {what.capitalize()} identifier {identifier!r} is already registered as "
        f"{registered_as} by plugin folder {BUILTIN_ROOT / folder}. Identifiers must be unique "
        f"across the built-in plugins, BRAINMARK_PLUGIN_PATH and installed plugin packages; "
        f"choose another name.\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_scaffold_refuses_an_identifier_of_a_plugin_on_the_plugin_path(tmp_path, monkeypatch):
    runner = CliRunner()
    existing = tmp_path / "existing"
    assert runner.invoke(main, ["new", "model", "my-net", str(existing)]).exit_code == 0
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(existing))
    with pytest.raises(DuplicateRegistrationError, match=(
        rf"Model identifier 'my-net' is already registered as a model by plugin folder "
        rf"{existing / 'models' / 'my_net'}\."
    )):
        new_model("my-net", tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def test_scaffold_refuses_an_identifier_registered_in_this_process(tmp_path):
    model_registry["registered-by-a-script"] = object
    try:
        with pytest.raises(DuplicateRegistrationError, match=(
            r"Model identifier 'registered-by-a-script' is already registered as a model by "
            r"code in this process\."
        )):
            new_model("registered-by-a-script", tmp_path)
    finally:
        del model_registry["registered-by-a-script"]
