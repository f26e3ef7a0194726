"""The dispatcher: runs submissions' stages and hands scoring jobs to an executor.

One loop (:meth:`Dispatcher.tick`, repeated by :meth:`Dispatcher.run`):

1. jobs whose lease expired (their dispatcher or worker went silent) are retried or failed,
   and (every half minute) submissions whose intake a dead web worker left half-way are
   validated from their stored archive;
2. submission stages (tests, merge, sync and plan:
   :mod:`~brainmark.platform.submissions.processing`) run in threads of their own, up to
   ``stage_slots`` at once (the setting ``dispatcher_stage_slots``), so scoring goes on
   meanwhile and one submission's sandboxed tests do not hold up the next one's; merges
   run one at a time (they write the same plugin store);
3. the leases of the jobs in the executor are renewed (the heartbeat);
4. the outcomes of finished jobs are recorded: a score record is checked to be of the job's
   pair and written in the transaction that marks the job succeeded; a failure goes
   through the state machine (retry, larger memory, or failed with the reason);
5. queued jobs are claimed (atomically: several dispatchers are safe) while the executor
   has free slots, and submitted as :class:`~brainmark.execution.scoring_job.JobSpec` s;
6. submissions whose jobs all ended are finished (and their submitters told).

A database that goes away (a dropped connection, a server restarting) stops no dispatcher:
the tick fails, the loop logs it, closes the connection and tries again with a growing
pause; outcomes not yet written are kept and written once the database answers again.

Workers hold no database credentials: a job reads its spec and writes its record in its
folder; only the dispatcher writes rows. The score of a pair is written at most once (a
unique constraint on the Score table): a job that ran twice finds it written and keeps it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    transaction,
)
from django.db import connection as db_connection
from django.utils import timezone

from brainmark.execution import states
from brainmark.execution.executors import Executor
from brainmark.execution.scoring_job import PASSED_SETTINGS, JobOutcome, JobSpec
from brainmark.execution.states import (
    DEFAULT_POLICY,
    Failed,
    Finished,
    Heartbeat,
    IllegalTransitionError,
    ResourceUse,
    RetryPolicy,
)
from brainmark.pipeline.environments import environment_for
from brainmark.platform.submissions import jobs, processing
from brainmark.platform.submissions.models import Job, JobStatus, Submission, SubmissionStatus

logger = logging.getLogger(__name__)

#: How long a claimed job is held without a heartbeat before another dispatcher retries it.
DEFAULT_LEASE = timedelta(minutes=5)
#: How much more memory the next tier gets (out-of-memory retries).
LARGE_MEMORY_FACTOR = 4
#: The longest pause between tries while the database is unavailable.
RECONNECT_MAX_SECONDS = 10.0
#: How often a dispatcher looks for submissions a dead web worker left in intake.
INTAKE_CHECK_SECONDS = 30.0
#: Errors of a database that cannot be reached (as opposed to a bug or a refused write).
UNAVAILABLE = (OperationalError, InterfaceError)


def jobs_dir() -> Path:
    """Job folders: ``<home>/platform/jobs/<job id>/attempt-<n>`` (specs, logs, records)."""
    return processing.platform_dir() / "jobs"


def attempt_dir(job_id: int, attempt: int) -> Path:
    return jobs_dir() / str(job_id) / f"attempt-{attempt}"


def layer_maps_dir(model_version_id: int) -> Path:
    """The layer maps a model version's first job chose, given to its later jobs."""
    return processing.platform_dir() / "layer-maps" / str(model_version_id)


