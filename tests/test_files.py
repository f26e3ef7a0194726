"""_files: checksummed JSON for derived files, the per-process file-hash memo."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from brainmark import _files
from brainmark._files import content_sha1, read_checked_json, write_checked_json
from brainmark.exceptions import CacheIntegrityWarning


def test_checked_json_round_trips_and_records_the_sha1_of_its_canonical_content(tmp_path):
    path = tmp_path / "record.json"
    content = {"value": 0.5, "layers": ["a", "b"]}
    write_checked_json(path, content)
    envelope = json.loads(path.read_text())
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    assert envelope["sha1"] == hashlib.sha1(canonical).hexdigest()
    assert read_checked_json(path, what="record") == content


def test_a_missing_checked_file_is_none_without_a_warning(tmp_path, recwarn):
    assert read_checked_json(tmp_path / "absent.json", what="record") is None
    assert not recwarn.list


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"format": "brainmark-checked/1", "sha1": "0", "content": {"value": 0.9}}',
         "does not match its checksum"),
        ("[]", "has no checksum"),
        ('{"value": 0.5', "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_a_damaged_checked_file_is_named_in_a_warning_and_read_as_none(tmp_path, text, reason):
    path = tmp_path / "record.json"
    path.write_text(text)
    with pytest.warns(CacheIntegrityWarning, match=f"{path} is damaged: .*{reason}"):
        assert read_checked_json(path, what="record") is None


def test_the_file_hash_memo_never_answers_for_a_file_written_moments_ago(tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(b"a" * 100)
    first = content_sha1(path)
    path.write_bytes(b"b" * 100)  # same size, maybe the same coarse timestamp
    assert content_sha1(path) == hashlib.sha1(b"b" * 100).hexdigest() != first


def test_the_file_hash_memo_sees_a_same_size_rewrite_with_the_old_mtime(tmp_path, monkeypatch):
    monkeypatch.setattr(_files, "_RACY_NS", 0)  # as if the file were old when first hashed
    path = tmp_path / "image.png"
    path.write_bytes(b"a" * 100)
    mtime = path.stat().st_mtime_ns
    content_sha1(path)
    assert any(key[0] == str(path) for key in _files._content_memo)
    time.sleep(0.05)  # past the file system's timestamp granularity
    path.write_bytes(b"b" * 100)
    os.utime(path, ns=(mtime, mtime))  # mtime put back; the ctime still moved on
    assert content_sha1(path) == hashlib.sha1(b"b" * 100).hexdigest()


@pytest.mark.parametrize(
    ("text", "name"),
    [("Kriegeskorte2008.IT-rdm", "Kriegeskorte2008.IT-rdm"), ("a/b c", "a_b_c"),
     ("..", "_."), (".hidden", "_hidden"), ("", "_"), ("mod\u00e8le", "mod_le")],
)
def test_safe_file_name_keeps_one_harmless_name(text, name):
    assert _files.safe_file_name(text) == name
