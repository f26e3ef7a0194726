"""Test a plugin folder: generic conformance checks, then the plugin's own ``test.py``.

:func:`run_plugin_tests` is what ``brainmark test PATH`` and the submission pipeline call.
Both parts run in one fresh ``pytest`` child process with the plugin's root (the folder
above ``<type>/<folder>``) prepended to ``BRAINMARK_PLUGIN_PATH``, so the plugin is found
exactly as the platform will find it. The child gets an allow-listed environment
(:func:`plugin_test_environment`): the system's ``PATH``, ``HOME`` and locale and the few
brainmark settings a plugin needs, never a token, a key or a database address of the
calling process, so the same call is ready to run inside the sandbox.

Before the tests, a fresh process imports the plugin once: a package that is not
installed is reported as :class:`~brainmark.exceptions.MissingDependencyError` naming its
``requirements.txt`` and the ``pip`` command, as ``brainmark score`` does, instead of a
traceback in every test.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from brainmark.exceptions import MissingDependencyError, ValidationError
from brainmark.registry import PLUGIN_TYPES, parse_registrations
from brainmark.settings import ENV_PREFIX, get_settings

# Variables of the calling process a plugin's tests may see: where programs are, the home
# folder, the locale and thread/BLAS tuning. Anything else (tokens, keys, DATABASE_URL,
# AWS_*) stays out.
ALLOWED_VARIABLES = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "OMP_NUM_THREADS",
                     "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                     "OPENBLAS_L2_SIZE")
# The brainmark settings a plugin's tests need, passed as the calling process sees them.
PASSED_SETTINGS = ("home", "device", "num_workers", "batch_size", "max_image_pixels")

# The generic checks for each plugin type: registry -> (brainmark.testing check, kwargs).
_CHECKS = {
    "benchmark_registry": "check_benchmark",
    "model_registry": "check_model",
    "metric_registry": "check_metric",
}

_GENERIC_TEST = '''"""Generic brainmark checks of plugin {folder} (written by `brainmark test`)."""
from pathlib import Path

import pytest

import brainmark.testing
from brainmark.registry import REGISTRIES

REGISTRATIONS = {registrations!r}


@pytest.mark.parametrize(("registry", "identifier"), REGISTRATIONS)
def test_identifier_is_registered_and_loads(registry, identifier):
    assert REGISTRIES[registry].locate(identifier).folder.resolve() == Path({folder_str!r})
    assert REGISTRIES[registry].load(identifier) is not None
'''

_GENERIC_CHECKS = '''

@pytest.mark.parametrize(("registry", "identifier", "check"), {checks!r})
def test_plugin_passes_the_generic_checks(registry, identifier, check):
    getattr(brainmark.testing, check)(REGISTRIES[registry].load(identifier))
'''


# Run in a fresh process with the plugin's environment; only a missing package matters here,
# any other import error is left to the tests, which show its traceback.
_MISSING_DEPENDENCY_STATUS = 3
_IMPORT_CHECK = f"""
import sys
from pathlib import Path

from brainmark.exceptions import MissingDependencyError
from brainmark.registry import import_plugin

try:
    import_plugin(Path(sys.argv[1]))
except MissingDependencyError as error:
    print(error, file=sys.stderr)
    sys.exit({_MISSING_DEPENDENCY_STATUS})
