"""A real ``brainmark serve`` (and other brainmark processes) for tests that need one.

Shared by the browser, end-to-end pipeline and CLI tests, so each starts servers the same way.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BRAINMARK = Path(sys.executable).with_name("brainmark")


def clean_environment(home: Path) -> dict[str, str]:
    """This process's environment with no database address and no brainmark settings but
    ``BRAINMARK_HOME=home``: the SQLite file under that home."""
    env = {
        name: value for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "BRAINMARK_DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        and not name.startswith("BRAINMARK_")
    }
    env["BRAINMARK_HOME"] = str(home)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(args: list[str], env: dict[str, str], *, timeout: float = 300) -> str:
    """Run a command to completion; its stdout. A failure shows both streams."""
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serving(env: dict[str, str], log_folder: Path, read_server_address, *,
            threads: int = 4) -> Iterator[str]:
    """``brainmark serve`` (one worker) on a free port; yields its address.

    The port is chosen first so that ``BRAINMARK_SITE_URL`` (the links of the mails) can
    name it; the printed address must be that same address.
    """
    stderr = log_folder / "serve.stderr"  # a file: the access log must never fill a pipe
    for attempt in range(3):  # another process may take the free port before serve does
        port = free_port()
        address = f"http://127.0.0.1:{port}"
        with stderr.open("w") as log:
            process = subprocess.Popen(
                [str(BRAINMARK), "serve", "--port", str(port), "--workers", "1",
                 "--threads", str(threads)],
                env={**env, "BRAINMARK_SITE_URL": address},
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        try:
            printed = read_server_address(process, stderr.read_text)
        except AssertionError:
            if attempt < 2 and "already in use" in stderr.read_text():
                continue
            raise
        break
    try:
        assert printed == address, f"brainmark serve printed {printed!r}, not {address!r}"
        yield address
    finally:
        stop(process)
