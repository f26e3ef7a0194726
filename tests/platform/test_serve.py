"""``brainmark serve``: the site over real HTTP from a child process, on SQLite.

The server is started as a user would (``brainmark serve --port N``) in a fresh migrated
home, read over HTTP with urllib, and stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

BRAINMARK = Path(sys.executable).with_name("brainmark")

SITE_STATIC = Path(__file__).resolve().parents[2] / "src/brainmark/platform/site/static/site"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


@pytest.fixture
def migrated_home(brainmark_home: Path, sqlite_environment: dict[str, str], run_brainmark):
    result = run_brainmark("migrate", env=sqlite_environment)
    assert result.returncode == 0, result.stderr
    return brainmark_home


@pytest.fixture
def server(migrated_home: Path, sqlite_environment: dict[str, str],
           read_server_address) -> Iterator[dict]:
    """A running ``brainmark serve`` on a free port: its address, process and stderr."""
    port = _free_port()
    process = subprocess.Popen(
        [str(BRAINMARK), "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
        env=sqlite_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = read_server_address(process, process.stderr.read)
        yield {"address": address, "port": port, "process": process}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_serve_answers_pages_static_files_and_the_api(server):
    address = server["address"]
    assert address == f"http://127.0.0.1:{server['port']}"

    status, _body, content_type = _get(f"{address}/")
    assert status == 200 and content_type.startswith("text/html")

    status, body, content_type = _get(f"{address}/static/site/site.css")
    assert status == 200 and content_type.startswith("text/css")
    assert body == (SITE_STATIC / "site.css").read_bytes()

    status, body, content_type = _get(f"{address}/api/openapi.json")
    assert status == 200 and content_type.startswith("application/json")
    assert json.loads(body)["openapi"].startswith("3.")

    status, _body, _type = _get(f"{address}/guides/")
    assert status == 200

    # SIGTERM: a graceful stop, exit status 0, no warning (e.g. WhiteNoise's missing
    # STATIC_ROOT) and the access log on stderr, not stdout.
    process = server["process"]
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stdout == ""
    assert '"GET /static/site/site.css HTTP/1.1" 200' in stderr
    assert "Warning" not in stderr and "No directory at" not in stderr


def test_serve_refuses_an_unmigrated_database(run_brainmark, sqlite_environment):
    result = run_brainmark("serve", "--port", str(_free_port()), env=sqlite_environment)
    assert result.returncode == 1
    assert "run 'brainmark migrate' first" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_serve_refuses_a_port_in_use(migrated_home, run_brainmark, sqlite_environment):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_brainmark("serve", "--port", str(port), env=sqlite_environment)
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_port_zero_picks_a_free_port(migrated_home, sqlite_environment, read_server_address):
    process = subprocess.Popen(
        [str(BRAINMARK), "serve", "--port", "0", "--workers", "1"],
        env={**sqlite_environment, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = read_server_address(process, process.stderr.read)
        assert address.startswith("http://127.0.0.1:") and not address.endswith(":0")
        assert _get(f"{address}/api/openapi.json")[0] == 200
    finally:
        os.kill(process.pid, signal.SIGINT)  # Ctrl-C stops it as cleanly.
        process.communicate(timeout=30)
    assert process.returncode == 0
