"""The library and the CLI load no Django: only the platform's commands do."""

from __future__ import annotations

import subprocess
import sys

import pytest

LOADS_NOTHING_OF_DJANGO = """
import sys
{code}
loaded = sorted(
    m for m in sys.modules if m == "django" or m.startswith(("django.", "brainmark.platform"))
)
assert not loaded, loaded
"""


@pytest.mark.parametrize(
    "code",
    [
        "import brainmark",
        "import brainmark.cli",
        # The help lists every command, the platform's included, without importing Django.
        "from brainmark.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit as e:\n"
        "    assert e.code == 0\n",
    ],
    ids=["import brainmark", "import brainmark.cli", "brainmark --help"],
)
def test_library_and_cli_load_no_django(code):
    result = subprocess.run(
        [sys.executable, "-c", LOADS_NOTHING_OF_DJANGO.format(code=code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_help_lists_the_platform_commands(run_brainmark):
    result = run_brainmark("--help")
    assert result.returncode == 0
    assert "migrate" in result.stdout and "manage" in result.stdout


def test_manage_passes_arguments_to_django_unchanged(run_brainmark, sqlite_environment):
    result = run_brainmark("manage", "check", "--tag", "models", env=sqlite_environment)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    unknown = run_brainmark("manage", "no-such-command", env=sqlite_environment)
    assert unknown.returncode != 0
    assert "Unknown command: 'no-such-command'" in unknown.stderr


def test_migrate_refuses_a_home_that_is_a_file(tmp_path, run_brainmark, sqlite_environment):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_brainmark("migrate", env={**sqlite_environment, "BRAINMARK_HOME": str(blocker)})
    assert result.returncode == 1
    assert "is a file, not a folder" in result.stderr
    assert "Traceback" not in result.stderr
