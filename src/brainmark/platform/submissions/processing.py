"""What happens to a validated submission: sandboxed tests, merge, sync, the scoring plan.

Stages, each recorded on the row (status, the time in ``stages``, a line in the log)::

    validated -> testing -> tested -> merged -> scoring -> succeeded | failed

- **Tests** (:func:`run_tests`): the archive is fetched again from the object store (its
  SHA1 checked) and unpacked with the same safe extraction as at intake; each plugin's
  ``brainmark test`` runs in the sandbox, its log streamed to the submission's log.
- **Merge** (:func:`merge`): the plugin folders are committed into the plugin store (one
  commit per submission, author = the submitter). A folder already there is replaced only
  when the submitter's own earlier submission put it there.
- **Sync** (:func:`sync_and_plan`): the facts child reads the submission's plugins, in the
  sandbox, from a snapshot of the store at the merge commit; rows are written as
  ``brainmark sync`` writes them, then owned by the submitter (private when asked), and
  the scoring jobs planned (:func:`plan_jobs`).
- **Finish** (:func:`finish_if_done`): when no job of the submission is queued or running,
  it ends succeeded (at least one score) or failed, and the submitter gets the table.

Every stage is safe to run twice (a dispatcher that died mid-stage is replaced by another):
the merge returns the existing commit, sync changes nothing the second time, a job already
planned for a pair is not planned again.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from brainmark._files import make_readable_by_others, sha1_of_file
from brainmark.execution.scoring_job import sandbox_environment
from brainmark.pipeline.archive import ArchiveError, ValidatedArchive, validate_archive
from brainmark.pipeline.environments import PythonEnvironment
from brainmark.pipeline.plugin_store import PluginStore, PluginStoreError
from brainmark.pipeline.sandbox import SandboxLimits, SandboxResult, run_sandboxed
from brainmark.platform.leaderboard.models import (
    BenchmarkType,
    BenchmarkVersion,
    Model,
    ModelVersion,
    Score,
)
from brainmark.platform.submissions.models import (
    LIVE_JOB_STATUSES,
    Job,
    JobStatus,
    Submission,
    SubmissionStatus,
)

logger = logging.getLogger(__name__)

#: Limits of one plugin's tests and of reading a submission's facts.
TEST_LIMITS = SandboxLimits(wall_seconds=1800.0, cpu_seconds=None)
#: How often a running sandboxed stage copies its log into the submission's row.
LOG_STREAM_SECONDS = 1.0
#: How much of a failed test's log goes into the e-mail.
MAIL_LOG_BYTES = 8 * 1024


class StageError(Exception):
    """A stage failed for a reason the submitter must read (the message says it)."""


# --- places ---------------------------------------------------------------------------------


def platform_dir() -> Path:
    from brainmark.settings import get_settings

    return get_settings().home / "platform"


def plugin_store() -> PluginStore:
    """The platform's plugin store, created on first use."""
    from brainmark.settings import get_settings

    store = PluginStore(get_settings().plugin_store_dir)
    store.init()
    return store


def snapshot_root() -> Path:
    """Where the store's snapshots live, one folder per commit (plugin roots for jobs)."""
    return platform_dir() / "snapshots"


def store_snapshot(commit: str) -> Path:
    return plugin_store().snapshot(commit, snapshot_root())


def local_store_dir() -> Path | None:
    """The local object store's folder, which sandboxed jobs read data from (created, so a
    job can bind it before anything was uploaded); None for S3."""
    from brainmark.data.store import LocalStore, default_store

    store = default_store()
    if not isinstance(store, LocalStore):
        return None
    root = Path(store.root)
    root.mkdir(parents=True, exist_ok=True)
    return root


# --- recording a stage ----------------------------------------------------------------------


def mark(submission: Submission, status: str, line: str = "") -> None:
    """Move ``submission`` to ``status``: the time in ``stages``, ``line`` in the log."""
    _record_status(submission, status, line)
    _report_to_code_host(submission)


def _record_status(submission: Submission, status: str, line: str = "") -> None:
    now = timezone.now()
    submission.status = status
    submission.stages = {**submission.stages, status: now.isoformat(timespec="seconds")}
    if line:
        submission.log += f"{now:%H:%M:%S} {line.rstrip()}\n"
    submission.save(update_fields=["status", "stages", "log", "plugin_commit", "isolation",
                                   "kind", "updated"])


