import pytest
from click.testing import CliRunner

from brainmark._scaffold import folder_name
from brainmark.cli import main
from brainmark.registry import parse_registrations


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
