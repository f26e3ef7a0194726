"""A real git repository and a recording code host, for the git submissions' tests.

Shared by ``test_git_submissions.py`` (the API and the webhook in-process) and
``test_git_end_to_end.py`` (the webhook of a live site): a bare repository holding a model
plugin scaffolded by ``brainmark new model`` plus its metadata.yml, fetched over
``file://``; the real GitHub payloads of ``tests/data/code-host-webhooks``, signed anew; and
an HTTP server on loopback that records the commit statuses it receives.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import yaml
from tests.platform.submission_zips import METADATA

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "code-host-webhooks"


def payload(name: str) -> dict:
    """One of the code host's example payloads, as a dict to rewrite."""
    return json.loads((PAYLOADS / name).read_text())


def signed(body: bytes, secret: str) -> str:
    """GitHub's ``X-Hub-Signature-256`` of ``body`` with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- a real repository ------------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    """git in ``cwd`` without the developer's configuration, as a fixed author."""
    environment = {
        "PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.strip()


class Repository:
    """A working copy (``work``) with one scaffolded model plugin, pushed to ``bare.git``."""

    def __init__(self, folder: Path) -> None:
        self.work = folder / "work"
        self.bare = folder / "bare.git"
        [self.plugin] = (self.work / "models").iterdir()

    @classmethod
    def create(cls, folder: Path) -> Repository:
        from brainmark._scaffold import new_model

        scaffold = new_model("git-net", folder / "work")
        (scaffold.folder / "metadata.yml").write_text(yaml.safe_dump(METADATA))
        (folder / "work" / "README.md").write_text("Not part of any plugin.\n")
        git("init", "--quiet", "--initial-branch", "main", cwd=folder / "work")
        git("init", "--quiet", "--bare", str(folder / "bare.git"), cwd=folder)
        repository = cls(folder)
        repository.commit("The model")
        repository.push()
        return repository

    def copy(self, folder: Path) -> Repository:
        """A copy of both repositories in ``folder`` (a fresh scaffold costs a second)."""
        shutil.copytree(self.work.parent, folder, symlinks=True)
        return Repository(folder)

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, message: str) -> str:
        git("add", "--all", cwd=self.work)
        git("commit", "--quiet", "-m", message, cwd=self.work)
        return self.head

    def push(self, *refs: str) -> None:
        git("push", "--quiet", self.url, *(refs or ("main",)), cwd=self.work)

    @property
    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.work)

    def plugin_files(self, commit: str) -> dict[str, bytes]:
        """Path -> bytes of every file under models/ at ``commit``, read back from git."""
        names = git("ls-tree", "-r", "--name-only", commit, "--", "models", cwd=self.work)
        return {
            name: subprocess.run(["git", "show", f"{commit}:{name}"], cwd=self.work,
                                 capture_output=True, check=True).stdout
            for name in names.splitlines()
        }


# --- the code host's status API ----------------------------------------------------------------


class StatusServer:
    """An HTTP server on loopback recording each POST: path, Authorization and JSON body."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, "body": json.loads(body),
                                 "authorization": self.headers.get("Authorization"),
                                 "content_type": self.headers.get("Content-Type")})
                self.send_response(201)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