def _report_to_code_host(submission: Submission) -> None:
    if submission.commit_status_url:
        from brainmark.platform.submissions.git_source import report_commit_status

        report_commit_status(submission)


def claim_stage(submission_id: int, expected: str, status: str) -> Submission | None:
    """Move the submission from ``expected`` to ``status`` if it is still there (a
    compare-and-set: of several dispatchers, one wins the stage). The submission, or None."""
    with transaction.atomic():
        won = Submission.objects.filter(pk=submission_id, status=expected).update(
            status=status, updated=timezone.now()
        )
        if not won:
            return None
        submission = Submission.objects.get(pk=submission_id)
        submission.stages = {**submission.stages,
                             status: timezone.now().isoformat(timespec="seconds")}
        submission.save(update_fields=["stages"])
    return submission


def fail(submission: Submission, reason: str, *, log_excerpt: str | None = None) -> None:
    """End the submission failed, say why in its log and by e-mail."""
    from brainmark.platform.submissions import notifications

    mark(submission, SubmissionStatus.FAILED, f"Failed: {reason}")
    if log_excerpt is not None:
        notifications.tests_failed(submission, log_excerpt)
    else:
        notifications.submission_failed(submission, reason)


# --- the archive again ----------------------------------------------------------------------


def work_dir(submission: Submission) -> Path:
    return platform_dir() / "work" / f"submission-{submission.pk}"


def fetch_archive(submission: Submission, folder: Path | None = None) -> Path:
    """The submission's zip, fetched from the object store into a fresh ``folder`` (its
    work folder by default); its SHA1 must be the one recorded at intake."""
    from brainmark.data.store import StoreError, default_store

    folder = folder or work_dir(submission)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    zip_path = folder / "submission.zip"
    try:
        default_store().download(submission.archive_key, zip_path,
                                 version_id=submission.archive_version_id or None)
    except StoreError as error:
        raise StageError(f"The stored archive {submission.archive_key} could not be fetched: "
                         f"{error}") from None
    if sha1_of_file(zip_path) != submission.archive_sha1:
        raise StageError(
            f"The stored archive {submission.archive_key} no longer has the SHA1 recorded at "
            f"intake ({submission.archive_sha1}); it was not used."
        )
    return zip_path


def unpack(submission: Submission) -> ValidatedArchive:
    """The submission's archive, fetched from the object store (SHA1 checked) and unpacked
    safely into its work folder, as at intake."""
    zip_path = fetch_archive(submission)
    try:
        return validate_archive(zip_path, zip_path.parent / "archive")
    except ArchiveError as error:
        raise StageError(f"The archive no longer validates: {error}") from None


# --- stage 0: an intake the web process left behind --------------------------------------------

#: How long intake (storing and validating, in a web worker) may leave a submission
#: ``received`` or ``validating`` before a dispatcher takes it over: a worker that died
#: (killed, restarted, out of memory) mid-intake leaves its submission there for good.
INTAKE_GRACE = timedelta(minutes=5)


def resume_abandoned_intake(now: datetime | None = None) -> int:
    """Validate the stored archives of submissions whose intake stopped half-way (their
    web worker died after storing the zip and its row): each ends ``validated`` or
    ``rejected`` as at intake, or ``failed`` when its archive cannot be fetched. A
    submission is taken by one dispatcher only (claimed by a conditional update). Returns
    how many were taken."""
    from brainmark.pipeline.archive import ArchiveLimits
    from brainmark.platform.submissions import intake

    now = now or timezone.now()
    stale = Q(status__in=[SubmissionStatus.RECEIVED, SubmissionStatus.VALIDATING],
              updated__lt=now - INTAKE_GRACE)
    taken = 0
    for pk in Submission.objects.filter(stale).values_list("pk", flat=True):
        if not Submission.objects.filter(stale, pk=pk).update(
                status=SubmissionStatus.VALIDATING, updated=now):
            continue  # another dispatcher took it
        submission = Submission.objects.get(pk=pk)
        taken += 1
        _append_log(submission, "The site stopped during intake; the dispatcher validates "
                                "the stored archive again.")
        # Not the work folder: validation extracts into that one, as at intake.
        folder = platform_dir() / "work" / f"intake-{pk}"
        try:
            zip_path = fetch_archive(submission, folder)
            intake.validate_stored(submission, zip_path, ArchiveLimits(),
                                   shown_name="submission.zip")
        except StageError as error:
            fail(submission, str(error))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return taken


