"""What the Django settings derive from brainmark's settings: the database, the secret key.

Plain Python, no Django import, so it can be tested and reused on its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import string
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from brainmark.exceptions import SettingsError

# Characters of generated keys: Django's get_random_secret_key alphabet, 50 of them.
SECRET_KEY_ALPHABET = string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)"
SECRET_KEY_LENGTH = 50


def database_settings(database_url: str, sqlite_path: Path) -> dict[str, object]:
    """Django's ``DATABASES['default']`` for a ``database_url`` setting.

    Empty means the SQLite file ``sqlite_path``; ``sqlite:////absolute/path`` another SQLite
    file; ``postgresql://user:password@host:port/name?sslmode=...`` PostgreSQL through
    psycopg 3 (query parameters become connection options). SQLite runs in WAL mode (readers
    never wait for the writer) and takes its write lock when a transaction starts, so two
    writers queue instead of failing with "database is locked".
    """
    if not database_url:
        return _sqlite(sqlite_path)
    parts = urlsplit(database_url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:////srv/site.sqlite3: the path after "sqlite:///" is the file's path.
        path = unquote(parts.path)[1:]
        if not path:
            raise SettingsError(
                "The sqlite database_url names no file; write sqlite:////absolute/path."
            )
        if not Path(path).is_absolute():
            raise SettingsError(
                f"The sqlite database_url names a relative path ({path}), which would depend "
                f"on the current folder; write sqlite:////absolute/path."
            )
        return _sqlite(Path(path))
    if scheme in ("postgres", "postgresql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise SettingsError(
                "The postgresql database_url names no database; write "
                "postgresql://user@host:port/name."
            )
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
            "CONN_HEALTH_CHECKS": True,
        }
    # Only the scheme is echoed: the rest of the address may hold a password.
    raise SettingsError(
        f"The platform's database_url (DATABASE_URL or BRAINMARK_DATABASE_URL) must start "
        f"with postgresql://, postgres:// or sqlite://, or be empty for the SQLite file under "
        f"home. Got a value with scheme {scheme!r}."
    )


def _sqlite(path: Path) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


def load_or_create_secret_key(path: Path) -> str:
    """The key stored in ``path``, created there once (mode 0600) when absent.

    The key is written to a private temporary file and linked into place, so two processes
    starting at once agree on one key and none ever reads a half-written file. A key file
    that others may read is refused: it would let them forge sessions.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        key = "".join(secrets.choice(SECRET_KEY_ALPHABET) for _ in range(SECRET_KEY_LENGTH))
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as file:  # mkstemp creates it with mode 0600.
                file.write(key + "\n")
                file.flush()
                os.fsync(file.fileno())
            # Another process may have created it first: then use theirs.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SettingsError(
            f"The secret key file {path} may be read by other users (mode {mode:o}). Run "
            f"'chmod 600 {path}', or set BRAINMARK_SECRET_KEY instead."
        )
    key = path.read_text().strip()
    if not key:
        raise SettingsError(
            f"The secret key file {path} is empty. Delete it to have a new key generated "
            f"(this logs every user out), or set BRAINMARK_SECRET_KEY."
        )
    return key
