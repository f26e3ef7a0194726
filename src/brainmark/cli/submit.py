"""``brainmark submit PATH``: send a plugin folder (or a zip) to the platform, and follow it.

A client of the platform's JSON API over HTTP (the standard library's urllib), so it needs
no Django and runs wherever brainmark is installed. PATH is:

- a zip, sent as it is;
- a folder holding ``models/``, ``benchmarks/``, ``data/`` or ``metrics/`` (e.g. a plugin
  repository's root): those folders are zipped;
- one plugin folder (e.g. ``models/my_model``): zipped as ``<type>/<name>/...``, the type
  being its parent folder's name when that is a plugin type, else read from the
  registrations of its ``__init__.py`` with the registries' static parser (the plugin is
  never imported).

Bytecode (``__pycache__``, ``*.pyc``) and ``.git`` are left out. The token is the setting
``token`` (``BRAINMARK_TOKEN``), else the file :attr:`Settings.token_path`
(``$XDG_CONFIG_HOME/brainmark/token``, which must be readable by its owner only); it is
sent as ``Authorization: Bearer`` and never printed. The platform is the setting ``url``
(``BRAINMARK_URL``) or ``--url``.
"""

from __future__ import annotations

import contextlib
import json
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from brainmark.exceptions import BrainmarkError

