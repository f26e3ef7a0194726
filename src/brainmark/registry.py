"""Plugin registries: identifier -> factory, loading a plugin folder on first lookup.

Each registry maps identifiers to factories. A lookup of an identifier not registered yet
finds its folder in the static plugin index (:mod:`brainmark._plugin_index`, which reads
every plugin's ``__init__.py`` without importing it) and imports only that folder. A folder
whose import raises fails only the lookups that import it.

Safe to use from the threads of one process (a threaded Dask worker): a folder is imported
once however many threads look it up at the same moment, and
:func:`record_plugin_usage` records, per thread or asyncio task, only that context's own
lookups.

The index's public names (``plugin_index``, ``parse_registrations``, ``PluginLocation``, ...)
are importable from here too.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from brainmark._plugin_index import (
    BUILTIN_ROOT,
    ENTRY_POINT_GROUP,
    PLUGIN_MODULE_PREFIX,
    PLUGIN_TYPES,
    REGISTRY_KINDS,
    REGISTRY_PLUGIN_TYPES,
    PluginIndex,
    PluginLocation,
    parse_registrations,
    plugin_folders,
    plugin_index,
    plugin_module_name,
    plugin_roots,
)
from brainmark.exceptions import (
    BrainmarkError,
    DuplicateRegistrationError,
    MissingDependencyError,
    PluginImportError,
    PluginIndexError,
)

__all__ = [
    "BUILTIN_ROOT",
    "ENTRY_POINT_GROUP",
    "PLUGIN_TYPES",
    "REGISTRIES",
    "REGISTRY_KINDS",
    "REGISTRY_PLUGIN_TYPES",
    "PluginIndex",
    "PluginLocation",
    "Registry",
    "benchmark_registry",
    "data_registry",
    "import_plugin",
    "metric_registry",
    "model_registry",
    "parse_registrations",
    "plugin_folders",
    "plugin_index",
    "plugin_roots",
    "record_plugin_usage",
    "stimulus_set_registry",
]


class Registry(Mapping[str, Callable[..., Any]]):
    """identifier -> factory for one kind of plugin, loading plugin folders on first use.

    Iterating lists every identifier the plugin index knows, imported or not.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind = REGISTRY_KINDS[name]
        self._factories: dict[str, Callable[..., Any]] = {}
        self._origins: dict[str, str] = {}

    def __setitem__(self, identifier: str, factory: Callable[..., Any]) -> None:
        if not isinstance(identifier, str) or not identifier:
            raise PluginIndexError(
                f"{self.name} keys must be non-empty strings. Got {identifier!r}."
            )
        origin = _registering_module()
        previous = self._origins.get(identifier)
        if previous is not None and previous != origin:
            raise DuplicateRegistrationError(
                f"{self.kind.capitalize()} {identifier!r} is registered twice: by {previous} "
                f"and by {origin}. Rename one of them."
            )
        self._factories[identifier] = factory
        self._origins[identifier] = origin

    def __delitem__(self, identifier: str) -> None:
        del self._factories[identifier]
        del self._origins[identifier]

    def __getitem__(self, identifier: str) -> Callable[..., Any]:
        location = None
        if identifier not in self._factories:
            location = plugin_index().locate(self.name, identifier)
            import_plugin(location.folder)
            if identifier not in self._factories:
                raise PluginIndexError(
                    f"Plugin folder {location.folder} was indexed as registering "
                    f"{self.kind} {identifier!r} (line {location.line} of __init__.py) but "
                    f"importing it did not. Check for a conditional registration."
                )
        recorders = _usage_recorders.get()
        if recorders:
            location = location or plugin_index().find(self.name, identifier)
            if location is not None:
                for recorder in recorders:
                    recorder.add(location.folder)
        return self._factories[identifier]

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._factories or (
            isinstance(identifier, str) and plugin_index().find(self.name, identifier) is not None
        )

    def __iter__(self) -> Iterator[str]:
        names = set(self._factories) | set(plugin_index().identifiers(self.name))
        return iter(sorted(names))

    def __len__(self) -> int:
        return len(set(self._factories) | set(plugin_index().identifiers(self.name)))

    def load(self, identifier: str, **kwargs: Any) -> Any:
        """Call the factory registered for ``identifier`` with keyword arguments."""
        return self[identifier](**kwargs)

    def locate(self, identifier: str) -> PluginLocation:
        """The plugin folder that registers ``identifier`` (without importing it)."""
        return plugin_index().locate(self.name, identifier)

    def __repr__(self) -> str:
        return f"<Registry {self.name}: {len(self)} {self.kind}s>"


