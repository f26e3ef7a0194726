"""Fast run functions for the dask executor's tests, importable by real Dask workers.

The test starts its workers with this folder on ``PYTHONPATH``, so tasks pickled as
``dask_jobs.<function>`` load there. Each function records the process it ran in
(``pid`` in the job's folder) so a test can find, and kill, the worker running a job.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from brainmark.execution.scoring_job import JobOutcome, JobSpec

#: Written by a test into a job's folder to let :func:`wait_for_release` return.
RELEASE_FILE = "release"
PID_FILE = "pid"
#: A held job gives up after this long, so a forgotten one never outlives the test.
HOLD_LIMIT_S = 60.0


def expected_record(spec: JobSpec, pid: int) -> str:
    """The record JSON the fake jobs return, computed from the spec alone."""
    return json.dumps({"model": spec.model, "benchmark": spec.benchmark,
                       "attempt": spec.attempt, "pid": pid})


def _start(spec: JobSpec) -> Path:
    folder = Path(spec.workdir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PID_FILE).write_text(str(os.getpid()))
    return folder


def quick(spec: JobSpec) -> JobOutcome:
    """A successful job taking a fraction of a second."""
    _start(spec)
    time.sleep(0.2)
    return JobOutcome(spec.job_id, spec.attempt, expected_record(spec, os.getpid()), 0)


def wait_for_release(spec: JobSpec) -> JobOutcome:
    """A job that runs until the test writes the release file (or the hold limit)."""
    folder = _start(spec)
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not (folder / RELEASE_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return JobOutcome(spec.job_id, spec.attempt, expected_record(spec, os.getpid()), 0)


def raising(spec: JobSpec) -> JobOutcome:
    """A runner that fails itself (not the job): the executor reports the attempt lost."""
    _start(spec)
    raise RuntimeError(f"runner broke on {spec.key}")
