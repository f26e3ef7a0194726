"""The plugin index finds folders without importing plugins, and explains every failure."""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest

import brainmark
from brainmark import _plugin_index
from brainmark._plugin_index import BUILTIN_ROOT, parse_registrations, plugin_index
from brainmark.exceptions import DuplicateRegistrationError, PluginIndexError, UnknownPluginError
from brainmark.registry import benchmark_registry, model_registry


def test_unknown_identifier_lists_the_closest_names(plugin_root, unique, make_plugin):
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


def test_identifier_registered_by_two_folders_names_both(
    tmp_path, monkeypatch, unique, make_plugin
):
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


def test_index_is_refreshed_when_an_init_file_changes(plugin_root, unique, make_plugin):
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


def test_a_same_size_edit_with_the_old_mtime_is_indexed_anew(
    plugin_root, make_plugin, monkeypatch
):
    from brainmark import _files

    monkeypatch.setattr(_files, "_RACY_NS", 0)  # as if the file were old when first indexed
    folder = make_plugin(plugin_root, "synced", """
        from brainmark.registry import model_registry
        model_registry["model-aaaa"] = object
    """)
    init = folder / "__init__.py"
    assert "model-aaaa" in model_registry
    mtime = init.stat().st_mtime_ns
    time.sleep(0.05)  # past the file system's timestamp granularity
    init.write_text(init.read_text().replace("model-aaaa", "model-bbbb"))  # same size
    os.utime(init, ns=(mtime, mtime))  # as `rsync -t` or `cp -p` leave it
    _plugin_index._memo.clear()  # a new process: only the cache file is left
    assert "model-bbbb" in model_registry and "model-aaaa" not in model_registry


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


def test_built_in_data_plugin_is_indexed():
    location = brainmark.data_registry.locate("Kriegeskorte2008.mIT")
    assert location.folder.name == "kriegeskorte2008"
    assert plugin_index().find("stimulus_set_registry", "Kriegeskorte2008") is not None


SYNTAX_ERROR = """
    from brainmark.registry import model_registry

    model_registry["broken-{unique}"] = (
"""
COMPUTED_KEY = """
    from brainmark.registry import model_registry

    model_registry[make_name("broken-{unique}")] = object
"""


@pytest.mark.parametrize(
    ("init", "error"),
    [
        (SYNTAX_ERROR, "line 4: syntax error: '(' was never closed."),
        (COMPUTED_KEY, "line 4: the registered identifier must be a string the plugin index"),
    ],
    ids=["syntax-error", "computed-key"],
)
def test_a_plugin_that_cannot_be_indexed_is_recorded_and_the_others_stay_usable(
    plugin_root, unique, init, error, make_plugin
):
    broken = make_plugin(plugin_root, "broken", init.format(unique=unique))
    make_plugin(plugin_root, "good", f"""
        from brainmark.registry import model_registry
        model_registry["good-{unique}"] = dict
    """)
    assert brainmark.load_model(f"good-{unique}") == {}
    assert model_registry.locate("pixels").folder == BUILTIN_ROOT / "models" / "pixels"
    assert f"good-{unique}" in set(model_registry)
    [(folder, message)] = plugin_index().errors.items()
    assert folder == broken
    assert message.startswith(f"{broken / '__init__.py'} {error}")


def test_looking_up_an_identifier_of_an_unindexable_plugin_fails_with_its_error(
    plugin_root, unique, make_plugin
):
    broken = make_plugin(plugin_root, "broken", SYNTAX_ERROR.format(unique=unique))
    with pytest.raises(PluginIndexError) as error:
        brainmark.load_model(f"broken-{unique}")
    assert str(error.value) == (
        f"Model 'broken-{unique}' is probably registered by plugin folder {broken} "
        f"({broken / '__init__.py'} line 4: syntax error: '(' was never closed.), which "
        f"cannot be indexed. Fix its __init__.py (or take its root off the plugin path)."
    )


def test_unknown_identifier_lists_unindexable_folders_of_its_type_that_might_hold_it(
    plugin_root, unique, make_plugin
):
    broken = make_plugin(plugin_root, "broken", COMPUTED_KEY.format(unique=unique))
    with pytest.raises(UnknownPluginError) as error:
        model_registry[f"elsewhere-{unique}"]
    message = str(error.value)
    assert message.startswith(f"No plugin registers model 'elsewhere-{unique}'. ")
    assert (
        f" Plugin folders that cannot be indexed might register it: {broken} "
        f"({broken / '__init__.py'} line 4: the registered identifier" in message
    )
    with pytest.raises(UnknownPluginError) as other_type:
        benchmark_registry[f"Elsewhere2024-{unique}"]
    assert str(broken) not in str(other_type.value)


def test_index_cache_keeps_the_error_of_an_unindexable_plugin(
    plugin_root, unique, brainmark_home, monkeypatch, make_plugin
):
    from brainmark import _files

    monkeypatch.setattr(_files, "_RACY_NS", 0)  # files written just now are re-parsed
    broken = make_plugin(plugin_root, "broken", SYNTAX_ERROR.format(unique=unique))
    errors = plugin_index().errors
    cache = json.loads((brainmark_home / "cache" / "plugin_index.json").read_text())
    assert cache["files"][str(broken / "__init__.py")]["error"] == errors[broken]
    # A fresh process reads the error from the cache without parsing the file again.
    _plugin_index._memo.clear()

    def parse_not_expected(path):
        raise AssertionError(f"{path} was parsed again")

    monkeypatch.setattr(_plugin_index, "parse_registrations", parse_not_expected)
    assert plugin_index().errors == errors


def test_unknown_identifier_names_the_searched_roots_when_a_plugin_path_is_set(
    plugin_root, unique, make_plugin
):
    make_plugin(plugin_root, "some", f"""
        from brainmark.registry import model_registry
        model_registry["some-{unique}"] = object
    """)
    with pytest.raises(UnknownPluginError) as error:
        model_registry["no-such-model"]
    assert str(error.value).endswith(
        f" Searched plugin roots: {BUILTIN_ROOT} (built-in), {plugin_root} "
        f"(BRAINMARK_PLUGIN_PATH)."
    )


def test_unknown_identifier_without_a_plugin_path_names_no_roots():
    with pytest.raises(UnknownPluginError) as error:
        model_registry["no-such-model"]
    assert str(error.value).endswith("Run 'brainmark list models' to see them all.")


def test_unknown_stimulus_set_points_at_the_list_command_that_exists():
    with pytest.raises(UnknownPluginError, match=r"Run 'brainmark list data' to see them all"):
        brainmark.load_stimulus_set("no-such-stimuli")


def test_plugin_path_one_level_too_deep_is_named_in_the_error(
    tmp_path, monkeypatch, unique, make_plugin
):
    root = tmp_path / "my_plugins"
    make_plugin(root, "deep", f"""
        from brainmark.registry import model_registry
        model_registry["deep-{unique}"] = object
    """)
    missing = tmp_path / "missing"
    monkeypatch.setenv("BRAINMARK_PLUGIN_PATH", f"{root / 'models'}{os.pathsep}{missing}")
    with pytest.raises(UnknownPluginError) as error:
        model_registry[f"deep-{unique}"]
    assert str(error.value).endswith(
        f" BRAINMARK_PLUGIN_PATH entry {root / 'models'} contains no data/, metrics/, "
        f"benchmarks/ or models/ folder; did you mean its parent {root}? "
        f"BRAINMARK_PLUGIN_PATH entry {missing} is not a folder."
    )
