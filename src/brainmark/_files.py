"""File helpers shared across brainmark: SHA1 of a file, atomic writes, checksummed JSON."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

_CHUNK = 1 << 20


def safe_file_name(text: str) -> str:
    """``text`` as one file or folder name: characters other than letters, digits, ``_``,
    ``.`` and ``-`` become ``_`` (a leading dot too, so no name is hidden or ``..``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", text)
    return "_" + name[1:] if name.startswith(".") else name or "_"


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
    with _naming_the_target(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        with _naming_the_target(target):
            yield temporary
            temporary.chmod(0o644)  # mkstemp makes files private; packaged data is not.
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


#: Errors of the file system written to (as opposed to, say, a missing file the block read).
_DESTINATION_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES}


@contextlib.contextmanager
def _naming_the_target(target: Path) -> Iterator[None]:
    """Re-raise a full, read-only or forbidden file system's error with the file being
    written in its message: a bare "No space left on device" says nothing of where."""
    try:
        yield
    except OSError as error:
        if error.errno not in _DESTINATION_ERRNOS or str(target) in str(error):
            raise
        raise type(error)(error.errno, f"{error.strerror}: cannot write {target}") from error


def write_json_atomically(path: str | Path, content: Any, *, indent: int | None = None) -> None:
    """Write ``content`` as JSON so readers see the old file or the whole new one."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(content, indent=indent))


# --- verified derived files -----------------------------------------------------------------
#
# Every derived file brainmark writes (ceilings, results, layer maps, activation and placement
# manifests) carries the SHA1 of its own content, checked when read: a file that was edited,
# truncated or emptied is reported and recomputed, never trusted on its name alone.

_CHECKED_FORMAT = "brainmark-checked/1"
_RACY_NS = 2_000_000_000  # two seconds: well above any file system's time granularity
_Value = TypeVar("_Value")


def changed_recently(stat: os.stat_result) -> bool:
    """Whether a file was written too recently for its stat to prove it unchanged later."""
    return time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) < _RACY_NS


class FileMemo(Generic[_Value]):
    """Values computed from files (hashes, CRCs), remembered within the process.

    A key must hold the stat of every file its value was computed from (inode, size, mtime,
    ctime): a write changes the ctime, which no user can set back, so an equal key means
    unchanged files. A value computed from a file written too recently for its stat to prove
    that (:func:`changed_recently`) is not remembered. The threads of a worker share one
    memo: a lock guards the dictionary, while the values are computed outside it (two
    threads may compute the same value once each, never a wrong one).
    """

    def __init__(self) -> None:
        self._values: dict[tuple, _Value] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> _Value | None:
        with self._lock:
            return self._values.get(key)

    def remember(self, key: tuple, value: _Value, stats: Iterable[os.stat_result]) -> None:
        """Keep ``value`` unless one of the files it was computed from changed too recently."""
        if not any(changed_recently(stat) for stat in stats):
            with self._lock:
                self._values[key] = value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def __iter__(self) -> Iterator[tuple]:
        """The remembered keys, as they were when called."""
        with self._lock:
            return iter(list(self._values))


_content_memo: FileMemo[str] = FileMemo()


def stat_key(name: str | Path, stat: os.stat_result) -> tuple:
    """What identifies a file's content as long as it is unchanged: the key of a FileMemo."""
    return (str(name), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def content_sha1(path: str | Path) -> str:
    """SHA1 of a file's bytes, remembered within the process while the file is unchanged.

    The memo is keyed by (path, inode, size, mtime, ctime). File times have the kernel's
    coarse clock (a few ms), so a file written shortly before it was hashed could change
    again without a new time: such a hash is not remembered (git calls these entries
    "racily clean").
    """
    stat = os.stat(path)
    key = stat_key(path, stat)
    digest = _content_memo.get(key)
    if digest is None:
        digest = sha1_of_file(path)
        _content_memo.remember(key, digest, [stat])
    return digest


def _canonical(content: Any) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def write_checked_json(path: str | Path, content: Any) -> None:
    """Write ``content`` atomically as JSON with the SHA1 of its canonical form beside it."""
    envelope = {
        "format": _CHECKED_FORMAT,
        "sha1": hashlib.sha1(_canonical(content)).hexdigest(),
        "content": content,
    }
    write_json_atomically(path, envelope, indent=1)


def read_checked_json(path: str | Path, *, what: str) -> Any | None:
    """The content of a :func:`write_checked_json` file, or None when it cannot be trusted.

    A missing file is None silently; a file that is not valid JSON, lacks its checksum or
    whose content no longer matches it gives a :class:`~brainmark.exceptions.
    CacheIntegrityWarning` naming the file (``what`` says what it held) and None, so the
    caller recomputes it.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        return _distrust(path, what, f"it cannot be read ({error})")
    try:
        envelope = json.loads(text)
    except ValueError:
        return _distrust(path, what, "it is not valid JSON (truncated or edited)")
    if not isinstance(envelope, dict) or envelope.get("format") != _CHECKED_FORMAT:
        return _distrust(path, what, "it has no checksum (written by another program?)")
    try:
        actual = hashlib.sha1(_canonical(envelope.get("content"))).hexdigest()
    except ValueError:
        actual = None
    if actual != envelope.get("sha1"):
        return _distrust(path, what, "its content does not match its checksum (edited?)")
    return envelope["content"]


def distrust_cache_file(path: str | Path, what: str, reason: str) -> None:
    """Warn that a cached file is damaged and will be recomputed (the one message for all)."""
    from brainmark.exceptions import CacheIntegrityWarning

    warnings.warn(
        f"Cached {what} {path} is damaged: {reason}. Recomputing it.",
        CacheIntegrityWarning,
        stacklevel=3,
    )


def _distrust(path: str | Path, what: str, reason: str) -> None:
    distrust_cache_file(path, what, reason)
    return None


def replace_folder(temporary: Path, target: Path) -> None:
    """Rename a finished ``temporary`` folder to ``target``, replacing what was there.

    The old folder is moved aside before it is deleted, so no reader sees it half deleted.
    If another process publishes the same target at the same moment, either copy is kept:
    both were computed from the same content.
    """
    if target.exists():
        trash = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
        with contextlib.suppress(OSError):  # another process moved it first
            os.rename(target, trash / "old")
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(temporary, target)
    except OSError:
        if not target.exists():
            raise


def make_readable_by_others(folder: Path) -> None:
    """Give others read access (and search/exec where the owner has it) to everything in
    ``folder``, so a sandboxed job's user can read it whatever the umask was."""
    for directory, _, files in os.walk(folder):
        for path in (Path(directory), *(Path(directory) / name for name in files)):
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            extra = stat.S_IROTH | stat.S_IRGRP
            if mode & stat.S_IXUSR:
                extra |= stat.S_IXOTH | stat.S_IXGRP
            if mode | extra != mode:
                path.chmod(stat.S_IMODE(mode | extra))
