"""The Python a plugin runs with: the platform's own, or a cached layer for its requirements.

A plugin may ship a ``requirements.txt`` (plain package-index requirements only, the rule of
:func:`brainmark.pipeline.archive.parse_requirements`). :func:`environment_for` returns the
:class:`PythonEnvironment` to run it with:

- no requirement: the platform's own interpreter (``sys.executable``);
- otherwise a virtual environment *layered* on the platform's: the platform's packages
  (torch, numpy, brainmark...) are shared, never reinstalled, and the plugin's extra
  packages are installed into the layer alone.

Layering. ``python -m venv --system-site-packages`` layers a new environment on the *base*
interpreter, not on the platform's own virtual environment (here ``.venv``, whose
``include-system-site-packages`` is false): torch and brainmark would be missing and the
base interpreter's packages, which the platform does not see, would show up. So the layer is
made with ``python -m venv --without-pip`` and a ``.pth`` file in its site-packages that
calls ``site.addsitedir`` on each of the platform's site-packages folders
(``site.getsitepackages()``, which holds the base one exactly when the platform sees it).
``addsitedir`` also runs the ``.pth`` files there, so an editable brainmark is found. The
layer's own folder comes first on ``sys.path``; pip is the platform's, run by the layer's
interpreter (``python -m pip``), so it installs into the layer.

Installing. pip runs outside the sandbox (it needs the package index) but through
:func:`~brainmark.pipeline.sandbox.run_sandboxed` with the ``"rlimits"`` isolation: a wall
clock (``timeout``), resource limits, a log capped at :data:`LOG_BYTES`, and an environment
built from an allow-list: ``PATH``, ``LANG``/``LC_*``, the operator's ``PIP_*`` variables,
``HOME`` a fresh temporary folder, and ``PIP_CONFIG_FILE`` pointing at the operator's own
pip configuration file when there is one (pip would no longer find it under the temporary
``HOME``). Nothing else of the platform's environment (its secret key, database URL, store
credentials) reaches pip. The options:

- ``--only-binary=:all:``: wheels only. A source distribution runs its ``setup.py`` (or
  build backend) at install time, outside the sandbox, as the platform's user: that would
  let a submission run code with network access before any check. A requirement available
  only as source fails with pip's "no matching distribution" error.
- ``--require-virtualenv --no-input --disable-pip-version-check --progress-bar off``.
- ``-r`` the validated, normalised requirement lines (no option can get into that file, so
  a plugin cannot change the index, add a find-links or an editable install) and ``-c`` a
  constraints file pinning every platform distribution to its installed version: pip keeps
  the platform's numpy instead of downloading another one, and a requirement that needs
  another version fails with pip's resolution error, which the message turns into "the
  platform's numpy==x is kept".

After pip, the layer's own site-packages is checked: a distribution installed there that
the platform already has (shadowing it, whatever its version) is refused, naming it, and the
layer is deleted. Platform packages are never downgraded or replaced.

Cache. The layer lives at ``<root>/<key>/`` where ``key`` is the SHA-256 of the sorted,
normalised requirement lines, the interpreter (implementation and version) and
``sys.prefix`` (:func:`environment_key`). It is built once per key, under an exclusive
``fcntl`` lock on ``<root>/.<key>.lock`` (concurrent builders of one key wait, then reuse).
A virtual environment is not relocatable (console scripts' shebangs hold its absolute
path), so it is built at its final path and published by a marker, ``.complete`` holding the
key, written atomically last: a folder without that marker (a crash, a kill) is never used;
the next builder deletes and rebuilds it. The layer is made readable by others (mode
``o+rX``), so the sandbox's job user can run it from a read-only bind
(:attr:`PythonEnvironment.readonly_paths`).

The platform's own packages changing later (an upgraded torch) does not change the key:
the layer sees the platform's packages as they are when it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from brainmark._files import atomic_path, make_readable_by_others
from brainmark.exceptions import BrainmarkError
from brainmark.pipeline.archive import parse_requirements
from brainmark.pipeline.sandbox import SandboxLimits, run_sandboxed

__all__ = [
    "LOG_BYTES",
    "MARKER",
    "EnvironmentBuildError",
    "PythonEnvironment",
    "environment_for",
    "environment_key",
]

MARKER = ".complete"
LOG_BYTES = 1024 * 1024
_FORMAT = "brainmark-environment/1"  # part of the key: a new layout never reuses an old layer
_PTH_NAME = "_brainmark_platform.pth"
_ERROR_LINES = 20  # the last lines of pip's log quoted in an error
_VENV_TIMEOUT_SECONDS = 120
_CONSTRAINT = re.compile(r"requested \(constraint\) ([A-Za-z0-9._-]+)==(\S+)")


class EnvironmentBuildError(BrainmarkError, RuntimeError):
    """A plugin's requirements could not be installed; the message names the file and why."""