# --- stage 1: tests -------------------------------------------------------------------------


def run_tests(submission: Submission) -> bool:
    """Each plugin's tests in the sandbox (the submission is ``testing``); True when all
    passed (it is then ``tested``), else it is failed with the log mailed."""
    try:
        archive = unpack(submission)
        root = _test_root(submission, archive)
    except (StageError, PluginStoreError, OSError) as error:
        fail(submission, str(error))
        return False
    for plugin in archive.plugins:
        folder = root / plugin.plugin_type / plugin.folder.name
        shown = f"{plugin.plugin_type}/{plugin.folder.name}"
        environment = _environment_for(plugin.requirements, submission, shown)
        if environment is None:
            return False
        _append_log(submission, f"Testing {shown} in the sandbox.")
        result, output = run_streaming(
            submission,
            [str(environment.python), "-m", "brainmark.cli", "test", str(folder)],
            workdir=work_dir(submission) / f"test-{plugin.plugin_type}-{plugin.folder.name}",
            plugin_roots=[root],
            readonly=environment.readonly_paths,
        )
        submission.isolation = result.isolation
        if not result.ok:
            why = (f"stopped by the {result.killed_by} limit" if result.killed_by
                   else f"exit status {result.exit_code}")
            reason = f"the tests of {shown} failed ({why})."
            # The mail ends with the reason: a job a limit killed may have printed nothing.
            fail(submission, reason,
                 log_excerpt=f"{output[-MAIL_LOG_BYTES:].rstrip()}\nFailed: {reason}\n")
            return False
    mark(submission, SubmissionStatus.TESTED,
         f"All plugin tests passed (isolation: {submission.isolation}).")
    return True


def _test_root(submission: Submission, archive: ValidatedArchive) -> Path:
    """A plugin root holding the store's plugins with the submission's folders over them
    (a new version of one's own plugin replaces the old one), so tests see what the merge
    will give."""
    root = work_dir(submission) / "plugins"
    ours = {(p.plugin_type, p.folder.name) for p in archive.plugins}
    _copy_visible(store_snapshot(plugin_store().head()), root, submission, skip=ours)
    for plugin in archive.plugins:
        shutil.copytree(plugin.folder, root / plugin.plugin_type / plugin.folder.name)
    make_readable_by_others(root)  # the sandbox's user reads it
    return root


def _copy_visible(snapshot: Path, root: Path, submission: Submission,
                  skip: set[tuple[str, str]] = frozenset()) -> None:
    """Copy the snapshot's plugin folders into ``root``, except ``skip`` and other users'
    private models: a submission's code never reads a private model's code or weights
    (unless it must score it: a benchmark's job sees the model it scores)."""
    from brainmark._plugin_index import parse_registrations, plugin_folders
    from brainmark.exceptions import PluginIndexError

    hidden = set(Model.objects.filter(public=False).exclude(owner=submission.user)
                 .values_list("identifier", flat=True))
    root.mkdir(parents=True, exist_ok=True)
    for folder in plugin_folders(snapshot):
        if (folder.parent.name, folder.name) in skip:
            continue
        try:
            registered = {identifier for _, identifier, _ in
                          parse_registrations(folder / "__init__.py")}
        except PluginIndexError:
            registered = set()
        if registered & hidden:
            continue
        shutil.copytree(folder, root / folder.parent.name / folder.name)


def _environment_for(requirements: Iterable[str], submission: Submission,
                     shown: str) -> PythonEnvironment | None:
    """The Python environment to run a plugin with: the platform's, or one layered on it
    with the plugin's requirements (built outside the sandbox). None: the build failed and
    the submission is failed."""
    from brainmark.exceptions import BrainmarkError
    from brainmark.pipeline.environments import environment_for

    try:
        return environment_for(list(requirements), root=platform_dir() / "environments",
                               source=f"{shown}/requirements.txt")
    except BrainmarkError as error:
        fail(submission, f"the requirements of {shown} could not be installed: {error}")
        return None


