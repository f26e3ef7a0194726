"""The static plugin index: which plugin folder registers each identifier, found without
importing any plugin.

A plugin is a folder ``<root>/<type>/<folder>/`` whose ``__init__.py`` assigns factories into
registries, e.g. ``benchmark_registry['Kriegeskorte2008.IT-rdm'] = ITBenchmark``. Every
``__init__.py`` is parsed with :mod:`ast` into an index (cached in
``<home>/cache/plugin_index.json``, refreshed per file when its inode, size, mtime or ctime
change: any write changes the ctime), so a lookup imports only the folder that registers its
identifier (:mod:`brainmark.registry`).
Keys may be string literals, module-level string constants, f-strings of those, or loop
variables of a module-level ``for`` over a literal list; anything else is refused with the
file and line.

Roots, searched in order: the built-in ``brainmark/plugins``, the folders in
``BRAINMARK_PLUGIN_PATH``, and packages exposed through the ``brainmark.plugins``
entry-point group. An identifier registered by two folders is an error naming both.

A folder whose ``__init__.py`` cannot be indexed (a syntax error, a key that cannot be read
statically) is recorded in the index with its error instead of failing every lookup: the
other plugins stay usable, and only identifiers that may be in that folder fail, with its
error.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from brainmark._files import changed_recently, stat_key, write_json_atomically
from brainmark.exceptions import DuplicateRegistrationError, PluginIndexError, UnknownPluginError
from brainmark.settings import get_settings

BUILTIN_ROOT = Path(__file__).parent / "plugins"
ENTRY_POINT_GROUP = "brainmark.plugins"
PLUGIN_TYPES = ("data", "metrics", "benchmarks", "models")
PLUGIN_MODULE_PREFIX = "brainmark_plugin_"
# The registries a plugin may assign into, and what one of their entries is called.
REGISTRY_KINDS = {
    "data_registry": "dataset",
    "stimulus_set_registry": "stimulus set",
    "metric_registry": "metric",
    "benchmark_registry": "benchmark",
    "model_registry": "model",
}
# The plugin type whose folders register into each registry (and the 'brainmark list' kind).
REGISTRY_PLUGIN_TYPES = {
    "data_registry": "data",
    "stimulus_set_registry": "data",
    "metric_registry": "metrics",
    "benchmark_registry": "benchmarks",
    "model_registry": "models",
}
# Bounds on reading registrations statically, so a hostile __init__.py cannot make the
# reader (run by the web process on every submission) loop or allocate without end.
_MAX_STEPS = 100_000  # statements visited, loop bodies counted once per value
_MAX_LITERAL = 10_000  # characters of a string, elements of a list, built by '+'
_INDEX_FORMAT = 3  # 2: entries carry the folder's indexing error; 3: keyed by the full stat


def plugin_module_name(folder: Path) -> str:
    """A unique, importable top-level module name for a plugin folder.

    Folders may contain '-' and may share names across roots, so the name carries a hash
    of the folder's path.
    """
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() else "_" for c in folder.name)
    return f"{PLUGIN_MODULE_PREFIX}{folder.parent.name}_{safe}_{digest}"


@dataclasses.dataclass(frozen=True)
class PluginLocation:
    """Where an identifier is registered: the plugin folder and the line of the assignment."""

    registry: str
    identifier: str
    folder: Path
    line: int

    @property
    def plugin_type(self) -> str:
        return self.folder.parent.name

    @property
    def module_name(self) -> str:
        """The module name the folder is imported under (:func:`plugin_module_name`)."""
        return plugin_module_name(self.folder)


# --- finding plugins -------------------------------------------------------------------


def plugin_roots() -> list[Path]:
    """The plugin roots in search order: built-in, BRAINMARK_PLUGIN_PATH, entry points."""
    roots = [BUILTIN_ROOT, *get_settings().plugin_path]
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = importlib.util.find_spec(entry_point.value)
        except (ImportError, ValueError) as error:
            warnings.warn(
                f"Plugin package {entry_point.name!r} ({entry_point.value}) of entry-point "
                f"group {ENTRY_POINT_GROUP!r} cannot be found and is skipped: {error}",
                stacklevel=2,
            )
            continue
        if spec is not None and spec.submodule_search_locations:
            roots.extend(Path(p) for p in spec.submodule_search_locations)
    seen: set[Path] = set()
    return [root for root in roots if not (root in seen or seen.add(root))]


def plugin_folders(root: Path) -> Iterator[Path]:
    """Every plugin folder (one with ``__init__.py``) under a root, in a stable order."""
    for plugin_type in PLUGIN_TYPES:
        type_dir = root / plugin_type
        if not type_dir.is_dir():
            continue
        for folder in sorted(type_dir.iterdir()):
            if (folder / "__init__.py").is_file() and not folder.name.startswith(("_", ".")):
                yield folder


class PluginIndex:
    """(registry name, identifier) -> every :class:`PluginLocation` registering it.

    ``errors`` maps each plugin folder whose ``__init__.py`` cannot be indexed to the error
    (file, line, message); ``roots`` and ``plugin_path`` are what was searched, for the
    message of an unknown identifier.
    """

    def __init__(
        self,
        locations: list[PluginLocation],
        errors: Mapping[Path, str] | None = None,
        roots: Sequence[Path] = (),
        plugin_path: Sequence[Path] = (),
    ) -> None:
        self._locations: dict[tuple[str, str], list[PluginLocation]] = {}
        for location in locations:
            key = (location.registry, location.identifier)
            self._locations.setdefault(key, []).append(location)
        self.errors: dict[Path, str] = dict(errors or {})
        self.roots = tuple(roots)
        self.plugin_path = tuple(plugin_path)

    def find(self, registry: str, identifier: str) -> PluginLocation | None:
        locations = self._locations.get((registry, identifier))
        if not locations:
            return None
        folders = {location.folder for location in locations}
        if len(folders) > 1:
            kind = REGISTRY_KINDS.get(registry, registry)
            listed = " and ".join(str(folder) for folder in sorted(folders))
            raise DuplicateRegistrationError(
                f"{kind.capitalize()} {identifier!r} is registered by two plugin folders: "
                f"{listed}. Identifiers must be unique across all plugin roots; rename one."
            )
        return locations[0]

    def locate(self, registry: str, identifier: str) -> PluginLocation:
        """The folder registering ``identifier``, or an error saying where it may be.

        An identifier written in a folder that cannot be indexed fails with that folder's
        error; any other unknown identifier gets the closest names, the unreadable folders
        of its plugin type, and, with ``BRAINMARK_PLUGIN_PATH`` set, the roots searched.
        """
        location = self.find(registry, identifier)
        if location is not None:
            return location
        kind = REGISTRY_KINDS.get(registry, registry)
        mentioning = {
            folder: error
            for folder, error in self.errors.items()
            if _mentions_string(folder / "__init__.py", identifier)
        }
        if mentioning:
            raise PluginIndexError(
                f"{kind.capitalize()} {identifier!r} is probably registered by plugin folder "
                f"{_describe_errors(mentioning)}, which cannot be indexed. Fix its __init__.py "
                f"(or take its root off the plugin path)."
            )
        plugin_type = REGISTRY_PLUGIN_TYPES.get(registry, registry)
        known = self.identifiers(registry)
        close = difflib.get_close_matches(identifier, known, n=5, cutoff=0.4)
        message = (
            f"No plugin registers {kind} {identifier!r}. "
            + (
                f"Did you mean one of {close}?"
                if close
                else f"Known {kind}s: {known[:20]}{' ...' if len(known) > 20 else ''}."
            )
            + f" Run 'brainmark list {plugin_type}' to see them all."
        )
        unreadable = {
            folder: error
            for folder, error in self.errors.items()
            if folder.parent.name == plugin_type
        }
        if unreadable:
            message += (
                f" Plugin folders that cannot be indexed might register it: "
                f"{_describe_errors(unreadable)}."
            )
        if self.plugin_path:
            message += f" Searched plugin roots: {self._describe_roots()}."
            problems = self.plugin_path_problems()
            if problems:
                message += " " + " ".join(problems)
        raise UnknownPluginError(message)

    def plugin_path_problems(self) -> list[str]:
        """What is wrong with each ``BRAINMARK_PLUGIN_PATH`` entry that holds no plugins.

        A path one level too deep (``root/models`` instead of ``root``) would otherwise find
        nothing without a word.
        """
        problems = []
        for entry in self.plugin_path:
            if not entry.is_dir():
                problems.append(f"BRAINMARK_PLUGIN_PATH entry {entry} is not a folder.")
            elif not _holds_plugin_types(entry):
                parent = entry.parent
                hint = (
                    f"did you mean its parent {parent}?"
                    if entry.name in PLUGIN_TYPES or _holds_plugin_types(parent)
                    else "point it at a plugin root, the folder that holds those."
                )
                problems.append(
                    f"BRAINMARK_PLUGIN_PATH entry {entry} contains no data/, metrics/, "
                    f"benchmarks/ or models/ folder; {hint}"
                )
        return problems

    def _describe_roots(self) -> str:
        def origin(root: Path) -> str:
            if root == BUILTIN_ROOT:
                return "built-in"
            return "BRAINMARK_PLUGIN_PATH" if root in self.plugin_path else "entry point"

        return ", ".join(f"{root} ({origin(root)})" for root in self.roots)

    def identifiers(self, registry: str) -> list[str]:
        return sorted(identifier for (name, identifier) in self._locations if name == registry)

    def duplicates(self) -> dict[tuple[str, str], list[Path]]:
        """Identifiers registered by more than one folder, for ``brainmark check``."""
        result = {}
        for key, locations in self._locations.items():
            folders = sorted({location.folder for location in locations})
            if len(folders) > 1:
                result[key] = folders
        return result

    def __iter__(self) -> Iterator[PluginLocation]:
        for locations in self._locations.values():
            yield from locations


def _describe_errors(errors: Mapping[Path, str]) -> str:
    return "; ".join(f"{folder} ({error})" for folder, error in sorted(errors.items()))


def _holds_plugin_types(folder: Path) -> bool:
    return any((folder / plugin_type).is_dir() for plugin_type in PLUGIN_TYPES)


def _mentions_string(path: Path, text: str) -> bool:
    """Whether a file holds ``text`` as a quoted string: how an unreadable plugin may hold a key."""
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return f'"{text}"' in source or f"'{text}'" in source


# The last index built per cache file (so per home), with the stamps it was built from. The
# threads of a worker share it; the lock also keeps two of them from writing the cache file
# at once.
_index_lock = threading.Lock()
_memo: dict[str, tuple[tuple, PluginIndex]] = {}


def plugin_index() -> PluginIndex:
    """The index over all plugin roots, re-parsing only ``__init__.py`` files that changed.

    A file that cannot be indexed is recorded (and cached) with its error, so one broken
    plugin does not break the others.
    """
    settings = get_settings()
    roots = plugin_roots()
    init_files = [folder / "__init__.py" for root in roots for folder in plugin_folders(root)]
    stats = [path.stat() for path in init_files]
    stamps = tuple(stat_key(path, stat) for path, stat in zip(init_files, stats, strict=True))
    # A file written in the last moments may change again without a new stat: parse it
    # every time until it is old enough (see brainmark._files.content_sha1).
    racy = {str(path) for path, stat in zip(init_files, stats, strict=True)
            if changed_recently(stat)}
    # The roots are part of the key: a plugin path entry holding no plugins adds no stamp.
    key = (tuple(roots), stamps)
    cache_path = settings.plugin_index_path
    with _index_lock:
        memo = _memo.get(str(cache_path))
        if memo is not None and memo[0] == key and not racy:
            return memo[1]
        cached = _read_index_cache(cache_path)
        entries: dict[str, dict[str, Any]] = {}
        changed = False
        for path, *stat in stamps:
            entry = cached.get(path)
            if entry is None or entry["stat"] != stat or path in racy:
                entry = {"stat": stat, **_index_entry(Path(path))}
                changed = True
            entries[path] = entry
        if changed or set(entries) != set(cached):
            _write_index_cache(cache_path, entries)
        index = PluginIndex(
            [
                PluginLocation(registry, identifier, Path(path).parent, line)
                for path, entry in entries.items()
                for registry, identifier, line in entry["registrations"]
            ],
            errors={
                Path(path).parent: entry["error"]
                for path, entry in entries.items()
                if entry.get("error")
            },
            roots=roots,
            plugin_path=settings.plugin_path,
        )
        _memo[str(cache_path)] = (key, index)
        return index


def _index_entry(init_path: Path) -> dict[str, Any]:
    """The registrations of one ``__init__.py``, or none and the reason it cannot be read."""
    try:
        return {"registrations": parse_registrations(init_path)}
    except PluginIndexError as error:
        return {"registrations": [], "error": str(error)}




def _read_index_cache(cache_path: Path) -> dict[str, dict[str, Any]]:
    try:
        content = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get("format") != _INDEX_FORMAT:
        return {}
    return content.get("files", {})


def _write_index_cache(cache_path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Atomic write, so two processes refreshing the index never leave half a file."""
    # A read-only home only costs re-parsing next time.
    with contextlib.suppress(OSError):
        write_json_atomically(cache_path, {"format": _INDEX_FORMAT, "files": entries})


