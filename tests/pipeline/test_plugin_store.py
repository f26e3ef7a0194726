"""The plugin store: a git repository of merged plugins that the registries search."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from brainmark.cli import main
from brainmark.pipeline.plugin_store import PluginStore, PluginStoreError

BRAINMARK = Path(sys.executable).with_name("brainmark")
CLEAN_GIT = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "PATH": os.defpath}


def git(store: Path, *args: str) -> str:
    """Read the store with git directly, not through the code under test."""
    done = subprocess.run(
        ["git", "-C", str(store), *args], env=CLEAN_GIT, capture_output=True, text=True, check=True
    )
    return done.stdout


def scaffold_model(root: Path, identifier: str) -> Path:
    """An archive root holding one model plugin, written by ``brainmark new model``."""
    result = CliRunner().invoke(main, ["new", "model", identifier, str(root)])
    assert result.exit_code == 0, result.output
    (folder,) = (root / "models").iterdir()
    return folder


def listed_models(store: Path, home: Path) -> list[str]:
    """``brainmark list models`` in a child process with the store on the plugin path."""
    env = {
        "PATH": os.defpath,
        "BRAINMARK_HOME": str(home),
        "BRAINMARK_PLUGIN_PATH": str(store),
    }
    done = subprocess.run(
        [str(BRAINMARK), "list", "models"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture
def store(tmp_path: Path) -> PluginStore:
    store = PluginStore(tmp_path / "home" / "platform" / "plugins")
    store.init()
    return store


def test_init_twice_is_harmless(tmp_path):
    store = PluginStore(tmp_path / "plugins")
    store.init()
    first = git(store.path, "rev-parse", "HEAD")
    store.init()
    assert git(store.path, "rev-parse", "HEAD") == first
    assert git(store.path, "log", "--format=%s").splitlines() == ["Plugin store created"]
    assert [c.subject for c in store.history()] == ["Plugin store created"]


def test_init_refuses_a_folder_with_files_that_is_not_a_repository(tmp_path):
    (tmp_path / "plugins" / "models").mkdir(parents=True)
    with pytest.raises(
        PluginStoreError, match=r"holds files but is not a git repository \(models\)"
    ):
        PluginStore(tmp_path / "plugins").init()


def test_a_commit_has_the_submitter_as_author_and_the_submission_in_its_message(store, tmp_path):
    scaffold_model(tmp_path / "archive", "my-net")
    sha = store.commit_submission(
        tmp_path / "archive", submission_id=42, author_name="Ada L", author_email="ada@example.org"
    )
    assert git(store.path, "rev-parse", "HEAD").strip() == sha
    author, committer, subject = git(store.path, "log", "-1", "--format=%an <%ae>%n%cn%n%s").split(
        "\n"
    )[:3]
    assert author == "Ada L <ada@example.org>"
    assert committer == "brainmark platform"
    assert subject == "Submission 42"
    body = git(store.path, "log", "-1", "--format=%B")
    assert "- models/my_net\n" in body
    assert git(store.path, "ls-files").split() == [
        "models/my_net/__init__.py",
        "models/my_net/model.py",
        "models/my_net/requirements.txt",
        "models/my_net/test.py",
    ]
    assert git(store.path, "status", "--porcelain") == ""
    (latest, _) = store.history()
    assert (latest.sha, latest.submission_id, latest.paths) == (sha, 42, ("models/my_net",))


def test_the_registries_find_a_committed_plugin_and_lose_it_when_reverted(store, tmp_path):
    home = tmp_path / "home"
    assert "store-net" not in listed_models(store.path, home)
    scaffold_model(tmp_path / "archive", "store-net")
    store.commit_submission(
        {"models": tmp_path / "archive" / "models" / "store_net"},
        submission_id=7,
        author_name="Ada",
        author_email="ada@example.org",
    )
    assert "store-net" in listed_models(store.path, home)

    sha = store.revert_submission(7, by="Staff Member", by_email="staff@example.org")
    assert not (store.path / "models" / "store_net").exists()
    assert "store-net" not in listed_models(store.path, home)
    assert git(store.path, "log", "-1", "--format=%H%n%an%n%s").split("\n")[:3] == [
        sha,
        "Staff Member",
        "Revert submission 7",
    ]
    assert [c.reverts_submission for c in store.history()] == [7, None, None]
    with pytest.raises(PluginStoreError, match=r"Submission 7 was already reverted by commit"):
        store.revert_submission(7, by="Staff Member")
    with pytest.raises(PluginStoreError, match=r"Submission 8 has no commit in the plugin store"):
        store.revert_submission(8, by="Staff Member")


def test_an_existing_folder_is_replaced_only_when_allowed(store, tmp_path):
    folder = scaffold_model(tmp_path / "v1", "my-net")
    store.commit_submission(
        {"models": folder}, submission_id=1, author_name="Ada", author_email="ada@example.org"
    )
    newer = scaffold_model(tmp_path / "v2", "my-net")
    (newer / "requirements.txt").unlink()
    (newer / "model.py").write_text("# version 2\n")
    with pytest.raises(
        PluginStoreError,
        match=r"Submission 2: the plugin store already has models/my_net; replacing it needs "
        r"allow_replace=True .* Nothing was committed\.",
    ):
        store.commit_submission(
            {"models": newer}, submission_id=2, author_name="Bob", author_email="bob@example.org"
        )
    assert len(store.history()) == 2
    store.commit_submission(
        {"models": [newer]},
        submission_id=2,
        author_name="Ada",
        author_email="ada@example.org",
        allow_replace=True,
    )
    assert (store.path / "models/my_net/model.py").read_text() == "# version 2\n"
    assert "models/my_net/requirements.txt" not in git(store.path, "ls-files").split()
    # Reverting the replacement brings the first version back.
    store.revert_submission(2, by="Staff")
    assert (store.path / "models/my_net/model.py").read_text() == (folder / "model.py").read_text()
    assert (store.path / "models/my_net/requirements.txt").is_file()


def test_reverting_a_submission_a_later_one_built_on_is_refused_and_changes_nothing(
    store, tmp_path
):
    folder = scaffold_model(tmp_path / "v1", "my-net")
    store.commit_submission(
        {"models": folder}, submission_id=1, author_name="Ada", author_email="ada@example.org"
    )
    (folder / "model.py").write_text("# version 2\n")
    store.commit_submission(
        {"models": folder},
        submission_id=2,
        author_name="Ada",
        author_email="ada@example.org",
        allow_replace=True,
    )
    head = git(store.path, "rev-parse", "HEAD")
    with pytest.raises(PluginStoreError, match=r"Submission 1 cannot be reverted: .*Submission 2"):
        store.revert_submission(1, by="Staff")
    assert git(store.path, "rev-parse", "HEAD") == head
    assert git(store.path, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        ({"widgets": "models/my_net"}, r"'widgets' is not a plugin type; use one of data, "),
        ({"models": "nowhere"}, r"Submission 3: models/nowhere \(.*\) is not a folder\."),
        ({"models": "bare"}, r"models/bare \(.*\) has no __init__.py, so it is not a plugin\."),
        ({"models": "empty_archive"}, r"Submission 3 brings no plugin folder to commit\."),
    ],
)
def test_bad_input_is_refused_naming_the_folder(store, tmp_path, plugins, message):
    scaffold_model(tmp_path, "my-net")
    (tmp_path / "bare").mkdir()
    (tmp_path / "empty_archive").mkdir()
    kind, name = next(iter(plugins.items()))
    given = {kind: tmp_path / name} if name != "empty_archive" else tmp_path / name
    with pytest.raises(PluginStoreError, match=message):
        store.commit_submission(
            given, submission_id=3, author_name="Ada", author_email="ada@example.org"
        )
    assert len(store.history()) == 1


def test_bad_author_is_refused(store, tmp_path):
    scaffold_model(tmp_path / "a", "my-net")
    with pytest.raises(
        PluginStoreError, match=r"Submission 4: a commit needs a name and an e-mail"
    ):
        store.commit_submission(
            tmp_path / "a", submission_id=4, author_name="Eve\n", author_email="eve@example.org"
        )


def test_the_callers_git_variables_and_config_are_not_seen(store, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    subprocess.run(["git", "init", "-q", str(elsewhere)], env=CLEAN_GIT, check=True)
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Mallory")
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "index"))
    scaffold_model(tmp_path / "a", "my-net")
    store.commit_submission(
        tmp_path / "a", submission_id=5, author_name="Ada", author_email="ada@example.org"
    )
    assert git(store.path, "log", "-1", "--format=%an").strip() == "Ada"
    assert git(elsewhere, "rev-list", "--all") == ""


def test_a_write_interrupted_half_way_is_undone_before_the_next_commit(store, tmp_path):
    (store.path / "models" / "half_copied").mkdir(parents=True)
    (store.path / "models" / "half_copied" / "__init__.py").write_text("")
    scaffold_model(tmp_path / "a", "my-net")
    store.commit_submission(
        tmp_path / "a", submission_id=6, author_name="Ada", author_email="ada@example.org"
    )
    assert not (store.path / "models" / "half_copied").exists()
    assert git(store.path, "ls-files").split()[0] == "models/my_net/__init__.py"


def test_concurrent_commits_all_land_one_after_the_other(tmp_path):
    path = tmp_path / "plugins"
    PluginStore(path).init()
    names = [f"net-{i}" for i in range(4)]
    archives = {name: scaffold_model(tmp_path / name, name) for name in names}
    barrier = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def submit(i: int, name: str) -> None:
        store = PluginStore(path)  # each dispatcher has its own object
        barrier.wait()
        try:
            store.commit_submission(
                {"models": archives[name]},
                submission_id=100 + i,
                author_name=f"User {i}",
                author_email=f"user{i}@example.org",
            )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(i, n)) for i, n in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # A straight line of commits: each has exactly one parent, the one before it.
    lines = git(path, "rev-list", "--parents", "HEAD").splitlines()
    assert len(lines) == len(names) + 1
    for line, older in itertools.pairwise(lines):
        assert line.split()[1:] == [older.split()[0]]
    subjects = git(path, "log", "--format=%s").splitlines()
    assert sorted(subjects[:-1]) == [f"Submission {100 + i}" for i in range(4)]
    assert sorted(p.name for p in (path / "models").iterdir()) == [
        n.replace("-", "_") for n in names
    ]
    assert git(path, "status", "--porcelain") == ""


def test_the_plugin_store_loads_no_django():
    code = (
        "import sys, brainmark.pipeline.plugin_store\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'django' "
        "or m.startswith('brainmark.platform')]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


COMMIT_IN_A_CHILD = """
import sys, time
from pathlib import Path
from brainmark.pipeline.plugin_store import PluginStore
store, archive, submission, start = sys.argv[1:]
while time.time() < float(start):
    time.sleep(0.001)
