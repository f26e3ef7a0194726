"""``brainmark backup`` and ``brainmark restore``: the platform's state as one folder.

A backup is a folder (not an archive, so it can be checked, copied with rsync and read
without unpacking; ``tar czf`` it for shipping)::

    manifest.json        what, when, library version, database vendor, SHA1 of each file
    database.sqlite3     SQLite: a copy made with SQLite's online backup API
    database.pgdump      PostgreSQL: pg_dump's custom format
    store-index.json     every data package row: location, key, version id, SHA1, size
    plugins/             the plugin store (settings.plugin_store_dir), when it exists
    store/               the object store, when it is the embedded folder under home

It is consistent: the database is copied first, from one snapshot (SQLite's backup API
copies a single read transaction; pg_dump runs in a transaction whose snapshot the index is
read from), and the folders after, so every plugin and stored version the database names is
in them (stored versions are never changed in place). An S3 store is not copied: it keeps
every version itself, so the index is enough, and a restore checks each listed version is
still there. Nothing is written at ``PATH`` until the whole backup is complete: it is built
in a private temporary folder beside it and renamed into place.

A restore checks every file's SHA1 and refuses a backup of another database vendor before
it touches anything, and asks before replacing a database that already holds tables.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction

from brainmark._version import __version__
from brainmark.exceptions import BrainmarkError, StoreError
from brainmark.settings import get_settings

FORMAT = "brainmark-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRESQL_FILE = "database.pgdump"
INDEX_FILE = "store-index.json"
PLUGINS_FOLDER = "plugins"
STORE_FOLDER = "store"
VENDORS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# Keys of Django's OPTIONS for PostgreSQL that are not libpq connection parameters.
_DJANGO_ONLY_OPTIONS = {"isolation_level", "server_side_binding", "pool", "assume_role"}
_CHUNK = 1 << 20


class BackupError(BrainmarkError, ValueError):
    """A backup cannot be written, or a folder cannot be restored (and nothing was changed)."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds; ``files`` maps each file's path (``/``-separated) to its facts."""

    created: str
    brainmark_version: str
    database_vendor: str
    store_location: str
    store_copied: bool
    plugin_store: bool
    packages: int
    migrations: list[str]
    files: dict[str, dict[str, Any]]
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def summary(self) -> str:
        """One line for the command line: what the backup holds."""
        parts = [f"the {VENDORS[self.database_vendor]} database"]
        if self.plugin_store:
            parts.append("the plugin store")
        parts.append(
            "the object store" if self.store_copied
            else f"the index of {self.store_location}"
        )
        return f"{', '.join(parts)} ({self.packages} data packages, {len(self.files)} files)"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of the backup in ``folder``, refused when it is not one."""
        path = folder / MANIFEST
        if not path.is_file():
            raise BackupError(
                f"{folder} is not a brainmark backup: it has no {MANIFEST}. Give the folder "
                f"'brainmark backup' wrote."
            )
        try:
            content = json.loads(path.read_text())
            if content.get("format") != FORMAT:
                raise BackupError(f"{path} is not a brainmark backup manifest.")
            if content.get("format_version") != FORMAT_VERSION:
                raise BackupError(
                    f"{path} has backup format version {content.get('format_version')}; this "
                    f"brainmark ({__version__}) reads version {FORMAT_VERSION}."
                )
            manifest = cls(**content)
        except (ValueError, TypeError) as error:
            if isinstance(error, BackupError):
                raise
            raise BackupError(f"{path} is damaged ({error}); nothing was restored.") from error
        if manifest.database_vendor not in VENDORS:
            raise BackupError(f"{path} names an unknown database vendor.")
        return manifest


@dataclass
class RestoreReport:
    """What a restore brought back, and the data packages the object store lacks."""

    manifest: Manifest
    missing: list[str] = field(default_factory=list)
    pending_migrations: int = 0

    def summary(self) -> str:
        text = self.manifest.summary()
        if self.pending_migrations:
            text += (
                f"; the backup's schema lacks {self.pending_migrations} migration(s) of this "
                f"version: run 'brainmark migrate'"
            )
        return text


# --- files ----------------------------------------------------------------------------------


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _walk(root: Path) -> Iterator[Path]:
    """Every file and symbolic link under ``root`` (links are not followed), sorted."""
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        base = Path(folder)
        # os.walk lists a link to a folder among the folders; keep it as a link.
        for name in sorted([*files, *(d for d in subfolders if (base / d).is_symlink())]):
            yield base / name


def _describe_files(root: Path) -> dict[str, dict[str, Any]]:
    """Each file's SHA1 and size (a link: its target), keyed by its path under ``root``."""
    described: dict[str, dict[str, Any]] = {}
    by_inode: dict[tuple[int, int], dict[str, Any]] = {}
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        if relative == MANIFEST:
            continue
        if path.is_symlink():
            described[relative] = {"symlink": os.readlink(path)}
            continue
        status = path.stat()
        inode = (status.st_dev, status.st_ino)
        if inode not in by_inode:  # Hard links (the local store's) are hashed once.
            by_inode[inode] = {"sha1": _sha1(path), "size": status.st_size}
        described[relative] = dict(by_inode[inode])
    return described


