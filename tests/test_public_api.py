"""The top-level API and the plugin index agree with what the plugins actually register."""

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import brainmark
from brainmark.registry import BUILTIN_ROOT, plugin_index


def test_every_built_in_registration_is_in_the_static_index():
    """The index is read from the source without importing it; importing must agree.

    Run in a fresh interpreter: pytest itself imports plugin folders (for their test.py)
    under other module names, which a second import would rightly call a duplicate.
    """
    script = textwrap.dedent(
        """
        import json
        from brainmark.registry import BUILTIN_ROOT, REGISTRIES, import_plugin, plugin_folders
        for folder in plugin_folders(BUILTIN_ROOT):
            import_plugin(folder)
        print(json.dumps({name: sorted(r._factories) for name, r in REGISTRIES.items()}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    registered = json.loads(result.stdout)
    index = plugin_index()
    assert sum(len(names) for names in registered.values()) > 30
    for name, identifiers in registered.items():
        assert set(identifiers) <= set(index.identifiers(name)), name
        for identifier in identifiers:
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
    assert first.raw == pytest.approx(raw, rel=1e-6)
    assert first.score == pytest.approx(raw / pinned.CEILINGS[benchmark], rel=1e-6)
    assert first.cached is False
    again = brainmark.score("pixels", benchmark)
    assert again.cached is True
    assert again.score == first.score


def test_library_modules_import_names_from_their_modules_not_the_top_level_package():
    """The top-level package is for users and plugins; inside, imports name the module."""
    import ast

    library = Path(brainmark.__file__).parent
    offenders = []
    for path in sorted(library.rglob("*.py")):
        if "plugins" in path.relative_to(library).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "brainmark" and node.level == 0:
                offenders.append(f"{path.relative_to(library)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name == "brainmark" for a in node.names):
                offenders.append(f"{path.relative_to(library)}:{node.lineno}")
    assert offenders == []
