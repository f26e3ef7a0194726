"""Executors: where the dispatcher's jobs run. One call shape for every engine.

An executor accepts :class:`~brainmark.execution.scoring_job.JobSpec` s while it has free
slots and hands back a :class:`~brainmark.execution.scoring_job.JobOutcome` for each one
that ended, whatever happened to it (a worker that died gives a transient outcome, never
an exception and never silence). It knows nothing of the database: the dispatcher claims
jobs, renews their leases while :meth:`Executor.running` lists them, and records outcomes.

- :class:`LocalExecutor` (``local``, the embedded default): ``slots`` threads on this
  machine, each running one sandboxed job at a time.
- :class:`~brainmark.execution.dask_executor.DaskExecutor` (``dask``): a Dask distributed
  scheduler's workers (see ``docs/cluster.md``).
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
from collections.abc import Callable
from typing import Protocol

from brainmark.execution.scoring_job import JobOutcome, JobSpec, run_scoring_job

RunJob = Callable[[JobSpec], JobOutcome]


class Executor(Protocol):
    """What the dispatcher needs of an engine."""

    #: Shown on job rows as the worker (with the executor's own detail, e.g. the address).
    name: str

    def free_slots(self) -> int:
        """How many more jobs it accepts now."""

    def submit(self, spec: JobSpec) -> None:
        """Start ``spec`` (the caller checked :meth:`free_slots`)."""

    def running(self) -> list[JobSpec]:
        """The attempts submitted and not yet handed back by :meth:`finished`."""

    def finished(self, timeout: float = 0.0) -> list[JobOutcome]:
        """The outcomes of attempts that ended, each handed back once; waits up to
        ``timeout`` seconds for the first one when none has ended."""

    def close(self) -> None:
        """Stop accepting jobs and release the engine (running jobs are abandoned: their
        leases expire and another dispatcher retries them)."""


class LocalExecutor:
    """Jobs in ``slots`` threads of this process, each job a sandboxed child process."""

    def __init__(self, slots: int = 1, *, run: RunJob = run_scoring_job) -> None:
        if slots < 1:
            raise ValueError(f"LocalExecutor needs at least one slot; got {slots}.")
        self.slots = slots
        self.name = f"local@{socket.gethostname()}"
        self._run = run
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=slots, thread_name_prefix="brainmark-job"
        )
        self._futures: dict[concurrent.futures.Future[JobOutcome], JobSpec] = {}
        self._lock = threading.Lock()

    def free_slots(self) -> int:
        with self._lock:
            return self.slots - len(self._futures)

    def submit(self, spec: JobSpec) -> None:
        with self._lock:
            if len(self._futures) >= self.slots:
                raise RuntimeError(f"LocalExecutor: all {self.slots} slots are busy.")
            self._futures[self._pool.submit(self._run, spec)] = spec

    def running(self) -> list[JobSpec]:
        with self._lock:
            return list(self._futures.values())

    def finished(self, timeout: float = 0.0) -> list[JobOutcome]:
        with self._lock:
            futures = list(self._futures)
        if not futures:
            return []
        done, _ = concurrent.futures.wait(
            futures, timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )
        outcomes = []
        with self._lock:
            for future in done:
                spec = self._futures.pop(future)
                error = future.exception()
                outcome = (JobOutcome.lost(spec, f"The job's runner raised {error!r}.")
                           if error is not None else future.result())
                outcomes.append(outcome)
        return outcomes

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
