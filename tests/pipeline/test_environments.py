"""Layered environments for plugins' requirements, built with the real pip from the index.

pip runs are few and shared: one module-wide layer (``numpy`` from the platform plus
``tomli-w``, a small pure-Python wheel the platform does not have) and a handful of cheap
runs that install nothing or fail fast. Nothing is mocked.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy
import pytest

import brainmark
from brainmark.pipeline.environments import (
    MARKER,
    EnvironmentBuildError,
    PythonEnvironment,
    environment_for,
    environment_key,
)
from brainmark.pipeline.sandbox import SandboxLimits, run_sandboxed

EXTRA = "tomli-w"  # absent from the platform (checked below), one small wheel
EXTRA_MODULE = "tomli_w"
SOURCE = "models/my_net/requirements.txt"

IMPORTS = """
import json, brainmark, numpy, {module}
print(json.dumps([brainmark.__file__, numpy.__file__, {module}.__file__]))
"""


def python_says(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          timeout=60)


def layers(root: Path) -> list[Path]:
    """The layer folders under ``root`` (lock files are hidden files beside them)."""
    return sorted(path for path in root.iterdir() if not path.name.startswith("."))


@pytest.fixture(scope="module")
def layer_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:  # the per-test home is not set up yet
        patch.setenv("BRAINMARK_HOME", str(tmp_path_factory.mktemp("home")))
        yield tmp_path_factory.mktemp("environments")


@pytest.fixture(scope="module")
def layer(layer_root: Path) -> PythonEnvironment:
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version(EXTRA)  # the test needs a package the platform lacks
    return environment_for(["numpy>=1.20", EXTRA], root=layer_root, source=SOURCE)


def test_no_requirement_is_the_platforms_own_python(tmp_path):
    for requirements in ([], ["# only a comment", "   ", ""]):
        environment = environment_for(requirements, root=tmp_path / "envs")
        assert environment == PythonEnvironment(Path(sys.prefix), Path(sys.executable), None)
        assert not environment.layered and environment.readonly_paths == ()
    assert not (tmp_path / "envs").exists()  # nothing built, not even the root


def test_the_layer_shares_the_platforms_packages_and_adds_its_own(layer, layer_root):
    assert layer.layered and layer.path == layer_root / layer.key
    assert layer.python == layer.path / "bin" / "python"
    assert layer.readonly_paths == (layer.path,)
    assert (layer.path / MARKER).read_text() == layer.key

    said = python_says(layer.python, IMPORTS.format(module=EXTRA_MODULE))
    assert said.returncode == 0, said.stderr
    brainmark_file, numpy_file, extra_file = json.loads(said.stdout)
    assert numpy_file == numpy.__file__  # the platform's numpy, not a copy
    assert brainmark_file == brainmark.__file__
    assert Path(extra_file).is_relative_to(layer.path)  # installed into the layer only
    # Nothing of the platform's was installed into the layer: tomli-w is all it holds.
    installed = {path.name.split("-")[0] for path in layer.path.glob("lib/*/site-packages/*"
                                                                     ".dist-info")}
    assert installed == {EXTRA_MODULE}

    platform = python_says(Path(sys.executable), f"import {EXTRA_MODULE}")
    assert platform.returncode != 0 and "ModuleNotFoundError" in platform.stderr


def test_the_key_ignores_order_spacing_and_comments_and_the_cache_is_reused(layer, layer_root):
    marker = (layer.path / MARKER).stat().st_mtime_ns
    log = (layer.path / "install.log").stat().st_mtime_ns
    same = ["", f"  {EXTRA}   # writes TOML", "numpy >= 1.20", f"{EXTRA}"]
    assert environment_key(same) == layer.key
    assert environment_for(same, root=layer_root, source=SOURCE) == layer
    # Reused as it was: pip did not run again (its log and the marker are untouched).
    assert (layer.path / MARKER).stat().st_mtime_ns == marker
    assert (layer.path / "install.log").stat().st_mtime_ns == log
    assert environment_key(["numpy>=1.21", EXTRA]) != layer.key


def test_the_layer_runs_in_the_sandbox_from_a_read_only_bind(layer, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = run_sandboxed(
        [str(layer.python), "-c", IMPORTS.format(module=EXTRA_MODULE)],
        workdir=work, limits=SandboxLimits(wall_seconds=60), log_path=tmp_path / "job.log",
        readonly_paths=layer.readonly_paths,
    )
    assert result.ok, result.log_path.read_text()


def test_a_missing_package_fails_naming_it_and_leaves_no_layer(tmp_path):
    root = tmp_path / "envs"
    with pytest.raises(EnvironmentBuildError) as caught:
        environment_for(["brainmark-no-such-package-4711"], root=root, source=SOURCE)
    message = str(caught.value)
    assert SOURCE in message
    assert "No matching distribution found for brainmark-no-such-package-4711" in message
    assert layers(root) == []


def test_a_platform_package_is_never_downgraded(tmp_path):
    root = tmp_path / "envs"
    with pytest.raises(EnvironmentBuildError) as caught:
        environment_for(["numpy<2"], root=root, source=SOURCE)
    assert f"the platform's numpy=={importlib.metadata.version('numpy')} is kept" in str(
        caught.value)
    assert SOURCE in str(caught.value)
    assert layers(root) == []


def test_a_platform_package_installed_into_the_layer_anyway_is_refused(tmp_path, monkeypatch):
    # An operator's pip setting that ignores installed packages makes pip put a second copy
    # of a platform package into the layer: the check after pip catches it.
    monkeypatch.setenv("PIP_IGNORE_INSTALLED", "1")
    root = tmp_path / "envs"
    with pytest.raises(EnvironmentBuildError) as caught:
        environment_for(["six"], root=root, source=SOURCE)
    version = importlib.metadata.version("six")
    assert (f"{SOURCE} would replace the platform's own package(s): six {version} (the "
            f"platform has {version})") in str(caught.value)
    assert layers(root) == []


def test_requirements_that_are_not_from_the_index_are_refused_before_pip(tmp_path):
    root = tmp_path / "envs"
    lines = ["numpy", "--index-url https://example.org/simple", "git+https://example.org/x"]
    with pytest.raises(EnvironmentBuildError) as caught:
        environment_for(lines, root=root, source=SOURCE)
    assert f"{SOURCE} line 2" in str(caught.value) and f"{SOURCE} line 3" in str(caught.value)
    assert not root.exists()


@pytest.mark.parametrize("requirements", ["numpy", b"numpy", [b"numpy"], None])
def test_requirements_must_be_lines_of_text(tmp_path, requirements):
    with pytest.raises(TypeError, match="requirements must"):
        environment_for(requirements, root=tmp_path)


def build_at_once(
    requirements: list[str], root: Path, *, builders: int
) -> list[PythonEnvironment | BaseException]:
    """What ``builders`` threads calling environment_for at the same time got."""
    results: list[PythonEnvironment | BaseException] = []

    def build() -> None:
        try:
            results.append(environment_for(requirements, root=root))
        except BaseException as error:
            results.append(error)

    threads = [threading.Thread(target=build) for _ in range(builders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(results) == builders
    return results


def test_a_half_built_layer_is_rebuilt_and_concurrent_builders_share_one(tmp_path):
    root = tmp_path / "envs"
    key = environment_key(["numpy"])
    # A build that died: a folder without the marker, and one whose marker is cut short.
    half = root / key
    (half / "bin").mkdir(parents=True)
    (half / "leftover").write_text("from a killed build")
    for marker in (None, key[:10]):
        if marker is not None:
            (half / MARKER).write_text(marker)
        results = build_at_once(["numpy"], root, builders=3)
        assert all(r == results[0] for r in results), results
        environment = results[0]
        assert isinstance(environment, PythonEnvironment) and environment.path == half
        assert not (half / "leftover").exists()
        assert (half / MARKER).read_text() == key
        said = python_says(environment.python, "import numpy; print(numpy.__file__)")
        assert said.stdout.strip() == numpy.__file__
        (half / "leftover").write_text("from a killed build")


@pytest.fixture
def silent_index() -> Iterator[str]:
    """A package index on loopback that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


