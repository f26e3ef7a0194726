"""File helpers shared across brainmark: SHA1 of a file, atomic replacement, atomic JSON."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha1_of_file(path: str | Path) -> str:
    """Hex SHA1 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only if the block succeeds.

    Readers see either the old file or the complete new one, never a partial file; on an
    error the temporary file is removed and ``target`` is left as it was. Two processes
    writing the same target both succeed, the last one wins.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(0o644)  # mkstemp makes files private; packaged data is not.
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_json_atomically(path: str | Path, content: Any, *, indent: int | None = None) -> None:
    """Write ``content`` as JSON so readers see the old file or the whole new one."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(content, indent=indent))
