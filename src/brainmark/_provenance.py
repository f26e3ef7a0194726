"""Content hashes of code: what a derived number was computed *with*.

Caches are keyed by the content they came from. For data that is the bytes of the files;
for code it is one of:

- a plugin folder: :func:`plugin_content_sha1`, every file's path and bytes;
- the brainmark library itself (metrics, extraction, placement code): :func:`library_sha1`;
- any class or function (a model's layers, a benchmark): :func:`code_key`, which is the plugin
  folder's hash for a class defined in a plugin, the installed version for a class from an
  installed package (torch, torchvision, ...), and the SHA1 of its source file otherwise.

Hashes are remembered within a process while the files' stat results are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brainmark._files import FileMemo, content_sha1, stat_key
from brainmark._plugin_index import PLUGIN_MODULE_PREFIX

_SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
# Files of a plugin folder that take no part in computing a score.
_NOT_COMPUTING = frozenset({"test.py"})
_LIBRARY_ROOT = Path(__file__).parent
# Shared by every thread of the process (FileMemo locks it).
_folder_memo: FileMemo[str] = FileMemo()


def _folder_files(folder: Path, *, skip: Path | None = None) -> list[tuple[Path, Path]]:
    """(relative path, path) of every file hashed in a folder, in a stable order."""
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if skip is not None and path.is_relative_to(skip):
            continue
        if not path.is_file() or any(
            part in _SKIPPED_PARTS or part.startswith(".") for part in relative.parts
        ):
            continue
        files.append((relative, path))
    return files


def _folder_sha1(
    folder: Path,
    *,
    skip: Path | None = None,
    suffix: str | None = None,
    ignored: frozenset[str] = frozenset(),
) -> str:
    files = [
        (relative, path)
        for relative, path in _folder_files(folder, skip=skip)
        if (suffix is None or path.suffix == suffix) and relative.as_posix() not in ignored
    ]
    stats = [path.stat() for _, path in files]
    key = (str(folder), str(skip), suffix, tuple(
        stat_key(relative.as_posix(), stat)
        for (relative, _), stat in zip(files, stats, strict=True)
    ))
    remembered = _folder_memo.get(key)
    if remembered is not None:
        return remembered
    digest = hashlib.sha1()
    for relative, path in files:
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    _folder_memo.remember(key, digest.hexdigest(), stats)
    return digest.hexdigest()


def plugin_content_sha1(folder: str | Path) -> str:
    """SHA1 over the relative paths and bytes of every file in a plugin folder.

    Bytecode caches, hidden files and the plugin's ``test.py`` are skipped, so the hash
    changes exactly when the plugin's code or shipped data changes: pinning a score in
    ``test.py`` does not invalidate the scores cached from the plugin.
    """
    return _folder_sha1(Path(folder), ignored=_NOT_COMPUTING)


def library_sha1() -> str:
    """SHA1 of brainmark's own Python source (the built-in plugins excluded).

    A cached ceiling or score is computed by library code too (metrics, extraction,
    placement): a change to it must not reuse numbers the old code computed, whatever the
    version number says.
    """
    return _folder_sha1(_LIBRARY_ROOT, skip=_LIBRARY_ROOT / "plugins", suffix=".py")


def plugin_folder_of(module_name: str) -> Path | None:
    """The plugin folder a module was imported from (registry-imported plugins only)."""
    if not module_name.startswith(PLUGIN_MODULE_PREFIX):
        return None
    package = sys.modules.get(module_name.split(".")[0])
    paths = getattr(package, "__path__", None)
    return Path(next(iter(paths))) if paths else None


def code_key(cls: type | Callable[..., Any]) -> str:
    """A key that changes when the code defining a class or function changes.

    See the module docstring for the three cases.
    """
    module_name = cls.__module__
    folder = plugin_folder_of(module_name)
    if folder is not None:
        return f"plugin:{folder.parent.name}/{folder.name}:{plugin_content_sha1(folder)}"
    try:
        source_file = inspect.getsourcefile(cls)
    except TypeError:  # a builtin class
        source_file = None
    top = module_name.split(".")[0]
    if source_file is not None and _is_installed_package(source_file):
        return f"{module_name}.{cls.__qualname__}@{_package_version(top)}"
    if source_file is not None and Path(source_file).is_file():
        return f"{module_name}.{cls.__qualname__}:{content_sha1(source_file)}"
    # No source file (defined interactively, or its module is not importable): its bytecode.
    return f"{module_name}.{cls.__qualname__}:{_bytecode_sha1(cls)}"


def _bytecode_sha1(obj: Any) -> str:
    """SHA1 of the compiled code of a function, or of every function a class defines."""
    digest = hashlib.sha1()
    members = vars(obj).items() if isinstance(obj, type) else [("", obj)]
    for name, member in sorted(members, key=lambda item: item[0]):
        for function in (member, getattr(member, "__func__", None), getattr(member, "fget", None)):
            code = getattr(function, "__code__", None)
            if code is not None:
                digest.update(name.encode())
                _hash_code(code, digest)
    return digest.hexdigest()


def _hash_code(code: Any, digest: Any) -> None:
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for constant in code.co_consts:
        if hasattr(constant, "co_code"):
            _hash_code(constant, digest)  # nested functions and comprehensions
        else:
            digest.update(repr(constant).encode())


def _is_installed_package(source_file: str) -> bool:
    parts = Path(source_file).parts
    return "site-packages" in parts or "dist-packages" in parts or source_file.startswith(
        sys.base_prefix
    )


def _package_version(top_level: str) -> str:
    module = sys.modules.get(top_level)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version(top_level)
    except importlib.metadata.PackageNotFoundError:
        return f"python{sys.version_info[:3]}"
