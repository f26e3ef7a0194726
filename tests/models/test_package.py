"""brainmark.models imports torch only when a helper that needs it is first asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest

import brainmark.models as models


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported yet); return its output."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    "statement", ["import brainmark.models.placement", "import brainmark.models"]
)
def test_importing_the_package_or_placement_does_not_import_torch(statement):
    output = run_python(
        f"import sys\n{statement}\n"
        "from brainmark.models import place_on_screen\n"
        "print('torch' in sys.modules)\n"
        "from brainmark.models import ActivationsModel\n"
        "print('torch' in sys.modules, ActivationsModel.__module__)\n"
    )
    assert output.split("\n")[:2] == ["False", "True brainmark.models.activations"]


def test_every_exported_name_resolves_and_unknown_names_fail():
    assert set(models.__all__) == {"place_image", "place_on_screen", *models._TORCH_HELPERS}
    for name in models.__all__:
        assert getattr(models, name) is not None
        assert name in dir(models)
    assert models.ModelCommitment is models.commitment.ModelCommitment
    with pytest.raises(AttributeError, match="no attribute 'ActivationModel'"):
        models.ActivationModel  # noqa: B018
