"""``brainmark backup`` and ``brainmark restore``, as an operator runs them.

Each test runs the ``brainmark`` command in child processes on a fresh home: migrate, put
rows (a user, a public model, a benchmark tree, scores, an uploaded data package), take the
site's answers to a list of URLs (Django's test client in a child process), back up, wipe
(database, plugin store, object store), restore, and take the answers again: every status
and body must be the same. On SQLite always; on PostgreSQL when ``DATABASE_URL`` names one
(a database of its own, created and dropped here).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

BRAINMARK = Path(sys.executable).with_name("brainmark")
PASSWORD = "correct horse battery staple"
MODEL = "backup-net"
BENCHMARK = "Backup2024.IT-rdm"
URLS = [
    "/",
    "/api/leaderboard",
    "/api/models",
    "/api/benchmarks",
    "/api/scores",
    f"/models/{MODEL}/",
    f"/benchmarks/{BENCHMARK}/",
    "/accounts/profile/",
    "/guides/",
]
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                  "AWS_DEFAULT_REGION": "us-east-1"}

# Rows as the site would hold them, written with the ORM in a child process; the data
# package's file goes through the object store the settings name.
POPULATE = """
import datetime, os, sys, tempfile
import django
django.setup()
from django.contrib.auth import get_user_model
from brainmark.data.store import default_store, open_store
from brainmark._files import sha1_of_file
from brainmark.platform.leaderboard.models import (
    BenchmarkType, BenchmarkVersion, Model, ModelVersion, Score)
from brainmark.platform.uploads.models import DataPackage

user = get_user_model().objects.get(email="ada@example.org")
root = BenchmarkType.objects.get_or_create(identifier="average_vision")[0]
neural = BenchmarkType.objects.get_or_create(identifier="neural_vision", parent=root)[0]
region = BenchmarkType.objects.get_or_create(identifier="IT", parent=neural)[0]
leaf = BenchmarkType.objects.create(identifier=sys.argv[2], parent=region, order=1)
version = BenchmarkVersion.objects.create(
    benchmark_type=leaf, version=1, ceiling=0.8, ceiling_error=0.02, public=True,
    bibtex="@article{backup2024, title={Backups}}", metadata={"region": "IT"})
model = Model.objects.create(identifier=sys.argv[1], owner=user, public=True,
                             metadata={"architecture": "tiny"}, license="MIT")
model_version = ModelVersion.objects.create(model=model, version=1, plugin_sha1="ab" * 20,
                                            visual_degrees=8)
start = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
Score.objects.create(model_version=model_version, benchmark_version=version, raw=0.4,
                     ceiled=0.5, error=0.01, ceiling=0.8, layer_commitment={"IT": "layer3"},
                     start=start, end=start + datetime.timedelta(minutes=3),
                     record={"score": 0.5})
for number in (1, 2):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        handle.write(f"stimulus_id,value\\ns{number},{number}\\n")
    store = open_store(f"{default_store().location}/uploads/{user.pk}/Backup2024")
    _, version_id = store.upload(handle.name, f"file{number}.csv")
    DataPackage.objects.create(
        owner=user, identifier="Backup2024", key=f"uploads/{user.pk}/Backup2024/file{number}.csv",
        location=store.location, sha1=sha1_of_file(handle.name), version_id=version_id,
        size=os.path.getsize(handle.name))
    os.unlink(handle.name)
"""

# The site's answers to each URL, from Django's test client (a logged-in user for the
# profile). What differs between two requests anyway is held still: the clock (pages say
# "as of now") is fixed, and per-request CSRF tokens are blanked; the rest is compared as is.
CAPTURE = """
import datetime, json, re, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

timezone.now = lambda: datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)

anonymous, user = Client(HTTP_HOST="localhost"), Client(HTTP_HOST="localhost")
user.force_login(get_user_model().objects.get(email="ada@example.org"))
answers = {}
for url in sys.argv[1:]:
    client = user if url.startswith("/accounts/") else anonymous
    response = client.get(url)
    body = response.content.decode("utf-8", "replace")
    body = re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]*', r"\\1", body)
    answers[url] = [response.status_code, body]