def _copy_tree(source: Path, destination: Path) -> None:
    """Copy a folder, keeping symbolic links as links and hard-linked files hard-linked."""
    copied: dict[tuple[int, int], Path] = {}
    destination.mkdir(parents=True, exist_ok=True)
    for path in _walk(source):
        target = destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            os.symlink(os.readlink(path), target)
            continue
        status = path.stat()
        inode = (status.st_dev, status.st_ino)
        if status.st_nlink > 1 and inode in copied:
            os.link(copied[inode], target)
            continue
        shutil.copy2(path, target)
        copied[inode] = target
    # Empty folders (e.g. a git repository's refs/tags) are kept too.
    for folder, subfolders, _files in os.walk(source):
        for name in subfolders:
            (destination / Path(folder, name).relative_to(source)).mkdir(exist_ok=True)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


# --- the object store -----------------------------------------------------------------------


def _local_store_under_home() -> Path | None:
    """The object store's folder when it is a local folder inside home, else None."""
    from brainmark.data.store import LocalStore, default_store

    store = default_store()
    home = get_settings().home
    if isinstance(store, LocalStore) and _inside(store.root, home):
        return store.root
    return None


def _package_rows(cursor: Any) -> list[dict[str, Any]]:
    """Every data package row, read through ``cursor`` (inside the snapshot being saved)."""
    from brainmark.platform.uploads.models import DataPackage

    wanted = ("identifier", "location", "key", "version_id", "sha1", "size")
    columns = {f.name: f.column for f in DataPackage._meta.concrete_fields}
    names = [name for name in wanted if name in columns]
    quote = connection.ops.quote_name
    cursor.execute(
        f"SELECT {', '.join(quote(columns[name]) for name in names)} "
        f"FROM {quote(DataPackage._meta.db_table)} ORDER BY {quote(DataPackage._meta.pk.column)}"
    )
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _missing_packages(rows: list[dict[str, Any]]) -> list[str]:
    """The listed stored versions the object store no longer has, each described."""
    from brainmark.data.store import default_store, open_store

    missing = []
    for row in rows:
        location = row.get("location") or ""
        name = row["key"].rsplit("/", 1)[-1] if location else row["key"]
        what = f"{row['identifier']}: {row['key']} version {row['version_id']}"
        try:
            store = open_store(location) if location else default_store()
            versions = store.versions(name)
        except (StoreError, OSError, ValueError) as error:
            missing.append(f"{what} (cannot read {location or 'the store'}: {error})")
            continue
        if row["version_id"] not in versions:
            missing.append(f"{what} (not in {store.location})")
    return missing


# --- the database ---------------------------------------------------------------------------


def _vendor_description() -> str:
    if connection.vendor == "sqlite":
        return f"the SQLite file {connection.settings_dict['NAME']}"
    return f"the PostgreSQL database {connection.settings_dict['NAME']!r}"


def _postgresql_command(program: str) -> tuple[str, dict[str, str]]:
    """The path of a PostgreSQL client program, and the environment holding the password."""
    path = shutil.which(program)
    if path is None:
        raise BackupError(
            f"{program} is not installed; backups of a PostgreSQL database need the "
            f"PostgreSQL client tools: 'apt-get install postgresql-client' (or 'make system')."
        )
    environment = dict(os.environ)
    password = connection.settings_dict.get("PASSWORD")
    if password:  # Through the environment, never on the command line (ps shows that).
        environment["PGPASSWORD"] = password
    return path, environment


def _postgresql_conninfo() -> str:
    """A libpq connection string for the configured database, without the password."""
    from psycopg.conninfo import make_conninfo

    database = connection.settings_dict
    parameters = {
        "dbname": database["NAME"],
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
        "user": database.get("USER") or None,
        **{
            key: value for key, value in (database.get("OPTIONS") or {}).items()
            if key not in _DJANGO_ONLY_OPTIONS
        },
    }
    return make_conninfo(**{key: value for key, value in parameters.items() if value})


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()}")