def requirements_of(root: Path, identifiers: Iterable[str]) -> list[str]:
    """The requirement lines of the plugin folders in ``root`` that register any of
    ``identifiers`` (read statically, never imported)."""
    from brainmark._plugin_index import parse_registrations, plugin_folders
    from brainmark.exceptions import PluginIndexError

    wanted, lines = set(identifiers), []
    for folder in plugin_folders(root):
        try:
            registered = {identifier for _, identifier, _ in
                          parse_registrations(folder / "__init__.py")}
        except PluginIndexError:
            continue  # a folder the index cannot read registers nothing the job needs
        requirements = folder / "requirements.txt"
        if registered & wanted and requirements.is_file():
            lines += requirements.read_text(errors="replace").splitlines()
    return lines


def _append_log(submission: Submission, line: str) -> None:
    submission.log += f"{timezone.now():%H:%M:%S} {line.rstrip()}\n"
    Submission.objects.filter(pk=submission.pk).update(log=submission.log,
                                                       updated=timezone.now())


def run_streaming(
    submission: Submission,
    command: list[str],
    *,
    workdir: Path,
    plugin_roots: list[Path],
    readonly: Iterable[Path] = (),
    shown: Callable[[str], str] = lambda output: output,
) -> tuple[SandboxResult, str]:
    """Run ``command`` in the sandbox while its log is copied into the submission's log
    (the submitter's page shows it live); ``shown(output)`` is the part of the output the
    log gets. The result and the command's whole output."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "home").mkdir()
    store_dir = local_store_dir()
    env = sandbox_environment(workdir / "home", plugin_roots, store_dir)
    log_path = workdir.parent / f"{workdir.name}.log"
    readonly = [*plugin_roots, *readonly, *([store_dir] if store_dir else [])]
    outcome: dict[str, SandboxResult] = {}

    def target() -> None:
        outcome["result"] = run_sandboxed(command, workdir=workdir, limits=TEST_LIMITS,
                                          log_path=log_path, env=env, readonly_paths=readonly)

    base_log = submission.log
    thread = threading.Thread(target=target, name=f"submission-{submission.pk}-stage")
    thread.start()
    while thread.is_alive():
        thread.join(LOG_STREAM_SECONDS)
        output = shown(_read(log_path))
        if output:
            Submission.objects.filter(pk=submission.pk).update(log=base_log + output,
                                                               updated=timezone.now())
    output = _read(log_path)
    kept = shown(output)
    submission.log = base_log + kept + ("" if kept.endswith("\n") or not kept else "\n")
    submission.save(update_fields=["log", "updated"])
    return outcome["result"], output


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


# --- stage 2: merge -------------------------------------------------------------------------


def merge(submission: Submission) -> bool:
    """Commit the tested plugins into the plugin store; the submission is then ``merged``."""
    try:
        archive = unpack(submission)
        store = plugin_store()
        _check_folder_owners(submission, store, archive)
        user = submission.user
        commit = store.commit_submission(
            archive.root, submission_id=submission.pk,
            author_name=user.get_full_name() or user.get_username(),
            author_email=user.email or f"user-{user.pk}@brainmark.invalid",
            allow_replace=True,  # the folders' owners were checked just above
        )
    except (StageError, PluginStoreError, OSError) as error:
        fail(submission, f"merging into the plugin store failed: {error}")
        return False
    submission.plugin_commit = commit
    mark(submission, SubmissionStatus.MERGED, f"Merged into the plugin store as {commit[:12]}.")
    return True


def _check_folder_owners(submission: Submission, store: PluginStore,
                         archive: ValidatedArchive) -> None:
    """A plugin folder already in the store may be replaced only by whoever put it there."""
    last_submission: dict[str, int | None] = {}
    for commit in reversed(store.history()):  # oldest first: the last writer wins
        for path in commit.paths:
            last_submission[path] = commit.submission_id
    for plugin in archive.plugins:
        path = f"{plugin.plugin_type}/{plugin.folder.name}"
        if path not in last_submission:
            continue
        owner_id = (Submission.objects.filter(pk=last_submission[path])
                    .values_list("user_id", flat=True).first())
        if owner_id != submission.user_id:
            raise StageError(
                f"the plugin store already has a folder {path} that another user submitted; "
                f"rename your folder."
            )


# --- stage 3: sync and plan -----------------------------------------------------------------


def sync_and_plan(submission: Submission) -> bool:
    """Read the merged plugins' facts in the sandbox, write their rows, plan the jobs."""
    from brainmark.platform.leaderboard.sync import SyncError, validate_plugin_facts

    try:
        root = work_dir(submission) / "facts-plugins"
        shutil.rmtree(root, ignore_errors=True)
        _copy_visible(store_snapshot(submission.plugin_commit), root, submission)
        make_readable_by_others(root)
        identifiers = [f"--identifier={identifier}" for _, identifier in submission.identifiers]
        result, output = run_streaming(
            submission,
            [sys.executable, "-m", "brainmark.platform.leaderboard.plugin_facts", "--root",
             str(root), *identifiers],
            workdir=work_dir(submission) / "facts", plugin_roots=[root],
            shown=_without_facts,
        )
        facts = validate_plugin_facts(_facts_from(result, output))
    except (StageError, SyncError, PluginStoreError, OSError) as error:
        fail(submission, f"reading the merged plugins failed: {error}")
        return False
    wanted = {identifier for _, identifier in submission.identifiers}
    problems = [p for p in facts["problems"] if p.get("identifier") in wanted]
    if problems:
        fail(submission, "; ".join(f"{p['identifier']}: {p['error']}" for p in problems))
        return False
    facts = {**facts,
             "benchmarks": [b for b in facts["benchmarks"] if b["identifier"] in wanted],
             "models": [m for m in facts["models"] if m["identifier"] in wanted]}
    try:
        # The rows, the plan and the status in one transaction: a dispatcher that dies
        # half-way leaves none of them, and the stage runs again as the first time (rows
        # written alone would read as nothing new then, and no job would be planned).
        with transaction.atomic():
            new_models, new_benchmarks = _write_rows(submission, facts)
            planned = plan_jobs(submission, new_models, new_benchmarks)
            names = ", ".join([str(v) for v in new_models] + [str(v) for v in new_benchmarks])
            _record_status(submission, SubmissionStatus.SCORING,
                           f"On the leaderboard as {names or 'nothing new'}; {planned} scoring "
                           f"job(s) planned.")
    except StageError as error:
        fail(submission, str(error))
        return False
    _report_to_code_host(submission)
    finish_if_done(submission)
    return True