class Dispatcher:
    """Moves submissions and jobs along; see the module docstring."""

    def __init__(
        self,
        executor: Executor,
        *,
        name: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        policy: RetryPolicy = DEFAULT_POLICY,
        wall_seconds: float | None = None,
        memory_bytes: int | None = None,
        stage_slots: int | None = None,
    ) -> None:
        from brainmark.settings import get_settings

        settings = get_settings()
        self.executor = executor
        self.name = name or f"dispatcher@{socket.gethostname()}"
        self.worker = f"{self.name}/{executor.name}"
        self.lease = lease
        self.policy = policy
        self.wall_seconds = wall_seconds or float(settings.job_wall_seconds)
        base = memory_bytes or settings.job_memory_bytes
        self.memory_bytes = {tier: base * LARGE_MEMORY_FACTOR ** index
                             for index, tier in enumerate(policy.memory_tiers)}
        self.stage_slots = stage_slots or settings.dispatcher_stage_slots
        if self.stage_slots < 1:
            raise ValueError(f"stage_slots must be at least 1, not {self.stage_slots}.")
        # The stages running now: submission id -> (thread, status it was found in).
        self._stages: dict[int, tuple[threading.Thread, str]] = {}
        self._started = False
        self._next_intake_check = 0.0  # time.monotonic() of the next look for those
        # Outcomes the executor gave that are not written yet (the database was away).
        self._unrecorded: list[JobOutcome] = []
        # Stages the database's absence stopped: (submission id, status it was found in).
        self._interrupted: list[tuple[int, str]] = []

    # --- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Resume after a stop: this dispatcher's jobs left running lost their attempt (they
        are retried), and submissions left mid-test run their tests again."""
        now = timezone.now()
        for job_id in Job.objects.filter(status=JobStatus.RUNNING, worker=self.worker
                                         ).values_list("pk", flat=True):
            self._apply(job_id, Failed(worker=self.worker, now=now,
                                       kind=states.FailureKind.TRANSIENT,
                                       reason=f"{self.name} restarted while the job ran"))
        processing.resume_interrupted()
        self._started = True

    def tick(self, wait: float = 0.0) -> bool:
        """One round of the loop; True when anything happened. ``wait``: seconds to wait
        for a running job to end when nothing else is to be done."""
        if not self._started:
            self.start()
        busy = bool(jobs.expire_leases(timezone.now(), policy=self.policy))
        if time.monotonic() >= self._next_intake_check:
            busy |= bool(processing.resume_abandoned_intake())
            self._next_intake_check = time.monotonic() + INTAKE_CHECK_SECONDS
        busy |= self._run_next_stage()
        self._heartbeat()
        outcomes = self.executor.finished(timeout=0.0)
        busy |= self._submit_queued()
        if not outcomes and not busy and wait and not self._unrecorded:
            outcomes = self.executor.finished(timeout=wait)
        self._unrecorded += outcomes
        outcomes = list(self._unrecorded)
        while self._unrecorded:
            self._record(self._unrecorded[0])  # kept for the next tick if the database fails
            self._unrecorded.pop(0)
        busy |= bool(outcomes)
        busy |= self._finish_submissions()
        return busy or self.busy

    @property
    def busy(self) -> bool:
        """Whether a stage or a job of this dispatcher is still running."""
        return bool(self._running_stages()) or bool(self.executor.running())

    def run(self, *, stop: threading.Event | None = None, until_idle: bool = False,
            poll_seconds: float = 2.0) -> None:
        """Tick until ``stop`` is set, or (``until_idle``) until nothing is left to do."""
        stop = stop or threading.Event()
        pause = poll_seconds
        while not stop.is_set():
            try:
                active = self.tick(wait=poll_seconds)
                if until_idle and not active and not self._pending():
                    break
            except UNAVAILABLE as error:
                logger.warning("The database is unavailable (%s); %s tries again in %.1f s.",
                               str(error).strip() or type(error).__name__, self.name, pause)
                with contextlib.suppress(DatabaseError):
                    db_connection.close()  # the next query opens a fresh connection
                stop.wait(pause)
                pause = min(pause * 2, RECONNECT_MAX_SECONDS)
                continue
            pause = poll_seconds
            if not active:
                stop.wait(poll_seconds)
            close_old_connections()

    def close(self) -> None:
        for thread, _ in list(self._stages.values()):
            thread.join()
        self.executor.close()

    def _pending(self) -> bool:
        """Work waiting for any dispatcher: queued jobs or submissions with a stage."""
        return (Job.objects.filter(status=JobStatus.QUEUED,
                                   attempts__lt=self.policy.max_attempts).exists()
                or processing.next_stage() is not None)

    # --- stages -----------------------------------------------------------------------------

    def _running_stages(self) -> dict[int, str]:
        """The stages still running (submission id -> status found in); ended ones dropped."""
        self._stages = {pk: entry for pk, entry in self._stages.items() if entry[0].is_alive()}
        return {pk: status for pk, (_, status) in self._stages.items()}

    def _run_next_stage(self) -> bool:
        """Start stages while stage slots are free; True when one was started."""
        while self._interrupted:
            processing.release_stage(*self._interrupted[0])
            self._interrupted.pop(0)
        started = False
        while len(running := self._running_stages()) < self.stage_slots:
            found = processing.next_stage(
                excluding=running, merging=SubmissionStatus.TESTED not in running.values())
            if found is None:
                break
            self._start_stage(*found)
            started = True
        return started

    def _start_stage(self, submission_id: int, status: str) -> None:
        def run_stage() -> None:
            try:
                processing.advance(submission_id, status)
            except UNAVAILABLE as error:
                logger.warning("Submission %s: the database became unavailable during its "
                               "stage (%s); the stage runs again.", submission_id, error)
                self._interrupted.append((submission_id, status))
            finally:
                close_old_connections()

        thread = threading.Thread(target=run_stage, name=f"stage-{submission_id}")
        self._stages[submission_id] = (thread, status)
        thread.start()

    def _finish_submissions(self) -> bool:
        ended = False
        for submission in Submission.objects.filter(status=SubmissionStatus.SCORING):
            ended |= processing.finish_if_done(submission)
        return ended

    # --- jobs -------------------------------------------------------------------------------

    def _submit_queued(self) -> bool:
        submitted = False
        while self.executor.free_slots() > 0:
            job = jobs.claim_next(self.worker, lease=self.lease, now=timezone.now(),
                                  policy=self.policy)
            if job is None:
                break
            try:
                spec = self.spec_for(job)
            except Exception as error:  # the snapshot or folder could not be made
                self._apply(job.pk, Failed(worker=self.worker, now=timezone.now(),
                                           kind=states.FailureKind.TRANSIENT,
                                           reason=f"preparing the job failed: {error}"))
                continue
            self.executor.submit(spec)
            submitted = True
        return submitted

    def spec_for(self, job: Job) -> JobSpec:
        """The worker's whole input for the job's current attempt."""
        job = Job.objects.select_related("model_version__model",
                                         "benchmark_version__benchmark_type").get(pk=job.pk)
        snapshot = processing.store_snapshot(job.plugin_commit) if job.plugin_commit else None
        model = job.model_version.model.identifier
        benchmark = job.benchmark_version.benchmark_type.identifier
        environment = environment_for(
            processing.requirements_of(snapshot, (model, benchmark)) if snapshot else [],
            root=processing.platform_dir() / "environments",
            source=f"the requirements.txt of {model} and {benchmark}",
        )
        store_dir = processing.local_store_dir()
        return JobSpec(
            job_id=job.pk,
            attempt=job.attempts,
            model=model,
            benchmark=benchmark,
            workdir=str(attempt_dir(job.pk, job.attempts)),
            plugin_roots=(str(snapshot),) if snapshot else (),
            store_dir=str(store_dir) if store_dir else None,
            memory_tier=job.memory_tier,
            memory_bytes=self.memory_bytes.get(job.memory_tier),
            wall_seconds=self.wall_seconds,
            needs_gpu=job.needs_gpu,
            env=tuple((name, os.environ[name]) for name in PASSED_SETTINGS if name in os.environ),
            layer_maps=str(maps) if (maps := layer_maps_dir(job.model_version_id)).is_dir()
            else None,
            python=str(environment.python) if environment.key else None,
            environment=str(environment.path) if environment.key else None,
        )

    def _heartbeat(self) -> None:
        """Renew the lease of every job in the executor, once a third of it has passed."""
        now = timezone.now()
        due = now - self.lease / 3
        for spec in self.executor.running():
            if Job.objects.filter(pk=spec.job_id, status=JobStatus.RUNNING,
                                  worker=self.worker, heartbeat__lte=due).exists():
                self._apply(spec.job_id, Heartbeat(worker=self.worker, now=now,
                                                   lease=self.lease))
            self._stream_log(spec)

    def _stream_log(self, spec: JobSpec) -> None:
        """Copy the running attempt's log tail to the job row (the submitter's live log)."""
        from brainmark.execution.scoring_job import LOG_FILE, tail_of

        output = tail_of(Path(spec.workdir) / LOG_FILE)
        if output:
            Job.objects.filter(pk=spec.job_id, attempts=spec.attempt).update(output=output)

    def _record(self, outcome: JobOutcome) -> None:
        """Write what the attempt gave: its score and success, or its failure."""
        now = timezone.now()
        usage = ResourceUse(outcome.wall_seconds, outcome.cpu_seconds,
                            outcome.peak_memory_bytes, outcome.exit_code)
        job = Job.objects.filter(pk=outcome.job_id).select_related(
            "model_version__model", "benchmark_version__benchmark_type").first()
        if job is None or job.status != JobStatus.RUNNING or job.attempts != outcome.attempt:
            logger.info("Outcome of job %s attempt %s ignored: the job moved on (%s).",
                        outcome.job_id, outcome.attempt, job and job.status)
            return
        self._keep_output(job, outcome)
        try:
            self._record_outcome(job, outcome, usage, now)
        finally:
            # The attempt's home held its caches (activations...): recomputable, and large.
            shutil.rmtree(attempt_dir(job.pk, outcome.attempt) / "home", ignore_errors=True)

    def _record_outcome(self, job: Job, outcome: JobOutcome, usage: ResourceUse,
                        now: datetime) -> None:
        if outcome.ok:
            problem = _record_problem(job, outcome.record_json)
            if problem is None:
                try:
                    with transaction.atomic():
                        _write_score(job, outcome.record_json, started=job.started or now)
                        jobs.apply(job.pk, Finished(worker=self.worker, now=now, usage=usage),
                                   policy=self.policy, isolation=outcome.isolation)
                    _keep_layer_maps(job, attempt_dir(job.pk, outcome.attempt) / "home")
                    return
                except IllegalTransitionError as error:
                    logger.warning("Job %s: %s", job.pk, error)
                    return
            failure = Failed(worker=self.worker, now=now, kind=states.FailureKind.DETERMINISTIC,
                             reason=problem, usage=usage)
        else:
            failure = Failed(worker=self.worker, now=now,
                             kind=states.FailureKind(outcome.failure_kind),
                             reason=outcome.failure_reason or "the job failed without a reason",
                             usage=usage)
        with transaction.atomic():
            ended = self._apply(job.pk, failure, isolation=outcome.isolation)
            if ended is not None and ended.status == JobStatus.FAILED:
                _write_failure(ended, failure.reason, started=job.started or now)

    def _keep_output(self, job: Job, outcome: JobOutcome) -> None:
        where = f"[attempt {outcome.attempt} ran on {outcome.worker}]\n" if outcome.worker else ""
        job.output = where + outcome.log_tail
        Job.objects.filter(pk=job.pk).update(output=job.output)

    def _apply(self, job_id: int, event: jobs.Event, *, isolation: str | None = None
               ) -> Job | None:
        try:
            return jobs.apply(job_id, event, policy=self.policy, isolation=isolation)
        except IllegalTransitionError as error:
            logger.info("Job %s: %s", job_id, error)
            return None


def _record_problem(job: Job, record_json: str | None) -> str | None:
    """Why the record a job returned cannot be the score of its pair, or None."""
    from brainmark.scoring import ScoreRecord

    try:
        record = ScoreRecord.from_json(record_json or "")
    except (ValueError, TypeError, KeyError) as error:
        return f"The job returned no valid score record: {error}"
    expected = (job.model_version.model.identifier,
                job.benchmark_version.benchmark_type.identifier,
                job.benchmark_version.version)
    got = (record.model, record.benchmark, record.benchmark_version)
    if got != expected:
        return (f"The job returned the record of {got[0]} on {got[1]} v{got[2]}, not of its own "
                f"pair {expected[0]} on {expected[1]} v{expected[2]}.")
    return None


def _keep_layer_maps(job: Job, home: Path) -> None:
    """Store the layer maps of a model version's first successful job with the version.

    Only from a job of a built-in benchmark: a submitted benchmark's code ran in that job
    and could have written maps another model's later jobs would read. A model's own code
    can only mislead its own scores.
    """
    from brainmark.execution.scoring_job import layer_maps_of

    source, target = layer_maps_of(home), layer_maps_dir(job.model_version_id)
    if (job.benchmark_version.benchmark_type.owner_id is not None or target.exists()
            or not source.is_dir() or not any(source.iterdir())):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        shutil.copytree(source, staging / "maps")
        (staging / "maps").rename(target)
    except OSError:
        pass  # another dispatcher stored them first: theirs serve as well
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_score(job: Job, record_json: str, *, started: datetime) -> None:
    """The pair's Score from the record, unless a score is already there (written once)."""
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.leaderboard.sync import score_row_values
    from brainmark.scoring import ScoreRecord

    values = score_row_values(ScoreRecord.from_json(record_json), started)
    existing = Score.objects.select_for_update().filter(
        model_version=job.model_version, benchmark_version=job.benchmark_version).first()
    if existing is None:
        Score.objects.create(model_version=job.model_version,
                             benchmark_version=job.benchmark_version, **values)
    elif existing.ceiled is None:  # a failure recorded earlier is replaced by the number
        for field, value in values.items():
            setattr(existing, field, value)
        existing.comment = ""
        existing.save()