# --- parsing registrations ---------------------------------------------------------------


def parse_registrations(init_path: Path) -> list[tuple[str, str, int]]:
    """(registry, identifier, line) for every registry assignment in a plugin ``__init__.py``.

    Nothing is imported or executed; a key that cannot be resolved statically is an error
    naming the file and line.
    """
    try:
        source = init_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PluginIndexError(f"{init_path} cannot be read as UTF-8 text: {error}.") from None
    found: list[tuple[str, str, int]] = []
    try:
        tree = ast.parse(source, filename=str(init_path))
        _walk_statements(tree.body, {}, init_path, found, itertools.count())
    except SyntaxError as error:
        line = f" line {error.lineno}" if error.lineno is not None else ""
        raise PluginIndexError(f"{init_path}{line}: syntax error: {error.msg}.") from None
    except (RecursionError, MemoryError, ValueError):  # ValueError: a NUL byte, before 3.12
        raise PluginIndexError(
            f"{init_path} is too deeply nested (or holds a NUL byte) to be read without "
            f"running code; write the registrations as plain assignments."
        ) from None
    return found


def _walk_statements(
    statements: list[ast.stmt],
    constants: dict[str, Any],
    init_path: Path,
    found: list[tuple[str, str, int]],
    steps: Iterator[int],
) -> None:
    for statement in statements:
        if next(steps) >= _MAX_STEPS:
            raise PluginIndexError(
                f"{init_path} line {statement.lineno}: reading the registrations takes over "
                f"{_MAX_STEPS:,} steps (loops inside loops); loop over one literal list."
            )
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                registry = _registry_name(target)
                if registry is not None:
                    key = _evaluate(target.slice, constants, init_path, statement.lineno)
                    found.append((registry, key, statement.lineno))
                elif isinstance(target, ast.Name):
                    try:
                        constants[target.id] = _literal(statement.value, constants)
                    except ValueError:
                        constants.pop(target.id, None)
        elif isinstance(statement, ast.For):
            try:
                values = _literal(statement.iter, constants)
            except ValueError:
                values = None
            if not isinstance(values, list | tuple):
                if _mentions_registry(statement):
                    raise PluginIndexError(
                        f"{init_path} line {statement.lineno}: registrations inside a 'for' "
                        f"loop need a literal list or tuple to loop over, so the plugin "
                        f"index can read them without importing the plugin."
                    )
                continue
            for value in values:
                scope = dict(constants)
                _bind(statement.target, value, scope, init_path, statement.lineno)
                _walk_statements(statement.body, scope, init_path, found, steps)
        elif _mentions_registry(statement):
            raise PluginIndexError(
                f"{init_path} line {statement.lineno}: register plugins with plain "
                f"module-level assignments like benchmark_registry['name'] = factory "
                f"(optionally inside a 'for' over a literal list), not inside "
                f"{type(statement).__name__.lower()} statements."
            )


