"""The plugin store: a git repository of accepted plugins, one commit per submission.

The store (``Settings.plugin_store_dir``, ``<home>/platform/plugins``) has the layout of a
plugin root, ``<type>/<folder>/``, so once it is on the plugin path
(``BRAINMARK_PLUGIN_PATH`` or the ``plugin_path`` setting) the registries find what was
merged without a restart. Git gives what the platform owes its users: who brought each
plugin (the commit's author is the submitter), when, and a revert that is itself a commit,
so deleting a submission never loses the history of what was scored.

Git runs as a command (never through a shell) with a scrubbed environment: the caller's
``GIT_*`` variables, its user and system git configuration and any credential helper are
not seen, so a developer's hooks, signing keys or ``GIT_DIR`` cannot change what is
committed. Every write holds an exclusive ``fcntl`` lock on ``<store>/.lock``, so two
dispatchers commit one after the other; a write interrupted half-way (a crash) is undone
the next time the lock is taken (``git reset --hard``), since the submission's archive is
kept in the object store and can be merged again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from brainmark._plugin_index import PLUGIN_TYPES
from brainmark.exceptions import BrainmarkError

# The platform commits as itself; the author of a submission's commit is the submitter.
COMMITTER_NAME = "brainmark platform"
COMMITTER_EMAIL = "platform@brainmark.invalid"
SUBMISSION_TRAILER = "Submission-Id"
REVERT_TRAILER = "Reverts-Submission"
LOCK_FILE = ".lock"
# Never committed: the lock, the staging folder, and the byte code Python writes beside a
# plugin when the registries import it from the store.
_EXCLUDES = (f"/{LOCK_FILE}", "/.staging/", "__pycache__/", "*.pyc")
_GIT_TIMEOUT_SECONDS = 120
_FIELD = "\x1f"
_RECORD = "\x1e"


class PluginStoreError(BrainmarkError):
    """The plugin store refused a change or git failed; the message says what and where."""


@dataclasses.dataclass(frozen=True)
class StoreCommit:
    """One commit of the store, newest first in :meth:`PluginStore.history`."""

    sha: str
    author_name: str
    author_email: str
    date: datetime
    subject: str
    message: str
    submission_id: int | None  # the submission it merged, if any
    reverts_submission: int | None  # the submission it reverted, if any
    paths: tuple[str, ...]  # the plugin folders it changed, '<type>/<folder>'


PluginFolders = Path | Mapping[str, Path | Iterable[Path]]


class PluginStore:
    """A git repository of plugin folders under ``path`` (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).absolute()
        git = shutil.which("git")
        if git is None:
            raise PluginStoreError(
                f"The plugin store at {self.path} needs the git command, which is not "
                "installed (on Debian: apt-get install git)."
            )
        self._git_executable = git

    def __repr__(self) -> str:
        return f"PluginStore({str(self.path)!r})"

    # --- setting up -------------------------------------------------------------------------

    def init(self) -> None:
        """Create the repository with a first, empty commit; harmless when it exists."""
        self.path.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if (self.path / ".git").exists():
                self._write_excludes()
                with contextlib.suppress(PluginStoreError):
                    self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
                    return
                self._first_commit()  # an init interrupted before its first commit
                return
            unexpected = [p.name for p in self.path.iterdir() if p.name != LOCK_FILE]
            if unexpected:
                raise PluginStoreError(
                    f"The plugin store folder {self.path} holds files but is not a git "
                    f"repository ({', '.join(sorted(unexpected)[:5])}); move them away or "
                    "restore the store from a backup that includes its .git folder."
                )
            self._git("init", "--quiet", "--initial-branch=main")
            self._write_excludes()
            self._first_commit()

    def _first_commit(self) -> None:
        self._git(
            "commit", "--quiet", "--allow-empty", "-m", "Plugin store created",
            env=_identity(COMMITTER_NAME, COMMITTER_EMAIL),
        )  # fmt: skip

    # --- writing ----------------------------------------------------------------------------

    def commit_submission(
        self,
        plugins: PluginFolders,
        *,
        submission_id: int,
        author_name: str,
        author_email: str,
        allow_replace: bool = False,
    ) -> str:
        """Copy a submission's plugin folders into the store and commit them; the commit's sha.

        ``plugins`` is a validated archive root (its ``<type>/<folder>/`` plugin folders are
        taken) or a mapping of plugin type to one folder or several. A folder already in the
        store is replaced only with ``allow_replace`` (the platform has checked that the
        submitter owns it); otherwise nothing is changed and the error names the folder.
        Merging a submission again returns its commit without a new one (a retried merge step),
        unless it was reverted since.
        """
        if isinstance(submission_id, bool) or not isinstance(submission_id, int):
            raise PluginStoreError(f"submission_id must be an int; got {submission_id!r}.")
        _check_identity(author_name, author_email, f"Submission {submission_id}")
        folders = _plugin_folders(plugins, submission_id)
        with self._locked():
            self._require_repository()
            self._restore_last_commit()
            merged = self._merged_commit(submission_id)
            if merged is not None:
                return merged  # merged already (a retried merge step): one commit per submission
            existing = [
                f"{kind}/{folder.name}"
                for kind, folder in folders
                if (self.path / kind / folder.name).exists()
            ]
            if existing and not allow_replace:
                raise PluginStoreError(
                    f"Submission {submission_id}: the plugin store already has "
                    f"{', '.join(existing)}; replacing it needs allow_replace=True (given "
                    "only when the submitter owns the plugin). Nothing was committed."
                )
            paths = [f"{kind}/{folder.name}" for kind, folder in folders]
            self._copy_in(folders)
            self._git("add", "--all", "--", *paths)
            message = (
                f"Submission {submission_id}\n\n"
                + "".join(f"- {p}\n" for p in paths)
                + f"\n{SUBMISSION_TRAILER}: {submission_id}\n"
            )
            self._git(
                "commit", "--quiet", "--allow-empty", "--no-verify", "-m", message,
                env={
                    **_identity(COMMITTER_NAME, COMMITTER_EMAIL),
                    "GIT_AUTHOR_NAME": author_name,
                    "GIT_AUTHOR_EMAIL": author_email,
                },
            )  # fmt: skip
            return self._git("rev-parse", "HEAD").strip()

    def revert_submission(self, submission_id: int, *, by: str, by_email: str = "") -> str:
        """Undo a submission's commit with a new commit authored by ``by``; its sha.

        Refused, with nothing changed, when the submission was never merged, was reverted
        already, or a later submission changed the same files (revert that one first).
        """
        _check_identity(by, by_email or COMMITTER_EMAIL, f"Reverting submission {submission_id}")
        with self._locked():
            self._require_repository()
            self._restore_last_commit()
            history = self._history()
            # The newest commit about this submission decides: a merge is reverted, a revert
            # means there is nothing left to revert.
            latest = next(
                (c for c in history if submission_id in (c.submission_id, c.reverts_submission)),
                None,
            )
            if latest is None:
                raise PluginStoreError(
                    f"Submission {submission_id} has no commit in the plugin store "
                    f"{self.path}; nothing to revert."
                )
            if latest.reverts_submission == submission_id:
                raise PluginStoreError(
                    f"Submission {submission_id} was already reverted by commit "
                    f"{latest.sha[:12]} ({latest.author_name})."
                )
            target = latest
            try:
                self._git("revert", "--no-commit", target.sha)
            except PluginStoreError as error:
                with contextlib.suppress(PluginStoreError):
                    self._git("revert", "--abort")
                self._restore_last_commit()
                later = [
                    c.subject
                    for c in history[: history.index(target)]
                    if set(c.paths) & set(target.paths)
                ]
                raise PluginStoreError(
                    f"Submission {submission_id} cannot be reverted: later commits changed "
                    f"the same plugin folders ({'; '.join(later) or 'unknown'}). Revert them "
                    f"first. Git said: {error}"
                ) from error
            message = (
                f"Revert submission {submission_id}\n\n"
                f"Reverted by {by}; this undoes commit {target.sha}.\n"
                + "".join(f"- {p}\n" for p in target.paths)
                + f"\n{REVERT_TRAILER}: {submission_id}\n"
            )
            self._git(
                "commit", "--quiet", "--allow-empty", "--no-verify", "-m", message,
                env={
                    **_identity(COMMITTER_NAME, COMMITTER_EMAIL),
                    "GIT_AUTHOR_NAME": by,
                    "GIT_AUTHOR_EMAIL": by_email or COMMITTER_EMAIL,
                },
            )  # fmt: skip
            return self._git("rev-parse", "HEAD").strip()

    def _merged_commit(self, submission_id: int) -> str | None:
        """The sha of the submission's commit, unless there is none or it was reverted since."""
        for commit in self._history():  # newest first
            if commit.reverts_submission == submission_id:
                return None
            if commit.submission_id == submission_id:
                return commit.sha
        return None

    # --- reading ----------------------------------------------------------------------------

    def head(self) -> str:
        """The sha of the store's latest commit."""
        self._require_repository()
        return self._git("rev-parse", "--verify", "HEAD^{commit}").strip()

    def snapshot(self, commit: str, root: Path | str) -> Path:
        """The store's tree at ``commit`` as a plain folder ``<root>/<commit>`` (a plugin root
        that later merges never change, so a job scores exactly the plugins of its commit).

        Written once: exported into a temporary folder and renamed into place when complete,
        so a half-written snapshot is never used. Files are read-only.
        """
        if not re.fullmatch(r"[0-9a-f]{40}", commit):
            raise PluginStoreError(f"A snapshot needs a full commit sha; got {commit!r}.")
        target = Path(root) / commit
        if target.is_dir():
            return target
        self._require_repository()
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{commit}."))
        try:
            (staging / "tree").mkdir()
            if self._git("ls-tree", commit).strip():  # git archive of an empty tree is no tar
                archive = staging / "tree.tar"
                self._git("archive", "--format=tar", f"--output={archive}", commit)
                with tarfile.open(archive) as tar:
                    tar.extractall(staging / "tree", filter="data")
                archive.unlink()
            for path in (staging / "tree").rglob("*"):
                if path.is_file():
                    path.chmod(0o444)
            try:
                (staging / "tree").rename(target)
            except OSError:
                if not target.is_dir():  # another process did not win the race: a real error
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def history(self) -> list[StoreCommit]:
        """Every commit of the store, newest first."""
        self._require_repository()
        return self._history()

    def _history(self) -> list[StoreCommit]:
        fields = ["%H", "%an", "%ae", "%aI", "%s", "%B"]
        output = self._git("log", "--name-only", f"--format={_RECORD}{_FIELD.join(fields)}{_FIELD}")
        commits = []
        for record in output.split(_RECORD)[1:]:
            sha, name, email, date, subject, body, files = record.split(_FIELD)
            paths = sorted({"/".join(f.split("/")[:2]) for f in files.split("\n") if f.strip()})
            commits.append(
                StoreCommit(
                    sha=sha,
                    author_name=name,
                    author_email=email,
                    date=datetime.fromisoformat(date),
                    subject=subject,
                    message=body.strip(),
                    submission_id=_trailer(body, SUBMISSION_TRAILER),
                    reverts_submission=_trailer(body, REVERT_TRAILER),
                    paths=tuple(paths),
                )
            )
        return commits

    # --- internals --------------------------------------------------------------------------

    def _git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run git in the store with a scrubbed environment; its stdout, or a clear error."""
        command = [self._git_executable, "-C", str(self.path), *args]
        try:
            done = subprocess.run(
                command,
                env={**clean_git_environment(self.path), **(env or {})},
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise PluginStoreError(
                f"git {' '.join(args[:2])} in the plugin store {self.path} did not finish "
                f"within {_GIT_TIMEOUT_SECONDS} s."
            ) from error
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip()
            raise PluginStoreError(
                f"git {args[0]} failed in the plugin store {self.path} (exit code "
                f"{done.returncode}): {detail}"
            )
        return done.stdout

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's exclusive lock (across threads and processes)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _require_repository(self) -> None:
        if not (self.path / ".git").is_dir():
            raise PluginStoreError(
                f"{self.path} is not a plugin store yet; call PluginStore.init() first "
                "(the platform does so at start-up)."
            )

    def _write_excludes(self) -> None:
        exclude = self.path / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text("".join(f"{pattern}\n" for pattern in _EXCLUDES))

    def _restore_last_commit(self) -> None:
        """Undo what an interrupted write left behind: the tree equals the last commit."""
        if self._git("status", "--porcelain", "--untracked-files=all").strip():
            self._git("reset", "--quiet", "--hard", "HEAD")
            self._git("clean", "--quiet", "-d", "--force")
        shutil.rmtree(self.path / ".staging", ignore_errors=True)

    def _copy_in(self, folders: list[tuple[str, Path]]) -> None:
        """Copy each folder in via a staging folder and a rename, so a reader of the store
        sees the old plugin or the new one, never half of it."""
        staging = self.path / ".staging"
        staging.mkdir(exist_ok=True)
        try:
            for kind, source in folders:
                staged = Path(tempfile.mkdtemp(dir=staging)) / source.name
                shutil.copytree(
                    source, staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
                target = self.path / kind / source.name
                target.parent.mkdir(exist_ok=True)
                if target.exists():
                    old = Path(tempfile.mkdtemp(dir=staging)) / "old"
                    target.rename(old)
                staged.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _plugin_folders(plugins: PluginFolders, submission_id: int) -> list[tuple[str, Path]]:
    """(type, folder) of every plugin folder a submission brings, checked."""
    pairs: list[tuple[str, Path]] = []
    if isinstance(plugins, str | os.PathLike):
        root = Path(plugins)
        if not root.is_dir():
            raise PluginStoreError(f"Submission {submission_id}: {root} is not a folder.")
        for kind in PLUGIN_TYPES:
            if (root / kind).is_dir():
                pairs.extend((kind, folder) for folder in sorted((root / kind).iterdir()))
    else:
        for kind, given in plugins.items():
            many = [given] if isinstance(given, str | os.PathLike) else list(given)
            pairs.extend((kind, Path(folder)) for folder in many)
    if not pairs:
        raise PluginStoreError(f"Submission {submission_id} brings no plugin folder to commit.")
    seen: set[tuple[str, str]] = set()
    for kind, folder in pairs:
        where = f"Submission {submission_id}: {kind}/{folder.name} ({folder})"
        if kind not in PLUGIN_TYPES:
            raise PluginStoreError(
                f"Submission {submission_id}: {kind!r} is not a plugin type; use one of "
                f"{', '.join(PLUGIN_TYPES)}."
            )
        if folder.is_symlink() or not folder.is_dir():
            raise PluginStoreError(f"{where} is not a folder.")
        if folder.name.startswith((".", "_")):
            raise PluginStoreError(f"{where}: a plugin folder's name starts with a letter.")
        if not (folder / "__init__.py").is_file():
            raise PluginStoreError(f"{where} has no __init__.py, so it is not a plugin.")
        links = [p for p in folder.rglob("*") if p.is_symlink()]
        if links:
            raise PluginStoreError(f"{where} holds a link, {links[0]}; plugins hold files only.")
        if (kind, folder.name) in seen:
            raise PluginStoreError(f"{where} is given twice.")
        seen.add((kind, folder.name))
    return pairs


def clean_git_environment(home: Path) -> dict[str, str]:
    """The whole environment git sees: none of the caller's GIT_* variables or config."""
    return {
        "PATH": os.defpath,
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }


def _check_identity(name: str, email: str, what: str) -> None:
    """A name and e-mail address git keeps as given (no control characters, no '<>')."""
    bad = any(ord(c) < 32 or c in "<>" for c in name + email)
    if bad or not name.strip() or "@" not in email:
        raise PluginStoreError(
            f"{what}: a commit needs a name and an e-mail address without control characters "
            f"or '<>'; got {name!r} <{email!r}>."
        )


def _identity(name: str, email: str) -> dict[str, str]:
    """Author and committer, both ``name <email>`` (a submission overrides the author)."""
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _trailer(message: str, key: str) -> int | None:
    found = re.search(rf"^{re.escape(key)}: (\d+)\s*$", message, re.MULTILINE)
    return int(found.group(1)) if found else None