print(json.dumps(answers))
"""


def _run(environment: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BRAINMARK), *args], env=environment, input=stdin, capture_output=True, text=True,
        timeout=300,
    )


def _python(environment: dict[str, str], code: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=environment, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _answers(environment: dict[str, str]) -> dict[str, list]:
    return json.loads(_python(environment, CAPTURE, *URLS))


def _assert_same(answers: dict[str, list], expected: dict[str, list]) -> None:
    """Every URL answered with the same status and body; a difference is shown as a diff."""
    assert list(answers) == list(expected)
    for url, (status, body) in answers.items():
        assert status == expected[url][0], f"{url}: status {status}, was {expected[url][0]}"
        if body != expected[url][1]:
            diff = difflib.unified_diff(
                expected[url][1].splitlines(), body.splitlines(), "before", "after", lineterm=""
            )
            raise AssertionError(f"{url} answers differently:\n" + "\n".join(list(diff)[:60]))


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


class Platform:
    """A fresh home (and database) driven through the ``brainmark`` command."""

    database: tuple[str, str] | None = None  # PostgreSQL: (server URL, database name)

    def __init__(self, home: Path, environment: dict[str, str]) -> None:
        self.home = home
        self.environment = {**environment, "BRAINMARK_HOME": str(home),
                            "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}
        self.plugin_store = home / "platform" / "plugins"
        self.store = home / "store"

    def brainmark(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return _run(self.environment, *args, stdin=stdin)

    def set_up(self) -> None:
        """Migrate and fill: a user, rows, two uploaded files, a plugin store."""
        result = self.brainmark("migrate")
        assert result.returncode == 0, result.stderr
        result = self.brainmark("user", "create", "ada@example.org",
                                stdin=f"{PASSWORD}\n{PASSWORD}\n")
        assert result.returncode == 0, result.stderr
        _python(self.environment, POPULATE, MODEL, BENCHMARK)
        plugin = self.plugin_store / "models" / "backup_net"
        plugin.mkdir(parents=True)
        (plugin / "__init__.py").write_text("# registers backup-net\n")
        (plugin / "weights.bin").write_bytes(bytes(range(256)) * 4)
        (self.plugin_store / "empty").mkdir()

    def answers(self) -> dict[str, list]:
        return _answers(self.environment)

    def add_model(self, identifier: str) -> None:
        """A change made after the backup (a restore takes it away again)."""
        _python(
            self.environment,
            "import django, sys\ndjango.setup()\n"
            "from brainmark.platform.leaderboard.models import Model\n"
            "Model.objects.create(identifier=sys.argv[1], public=True)\n",
            identifier,
        )


@pytest.fixture
def sqlite_platform(tmp_path: Path, sqlite_environment: dict[str, str]) -> Platform:
    platform = Platform(tmp_path / "home", sqlite_environment)
    platform.set_up()
    return platform


def _wipe_sqlite(platform: Platform) -> None:
    database = platform.home / "platform" / "brainmark.sqlite3"
    for path in (database, *database.parent.glob(database.name + "-*")):
        path.unlink()
    _remove_folders(platform)


def _remove_folders(platform: Platform) -> None:
    import shutil

    shutil.rmtree(platform.plugin_store)
    shutil.rmtree(platform.store, ignore_errors=True)


def _check_round_trip(platform: Platform, wipe, tmp_path: Path) -> None:
    before = platform.answers()
    assert before[f"/models/{MODEL}/"][0] == 200, "the model page should exist"
    plugins_before, store_before = _files(platform.plugin_store), _files(platform.store)

    backup = tmp_path / "backup"
    result = platform.brainmark("backup", str(backup))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    vendor = "sqlite" if "DATABASE_URL" not in platform.environment else "postgresql"
    assert manifest["database_vendor"] == vendor
    assert manifest["packages"] == 2
    assert set(_files(backup)) == {*manifest["files"], "manifest.json"}

    wipe(platform)
    # An empty database is replaced without asking (stdin is no terminal here).
    result = platform.brainmark("restore", str(backup))
    assert result.returncode == 0, result.stderr
    assert "Missing" not in result.stderr

    _assert_same(platform.answers(), before)
    assert _files(platform.plugin_store) == plugins_before
    assert (platform.plugin_store / "empty").is_dir()
    assert _files(platform.store) == store_before
    # The local store's latest file and its version stay one file (a hard link).
    (latest,) = platform.store.glob("uploads/*/Backup2024/file1.csv")
    (version,) = (latest.parent / ".versions" / "file1.csv").iterdir()
    assert latest.stat().st_ino == version.stat().st_ino


def test_backup_wipe_restore_gives_identical_answers_on_sqlite(sqlite_platform, tmp_path):
    _check_round_trip(sqlite_platform, _wipe_sqlite, tmp_path)


def test_restore_asks_before_replacing_a_database_with_tables(sqlite_platform, tmp_path):
    before = sqlite_platform.answers()
    backup = tmp_path / "backup"
    assert sqlite_platform.brainmark("backup", str(backup)).returncode == 0
    sqlite_platform.add_model("added-after-the-backup")
    changed = sqlite_platform.answers()
    assert changed != before

    refused = sqlite_platform.brainmark("restore", str(backup))
    assert refused.returncode == 1
    assert "holds" in refused.stderr and "Add --yes" in refused.stderr
    _assert_same(sqlite_platform.answers(), changed)

    accepted = sqlite_platform.brainmark("restore", str(backup), "--yes")
    assert accepted.returncode == 0, accepted.stderr
    _assert_same(sqlite_platform.answers(), before)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("flip a byte of the database", "database.sqlite3 has SHA1"),
        ("flip a byte of a plugin file", "plugins/models/backup_net/weights.bin has SHA1"),
        ("delete a file", "store-index.json is missing"),
        ("add a file", "stray.txt is not in the manifest"),
    ],
)
def test_a_damaged_backup_is_refused_and_nothing_changes(
    sqlite_platform, tmp_path, damage, message
):
    backup = tmp_path / "backup"
    assert sqlite_platform.brainmark("backup", str(backup)).returncode == 0
    if damage.startswith("flip"):
        plugin_file = "plugins/models/backup_net/weights.bin"
        target = backup / ("database.sqlite3" if "database" in damage else plugin_file)
        content = bytearray(target.read_bytes())
        content[len(content) // 2] ^= 0x01
        target.write_bytes(bytes(content))
    elif damage == "delete a file":
        (backup / "store-index.json").unlink()
    else:
        (backup / "stray.txt").write_text("not from the backup")
    sqlite_platform.add_model("added-after-the-backup")
    changed = sqlite_platform.answers()
    plugins = _files(sqlite_platform.plugin_store)

    result = sqlite_platform.brainmark("restore", str(backup), "--yes")
    assert result.returncode == 1
    assert "is damaged" in result.stderr and message in result.stderr
    assert "Nothing was restored" in result.stderr
    _assert_same(sqlite_platform.answers(), changed)
    assert _files(sqlite_platform.plugin_store) == plugins


def test_a_backup_of_another_database_vendor_is_refused(sqlite_platform, tmp_path):
    backup = tmp_path / "backup"
    assert sqlite_platform.brainmark("backup", str(backup)).returncode == 0
    # The same backup, relabelled as one of a PostgreSQL database (its files still verify).
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["database_vendor"] = "postgresql"
    manifest["files"]["database.pgdump"] = manifest["files"].pop("database.sqlite3")
    (backup / "database.sqlite3").rename(backup / "database.pgdump")
    (backup / "manifest.json").write_text(json.dumps(manifest))
    before = sqlite_platform.answers()

    result = sqlite_platform.brainmark("restore", str(backup), "--yes")
    assert result.returncode == 1
    assert "This backup holds a PostgreSQL database, but the platform's database is the " \
           "SQLite file" in result.stderr
    _assert_same(sqlite_platform.answers(), before)


def test_backup_and_restore_refuse_what_is_not_their_folder(sqlite_platform, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "something").write_text("x")
    result = sqlite_platform.brainmark("backup", str(taken))
    assert result.returncode == 1
    assert "already exists and is not an empty folder" in result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    archive = tmp_path / "backup.tar.gz"
    archive.write_bytes(b"")
    result = sqlite_platform.brainmark("restore", str(archive), "--yes")
    assert result.returncode == 1
    assert "Unpack an archive of it first" in result.stderr


# --- an S3 store: the index only, checked on restore ----------------------------------------


@pytest.fixture
def s3_bucket(s3_endpoint: str, unique: str) -> tuple[str, str]:
    """A versioned bucket of its own on the moto S3 server on loopback: (endpoint, bucket)."""
    import boto3

    bucket = f"platform-{unique}"
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return s3_endpoint, bucket


def test_an_s3_store_is_indexed_and_missing_versions_are_reported(
    tmp_path, sqlite_environment, s3_bucket
):
    import boto3

    endpoint, bucket = s3_bucket
    environment = {**sqlite_environment, **S3_CREDENTIALS,
                   "BRAINMARK_STORE": f"s3://{bucket}/site", "BRAINMARK_S3_ENDPOINT_URL": endpoint}
    platform = Platform(tmp_path / "home", environment)
    platform.set_up()
    before = platform.answers()
    backup = tmp_path / "backup"
    assert platform.brainmark("backup", str(backup)).returncode == 0
    assert not (backup / "store").exists()
    index = json.loads((backup / "store-index.json").read_text())
    assert sorted(row["key"].rsplit("/", 1)[-1] for row in index) == ["file1.csv", "file2.csv"]

    # One stored version disappears from the bucket.
    gone = next(row for row in index if row["key"].endswith("file2.csv"))
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.delete_object(Bucket=bucket, Key=f"site/{gone['key']}", VersionId=gone["version_id"])

    _wipe_sqlite(platform)
    result = platform.brainmark("restore", str(backup))
    assert result.returncode == 0, result.stderr
    missing = [line for line in result.stderr.splitlines() if line.startswith("Missing")]
    assert len(missing) == 1
    assert gone["key"] in missing[0] and gone["version_id"] in missing[0]
    _assert_same(platform.answers(), before)


# --- PostgreSQL -----------------------------------------------------------------------------


def _postgresql_url() -> str | None:
    url = os.environ.get("BRAINMARK_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgresql://", "postgres://")) else None


def _admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture
def postgresql_platform(tmp_path: Path, sqlite_environment: dict[str, str]) -> Iterator[Platform]:
    """A fresh home on a PostgreSQL database of its own, dropped afterwards."""
    url = _postgresql_url()
    if url is None:
        pytest.skip("DATABASE_URL names no PostgreSQL database")
    name = f"brainmark_backup_{secrets.token_hex(4)}"
    parts = urlsplit(url)
    own_url = urlunsplit(parts._replace(path=f"/{name}"))
    _admin(url, f'CREATE DATABASE "{name}"')
    try:
        platform = Platform(tmp_path / "home", {**sqlite_environment, "DATABASE_URL": own_url})
        platform.database = (url, name)
        platform.set_up()
        yield platform
    finally:
        _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wipe_postgresql(platform: Platform) -> None:
    url, name = platform.database
    _admin(url, f'DROP DATABASE "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}"')
    _remove_folders(platform)


@pytest.mark.db
def test_backup_wipe_restore_gives_identical_answers_on_postgresql(postgresql_platform, tmp_path):
    _check_round_trip(postgresql_platform, _wipe_postgresql, tmp_path)


@pytest.mark.db
def test_postgresql_restore_refuses_a_sqlite_backup_and_asks_before_replacing(
    postgresql_platform, tmp_path, sqlite_environment
):
    sqlite_platform = Platform(tmp_path / "sqlite-home", sqlite_environment)
    sqlite_platform.set_up()
    sqlite_backup = tmp_path / "sqlite-backup"
    assert sqlite_platform.brainmark("backup", str(sqlite_backup)).returncode == 0
    before = postgresql_platform.answers()

    result = postgresql_platform.brainmark("restore", str(sqlite_backup), "--yes")
    assert result.returncode == 1
    assert "This backup holds a SQLite database, but the platform's database is the " \
           "PostgreSQL database" in result.stderr

    backup = tmp_path / "backup"
    assert postgresql_platform.brainmark("backup", str(backup)).returncode == 0
    postgresql_platform.add_model("added-after-the-backup")
    refused = postgresql_platform.brainmark("restore", str(backup))
    assert refused.returncode == 1 and "Add --yes" in refused.stderr
    assert postgresql_platform.brainmark("restore", str(backup), "--yes").returncode == 0
    _assert_same(postgresql_platform.answers(), before)
    assert re.search(r"\bRestored the PostgreSQL database\b",
                     postgresql_platform.brainmark("restore", str(backup), "--yes").stdout)