def _dump_sqlite(destination: Path) -> list[dict[str, Any]]:
    source_path = connection.settings_dict["NAME"]
    with (
        contextlib.closing(sqlite3.connect(source_path, timeout=20)) as source,
        contextlib.closing(sqlite3.connect(destination)) as copy,
    ):
        source.backup(copy)  # One read transaction: a consistent snapshot.
        # A single self-contained file: no -wal beside it, readable from a read-only folder.
        copy.execute("PRAGMA journal_mode=DELETE")
        cursor = copy.cursor()
        return _package_rows(cursor)


def _dump_postgresql(destination: Path) -> list[dict[str, Any]]:
    program, environment = _postgresql_command("pg_dump")
    with transaction.atomic(), connection.cursor() as cursor:
        # pg_dump saves the snapshot of this transaction, and the index is read from it.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        _run(
            [program, "--format=custom", f"--snapshot={snapshot}", "--no-password",
             f"--file={destination}", f"--dbname={_postgresql_conninfo()}"],
            environment,
            "pg_dump",
        )
        return _package_rows(cursor)


def _applied_migrations() -> list[str]:
    from django.db.migrations.recorder import MigrationRecorder

    return sorted(
        f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations()
    )


def _pending_migrations() -> int:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


# --- backup ---------------------------------------------------------------------------------


