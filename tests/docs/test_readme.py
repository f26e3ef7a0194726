"""The README's examples run as written, from a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_python_tour_runs(tmp_path):
    [tour] = blocks("python")
    result = subprocess.run([sys.executable, "-c", tour], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert '"score":' in result.stdout  # the record's JSON


def test_the_readme_shell_commands_run(tmp_path):
    [_, commands] = blocks("bash")  # the first block is `make run` / `make test`
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                   f"{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path,
                            env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Plugin models/my_model passed." in result.stdout