def test_pip_follows_the_operators_pip_settings_and_stops_at_the_timeout(
    tmp_path, monkeypatch, silent_index
):
    # The operator's PIP_* settings reach pip: here an index that never answers, alone.
    monkeypatch.setenv("PIP_INDEX_URL", silent_index)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    root = tmp_path / "envs"
    with pytest.raises(EnvironmentBuildError) as caught:
        environment_for(["brainmark-no-such-package-4711"], root=root, source=SOURCE,
                        timeout=3)
    assert f"Installing {SOURCE} did not finish within 3 s and was stopped." in str(caught.value)
    assert layers(root) == []


def test_pip_gets_an_allow_listed_environment(tmp_path, monkeypatch):
    from brainmark.pipeline.environments import _pip_environment

    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text("[global]\n")
    for name in list(os.environ):
        monkeypatch.delenv(name)
    secrets = {"DATABASE_URL": "postgresql://u:p@db/x", "BRAINMARK_SECRET_KEY": "s3cret",
               "AWS_SECRET_ACCESS_KEY": "k", "BRAINMARK_SMTP_PASSWORD": "p"}
    kept = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PIP_INDEX_URL": "https://index.example.org/simple"}
    for name, value in {**secrets, **kept, "HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    scratch = tmp_path / "scratch"
    assert _pip_environment(scratch) == {
        **kept, "HOME": str(scratch),
        # Found under the real HOME, which pip no longer sees: named explicitly.
        "PIP_CONFIG_FILE": str(home / ".config" / "pip" / "pip.conf"),
    }
    monkeypatch.setenv("PIP_CONFIG_FILE", "/etc/brainmark/pip.conf")  # the operator's choice
    assert _pip_environment(scratch)["PIP_CONFIG_FILE"] == "/etc/brainmark/pip.conf"
