"""The ``dask`` executor: scoring jobs on the workers of a Dask distributed scheduler.

Each :class:`~brainmark.execution.scoring_job.JobSpec` becomes one Dask task (key
:attr:`JobSpec.key <brainmark.execution.scoring_job.JobSpec.key>`, no Dask retries) that
runs :func:`~brainmark.execution.scoring_job.run_scoring_job` on a worker, which starts the
sandboxed ``brainmark score`` in the job's folder. Workers see no database: the outcome
travels back to the dispatcher, which records it (see ``docs/cluster.md``).

Whatever Dask does to a task, each submitted attempt comes back from :meth:`finished`
exactly once:

- it ran: the run function's outcome, with ``worker`` set to the Dask worker's address;
- its worker died while running it and the scheduler gave up on it (``KilledWorker``: with
  ``distributed.scheduler.allowed-failures`` at 0 on the first death; with Dask's default,
  3, the scheduler first runs it again on other workers), the run function raised, or the
  connection to the scheduler was lost (Dask cancels the client's futures then): a
  :meth:`JobOutcome.lost <brainmark.execution.scoring_job.JobOutcome.lost>` outcome, which
  the dispatcher's state machine retries as a transient failure while attempts are left.

While the scheduler is unreachable :meth:`DaskExecutor.free_slots` is 0, so the dispatcher
claims nothing; the executor reconnects by itself when the scheduler is back.

This module imports neither Django nor torch: Dask workers import it to run a job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping

import cloudpickle
import distributed

from brainmark.exceptions import BrainmarkError
from brainmark.execution.scoring_job import JobOutcome, JobSpec, run_scoring_job

#: The Dask resource a memory tier asks for, in bytes (workers advertise it with
#: ``dask worker --resources "MEMORY=<bytes>"``).
MEMORY_RESOURCE = "MEMORY"


class SchedulerUnreachableError(BrainmarkError, ConnectionError):
    """The Dask scheduler did not answer when the executor first connected."""


def run_on_worker(run: Callable[[JobSpec], JobOutcome], spec: JobSpec) -> JobOutcome:
    """The Dask task: ``run(spec)`` on this worker, its outcome naming the worker.

    A run function that raises gives a lost outcome (as in the local executor), so the
    only errors Dask itself reports are those of the cluster (a worker that died).
    """
    worker = distributed.get_worker().address
    try:
        outcome = run(spec)
    except Exception as error:
        return JobOutcome.lost(spec, f"The job's runner raised {error!r}.", worker=worker)
    return dataclasses.replace(outcome, worker=worker)


@dataclasses.dataclass
class _Attempt:
    spec: JobSpec
    future: distributed.Future | None  # None when it never reached the scheduler
    outcome: JobOutcome | None = None


class DaskExecutor:
    """Jobs on the workers of the Dask scheduler at ``scheduler`` (e.g.
    ``"tcp://10.0.0.2:8786"``); same calls as
    :class:`~brainmark.execution.executors.LocalExecutor`.

    ``slots`` bounds the jobs in flight on the cluster; ``None`` means the worker threads
    the scheduler counts at each :meth:`free_slots` call (with an adaptive cluster that
    starts with no worker, set it: no job in flight means no worker is ever asked for).
    ``memory_resources`` maps a memory tier (see
    :attr:`RetryPolicy.memory_tiers <brainmark.execution.states.RetryPolicy.memory_tiers>`)
    to the amount of the ``MEMORY`` resource a job on that tier asks for; a job needing a
    GPU asks one ``gpu_resource``. A job asking nothing runs on any worker. ``run`` must be
    picklable (a module-level function that workers can import). ``connect_timeout`` bounds
    each connection attempt and each fetch of a result; after the client gave up on a lost
    scheduler, a new connection is tried at most every ``reconnect_interval`` seconds.
    """

    def __init__(
        self,
        scheduler: str,
        *,
        slots: int | None = None,
        memory_resources: Mapping[str, float] | None = None,
        gpu_resource: str = "GPU",
        run: Callable[[JobSpec], JobOutcome] = run_scoring_job,
        connect_timeout: float = 10.0,
        reconnect_interval: float = 30.0,
    ) -> None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ValueError(
                f"DaskExecutor: scheduler must be the scheduler's address such as "
                f"'tcp://host:8786'; got {scheduler!r}."
            )
        if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int)
                                  or slots < 1):
            raise ValueError(f"DaskExecutor: slots must be a positive integer or None; "
                             f"got {slots!r}.")
        memory = dict(memory_resources or {})
        for tier, amount in memory.items():
            if not isinstance(tier, str) or not tier:
                raise ValueError(f"DaskExecutor: memory_resources keys must be memory tier "
                                 f"names; got {tier!r}.")
            if (isinstance(amount, bool) or not isinstance(amount, int | float)
                    or not math.isfinite(amount) or amount <= 0):
                raise ValueError(
                    f"DaskExecutor: memory_resources[{tier!r}] must be a positive number of "
                    f"bytes; got {amount!r}."
                )
        if not isinstance(gpu_resource, str) or not gpu_resource:
            raise ValueError(f"DaskExecutor: gpu_resource must be a resource name such as "
                             f"'GPU'; got {gpu_resource!r}.")
        for name, value in (("connect_timeout", connect_timeout),
                            ("reconnect_interval", reconnect_interval)):
            if not value > 0:
                raise ValueError(f"DaskExecutor: {name} must be positive; got {value!r}.")
        try:
            cloudpickle.dumps(run)
        except Exception as error:
            raise ValueError(
                f"DaskExecutor: run={run!r} cannot be sent to Dask workers ({error}); pass "
                "a function defined at module level."
            ) from error
        self.scheduler = scheduler
        self.slots = slots
        self.memory_resources = memory
        self.gpu_resource = gpu_resource
        self.connect_timeout = float(connect_timeout)
        self.reconnect_interval = float(reconnect_interval)
        self.name = f"dask@{scheduler}"
        self._run = run
        self._attempts: dict[str, _Attempt] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._next_connect = 0.0
        try:
            self._client = self._connect()
        except (OSError, TimeoutError) as error:
            raise SchedulerUnreachableError(
                f"DaskExecutor: no Dask scheduler answered at {scheduler!r} within "
                f"{connect_timeout:g} s ({error}). Start one with 'dask scheduler' (see "
                "docs/cluster.md) or check the address."
            ) from error

    # --- the executor protocol -------------------------------------------------------------

    def free_slots(self) -> int:
        if self._closed or not self._connected():
            return 0
        capacity = self.slots if self.slots is not None else self._worker_threads()
        with self._changed:
            return max(0, capacity - len(self._attempts))

    def submit(self, spec: JobSpec) -> None:
        if self._closed:
            raise RuntimeError(f"DaskExecutor ({self.scheduler}) is closed.")
        with self._changed:
            if spec.key in self._attempts:
                raise ValueError(f"DaskExecutor: {spec.key} was already submitted.")
        if not self._connected():
            # The caller saw a free slot a moment ago: the attempt comes back lost (retried).
            self._add_lost(self._unreachable(spec), spec)
            return
        if self.free_slots() < 1:
            raise RuntimeError(f"DaskExecutor: no free slot on {self.scheduler} for "
                               f"{spec.key}.")
        try:
            future = self._client.submit(run_on_worker, self._run, spec, key=spec.key,
                                         pure=False, retries=0,
                                         resources=self.resources_for(spec) or None)
        except Exception as error:  # the client closed between the check and the call
            self._add_lost(JobOutcome.lost(
                spec, f"Submitting to the Dask scheduler {self.scheduler} failed: {error!r}."),
                spec)
            return
        with self._changed:
            self._attempts[spec.key] = _Attempt(spec, future)
        future.add_done_callback(self._collect)

    def running(self) -> list[JobSpec]:
        with self._changed:
            return [attempt.spec for attempt in self._attempts.values()]

    def finished(self, timeout: float = 0.0) -> list[JobOutcome]:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._changed:
            while True:
                if self._client.status != "running":
                    self._lose_unsent()
                done = {key: attempt.outcome for key, attempt in self._attempts.items()
                        if attempt.outcome is not None}
                remaining = deadline - time.monotonic()
                if done or remaining <= 0:
                    break
                # Woken by a settled attempt; checks the connection at least once a second.
                self._changed.wait(min(remaining, 1.0))
            for key in done:  # dropping the futures releases the tasks on the scheduler
                del self._attempts[key]
            return list(done.values())

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):  # a scheduler already gone leaves nothing to close
            self._client.close(timeout=self.connect_timeout)

    # --- helpers ---------------------------------------------------------------------------

    def resources_for(self, spec: JobSpec) -> dict[str, float]:
        """The Dask resources ``spec`` asks for (empty: any worker may run it)."""
        wanted: dict[str, float] = {}
        if spec.needs_gpu:
            wanted[self.gpu_resource] = 1
        if spec.memory_tier in self.memory_resources:
            wanted[MEMORY_RESOURCE] = self.memory_resources[spec.memory_tier]
        return wanted

    def _connect(self) -> distributed.Client:
        return distributed.Client(self.scheduler, timeout=self.connect_timeout,
                                  set_as_default=False,
                                  name=f"brainmark-dispatcher@{socket.gethostname()}")

    def _connected(self) -> bool:
        """Whether the client talks to the scheduler now; a client that gave up on it is
        replaced (at most every ``reconnect_interval`` seconds)."""
        status = self._client.status
        if status == "running":
            return True
        if status in ("closing", "closed", "failed") and time.monotonic() >= self._next_connect:
            self._next_connect = time.monotonic() + self.reconnect_interval
            try:
                client = self._connect()
            except (OSError, TimeoutError):
                return False
            with self._changed:
                self._lose_unsent()  # the old client's futures can no longer finish
                self._client = client
            return True
        return False

    def _worker_threads(self) -> int:
        try:
            return sum(self._client.nthreads().values())
        except Exception:  # the scheduler went away during the call
            return 0

    def _collect(self, future: distributed.Future) -> None:
        """Called (in Dask's callback thread) once ``future`` is no longer pending."""
        with self._changed:
            attempt = self._attempts.get(future.key)
        if attempt is None or attempt.future is not future:
            return
        self._settle(attempt, self._outcome(attempt.spec, future))

    def _outcome(self, spec: JobSpec, future: distributed.Future) -> JobOutcome:
        status = future.status
        if status == "finished":
            try:
                return future.result(timeout=self.connect_timeout)
            except Exception as error:
                return JobOutcome.lost(spec, f"The job ended on the Dask cluster "
                                             f"{self.scheduler} but its outcome could not be "
                                             f"fetched: {error!r}.")
        if status == "cancelled":
            return self._unreachable(spec)
        try:
            error = future.exception(timeout=self.connect_timeout)
        except Exception as fetch_error:
            error = fetch_error
        if isinstance(error, distributed.KilledWorker):
            worker = error.last_worker.address
            return JobOutcome.lost(
                spec, f"The Dask worker {worker} died while running the job "
                      f"(after {error.allowed_failures + 1} worker deaths the scheduler "
                      f"gave up on it).", worker=worker)
        return JobOutcome.lost(spec, f"The Dask cluster {self.scheduler} could not run the "
                                     f"job ({status}): {error!r}.")

    def _unreachable(self, spec: JobSpec) -> JobOutcome:
        return JobOutcome.lost(spec, f"The connection to the Dask scheduler {self.scheduler} "
                                     f"was lost; the job's task was abandoned.")

    def _settle(self, attempt: _Attempt, outcome: JobOutcome) -> None:
        """Record ``outcome`` for an attempt in flight, once (the first outcome wins)."""
        with self._changed:
            if self._attempts.get(attempt.spec.key) is attempt and attempt.outcome is None:
                attempt.outcome = outcome
                self._changed.notify_all()

    def _add_lost(self, outcome: JobOutcome, spec: JobSpec) -> None:
        """An attempt that never reached the scheduler: handed back by the next finished()."""
        with self._changed:
            self._attempts[spec.key] = _Attempt(spec, None, outcome)
            self._changed.notify_all()

    def _lose_unsent(self) -> None:
        """While the client is not connected, an attempt still pending never reaches the
        scheduler (Dask cancels the futures it had when the connection broke; one submitted
        in between would wait forever): it is lost. Called holding ``_changed``."""
        for attempt in self._attempts.values():
            if (attempt.outcome is None and attempt.future is not None
                    and attempt.future.status == "pending"):
                attempt.outcome = self._unreachable(attempt.spec)
                self._changed.notify_all()
