"""The sandbox, with real bubblewrap: what submitted code inside can and cannot do.

Each test runs a Python one-liner inside ``run_sandboxed`` and reads what it printed (or
what became of it). Nothing is mocked: the network, the file system, the limits are the
kernel's. bubblewrap missing is a failure that says how to install it, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from brainmark.pipeline.sandbox import (
    TRUNCATION_LINE,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    available_isolation,
    run_sandboxed,
)

PYTHON = sys.executable
LIMITS = SandboxLimits(wall_seconds=60)


@pytest.fixture
def job(tmp_path: Path) -> dict[str, Path]:
    """A job folder, its log, and a fake platform home (with a planted secret) beside it."""
    home = tmp_path / "home"
    (home / "platform").mkdir(parents=True)
    (home / "platform" / "secret_key").write_text("planted-secret")
    (home / "users-file.txt").write_text("someone else's")
    work = tmp_path / "work"
    work.mkdir()
    return {"work": work, "log": tmp_path / "job.log", "home": home}


def require_bwrap() -> None:
    assert shutil.which("bwrap"), "bubblewrap (bwrap) is not installed: run `make system`"


def run_python(
    job: dict[str, Path],
    code: str,
    *,
    limits: SandboxLimits = LIMITS,
    isolation: str | None = "bubblewrap",
    **kwargs: object,
) -> SandboxResult:
    if isolation == "bubblewrap":
        require_bwrap()
    return run_sandboxed(
        [PYTHON, "-c", code],
        workdir=job["work"],
        limits=limits,
        log_path=job["log"],
        home=job["home"],
        isolation=isolation,
        **kwargs,
    )


def output(result: SandboxResult) -> str:
    return result.log_path.read_text()


def last_json(result: SandboxResult) -> object:
    return json.loads(output(result).strip().splitlines()[-1])


CONNECT = """
import json, socket, sys
outcome = {}
for host, port in [("127.0.0.1", 5432), ("127.0.0.1", int(sys.argv[1])), ("1.1.1.1", 80)]:
    try:
        socket.create_connection((host, port), timeout=3).close()
        outcome[f"{host}:{port}"] = "connected"
    except OSError as error:
        outcome[f"{host}:{port}"] = type(error).__name__
print(json.dumps(outcome))
"""


@pytest.mark.parametrize("isolation", ["bubblewrap", "rlimits+netns"])
def test_no_network_inside(job: dict[str, Path], isolation: str) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # reachable from this process
    port = listener.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=3).close()
    try:
        if isolation == "bubblewrap":
            require_bwrap()
        result = run_sandboxed(
            [PYTHON, "-c", CONNECT, str(port)],
            workdir=job["work"],
            limits=LIMITS,
            log_path=job["log"],
            home=job["home"],
            isolation=isolation,
        )
    finally:
        listener.close()
    assert result.ok, output(result)
    assert result.isolation == isolation
    outcome = last_json(result)
    # bwrap brings up a loopback with nothing listening (refused); `unshare --net` leaves
    # it down (unreachable). Either way nothing of this machine's network is reachable.
    refused = "ConnectionRefusedError" if isolation == "bubblewrap" else "OSError"
    assert outcome["127.0.0.1:5432"] == refused
    assert outcome[f"127.0.0.1:{port}"] == refused
    assert outcome["1.1.1.1:80"] in {"OSError", "TimeoutError"}  # no route at all


def test_platform_home_and_root_are_invisible(job: dict[str, Path]) -> None:
    real_home = Path("~/.brainmark").expanduser()
    paths = [
        job["home"] / "platform" / "secret_key",
        job["home"] / "users-file.txt",
        job["home"],
        real_home,
        Path("/root/.ssh"),
        Path("/root/.bashrc"),
    ]
    code = (
        "import json, os, sys; print(json.dumps({p: os.path.exists(p) for p in sys.argv[1:]}"
        " | {'root': sorted(os.listdir('/root')) if os.path.isdir('/root') else None}))"
    )
    require_bwrap()
    result = run_sandboxed(
        [PYTHON, "-c", code, *map(str, paths)],
        workdir=job["work"],
        limits=LIMITS,
        log_path=job["log"],
        home=job["home"],
    )
    assert result.ok, output(result)
    seen = last_json(result)
    assert not any(seen[str(p)] for p in paths), seen
    # /root holds nothing but the way to the Python interpreter (pyenv lives there).
    assert seen["root"] in (None, [".pyenv"]), seen["root"]


def test_a_bind_that_would_expose_the_home_is_refused(job: dict[str, Path]) -> None:
    with pytest.raises(SandboxError, match="would expose the platform's home"):
        run_python(job, "pass", readonly_paths=[job["home"].parent])
    with pytest.raises(SandboxError, match="database and secret key"):
        run_python(job, "pass", readonly_paths=[job["home"] / "platform"])
    # A folder inside the home that holds neither (e.g. one stored plugin) may be shown.
    plugin = job["home"] / "plugins" / "mine"
    plugin.mkdir(parents=True)
    (plugin / "code.py").write_text("X = 1")
    result = run_python(
        job, f"print(open({str(plugin / 'code.py')!r}).read())", readonly_paths=[plugin]
    )
    assert result.ok and output(result).strip() == "X = 1", output(result)


def test_no_secret_from_the_parent_environment(
    job: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAINMARK_SECRET_KEY", "parent-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:pw@127.0.0.1:5432/prod")
    result = run_python(
        job, "import json, os; print(json.dumps(dict(os.environ)))", env={"JOB_ID": "17"}
    )
    assert result.ok, output(result)
    inside = last_json(result)
    assert "BRAINMARK_SECRET_KEY" not in inside and "DATABASE_URL" not in inside
    assert "parent-secret" not in output(result)
    assert inside["JOB_ID"] == "17" and inside["PYTHONUNBUFFERED"] == "1"
    assert set(inside) <= {
        "PATH",
        "HOME",
        "LANG",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "JOB_ID",
        "PWD",
    }
    for name in ("DATABASE_URL", "BRAINMARK_TOKEN", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"):
        with pytest.raises(SandboxError, match=name):
            run_python(job, "pass", env={name: "x"})


WRITE = """
import json, sys
outcome = {}
for path in sys.argv[1:]:
    try:
        with open(path, "w") as handle:
            handle.write("x")
        outcome[path] = "written"
    except OSError as error:
        outcome[path] = type(error).__name__
