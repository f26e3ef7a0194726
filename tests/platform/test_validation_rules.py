"""Each validation rule refuses its bad zip, through the API, with its file, rule and message.

One case per rule that :func:`brainmark.pipeline.archive.validate_archive` and the intake
(:mod:`brainmark.platform.submissions.intake`) enforce: every case builds its bad zip here
and posts it with an API token to ``POST /api/submissions/``. A refused archive answers 201
with status ``rejected`` and exactly the problems expected (an archive over the size limit
answers 413 and stores nothing); nothing is merged or queued, the stored archive is still
there byte for byte, and the submitter is mailed the problems.

The API's limits are made small here (:data:`LIMITS`), so the size rules cost kilobytes.
"""

# The fixtures imported from submission_zips are the tests' parameters, which pyflakes reads
# as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import os
import random
import stat
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from tests.platform.submission_zips import (  # noqa: F401 (fixtures)
    BENCHMARK_METADATA,
    METADATA,
    api,
    home,
    make_user,
    store_root,
    stored_files,
    submit,
    test_client_host,
    user,
    write_zip,
)

from brainmark.pipeline.archive import ArchiveLimits

pytestmark = pytest.mark.db

KB = 1024
LIMITS = ArchiveLimits(
    max_archive_bytes=128 * KB,
    max_files=40,
    max_file_bytes=64 * KB,
    max_total_bytes=256 * KB,
    ratio_floor_bytes=16 * KB,
    chunk_bytes=4 * KB,
)

FOLDER = "models/rules_net"
MODEL_INIT = 'from brainmark.registry import model_registry\n\nmodel_registry["{name}"] = print\n'
BENCHMARK = "Rules2026.IT-pls"
BENCHMARK_FOLDER = "benchmarks/rules2026_it_pls"
BENCHMARK_INIT = ('from brainmark.registry import benchmark_registry\n\n'
                  f'benchmark_registry["{BENCHMARK}"] = print\n')


def model_entries(folder: str = FOLDER, name: str = "rules-net", *,
                  metadata: dict | str | None = None) -> list:
    """A model plugin that passes every rule (``metadata`` replaces its metadata.yml)."""
    text = metadata if isinstance(metadata, str) else yaml.safe_dump(metadata or METADATA)
    return [
        (f"{folder}/__init__.py", MODEL_INIT.format(name=name)),
        (f"{folder}/test.py", "def test_nothing():\n    pass\n"),
        (f"{folder}/metadata.yml", text),
    ]


def without(entries: list, name: str) -> list:
    return [(n, data) for n, data in entries if n != name]


def replaced(entries: list, name: str, data: str) -> list:
    return [(n, data if n == name else d) for n, d in entries]


def compressible(size: int, seed: int = 0) -> bytes:
    """``size`` bytes of two letters at random: about 8 to 1 deflated, under every ratio."""
    return bytes(random.Random(seed).choices(b"ab", k=size))


def special(name: str, file_type: int) -> zipfile.ZipInfo:
    """An entry whose Unix file type (in the external attributes) is ``file_type``."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the file type is in the high 16 bits
    info.external_attr = (file_type | 0o777) << 16
    return info


# --- zips needing more than a list of entries ------------------------------------------------


def not_utf8(path: Path) -> Path:
    write_zip(path, [*model_entries(), (f"{FOLDER}/QQ.py", "")])
    data = path.read_bytes()
    assert data.count(b"QQ.py") == 2  # local header and central directory, no UTF-8 flag
    path.write_bytes(data.replace(b"QQ.py", b"\xff\xfe.py"))
    return path


def encrypted(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in model_entries():
            archive.writestr(name, data)
        archive.writestr(f"{FOLDER}/secret.py", "x = 1\n")
        archive.getinfo(f"{FOLDER}/secret.py").flag_bits |= 0x1  # in the central directory
    return path


def bzip2(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in model_entries():
            archive.writestr(name, data)
        archive.writestr(f"{FOLDER}/model.py", "x = 1\n", compress_type=zipfile.ZIP_BZIP2)
    return path


def overlapping(path: Path) -> Path:
    """The 'overlapping files' bomb: two central entries pointing at one compressed blob."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in model_entries():
            archive.writestr(name, data)
        archive.writestr(f"{FOLDER}/a.bin", bytes(1000))
        twin = copy.copy(archive.getinfo(f"{FOLDER}/a.bin"))
        twin.filename = twin.orig_filename = f"{FOLDER}/b.bin"
        archive.filelist.append(twin)
    return path


