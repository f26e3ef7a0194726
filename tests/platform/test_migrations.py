"""Migrations: none missing, and ``brainmark migrate`` builds the schema in a fresh home."""

from __future__ import annotations

import os
import sqlite3
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from brainmark.settings import get_settings

# One table per model of the platform's apps (Django's own come with them).
PLATFORM_TABLES = {
    "accounts_apitoken",
    "leaderboard_model",
    "leaderboard_modelversion",
    "leaderboard_benchmarktype",
    "leaderboard_benchmarkversion",
    "leaderboard_score",
    "submissions_submission",
    "submissions_job",
    "uploads_datapackage",
}


def test_no_migration_is_missing(run_brainmark, sqlite_environment):
    result = run_brainmark(
        "manage", "makemigrations", "--check", "--dry-run", env=sqlite_environment
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_migrate_in_a_fresh_home_creates_the_sqlite_file_in_wal_mode(
    brainmark_home, run_brainmark, sqlite_environment
):
    result = run_brainmark("migrate", env=sqlite_environment)
    assert result.returncode == 0, result.stderr
    database = brainmark_home / "platform" / "brainmark.sqlite3"
    with sqlite3.connect(database) as connection:
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert mode == "wal"
    assert tables >= PLATFORM_TABLES | {"auth_user", "django_migrations"}
    again = run_brainmark("migrate", env=sqlite_environment)
    assert again.returncode == 0, again.stderr
    assert "No migrations to apply." in again.stdout


@pytest.mark.db
def test_migrate_builds_every_table_on_postgresql(run_brainmark):
    """On PostgreSQL (DATABASE_URL set), migrate a database of this test's own and drop it."""
    url = get_settings().database_url
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("DATABASE_URL names no PostgreSQL server (.ci/run sets it when one answers)")
    import psycopg

    name = f"brainmark_migrate_{uuid.uuid4().hex[:12]}"
    server = urlsplit(url)
    with psycopg.connect(urlunsplit(server._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            own_url = urlunsplit(server._replace(path=f"/{name}"))
            result = run_brainmark("migrate", env={**os.environ, "DATABASE_URL": own_url})
            assert result.returncode == 0, result.stderr
            with psycopg.connect(own_url) as connection:
                tables = {
                    row[0] for row in connection.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                }
            assert tables >= PLATFORM_TABLES | {"auth_user", "django_migrations"}
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