print(json.dumps(outcome))
"""


def test_writes_only_in_workdir(job: dict[str, Path]) -> None:
    inside_work = job["work"] / "result.json"
    refused = [
        Path(sys.prefix) / "sandbox-escape",
        Path("/usr/sandbox-escape"),
        Path("/etc/sandbox-escape"),
        Path(__file__).parent / "sandbox-escape",
    ]
    require_bwrap()
    result = run_sandboxed(
        [PYTHON, "-c", WRITE, str(inside_work), "/tmp/scratch", "/dev/shm/scratch",
         *map(str, refused)],
        workdir=job["work"],
        limits=LIMITS,
        log_path=job["log"],
        home=job["home"],
    )
    assert result.ok, output(result)
    outcome = last_json(result)
    assert outcome[str(inside_work)] == "written" and inside_work.read_text() == "x"
    if os.geteuid() == 0:  # the job really is uid 65534 on this machine, not root
        assert inside_work.stat().st_uid == 65534
    assert outcome["/tmp/scratch"] == "written"  # a private tmpfs, gone afterwards
    assert outcome["/dev/shm/scratch"] == "written"  # torch's workers share memory there
    for path in refused:
        assert outcome[str(path)] != "written", path
        assert not path.exists(), path


def test_runs_as_nobody(job: dict[str, Path]) -> None:
    require_bwrap()
    # No ``home``: the settings' home (BRAINMARK_HOME or ~/.brainmark) is the one kept out.
    result = run_sandboxed([PYTHON, "-c", "import os; print(os.getuid(), os.getgid(), "
                            "os.getpid())"], workdir=job["work"], limits=LIMITS,
                           log_path=job["log"])
    assert result.ok, output(result)
    uid, gid, pid = map(int, output(result).split())
    assert (uid, gid) == (65534, 65534)
    assert pid < 10  # a new PID namespace


FORK_BOMB = """
import os, sys, time
children = 0
try:
    for _ in range(1000):
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        children += 1
except OSError as error:
    print("fork refused after", children, type(error).__name__, error)
    sys.exit(3)
print("never stopped", children)
"""


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "rlimit-only"])
def test_a_fork_bomb_is_stopped(job: dict[str, Path], cgroups: bool) -> None:
    """By the job's pids cgroup, or (without one) by RLIMIT_NPROC on the real uid 65534."""
    limits = SandboxLimits(wall_seconds=30, processes=50)
    started = time.monotonic()
    result = run_python(job, FORK_BOMB, limits=limits, cgroups=cgroups)
    assert time.monotonic() - started < 15
    assert result.exit_code == 3, output(result)
    children = int(output(result).split()[3])
    assert children < 50, output(result)
    assert result.killed_by == "processes"
    assert result.process_limit == ("cgroup" if cgroups else "rlimit")
    assert run_python(job, "print('still fine')").ok  # the machine and the parent survive


def test_a_memory_hog_is_stopped(job: dict[str, Path]) -> None:
    limits = SandboxLimits(wall_seconds=30, address_space_bytes=1024**3, memory_bytes=None)
    result = run_python(job, "x = bytearray(3 * 1024**3); print('allocated')", limits=limits)
    assert result.exit_code != 0 and "allocated" not in output(result)
    assert result.killed_by == "memory"
    assert "MemoryError" in output(result)


