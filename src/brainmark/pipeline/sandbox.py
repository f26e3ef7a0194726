"""Run submitted code (a plugin's tests, a scoring job) in a child process inside a sandbox.

Why: a submission is arbitrary code. It must not reach the network or the database, see the
platform's home (its SQLite file, secret key, other users' files) or the parent's
environment, write anywhere but its own folder, or take the machine down. One call,
:func:`run_sandboxed`, runs a command under these rules and reports what happened
(:class:`SandboxResult`: exit code, what killed it, wall and CPU seconds, peak memory, the
log, which isolation applied).

Isolation, best first (:func:`available_isolation` says which this machine supports):

``"bubblewrap"``
    ``bwrap`` with a new root built from binds: ``/usr`` read-only (``/bin``, ``/lib``,
    ``/lib64``, ``/sbin`` as the symlinks into it they are on Debian), the few ``/etc``
    pieces programs need (``ld.so.cache``, ``alternatives``, ``ssl``), the platform's
    Python environment read-only (``sys.prefix``, the interpreter it was made from,
    ``sys.base_prefix``, and the brainmark source folder when installed editable), the
    caller's ``readonly_paths``, ``workdir`` writable at its own path (the only writable
    host path), a tmpfs ``/tmp`` and a private tmpfs home ``/home/sandbox``, ``--dev /dev
    --proc /proc``, the new root itself read-only (``--remount-ro /``), new network, PID,
    IPC, UTS and cgroup namespaces (the network namespace has only a loopback with nothing
    listening: a connection to 127.0.0.1:5432 inside is refused, any other address is
    unreachable), ``--die-with-parent``, ``--new-session`` (no TIOCSTI into the caller's
    terminal) and ``--clearenv`` plus ``--setenv`` of the variables below. No GPU devices
    are bound yet (``--dev`` is a minimal ``/dev``).

    The job runs as uid/gid 65534 (nobody), in one of two ways:

    - As root (the platform's case here): bwrap runs privileged, without a user namespace,
      keeps only ``CAP_SETUID``/``CAP_SETGID`` for the job, and the job starts under
      ``setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all
      --bounding-set=-all``: it is really uid 65534 on this machine, with no capabilities,
      so ``RLIMIT_NPROC`` applies to it and an escape is not root. ``workdir`` (and what is
      in it) is chowned to 65534 first, so the results it writes are owned by 65534.
      Every ``readonly_paths`` entry must be readable by others (mode o+r).
    - Otherwise: ``--unshare-all --unshare-user --uid 65534 --gid 65534`` (the caller's
      uid mapped to 65534 in a user namespace).
``"rlimits+netns"``
    Where bwrap is missing or cannot start (no user namespaces): the command under
    ``unshare --net`` (no network; loopback down, so even 127.0.0.1 is unreachable) with the
    same limits, cgroups and scrubbed environment, cwd = ``workdir``, HOME = ``workdir``,
    as the caller's uid (root, if the platform runs as root). The file system is NOT
    hidden. Record this on the submission.
``"rlimits"``
    Only the limits and the scrubbed environment.

Environment: the child never inherits the parent's environment. It gets ``PATH``,
``HOME``, ``LANG``, ``PYTHONUNBUFFERED``, ``PYTHONDONTWRITEBYTECODE`` and what the caller
passes in ``env``; a caller name that looks like a secret (``*SECRET*``, ``*PASSWORD*``,
``*TOKEN*``, ``*CREDENTIAL*``, ``*_KEY``, ``DATABASE_URL``, ``PG*``, ``AWS_*``...) is
refused with :class:`SandboxError` so a mistake in the dispatcher cannot leak one.

BRAINMARK_HOME: never bound. A bind (the Python environment, a ``readonly_paths`` entry,
``workdir``) that is the home or contains it is refused. A folder *inside* the home (e.g.
one plugin of the plugin store, the job's own folder) may be bound on purpose, as long as it
contains neither the platform's database nor its secret key.

Limits (:class:`SandboxLimits`) and how each is enforced, as verified on the build machine
(Linux 6.x, bubblewrap 0.8, running as root, cgroup v1 controllers mounted read-write):

- CPU seconds: ``RLIMIT_CPU`` (SIGXCPU, then SIGKILL). Per process: a job that spreads
  its work over many processes gets the limit in each; the wall-clock limit bounds it all.
- Address space: ``RLIMIT_AS``. torch reserves a lot of virtual memory (CUDA even more), so
  the default is generous (64 GiB); memory actually used is bounded by ``memory_bytes``
  through the cgroup ``memory`` controller when one is writable (an OOM kill in the cgroup
  is reported as ``killed_by="memory"``, as is a ``MemoryError`` from ``RLIMIT_AS``).
- File size: ``RLIMIT_FSIZE`` (SIGXFSZ). Open files: ``RLIMIT_NOFILE``.
- Processes: a fresh cgroup per job in the v1 ``pids`` controller (``pids.max``), made
  under this process's own cgroup together with a ``memory`` one
  (``memory.limit_in_bytes``) and a ``cpuacct`` one (CPU time of the whole job, which
  rusage misses under bwrap), joined by the child before it execs, killed and removed when
  the job ends. With that cgroup ``RLIMIT_NPROC`` is not set, because it counts every
  process of uid 65534 and concurrent jobs would eat into each other's limit. Without a
  writable cgroup (cgroup v2 is not handled yet, nor a non-root platform) ``RLIMIT_NPROC``
  is the bound; ``SandboxResult.process_limit`` says which (``"none"`` for a fallback run
  as root, whom the kernel exempts from ``RLIMIT_NPROC``).

  Verified here: root is exempt from ``RLIMIT_NPROC`` and a job root starts in an
  unprivileged-style bwrap (``--unshare-user --uid 65534``) is still uid 0 outside, so
  rlimits alone do not stop its fork bomb. Starting bwrap itself as 65534 (``setpriv
  --reuid=65534 bwrap ...``, as ../shared/PLATFORM.md suggests) fails here: the
  interpreter lives under ``/root`` (mode 700), which that user cannot traverse, so bwrap
  cannot bind it (``Can't find source path``), not even through ``--ro-bind-fd``. Hence
  setpriv *inside* a privileged bwrap (above). bwrap run by root makes missing parent
  folders of a bind with mode 0700; each one is made 0755 first (``--perms 0755 --dir``).
- Wall clock: enforced by the parent, which kills the whole process group (bwrap's PID
  namespace dies with its init) and every process left in the job's cgroup.
- Log: stdout and stderr go, merged, to ``log_path``, written as they arrive (a caller can
  tail it while the job runs) and capped at ``log_bytes`` followed by a ``[log truncated]``
  line; the rest of the output is read and dropped so the job never blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

BWRAP = "bwrap"
SETPRIV = "/usr/bin/setpriv"
ISOLATIONS = ("bubblewrap", "rlimits+netns", "rlimits")
SANDBOX_UID = 65534
SANDBOX_HOME = "/home/sandbox"
TRUNCATION_LINE = b"\n[log truncated]\n"
GIB = 1024**3

# Names a caller may never pass into the sandbox: they look like credentials.
_SECRET_NAME = re.compile(
    r"SECRET|PASSW|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY|_KEY$|^KEY$|DATABASE_URL|"
    r"^PG|^AWS_|^AZURE_|^GOOGLE_APPLICATION|^SSH_|COOKIE|SESSION",
    re.IGNORECASE,
)
# Markers of an allocation refused under RLIMIT_AS, looked for in the end of the log.
_MEMORY_MARKERS = (b"MemoryError", b"Cannot allocate memory", b"std::bad_alloc",
                   b"out of memory", b"DefaultCPUAllocator: can't allocate memory")
_CGROUP_V1 = Path("/sys/fs/cgroup")


class SandboxError(Exception):
    """The sandbox cannot be set up as asked (a bad argument, an unknown isolation)."""


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """What one sandboxed job may use. ``None`` means no limit of that kind."""

    wall_seconds: float = 3600.0
    cpu_seconds: int | None = 3600
    address_space_bytes: int | None = 64 * GIB
    memory_bytes: int | None = 16 * GIB
    file_size_bytes: int | None = 4 * GIB
    processes: int | None = 512
    open_files: int | None = 4096
    log_bytes: int = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """What happened to one sandboxed job.

    ``exit_code`` is the command's exit status, or minus the signal that ended it (as
    :mod:`subprocess` reports it). ``killed_by`` names the limit that ended it: ``"time"``
    (wall clock), ``"cpu"``, ``"memory"``, ``"file_size"``, ``"processes"``, or ``None``.
    ``process_limit`` says how the process count was bounded (``"cgroup"``, ``"rlimit"``, or
    ``"none"`` when running as root without a writable cgroup).
    """

    exit_code: int
    killed_by: str | None
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int
    log_path: Path
    log_truncated: bool
    isolation: str
    process_limit: str

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its limits."""
        return self.exit_code == 0 and self.killed_by is None


