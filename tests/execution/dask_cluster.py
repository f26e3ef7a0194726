"""Real ``dask scheduler`` and ``dask worker`` processes on loopback, for the executor's and
the pipeline's tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import distributed

DASK = Path(sys.executable).parent / "dask"
STARTUP_S = 30.0  # a scheduler or worker process is up within this (a few seconds usually)


class Processes:
    """Dask processes started by a test, all killed (with their groups) at the end."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT,
                                   env=self.env, cwd=self.folder, start_new_session=True)
        log.close()
        self.started.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def scheduler(self, name: str, port: int = 0) -> tuple[subprocess.Popen, str]:
        """A scheduler on 127.0.0.1 and its address, read from its scheduler file."""
        address_file = self.folder / f"{name}.json"
        address_file.unlink(missing_ok=True)
        process = self.start(name, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                             "--no-dashboard", "--scheduler-file", str(address_file))
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            assert process.poll() is None, f"dask scheduler exited:\n{self.log(name)}"
            with contextlib.suppress(OSError, ValueError):
                return process, json.loads(address_file.read_text())["address"]
            time.sleep(0.1)
        raise AssertionError(f"dask scheduler wrote no address in {STARTUP_S} s:\n"
                             f"{self.log(name)}")

    def worker(self, scheduler: str, name: str, *resources: str) -> tuple[subprocess.Popen, str]:
        """A one-thread worker without nanny (its pid is the worker's) and its address."""
        extra = ["--resources", " ".join(resources)] if resources else []
        process = self.start(name, "worker", scheduler, "--name", name, "--nthreads", "1",
                             "--nworkers", "1", "--no-nanny", "--no-dashboard", "--host",
                             "127.0.0.1", *extra)
        with distributed.Client(scheduler, timeout=STARTUP_S, set_as_default=False) as client:
            deadline = time.monotonic() + STARTUP_S
            while time.monotonic() < deadline:
                assert process.poll() is None, f"dask worker exited:\n{self.log(name)}"
                workers = client.scheduler_info()["workers"]
                for address, info in workers.items():
                    if info["name"] == name:
                        return process, address
                time.sleep(0.1)
        raise AssertionError(f"dask worker {name} did not join in {STARTUP_S} s:\n"
                             f"{self.log(name)}")

    def kill_all(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.started:
            process.wait(timeout=10)


@contextlib.contextmanager
def dask_processes(folder: Path, environment: Callable[[Path], dict[str, str]]
                   ) -> Iterator[Processes]:
    """Processes started in ``folder`` with ``environment(folder)``; a worker's death fails
    its task at once (``allowed-failures`` 0, as docs/cluster.md advises)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**environment(folder), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    processes = Processes(folder, env)
    try:
        yield processes
    finally:
        processes.kill_all()