def test_memory_used_is_bounded_by_the_cgroup(job: dict[str, Path]) -> None:
    """Pages actually touched past ``memory_bytes`` end the job, with no address-space limit."""
    limits = SandboxLimits(wall_seconds=30, address_space_bytes=None, memory_bytes=256 * 1024**2)
    code = "x = bytearray(1024**3)\nfor i in range(0, len(x), 4096): x[i] = 1\nprint('done')"
    result = run_python(job, code, limits=limits)
    if os.geteuid() != 0:
        pytest.fail("this check needs the platform's user to own a cgroup (runs as root here)")
    assert result.killed_by == "memory", (result, output(result))
    assert "done" not in output(result)
    assert 200 * 1024**2 < result.peak_memory_bytes <= 300 * 1024**2


def test_a_job_past_its_wall_clock_is_killed(job: dict[str, Path]) -> None:
    limits = SandboxLimits(wall_seconds=1.5)
    result = run_python(
        job, "import time; print('start', flush=True); time.sleep(60)", limits=limits
    )
    assert result.killed_by == "time"
    assert result.exit_code < 0
    assert 1.5 <= result.wall_seconds < 5
    assert output(result).strip() == "start"


def test_cpu_limit(job: dict[str, Path]) -> None:
    limits = SandboxLimits(wall_seconds=30, cpu_seconds=1)
    result = run_python(job, "while True: pass", limits=limits)
    assert result.killed_by == "cpu", result
    assert 0.9 <= result.cpu_seconds < 3


def test_a_log_flood_is_truncated_at_the_cap(job: dict[str, Path]) -> None:
    limits = SandboxLimits(wall_seconds=30, log_bytes=10_000)
    code = "import sys\nfor i in range(100_000): print('flood line', i)\nprint('the end')"
    result = run_python(job, code, limits=limits)
    assert result.ok and result.log_truncated
    data = job["log"].read_bytes()
    assert len(data) == 10_000 + len(TRUNCATION_LINE)
    assert data.endswith(b"[log truncated]\n")
    assert data.startswith(b"flood line 0\nflood line 1\n")


def test_the_log_can_be_followed_while_the_job_runs(job: dict[str, Path]) -> None:
    code = (
        "import os, time\nprint('ready')\n"
        "while not os.path.exists('go'): time.sleep(0.05)\nprint('finished')"
    )
    results: list[SandboxResult] = []
    thread = threading.Thread(target=lambda: results.append(run_python(job, code)))
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if job["log"].exists() and job["log"].read_text() == "ready\n":
            break
        time.sleep(0.05)
    assert job["log"].read_text() == "ready\n"  # seen while the job still waits
    assert not results
    (job["work"] / "go").write_text("")
    thread.join(timeout=20)
    assert results and results[0].ok
    assert output(results[0]) == "ready\nfinished\n"


def test_brainmark_and_torch_import_inside(job: dict[str, Path]) -> None:
    code = (
        "import brainmark, torch; print(brainmark.__file__);"
        "print(float(torch.tensor([1.0, 2.0]).sum()))"
    )
    result = run_python(job, code)
    assert result.ok, output(result)
    lines = output(result).split()
    assert lines[0] == str(Path(sys.modules["brainmark"].__file__).resolve())
    assert lines[1] == "3.0"
    assert result.cpu_seconds > 0.1 and result.peak_memory_bytes > 50 * 1024**2


def test_this_machine_supports_bubblewrap() -> None:
    require_bwrap()
    assert available_isolation() == "bubblewrap"


@pytest.mark.parametrize("isolation", ["rlimits+netns", "rlimits"])
def test_fallbacks_report_their_isolation(
    job: dict[str, Path], isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAINMARK_SECRET_KEY", "parent-secret")
    result = run_python(
        job,
        "import json, os; print(json.dumps(dict(os.environ)))",
        isolation=isolation,
        limits=SandboxLimits(wall_seconds=30),
    )
    assert result.ok, output(result)
    assert result.isolation == isolation
    assert "BRAINMARK_SECRET_KEY" not in last_json(result)
    slow = run_python(
        job,
        "import time; time.sleep(30)",
        isolation=isolation,
        limits=SandboxLimits(wall_seconds=1),
    )
    assert slow.killed_by == "time" and slow.wall_seconds < 4


def test_bad_calls_are_refused(job: dict[str, Path]) -> None:
    with pytest.raises(SandboxError, match="unknown isolation 'chroot'"):
        run_python(job, "pass", isolation="chroot")
    with pytest.raises(SandboxError, match="could not start '/no/such/program'"):
        run_sandboxed(["/no/such/program"], workdir=job["work"], limits=LIMITS,
                      log_path=job["log"], home=job["home"], isolation="rlimits")
    with pytest.raises(SandboxError, match="is not a folder"):
        run_sandboxed(
            [PYTHON],
            workdir=job["work"] / "missing",
            limits=LIMITS,
            log_path=job["log"],
            home=job["home"],
        )