@dataclasses.dataclass(frozen=True)
class PythonEnvironment:
    """The Python to run a plugin with.

    ``path`` is the environment's folder (``sys.prefix`` for the platform's own), ``python``
    its interpreter, ``key`` the cache key of a layer (``None`` for the platform's own).
    """

    path: Path
    python: Path
    key: str | None

    @property
    def layered(self) -> bool:
        return self.key is not None

    @property
    def readonly_paths(self) -> tuple[Path, ...]:
        """What ``run_sandboxed`` must bind read-only besides the platform's environment."""
        return (self.path,) if self.layered else ()


def environment_for(
    requirements: Sequence[str],
    *,
    root: Path,
    source: str = "requirements.txt",
    timeout: float = 1800.0,
) -> PythonEnvironment:
    """The Python environment to run a plugin needing ``requirements`` with.

    Parameters
    ----------
    requirements
        The lines of the plugin's ``requirements.txt`` (raw lines, comments and blank lines
        allowed, or :attr:`~brainmark.pipeline.archive.Plugin.requirements`).
    root
        The folder holding the cached layers (created if missing).
    source
        How error messages name the requirement file, e.g.
        ``"models/my_net/requirements.txt"``.
    timeout
        Seconds pip may take before it is killed and the build fails.

    Returns
    -------
    PythonEnvironment
        The platform's own interpreter when nothing is required, else the cached layer,
        built first if needed.

    Raises
    ------
    EnvironmentBuildError
        A line is not a plain package-index requirement, pip failed or timed out (its last
        lines quoted), or a requirement would replace a platform package (named).
    """
    if isinstance(requirements, str | bytes) or not isinstance(requirements, Sequence):
        raise TypeError(f"requirements must be a sequence of lines (str); got "
                        f"{type(requirements).__name__}.")
    for line in requirements:
        if not isinstance(line, str):
            raise TypeError(f"requirements must hold str lines; got {line!r} "
                            f"({type(line).__name__}).")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}.")
    lines = _normalised(requirements, source)
    if not lines:
        return PythonEnvironment(Path(sys.prefix), Path(sys.executable), None)
    key = _key(lines)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / key
    environment = PythonEnvironment(folder, folder / "bin" / "python", key)
    if _is_complete(folder, key):
        return environment
    with _locked(root / f".{key}.lock"):
        if _is_complete(folder, key):  # another builder finished while we waited
            return environment
        if folder.exists():  # half-built by a run that died: never reused
            shutil.rmtree(folder)
        try:
            _build(folder, lines, source, timeout)
            make_readable_by_others(folder)
            with atomic_path(folder / MARKER) as temporary:
                temporary.write_text(key)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return environment


def environment_key(requirements: Sequence[str], *, source: str = "requirements.txt") -> str:
    """The cache key of the layer for ``requirements``: the same whatever the lines' order,
    spacing and comments. (Empty requirements need no layer; they have a key all the same.)"""
    return _key(_normalised(requirements, source))


def _normalised(requirements: Sequence[str], source: str) -> tuple[str, ...]:
    """Sorted, de-duplicated, normalised requirement lines; invalid ones refused."""
    found, problems = parse_requirements(requirements, source)
    if problems:
        raise EnvironmentBuildError(
            f"{source} cannot be installed: only plain package-index requirements are:\n"
            + "\n".join(f"- {problem}" for problem in problems))
    return tuple(sorted(set(found)))


def _key(lines: Sequence[str]) -> str:
    interpreter = f"{sys.implementation.name}-{platform.python_version()}"
    content = json.dumps([_FORMAT, list(lines), interpreter, sys.prefix])
    return hashlib.sha256(content.encode()).hexdigest()