def _without_facts(output: str) -> str:
    """The facts child's output without its JSON line (what its plugins printed stays)."""
    return "".join(line for line in output.splitlines(keepends=True)
                   if not line.startswith(FACTS_LINE_START))


#: How the facts child's JSON line starts (``plugin_facts.main`` prints it last).
FACTS_LINE_START = '{"benchmarks": '


def _facts_from(result: SandboxResult, output: str) -> Any:
    if not result.ok:
        raise StageError(f"the plugins could not be read (exit status {result.exit_code}): "
                         f"{output.strip()[-2000:]}")
    # The facts are the last line: the child sends everything plugins print to stderr.
    lines = [line for line in output.splitlines() if line.startswith(FACTS_LINE_START)]
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as error:
        raise StageError(f"reading the plugins printed no facts ({error}).") from None


def _write_rows(submission: Submission, facts: dict[str, Any]
                ) -> tuple[list[ModelVersion], list[BenchmarkVersion]]:
    """Write the submission's rows (as sync does), owned by the submitter; the new model
    versions and benchmark versions."""
    from brainmark.platform.leaderboard.sync import write_plugin_facts

    for benchmark in facts["benchmarks"]:
        latest = (BenchmarkVersion.objects
                  .filter(benchmark_type__identifier=benchmark["identifier"])
                  .order_by("-version").first())
        if latest is not None and latest.version >= benchmark["version"]:
            raise StageError(
                f"{benchmark['identifier']} is already on the leaderboard at version "
                f"{latest.version}; a changed benchmark must raise its version (it says "
                f"{benchmark['version']})."
            )
    model_before = {m.pk: m.versions.count() for m in
                    Model.objects.filter(identifier__in=[m["identifier"]
                                                         for m in facts["models"]])}
    write_plugin_facts(facts)
    public = not submission.private
    new_models = []
    for entry in facts["models"]:
        model = Model.objects.get(identifier=entry["identifier"])
        if model.pk not in model_before:
            model.owner, model.public = submission.user, public
            model.save(update_fields=["owner", "public"])
        latest = model.versions.order_by("-version").first()
        if model_before.get(model.pk) != model.versions.count():
            latest.submission = submission
            latest.save(update_fields=["submission"])
            new_models.append(latest)
    new_benchmarks = []
    for entry in facts["benchmarks"]:
        benchmark_type = BenchmarkType.objects.get(identifier=entry["identifier"])
        if benchmark_type.owner_id is None:
            benchmark_type.owner = submission.user
            benchmark_type.save(update_fields=["owner"])
        version = benchmark_type.versions.get(version=entry["version"])
        version.public = public
        version.save(update_fields=["public"])
        new_benchmarks.append(version)
    return new_models, new_benchmarks