def create_backup(path: Path) -> Manifest:
    """Write a backup of the platform into the new (or empty) folder ``path``.

    Django must be set up and the database migrated. Nothing appears at ``path`` unless the
    whole backup succeeded.
    """
    path = Path(path).absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} already exists and is not an empty folder; give a new one.")
    brainmark_settings = get_settings()
    plugin_store = brainmark_settings.plugin_store_dir
    store_root = _local_store_under_home()
    for folder, what in ((plugin_store, "plugin store"), (store_root, "object store")):
        if folder is not None and _inside(path, folder):
            raise BackupError(
                f"{path} lies inside the {what} ({folder}) it would copy; write the backup "
                f"elsewhere."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Private (0700): the database holds password hashes and e-mail addresses.
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.partial-"))
    try:
        vendor = connection.vendor
        if vendor == "sqlite":
            rows = _dump_sqlite(staging / SQLITE_FILE)
        elif vendor == "postgresql":
            rows = _dump_postgresql(staging / POSTGRESQL_FILE)
        else:
            raise BackupError(f"Backups of a {vendor} database are not supported.")
        migrations = _applied_migrations()
        # After the database: every plugin and stored version it names is in these copies.
        if plugin_store.is_dir():
            _copy_tree(plugin_store, staging / PLUGINS_FOLDER)
        if store_root is not None and store_root.is_dir():
            _copy_tree(store_root, staging / STORE_FOLDER)
        (staging / INDEX_FILE).write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
        manifest = Manifest(
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            brainmark_version=__version__,
            database_vendor=vendor,
            store_location=brainmark_settings.store_location,
            store_copied=store_root is not None,
            plugin_store=plugin_store.is_dir(),
            packages=len(rows),
            migrations=migrations,
            files=_describe_files(staging),
        )
        (staging / MANIFEST).write_text(manifest.to_json())
        if path.exists():
            path.rmdir()  # Empty, checked above.
        staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


# --- restore --------------------------------------------------------------------------------


def verify_backup(path: Path) -> Manifest:
    """The backup's manifest, after checking every file against it (SHA1, no file extra)."""
    path = Path(path).absolute()
    if path.is_file():
        raise BackupError(
            f"{path} is a file; a backup is the folder 'brainmark backup' wrote. Unpack an "
            f"archive of it first (tar xzf {path.name}) and give the folder."
        )
    manifest = Manifest.read(path)
    found = _describe_files(path)
    problems = []
    for name in sorted(set(manifest.files) | set(found)):
        expected, actual = manifest.files.get(name), found.get(name)
        if expected is None:
            problems.append(f"{name} is not in the manifest")
        elif actual is None:
            problems.append(f"{name} is missing")
        elif "symlink" in expected or "symlink" in actual:
            if expected.get("symlink") != actual.get("symlink"):
                problems.append(f"{name} is not the link the manifest lists")
        elif actual["sha1"] != expected["sha1"]:
            problems.append(
                f"{name} has SHA1 {actual['sha1']}, the manifest says {expected['sha1']}"
            )
    database_file = SQLITE_FILE if manifest.database_vendor == "sqlite" else POSTGRESQL_FILE
    if database_file not in manifest.files:
        problems.append(f"{database_file} is not in the manifest")
    if problems:
        shown = "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else "")
        raise BackupError(
            f"The backup in {path} is damaged ({len(problems)} problem(s): {shown}). "
            f"Nothing was restored."
        )
    return manifest


def _database_tables() -> list[str]:
    return sorted(connection.introspection.table_names())


def _restore_sqlite(backup_file: Path) -> None:
    target = Path(connection.settings_dict["NAME"])
    target.parent.mkdir(parents=True, exist_ok=True)
    connections.close_all()
    with (
        contextlib.closing(sqlite3.connect(f"{backup_file.as_uri()}?mode=ro", uri=True)) as source,
        contextlib.closing(sqlite3.connect(target, timeout=20)) as database,
    ):
        # Page by page into the live file, under SQLite's locks: a running site sees the
        # old database or the restored one, never a mix (unlike copying the file over).
        source.backup(database)
        database.execute("PRAGMA journal_mode=WAL")


def _restore_postgresql(backup_file: Path) -> None:
    program, environment = _postgresql_command("pg_restore")
    connections.close_all()
    _run(
        [program, "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", "--exit-on-error", "--no-password",
         f"--dbname={_postgresql_conninfo()}", str(backup_file)],
        environment,
        "pg_restore",
    )


@contextlib.contextmanager
def _staged_folder(source: Path | None, target: Path) -> Iterator[Callable[[], None]]:
    """Copy ``source`` beside ``target`` now; the yielded function swaps it in (None: removes
    ``target``). The copy is removed when the block fails before the swap."""
    staged = None
    if source is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.restoring-{secrets.token_hex(4)}")
        _copy_tree(source, staged)

    def swap() -> None:
        old = target.with_name(f".{target.name}.replaced-{secrets.token_hex(4)}")
        if target.exists() or target.is_symlink():
            target.rename(old)
        if staged is not None:
            staged.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    try:
        yield swap
    finally:
        if staged is not None and staged.exists():
            shutil.rmtree(staged, ignore_errors=True)


def restore_backup(path: Path, *, confirm: Callable[[str], bool]) -> RestoreReport:
    """Bring the backup in ``path`` back: database, plugin store, object store (if copied).

    Checked before anything changes: every file's SHA1, the database vendor, and where the
    store copy would go. ``confirm(question)`` is asked before replacing a database that holds
    tables; False leaves everything as it was. Django must be set up.
    """
    from brainmark.data.store import LocalStore, default_store

    path = Path(path).absolute()
    manifest = verify_backup(path)
    vendor = connection.vendor
    if manifest.database_vendor != vendor:
        raise BackupError(
            f"This backup holds a {VENDORS[manifest.database_vendor]} database, but the "
            f"platform's database is {_vendor_description()}. Restore it into a "
            f"{VENDORS[manifest.database_vendor]} database (set or unset DATABASE_URL). "
            f"Nothing was restored."
        )
    store = default_store()
    if manifest.store_copied and not isinstance(store, LocalStore):
        raise BackupError(
            f"This backup holds a copy of a local object store ({manifest.store_location}), "
            f"but the store setting names {store.location}. Unset BRAINMARK_STORE (the folder "
            f"under home) to restore it. Nothing was restored."
        )
    tables = _database_tables()
    if tables and not confirm(
        f"{_vendor_description()[0].upper()}{_vendor_description()[1:]} holds {len(tables)} "
        f"tables. Replace it, the plugin store and the object store with the backup of "
        f"{manifest.created}?"
    ):
        raise BackupError("Restore cancelled; nothing was changed.")

    plugins = path / PLUGINS_FOLDER if manifest.plugin_store else None
    store_copy = path / STORE_FOLDER if manifest.store_copied else None
    with (
        _staged_folder(plugins, get_settings().plugin_store_dir) as swap_plugins,
        contextlib.ExitStack() as stack,
    ):
        swap_store = None
        if manifest.store_copied:
            swap_store = stack.enter_context(
                _staged_folder(store_copy if store_copy.is_dir() else None, store.root)
            )
        if vendor == "sqlite":
            _restore_sqlite(path / SQLITE_FILE)
        else:
            _restore_postgresql(path / POSTGRESQL_FILE)
        swap_plugins()
        if swap_store is not None:
            swap_store()

    rows = json.loads((path / INDEX_FILE).read_text())
    return RestoreReport(
        manifest=manifest,
        missing=_missing_packages(rows),
        pending_migrations=_pending_migrations(),
    )

