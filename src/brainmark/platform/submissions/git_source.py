"""Submissions from a git repository, and their result reported back as a commit status.

:func:`receive_git_submission` fetches one commit of a repository, zips its plugin folders
(:func:`archive_from_git`) and hands the zip to :func:`.intake.receive_submission`, the one
pipeline behind every door; the row records where it came from (``source="git"``, the URL,
the ref, the commit) and where its result goes (``commit_status_url``).

Fetching someone else's repository on the server is done defensively:

- **URLs.** Only ``scheme://`` addresses whose scheme is in the ``git_url_schemes`` setting
  (default ``https``; ``file`` lets a user read the server's own repositories, so only tests
  allow it). Credentials in the URL, control characters and ``<transport>::`` remote
  helpers are refused, and git itself is told the same allow-list (``GIT_ALLOW_PROTOCOL``),
  so a redirect or submodule cannot switch transport.
- **Refs.** A branch, a tag or a 40-hex commit; a ref starting with ``-`` (an option to
  git) or holding characters a ref may not hold is refused before git runs.
- **Git.** A fresh repository in a temporary folder; ``git fetch --depth 1`` of that one
  ref with a scrubbed environment (no user or system configuration, no credential prompt,
  no hooks), a wall clock and a cap on the bytes fetched (checked while it runs). Nothing
  is checked out: the plugin folders' files are read from the commit's tree (``ls-tree``,
  ``cat-file``), so no hook, filter or symbolic link of the repository ever acts on the
  server, and their sizes are known before a byte is written.
- **The zip** holds ``models/``, ``benchmarks/``, ``data/`` and ``metrics/`` at the
  repository's root, files in path order with fixed times and modes: the same commit always
  gives the same bytes (and SHA1). A link or a submodule inside a plugin folder is refused.

:func:`report_commit_status` posts the submission's state in the shape of GitHub's status
API (Gitea's is the same) to ``commit_status_url``; it never raises. The pipeline calls it at
each status change of a git submission.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from brainmark._plugin_index import PLUGIN_TYPES
from brainmark.pipeline.archive import ArchiveLimits
from brainmark.pipeline.plugin_store import clean_git_environment
from brainmark.platform.submissions.intake import (
    IntakeError,
    check_quota,
    receive_submission,
    work_root,
)
from brainmark.platform.submissions.models import Submission, SubmissionSource, SubmissionStatus
from brainmark.settings import get_settings

logger = logging.getLogger(__name__)

GIT_TIMEOUT_SECONDS = 120
STATUS_TIMEOUT_SECONDS = 5
STATUS_CONTEXT = "brainmark"
MAX_DESCRIPTION = 140
MAX_URL_LENGTH = 500  # Submission.source_url
MAX_REF_LENGTH = 250  # Submission.source_ref
_POLL_SECONDS = 0.2
_COMMIT = re.compile(r"[0-9a-f]{40}")
# What a ref may hold here: git's own rules are wider, but branch and tag names outside
# this set are rare, and each character left out is one less way to confuse git.
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+@-]*")
# The files of a zip: fixed time and mode, so the same tree gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE = 0o100644 << 16

# The commit state of each submission status (GitHub's status API: pending, success,
# failure, error).
_STATES = {
    SubmissionStatus.SUCCEEDED: "success",
    SubmissionStatus.FAILED: "failure",
    SubmissionStatus.REJECTED: "failure",
}


# --- checking what the submitter gave ------------------------------------------------------


def check_git_url(url: str) -> None:
    """Refuse (:class:`IntakeError`, 400) a URL git may not fetch here, saying why."""
    allowed = get_settings().git_url_schemes
    shown = f"The repository URL {url[:200]!r}"
    if not url or len(url) > MAX_URL_LENGTH:
        raise IntakeError(f"{shown} must be 1 to {MAX_URL_LENGTH} characters long.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise IntakeError(f"{shown} holds a space or a control character.")
    if "::" in url.split("/", 1)[0]:
        raise IntakeError(f"{shown} names a git remote helper ('<transport>::'); give a "
                          f"plain URL such as https://host/owner/repository.git.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not url.lower().startswith(f"{scheme}://") or not scheme:
        raise IntakeError(f"{shown} is not a URL: give it as scheme://host/path, such as "
                          f"https://host/owner/repository.git.")
    if scheme not in allowed:
        raise IntakeError(f"{shown} uses the scheme {scheme!r}; this site fetches over "
                          f"{', '.join(allowed) or 'nothing'} only (setting git_url_schemes).")
    if parts.username is not None or parts.password is not None:
        raise IntakeError("The repository URL holds credentials (user or token before '@'); "
                          "remove them: only public repositories can be submitted, and a "
                          "token in a URL is stored and shown.")
    if scheme != "file" and (not parts.hostname or parts.hostname.startswith("-")):
        raise IntakeError(f"{shown} names no host (or one starting with '-').")


def check_git_ref(ref: str) -> None:
    """Refuse a ref git could read as an option or that no branch, tag or commit can be."""
    shown = f"The ref {ref[:100]!r}"
    if not ref or len(ref) > MAX_REF_LENGTH:
        raise IntakeError(f"The ref must be 1 to {MAX_REF_LENGTH} characters long (a branch, "
                          f"a tag or a commit SHA).")
    if ref.startswith("-"):
        raise IntakeError(f"{shown} starts with '-', which git would read as an option.")
    if (not _REF.fullmatch(ref) or ".." in ref or "//" in ref or "@{" in ref
            or ref.endswith(("/", ".", ".lock"))):
        raise IntakeError(
            f"{shown} is not a branch, tag or commit name: use letters, digits and . _ / + @ "
            f"- only, starting with a letter or digit, without '..', '//' or a trailing '/', "
            f"'.' or '.lock'."
        )


# --- fetching and zipping ------------------------------------------------------------------


def archive_from_git(
    url: str,
    ref: str,
    destination_zip: str | os.PathLike[str],
    *,
    limits: ArchiveLimits | None = None,
) -> str:
    """Fetch ``ref`` of the repository at ``url``, zip its plugin folders; the commit SHA.

    ``ref`` is a branch, a tag (``main``, ``refs/heads/main``, ``v1``) or a full commit SHA.
    The fetch may take :data:`GIT_TIMEOUT_SECONDS` and ``limits.max_total_bytes`` on disk;
    the plugin folders' files must fit ``limits`` (count, each file, all together).
    Raises :class:`IntakeError`: 400 for a URL, ref or tree refused or a fetch that failed,
    413 over a limit, 502 when git is missing or did not finish in time.
    """
    limits = ArchiveLimits() if limits is None else limits
    check_git_url(url)
    check_git_ref(ref)
    git = shutil.which("git")
    if git is None:
        raise IntakeError("This site cannot fetch git repositories: the git command is not "
                          "installed on the server.", status=502)
    work_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root(), prefix="git-") as folder:
        repository = Path(folder) / "repository"
        runner = _Git(git, repository, allowed=get_settings().git_url_schemes)
        runner.run("init", "--quiet", "--bare", str(repository), inside=False)
        runner.fetch(url, ref, max_bytes=limits.max_total_bytes)
        try:
            commit = runner.run("rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}")
        except IntakeError:
            raise IntakeError(f"{ref!r} of {url} is no commit (a tree or a file?); give a "
                              f"branch, a tag or a commit.") from None
        commit = commit.strip()
        entries = _plugin_entries(runner, commit, url, limits)
        _write_zip(runner, entries, Path(destination_zip))
    return commit


class _Git:
    """git run in one repository with a scrubbed environment, a timeout and a byte cap."""

    def __init__(self, executable: str, repository: Path, *, allowed: tuple[str, ...]) -> None:
        self.executable = executable
        self.repository = repository
        self.environment = {
            **clean_git_environment(repository.parent),
            # Git enforces the allow-list on every transport it opens (redirects too).
            "GIT_ALLOW_PROTOCOL": ":".join(allowed),
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        }

    def command(self, *args: str, inside: bool = True) -> list[str]:
        where = ["-C", str(self.repository)] if inside else []
        return [self.executable, *where, "-c", "core.hooksPath=/dev/null",
                "-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=30", *args]

    def run(self, *args: str, inside: bool = True) -> str:
        """git's stdout; a failure or a timeout is an :class:`IntakeError` (502)."""
        try:
            done = subprocess.run(self.command(*args, inside=inside), env=self.environment,
                                  capture_output=True, timeout=GIT_TIMEOUT_SECONDS,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise IntakeError(f"git {args[0]} did not finish within {GIT_TIMEOUT_SECONDS} s.",
                              status=502) from None
        if done.returncode != 0:
            raise IntakeError(f"git {args[0]} failed: {_last_lines(done.stderr)}", status=502)
        return done.stdout.decode("utf-8", "surrogateescape")

    def fetch(self, url: str, ref: str, *, max_bytes: int) -> None:
        """``git fetch --depth 1 URL REF``, killed at the time limit or past ``max_bytes``."""
        process = subprocess.Popen(
            self.command("fetch", "--quiet", "--depth", "1", "--no-tags",
                         "--no-recurse-submodules", "--", url, ref),
            env=self.environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,  # git starts helpers; a kill takes the whole group.
        )
        deadline = time.monotonic() + GIT_TIMEOUT_SECONDS
        too_big = IntakeError(
            f"Fetching {ref!r} from {url} passed {max_bytes:,} bytes, the most a submission's "
            f"commit may take. Keep weights and data out of the repository: upload them as "
            f"data and load them by SHA1. Nothing was stored.", status=413)
        problem = None
        while problem is None:
            try:
                _, stderr = process.communicate(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    problem = IntakeError(
                        f"Fetching {ref!r} from {url} did not finish within "
                        f"{GIT_TIMEOUT_SECONDS} s. Nothing was stored.", status=502)
                elif _folder_bytes(self.repository) > max_bytes:
                    problem = too_big
        if problem is None and _folder_bytes(self.repository) > max_bytes:
            problem = too_big  # finished between two looks
        if problem is not None:
            _kill_group(process)
            raise problem
        if process.returncode != 0:
            raise IntakeError(
                f"Could not fetch {ref!r} from {url}: {_last_lines(stderr).rstrip('.')}. "
                f"Check that the "
                f"repository is public and that the branch, tag or commit exists.")


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # git renames its temporary files as it goes
                continue
    return total


def _last_lines(stderr: bytes, count: int = 3) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()
             if line.strip()]
    return " ".join(lines[-count:])[:500] or "(git said nothing)."


def _plugin_entries(runner: _Git, commit: str, url: str,
                    limits: ArchiveLimits) -> list[tuple[str, str, int]]:
    """(path, blob, size) of every file in the commit's plugin folders, checked: no link,
    no submodule, within ``limits``."""
    listing = runner.run("ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--",
                         *PLUGIN_TYPES)
    entries = []
    for record in filter(None, listing.split("\0")):
        meta, path = record.split("\t", 1)
        mode, kind, blob, size = meta.split()
        at = f"(commit {commit[:12]} of {url})"
        if mode == "120000":
            raise IntakeError(f"{path} is a symbolic link {at}; plugins hold files only.")
        if kind != "blob":
            raise IntakeError(f"{path} is a submodule {at}; submodules are not fetched, so "
                              f"put the plugin's files in the repository itself.")
        if int(size) > limits.max_file_bytes:
            raise IntakeError(f"{path} is {int(size):,} bytes {at}, over the limit of "
                              f"{limits.max_file_bytes:,} for one file. Upload data and "
                              f"weights as data and load them by SHA1.", status=413)
        entries.append((path, blob, int(size)))
    if not entries:
        raise IntakeError(
            f"Commit {commit[:12]} of {url} has none of the plugin folders "
            f"{', '.join(f'{kind}/' for kind in PLUGIN_TYPES)} at its root, so there is "
            f"nothing to submit.")
    if len(entries) > limits.max_files:
        raise IntakeError(f"Commit {commit[:12]} of {url} has {len(entries):,} files in its "
                          f"plugin folders, over the limit of {limits.max_files:,}.",
                          status=413)
    total = sum(size for _, _, size in entries)
    if total > limits.max_total_bytes:
        raise IntakeError(f"The plugin folders of commit {commit[:12]} of {url} hold "
                          f"{total:,} bytes, over the limit of {limits.max_total_bytes:,}.",
                          status=413)
    return sorted(entries)


def _write_zip(runner: _Git, entries: list[tuple[str, str, int]], destination: Path) -> None:
    """The files, streamed from git's objects (nothing checked out), into a zip whose bytes
    depend on the files alone."""
    listing = destination.with_name("blobs.txt")
    listing.write_text("".join(f"{blob}\n" for _, blob, _ in entries))
    with listing.open("rb") as stdin:
        process = subprocess.Popen(runner.command("cat-file", "--batch"), env=runner.environment,
                                   stdin=stdin, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
    try:
        with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, blob, size in entries:
                header = process.stdout.readline().decode().strip()
                if header != f"{blob} blob {size}":
                    raise IntakeError(f"git cat-file gave {header!r} for {path}.", status=502)
                info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
                info.external_attr = _ZIP_FILE_MODE
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as target:
                    left = size
                    while left:
                        chunk = process.stdout.read(min(left, 1 << 20))
                        if not chunk:
                            raise IntakeError(f"git cat-file stopped inside {path}.",
                                              status=502)
                        target.write(chunk)
                        left -= len(chunk)
                process.stdout.read(1)  # the newline after each object
    finally:
        process.stdout.close()
        process.kill()
        process.wait()


# --- the submission ------------------------------------------------------------------------


def receive_git_submission(
    user: Any,
    url: str,
    ref: str,
    *,
    private: bool = False,
    commit_status_url: str = "",
    commit: str | None = None,
    limits: ArchiveLimits | None = None,
) -> Submission:
    """Fetch a repository's plugin folders and submit them as ``user``; the submission.

    ``ref`` is recorded as the submission's ref; ``commit`` (a full SHA, e.g. the one a
    webhook names) is what is fetched when given, so the submission is exactly that commit
    even when the branch has moved on since. The zip then goes through
    :func:`.intake.receive_submission` (quota, storage, validation) and the result is
    reported to ``commit_status_url`` when set (:func:`report_commit_status`). Raises
    :class:`IntakeError` when nothing was stored (see :func:`archive_from_git` and
    :func:`.intake.receive_submission`).
    """
    check_git_url(url)
    check_git_ref(ref)
    if commit is not None and not _COMMIT.fullmatch(commit):
        raise IntakeError(f"The commit {commit[:60]!r} is not a full SHA (40 hex digits).")
    check_commit_status_url(commit_status_url)
    check_quota(user)  # Before the fetch: a refusal costs nothing.
    work_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root(), prefix="git-zip-") as folder:
        zip_path = Path(folder) / "submission.zip"
        fetched = archive_from_git(url, commit or ref, zip_path, limits=limits)
        if commit is not None and fetched != commit:
            raise IntakeError(f"Fetching {commit} from {url} gave commit {fetched}.", status=502)
        name = f"{_repository_name(url)}-{fetched[:12]}.zip"
        submission = receive_submission(
            user, zip_path, private=private, limits=limits, name=name,
            source_fields={
                "source": SubmissionSource.GIT, "source_url": url, "source_ref": ref,
                "source_commit": fetched, "commit_status_url": commit_status_url,
            },
        )
    report_commit_status(submission)
    return submission


def _repository_name(url: str) -> str:
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "repository"


def check_commit_status_url(address: str) -> None:
    """A commit status URL must be on the host of the ``commit_status_url`` setting, the one
    the platform's token is for: anywhere else would be a request forged on a user's say."""
    if not address:
        return
    template = get_settings().commit_status_url
    if not template:
        raise IntakeError("This site reports no commit statuses (no BRAINMARK_COMMIT_STATUS_URL "
                          "is set); leave commit_status_url out.")
    if len(address) > MAX_URL_LENGTH or not _same_origin(address, template):
        raise IntakeError(
            f"The commit_status_url {address[:200]!r} must be at most {MAX_URL_LENGTH} "
            f"characters on {_origin(template)}, where this site reports commit statuses."
        )


def _origin(address: str) -> str:
    parts = urlsplit(address)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def _same_origin(address: str, template: str) -> bool:
    parts = urlsplit(address)
    return (parts.scheme.lower() in ("https", "http") and parts.username is None
            and _origin(address) == _origin(template))


def commit_status_url_for(repository: str, sha: str) -> str:
    """The ``commit_status_url`` setting filled in for ``repository`` (owner/name) and
    ``sha``; empty when the setting is."""
    template = get_settings().commit_status_url
    if not template:
        return ""
    return template.format(repository=repository, sha=sha)


# --- reporting back ------------------------------------------------------------------------


def commit_state(status: str) -> str:
    """The commit status state (GitHub's: pending, success, failure) of a submission status:
    succeeded is success, failed and rejected are failure, every other one pending."""
    return _STATES.get(status, "pending")


def _description(submission: Submission) -> str:
    text = f"{submission.get_status_display()}."
    if submission.status == SubmissionStatus.REJECTED and submission.problems:
        first = submission.problems[0]
        text = (f"Rejected, {len(submission.problems)} problem(s): {first.get('file')}: "
                f"{first.get('message')}")
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 1] + "…"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the token must never follow it to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def report_commit_status(submission: Submission) -> None:
    """Post the submission's state to its ``commit_status_url`` (nothing when empty).

    The body is GitHub's status API's: ``state`` (:func:`commit_state`), ``description``
    (at most 140 characters), ``target_url`` (the submission's page) and ``context``
    ("brainmark"). The ``commit_status_token`` setting is sent as ``Authorization: Bearer``
    only to the host of the ``commit_status_url`` setting. Never raises for the network or
    the code host's answer: a failure is a warning in the server's log and a line in the
    submission's log.
    """
    address = submission.commit_status_url
    if not address:
        return
    settings = get_settings()
    body = {
        "state": commit_state(submission.status),
        "description": _description(submission),
        "target_url": f"{settings.site_url.rstrip('/')}/submissions/{submission.pk}/",
        "context": STATUS_CONTEXT,
    }
    headers = {"Content-Type": "application/json", "Accept": "application/vnd.github+json",
               "User-Agent": "brainmark"}
    if settings.commit_status_token and settings.commit_status_url and _same_origin(
            address, settings.commit_status_url):
        headers["Authorization"] = f"Bearer {settings.commit_status_token}"
    request = urllib.request.Request(address, data=json.dumps(body).encode(), headers=headers,
                                     method="POST")
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=STATUS_TIMEOUT_SECONDS) as answer:
            answer.read(1 << 16)
    except urllib.error.HTTPError as error:
        reason = f"the code host answered {error.code} {error.reason}"
    except (OSError, ValueError) as error:  # URLError, timeouts, refused connections
        reason = f"{type(error).__name__}: {error}"
    else:
        return
    logger.warning("Submission %s: reporting commit status %r to %s failed: %s",
                   submission.pk, body["state"], address, reason)
    line = f"Could not report the commit status {body['state']!r}: {reason}.\n"
    # Appended in the database, so a line another process wrote meanwhile is kept.
    Submission.objects.filter(pk=submission.pk).update(
        log=Concat(F("log"), Value(line)), updated=timezone.now())
    submission.log += line