@functools.cache
def available_isolation() -> str:
    """The best isolation this machine supports, probed once by running ``true`` in it."""
    for isolation in ISOLATIONS[:2]:
        if _probe(isolation):
            return isolation
    return "rlimits"


def _probe(isolation: str) -> bool:
    """Whether ``true`` runs under ``isolation`` here."""
    if isolation == "bubblewrap":
        if shutil.which(BWRAP) is None:
            return False
        as_root = _runs_privileged()
        command = [BWRAP, *_system_mounts().args, *_DEV_PROC, "--die-with-parent",
                   "--clearenv", *_namespaces(as_root), "--", *_drop_to_nobody(as_root),
                   "true"]
    else:
        if shutil.which("unshare") is None:
            return False
        command = [*_unshare_net(), "true"]
    try:
        completed = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


def run_sandboxed(
    command: Sequence[str],
    *,
    workdir: Path,
    limits: SandboxLimits,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    readonly_paths: Sequence[Path] = (),
    isolation: str | None = None,
    home: Path | None = None,
    cgroups: bool = True,
) -> SandboxResult:
    """Run ``command`` in ``workdir`` under ``limits``; its output goes to ``log_path``.

    ``isolation`` forces one of :data:`ISOLATIONS` (tests, or an operator who knows better);
    by default the best available one is used. ``home`` is the platform's home that must stay
    invisible (default: the settings' ``home``). ``cgroups=False`` leaves the job to its
    rlimits alone (no per-job cgroup), e.g. to check that they hold. Never raises for what
    the command does; raises :class:`SandboxError` for a bad call (a secret-looking
    variable, a bind that would expose the home, an isolation this machine lacks).
    """
    if not command:
        raise SandboxError("run_sandboxed: the command is empty")
    isolation = isolation or available_isolation()
    if isolation not in ISOLATIONS:
        raise SandboxError(f"run_sandboxed: unknown isolation {isolation!r}; "
                           f"expected one of {', '.join(ISOLATIONS)}")
    if isolation == "bubblewrap" and shutil.which(BWRAP) is None:
        raise SandboxError("run_sandboxed: bubblewrap (bwrap) is not installed; run `make system`")
    workdir = Path(workdir).resolve()
    if not workdir.is_dir():
        raise SandboxError(f"run_sandboxed: workdir {workdir} is not a folder")
    home = Path(home).resolve() if home is not None else _platform_home()
    readonly = [Path(p).resolve() for p in readonly_paths]
    for path in (workdir, *readonly, *(_python_paths() if isolation == "bubblewrap" else ())):
        _check_bind(path, home)
    child_env = _child_env(env or {}, workdir, isolation)

    if isolation == "bubblewrap":
        as_root = _runs_privileged()
        if as_root:
            _give_to_sandbox_user(workdir)
        argv = [BWRAP, *_bwrap_args(workdir, readonly, child_env, as_root), *command]
    else:
        as_root = False  # the fallbacks run the job as the caller (root, if it is root)
        argv = [*_unshare_net(), "--", *command] if isolation == "rlimits+netns" else [*command]

    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with _job_cgroups(limits if cgroups else None) as groups:
        unprivileged = as_root or os.geteuid() != 0  # RLIMIT_NPROC binds the job's uid
        process_limit = ("cgroup" if "pids" in groups
                         else "rlimit" if unprivileged and limits.processes else "none")
        return _run(argv, workdir=workdir, env=child_env, limits=limits, log_path=log_path,
                    isolation=isolation, cgroups=groups, process_limit=process_limit)