SKIPPED_PARTS = frozenset({"__pycache__", ".git"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
HTTP_TIMEOUT_S = 120
FINAL_STATUSES = ("succeeded", "failed", "rejected", "cancelled")


class SubmitError(BrainmarkError):
    """The submission could not be made or followed (the message says why and what to do)."""


# --- the archive ----------------------------------------------------------------------------


def plugin_entries(path: Path) -> list[tuple[Path, str]]:
    """(file, name in the zip) for every file ``brainmark submit PATH`` sends of folder ``path``.

    Raises :class:`SubmitError` when ``path`` is neither a plugin folder nor a folder of
    plugin-type folders, or when a plugin folder's type cannot be told.
    """
    from brainmark._plugin_index import PLUGIN_TYPES

    path = path.absolute()
    types = [path / name for name in PLUGIN_TYPES if (path / name).is_dir()]
    if types:
        return [entry for folder in types for entry in _files(folder, path)]
    if (path / "__init__.py").is_file():
        plugin_type = _plugin_type(path)
        return list(_files(path, path.parent, prefix=f"{plugin_type}/"))
    raise SubmitError(
        f"{path} is neither a plugin folder (it has no __init__.py) nor a folder holding "
        f"{', '.join(name + '/' for name in PLUGIN_TYPES)}. Give the plugin folder (e.g. "
        f"models/my_model), the folder above models/, or a zip."
    )


def _plugin_type(folder: Path) -> str:
    """The plugin type of ``folder``: its parent's name, else what its registrations say."""
    from brainmark._plugin_index import (
        PLUGIN_TYPES,
        REGISTRY_PLUGIN_TYPES,
        parse_registrations,
    )

    if folder.parent.name in PLUGIN_TYPES:
        return folder.parent.name
    init = folder / "__init__.py"
    found = {REGISTRY_PLUGIN_TYPES[registry] for registry, _, _ in parse_registrations(init)
             if registry in REGISTRY_PLUGIN_TYPES}
    if len(found) != 1:
        said = (f"registers into {' and '.join(sorted(found))} registries" if found
                else "registers nothing")
        raise SubmitError(
            f"Cannot tell the plugin type of {folder}: its parent folder is not one of "
            f"{', '.join(PLUGIN_TYPES)} and its __init__.py {said}. Put it under models/ "
            f"(or benchmarks/, data/, metrics/) and submit that folder's parent."
        )
    return found.pop()


def _files(folder: Path, relative_to: Path, prefix: str = "") -> Iterator[tuple[Path, str]]:
    for item in sorted(folder.rglob("*")):
        parts = item.relative_to(relative_to).parts
        if SKIPPED_PARTS.intersection(parts) or item.name.endswith(SKIPPED_SUFFIXES):
            continue
        if item.is_symlink():
            raise SubmitError(
                f"{item} is a symbolic link; the platform accepts regular files only. Replace "
                f"it with the file it points to."
            )
        if item.is_file():
            yield item, prefix + "/".join(parts)


def build_archive(path: Path, destination: Path) -> Path:
    """The zip to send for ``path``: ``path`` itself when it is a zip, else a new zip of its
    plugin folders written to ``destination``."""
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise SubmitError(
                f"{path} is not a zip archive; give a plugin folder or a .zip of one."
            )
        return path
    entries = plugin_entries(path)
    if not entries:
        raise SubmitError(f"{path} holds no files to submit.")
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for file, name in entries:
            archive.write(file, name)
    return destination


# --- talking to the platform ----------------------------------------------------------------


def read_token() -> str:
    """The API token: the setting ``token``, else the private token file."""
    from brainmark.settings import get_settings

    settings = get_settings()
    if settings.token.strip():
        return settings.token.strip()
    path = settings.token_path
    if not path.is_file():
        raise SubmitError(
            f"No API token: set BRAINMARK_TOKEN, or write the token into {path} (readable "
            f"by you only: chmod 600 {path}). Create a token on your profile page "
            f"(/accounts/profile/) or with 'brainmark token create EMAIL'."
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SubmitError(
            f"The token file {path} can be read by others (mode {mode:04o}), so the token "
            f"may be known to them; it is not used. Run 'chmod 600 {path}' (and create a new "
            f"token if others could read it)."
        )
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise SubmitError(f"The token file {path} is empty; write your API token into it.")
    return token


class Platform:
    """The platform at ``base`` (e.g. ``https://brainmark.example.org``), as ``token``'s user."""

    def __init__(self, base: str, token: str) -> None:
        base = base.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise SubmitError(f"The platform's address must start with http:// or https://; "
                              f"got {base!r}.")
        self.base = base
        self._token = token

    def submit(self, archive: Path, name: str, *, private: bool) -> tuple[int, dict]:
        boundary = f"brainmark-{uuid.uuid4().hex}"
        body = b"".join([
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"private\"\r\n\r\n"
            f"{'true' if private else 'false'}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{_quoted(name)}\"\r\nContent-Type: application/zip\r\n\r\n".encode(),
            archive.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ])
        return self._request("POST", "/api/submissions/", body,
                             f"multipart/form-data; boundary={boundary}")

    def submission(self, submission_id: int) -> tuple[int, dict]:
        return self._request("GET", f"/api/submissions/{submission_id}")

    def page(self, submission_id: int) -> str:
        return f"{self.base}/submissions/{submission_id}/"

    def _request(self, method: str, path: str, body: bytes | None = None,
                 content_type: str | None = None) -> tuple[int, dict]:
        from brainmark._version import __version__

        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "User-Agent": f"brainmark/{__version__}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SubmitError(
                f"Cannot reach the platform at {self.base}: {reason}. Is it running, and is "
                f"the address right (--url, or BRAINMARK_URL)?"
            ) from None


def _quoted(name: str) -> str:
    return name.replace("\\", "_").replace('"', "_").replace("\r", "_").replace("\n", "_")


def _json(data: bytes) -> dict:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {"detail": data[:300].decode("utf-8", "replace").strip()}
    return value if isinstance(value, dict) else {"detail": str(value)}


def refused(status: int, answer: dict, platform: Platform) -> SubmitError:
    """The error for an answer other than the one expected, by its HTTP status."""
    detail = str(answer.get("detail") or "no reason given")
    if status == 401:
        return SubmitError(
            f"The platform at {platform.base} refused the API token (401: {detail}). Check "
            f"BRAINMARK_TOKEN or the token file; a revoked token must be replaced by a new "
            f"one (your profile page, or 'brainmark token create EMAIL')."
        )
    if status == 404:
        return SubmitError(f"The platform at {platform.base} answered 404: {detail}. Is "
                           f"this a brainmark platform, and the submission yours?")
    if status == 429:
        return SubmitError(detail)
    return SubmitError(f"The platform refused the submission ({status}): {detail}")


# --- the command ----------------------------------------------------------------------------


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--private", is_flag=True, help="Scores shown only to you and staff.")
@click.option("--wait", is_flag=True,
              help="Follow the submission until it ends, printing each stage and new log "
              "lines; exit 0 only when it succeeds.")
@click.option("--url", default=None, metavar="URL",
              help="The platform (default: the setting url, BRAINMARK_URL).")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=2.0,
              show_default=True, metavar="SECONDS", help="With --wait: seconds between polls.")
def submit(path: Path, private: bool, wait: bool, url: str | None,
           poll_interval: float) -> None:
    """Submit PATH (a plugin folder, a folder holding models/ benchmarks/ ..., or a zip).

    Prints the submission's page and status. A refused archive prints each problem (file:
    rule: message) and exits 1.
    """
    from brainmark.settings import get_settings

    platform = Platform(url or get_settings().url, read_token())
    with tempfile.TemporaryDirectory(prefix="brainmark-submit-") as scratch:
        name = path.name if path.is_file() else f"{path.absolute().name}.zip"
        archive = build_archive(path, Path(scratch) / name)
        status, answer = platform.submit(archive, name, private=private)
    if status != 201:
        raise refused(status, answer, platform)
    submission_id = int(answer["id"])
    click.echo(f"Submission #{submission_id}: {answer.get('status_display', answer['status'])}")
    click.echo(platform.page(submission_id))
    left = answer.get("submissions_left")
    if left is not None:
        click.echo(f"{left} submission(s) left today.")
    if answer["status"] == "rejected":
        _print_problems(answer.get("problems", []))
        sys.exit(1)
    if wait:
        sys.exit(follow(platform, submission_id, poll_interval))


def _print_problems(problems: list[dict]) -> None:
    click.echo(f"Refused with {len(problems)} problem(s); nothing was queued:", err=True)
    for problem in problems:
        click.echo(f"  {problem['file']}: {problem['rule']}: {problem['message']}", err=True)


def follow(platform: Platform, submission_id: int, interval: float) -> int:
    """Poll the submission until it ends, printing new stages and log lines; the exit code."""
    printed_stages: set[tuple[str, str]] = set()
    printed_lines: dict[str, int] = {}
    try:
        while True:
            status, detail = platform.submission(submission_id)
            if status != 200:
                raise refused(status, detail, platform)
            for stage in detail.get("stages", []):
                key = (stage["status"], stage["label"])
                if stage["reached"] and key not in printed_stages:
                    printed_stages.add(key)
                    click.echo(f"[{_when(stage.get('time'))}] {stage['label']}")
            _print_new_lines("", detail.get("log", ""), printed_lines)
            for job in detail.get("jobs", []):
                _print_new_lines(f"job #{job['id']}: ", job.get("log", ""), printed_lines)
            if detail["status"] in FINAL_STATUSES:
                return _ending(detail)
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo(f"\nStopped following; submission #{submission_id} goes on: "
                   f"{platform.page(submission_id)}", err=True)
        return 130


def _when(time_text: str | None) -> str:
    moment = datetime.now(UTC)
    if time_text:
        with contextlib.suppress(ValueError):  # not a time: the moment it was seen
            moment = datetime.fromisoformat(time_text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _print_new_lines(prefix: str, text: str, printed: dict[str, int]) -> None:
    lines = text.splitlines()
    for line in lines[printed.get(prefix, 0):]:
        click.echo(f"  {prefix}{line}")
    printed[prefix] = max(len(lines), printed.get(prefix, 0))


def _ending(detail: dict[str, Any]) -> int:
    if detail["status"] == "succeeded":
        click.echo(f"Succeeded: {len(detail.get('scores', []))} score(s).")
        for score in detail.get("scores", []):
            value = "no score" if score["ceiled"] is None else f"{score['ceiled']:.3f}"
            click.echo(f"  {score['model'] or 'a private model'} on {score['benchmark']}: "
                       f"{value}")
        return 0
    if detail["status"] == "rejected":
        _print_problems(detail.get("problems", []))
        return 1
    click.echo("Failed:", err=True)
    for reason in detail.get("failure_reasons", []) or ["no reason recorded"]:
        click.echo(f"  {reason}", err=True)
    return 1


COMMANDS = [submit]