def plan_jobs(submission: Submission | None, model_versions: Iterable[ModelVersion],
              benchmark_versions: Iterable[BenchmarkVersion]) -> int:
    """Queue a job for every pair the new versions bring that has no score and no live job:
    each new model version on the latest version of every benchmark its owner may see, and
    every model's latest version on each new benchmark version. The number of jobs queued."""
    model_versions, benchmark_versions = list(model_versions), list(benchmark_versions)
    owner = submission.user if submission is not None else None
    pairs: list[tuple[ModelVersion, BenchmarkVersion]] = []
    for model_version in model_versions:
        pairs += [(model_version, b) for b in _latest_benchmark_versions(owner)]
    for benchmark_version in benchmark_versions:
        pairs += [(m, benchmark_version) for m in _latest_model_versions()]
    commit = submission.plugin_commit if submission is not None else ""
    if not commit:
        commit = plugin_store().head()
    queued, seen = 0, set()
    for model_version, benchmark_version in pairs:
        key = (model_version.pk, benchmark_version.pk)
        if key in seen:
            continue
        seen.add(key)
        scored = Score.objects.filter(model_version=model_version,
                                      benchmark_version=benchmark_version,
                                      ceiled__isnull=False).exists()
        live = Job.objects.filter(model_version=model_version,
                                  benchmark_version=benchmark_version,
                                  status__in=list(LIVE_JOB_STATUSES)).exists()
        if scored or live:
            continue
        try:
            with transaction.atomic():
                Job.objects.create(submission=submission, model_version=model_version,
                                   benchmark_version=benchmark_version, plugin_commit=commit)
        except IntegrityError:
            continue  # another dispatcher planned the same pair a moment ago
        queued += 1
    return queued


def _latest_benchmark_versions(owner: Any) -> list[BenchmarkVersion]:
    """The latest version of every benchmark ``owner`` may see (public, or their own)."""
    visible = Q(public=True) | Q(benchmark_type__owner=owner) if owner else Q(public=True)
    latest: dict[int, BenchmarkVersion] = {}
    for version in BenchmarkVersion.objects.filter(visible).order_by("version"):
        latest[version.benchmark_type_id] = version
    return list(latest.values())


def _latest_model_versions() -> list[ModelVersion]:
    """The latest version of every model, public and private (private scores stay
    private: the board shows them only to their owner), withdrawn ones left out."""
    latest: dict[int, ModelVersion] = {}
    for version in ModelVersion.objects.filter(model__withdrawn=False).order_by("version"):
        latest[version.model_id] = version
    return list(latest.values())


# --- stage 4: finish ------------------------------------------------------------------------


def finish_if_done(submission: Submission) -> bool:
    """End a ``scoring`` submission whose jobs are all final; True when it ended."""
    from brainmark.platform.submissions import notifications

    submission.refresh_from_db()
    if submission.status != SubmissionStatus.SCORING:
        return False
    jobs = submission.jobs.all()
    if jobs.filter(status__in=list(LIVE_JOB_STATUSES)).exists():
        return False
    scores = list(submission_scores(submission))
    succeeded = [s for s in scores if s.ceiled is not None]
    failed_jobs = jobs.exclude(status=JobStatus.SUCCEEDED).count()
    if jobs.exists() and not succeeded:
        fail(submission, f"none of its {jobs.count()} scoring job(s) gave a score; see the "
                         f"jobs below for why.")
        return True
    mark(submission, SubmissionStatus.SUCCEEDED,
         f"Scored: {len(succeeded)} score(s), {failed_jobs} pair(s) failed.")
    notifications.scoring_finished(submission, scores)
    _tell_model_owners(submission, scores)
    return True


