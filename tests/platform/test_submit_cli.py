"""``brainmark submit``: a scaffolded plugin folder sent to a real ``brainmark serve``.

One server for the module, on a migrated SQLite home with a user and an API token made by
the accounts' services. Each test runs ``brainmark submit`` as a user would, in a fresh
process; what the server stored is read back from its SQLite file, and a submission is
driven to its end (as the dispatcher would) by writing its row there while the command
follows it.
"""

from __future__ import annotations

import itertools
import json
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from tests.platform.live_site import BRAINMARK, clean_environment, free_port, run, serving

# Its server runs on a SQLite home of its own: no `db` marker, so .ci/run does not repeat it.
pytestmark = pytest.mark.slow

EMAIL = "grace.hopper@example.org"
PASSWORD = "Cobol-nanosecond-1906!wire"
METADATA = {"architecture": "CNN", "parameters": 1234, "training_data": "ImageNet",
            "license": "MIT", "reference": "https://example.org/paper"}
_names = itertools.count()


@dataclass
class Site:
    address: str
    home: Path
    env: dict[str, str]
    token: str

    def rows(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(self.home / "platform" / "brainmark.sqlite3", timeout=30) as db:
            return db.execute(sql, args).fetchall()

    def write(self, sql: str, *args: object) -> None:
        with sqlite3.connect(self.home / "platform" / "brainmark.sqlite3", timeout=30) as db:
            db.execute(sql, args)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, read_server_address) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("submit_home")
    env = clean_environment(home)
    run([str(BRAINMARK), "migrate"], env)
    make_user = (
        "import django; django.setup()\n"
        "from brainmark.platform.accounts.services import create_api_token, create_user\n"
        f"create_user({EMAIL!r}, {PASSWORD!r}, {PASSWORD!r})\n"
        f"print(create_api_token({EMAIL!r}, 'submit test')[1])\n"
    )
    token = run([sys.executable, "-c", make_user],
                {**env, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}).split()[-1]
    with serving(env, home, read_server_address) as address:
        yield Site(address=address, home=home, env=env, token=token)


def client_env(site: Site, **extra: str) -> dict[str, str]:
    """The submitter's environment: the server's address and token, a config folder of its
    own (so no token file of the machine's user is read)."""
    return {**site.env, "BRAINMARK_URL": site.address, "BRAINMARK_TOKEN": site.token,
            "XDG_CONFIG_HOME": str(site.home / "no-config"), **extra}


def plugin_folder(tmp_path: Path, *, metadata: bool = True) -> Path:
    """A model plugin folder as ``brainmark new model`` writes it, with its metadata.yml."""
    from brainmark._scaffold import new_model

    scaffold = new_model(f"submit-cli-net-{next(_names)}", tmp_path / "plugins")
    if metadata:
        (scaffold.folder / "metadata.yml").write_text(yaml.safe_dump(METADATA))
    pycache = scaffold.folder / "__pycache__"
    pycache.mkdir(exist_ok=True)
    (pycache / "model.cpython-311.pyc").write_bytes(b"not sent")
    return scaffold.folder


def submit(site: Site, *args: str, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess:
    return subprocess.run([str(BRAINMARK), "submit", *args],
                          env=client_env(site) if env is None else env,
                          capture_output=True, text=True, timeout=120)


def submission_id(stdout: str) -> int:
    first = stdout.splitlines()[0]
    assert first.startswith("Submission #"), stdout
    return int(first.split("#")[1].split(":")[0])


# --- packing (no server) --------------------------------------------------------------------


def test_a_plugin_folder_is_zipped_under_its_type_without_bytecode(tmp_path):
    from brainmark.cli.submit import build_archive

    folder = plugin_folder(tmp_path)
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "stray.pyc").write_bytes(b"x")
    expected = sorted(
        f"models/{folder.name}/{path.relative_to(folder).as_posix()}"
        for path in folder.rglob("*")
        if path.is_file() and not {"__pycache__", ".git"} & set(path.relative_to(folder).parts)
        and path.suffix != ".pyc"
    )

    archive = build_archive(folder, tmp_path / "out.zip")
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == expected
        assert opened.read(f"models/{folder.name}/__init__.py") == (
            folder / "__init__.py").read_bytes()
    # The folder above models/ gives the same entries.
    again = build_archive(folder.parents[1], tmp_path / "root.zip")
    with zipfile.ZipFile(again) as opened:
        assert sorted(opened.namelist()) == expected


def test_the_type_of_a_folder_outside_a_type_folder_comes_from_its_registrations(tmp_path):
    from brainmark.cli.submit import SubmitError, build_archive

    folder = plugin_folder(tmp_path)
    moved = folder.rename(tmp_path / "checkout")
    archive = build_archive(moved, tmp_path / "out.zip")
    with zipfile.ZipFile(archive) as opened:
        assert "models/checkout/__init__.py" in opened.namelist()

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "__init__.py").write_text("x = 1\n")
    with pytest.raises(SubmitError, match="registers nothing"):
        build_archive(tmp_path / "empty", tmp_path / "empty.zip")
    (tmp_path / "notes.txt").write_text("not a zip")
    with pytest.raises(SubmitError, match="not a zip archive"):
        build_archive(tmp_path / "notes.txt", tmp_path / "x.zip")


# --- against the server ---------------------------------------------------------------------


def test_a_valid_folder_is_stored_validated_and_its_page_printed(site, tmp_path):
    folder = plugin_folder(tmp_path)

    result = submit(site, str(folder), "--private")

    assert result.returncode == 0, result.stderr
    pk = submission_id(result.stdout)
    counted = site.rows("select count(*) from submissions_submission where status != ?",
                        "rejected")[0][0]
    assert result.stdout.splitlines() == [
        f"Submission #{pk}: Archive validated",
        f"{site.address}/submissions/{pk}/",
        f"{5 - counted} submission(s) left today.",  # the default quota: 5 a day
    ]
    assert site.rows("select status, kind, private from submissions_submission where id = ?",
                     pk) == [("validated", "model", 1)]
    assert site.token not in result.stdout + result.stderr


