"""The pipeline may import the library but never Django or brainmark.platform: workers run it
without a web stack (the rule tests/platform/test_boundaries.py checks for the library)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import brainmark

PIPELINE = Path(brainmark.__file__).parent / "pipeline"
MODULES = sorted(
    f"brainmark.pipeline.{info.name}" for info in pkgutil.iter_modules([str(PIPELINE)])
)

LOADS_NOTHING_OF_THE_PLATFORM = """
import sys
import {module}
loaded = sorted(
    m for m in sys.modules if m == "django" or m.startswith(("django.", "brainmark.platform"))
)
assert not loaded, loaded
"""


def test_the_archive_module_is_among_those_checked():
    assert "brainmark.pipeline.archive" in MODULES


@pytest.mark.parametrize("module", ["brainmark.pipeline", *MODULES])
def test_pipeline_modules_load_no_django_nor_the_platform(module):
    result = subprocess.run(
        [sys.executable, "-c", LOADS_NOTHING_OF_THE_PLATFORM.format(module=module)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
