"""One settings object: BRAINMARK_<FIELD> overrides, validated values, paths from home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brainmark.exceptions import SettingsError
from brainmark.settings import Settings, get_settings, override_settings


def test_defaults_put_everything_under_the_home_folder():
    settings = Settings.from_environ({})
    assert settings.home == Path("~/.brainmark").expanduser()
    assert settings.cache_dir == settings.home / "cache"
    assert settings.store_location == (settings.home / "store").as_uri()
    assert settings.plugin_path == ()


def test_environment_variables_override_fields():
    settings = Settings.from_environ({
        "BRAINMARK_HOME": "/data/bm",
        "BRAINMARK_PLUGIN_PATH": f"/a{os.pathsep}/b{os.pathsep}",
        "BRAINMARK_BATCH_SIZE": "8",
        "BRAINMARK_STORE": "s3://bucket/prefix",
        "OTHER": "ignored",
    })
    assert settings.home == Path("/data/bm")
    assert settings.plugin_path == (Path("/a"), Path("/b"))
    assert settings.batch_size == 8
    assert settings.store_location == "s3://bucket/prefix"


def test_unknown_variable_is_refused_with_the_known_ones():
    with pytest.raises(SettingsError, match=r"BRAINMARK_HOMME names no brainmark setting.*"
                       r"BRAINMARK_HOME"):
        Settings.from_environ({"BRAINMARK_HOMME": "/x"})


def test_invalid_values_are_refused_naming_the_setting():
    with pytest.raises(SettingsError, match=r"BRAINMARK_BATCH_SIZE must be an integer. Got 'a'"):
        Settings.from_environ({"BRAINMARK_BATCH_SIZE": "a"})
    with pytest.raises(SettingsError, match=r"'batch_size' must be >= 1. Got 0"):
        Settings.from_environ({"BRAINMARK_BATCH_SIZE": "0"})
    with pytest.raises(SettingsError, match=r"'device' must be .* Got 'tpu'"):
        Settings.from_environ({"BRAINMARK_DEVICE": "tpu"})
    assert Settings.from_environ({"BRAINMARK_DEVICE": "cuda:1"}).device == "cuda:1"


def test_tests_get_their_own_home(brainmark_home):
    assert get_settings().home == brainmark_home


def test_override_settings_applies_inside_the_block_only(tmp_path, brainmark_home):
    with override_settings(home=tmp_path / "other", batch_size=2) as inside:
        assert inside.home == tmp_path / "other"
        assert get_settings().batch_size == 2
    assert get_settings().home == brainmark_home
    assert get_settings().batch_size == 64


def test_override_settings_refuses_unknown_names():
    with (
        pytest.raises(SettingsError, match=r"Unknown setting\(s\) \['colour'\]"),
        override_settings(colour="red"),
    ):
        pass


def test_reading_settings_creates_no_folder(brainmark_home):
    home = brainmark_home / "not-yet"
    with override_settings(home=home):
        assert get_settings().cache_dir == home / "cache"
    assert not home.exists()
