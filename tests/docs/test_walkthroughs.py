"""The docs' walk-throughs run as written: bash blocks run, ``# file:`` blocks are written.

Blocks are taken in page order in one fresh folder, so a later command sees what the
earlier ones made, exactly as a reader following the page would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_FILE = re.compile(r"^# file: (\S+)\n")


def walkthrough_steps(page: Path) -> list[tuple[str, str]]:
    """(kind, content) per runnable block: ('bash', script) or ('file', path + content)."""
    steps = []
    for language, body in _BLOCK.findall(page.read_text()):
        if language == "bash":
            steps.append(("bash", body))
        elif language == "python":
            match = _FILE.match(body)
            if match is None:
                raise AssertionError(
                    f"{page.name}: python blocks must start with '# file: <path>' so the "
                    f"walk-through test can write them. Block:\n{body[:200]}"
                )
            steps.append(("file", body))
    return steps


def run_walkthrough(page: Path, folder: Path) -> None:
    env = dict(os.environ)
    # The reader's activated environment: brainmark and python on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("BRAINMARK_PLUGIN_PATH", None)
    exports: list[str] = []
    for kind, content in walkthrough_steps(page):
        if kind == "file":
            path = folder / _FILE.match(content).group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            continue
        # `export` lines persist across blocks, as in the reader's shell.
        script = "set -euo pipefail\n" + "\n".join(exports) + "\n" + content
        exports += [line for line in content.splitlines() if line.startswith("export ")]
        completed = subprocess.run(
            ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True,
            check=False,
        )
        assert completed.returncode == 0, (
            f"{page.name}: block failed:\n{content}\n--- stdout\n{completed.stdout[-3000:]}"
            f"\n--- stderr\n{completed.stderr[-3000:]}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("page", ["submitting-a-benchmark.md", "submitting-a-model.md"])
def test_walkthrough_runs_as_written(page, tmp_path):
    run_walkthrough(DOCS / page, tmp_path)


def test_every_python_block_names_its_file():
    for page in ["submitting-a-benchmark.md", "submitting-a-model.md"]:
        assert walkthrough_steps(DOCS / page)


def test_the_benchmark_guide_walks_both_the_rsa_and_the_neural_path():
    files = {content.split("\n", 1)[0].removeprefix("# file: "): content
             for kind, content in walkthrough_steps(DOCS / "submitting-a-benchmark.md")
             if kind == "file"}
    benchmarks = [content for path, content in files.items() if path.endswith("benchmark.py")]
    assert any("RSABenchmark(" in content for content in benchmarks)
    assert any("NeuralBenchmark(" in content for content in benchmarks)
    # Trial-level responses are packaged with their missing trials as NaN.
    assert any("allow_nan=True" in content and '"repetition"' in content
               for content in files.values())
