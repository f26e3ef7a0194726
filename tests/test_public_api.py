"""The top-level API and the plugin index agree with what the plugins actually register."""

import importlib.util

import pytest

import brainmark
from brainmark.registry import (
    BUILTIN_ROOT,
    REGISTRIES,
    import_plugin,
    plugin_folders,
    plugin_index,
)


def test_every_built_in_registration_is_in_the_static_index():
    """The index is read from the source without importing it; importing must agree."""
    for folder in plugin_folders(BUILTIN_ROOT):
        import_plugin(folder)
    index = plugin_index()
    for name, registry in REGISTRIES.items():
        registered = set(registry._factories)
        assert registered <= set(index.identifiers(name)), name
        for identifier in registered:
            assert index.find(name, identifier).folder.is_relative_to(BUILTIN_ROOT)


def test_score_returns_the_pinned_number_and_caches_it():
    # The plugin's own test pins the scores; read them from its file (importing it as a
    # package module would register the plugin a second time under another name).
    path = BUILTIN_ROOT / "benchmarks" / "kriegeskorte2008" / "test.py"
    spec = importlib.util.spec_from_file_location("kriegeskorte2008_pinned", path)
    pinned = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pinned)
    benchmark = "Kriegeskorte2008.IT-rdm"
    first = brainmark.score("pixels", benchmark)
    raw = pinned.RAW["pixels"][benchmark]
    assert first["raw"] == pytest.approx(raw, rel=1e-6)
    assert first["score"] == pytest.approx(raw / pinned.CEILINGS[benchmark], rel=1e-6)
    assert first["cached"] is False
    again = brainmark.score("pixels", benchmark)
    assert again["cached"] is True
    assert again["score"] == first["score"]