def submission_scores(submission: Submission) -> Iterable[Score]:
    """The Score rows of the submission's jobs' pairs."""
    pairs = Q(pk__in=[])
    for model_version_id, benchmark_version_id in submission.jobs.values_list(
            "model_version_id", "benchmark_version_id"):
        pairs |= Q(model_version_id=model_version_id, benchmark_version_id=benchmark_version_id)
    return (Score.objects.filter(pairs)
            .select_related("model_version__model", "benchmark_version__benchmark_type")
            .order_by("benchmark_version__benchmark_type__identifier"))


def _tell_model_owners(submission: Submission, scores: list[Score]) -> None:
    """Owners of other models scored on the submission's new benchmark hear of it."""
    from brainmark.platform.submissions import notifications

    by_version: dict[int, list[Score]] = {}
    for score in scores:
        model = score.model_version.model
        if model.owner_id is not None and model.owner_id != submission.user_id:
            by_version.setdefault(score.model_version_id, []).append(score)
    for model_scores in by_version.values():
        model_version = model_scores[0].model_version
        notifications.model_rescored(model_version.model.owner, model_version, model_scores)


# --- one step -------------------------------------------------------------------------------

#: What a dispatcher does with a submission in each status: (status claimed, stage).
STAGES = {
    SubmissionStatus.VALIDATED: (SubmissionStatus.TESTING, run_tests),
    SubmissionStatus.TESTED: (SubmissionStatus.TESTED, merge),
    SubmissionStatus.MERGED: (SubmissionStatus.MERGED, sync_and_plan),
}


def next_stage(*, excluding: Collection[int] = (), merging: bool = True
               ) -> tuple[int, str] | None:
    """The next submission with a stage to run: (id, its status), or None. Those furthest
    along go first (merged, then tested, then validated), oldest first among equals, so a
    burst of submissions yields its first scores early instead of testing them all first.

    ``excluding``: submissions whose stage the caller runs already; ``merging=False`` skips
    the merge stage (one at a time: merges write the same plugin store)."""
    statuses = [status for status in STAGES if merging or status != SubmissionStatus.TESTED]
    nearest_to_scoring = Case(*(When(status=status, then=Value(rank)) for rank, status in
                                enumerate(reversed(list(STAGES)))), output_field=IntegerField())
    row = (Submission.objects.filter(status__in=statuses).exclude(pk__in=list(excluding))
           .order_by(nearest_to_scoring, "created", "pk").values_list("pk", "status").first())
    return tuple(row) if row else None  # type: ignore[return-value]


def advance(submission_id: int, status: str) -> None:
    """Run the stage of a submission found in ``status`` (if no one else took it)."""
    claimed, stage = STAGES[SubmissionStatus(status)]
    submission = (claim_stage(submission_id, status, claimed) if claimed != status
                  else Submission.objects.filter(pk=submission_id, status=status).first())
    if submission is None:
        return
    try:
        stage(submission)
    except (OperationalError, InterfaceError):
        raise  # the database went away: nothing to record now; the stage runs again
    except Exception as error:  # a bug of ours must not leave the submission in limbo
        logger.exception("Submission %s: stage %s failed", submission_id, status)
        fail(submission, f"an internal error stopped the {claimed} stage ({error!r}); the "
                         f"site's maintainers were told.")
    finally:
        if status == SubmissionStatus.MERGED or submission.status in Submission.FINAL_STATUSES:
            shutil.rmtree(work_dir(submission), ignore_errors=True)


def release_stage(submission_id: int, status: str) -> int:
    """Give back the stage a dispatcher claimed from ``status`` and could not finish (its
    database went away): a submission left ``testing`` is ``validated`` again. 1 if moved."""
    claimed, _ = STAGES[SubmissionStatus(status)]
    if claimed == status:
        return 0  # the stage keeps its status while it runs: it is found again as it is
    return Submission.objects.filter(pk=submission_id, status=claimed).update(
        status=status, updated=timezone.now())


def resume_interrupted() -> int:
    """Submissions left ``testing`` by a dispatcher that stopped go back to ``validated``
    (their tests run again). Call only when no other dispatcher runs tests."""
    return Submission.objects.filter(status=SubmissionStatus.TESTING).update(
        status=SubmissionStatus.VALIDATED, updated=timezone.now()
    )