def _run(argv: list[str], *, workdir: Path, env: dict[str, str], limits: SandboxLimits,
         log_path: Path, isolation: str, cgroups: dict[str, Path],
         process_limit: str) -> SandboxResult:
    """Start ``argv``, stream its log, enforce the wall clock, collect its resource use."""
    procs_files = [str(path / "cgroup.procs") for path in cgroups.values()]

    def prepare_child() -> None:  # runs in the child between fork and exec
        for procs in procs_files:
            with open(procs, "w") as handle:
                handle.write(str(os.getpid()))
        # With a pids cgroup RLIMIT_NPROC is left alone: it counts every process of the
        # uid, so concurrent jobs (all uid 65534) would eat into each other's limit.
        _set_rlimits(limits, nproc=process_limit != "cgroup")

    started = time.monotonic()
    try:
        process = subprocess.Popen(  # the argv is built above; no shell
            argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=prepare_child,
            close_fds=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxError(f"run_sandboxed: could not start {argv[0]!r}: {error}") from error
    log = _LogWriter(log_path, limits.log_bytes)
    reader = threading.Thread(target=log.drain, args=(process.stdout,), daemon=True)
    reader.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        _kill_group(process.pid)
        for path in cgroups.values():
            _kill_cgroup(path)

    timer = threading.Timer(limits.wall_seconds, kill)
    timer.start()
    try:
        # Wait without reaping: while the child is a zombie its process-group id cannot be
        # reused, so killing the group's leftovers below cannot hit a stranger.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    finally:
        timer.cancel()
    wall = time.monotonic() - started
    _kill_group(process.pid)  # leftovers of the session (the fallbacks have no PID namespace)
    for path in cgroups.values():
        _kill_cgroup(path)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    reader.join(timeout=10)
    log.close()

    exit_code = process.returncode
    if isolation == "bubblewrap" and 128 < exit_code <= 128 + 64:
        exit_code = -(exit_code - 128)  # bwrap reports a signalled child as 128 + signal
    if "memory" in cgroups:  # the job's own pages
        peak = _read_int(cgroups["memory"] / "memory.max_usage_in_bytes")
    else:
        # An upper bound: the forked child (before exec) counts the caller's resident pages,
        # hundreds of MB in a process that has imported torch.
        peak = usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime
    if "cpuacct" in cgroups:
        cpu = max(cpu, _read_int(cgroups["cpuacct"] / "cpuacct.usage") / 1e9)
    killed_by = _killed_by(exit_code, timed_out.is_set(), log.tail, cgroups, limits, cpu)
    return SandboxResult(
        exit_code=exit_code, killed_by=killed_by, wall_seconds=wall,
        cpu_seconds=cpu, peak_memory_bytes=peak,
        log_path=log_path, log_truncated=log.truncated, isolation=isolation,
        process_limit=process_limit,
    )


def _killed_by(exit_code: int, timed_out: bool, tail: bytes, cgroups: dict[str, Path],
               limits: SandboxLimits, cpu_seconds: float) -> str | None:
    """Which limit ended the job, from its status, its cgroups and the end of its log."""
    if timed_out:
        return "time"
    if exit_code == -signal.SIGXCPU or (
            exit_code == -signal.SIGKILL and limits.cpu_seconds is not None
            and cpu_seconds >= limits.cpu_seconds):
        return "cpu"
    if exit_code == -signal.SIGXFSZ:
        return "file_size"
    if "memory" in cgroups and _cgroup_counter(cgroups["memory"] / "memory.oom_control",
                                               "oom_kill") > 0:
        return "memory"
    if exit_code != 0 and any(marker in tail for marker in _MEMORY_MARKERS):
        return "memory"
    if exit_code != 0 and "pids" in cgroups and _cgroup_counter(
            cgroups["pids"] / "pids.events", "max") > 0:
        return "processes"
    if exit_code != 0 and b"Resource temporarily unavailable" in tail:
        return "processes"  # fork refused under RLIMIT_NPROC (no cgroup to ask)
    return None


class _LogWriter:
    """Writes a child's output to a file as it arrives, up to a cap; keeps the last bytes."""

    def __init__(self, path: Path, cap: int) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.cap = cap
        self.written = 0
        self.truncated = False
        self.tail = b""

    def drain(self, stream: BinaryIO) -> None:
        """Copy ``stream`` until it ends (every process holding its write end exits)."""
        while chunk := stream.read1(65536):
            self.tail = (self.tail + chunk)[-8192:]
            if self.truncated:
                continue
            room = self.cap - self.written
            self.handle.write(chunk[:room])
            self.written += min(room, len(chunk))
            if len(chunk) > room:
                self.handle.write(TRUNCATION_LINE)
                self.truncated = True
            self.handle.flush()
        stream.close()

    def close(self) -> None:
        self.handle.close()


def _set_rlimits(limits: SandboxLimits, *, nproc: bool) -> None:
    """Apply ``limits`` to the calling process (inherited by everything it starts)."""
    pairs = ((resource.RLIMIT_CPU, limits.cpu_seconds),
             (resource.RLIMIT_AS, limits.address_space_bytes),
             (resource.RLIMIT_FSIZE, limits.file_size_bytes),
             (resource.RLIMIT_NPROC, limits.processes if nproc else None),
             (resource.RLIMIT_NOFILE, limits.open_files),
             (resource.RLIMIT_CORE, 0))
    for kind, value in pairs:
        if value is not None:
            # CPU: a soft limit below the hard one, so SIGXCPU (a reason) comes before SIGKILL.
            hard = value + 1 if kind == resource.RLIMIT_CPU else value
            resource.setrlimit(kind, (value, hard))


def _give_to_sandbox_user(workdir: Path) -> None:
    """Make ``workdir`` and what is in it owned by uid 65534, the job's uid on this machine."""
    for folder, dirs, files in os.walk(workdir):
        for name in [folder, *(os.path.join(folder, n) for n in (*dirs, *files))]:
            os.lchown(name, SANDBOX_UID, SANDBOX_UID)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@contextlib.contextmanager
def _job_cgroups(limits: SandboxLimits | None) -> Iterator[dict[str, Path]]:
    """Fresh v1 ``pids``, ``memory`` and ``cpuacct`` cgroups for one job, when allowed.

    Removed (after killing what is left in them) when the job ends.
    """
    made: dict[str, Path] = {}
    if limits is not None and os.geteuid() == 0:
        name = f"brainmark-sandbox-{uuid.uuid4().hex[:12]}"
        # cpuacct has no limit: it measures the CPU time of the whole job, which rusage
        # misses under bwrap (its PID 1 is not reaped by the process we wait for).
        wanted = {"pids": ("pids.max", limits.processes),
                  "memory": ("memory.limit_in_bytes", limits.memory_bytes),
                  "cpuacct": ("", 0)}
        for controller, (knob, value) in wanted.items():
            if value is None:
                continue
            parent = _own_cgroup(controller)
            if parent is None:
                continue
            path = parent / name
            try:
                path.mkdir()
                if knob:
                    (path / knob).write_text(str(value))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            made[controller] = path
    try:
        yield made
    finally:
        for path in made.values():
            _kill_cgroup(path)
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def _own_cgroup(controller: str) -> Path | None:
    """This process's cgroup folder in the v1 hierarchy of ``controller``, if mounted."""
    root = _CGROUP_V1 / controller
    if not (root / "cgroup.procs").exists():
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, relative = line.split(":", 2)
        if controller in controllers.split(","):
            folder = root / relative.lstrip("/")
            return folder if folder.is_dir() else root
    return None


def _kill_cgroup(path: Path) -> None:
    """SIGKILL every process in the cgroup at ``path`` until it is empty (or 5 s pass)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def _cgroup_counter(path: Path, key: str) -> int:
    """The value of ``key`` in a cgroup file of ``key value`` lines (0 when absent)."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _platform_home() -> Path:
    """The platform's home (settings ``home``): what the sandbox must never show."""
    from brainmark.settings import get_settings

    return get_settings().home.resolve()


def _check_bind(path: Path, home: Path) -> None:
    """Refuse a bind that would show the platform's home, database or secret key."""
    if path == home or home.is_relative_to(path):
        raise SandboxError(f"run_sandboxed: binding {path} would expose the platform's home "
                           f"{home}; bind a folder that does not contain it")
    platform = home / "platform"
    if path == platform or (path.is_relative_to(home) and platform.is_relative_to(path)):
        raise SandboxError(f"run_sandboxed: binding {path} would expose the platform's "
                           f"database and secret key under {platform}")


def _child_env(extra: Mapping[str, str], workdir: Path, isolation: str) -> dict[str, str]:
    """The child's whole environment: a few fixed variables plus the caller's, never secrets."""
    for name in extra:
        if _SECRET_NAME.search(name):
            raise SandboxError(f"run_sandboxed: refusing to pass the variable {name!r} into "
                               "the sandbox: its name looks like a secret")
    venv_bin = str(Path(sys.prefix) / "bin")
    home = SANDBOX_HOME if isolation == "bubblewrap" else str(workdir)
    env = {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": home,
           "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra)
    return env


def _unshare_net() -> list[str]:
    """``unshare`` arguments for a private network namespace (as root, or via a user ns)."""
    if os.geteuid() == 0:
        return ["unshare", "--net"]
    return ["unshare", "--user", "--map-root-user", "--net"]


def _system_mounts() -> _Mounts:
    """The read-only system: /usr, its symlinks, and the /etc pieces programs need."""
    mounts = _Mounts()
    mounts.bind(Path("/usr"))
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        top = Path("/") / name
        if top.is_symlink():
            mounts.args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            mounts.bind(top)
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl",
                 "localtime", "mime.types"):
        path = Path("/etc") / name
        if path.exists():
            mounts.bind(path)
    return mounts


class _Mounts:
    """bwrap mount options, with every parent folder of a bind made world-readable first.

    bwrap run by root makes the missing parents of a bind's destination with mode 0700, so
    the unprivileged job could not reach ``/etc/ld.so.cache`` or the interpreter under
    ``/root/.pyenv``; ``--perms 0755 --dir`` each parent first.
    """

    def __init__(self, args: list[str] | None = None) -> None:
        self.args: list[str] = list(args or [])
        self.made: set[Path] = {Path("/"), Path("/tmp"), Path("/home"), Path(SANDBOX_HOME)}
        self.bound: list[Path] = []  # host trees: everything under them exists already

    def bind(self, path: Path, *, writable: bool = False) -> None:
        for parent in reversed(path.parents):
            if parent in self.made or any(parent.is_relative_to(b) for b in self.bound):
                continue
            self.args += ["--perms", "0755", "--dir", str(parent)]
            self.made.add(parent)
        self.args += ["--bind" if writable else "--ro-bind", str(path), str(path)]
        self.bound.append(path)


def _python_paths() -> list[Path]:
    """The platform's Python environment: venv, base interpreter, brainmark's source folder."""
    source = Path(__file__).resolve().parents[2]  # the folder holding the brainmark package
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent.parent, source}
    # Keep only the outermost of nested paths (binding a parent covers its children).
    return sorted(p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths))


