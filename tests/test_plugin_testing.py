"""run_plugin_tests: the plugin's tests in a child process that sees no secret."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from brainmark.exceptions import ValidationError
from brainmark.plugin_testing import run_plugin_tests
from brainmark.settings import override_settings

INIT = """\
from brainmark.registry import data_registry

data_registry["Env2024.responses"] = lambda: {"responses": [1, 2, 3]}
"""

TEST = """\
import json
import os
from pathlib import Path


def test_the_environment_is_recorded():
    Path(__file__).with_name("seen.json").write_text(json.dumps(dict(os.environ)))
"""


@pytest.fixture
def plugin(tmp_path):
    folder = tmp_path / "root" / "data" / "env_plugin"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(INIT)
    (folder / "test.py").write_text(TEST)
    return folder


def test_the_plugin_tests_see_no_secret_of_the_calling_process(plugin, monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "DJANGO_SECRET_KEY"):
        monkeypatch.setenv(name, "do-not-leak")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    with override_settings(num_workers=3):
        result = run_plugin_tests(plugin, capture_output=True)
    assert result.passed, result.log
    assert "2 passed" in result.log  # the generic load check and the plugin's own test
    seen = json.loads((plugin / "seen.json").read_text())
    assert "do-not-leak" not in seen.values()
    assert seen["PATH"] == os.environ["PATH"] and seen["LC_ALL"] == "C.UTF-8"
    assert seen["BRAINMARK_NUM_WORKERS"] == "3"  # the settings in force, overrides included
    assert seen["BRAINMARK_PLUGIN_PATH"].split(os.pathsep)[0] == str(plugin.parent.parent)
    brainmark_variables = {name for name in seen if name.startswith("BRAINMARK_")}
    assert brainmark_variables == {
        "BRAINMARK_HOME", "BRAINMARK_PLUGIN_PATH", "BRAINMARK_DEVICE", "BRAINMARK_NUM_WORKERS",
        "BRAINMARK_BATCH_SIZE", "BRAINMARK_MAX_IMAGE_PIXELS",
    }


def test_a_failing_plugin_test_is_reported_with_its_log(plugin):
    (plugin / "test.py").write_text(textwrap.dedent("""\
        def test_fails():
            assert 1 == 2, "the plugin's own assertion"
    """))
    result = run_plugin_tests(plugin, capture_output=True)
    assert not result.passed and result.returncode == 1
    assert "the plugin's own assertion" in result.log and "1 failed, 1 passed" in result.log


def test_a_folder_outside_a_type_folder_is_refused(tmp_path):
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "__init__.py").write_text(INIT)
    with pytest.raises(ValidationError, match="must sit in a folder named after its type"):
        run_plugin_tests(folder)