def declaring_more(path: Path) -> Path:
    info = zipfile.ZipInfo(f"{FOLDER}/model.py")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in model_entries():
            archive.writestr(name, data)
        archive.writestr(info, b"x = 1\n")
        info.file_size = 10_000  # the central directory now lies
    return path


def damaged(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:  # stored: the bytes appear as they are
        for name, data in model_entries():
            archive.writestr(name, data)
        archive.writestr(f"{FOLDER}/model.py", b"weights = 'AAAA'\n")
    path.write_bytes(path.read_bytes().replace(b"'AAAA'", b"'AAAB'"))
    return path


def renamed_local_header(path: Path) -> Path:
    write_zip(path, [*model_entries(), (f"{FOLDER}/QQ.py", "x = 1\n")])
    data = path.read_bytes()
    local = data.index(b"QQ.py")  # the local header comes first, the central entry last
    path.write_bytes(data[:local] + b"RR.py" + data[local + 5:])
    return path


def not_a_zip(path: Path) -> Path:
    path.write_bytes(b"this is plain text, not a zip archive\n" * 10)
    return path


# --- the cases ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """A bad zip (``build(path, make_user)`` writes it) and the one problem it must have."""

    id: str
    build: Callable[[Path, Callable], Path]
    file: str
    rule: str
    says: str  # a part of the message


def entries(*items) -> Callable[[Path, Callable], Path]:
    return lambda path, make_user: write_zip(path, list(items))


def crafted(function: Callable[[Path], Path]) -> Callable[[Path, Callable], Path]:
    return lambda path, make_user: function(path)


def owned(table: str, identifier: str, owner: str, zip_entries: list,
          ) -> Callable[[Path, Callable], Path]:
    """A zip registering ``identifier``, which ``owner`` ('another user' or 'the platform')
    has on the leaderboard already."""
    def build(path: Path, make_user: Callable) -> Path:
        from brainmark.platform.leaderboard import models

        getattr(models, table).objects.create(
            identifier=identifier, owner=make_user() if owner == "another user" else None)
        return write_zip(path, zip_entries)

    return build


GOOD = model_entries()
INIT = f"{FOLDER}/__init__.py"
META = f"{FOLDER}/metadata.yml"
REQUIREMENTS = f"{FOLDER}/requirements.txt"

SAFETY_CASES = [
    Case("absolute path", entries(*GOOD, ("/etc/evil.py", "x")),
         "/etc/evil.py", "relative paths only", "absolute path"),
    Case("drive letter", entries(*GOOD, ("C:/evil.py", "x")),
         "C:/evil.py", "relative paths only", "absolute path"),
    Case("dot-dot", entries(*GOOD, (f"{FOLDER}/../../evil.py", "x")),
         f"{FOLDER}/../../evil.py", "no '..'", "'..' component"),
    Case("empty component", entries(*GOOD, ("models//rules_net/x.py", "x")),
         "models//rules_net/x.py", "no empty or '.' components", "empty or '.' component"),
    Case("backslash", entries(*GOOD, ("models\\rules_net\\x.py", "x")),
         "models\\rules_net\\x.py", "forward slashes only", "backslash"),
    Case("space", entries(*GOOD, (f"{FOLDER}/my file.py", "x")),
         f"{FOLDER}/my file.py", "no spaces in paths", "space"),
    Case("control character", entries(*GOOD, (f"{FOLDER}/x\n.py", "x")),
         repr(f"{FOLDER}/x\n.py"), "no control characters", "control character"),
    Case("symbolic link", entries(*GOOD, (special(f"{FOLDER}/weights.py", stat.S_IFLNK),
                                          "/etc/passwd")),
         f"{FOLDER}/weights.py", "regular files only", "a symbolic link"),
    Case("character device", entries(*GOOD, (special(f"{FOLDER}/tty", stat.S_IFCHR), "")),
         f"{FOLDER}/tty", "regular files only", "a character device"),
    Case("block device", entries(*GOOD, (special(f"{FOLDER}/disk", stat.S_IFBLK), "")),
         f"{FOLDER}/disk", "regular files only", "a block device"),
    Case("named pipe", entries(*GOOD, (special(f"{FOLDER}/pipe", stat.S_IFIFO), "")),
         f"{FOLDER}/pipe", "regular files only", "a named pipe"),
    Case("duplicate ignoring case", entries(*GOOD, (f"{FOLDER}/TEST.py", "")),
         f"{FOLDER}/TEST.py", "no duplicate names", f"the same name as {FOLDER}/test.py"),
    Case("file and folder", entries(*GOOD, (f"{FOLDER}/test.py/x.py", "")),
         f"{FOLDER}/test.py/x.py", "no duplicate names", "both a file and a folder"),
    Case("overlapping entries", crafted(overlapping),
         f"{FOLDER}/b.bin", "no overlapping entries", f"overlaps that of {FOLDER}/a.bin"),
    Case("file count", entries(*GOOD, *((f"{FOLDER}/f{i}.py", "") for i in range(38))),
         "submission.zip", "file count", "41 entries, over the limit of 40"),
    Case("single-file size", entries(*GOOD, (f"{FOLDER}/w.bin", compressible(100 * KB))),
         f"{FOLDER}/w.bin", "single-file size", "over the limit of 65,536 bytes"),
    # Five files of 60 KB: the fifth passes 256 KB in all.
    Case("total size", entries(*GOOD, *((f"{FOLDER}/w{i}.bin", compressible(60 * KB, i))
                                        for i in range(5))),
         f"{FOLDER}/w4.bin", "total size", "over the limit of 262,144 bytes"),
    Case("compression ratio (a bomb of zeros)", entries(*GOOD, (f"{FOLDER}/zeros.bin",
                                                                bytes(60 * KB))),
         f"{FOLDER}/zeros.bin", "compression ratio", "zip bomb"),
    Case("names not UTF-8", crafted(not_utf8),
         repr(f"{FOLDER}/".encode().decode("cp437") + b"\xff\xfe.py".decode("cp437")),
         "names in UTF-8", "not valid UTF-8"),
    Case("encrypted", crafted(encrypted),
         f"{FOLDER}/secret.py", "no encryption", "encrypted"),
    Case("neither stored nor deflated", crafted(bzip2),
         f"{FOLDER}/model.py", "stored or deflated", "compression method 12"),
    Case("sizes as declared", crafted(declaring_more),
         f"{FOLDER}/model.py", "sizes as declared", "holds 6 bytes but its header declares"),
    Case("checksum", crafted(damaged), f"{FOLDER}/model.py", "checksum", "CRC-32"),
    Case("local header naming another file", crafted(renamed_local_header),
         f"{FOLDER}/QQ.py", "zip format", "local header names another file"),
    Case("not a zip", crafted(not_a_zip), "submission.zip", "zip format", "not a readable zip"),
]

LAYOUT_CASES = [
    Case("no plugin folder", entries(("README.md", "hello")),
         "/", "plugin layout", "holds README.md"),
    Case("a folder outside models, benchmarks, data, metrics",
         entries(*GOOD, ("scripts/run.py", "x")),
         "scripts", "plugin layout", "move or remove scripts"),
    Case("a plugin type that is a file", entries(*GOOD, ("benchmarks", "x")),
         "benchmarks", "plugin layout", "must be a folder of plugin folders"),
    Case("a file where plugin folders belong", entries(*GOOD, ("models/loose.py", "x")),
         "models/loose.py", "plugin layout", "plugin folders only"),
    Case("plugin folder name", entries(*model_entries("models/2net")),
         "models/2net/", "plugin folder name", "not a valid plugin folder name"),
    Case("missing __init__.py", entries(*without(GOOD, INIT)),
         INIT, "plugin layout", "needs __init__.py"),
    Case("missing test.py", entries(*without(GOOD, f"{FOLDER}/test.py")),
         f"{FOLDER}/test.py", "plugin layout", "needs test.py"),
    Case("missing metadata.yml", entries(*without(GOOD, META)),
         META, "plugin layout", "needs metadata.yml"),
    Case("metadata not YAML", entries(*model_entries(metadata="architecture: [CNN\n")),
         META, "metadata", "not valid YAML"),
    Case("metadata not a mapping", entries(*model_entries(metadata="- CNN\n")),
         META, "metadata", "must be a mapping"),
    Case("metadata field missing",
         entries(*model_entries(metadata={k: v for k, v in METADATA.items()
                                          if k != "architecture"})),
         META, "metadata", "the field 'architecture' is missing"),
    Case("metadata field of the wrong type",
         entries(*model_entries(metadata={**METADATA, "parameters": "many"})),
         META, "metadata", "'parameters' must be a whole number >= 0"),
    Case("metadata empty text", entries(*model_entries(metadata={**METADATA, "license": " "})),
         META, "metadata", "'license' must be non-empty text"),
    Case("metadata unknown field", entries(*model_entries(metadata={**METADATA, "colour": 1})),
         META, "metadata", "unknown field(s) colour"),
    Case("benchmark metadata field missing",
         entries((f"{BENCHMARK_FOLDER}/__init__.py", BENCHMARK_INIT),
                 (f"{BENCHMARK_FOLDER}/test.py", ""),
                 (f"{BENCHMARK_FOLDER}/metadata.yml",
                  yaml.safe_dump({k: v for k, v in BENCHMARK_METADATA.items() if k != "region"}))),
         f"{BENCHMARK_FOLDER}/metadata.yml", "metadata", "the field 'region' is missing"),
    Case("requirement by URL",
         entries(*GOOD, (REQUIREMENTS, "numpy\nhttps://example.org/evil.whl\n")),
         f"{REQUIREMENTS} line 2", "requirements", "not a package from the index"),
    Case("editable requirement", entries(*GOOD, (REQUIREMENTS, "-e .\n")),
         f"{REQUIREMENTS} line 1", "requirements", "not a package from the index"),
    Case("requirement from a local path", entries(*GOOD, (REQUIREMENTS, "./vendor/pkg\n")),
         f"{REQUIREMENTS} line 1", "requirements", "not a package from the index"),
    Case("requirements option", entries(*GOOD, (REQUIREMENTS,
                                                 "--index-url https://evil.example\n")),
         f"{REQUIREMENTS} line 1", "requirements", "not a package from the index"),
    Case("requirement from git", entries(*GOOD, (REQUIREMENTS, "git+https://host/x.git\n")),
         f"{REQUIREMENTS} line 1", "requirements", "not a package from the index"),
    Case("requirement not valid", entries(*GOOD, (REQUIREMENTS, "numpy >> 1\n")),
         f"{REQUIREMENTS} line 1", "requirements", "not a valid requirement"),
    Case("registers nothing", entries(*replaced(GOOD, INIT, "x = 1\n")),
         INIT, "registrations", "registers nothing"),
    Case("registrations need running code", entries(*replaced(GOOD, INIT, "def broken(:\n")),
         INIT, "registrations readable without running code", "__init__.py"),
    Case("registry not matching the folder",
         entries(*replaced(GOOD, INIT, BENCHMARK_INIT)),
         f"{INIT} line 3", "registry matches folder", "move it to benchmarks/"),
    Case("invalid identifier", entries(*model_entries(name="rules net!")),
         f"{INIT} line 3", "identifier characters", "rules net!"),
    Case("identifier registered twice",
         entries(*GOOD, *model_entries("models/rules_net_two")),
         "models/rules_net_two/__init__.py line 3", "unique identifiers",
         f"'rules-net' is also registered by {FOLDER}"),
    Case("model identifier of another user",
         owned("Model", "rules-net", "another user", GOOD),
         INIT, "identifier ownership", "rules-net belongs to another user"),
    Case("built-in model identifier",
         owned("Model", "rules-net", "the platform", GOOD),
         INIT, "identifier ownership", "rules-net belongs to the platform (built in)"),
    Case("benchmark identifier of another user",
         owned("BenchmarkType", BENCHMARK, "another user",
               [(f"{BENCHMARK_FOLDER}/__init__.py", BENCHMARK_INIT),
                (f"{BENCHMARK_FOLDER}/test.py", ""),
                (f"{BENCHMARK_FOLDER}/metadata.yml", yaml.safe_dump(BENCHMARK_METADATA))]),
         f"{BENCHMARK_FOLDER}/__init__.py", "identifier ownership",
         f"{BENCHMARK} belongs to another user"),
]


# --- fixtures and checks ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's archive limits (built per request) are :data:`LIMITS`."""
    monkeypatch.setattr("brainmark.platform.submissions.api.ArchiveLimits",
                        functools.partial(ArchiveLimits, **dataclasses.asdict(LIMITS)))


@pytest.fixture(autouse=True)
def outbox() -> Iterator[list]:
    """Mails go to Django's in-memory outbox."""
    from django.core import mail
    from django.test import override_settings

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        yield mail.outbox


def assert_refused_and_kept(response, path: Path, user, home: Path, store_root: Path,
                            outbox: list, expected: list[tuple[str, str, str]]) -> None:
    """201 ``rejected`` with exactly the ``expected`` (file, rule, part of the message);
    nothing merged or queued; the archive stored byte for byte; the problems mailed."""
    from brainmark.data.store import open_store
    from brainmark.platform.submissions.models import Job, Submission

    assert response.status_code == 201, response.content
    body = response.json()
    row = Submission.objects.get(pk=body["id"])
    assert (body["status"], row.status) == ("rejected", "rejected")
    assert body["problems"] == row.problems
    assert [(p["file"], p["rule"]) for p in row.problems] == [(f, r) for f, r, _ in expected]
    for problem, (_, _, says) in zip(row.problems, expected, strict=True):
        assert says in problem["message"], problem
        # The log names the file, the message and the rule of every problem.
        assert f"- {problem['file']}: {problem['message']} [{problem['rule']}]" in row.log
    # Nothing merged, nothing queued.
    assert not Job.objects.filter(submission=row).exists()
    assert merged_submission_ids(home) == []
    # Durable even when refused: the zip is in the store, byte for byte.
    assert len(stored_files(store_root)) == 1
    fetched = open_store(store_root.as_uri()).download(
        row.archive_key, path.with_name("fetched.zip"), version_id=row.archive_version_id)
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    assert hashlib.sha1(fetched.read_bytes()).hexdigest() == row.archive_sha1 == sha1
    # Nothing extracted is left.
    assert list((home / "platform" / "work").iterdir()) == []
    # The submitter is told, with every problem.
    [mail] = outbox
    assert mail.to == [user.email]
    assert f"Submission #{row.pk} was rejected" in mail.subject
    for problem in row.problems:
        assert f"- {problem['file']} [{problem['rule']}]: {problem['message']}" in mail.body


def merged_submission_ids(home: Path) -> list[str]:
    """The ``Submission-Id`` trailers of the plugin store's commits (none without a store)."""
    from brainmark.settings import get_settings

    store = get_settings().plugin_store_dir
    assert store.is_relative_to(home)
    if not store.exists():
        return []
    log = subprocess.run(["git", "-C", str(store), "log", "--format=%(trailers:key=Submission-Id,"
                          "valueonly)"], capture_output=True, text=True, check=True).stdout
    return log.split()


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SAFETY_CASES + LAYOUT_CASES, ids=lambda case: case.id)
def test_each_rule_refuses_its_bad_zip_with_its_message(case, api, user, make_user, home,
                                                         store_root, outbox, tmp_path):
    path = case.build(tmp_path / "submission.zip", make_user)
    response = submit(api, path)
    assert_refused_and_kept(response, path, user, home, store_root, outbox,
                            [(case.file, case.rule, case.says)])