def test_an_invalid_folder_prints_each_problem_and_exits_1(site, tmp_path):
    folder = plugin_folder(tmp_path, metadata=False)

    result = submit(site, str(folder))

    assert result.returncode == 1
    pk = submission_id(result.stdout)
    assert result.stdout.splitlines()[0] == f"Submission #{pk}: Rejected"
    assert (f"models/{folder.name}/metadata.yml: plugin layout: every plugin folder needs "
            f"metadata.yml; it is missing.") in result.stderr
    assert "Traceback" not in result.stderr
    assert site.rows("select status from submissions_submission where id = ?", pk) == [
        ("rejected",)]


def test_a_bad_token_or_no_server_is_a_clear_message(site, tmp_path):
    folder = plugin_folder(tmp_path)

    bad = submit(site, str(folder), env=client_env(site, BRAINMARK_TOKEN="bm_not-a-token"))
    assert bad.returncode == 1
    assert "refused the API token (401" in bad.stderr and "Traceback" not in bad.stderr

    closed = f"http://127.0.0.1:{free_port()}"
    away = submit(site, str(folder), "--url", closed)
    assert away.returncode == 1
    assert f"Cannot reach the platform at {closed}" in away.stderr
    assert "Traceback" not in away.stderr


def test_the_token_file_must_be_private(site, tmp_path):
    folder = plugin_folder(tmp_path)
    config = tmp_path / "config"
    (config / "brainmark").mkdir(parents=True)
    token_file = config / "brainmark" / "token"
    token_file.write_text(site.token + "\n")
    env = {**client_env(site, XDG_CONFIG_HOME=str(config))}
    del env["BRAINMARK_TOKEN"]

    token_file.chmod(0o644)
    shared = submit(site, str(folder), env=env)
    assert shared.returncode == 1
    assert f"The token file {token_file} can be read by others (mode 0644)" in shared.stderr

    token_file.chmod(0o600)
    private = submit(site, str(folder), env=env)
    assert private.returncode == 0, private.stderr


class Follower:
    """``brainmark submit --wait`` running, its stdout read line by line in a thread."""

    def __init__(self, site: Site, folder: Path) -> None:
        self.process = subprocess.Popen(
            [str(BRAINMARK), "submit", str(folder), "--wait", "--poll-interval", "0.2"],
            env=client_env(site), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        self.process.kill()
        raise AssertionError(f"no line with {text!r}; printed:\n" + "\n".join(self.seen))

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=60)
        return code, self.process.stderr.read()


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def test_wait_prints_each_stage_and_log_line_and_exits_0_on_success(site, tmp_path):
    follower = Follower(site, plugin_folder(tmp_path))
    pk = int(follower.wait_for("Submission #").split("#")[1].split(":")[0])
    follower.wait_for("Received")  # the first stage, with the submission's creation time

    tested = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    site.write("update submissions_submission set status = 'tested', stages = ?, "
               "log = log || ? where id = ?",
               json.dumps({"tested": _iso(tested)}), "plugin tests passed\n", pk)
    assert follower.wait_for("Plugin tests passed") == \
        "[2030-01-02 03:04:05 UTC] Plugin tests passed"
    follower.wait_for("plugin tests passed")  # the new log line

    site.write("update submissions_submission set status = 'succeeded', stages = ? "
               "where id = ?", json.dumps({"tested": _iso(tested),
                                           "succeeded": _iso(tested)}), pk)
    follower.wait_for("Succeeded: 0 score(s).")
    code, stderr = follower.finish()
    assert code == 0, stderr


def test_wait_exits_1_with_the_reason_when_it_fails(site, tmp_path):
    follower = Follower(site, plugin_folder(tmp_path))
    pk = int(follower.wait_for("Submission #").split("#")[1].split(":")[0])
    follower.wait_for("Received")

    site.write("update submissions_submission set status = 'failed', "
               "log = log || ? where id = ?",
               "test.py failed: AssertionError: expected 0.5\n", pk)
    code, stderr = follower.finish()
    assert code == 1
    assert "Failed:" in stderr and "test.py failed: AssertionError: expected 0.5" in stderr
    assert "Traceback" not in stderr



def test_over_the_daily_quota_the_refusal_says_when_one_frees_up(site, tmp_path):
    # A submitter of their own with five accepted submissions in the last 24 hours.
    make = (
        "import django; django.setup()\n"
        "from brainmark.platform.accounts.services import create_api_token, create_user\n"
        "from brainmark.platform.submissions.models import Submission\n"
        f"user = create_user('busy@example.org', {PASSWORD!r}, {PASSWORD!r})\n"
        "rows = [Submission.objects.create(user=user, kind='model', status='validated')\n"
        "        for _ in range(5)]\n"
        "print(rows[0].created.isoformat(), create_api_token('busy@example.org')[1])\n"
    )
    first, token = run([sys.executable, "-c", make],
                       {**site.env, "DJANGO_SETTINGS_MODULE": "brainmark.platform.settings"}
                       ).split()[-2:]
    frees_at = datetime.fromisoformat(first) + timedelta(hours=24)

    result = submit(site, str(plugin_folder(tmp_path)),
                    env=client_env(site, BRAINMARK_TOKEN=token))

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Submission quota reached" in result.stderr
    assert f"The next one frees up at {frees_at.strftime('%Y-%m-%d %H:%M')} UTC" in \
        result.stderr
