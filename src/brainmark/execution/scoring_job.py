"""One scoring job: what a worker needs (:class:`JobSpec`), how it runs, what it reports.

A worker never touches the platform's database. It gets a :class:`JobSpec` (plain JSON),
runs ``brainmark score MODEL BENCHMARK --json --output record.json`` inside the sandbox
(:func:`brainmark.pipeline.sandbox.run_sandboxed`) in a folder of its own, and returns a
:class:`JobOutcome`: the record's JSON text, the log's tail, the resources used and, for a
failed attempt, the failure kind of :func:`~brainmark.execution.states.classify_failure`.
The dispatcher, outside the sandbox, validates the record and writes the score row.

Inside the sandbox the job sees the Python environment and its plugin roots read-only, a
private brainmark home in its folder (so nothing it writes reaches another job) and,
read-only, the local object store where the data live. It sees no platform home, database,
secret or network, so the number it computes is the one ``brainmark score`` computes for
the same pair with the same plugins and settings.

This module imports neither Django nor torch: Dask workers import it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from brainmark.execution.states import FailureKind, classify_failure

#: The record file the job writes in its folder.
RECORD_FILE = "record.json"
#: The log of the attempt (stdout and stderr together), capped by the sandbox.
LOG_FILE = "log.txt"
#: How much of the log's end an outcome carries back.
LOG_TAIL_BYTES = 16 * 1024
#: Settings passed into the job when the dispatcher's environment sets them: those that
#: change how a number is computed (never secrets, never the home or the database).
PASSED_SETTINGS = ("BRAINMARK_DEVICE", "BRAINMARK_NUM_WORKERS", "BRAINMARK_BATCH_SIZE",
                   "BRAINMARK_MAX_IMAGE_PIXELS")

# The sandbox's names for the limit that killed a job -> the state machine's.
_KILLERS = {"time": "time_limit", "cpu": "time_limit", "memory": "memory_limit"}


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """Everything one attempt at scoring one pair needs, as plain JSON-able values.

    ``workdir`` is the attempt's own folder (on a filesystem the worker shares with the
    dispatcher when they run on different machines). ``plugin_roots`` are extra plugin roots
    (the plugin store's snapshot at the job's commit), ``store_dir`` the local object store
    the data come from (both read-only in the sandbox). ``memory_bytes`` and
    ``wall_seconds`` are the attempt's limits; ``env`` the settings passed in.
    ``layer_maps`` is a folder of the model version's layer maps, chosen by an earlier job:
    copied into the job's home, so layer selection runs once per model version (the
    library checks each map's checksum and key when it reads it). ``python`` runs the job
    (default: this interpreter) and ``environment`` is its folder, shown read-only: the
    layer with the plugins' requirements (:mod:`brainmark.pipeline.environments`).
    """

    job_id: int
    attempt: int
    model: str
    benchmark: str
    workdir: str
    plugin_roots: tuple[str, ...] = ()
    store_dir: str | None = None
    memory_tier: str = "standard"
    memory_bytes: int | None = None
    wall_seconds: float = 6 * 3600.0
    needs_gpu: bool = False
    env: tuple[tuple[str, str], ...] = ()
    layer_maps: str | None = None
    python: str | None = None
    environment: str | None = None

    def __post_init__(self) -> None:
        for name in ("model", "benchmark", "workdir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"JobSpec.{name} must be a non-empty string.")
        if self.attempt < 1:
            raise ValueError(f"JobSpec.attempt must be >= 1; got {self.attempt}.")
        if self.wall_seconds <= 0:
            raise ValueError(f"JobSpec.wall_seconds must be positive; got {self.wall_seconds}.")
        object.__setattr__(self, "plugin_roots", tuple(self.plugin_roots))
        object.__setattr__(self, "env", tuple((str(k), str(v)) for k, v in self.env))

    @property
    def key(self) -> str:
        """A name unique to this attempt (an executor's task key)."""
        return f"brainmark-job-{self.job_id}-attempt-{self.attempt}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"JobSpec: unknown fields {sorted(unknown)}.")
        values = dict(data)
        values["plugin_roots"] = tuple(values.get("plugin_roots", ()))
        values["env"] = tuple(tuple(pair) for pair in values.get("env", ()))
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """How one attempt ended. ``record_json`` is set exactly when it succeeded.

    ``failure_kind`` (a :class:`~brainmark.execution.states.FailureKind` value) and
    ``failure_reason`` say why a failed attempt failed; ``killed_by`` is the state machine's
    name of the limit that stopped it, when one did.
    """

    job_id: int
    attempt: int
    record_json: str | None
    exit_code: int | None
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    isolation: str = ""
    log_tail: str = ""
    killed_by: str | None = None
    failure_kind: str | None = None
    failure_reason: str = ""
    worker: str = ""

    @property
    def ok(self) -> bool:
        return self.record_json is not None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def lost(cls, spec: JobSpec, reason: str, *, worker: str = "") -> JobOutcome:
        """The outcome of an attempt whose worker went away (transient: retried)."""
        return cls(spec.job_id, spec.attempt, None, None, killed_by="worker_lost",
                   failure_kind=FailureKind.TRANSIENT.value, failure_reason=reason,
                   worker=worker)


def layer_maps_of(home: Path) -> Path:
    """Where a brainmark home keeps the layer maps layer selection chose."""
    from brainmark.settings import Settings

    return Settings(home=home).layer_maps_dir


def sandbox_environment(home: Path, plugin_roots: Iterable[str | Path],
                        store_dir: str | Path | None, *, gpu: bool = False,
                        settings: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """The environment of brainmark inside the sandbox (a scoring job, a plugin's tests, the
    facts child): a private home, the plugin roots and the local store it may read, the
    ``settings`` passed in, and no GPU unless asked for."""
    env = dict(settings)
    env["BRAINMARK_HOME"] = str(home)
    roots = [str(root) for root in plugin_roots]
    if roots:
        env["BRAINMARK_PLUGIN_PATH"] = os.pathsep.join(roots)
    if store_dir:
        env["BRAINMARK_STORE"] = Path(store_dir).as_uri()
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def run_scoring_job(spec: JobSpec, *, isolation: str | None = None) -> JobOutcome:
    """Score ``spec``'s pair in the sandbox and report how it went (never raises for what
    the job does). ``isolation`` forces a sandbox isolation (tests)."""
    from brainmark.pipeline.sandbox import SandboxLimits, run_sandboxed

    folder = Path(spec.workdir)
    if folder.exists():
        shutil.rmtree(folder)  # a previous try of the same attempt left it: start clean
    folder.mkdir(parents=True)
    home = folder / "home"
    home.mkdir()
    if spec.layer_maps and Path(spec.layer_maps).is_dir():
        shutil.copytree(spec.layer_maps, layer_maps_of(home))
    defaults = SandboxLimits()
    limits = dataclasses.replace(
        defaults,
        wall_seconds=spec.wall_seconds,
        cpu_seconds=None,  # wall time bounds a job; torch's threads would spend CPU time faster
        memory_bytes=spec.memory_bytes or defaults.memory_bytes,
    )
    command = [spec.python or sys.executable, "-m", "brainmark.cli", "score", spec.model,
               spec.benchmark,
               "--json", "--output", str(folder / RECORD_FILE)]
    readonly = [Path(root) for root in spec.plugin_roots]
    if spec.store_dir:
        readonly.append(Path(spec.store_dir))
    if spec.environment:
        readonly.append(Path(spec.environment))
    result = run_sandboxed(
        command, workdir=folder, limits=limits, log_path=folder / LOG_FILE,
        env=sandbox_environment(home, spec.plugin_roots, spec.store_dir, gpu=spec.needs_gpu,
                                settings=spec.env),
        readonly_paths=readonly, isolation=isolation,
    )
    tail = tail_of(result.log_path)
    usage = dict(exit_code=result.exit_code, wall_seconds=result.wall_seconds,
                 cpu_seconds=result.cpu_seconds, peak_memory_bytes=result.peak_memory_bytes,
                 isolation=result.isolation, log_tail=tail)
    record_path = folder / RECORD_FILE
    if result.ok and record_path.is_file():
        return JobOutcome(spec.job_id, spec.attempt, record_path.read_text(), **usage)
    killed_by = _KILLERS.get(result.killed_by or "")
    if result.ok:
        kind, reason = FailureKind.DETERMINISTIC, "The job exited 0 but wrote no score record."
    else:
        kind = classify_failure(result.exit_code, stderr_tail=tail, killed_by=killed_by)
        reason = _reason(result.exit_code, result.killed_by, tail)
    return JobOutcome(spec.job_id, spec.attempt, None, killed_by=killed_by,
                      failure_kind=kind.value, failure_reason=reason, **usage)


def tail_of(path: Path) -> str:
    """The last :data:`LOG_TAIL_BYTES` of a log, as text ('' when there is none)."""
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _reason(exit_code: int, killed_by: str | None, tail: str) -> str:
    """One readable reason: the limit that stopped the job, else its last error line."""
    if killed_by:
        return f"Stopped by the sandbox's {killed_by} limit (exit status {exit_code})."
    lines = [line for line in tail.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:") or "Error" in line]
    last = (errors or lines or [""])[-1].strip()
    if exit_code < 0:
        return f"Killed by signal {-exit_code}. {last}".strip()
    return f"Exited with status {exit_code}: {last}" if last else f"Exited with status {exit_code}."

