"""brainmark package stimuli / upload: from a CSV and images to pinned, loadable files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from brainmark.cli import main
from brainmark.data import load_stimulus_set_from_store


@pytest.fixture
def experiment(tmp_path):
    """Three images in a sub-folder and a metadata CSV naming them."""
    images = tmp_path / "experiment" / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for n in range(3):
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"img{n}.png")
    metadata = tmp_path / "experiment" / "stimuli.csv"
    pd.DataFrame({
        "stimulus_id": ["a", "b", "c"],
        "filename": ["images/img0.png", "images/img1.png", "images/img2.png"],
        "object_name": ["dog", "dog", "car"],
        "size_deg": [8.0, 8.0, 4.0],
    }).to_csv(metadata, index=False)
    return metadata


def test_packaged_stimuli_load_back_from_a_store_with_the_printed_sha1s(experiment, tmp_path):
    output = tmp_path / "packaged"
    packaged = CliRunner().invoke(
        main, ["package", "stimuli", str(experiment), "Smith2024", "--output", str(output)]
    )
    assert packaged.exit_code == 0, packaged.output
    record = json.loads(packaged.stdout)
    store = (tmp_path / "store").as_uri()
    uploaded = CliRunner().invoke(
        main, ["upload", record["csv_path"], record["zip_path"], "--store", store]
    )
    assert uploaded.exit_code == 0, uploaded.output
    versions = {entry["key"]: entry for entry in json.loads(uploaded.stdout)}
    assert versions["stimulus_Smith2024.csv"]["sha1"] == record["csv_sha1"]
    loaded = load_stimulus_set_from_store(
        "Smith2024", store, record["csv_sha1"], record["zip_sha1"],
        csv_version_id=versions["stimulus_Smith2024.csv"]["version_id"],
        zip_version_id=versions["stimulus_Smith2024.zip"]["version_id"],
    )
    assert list(loaded["stimulus_id"]) == ["a", "b", "c"]
    assert list(loaded["object_name"]) == ["dog", "dog", "car"]
    assert list(loaded["size_deg"]) == [8.0, 8.0, 4.0]
    original = experiment.parent / "images" / "img2.png"
    assert loaded.get_stimulus("c").read_bytes() == original.read_bytes()


def test_a_csv_without_the_file_column_is_refused_naming_what_it_needs(experiment, tmp_path):
    frame = pd.read_csv(experiment).rename(columns={"filename": "image"})
    frame.to_csv(experiment, index=False)
    result = CliRunner().invoke(main, ["package", "stimuli", str(experiment), "Smith2024"])
    assert result.exit_code == 1
    assert "has no column ['filename']" in result.stderr and "Traceback" not in result.output
    fixed = CliRunner().invoke(main, ["package", "stimuli", str(experiment), "Smith2024",
                                      "--file-column", "image", "--output", str(tmp_path)])
    assert fixed.exit_code == 0, fixed.output


def test_an_image_outside_the_images_folder_is_refused(experiment):
    frame = pd.read_csv(experiment)
    frame.loc[1, "filename"] = "../../outside.png"
    frame.to_csv(experiment, index=False)
    result = CliRunner().invoke(main, ["package", "stimuli", str(experiment), "Smith2024"])
    assert result.exit_code == 1
    assert "Stimulus 'b'" in result.stderr and "is not inside" in result.stderr


def test_duplicate_stimulus_ids_are_refused_by_the_data_standard(experiment):
    frame = pd.read_csv(experiment)
    frame.loc[2, "stimulus_id"] = "a"
    frame.to_csv(experiment, index=False)
    result = CliRunner().invoke(main, ["package", "stimuli", str(experiment), "Smith2024"])
    assert result.exit_code == 1
    assert "'a'" in result.stderr
