import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from brainmark.cli import main
from brainmark.exceptions import SettingsError, UnknownPluginError


def test_list_benchmarks_names_every_built_in_benchmark():
    result = CliRunner().invoke(main, ["list", "benchmarks"])
    assert result.exit_code == 0, result.output
    names = result.output.split()
    for name in ["Coggan2024.V1-rdm", "Geirhos2021edge-top1", "Kriegeskorte2008.IT-rdm",
                 "Kiani2007.IT-rdm", "Mur2013-rdm"]:
        assert name in names


def test_list_data_shows_datasets_and_stimulus_sets():
    result = CliRunner().invoke(main, ["list", "data"])
    assert result.exit_code == 0, result.output
    assert "# datasets" in result.output and "# stimulus sets" in result.output
    assert "Coggan2024.IT" in result.output.split()


def test_list_refuses_an_unknown_kind():
    result = CliRunner().invoke(main, ["list", "widgets"])
    assert result.exit_code == 2
    assert "widgets" in result.output


def test_new_benchmark_refuses_to_overwrite_an_existing_folder(tmp_path):
    runner = CliRunner()
    first = runner.invoke(main, ["new", "benchmark", "Smith2024.IT-rdm", str(tmp_path)])
    assert first.exit_code == 0, first.output
    init = tmp_path / "benchmarks" / "smith2024_it_rdm" / "__init__.py"
    init.write_text(init.read_text() + "# edited\n")
    second = runner.invoke(main, ["new", "benchmark", "Smith2024.IT-rdm", str(tmp_path)])
    assert second.exit_code == 1
    assert second.stderr.startswith(f"Error: {init.parent} already exists;")
    assert init.read_text().endswith("# edited\n")


