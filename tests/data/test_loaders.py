"""Loading from stores: exact round trips, pinned versions, SHA1 checks and a safe cache."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainmark import _files
from brainmark.data import (
    BehavioralAssembly,
    DataAssembly,
    LocalStore,
    NeuroidAssembly,
    PropertyAssembly,
    load_assembly_from_s3,
    load_assembly_from_store,
    load_stimulus_set_from_s3,
    load_stimulus_set_from_store,
    package_data_assembly_locally,
    package_stimulus_set_locally,
)
from brainmark.data import loaders as loaders_module
from brainmark.exceptions import ChecksumMismatchError, ValidationError


def upload_stimulus_set(stimuli, identifier, store, folder):
    record = package_stimulus_set_locally(stimuli, identifier, folder)
    record["csv_version"] = store.upload(record["csv_path"], record["csv_path"].name)[1]
    record["zip_version"] = store.upload(record["zip_path"], record["zip_path"].name)[1]
    return record


def upload_assembly(assembly, identifier, class_name, store, folder, stimulus_set="test.stimuli"):
    record = package_data_assembly_locally(assembly, identifier, stimulus_set, class_name, folder)
    record["version"] = store.upload(record["path"], record["path"].name)[1]
    return record


def assemblies() -> dict[str, DataAssembly]:
    """One assembly of each class, as the data standards describe them."""
    rng = np.random.default_rng(0)
    ids = ["a", "b", "c", "d"]
    return {
        "NeuroidAssembly": NeuroidAssembly(
            rng.normal(size=(8, 3, 2)),
            dims=("presentation", "neuroid", "time_bin"),
            coords={
                "stimulus_id": ("presentation", ids * 2),
                "repetition": ("presentation", [0] * 4 + [1] * 4),
                "neuroid_id": ("neuroid", ["n1", "n2", "n3"]),
                "region": ("neuroid", ["IT", "IT", "V4"]),
                "time_bin_start": ("time_bin", [70, 170]),
                "time_bin_end": ("time_bin", [170, 270]),
            },
            attrs={"species": "macaque"},
        ),
        "BehavioralAssembly": BehavioralAssembly(
            np.array(["dog", "cat", "dog", "cat"]),
            dims=("presentation",),
            coords={
                "stimulus_id": ("presentation", ids),
                "truth": ("presentation", ["dog", "dog", "cat", "cat"]),
                "subject": ("presentation", ["s1", "s1", "s2", "s2"]),
            },
        ),
        "PropertyAssembly": PropertyAssembly(
            rng.random((2, 4, 4)),
            dims=("subject", "stimulus_row", "stimulus_column"),
            coords={"subject": ["BE", "KO"], "stimulus_row": ids, "stimulus_column": ids},
        ),
        "DataAssembly": DataAssembly(
            rng.random((3,)), dims=("neuroid",), coords={"neuroid_id": ("neuroid", ["x", "y", "z"])}
        ),
    }


def test_stimulus_set_round_trip_is_identical(store, make_stimulus_set, tmp_path):
    stimuli = make_stimulus_set(
        ids=["a", "b", "c", "d"],
        object_name=["dög", "猫", "dog", "cat"],
        size=[1.5, np.nan, 2.25, 1e-300],
        count=[1, 2, 3, 2**62],
        flag=[True, False, True, False],
    )
    record = upload_stimulus_set(stimuli, "test.stimuli", store, tmp_path / "out")
    loaded = load_stimulus_set_from_store(
        "test.stimuli", store.location if isinstance(store, LocalStore) else store,
        record["csv_sha1"], record["zip_sha1"], record["csv_version"], record["zip_version"],
    )
    assert loaded.identifier == "test.stimuli"
    pd.testing.assert_frame_equal(pd.DataFrame(loaded), pd.DataFrame(stimuli), check_exact=True)
    for sid in stimuli["stimulus_id"]:
        assert loaded.get_stimulus(sid).read_bytes() == stimuli.get_stimulus(sid).read_bytes()
        assert loaded.get_stimulus(sid).is_relative_to(loaded.get_stimulus(sid).parents[2])


@pytest.mark.parametrize("class_name", sorted(assemblies()))
def test_assembly_round_trip_is_identical_for_each_class(store, class_name, tmp_path):
    assembly = assemblies()[class_name]
    record = upload_assembly(assembly, f"test.{class_name}", class_name, store, tmp_path)
    loaded = load_assembly_from_store(
        f"test.{class_name}", store, record["sha1"], version_id=record["version"]
    )
    assert type(loaded) is type(assembly)
    expected = assembly.assign_attrs(
        identifier=f"test.{class_name}", stimulus_set_identifier="test.stimuli"
    )
    xr.testing.assert_identical(loaded, expected)


def test_loading_pins_a_version_and_refuses_another_checksum(store, neuroid_assembly, tmp_path):
    first = upload_assembly(neuroid_assembly, "test.neural", "NeuroidAssembly", store,
                            tmp_path / "one")
    second = upload_assembly(neuroid_assembly * 2, "test.neural", "NeuroidAssembly", store,
                             tmp_path / "two")
    with pytest.raises(ChecksumMismatchError) as error:
        load_assembly_from_store("test.neural", store, first["sha1"])  # Latest is the second.
    message = str(error.value)
    assert "'test.neural'" in message
    assert f"has SHA1 {second['sha1']}, expected {first['sha1']}" in message
    assert list(loaders_module.cache_folder(first["sha1"]).iterdir()) == []
    pinned = load_assembly_from_store("test.neural", store, first["sha1"], first["version"])
    np.testing.assert_array_equal(pinned.values, neuroid_assembly.values)
    latest = load_assembly_from_store("test.neural", store, second["sha1"])
    np.testing.assert_array_equal(latest.values, neuroid_assembly.values * 2)


def test_corrupt_cache_entry_is_fetched_again(local_store, neuroid_assembly, tmp_path):
    record = upload_assembly(neuroid_assembly, "test.neural", "NeuroidAssembly", local_store,
                             tmp_path)
    load_assembly_from_store("test.neural", local_store, record["sha1"])
    cached = loaders_module.cache_folder(record["sha1"]) / "assy_test.neural.nc"
    content = bytearray(cached.read_bytes())
    content[len(content) // 2] ^= 0xFF  # Same size, one byte flipped.
    cached.write_bytes(bytes(content))
    with pytest.warns(UserWarning, match="is corrupt"):
        loaded = load_assembly_from_store("test.neural", local_store, record["sha1"])
    np.testing.assert_array_equal(loaded.values, neuroid_assembly.values)
    cached.write_bytes(cached.read_bytes()[:100])  # Truncated.
    with pytest.warns(UserWarning, match="is corrupt"):
        load_assembly_from_store("test.neural", local_store, record["sha1"])
    assert loaders_module.sha1_of_file(cached) == record["sha1"]


def test_remembered_checksums_still_notice_a_changed_file(
    local_store, neuroid_assembly, tmp_path, monkeypatch
):
    monkeypatch.setattr(_files, "_RACY_NS", 0)  # remember even files written just now
    record = upload_assembly(neuroid_assembly, "test.neural", "NeuroidAssembly", local_store,
                             tmp_path)
    load_assembly_from_store("test.neural", local_store, record["sha1"])
    load_assembly_from_store("test.neural", local_store, record["sha1"])  # Memoized.
    cached = loaders_module.cache_folder(record["sha1"]) / "assy_test.neural.nc"
    cached.write_bytes(cached.read_bytes()[:-1])
    with pytest.warns(UserWarning, match="is corrupt"):
        load_assembly_from_store("test.neural", local_store, record["sha1"])


def test_damaged_extracted_stimuli_are_extracted_again(local_store, make_stimulus_set, tmp_path):
    stimuli = make_stimulus_set()
    record = upload_stimulus_set(stimuli, "test.stimuli", local_store, tmp_path)
    loaded = load_stimulus_set_from_store(
        "test.stimuli", local_store, record["csv_sha1"], record["zip_sha1"]
    )
    loaded.get_stimulus("a").unlink()
    loaded.get_stimulus("b").write_bytes(b"trunc")
    with pytest.warns(UserWarning, match=r"damaged: .*0\.png is missing"):
        again = load_stimulus_set_from_store(
            "test.stimuli", local_store, record["csv_sha1"], record["zip_sha1"]
        )
    for sid in ("a", "b"):
        assert again.get_stimulus(sid).read_bytes() == stimuli.get_stimulus(sid).read_bytes()


def load_uploaded(record, store):
    return load_stimulus_set_from_store(
        "test.stimuli", store, record["csv_sha1"], record["zip_sha1"]
    )


def test_same_size_edit_of_an_extracted_stimulus_is_noticed_and_extracted_again(
    local_store, make_stimulus_set, tmp_path
):
    stimuli = make_stimulus_set()
    record = upload_stimulus_set(stimuli, "test.stimuli", local_store, tmp_path)
    path = load_uploaded(record, local_store).get_stimulus("b")
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF  # Same size, one byte flipped, mtime put back.
    status = path.stat()
    path.write_bytes(bytes(content))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    with pytest.warns(UserWarning, match=rf"damaged: {re.escape(str(path))} has other content"):
        again = load_uploaded(record, local_store)
    assert again.get_stimulus("b").read_bytes() == stimuli.get_stimulus("b").read_bytes()


def test_a_symlink_among_the_extracted_stimuli_is_replaced_by_the_zip_content(
    local_store, make_stimulus_set, tmp_path
):
    stimuli = make_stimulus_set()
    record = upload_stimulus_set(stimuli, "test.stimuli", local_store, tmp_path)
    path = load_uploaded(record, local_store).get_stimulus("c")
    outside = tmp_path / "outside.png"
    outside.write_bytes(path.read_bytes())  # Even with the same bytes, a link is not trusted.
    path.unlink()
    path.symlink_to(outside)
    with pytest.warns(UserWarning, match="not a regular file"):
        again = load_uploaded(record, local_store)
    assert not again.get_stimulus("c").is_symlink()
    assert again.get_stimulus("c").read_bytes() == stimuli.get_stimulus("c").read_bytes()


def test_an_extracted_folder_linked_elsewhere_is_extracted_again(
    local_store, make_stimulus_set, tmp_path
):
    stimuli = make_stimulus_set()
    record = upload_stimulus_set(stimuli, "test.stimuli", local_store, tmp_path)
    folder = load_uploaded(record, local_store).get_stimulus("a").parent
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder, elsewhere)
    shutil.rmtree(folder)
    folder.symlink_to(elsewhere)
    with pytest.warns(UserWarning, match="is a symbolic link"):
        again = load_uploaded(record, local_store)
    assert not folder.is_symlink()
    assert again.get_stimulus("a").read_bytes() == stimuli.get_stimulus("a").read_bytes()
    assert sorted(p.name for p in elsewhere.iterdir()) == sorted(p.name for p in folder.iterdir())


def test_extracted_stimuli_are_read_once_per_process_while_unchanged(
    local_store, make_stimulus_set, tmp_path, monkeypatch
):
    # As if every file were older than the file system's timestamp granularity; files
    # written moments ago are checked every time (see _files.content_sha1).
    monkeypatch.setattr(_files, "_RACY_NS", 0)
    record = upload_stimulus_set(make_stimulus_set(), "test.stimuli", local_store, tmp_path)
    load_uploaded(record, local_store)  # Extracted here.
    load_uploaded(record, local_store)  # Checked here: the CRCs are remembered.
    reads = []
    crc32_of_file = loaders_module._crc32_of_file
    monkeypatch.setattr(loaders_module, "_crc32_of_file",
                        lambda path: reads.append(path.name) or crc32_of_file(path))
    load_uploaded(record, local_store)
    assert reads == []
    touched = load_uploaded(record, local_store).get_stimulus("d")
    time.sleep(0.05)  # past the timestamp granularity
    touched.write_bytes(touched.read_bytes())  # Same bytes, new ctime: checked again.
    load_uploaded(record, local_store)
    assert reads == ["3.png"]


def upload_with_filename(record, store, tmp_path, stimulus_id, filename):
    """Upload the record's CSV again with ``filename`` for ``stimulus_id``; the new SHA1."""
    with open(record["csv_path"], encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("filename")
    for row in rows[1:]:
        if row[0] == stimulus_id:
            row[column] = filename
    edited = tmp_path / "edited" / record["csv_path"].name
    edited.parent.mkdir(exist_ok=True)
    with open(edited, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    store.upload(edited, edited.name)
    return loaders_module.sha1_of_file(edited)


@pytest.mark.parametrize("filename", ["../../etc/passwd", "/etc/passwd", "sub/../../0.png"])
def test_a_stimulus_filename_outside_the_folder_is_refused_before_extracting(
    local_store, make_stimulus_set, tmp_path, filename
):
    record = upload_stimulus_set(make_stimulus_set(), "test.stimuli", local_store, tmp_path)
    csv_sha1 = upload_with_filename(record, local_store, tmp_path, "b", filename)
    with pytest.raises(ValidationError, match=rf"outside its stimulus folder: stimulus_id "
                                              rf"'b' -> {re.escape(repr(filename))}\."):
        load_stimulus_set_from_store("test.stimuli", local_store, csv_sha1, record["zip_sha1"])
    cached = loaders_module.cache_folder(record["zip_sha1"])
    assert [p.name for p in cached.iterdir()] == [record["zip_path"].name]


def test_a_stimulus_filename_absent_from_the_zip_is_refused(
    local_store, make_stimulus_set, tmp_path
):
    record = upload_stimulus_set(make_stimulus_set(), "test.stimuli", local_store, tmp_path)
    csv_sha1 = upload_with_filename(record, local_store, tmp_path, "d", "missing.png")
    with pytest.raises(ValidationError, match=r"not in its ZIP .*: stimulus_id 'd' -> "
                                              r"'missing.png'\."):
        load_stimulus_set_from_store("test.stimuli", local_store, csv_sha1, record["zip_sha1"])


def test_wrong_stimulus_set_checksum_names_identifier_and_both_sha1s(
    local_store, make_stimulus_set, tmp_path
):
    record = upload_stimulus_set(make_stimulus_set(), "test.stimuli", local_store, tmp_path)
    with pytest.raises(
        ChecksumMismatchError,
        match=rf"'test.stimuli'.*has SHA1 {record['csv_sha1']}, expected {'1' * 40}",
    ):
        load_stimulus_set_from_store("test.stimuli", local_store, "1" * 40, record["zip_sha1"])


def test_stimulus_set_loader_attaches_metadata_and_the_set(
    local_store, make_stimulus_set, neuroid_assembly, tmp_path
):
    stimuli = make_stimulus_set()
    set_record = upload_stimulus_set(stimuli, "test.stimuli", local_store, tmp_path)
    record = upload_assembly(neuroid_assembly, "test.neural", "NeuroidAssembly", local_store,
                             tmp_path)

    def stimulus_set_loader():
        return load_stimulus_set_from_store(
            "test.stimuli", local_store, set_record["csv_sha1"], set_record["zip_sha1"]
        )

    loaded = load_assembly_from_store(
        "test.neural", local_store, record["sha1"], stimulus_set_loader=stimulus_set_loader
    )
    assert loaded.attrs["stimulus_set"].identifier == "test.stimuli"
    assert loaded["object_name"].values.tolist() == ["object0", "object1"] * 4
    np.testing.assert_array_equal(loaded["size"].values, np.tile(stimuli["size"].to_numpy(), 2))
    assert set(loaded.indexes["presentation"].names) >= {"stimulus_id", "object_name", "size"}


def test_stimulus_set_loader_must_cover_the_assembly_ids(
    local_store, make_stimulus_set, neuroid_assembly, tmp_path
):
    record = upload_assembly(neuroid_assembly, "test.neural", "NeuroidAssembly", local_store,
                             tmp_path)
    partial = make_stimulus_set(ids=["a", "b"], identifier="ab")
    with pytest.raises(ValidationError, match=r"'test.neural' has 2 stimulus_id values not in "
                       r"stimulus set 'ab': \['c', 'd'\]"):
        load_assembly_from_store("test.neural", local_store, record["sha1"],
                                 stimulus_set_loader=lambda: partial)


def test_class_can_be_overridden_by_name(local_store, neuroid_assembly, tmp_path):
    record = upload_assembly(neuroid_assembly, "test.neural", "NeuroidAssembly", local_store,
                             tmp_path)
    loaded = load_assembly_from_store("test.neural", local_store, record["sha1"],
                                      cls="DataAssembly")
    assert type(loaded) is DataAssembly


def test_s3_names_are_aliases():
    assert load_stimulus_set_from_s3 is load_stimulus_set_from_store
    assert load_assembly_from_s3 is load_assembly_from_store


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from brainmark.settings import override_settings
    from brainmark.data import load_assembly_from_store, load_stimulus_set_from_store
    base, store, csv_sha1, zip_sha1, sha1 = sys.argv[1:6]
    while not (Path(base) / "go").exists():
        time.sleep(0.005)
    for round_ in range(4):
        with override_settings(home=Path(base) / f"round{round_}"):
            stimuli = load_stimulus_set_from_store("big", store, csv_sha1, zip_sha1)
            sizes = [stimuli.get_stimulus(s).stat().st_size for s in stimuli["stimulus_id"]]
            assembly = load_assembly_from_store("big.neural", store, sha1)
            print(round_, sum(sizes), repr(float(assembly.sum())), flush=True)
    """
)


def test_two_processes_loading_at_once_do_not_corrupt_the_cache(make_stimulus_set, tmp_path):
    ids = [f"s{i:03d}" for i in range(120)]
    stimuli = make_stimulus_set(ids=ids)
    rng = np.random.default_rng(1)
    assembly = NeuroidAssembly(
        rng.normal(size=(120, 4000)),  # ~4 MB: copying and hashing overlap between processes
        dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", ids),
                "neuroid_id": ("neuroid", [f"n{i}" for i in range(4000)])},
    )
    store = LocalStore(tmp_path / "store")
    set_record = upload_stimulus_set(stimuli, "big", store, tmp_path / "out")
    record = upload_assembly(assembly, "big.neural", "NeuroidAssembly", store, tmp_path / "out")
    base = tmp_path / "shared-homes"
    base.mkdir()
    arguments = [str(base), store.location, set_record["csv_sha1"], set_record["zip_sha1"],
                 record["sha1"]]
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, *arguments], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    time.sleep(0.2)
    (base / "go").touch()
    outputs = [child.communicate(timeout=300) for child in children]
    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
    assert outputs[0][0] == outputs[1][0]
    expected_sum = float(assembly.sum())
    for line in outputs[0][0].splitlines():
        assert float(line.split()[2]) == expected_sum
    for round_ in range(4):
        cache = base / f"round{round_}" / "cache" / "data"
        leftovers = [p for p in cache.rglob(".*")]
        assert leftovers == []
        nc = cache / record["sha1"] / "assy_big.neural.nc"
        assert loaders_module.sha1_of_file(nc) == record["sha1"]
        files = sorted((cache / set_record["zip_sha1"] / "files").iterdir())
        assert len(files) == 121  # 120 images and the column schema
