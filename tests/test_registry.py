"""The plugin index finds folders without importing plugins, and explains every failure."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import brainmark
from brainmark.exceptions import (
    DuplicateRegistrationError,
    MissingDependencyError,
    PluginIndexError,
    UnknownPluginError,
)
from brainmark.registry import model_registry, parse_registrations, plugin_index


def make_plugin(root: Path, folder: str, init: str, plugin_type: str = "models") -> Path:
    path = root / plugin_type / folder
    path.mkdir(parents=True)
    (path / "__init__.py").write_text(textwrap.dedent(init))
    return path


@pytest.fixture
def plugin_root(tmp_path, monkeypatch) -> Path:
    """An extra plugin root on BRAINMARK_PLUGIN_PATH."""
    root = tmp_path / "plugins"
    root.mkdir()
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", str(root))
    return root


@pytest.fixture
def unique() -> str:
    """Registries are process-wide, so each test registers names of its own."""
    return uuid.uuid4().hex[:8]


def test_unknown_identifier_lists_the_closest_names(plugin_root, unique):
    make_plugin(plugin_root, "alpha", f"""
        from brainmark.registry import model_registry
        model_registry["alexnet-{unique}"] = object
        model_registry["resnet-{unique}"] = object
    """)
    with pytest.raises(UnknownPluginError) as error:
        model_registry[f"alexnt-{unique}"]
    message = str(error.value)
    assert f"No plugin registers model 'alexnt-{unique}'" in message
    assert f"Did you mean one of ['alexnet-{unique}'" in message


def test_identifier_registered_by_two_folders_names_both(tmp_path, monkeypatch, unique):
    first, second = tmp_path / "one", tmp_path / "two"
    init = f"""
        from brainmark.registry import model_registry
        model_registry["twin-{unique}"] = object
    """
    folder_one = make_plugin(first, "twin_a", init)
    folder_two = make_plugin(second, "twin_b", init)
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", f"{first}{os.pathsep}{second}")
    with pytest.raises(DuplicateRegistrationError) as error:
        model_registry.locate(f"twin-{unique}")
    assert str(folder_one) in str(error.value) and str(folder_two) in str(error.value)


def test_index_is_refreshed_when_an_init_file_changes(plugin_root, unique):
    folder = make_plugin(plugin_root, "changing", f"""
        from brainmark.registry import model_registry
        model_registry["before-{unique}"] = object
    """)
    assert f"before-{unique}" in model_registry
    (folder / "__init__.py").write_text(textwrap.dedent(f"""
        from brainmark.registry import model_registry
        model_registry["after-the-change-{unique}"] = object
    """))
    assert f"after-the-change-{unique}" in model_registry
    assert f"before-{unique}" not in model_registry
    assert f"after-the-change-{unique}" in set(model_registry)


def test_constants_f_strings_and_literal_loops_are_indexed(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text(textwrap.dedent("""
        from brainmark.registry import model_registry, benchmark_registry
        NAME = "base"
        model_registry[NAME] = object
        model_registry[f"{NAME}-v2"] = object
        model_registry[NAME + "-v3"] = object
        for region in ["V1", "IT"]:
            benchmark_registry[f"Smith2024.{region}-pls"] = object
        for name, layer in [("a", 1), ("b", 2)]:
            model_registry[name] = object
    """))
    assert parse_registrations(init) == [
        ("model_registry", "base", 4),
        ("model_registry", "base-v2", 5),
        ("model_registry", "base-v3", 6),
        ("benchmark_registry", "Smith2024.V1-pls", 8),
        ("benchmark_registry", "Smith2024.IT-pls", 8),
        ("model_registry", "a", 10),
        ("model_registry", "b", 10),
    ]


def test_computed_identifier_is_refused_with_file_and_line(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text("from brainmark.registry import model_registry\n\n"
                    "model_registry[make_name()] = object\n")
    with pytest.raises(PluginIndexError, match=rf"{init} line 3: the registered identifier"):
        parse_registrations(init)


def test_registration_inside_a_function_is_refused(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text("from brainmark.registry import model_registry\n"
                    "if True:\n    model_registry['x'] = object\n")
    with pytest.raises(PluginIndexError, match=r"line 2: register plugins with plain"):
        parse_registrations(init)


def test_finding_a_folder_imports_no_other_plugin(plugin_root, unique):
    make_plugin(plugin_root, "broken", f"""
        from brainmark.registry import model_registry
        raise RuntimeError("this plugin must not be imported")
        model_registry["broken-{unique}"] = object
    """)
    make_plugin(plugin_root, "good", f"""
        from brainmark.registry import model_registry
        model_registry["good-{unique}"] = dict
    """)
    assert brainmark.load_model(f"good-{unique}") == {}
    location = model_registry.locate(f"broken-{unique}")
    assert location.module_name not in sys.modules
    assert not any("broken" in name for name in sys.modules if name.startswith(
        "brainmark_plugin_"))


def test_missing_dependency_names_the_plugin_and_the_command(plugin_root, unique):
    folder = make_plugin(plugin_root, "needs_dep", f"""
        import brainmark_no_such_package_{unique}
        from brainmark.registry import model_registry
        model_registry["needs-dep-{unique}"] = object
    """)
    (folder / "requirements.txt").write_text(f"brainmark_no_such_package_{unique}\n")
    with pytest.raises(MissingDependencyError) as error:
        model_registry[f"needs-dep-{unique}"]
    message = str(error.value)
    assert "Plugin models/needs_dep" in message
    assert f"'brainmark_no_such_package_{unique}'" in message
    assert f"pip install -r {folder / 'requirements.txt'}" in message


def test_built_in_data_plugin_is_indexed():
    location = brainmark.data_registry.locate("Kriegeskorte2008.mIT")
    assert location.folder.name == "kriegeskorte2008"
    assert plugin_index().find("stimulus_set_registry", "Kriegeskorte2008") is not None


def test_importing_brainmark_loads_no_web_framework_nor_torch(tmp_path):
    code = (
        "import sys, brainmark, brainmark.data\n"
        "assert 'django' not in sys.modules, 'django'\n"
        "assert 'torch' not in sys.modules, 'torch'\n"
    )
    home = tmp_path / "untouched-home"
    env = {**os.environ, "BRAINMARK_HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert not home.exists()  # No side effects at import.