def test_new_benchmark_refuses_an_identifier_without_author_and_year(tmp_path):
    result = CliRunner().invoke(main, ["new", "benchmark", "my-benchmark", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "AuthorYear" in result.stderr
    assert not (tmp_path / "benchmarks").exists()


def test_test_command_runs_generic_checks_and_the_plugins_own_tests(capfd):
    result = CliRunner().invoke(main, ["test", "src/brainmark/plugins/data/coggan2024"])
    out = capfd.readouterr().out
    assert result.exit_code == 0, out
    # pytest's summary from the subprocess: 5 registrations load + the plugin's 6 tests.
    assert "11 passed" in out


def test_test_command_refuses_a_folder_that_is_not_a_plugin(tmp_path):
    result = CliRunner().invoke(main, ["test", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {tmp_path} is not a plugin folder")


def test_table_json_reports_an_unknown_model_as_an_error_not_a_crash(tmp_path):
    output = tmp_path / "table.json"
    result = CliRunner().invoke(
        main,
        ["table", "--model", "no-such-model", "--benchmark", "Coggan2024.V1-rdm", "--json",
         "--output", str(output)],
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout) == json.loads(output.read_text())
    assert result.stderr.splitlines()[-1] == (
        "Error: 1 of 1 model x benchmark pairs failed; see error_message in the results."
    )
    table = json.loads(output.read_text())
    [record] = table["results"]
    assert record["score"] is None and "no-such-model" in record["error_message"]
    # An errored score counts 0 in a parent; a node with no score beneath it is empty.
    assert table["nodes"]["no-such-model"]["V1"] is None


def test_table_prints_the_table_and_the_failures_then_exits_1():
    result = CliRunner().invoke(
        main,
        ["table", "--model", "pixels", "--model", "no-such-model",
         "--benchmark", "Coggan2024.V1-rdm"],
    )
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["benchmark", "parent", "pixels", "no-such-model"]
    [row] = [line.split() for line in lines if line.startswith("Coggan2024.V1-rdm")]
    assert row[1] == "V1" and row[3] == "X" and float(row[2]) > 0
    assert any(line.startswith("X no-such-model on Coggan2024.V1-rdm: UnknownPluginError: No "
                               "plugin registers model 'no-such-model'") for line in lines)
    assert result.stderr.splitlines()[-1] == (
        "Error: 1 of 2 model x benchmark pairs failed; their errors are listed below the table."
    )


def test_table_exits_0_when_every_pair_is_scored():
    result = CliRunner().invoke(
        main, ["table", "--model", "pixels", "--benchmark", "Coggan2024.V1-rdm"]
    )
    assert result.exit_code == 0, result.output
    assert "Error" not in result.output


@pytest.mark.parametrize(
    "arguments",
    [["score", "pixels", "Coggan2024.V1-rdm"],
     ["table", "--model", "pixels", "--benchmark", "Coggan2024.V1-rdm"]],
)
def test_score_and_table_refuse_a_home_they_cannot_write_before_any_work(arguments, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home = blocker / "home"
    result = CliRunner().invoke(main, arguments, env={"BRAINMARK_HOME": str(home)})
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: The brainmark home {home} cannot be created: {blocker} is a file, not a "
        f"folder. Set BRAINMARK_HOME to a folder you can write to.\n"
    )
    assert result.stdout == ""


def test_score_prints_ceiled_raw_ceiling_error_and_layer():
    result = CliRunner().invoke(main, ["score", "pixels", "Coggan2024.V1-rdm"])
    assert result.exit_code == 0, result.output
    for label in ["score", "raw", "ceiling", "error", "layers   V1: "]:
        assert label in result.output


def test_score_json_is_the_library_score_with_a_reproducibility_record():
    from brainmark import __version__, load_benchmark, load_model

    result = CliRunner().invoke(main, ["score", "pixels", "Coggan2024.V1-rdm", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    expected = load_benchmark("Coggan2024.V1-rdm")(load_model("pixels"))
    assert record["score"] == float(expected)
    assert record["raw"] == float(expected.attrs["raw"])
    assert record["ceiling"] == float(expected.attrs["ceiling"])
    assert record["benchmark_version"] == 1 and record["brainmark_version"] == __version__
    assert set(record["plugins"]) >= {"benchmarks/coggan2024", "data/coggan2024",
                                      "models/pixels", "metrics/similarity"}
    assert record["cached"] is False


def test_score_is_cached_until_a_plugin_file_changes(tmp_path, monkeypatch):
    runner = CliRunner()
    created = runner.invoke(main, ["new", "benchmark", "Smith2024.V1-rdm", str(tmp_path)])
    assert created.exit_code == 0, created.output
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(tmp_path))

    def score():
        result = runner.invoke(main, ["score", "pixels", "Smith2024.V1-rdm", "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first, second = score(), score()
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["score"] == first["score"]
    implementation = tmp_path / "benchmarks" / "smith2024_v1_rdm" / "benchmark.py"
    implementation.write_text(implementation.read_text() + "\n# a reviewed change\n")
    third = score()
    assert third["cached"] is False
    assert third["plugins"]["benchmarks/smith2024_v1_rdm"] != first["plugins"][
        "benchmarks/smith2024_v1_rdm"
    ]


def test_expected_error_is_one_line_on_stderr_without_a_traceback():
    result = CliRunner().invoke(main, ["score", "no-such-model", "Coggan2024.V1-rdm"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        "Error: No plugin registers model 'no-such-model'."
    )
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_invalid_environment_is_reported_as_an_error_line():
    result = CliRunner().invoke(main, ["list", "models"], env={"BRAINMARK_HOMME": "/x"})
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Environment variable BRAINMARK_HOMME names no brainmark setting."
    )


@pytest.mark.parametrize(
    ("arguments", "env"),
    [
        (["--debug", "score", "no-such-model", "Coggan2024.V1-rdm"], {}),
        (["score", "no-such-model", "Coggan2024.V1-rdm"], {"BRAINMARK_DEBUG": "1"}),
    ],
)
def test_debug_flag_or_setting_lets_the_traceback_through(arguments, env):
    result = CliRunner().invoke(main, arguments, env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, UnknownPluginError)
    assert "Error:" not in result.output


def test_debug_flag_works_when_the_environment_itself_is_invalid():
    result = CliRunner().invoke(main, ["--debug", "list", "models"],
                                env={"BRAINMARK_HOMME": "/x"})
    assert result.exit_code == 1
    assert isinstance(result.exception, SettingsError)


def test_unexpected_exception_keeps_its_traceback(monkeypatch, tmp_path):
    def broken(identifier, destination):
        raise RuntimeError("a bug")

    monkeypatch.setattr("brainmark._scaffold.new_model", broken)
    result = CliRunner().invoke(main, ["new", "model", "my-net", str(tmp_path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)


def test_installed_command_prints_the_traceback_only_with_debug(tmp_path):
    command = [sys.executable, "-c", "from brainmark.cli import main; main()"]
    plain = subprocess.run([*command, "score", "no-such-model", "Coggan2024.V1-rdm"],
                           capture_output=True, text=True)
    assert plain.returncode == 1
    assert plain.stderr.splitlines()[-1].startswith(
        "Error: No plugin registers model 'no-such-model'."
    )
    assert "Traceback" not in plain.stderr
    debug = subprocess.run([*command, "--debug", "score", "no-such-model", "Coggan2024.V1-rdm"],
                           capture_output=True, text=True)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith(
        "brainmark.exceptions.UnknownPluginError: No plugin registers model 'no-such-model'."
    )


def test_score_prints_the_interval_and_json_carries_its_fields():
    text = CliRunner().invoke(main, ["score", "pixels", "Coggan2024.V1-rdm"])
    assert text.exit_code == 0, text.output
    record = json.loads(
        CliRunner().invoke(main, ["score", "pixels", "Coggan2024.V1-rdm", "--json"]).stdout)
    lower, upper = record["interval"]
    assert f"[{lower:.3f}, {upper:.3f}] 95% CI" in text.output
    assert {"interval_level", "interval_method", "resamples", "seed", "raw_interval",
            "ceiling_interval"} <= set(record)
    assert set(record["resample_values"]) == {"ceiled", "raw", "ceiling"}


def test_compare_gives_the_paired_difference_on_each_benchmark_and_node():
    from brainmark.metrics.intervals import decode_resamples, percentile_interval
    from brainmark.scoring import score_model

    benchmark = "Coggan2024.V1-rdm"
    result = CliRunner().invoke(main, ["compare", "pixels", "gabor-v1", benchmark, "--json"])
    assert result.exit_code == 0, result.output
    comparison = json.loads(result.stdout)
    a, b = score_model("pixels", benchmark), score_model("gabor-v1", benchmark)
    row = comparison["benchmarks"][0]
    assert row["name"] == benchmark and row["difference"] == pytest.approx(a.score - b.score)
    # independently: percentiles of the stored per-resample differences
    differences = (decode_resamples(a.resample_values["ceiled"])
                   - decode_resamples(b.resample_values["ceiled"]))
    assert row["interval"] == pytest.approx(list(percentile_interval(differences)))
    assert row["excludes_zero"] == (not row["interval"][0] <= 0 <= row["interval"][1])
    nodes = {node["name"]: node for node in comparison["nodes"]}
    assert set(nodes) == {"V1", "neural_vision", "average_vision"}
    # V1 has this one benchmark beneath it: per resample the node is the clamped leaf
    clamped = (np.clip(decode_resamples(a.resample_values["ceiled"]), 0, 1)
               - np.clip(decode_resamples(b.resample_values["ceiled"]), 0, 1))
    assert nodes["V1"]["interval"] == pytest.approx(list(percentile_interval(clamped)))
    text = CliRunner().invoke(main, ["compare", "pixels", "gabor-v1", benchmark])
    assert text.exit_code == 0, text.output
    assert "95% CI" in text.output and "V1 (node)" in text.output
    assert ("tied" in text.output) or ("better" in text.output)