def _is_complete(folder: Path, key: str) -> bool:
    try:
        return (folder / MARKER).read_text() == key
    except (OSError, UnicodeDecodeError):
        return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across threads and processes (one open file each)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(folder: Path, lines: Sequence[str], source: str, timeout: float) -> None:
    """Create the layer at ``folder`` and install ``lines`` into it (module docstring)."""
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(folder)],
            check=True, capture_output=True, text=True, timeout=_VENV_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    except subprocess.CalledProcessError as error:
        raise EnvironmentBuildError(
            f"Could not create the environment for {source} at {folder}: "
            f"{(error.stderr or error.stdout).strip()}") from None
    except subprocess.TimeoutExpired:
        raise EnvironmentBuildError(
            f"Creating the environment for {source} at {folder} took over "
            f"{_VENV_TIMEOUT_SECONDS} s.") from None
    layer_site = _site_packages(folder)
    platform_sites = [path for path in site.getsitepackages() if Path(path).is_dir()]
    (layer_site / _PTH_NAME).write_text(
        "import site; " + "; ".join(f"site.addsitedir({path!r})" for path in platform_sites)
        + "\n")
    platform_versions = _distributions(platform_sites)
    (folder / "requirements.txt").write_text("".join(f"{line}\n" for line in lines))
    with tempfile.TemporaryDirectory(prefix="brainmark-pip-") as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text("".join(
            f"{name}=={version}\n" for name, version in sorted(platform_versions.items())))
        home = Path(scratch) / "home"
        home.mkdir()
        command = [
            str(folder / "bin" / "python"), "-m", "pip", "install", "--no-input",
            "--disable-pip-version-check", "--require-virtualenv", "--progress-bar", "off",
            "--only-binary=:all:", "-r", str(folder / "requirements.txt"),
            "-c", str(constraints),
        ]
        log_path = folder / "install.log"
        result = run_sandboxed(
            command, workdir=folder, log_path=log_path, env=_pip_environment(home),
            limits=SandboxLimits(wall_seconds=timeout, log_bytes=LOG_BYTES),
            isolation="rlimits",
        )
    if not result.ok:
        raise EnvironmentBuildError(_pip_failure(source, result.exit_code, result.killed_by,
                                                 timeout, log_path, platform_versions))
    layer_versions = _distributions([str(layer_site)])
    shadowing = sorted(set(layer_versions) & set(platform_versions))
    if shadowing:
        named = ", ".join(f"{name} {layer_versions[name]} (the platform has "
                          f"{platform_versions[name]})" for name in shadowing)
        raise EnvironmentBuildError(
            f"{source} would replace the platform's own package(s): {named}. Platform "
            f"packages are never replaced; drop the requirement or accept the platform's "
            f"version.")


def _site_packages(folder: Path) -> Path:
    """The layer's site-packages folder (the scheme a venv at ``folder`` uses)."""
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    return Path(sysconfig.get_path("purelib", scheme,
                                   vars={"base": str(folder), "platbase": str(folder)}))


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _distributions(paths: Sequence[str]) -> dict[str, str]:
    """Canonical name -> version of every distribution installed in ``paths``."""
    found: dict[str, str] = {}
    for distribution in importlib.metadata.distributions(path=list(paths)):
        name = distribution.metadata["Name"]
        if name:
            found.setdefault(_canonical(name), distribution.version)
    return found


def _pip_environment(home: Path) -> dict[str, str]:
    """pip's whole environment: an allow-list, never the platform's secrets."""
    environment = {
        name: value for name, value in os.environ.items()
        if name in ("PATH", "LANG") or name.startswith(("LC_", "PIP_"))
    }
    environment["HOME"] = str(home)
    if "PIP_CONFIG_FILE" not in environment:
        user_config = _user_pip_config()
        if user_config is not None:
            environment["PIP_CONFIG_FILE"] = str(user_config)
    return environment


def _user_pip_config() -> Path | None:
    """The operator's own pip configuration file, which pip finds through ``HOME``."""
    home = Path.home()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    for candidate in (config_home / "pip" / "pip.conf", home / ".pip" / "pip.conf"):
        if candidate.is_file():
            return candidate
    return None


def _pip_failure(source: str, exit_code: int, killed_by: str | None, timeout: float,
                 log_path: Path, platform_versions: dict[str, str]) -> str:
    """The error message of a failed pip run: why, in words, then pip's last lines."""
    log = log_path.read_text(errors="replace") if log_path.is_file() else ""
    lines = [line for line in log.splitlines() if line.strip()]
    if killed_by == "time":
        head = f"Installing {source} did not finish within {timeout:g} s and was stopped."
    elif killed_by is not None:
        head = f"Installing {source} was stopped by the {killed_by} limit."
    else:
        head = f"Installing {source} failed (pip exit code {exit_code})."
    kept = sorted({match.group(1) for match in _CONSTRAINT.finditer(log)})
    if kept:
        head += (" It asks for a version of a package the platform provides, which is never "
                 "replaced: " + ", ".join(
                     f"the platform's {name}=={platform_versions.get(_canonical(name), '?')}"
                     for name in kept) + " is kept.")
    head += " Only wheels are installed (no source distributions)."
    return head + " pip said:\n" + "\n".join(lines[-_ERROR_LINES:])
