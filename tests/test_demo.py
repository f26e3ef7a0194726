"""``brainmark demo`` runs end to end on the embedded defaults and reports what it did."""

from __future__ import annotations

import re

from click.testing import CliRunner

from brainmark.cli import main
from brainmark.data import LocalStore


def test_demo_stores_two_versions_and_loads_them_back_verified(brainmark_home):
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "stimulus set demo.Kriegeskorte2008: 92 stimuli" in output
    assert "PropertyAssembly {'stimulus_row': 92, 'stimulus_column': 92}" in output
    assert "identical metadata, images and values" in output
    assert len(re.findall(r"sha1 [0-9a-f]{40}", output)) == 3
    store = LocalStore(brainmark_home / "store")
    for key in ("stimulus_demo.Kriegeskorte2008.csv", "stimulus_demo.Kriegeskorte2008.zip",
                "assy_demo.Kriegeskorte2008.mIT.nc"):
        versions = store.versions(key)
        assert len(versions) == 2
        assert all(version in output for version in versions)


def test_demo_uses_the_store_it_is_given(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--store", (tmp_path / "elsewhere").as_uri()])
    assert result.exit_code == 0, result.output
    store = LocalStore(tmp_path / "elsewhere")
    assert len(store.versions("assy_demo.Kriegeskorte2008.mIT.nc")) == 2


def test_demo_help_explains_the_steps():
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    assert "two versions" in result.output and "--store LOCATION" in result.output
