"""``brainmark reproduce SCORE_ID_OR_RECORD``: run a stored score again and compare.

The argument is a record file (what ``brainmark score --json`` prints, or a score's JSON
downloaded from the site) or the id of a score on the platform, whose record is fetched
from its API (``GET /api/scores/{id}``; the site is the setting ``url``, ``BRAINMARK_URL``,
or ``--url``; the API token, when there is one, is sent, so one's own private scores can be
fetched too). The plugins are those of the plugin roots in force; when a recorded plugin is
not there with its recorded content, the platform's plugin store (``--plugin-store``,
default the store under this home) is searched for a commit that holds every such plugin at
its recorded content (the job's own commit first, when the site names it), and that commit
is used as the plugin root, as the platform's jobs do. The library does the rest
(:mod:`brainmark.reproduce`).

stdout is ``identical``, or one line per difference; progress goes to stderr. Exit status 0
when identical, 1 when anything differs or the score cannot be run again.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from brainmark.exceptions import BrainmarkError

HTTP_TIMEOUT_S = 120


class ReproduceInputError(BrainmarkError):
    """The score to reproduce cannot be read: no such file, no such score, not a record."""


def _record_from(content: Any, where: str) -> Any:
    from brainmark.scoring import ScoreRecord

    if not isinstance(content, Mapping) or not content:
        raise ReproduceInputError(f"{where} holds no score record (a failed score has none).")
    try:
        return ScoreRecord.from_dict(content)
    except (TypeError, ValueError) as error:
        raise ReproduceInputError(f"{where} is not a score record: {error}") from None


def read_record_file(path: Path) -> Any:
    """The :class:`~brainmark.scoring.ScoreRecord` in a JSON file."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ReproduceInputError(f"Cannot read a score record from {path}: {error}") from None
    return _record_from(content, str(path))


def _optional_token() -> str | None:
    """The API token when one is set (the setting, or the token file); None otherwise."""
    from brainmark.cli.submit import read_token
    from brainmark.settings import get_settings

    settings = get_settings()
    if settings.token.strip() or settings.token_path.is_file():
        return read_token()
    return None


def fetch_score(base: str, score_id: int, token: str | None) -> dict[str, Any]:
    """``GET /api/scores/{id}`` of the platform at ``base``: the score with its record."""
    base = base.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ReproduceInputError(
            f"Score {score_id} is fetched from the platform, whose address (--url or "
            f"BRAINMARK_URL) must start with http:// or https://; got {base!r}."
        )
    from brainmark._version import __version__

    headers = {"Accept": "application/json", "User-Agent": f"brainmark/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{base}/api/scores/{score_id}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read()[:300].decode("utf-8", "replace")
        with_token = "" if token else " (no API token was sent: a private score needs one)"
        raise ReproduceInputError(
            f"The platform at {base} answered {error.code} for score {score_id}{with_token}: "
            f"{detail}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ReproduceInputError(
            f"Cannot fetch score {score_id} from the platform at {base}: "
            f"{getattr(error, 'reason', error)}. Is the address right (--url, BRAINMARK_URL)?"
        ) from None


def store_root(store_path: Path, plugins: Mapping[str, str], commit: str = "") -> Path | None:
    """A snapshot of the plugin store at ``store_path`` holding, at their recorded content,
    every plugin of ``plugins`` that the plugin roots in force do not: ``commit`` when it
    does, else the newest commit that does. None when no store or no such commit."""
    from brainmark.reproduce import match_plugins

    wanted = {match.name: match.recorded_sha1 for match in match_plugins(plugins)
              if not match.same}
    if not wanted or not (store_path / ".git").is_dir():
        return None
    from brainmark._provenance import plugin_content_sha1
    from brainmark.pipeline.plugin_store import PluginStore
    from brainmark.settings import get_settings

    store = PluginStore(store_path)
    candidates = [commit] if commit else []
    candidates += [entry.sha for entry in store.history()
                   if set(entry.paths) & set(wanted) and entry.sha != commit]
    snapshots = get_settings().plugin_store_dir.parent / "snapshots"
    for sha in candidates:
        root = store.snapshot(sha, snapshots)
        if all((root / name / "__init__.py").is_file()
               and plugin_content_sha1(root / name) == sha1 for name, sha1 in wanted.items()):
            click.echo(f"Plugins from the plugin store at commit {sha[:12]}.", err=True)
            return root
    return None


@click.command()
@click.argument("score")
@click.option("--url", default=None, metavar="URL",
              help="The platform a score id is fetched from (default: the setting url, "
              "BRAINMARK_URL).")
@click.option("--plugin-store", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The platform's plugin store (a git repository) to take recorded plugin "
              "versions from (default: the one under BRAINMARK_HOME, when there is one).")
def reproduce(score: str, url: str | None, plugin_store: Path | None) -> None:
    """Run SCORE again with no cache and print 'identical' or every difference.

    SCORE is a record file (brainmark score --json, or a score's JSON from the site) or
    the id of a score on the platform. Differences name the field: values (score, raw,
    ceiling, error, intervals) exactly, versions, plugin content hashes, data SHA1s,
    seeds and the layer commitment. Exit status 0 when identical, 1 otherwise.
    """
    from brainmark.reproduce import match_plugins, reproduce_record
    from brainmark.settings import check_home_writable, get_settings

    check_home_writable()
    settings = get_settings()
    path = Path(score)
    commit = ""
    if path.is_file() or not score.isdigit():
        record = read_record_file(path)
    else:
        answer = fetch_score(url or settings.url, int(score), _optional_token())
        record = _record_from(answer.get("record"), f"Score {score}")
        commit = str(answer.get("plugin_commit") or "")
    click.echo(f"Reproducing {record.model} on {record.benchmark} v{record.benchmark_version} "
               f"(recorded {record.created}, brainmark {record.brainmark_version}) ...",
               err=True)
    root = store_root(plugin_store or settings.plugin_store_dir, record.plugins, commit)
    roots = None if root is None else [root]
    for match in match_plugins(record.plugins, roots):
        click.echo(f"  {match.describe()}", err=True)
    result = reproduce_record(record, roots=roots)
    differences = [d for d in result.differences if d.kind != "unlisted"]
    for note in result.differences:
        if note.kind == "unlisted":
            click.echo(f"  note: {note.describe()} (a part taken from a cache is not looked "
                       f"up, so its plugin is not listed)", err=True)
    if not differences:
        click.echo("identical")
        return
    click.echo(f"{len(differences)} difference(s):")
    for difference in differences:
        click.echo(f"  {difference.describe()}")
    sys.exit(1)


COMMANDS = [reproduce]
