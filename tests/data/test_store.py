"""Versioned object stores: a local folder and an S3 server (moto, over real HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainmark.data import LocalStore, S3Store, open_store
from brainmark.data.store import default_store
from brainmark.exceptions import StoreError


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_same_key_uploaded_twice_keeps_both_versions(store, tmp_path):
    location, first = store.upload(write(tmp_path / "v1", b"first"), "sets/data.csv")
    _, second = store.upload(write(tmp_path / "v2", b"second, longer"), "sets/data.csv")
    assert location == f"{store.location}/sets/data.csv"
    assert first and second and first != second
    assert store.versions("sets/data.csv") == [first, second]
    assert store.download("sets/data.csv", tmp_path / "a", first).read_bytes() == b"first"
    assert store.download("sets/data.csv", tmp_path / "b", second).read_bytes() == (
        b"second, longer"
    )
    assert store.download("sets/data.csv", tmp_path / "c").read_bytes() == b"second, longer"


def test_missing_key_is_an_error_naming_it(store, tmp_path):
    with pytest.raises(StoreError, match=r"nothing\.csv"):
        store.download("nothing.csv", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_missing_version_is_an_error_and_keeps_the_destination(store, tmp_path):
    store.upload(write(tmp_path / "v1", b"first"), "data.csv")
    destination = write(tmp_path / "out" / "existing", b"keep me")
    with pytest.raises(StoreError, match="version"):
        store.download("data.csv", destination, version_id="no-such-version")
    assert destination.read_bytes() == b"keep me"
    assert [p.name for p in destination.parent.iterdir()] == ["existing"]


def test_uploading_a_missing_file_is_an_error(store, tmp_path):
    with pytest.raises(StoreError, match=r"Cannot upload .*missing.*no such file"):
        store.upload(tmp_path / "missing", "data.csv")


@pytest.mark.parametrize("key", ["", "/abs", "../up", "a/../b", ".versions/x", "a\\b"])
def test_unsafe_keys_are_refused(local_store, tmp_path, key):
    with pytest.raises(StoreError, match="Invalid store key"):
        local_store.upload(write(tmp_path / "f", b"x"), key)


def test_a_plain_folder_of_files_is_a_store_for_the_latest_version(tmp_path):
    write(tmp_path / "plugin" / "assy_x.nc", b"packaged")
    store = open_store((tmp_path / "plugin").as_uri())
    assert isinstance(store, LocalStore)
    assert store.download("assy_x.nc", tmp_path / "copy").read_bytes() == b"packaged"
    assert store.versions("assy_x.nc") == []
    with pytest.raises(StoreError, match=r"has no version 'v1' of 'assy_x\.nc'"):
        store.download("assy_x.nc", tmp_path / "copy", version_id="v1")


def test_local_latest_file_reads_like_a_plain_folder(local_store, tmp_path):
    local_store.upload(write(tmp_path / "v1", b"one"), "k/file.bin")
    local_store.upload(write(tmp_path / "v2", b"two"), "k/file.bin")
    assert (local_store.root / "k" / "file.bin").read_bytes() == b"two"


def test_open_store_parses_locations():
    s3 = open_store("s3://bucket/some/prefix/")
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    assert s3.location == "s3://bucket/some/prefix"
    bare = open_store("brainio-brainscore/sub")
    assert isinstance(bare, S3Store) and (bare.bucket, bare.prefix) == (
        "brainio-brainscore", "sub")
    local = open_store("file:///tmp/a%20folder")
    assert isinstance(local, LocalStore) and local.root == Path("/tmp/a folder")
    assert isinstance(open_store(Path("relative")), LocalStore)
    assert open_store(local) is local
    with pytest.raises(StoreError, match="Unsupported store location 'ftp://x'"):
        open_store("ftp://x")
    with pytest.raises(StoreError, match="must be local"):
        open_store("file://host/path")


def test_default_store_is_a_folder_under_home(brainmark_home):
    store = default_store()
    assert isinstance(store, LocalStore)
    assert store.root == brainmark_home / "store"