def _registry_name(target: ast.expr) -> str | None:
    if not isinstance(target, ast.Subscript):
        return None
    value = target.value
    name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", None)
    return name if name in REGISTRY_KINDS else None


def _mentions_registry(node: ast.AST) -> bool:
    return any(
        isinstance(child, ast.Subscript) and _registry_name(child) is not None
        for child in ast.walk(node)
    )


def _literal(node: ast.expr, constants: dict[str, Any]) -> Any:
    """A literal value built from constants, names bound to constants, f-strings and +."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.List | ast.Tuple):
        return _bounded([_literal(element, constants) for element in node.elts])
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None or value.conversion not in (-1, 115):
                    raise ValueError("format spec")
                parts.append(str(_literal(value.value, constants)))
            else:
                parts.append(str(_literal(value, constants)))
        return _bounded("".join(parts))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        try:
            return _bounded(_literal(node.left, constants) + _literal(node.right, constants))
        except TypeError:  # e.g. 1 + "a": no literal value
            raise ValueError("operands of + of different types") from None
    raise ValueError(f"not a literal: {ast.dump(node)}")


def _bounded(value: Any) -> Any:
    """``value``, or ValueError when it is longer than any identifier needs (``a = a + a``
    repeated would double it on every line)."""
    if len(value) > _MAX_LITERAL:
        raise ValueError("literal too long")
    return value


def _evaluate(node: ast.expr, constants: dict[str, Any], init_path: Path, line: int) -> str:
    try:
        value = _literal(node, constants)
    except ValueError:
        value = None
    if not isinstance(value, str):
        raise PluginIndexError(
            f"{init_path} line {line}: the registered identifier must be a string the plugin "
            f"index can read without running code: a literal, a module-level string constant, "
            f"an f-string of those, or a variable of a 'for' over a literal list."
        )
    return value


def _bind(target: ast.expr, value: Any, scope: dict[str, Any], init_path: Path, line: int) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = value
    elif isinstance(target, ast.Tuple | ast.List) and isinstance(value, list | tuple):
        if len(target.elts) != len(value):
            raise PluginIndexError(f"{init_path} line {line}: cannot unpack {value!r}.")
        for element, item in zip(target.elts, value, strict=True):
            _bind(element, item, scope, init_path, line)
    else:
        raise PluginIndexError(f"{init_path} line {line}: unsupported loop target.")
