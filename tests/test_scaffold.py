import pytest
from click.testing import CliRunner

from brainmark._scaffold import folder_name, new_model
from brainmark.cli import main
from brainmark.exceptions import DuplicateRegistrationError
from brainmark.registry import BUILTIN_ROOT, model_registry, parse_registrations


@pytest.mark.parametrize(
    ("kind", "identifier", "folder"),
    [
        ("benchmark", "Smith2024.IT-rdm", "benchmarks/smith2024_it_rdm"),
        ("benchmark", "Smith2024-odd_one_out", "benchmarks/smith2024_odd_one_out"),
        ("model", "my-net", "models/my_net"),
    ],
)
def test_scaffold_writes_a_plugin_folder_that_registers_its_name(kind, identifier, folder,
                                                                  tmp_path):
    result = CliRunner().invoke(main, ["new", kind, identifier, str(tmp_path)])
    assert result.exit_code == 0, result.output
    plugin = tmp_path / folder
    assert sorted(p.name for p in plugin.iterdir()) == [
        "__init__.py", "benchmark.py" if kind == "benchmark" else "model.py",
        "requirements.txt", "test.py",
    ]
    [(registry, name, _)] = parse_registrations(plugin / "__init__.py")
    assert (registry, name) == (f"{kind}_registry", identifier)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "identifier"), [("benchmark", "Smith2024.IT-rdm"), ("model", "my-net")]
)
def test_scaffolded_plugin_passes_brainmark_test_before_any_edit(kind, identifier, tmp_path,
                                                                capfd):
    runner = CliRunner()
    assert runner.invoke(main, ["new", kind, identifier, str(tmp_path)]).exit_code == 0
    folder = tmp_path / f"{kind}s" / folder_name(identifier)
    result = runner.invoke(main, ["test", str(folder)])
    output = capfd.readouterr().out
    assert result.exit_code == 0, output
    assert "4 passed" in output  # 2 generic checks + the plugin's 2 tests


def test_folder_names_are_importable_lower_case_words():
    assert folder_name("Smith2024.IT-rdm") == "smith2024_it_rdm"
    assert folder_name("my-net") == "my_net"


@pytest.mark.parametrize(
    ("kind", "identifier", "registered_as", "folder"),
    [
        ("model", "pixels", "a model", "models/pixels"),
        ("benchmark", "Coggan2024.V1-rdm", "a benchmark", "benchmarks/coggan2024"),
        ("model", "Kriegeskorte2008", "a stimulus set", "data/kriegeskorte2008"),
    ],
)
def test_scaffold_refuses_an_identifier_a_registry_already_knows(
    kind, identifier, registered_as, folder, tmp_path
):
    result = CliRunner().invoke(main, ["new", kind, identifier, str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {kind.capitalize()} identifier {identifier!r} is already registered as "
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
