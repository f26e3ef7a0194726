"""Hostile plugins: scaffolded model plugins whose ``test.py`` or ``__init__.py`` attacks the
platform, zipped as a submitter would send them.

Each source is a template filled with a JSON ``CONFIG`` (paths, ports, pids, a marker) that
the test knows and the platform does not. The probe reports what each attack achieved on
one line, ``HOSTILE-REPORT {json}``, so the test can assert on every attempt, then fails on
purpose; the other plugins stop at a limit (memory, processes, time) or flood the log.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import yaml
from tests.platform.submission_zips import METADATA

REPORT_PREFIX = "HOSTILE-REPORT "

# test.py of the probe: every attack that does not end the job, each attempt's outcome kept.
PROBE_TEST = '''
import json, os, signal, socket, subprocess, sys
from pathlib import Path

CONFIG = json.loads(%(config)r)


def attempt(action):
    try:
        return action()
    except BaseException as error:  # every refusal, by its type and message
        return f"{type(error).__name__}: {error}"


def read(path):
    return "read: " + Path(path).read_text(errors="replace")[:300]


def write(path):
    path = Path(path)
    if path.exists():  # opened for appending, nothing written: the refusal is the test
        with path.open("a"):
            pass
    else:
        path.write_text("planted by a hostile plugin")
    return "written"


def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=3).close()
    return "connected"


def kill(pid):
    os.kill(pid, signal.SIGKILL)
    return "killed"


def leave_behind():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", CONFIG["marker"]],
                     start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return "started"


def test_a_hostile_probe():
    # Every plugin folder of the test's plugin roots: the store's, and this one's own.
    roots = [Path(r) for r in os.environ.get("BRAINMARK_PLUGIN_PATH", "").split(os.pathsep) if r]
    folders = [folder for root in roots for folder in root.glob("*/*") if folder.is_dir()]
    tampered = [str(f / "__init__.py") for f in folders]
    tampered += [str(root / "models" / "planted.py") for root in roots]
    report = {
        "environ": dict(os.environ),
        "plugin_folders": [str(f) for f in folders],
        "reads": {p: attempt(lambda p=p: read(p)) for p in CONFIG["secret_files"]},
        "writes": {p: attempt(lambda p=p: write(p)) for p in CONFIG["write_targets"] + tampered},
        "connections": {str(p): attempt(lambda p=p: connect(p)) for p in CONFIG["ports"]},
        "kills": {str(p): attempt(lambda p=p: kill(p)) for p in CONFIG["pids"]},
        "left_behind": attempt(leave_behind),
    }
    print("%(prefix)s" + json.dumps(report), flush=True)
    raise AssertionError("a hostile plugin fails on purpose")
'''

# __init__.py additions, run when the plugin is imported (before any test).
MEMORY_HOG = '''
chunks = []
while True:  # bytes written, so every page is really used
    chunks.append(b"x" * (64 * 1024 * 1024))
'''

ENDLESS_LOOP = '''
print("looping forever", flush=True)
while True:
    pass
'''

# Under pytest (not in the platform's import check, whose output is captured): straight into
# the sandbox's log pipe, which pytest keeps open as a copy of its stdout, past its capture.
LOG_FLOOD = '''
import os, stat, sys
if "pytest" in sys.modules:
    pipes = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISFIFO(os.fstat(int(name)).st_mode):
                pipes.append(int(name))
        except OSError:
            pass
    line = b"gigabytes of log " * 4096 + b"\\n"
    while True:
        for fd in pipes:
            os.write(fd, line)
'''


def probe_test(config: dict) -> str:
    """The probe's ``test.py`` with ``config`` (secret_files, write_targets, ports, pids,
    marker)."""
    return PROBE_TEST % {"config": json.dumps(config), "prefix": REPORT_PREFIX}


def probe_report(log: str) -> dict:
    """The probe's report, read from a submission's log."""
    lines = [line for line in log.splitlines() if line.startswith(REPORT_PREFIX)]
    assert lines, f"the probe printed no report; the log:\n{log[-3000:]}"
    return json.loads(lines[-1][len(REPORT_PREFIX):])


def hostile_model_zip(folder: Path, identifier: str, *, test_source: str | None = None,
                      init_source: str = "", register_as: str | None = None) -> Path:
    """A scaffolded model plugin zipped as ``models/<folder>/...``: ``test_source`` replaces
    its test.py, ``init_source`` is appended to its ``__init__.py`` (runs at import), and
    ``register_as`` renames its registration (an identifier someone else owns)."""
    from brainmark._scaffold import new_model

    source = folder / f"source-{identifier}"
    scaffold = new_model(identifier, source)
    (scaffold.folder / "metadata.yml").write_text(yaml.safe_dump(METADATA))
    if test_source is not None:
        (scaffold.folder / "test.py").write_text(test_source)
    init = scaffold.folder / "__init__.py"
    text = init.read_text()
    if register_as is not None:
        text = text.replace(f'"{identifier}"', f'"{register_as}"')
    init.write_text(text + init_source)
    path = folder / f"{identifier}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(source.rglob("*")):
            archive.write(file, file.relative_to(source).as_posix())
    return path
