"""A broken or misplaced plugin is reported where it matters and breaks nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from brainmark.cli import main

SYNTAX_ERROR = """\
from brainmark.registry import model_registry

model_registry["broken-model"] = (
"""


@pytest.fixture
def plugin_root(tmp_path, monkeypatch, make_plugin) -> Path:
    """A plugin root on BRAINMARK_PLUGIN_PATH with one good and one unparsable model."""
    root = tmp_path / "plugins"
    make_plugin(root, "good", """
        from brainmark.registry import model_registry
        model_registry["good-model"] = dict
    """)
    make_plugin(root, "broken", SYNTAX_ERROR)
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(root))
    return root


def test_list_shows_the_other_plugins_and_the_broken_folder_with_its_error(plugin_root):
    result = CliRunner().invoke(main, ["list", "models"])
    assert result.exit_code == 0, result.output
    assert {"pixels", "alexnet-untrained", "good-model"} <= set(result.stdout.split())
    assert "broken-model" not in result.stdout
    broken = plugin_root / "models" / "broken"
    assert result.stderr == (
        "# models plugin folders that cannot be indexed; what they register is not listed "
        "above:\n"
        f"{broken}\n"
        f"    {broken / '__init__.py'} line 3: syntax error: '(' was never closed.\n"
    )


def test_list_of_another_kind_does_not_mention_a_broken_model_folder(plugin_root):
    result = CliRunner().invoke(main, ["list", "benchmarks"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_built_in_model_is_scored_next_to_a_broken_plugin(plugin_root):
    result = CliRunner().invoke(main, ["score", "pixels", "Coggan2024.V1-rdm", "--json"])
    assert result.exit_code == 0, result.output


def test_scoring_an_identifier_of_the_broken_plugin_prints_its_error(plugin_root):
    result = CliRunner().invoke(main, ["score", "broken-model", "Coggan2024.V1-rdm"])
    assert result.exit_code == 1
    broken = plugin_root / "models" / "broken"
    assert result.stderr.splitlines()[-1] == (
        f"Error: Model 'broken-model' is probably registered by plugin folder {broken} "
        f"({broken / '__init__.py'} line 3: syntax error: '(' was never closed.), which cannot "
        f"be indexed. Fix its __init__.py (or take its root off the plugin path)."
    )


def test_plugin_path_one_level_too_deep_is_reported_by_list_and_lookups(
    tmp_path, monkeypatch, make_plugin
):
    root = tmp_path / "my_plugins"
    make_plugin(root, "mine", """
        from brainmark.registry import model_registry
        model_registry["my-model"] = dict
    """)
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(root / "models"))
    problem = (
        f"BRAINMARK_PLUGIN_PATH entry {root / 'models'} contains no data/, metrics/, "
        f"benchmarks/ or models/ folder; did you mean its parent {root}?"
    )
    listed = CliRunner().invoke(main, ["list", "models"])
    assert listed.exit_code == 0, listed.output
    assert listed.stderr == f"# BRAINMARK_PLUGIN_PATH entries holding no plugins:\n{problem}\n"
    scored = CliRunner().invoke(main, ["score", "my-model", "Coggan2024.V1-rdm"])
    assert scored.exit_code == 1
    assert scored.stderr.splitlines()[-1].startswith("Error: No plugin registers model 'my-model'")
    assert scored.stderr.rstrip().endswith(problem)


def test_test_command_names_the_requirements_of_a_missing_package(tmp_path, capfd, make_plugin):
    folder = make_plugin(tmp_path, "needs_package", """
        import brainmark_no_such_package
        from brainmark.registry import model_registry
        model_registry["needs-package"] = object
    """)
    requirements = folder / "requirements.txt"
    requirements.write_text("brainmark_no_such_package>=1.0\n")
    (folder / "test.py").write_text(
        "import brainmark_no_such_package\n\n\ndef test_nothing():\n    pass\n"
    )
    result = CliRunner().invoke(main, ["test", str(folder)])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Plugin models/needs_package needs the package 'brainmark_no_such_package', "
        "which is not installed. brainmark never installs packages while loading; run: "
        f"pip install -r {requirements}\n"
    )
    # pytest never ran: no traceback from each test that would load the plugin.
    assert capfd.readouterr() == ("", "")


def test_table_scores_the_other_benchmarks_when_one_cannot_even_load(
    tmp_path, monkeypatch, make_plugin
):
    root = tmp_path / "plugins"
    make_plugin(root, "raising", """
        from brainmark.registry import benchmark_registry
        raise RuntimeError("the data server is down")
        benchmark_registry["Broken2024.IT-rdm"] = dict
    """, plugin_type="benchmarks")
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(root))
    result = CliRunner().invoke(
        main, ["table", "--model", "pixels", "--benchmark", "Broken2024.IT-rdm",
               "--benchmark", "Coggan2024.V1-rdm"],
    )
    assert result.exit_code == 1, result.output
    [scored] = [line for line in result.stdout.splitlines() if line.startswith("Coggan2024.V1")]
    assert "X" not in scored.split()
    assert "X pixels on Broken2024.IT-rdm: PluginImportError" in result.stdout
    assert "the data server is down" in result.stdout