"""


def plugin_root_and_type(path: Path) -> tuple[Path, str]:
    """The plugin root and type of a plugin folder ``<root>/<type>/<folder>``."""
    path = Path(path).resolve()
    if not (path / "__init__.py").is_file():
        raise ValidationError(
            f"{path} is not a plugin folder: it has no __init__.py. Point 'brainmark test' "
            f"at a folder like <root>/benchmarks/<name>/ (create one with 'brainmark new')."
        )
    plugin_type = path.parent.name
    if plugin_type not in PLUGIN_TYPES:
        raise ValidationError(
            f"Plugin folder {path} must sit in a folder named after its type, one of "
            f"{list(PLUGIN_TYPES)} (e.g. <root>/benchmarks/{path.name}); it sits in "
            f"{plugin_type!r}. Move it there."
        )
    return path.parent.parent, plugin_type


def write_generic_tests(path: Path, destination: Path) -> Path:
    """Write the generic checks of the plugin at ``path`` as a pytest file in ``destination``."""
    import brainmark.testing

    path = Path(path).resolve()
    registrations = [
        (registry, identifier)
        for registry, identifier, _ in parse_registrations(path / "__init__.py")
    ]
    if not registrations:
        raise ValidationError(
            f"Plugin {path} registers nothing. Its __init__.py must assign into a registry, "
            f"e.g. benchmark_registry['Author2024.IT-rdm'] = my_benchmark."
        )
    checks = [
        (registry, identifier, _CHECKS[registry])
        for registry, identifier in registrations
        if registry in _CHECKS and hasattr(brainmark.testing, _CHECKS[registry])
    ]
    target = destination / "test_generic_checks.py"
    text = _GENERIC_TEST.format(
        folder=path.name, folder_str=str(path), registrations=registrations
    )
    if checks:  # Data plugins have no check beyond loading.
        text += _GENERIC_CHECKS.format(checks=checks)
    target.write_text(text)
    return target


@dataclasses.dataclass(frozen=True)
class PluginTestResult:
    """What :func:`run_plugin_tests` found: pytest's exit code and, if captured, its log."""

    folder: Path
    returncode: int
    log: str | None = None

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def plugin_test_environment(root: Path) -> dict[str, str]:
    """The whole environment of a plugin's test process, with ``root`` on the plugin path.

    Only :data:`ALLOWED_VARIABLES` (and ``LC_*``) are taken from this process, and the
    :data:`PASSED_SETTINGS` from the settings in force (overrides included).
    """
    settings = get_settings()
    environment = {
        name: value for name, value in os.environ.items()
        if name in ALLOWED_VARIABLES or name.startswith("LC_")
    }
    for name in PASSED_SETTINGS:
        environment[ENV_PREFIX + name.upper()] = str(getattr(settings, name))
    roots = [str(root), *(str(path) for path in settings.plugin_path)]
    environment[ENV_PREFIX + "PLUGIN_PATH"] = os.pathsep.join(dict.fromkeys(roots))
    return environment


def run_plugin_tests(
    path: Path,
    *,
    extra_args: tuple[str, ...] = (),
    capture_output: bool = False,
    timeout: float | None = None,
) -> PluginTestResult:
    """Run the generic checks and the plugin's ``test.py`` in a fresh process.

    Parameters
    ----------
    path
        The plugin folder, ``<root>/<type>/<folder>``.
    extra_args
        More pytest arguments.
    capture_output
        Return pytest's output as ``log`` (stdout and stderr interleaved) instead of
        letting it through to this process's streams.
    timeout
        Seconds before the test process is killed (:class:`subprocess.TimeoutExpired`).

    Raises
    ------
    MissingDependencyError
        A package the plugin imports is not installed (naming its ``requirements.txt``
        and the ``pip`` command), before any test runs.
    """
    path = Path(path).resolve()
    root, _ = plugin_root_and_type(path)
    env = plugin_test_environment(root)
    _check_dependencies(path, env)
    with tempfile.TemporaryDirectory(prefix="brainmark-test-") as workdir:
        generic = write_generic_tests(path, Path(workdir))
        targets = [str(generic)]
        own = path / "test.py"
        if own.is_file():
            targets.append(str(own))
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
            "--import-mode=importlib", "--rootdir", str(path), "-o", "python_files=test*.py",
            *targets, *extra_args,
        ]
        output = subprocess.PIPE if capture_output else None
        completed = subprocess.run(
            command, env=env, cwd=workdir, check=False, timeout=timeout, stdout=output,
            stderr=subprocess.STDOUT if capture_output else None, text=True,
        )
    return PluginTestResult(path, completed.returncode, completed.stdout)


def _check_dependencies(path: Path, env: dict[str, str]) -> None:
    """Import the plugin in a fresh process; raise its MissingDependencyError if it has one."""
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK, str(path)],
        env=env, capture_output=True, text=True, check=False,
    )
    if completed.returncode == _MISSING_DEPENDENCY_STATUS:
        raise MissingDependencyError(completed.stderr.strip())