def _bwrap_args(workdir: Path, readonly: Sequence[Path], env: Mapping[str, str],
                as_root: bool) -> list[str]:
    """bwrap options and the command prefix for one job (the module docstring says why).

    ``as_root``: bwrap runs privileged (no user namespace) and the job drops to the real
    uid 65534 with ``setpriv`` inside; otherwise bwrap maps the caller to 65534 in a user
    namespace.
    """
    # The tmpfs first: a workdir or read-only path under /tmp is bound on top of it. Mode
    # 1777: the job's uid does not own them (they are private to this job's mount namespace).
    mounts = _system_mounts()
    mounts.args += ["--perms", "1777", "--tmpfs", "/tmp", "--perms", "0755", "--dir", "/home",
                    "--perms", "1777", "--tmpfs", SANDBOX_HOME]
    # Outermost first: a path inside one already bound (a venv under /usr) is there already.
    for path in sorted({*_python_paths(), *readonly}):
        if not any(path.is_relative_to(bound) for bound in mounts.bound):
            mounts.bind(path)
    mounts.bind(workdir, writable=True)
    args = [*mounts.args, *_DEV_PROC, "--die-with-parent", "--new-session", "--clearenv",
            "--chdir", str(workdir),
            # Last of the mount operations: the new root's own tmpfs (where bwrap made /etc,
            # /home, ...) becomes read-only; /tmp, the home and workdir stay writable.
            "--remount-ro", "/"]
    args += _namespaces(as_root)
    for name, value in env.items():
        args += ["--setenv", name, value]
    return [*args, "--", *_drop_to_nobody(as_root)]


# A minimal /dev, with a /dev/shm the job may write (torch's worker processes share
# tensors through it), and /proc of the new PID namespace.
_DEV_PROC = ("--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm", "--proc", "/proc")


def _runs_privileged() -> bool:
    """Whether bwrap runs as root and drops the job to uid 65534 itself (see the docstring)."""
    return os.geteuid() == 0 and Path(SETPRIV).exists()


def _namespaces(as_root: bool) -> list[str]:
    """bwrap's namespace options: privileged (root, no user namespace) or unprivileged."""
    if as_root:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--cap-add", "CAP_SETUID,CAP_SETGID"]
    return ["--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID)]


def _drop_to_nobody(as_root: bool) -> list[str]:
    """The command prefix that makes a privileged sandbox's job uid 65534, capability-free."""
    if not as_root:
        return []
    return [SETPRIV, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--"]
