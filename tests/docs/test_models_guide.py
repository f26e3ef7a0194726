"""docs/models.md runs as written: its python blocks, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import torch

GUIDE = Path(__file__).parents[2] / "docs" / "models.md"


def test_the_models_guide_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 8
    namespace: dict = {"__name__": "models_guide"}
    with torch.random.fork_rng(devices=[]):  # the guide seeds torch; keep others unaffected
        for number, block in enumerate(blocks, start=1):
            try:
                exec(compile(block, f"{GUIDE.name} block {number}", "exec"), namespace)
            except Exception as error:
                message = f"{GUIDE.name} python block {number} failed:\n{block}"
                raise AssertionError(message) from error