print(PluginStore(store).commit_submission(
    Path(archive), submission_id=int(submission), author_name="Ada",
    author_email="ada@example.org",
))
"""


def test_two_dispatcher_processes_commit_one_after_the_other(tmp_path):
    path = tmp_path / "plugins"
    PluginStore(path).init()
    for name in ("proc-a", "proc-b"):
        scaffold_model(tmp_path / name, name)
    start = str(time.time() + 1.0)  # both children commit at the same moment
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                COMMIT_IN_A_CHILD,
                str(path),
                str(tmp_path / name),
                str(i),
                start,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, name in enumerate(("proc-a", "proc-b"), start=200)
    ]
    shas = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        shas.append(out.strip())
    lines = git(path, "rev-list", "--parents", "HEAD").splitlines()
    assert len(lines) == 3
    assert sorted(line.split()[0] for line in lines[:2]) == sorted(shas)
    for line, older in itertools.pairwise(lines):
        assert line.split()[1:] == [older.split()[0]]
    assert sorted(p.name for p in (path / "models").iterdir()) == ["proc_a", "proc_b"]


def test_merging_a_submission_again_returns_its_commit_until_it_is_reverted(store, tmp_path):
    folder = scaffold_model(tmp_path / "a", "my-net")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    kwargs = {"submission_id": 9, "author_name": "Ada", "author_email": "ada@example.org"}
    first = store.commit_submission(tmp_path / "a", **kwargs)
    assert store.commit_submission(tmp_path / "a", **kwargs) == first
    assert len(store.history()) == 2
    assert not (store.path / "models" / "my_net" / "__pycache__").exists()
    store.revert_submission(9, by="Staff")
    again = store.commit_submission(tmp_path / "a", **kwargs)
    assert again != first
    assert git(store.path, "log", "--format=%s").splitlines() == [
        "Submission 9",
        "Revert submission 9",
        "Submission 9",
        "Plugin store created",
    ]
    store.revert_submission(9, by="Staff")  # the merge made after the first revert
    assert not (store.path / "models" / "my_net").exists()