def test_several_problems_are_reported_together(api, user, home, store_root, outbox,
                                                tmp_path):
    path = write_zip(tmp_path / "submission.zip", [
        *without(model_entries(metadata={**METADATA, "parameters": -1}), f"{FOLDER}/test.py"),
        (REQUIREMENTS, "numpy>=1.20\n-e git+https://host/x.git\n"),
        ("scripts/run.py", "x"),
        *model_entries("models/rules_net_two", name="rules net!"),
    ])
    response = submit(api, path)
    assert_refused_and_kept(response, path, user, home, store_root, outbox, [
        (f"{FOLDER}/test.py", "plugin layout", "needs test.py"),
        (META, "metadata", "'parameters' must be a whole number >= 0 (e.g. 11689512); got -1."),
        (f"{REQUIREMENTS} line 2", "requirements", "not a package from the index"),
        ("models/rules_net_two/__init__.py line 3", "identifier characters", "rules net!"),
        ("scripts", "plugin layout", "move or remove scripts"),
    ])
    from brainmark.platform.submissions.models import Submission

    log = Submission.objects.get(pk=response.json()["id"]).log
    assert "Refused with 5 problem(s); nothing was queued" in log


def test_an_archive_over_the_size_limit_is_refused_while_it_streams(api, user, home,
                                                                    store_root, outbox,
                                                                    tmp_path):
    from brainmark.platform.submissions.models import Submission

    # Random bytes, stored: the zip is as large as its content, just over the limit, so the
    # request's length alone (less the form's allowance) does not refuse it.
    path = write_zip(tmp_path / "submission.zip",
                     [*model_entries(), (f"{FOLDER}/w.bin", os.urandom(LIMITS.max_archive_bytes))])
    assert path.stat().st_size > LIMITS.max_archive_bytes
    response = submit(api, path)
    assert response.status_code == 413, response.content
    assert "over the limit of 131,072 bytes" in response.json()["detail"]
    assert "Nothing was stored" in response.json()["detail"]
    assert not Submission.objects.filter(user=user).exists()
    assert stored_files(store_root) == []
    assert outbox == []
