"""One settings object: BRAINMARK_<FIELD> overrides, validated values, paths from home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brainmark.exceptions import SettingsError
from brainmark.settings import Settings, check_home_writable, get_settings, override_settings


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


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_home_is_refused_instead_of_writing_into_the_current_folder(value):
    with pytest.raises(
        SettingsError,
        match=r"BRAINMARK_HOME is set but empty, which would put brainmark's files in the "
        r"current folder. Set it to a folder \(e.g. ~/.brainmark\) or unset it",
    ):
        Settings.from_environ({"BRAINMARK_HOME": value})


def test_num_workers_below_minus_one_is_refused():
    with pytest.raises(
        SettingsError,
        match=r"Setting 'num_workers' must be -1 \(one per CPU\), 0 \(decode in the main "
        r"process\) or a positive number of processes. Got -2.",
    ):
        Settings.from_environ({"BRAINMARK_NUM_WORKERS": "-2"})
    assert Settings.from_environ({"BRAINMARK_NUM_WORKERS": "-1"}).num_workers == -1
    assert Settings.from_environ({"BRAINMARK_NUM_WORKERS": "0"}).num_workers == 0


@pytest.mark.parametrize("key", ["BRAINMARK_home", "brainmark_HOME", "Brainmark_Home"])
def test_wrongly_cased_variable_is_refused_with_the_right_spelling(key):
    with pytest.raises(
        SettingsError,
        match=rf"Environment variable {key} is not spelled in upper case, so brainmark "
        rf"does not read it. Rename it to BRAINMARK_HOME.",
    ):
        Settings.from_environ({key: "/x"})


def test_wrongly_cased_unknown_variable_is_refused_as_unknown():
    with pytest.raises(SettingsError, match=r"brainmark_colour names no brainmark setting"):
        Settings.from_environ({"brainmark_colour": "red"})


def test_variables_merely_containing_brainmark_are_ignored():
    assert Settings.from_environ({"MY_BRAINMARK_HOME": "", "brainmarkhome": "x"}).home == (
        Path("~/.brainmark").expanduser()
    )


def test_home_check_passes_for_a_home_that_does_not_exist_yet(tmp_path):
    home = tmp_path / "new" / "home"
    check_home_writable(Settings(home=home))
    assert not home.exists()  # Checking creates nothing.


def test_home_check_refuses_a_home_below_a_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home = blocker / "home"
    with pytest.raises(
        SettingsError,
        match=rf"The brainmark home {home} cannot be created: {blocker} is a file, not a "
        rf"folder. Set BRAINMARK_HOME to a folder you can write to.",
    ):
        check_home_writable(Settings(home=home))


def test_home_check_refuses_a_home_that_is_not_writable(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Running as root makes every folder writable, so the permission answer is simulated.
    monkeypatch.setattr(
        os, "access",
        lambda path, mode: False if Path(path) == locked else real_access(path, mode),
    )
    with pytest.raises(
        SettingsError,
        match=rf"The brainmark home {locked / 'home'} is not writable \(its nearest existing "
        rf"folder {locked} is not\); brainmark writes its caches and results there. Set "
        rf"BRAINMARK_HOME to a folder you can write to, or fix the permissions of {locked}.",
    ):
        check_home_writable(Settings(home=locked / "home"))
    with pytest.raises(SettingsError, match=rf"The brainmark home {locked} is not writable;"):
        check_home_writable(Settings(home=locked))


def test_home_check_reads_the_settings_in_force(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("BRAINMARK_HOME", str(blocker))
    with pytest.raises(SettingsError, match=r"is a file, not a folder"):
        check_home_writable()


def test_every_folder_brainmark_writes_is_under_home(tmp_path):
    settings = Settings(home=tmp_path)
    paths = [
        settings.cache_dir, settings.data_cache_dir, settings.activations_dir,
        settings.placed_dir, settings.ceilings_dir, settings.layer_maps_dir,
        settings.plugin_index_path, settings.results_dir, settings.packages_dir,
        settings.store_dir, settings.database_path, settings.outbox_dir,
        settings.plugin_store_dir, settings.secret_key_path,
    ]
    assert all(path.is_relative_to(tmp_path) for path in paths)
    assert len(set(paths)) == len(paths)
    assert settings.store_location == (tmp_path / "store").as_uri()


def test_database_url_is_read_from_brainmark_database_url_or_plain_database_url():
    assert Settings.from_environ({}).database_url == ""
    plain = "postgresql://postgres@127.0.0.1:5432/test"
    assert Settings.from_environ({"DATABASE_URL": plain}).database_url == plain
    own = "sqlite:////srv/brainmark.sqlite3"
    both = {"DATABASE_URL": plain, "BRAINMARK_DATABASE_URL": own}
    assert Settings.from_environ(both).database_url == own
    # Set but empty, the brainmark variable still wins: the SQLite file under home.
    empty = {"DATABASE_URL": plain, "BRAINMARK_DATABASE_URL": ""}
    assert Settings.from_environ(empty).database_url == ""


def test_a_database_url_for_another_program_does_not_stop_the_library():
    # Only the platform reads the address (and refuses what it cannot use).
    other = "mysql://root:hunter2@db/x"
    assert Settings.from_environ({"DATABASE_URL": other}).database_url == other


def test_secrets_stay_out_of_the_settings_repr():
    settings = Settings.from_environ({
        "BRAINMARK_SECRET_KEY": "key-hunter2", "DATABASE_URL": "postgresql://u:hunter2@h/db",
        "BRAINMARK_SMTP_PASSWORD": "smtp-hunter2",
    })
    assert "hunter2" not in repr(settings)


def test_secret_key_and_allowed_hosts_settings():
    settings = Settings.from_environ({
        "BRAINMARK_SECRET_KEY": "k" * 60,
        "BRAINMARK_ALLOWED_HOSTS": " brainmark.example.org, ,10.0.0.1 ",
    })
    assert settings.secret_key == "k" * 60
    assert settings.allowed_hosts == ("brainmark.example.org", "10.0.0.1")
    assert Settings.from_environ({}).allowed_hosts == ("localhost", "127.0.0.1", "[::1]")
    assert Settings(home=Path("/h")).secret_key_path == Path("/h/platform/secret_key")


def test_mail_and_upload_settings():
    settings = Settings.from_environ({
        "BRAINMARK_SMTP_HOST": "mail.example.org",
        "BRAINMARK_SMTP_PORT": "2525",
        "BRAINMARK_SMTP_TLS": "false",
        "BRAINMARK_SITE_URL": "https://brainmark.example.org",
        "BRAINMARK_UPLOAD_QUOTA_BYTES": "1000",
    })
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "mail.example.org", 2525, False
    )
    assert settings.site_url == "https://brainmark.example.org"
    assert settings.upload_quota_bytes == 1000
    assert Settings.from_environ({}).upload_quota_bytes == 5_000_000_000
    with pytest.raises(SettingsError, match="smtp_port"):
        Settings.from_environ({"BRAINMARK_SMTP_PORT": "70000"})
    with pytest.raises(SettingsError, match="upload_quota_bytes"):
        Settings.from_environ({"BRAINMARK_UPLOAD_QUOTA_BYTES": "-1"})


def test_trusted_proxies_are_addresses_or_networks():
    settings = Settings.from_environ({"BRAINMARK_TRUSTED_PROXIES": "127.0.0.1, ::1,10.0.0.0/8"})
    assert settings.trusted_proxies == ("127.0.0.1", "::1", "10.0.0.0/8")
    assert Settings.from_environ({}).trusted_proxies == ()
    with pytest.raises(SettingsError, match=r"trusted_proxies.*'nginx'"):
        Settings.from_environ({"BRAINMARK_TRUSTED_PROXIES": "nginx"})
