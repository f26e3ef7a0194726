"""The platform's Django settings: database, secret key, DEBUG, e-mail, production profile."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from brainmark.exceptions import SettingsError
from brainmark.platform.configuration import database_settings, load_or_create_secret_key


def test_empty_database_url_means_the_sqlite_file_in_wal_mode(tmp_path):
    config = database_settings("", tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    other = database_settings("sqlite:////srv/brainmark/site.sqlite3", tmp_path / "unused")
    assert other["NAME"] == "/srv/brainmark/site.sqlite3"


def test_postgresql_url_becomes_psycopg_settings_with_decoded_credentials(tmp_path):
    config = database_settings(
        "postgresql://brain%40mark:p%2Fss@db.example.org:6543/scores?sslmode=require",
        tmp_path / "unused",
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("scores", "brain@mark", "p/ss")
    assert (config["HOST"], config["PORT"]) == ("db.example.org", "6543")
    assert config["OPTIONS"] == {"sslmode": "require"}
    assert database_settings("postgres://u@h/x", tmp_path)["ENGINE"].endswith("postgresql")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u@h/", "names no database"),
        ("sqlite://", "names no file"),
        ("sqlite:///relative.sqlite3", r"names a relative path \(relative.sqlite3\)"),
    ],
)
def test_database_url_naming_no_database_is_refused(url, message, tmp_path):
    with pytest.raises(SettingsError, match=message):
        database_settings(url, tmp_path)


@pytest.mark.parametrize(
    ("url", "scheme"), [("mysql://root:hunter2@db/x", "'mysql'"), ("hunter2", "''")]
)
def test_unusable_database_url_is_refused_without_echoing_credentials(url, scheme, tmp_path):
    with pytest.raises(SettingsError, match=r"must start with postgresql://") as info:
        database_settings(url, tmp_path)
    assert f"Got a value with scheme {scheme}." in str(info.value)
    assert "hunter2" not in str(info.value)


def test_secret_key_file_is_created_once_with_mode_0600_and_reused(tmp_path):
    path = tmp_path / "platform" / "secret_key"
    key = load_or_create_secret_key(path)
    assert len(key) >= 50 and len(set(key)) >= 5
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # No temporary left.


def test_processes_starting_at_once_agree_on_one_secret_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "platform" / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_secret_key(path), range(32)))
    assert keys == {path.read_text().strip()}
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_secret_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "secret_key"
    load_or_create_secret_key(path)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match=r"may be read by other users \(mode 644\).*chmod 600"):
        load_or_create_secret_key(path)


@pytest.fixture
def django_setting(run_brainmark):
    """Reads one Django setting as a fresh ``brainmark manage`` process sees it."""

    def read(name: str, env: dict[str, str]) -> str:
        code = f"from django.conf import settings; print(settings.{name})"
        result = run_brainmark("manage", "shell", "--no-imports", "-c", code, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    return read


def test_the_site_uses_the_key_file_under_home_unless_the_setting_is_given(
    brainmark_home, sqlite_environment, django_setting
):
    given = "a-secret-key-from-the-environment-" + "x" * 30
    env = sqlite_environment
    assert django_setting("SECRET_KEY", {**env, "BRAINMARK_SECRET_KEY": given}) == given
    key_file = brainmark_home / "platform" / "secret_key"
    assert not key_file.exists()  # A key given in the environment writes no file.
    first = django_setting("SECRET_KEY", env)
    assert first == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert django_setting("SECRET_KEY", env) == first  # A later start reuses it.


def test_debug_is_off_unless_asked_and_mail_goes_to_the_outbox(
    brainmark_home, sqlite_environment, django_setting
):
    env = sqlite_environment
    assert django_setting("DEBUG", env) == "False"
    assert django_setting("DEBUG", {**env, "BRAINMARK_DEBUG": "1"}) == "True"
    assert django_setting("EMAIL_FILE_PATH", env) == str(brainmark_home / "platform" / "outbox")


def test_production_profile_passes_check_deploy_with_no_warning(
    sqlite_environment, run_brainmark
):
    env = {
        **sqlite_environment,
        "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings_production",
        "BRAINMARK_ALLOWED_HOSTS": "brainmark.example.org",
        "BRAINMARK_DEBUG": "1",  # Ignored: production never runs with DEBUG.
    }
    result = run_brainmark("manage", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_development_settings_do_warn_under_check_deploy(sqlite_environment, run_brainmark):
    # The check above is meaningful: the embedded settings are not fit for HTTPS production.
    result = run_brainmark(
        "manage", "check", "--deploy", "--fail-level", "WARNING", env=sqlite_environment
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # No HSTS.


def test_platform_settings_read_no_environment_themselves():
    # settings.py derives everything from brainmark.settings; it reads no environment itself.
    source = (Path(__file__).parents[2] / "src/brainmark/platform/settings.py").read_text()
    assert "os.environ" not in source and "getenv" not in source