def _write_failure(job: Job, reason: str, *, started: datetime) -> None:
    """The pair's Score row saying why it has no number (kept when a number exists)."""
    from brainmark.platform.leaderboard.models import Score
    from brainmark.platform.leaderboard.sync import failed_score_values

    values = failed_score_values(started, reason)
    existing = Score.objects.filter(model_version=job.model_version,
                                    benchmark_version=job.benchmark_version).first()
    if existing is None:
        Score.objects.create(model_version=job.model_version,
                             benchmark_version=job.benchmark_version, **values)
    elif existing.ceiled is None:
        existing.comment, existing.end = values["comment"], values["end"]
        existing.save(update_fields=["comment", "end"])


def make_executor(kind: str, *, slots: int | None, scheduler: str = "") -> Executor:
    """The executor named by ``kind`` ('local' or 'dask'), with clear errors. ``slots``
    None: the setting ``dispatcher_slots`` locally, every worker thread on Dask."""
    from brainmark.exceptions import SettingsError

    if kind == "local":
        from brainmark.execution.executors import LocalExecutor
        from brainmark.settings import get_settings

        return LocalExecutor(slots or get_settings().dispatcher_slots)
    if kind == "dask":
        if not scheduler:
            raise SettingsError("The dask executor needs a scheduler address: --scheduler "
                                "tcp://HOST:8786 or BRAINMARK_DASK_SCHEDULER.")
        from brainmark.execution.dask_executor import DaskExecutor

        return DaskExecutor(scheduler, slots=slots)
    raise SettingsError(f"Unknown executor {kind!r}: choose 'local' or 'dask'.")