# The folder sets of the record_plugin_usage blocks active in this thread or asyncio task.
_usage_recorders: contextvars.ContextVar[tuple[set[Path], ...]] = contextvars.ContextVar(
    "brainmark_plugin_usage_recorders", default=()
)


@contextlib.contextmanager
def record_plugin_usage() -> Iterator[set[Path]]:
    """Collect the folder of every plugin looked up in any registry inside the block.

    A score's reproducibility record lists exactly these folders: what the run used, not
    whatever else this process happened to import before, nor what other threads looked up
    meanwhile. Only lookups of this thread or asyncio task are recorded; work handed to
    another thread is recorded when run through this context
    (``executor.submit(contextvars.copy_context().run, function)``).
    """
    used: set[Path] = set()
    token = _usage_recorders.set((*_usage_recorders.get(), used))
    try:
        yield used
    finally:
        _usage_recorders.reset(token)


def _registering_module() -> str:
    """Name the plugin (or module) that is assigning into a registry, for duplicate errors."""
    frame = sys._getframe(2)
    module = frame.f_globals.get("__name__", "?")
    path = frame.f_globals.get("__file__")
    return f"{Path(path).parent}" if path and module.startswith(PLUGIN_MODULE_PREFIX) else module


data_registry = Registry("data_registry")
stimulus_set_registry = Registry("stimulus_set_registry")
metric_registry = Registry("metric_registry")
benchmark_registry = Registry("benchmark_registry")
model_registry = Registry("model_registry")
REGISTRIES: dict[str, Registry] = {
    registry.name: registry
    for registry in (
        data_registry,
        stimulus_set_registry,
        metric_registry,
        benchmark_registry,
        model_registry,
    )
}


# --- importing plugins -----------------------------------------------------------------------

# Held while a plugin folder executes, so a thread looking up a folder another thread is
# importing waits for the whole module instead of taking the half-run one from sys.modules.
# Reentrant, so a plugin whose import looks up another plugin does not wait for itself; one
# lock rather than one per folder, so two such plugins imported in two threads cannot wait
# for each other.
_import_lock = threading.RLock()


def import_plugin(folder: Path) -> Any:
    """Import a plugin folder as a package under a unique name; never installs anything.

    Imported once per process, however many threads ask at once. A missing dependency is
    reported with the plugin and the command that installs its ``requirements.txt``; any
    other error of the plugin's code as a :class:`~brainmark.exceptions.PluginImportError`
    naming the file and line.
    """
    folder = Path(folder).absolute()
    name = plugin_module_name(folder)
    with _import_lock:
        if name in sys.modules:
            return sys.modules[name]
        return _execute_plugin(folder, name)


def _execute_plugin(folder: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise PluginIndexError(f"Plugin folder {folder} has no importable __init__.py.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as error:
        del sys.modules[name]
        requirements = folder / "requirements.txt"
        fix = (
            f"pip install -r {requirements}"
            if requirements.is_file()
            else f"pip install {error.name}"
        )
        raise MissingDependencyError(
            f"Plugin {folder.parent.name}/{folder.name} needs the package {error.name!r}, "
            f"which is not installed. brainmark never installs packages while loading; "
            f"run: {fix}"
        ) from error
    except Exception as error:
        del sys.modules[name]
        if isinstance(error, BrainmarkError):
            raise
        raise PluginImportError(
            f"Plugin {folder} cannot be imported: {_where(error, folder)}: "
            f"{type(error).__name__}: {_message(error)}. Fix the plugin, or take its root off "
            f"the plugin path."
        ) from error
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _where(error: Exception, folder: Path) -> str:
    """'<file> line <n>' of the plugin's own code that raised (or called what raised)."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename} line {error.lineno}"
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if Path(frame.filename).is_relative_to(folder)]
    frame = (own or frames)[-1]
    return f"{frame.filename} line {frame.lineno}"


def _message(error: Exception) -> str:
    # A SyntaxError's str() repeats the file and line already given.
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    return message.rstrip(".")
