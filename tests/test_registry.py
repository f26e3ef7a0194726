"""Registries import only the plugin folder a lookup needs, and report its failures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import brainmark
import brainmark.registry
from brainmark import _plugin_index
from brainmark.exceptions import MissingDependencyError, PluginImportError
from brainmark.registry import (
    data_registry,
    metric_registry,
    model_registry,
    record_plugin_usage,
)


def test_finding_a_folder_imports_no_other_plugin(plugin_root, unique, make_plugin):
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


def test_missing_dependency_names_the_plugin_and_the_command(plugin_root, unique, make_plugin):
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


@pytest.mark.parametrize(
    ("files", "where", "error"),
    [
        ({"__init__.py": "from brainmark.registry import model_registry\n\n"
                         "raise RuntimeError('no weights')\n"
                         "model_registry['raising-{unique}'] = object\n"},
         "__init__.py line 3", "RuntimeError: no weights"),
        ({"__init__.py": "from brainmark.registry import model_registry\n"
                         "from .model import build\n"
                         "model_registry['raising-{unique}'] = build\n",
          "model.py": "def build(:\n"},
         "model.py line 1", "SyntaxError: invalid syntax"),
    ],
    ids=["raises", "syntax-error-in-a-module"],
)
def test_plugin_whose_import_raises_fails_only_its_lookups_naming_file_and_line(
    plugin_root, unique, files, where, error
):
    folder = plugin_root / "models" / "raising"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text.format(unique=unique))
    assert brainmark.load_model("pixels") is not None
    with pytest.raises(PluginImportError) as raised:
        model_registry[f"raising-{unique}"]
    assert str(raised.value) == (
        f"Plugin {folder} cannot be imported: {folder / where}: {error}. Fix the plugin, or "
        f"take its root off the plugin path."
    )


def test_record_plugin_usage_records_the_lookups_inside_its_block_only():
    builtin = _plugin_index.BUILTIN_ROOT
    model_registry["pixels"]
    with record_plugin_usage() as outer:
        metric_registry["rdm"]
        with record_plugin_usage() as inner:
            data_registry["Kriegeskorte2008.mIT"]
    model_registry["pixels"]
    assert inner == {builtin / "data" / "kriegeskorte2008"}
    assert outer == {builtin / "metrics" / "similarity", builtin / "data" / "kriegeskorte2008"}


@pytest.mark.parametrize(
    "name",
    ["BUILTIN_ROOT", "ENTRY_POINT_GROUP", "PLUGIN_TYPES", "REGISTRY_KINDS",
     "REGISTRY_PLUGIN_TYPES", "PluginIndex", "PluginLocation", "parse_registrations",
     "plugin_folders", "plugin_index", "plugin_roots"],
)
def test_the_plugin_index_names_are_importable_from_the_registry(name):
    assert getattr(brainmark.registry, name) is getattr(_plugin_index, name)
    assert name in brainmark.registry.__all__
