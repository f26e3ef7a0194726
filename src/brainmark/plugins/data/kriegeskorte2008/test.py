"""Checks of the Kriegeskorte 2008 data plugin against numbers read from the raw .mat files.

The expected sums and entries below were computed with scipy.io.loadmat directly from the
rsatoolbox files (not through brainmark's packaging), so they catch packaging errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from brainmark import load_dataset, load_stimulus_set
from brainmark.exceptions import ChecksumMismatchError

RDM_IDENTIFIERS = [
    "Kriegeskorte2008.mIT",
    "Kriegeskorte2008.hIT",
    "Kriegeskorte2008.hIT-sessions",
    "Kriegeskorte2008.hIT-subjects",
    "Kriegeskorte2008.behavior-similarity",
    "Kriegeskorte2008.model-RDMs",
]
# Sum of each condensed (upper-triangle) RDM vector in the raw files.
RAW_UPPER_TRIANGLE_SUMS = {
    "Kriegeskorte2008.mIT": [4167.792212231709],
    "Kriegeskorte2008.hIT": [3549.46457657218],
    # Square-matrix sums / 2, BE-1, BE-2, KO-1, KO-2, SN-1, SN-2, TI-1, TI-2.
    "Kriegeskorte2008.hIT-sessions": [
        x / 2
        for x in [7390.263201236725, 7528.765076756477, 7101.22572517395, 7302.238057971001,
                  6924.0553641319275, 7282.601507306099, 6654.420201659203, 6607.864090919495]
    ],
    "Kriegeskorte2008.model-RDMs": [
        x / 2
        for x in [4224.0, 6342.0, 8335.584424463417, 6941.439427852631, 2000.1539365593978,
                  3292.595363835218, 5425.906816593486, 433.425438710912]
    ],
}


def upper_triangle_sums(rdm) -> np.ndarray:
    values = np.asarray(rdm.values, dtype=np.float64).reshape(-1, 92, 92)
    rows, columns = np.triu_indices(92, k=1)
    return values[:, rows, columns].sum(axis=1)


def test_stimulus_set_has_92_readable_images_with_categories():
    stimuli = load_stimulus_set("Kriegeskorte2008")
    assert len(stimuli) == 92
    assert stimuli.identifier == "Kriegeskorte2008"
    assert stimuli["stimulus_id"].tolist() == [f"image{i:02d}" for i in range(1, 93)]
    assert stimuli["category"].value_counts().to_dict() == {
        "natural inanimate": 23, "artificial inanimate": 21, "human bodypart": 12,
        "human face": 12, "nonhuman bodypart": 12, "nonhuman face": 12,
    }
    assert stimuli[["human", "face", "animal", "natural"]].sum().tolist() == [24, 24, 48, 71]
    assert (stimuli["animal"] != stimuli["inanimate"]).all()
    first, last = (np.asarray(Image.open(stimuli.get_stimulus(sid)))
                   for sid in ("image01", "image92"))
    assert first.shape == (175, 175, 3)
    # Pixel sums of the raw uint8 images.
    assert int(first.astype(np.int64).sum()) == 11807435
    assert int(last.astype(np.int64).sum()) == 17296379


@pytest.mark.parametrize("identifier", RDM_IDENTIFIERS)
def test_rdms_are_square_symmetric_with_zero_diagonal(identifier):
    rdm = load_dataset(identifier)
    assert rdm.dims[-2:] == ("stimulus_row", "stimulus_column")
    assert rdm.shape[-2:] == (92, 92)
    values = np.asarray(rdm.values).reshape(-1, 92, 92)
    np.testing.assert_array_equal(values, values.transpose(0, 2, 1))
    np.testing.assert_array_equal(np.diagonal(values, axis1=1, axis2=2), 0)
    assert np.isfinite(values).all()
    assert rdm["stimulus_row"].values.tolist() == rdm.attrs["stimulus_set"][
        "stimulus_id"].tolist()
    assert rdm.attrs["stimulus_set_identifier"] == "Kriegeskorte2008"


@pytest.mark.parametrize("identifier", sorted(RAW_UPPER_TRIANGLE_SUMS))
def test_rdm_values_match_the_raw_files(identifier):
    np.testing.assert_allclose(
        upper_triangle_sums(load_dataset(identifier)),
        RAW_UPPER_TRIANGLE_SUMS[identifier],
        rtol=1e-6 if identifier.endswith("sessions") else 1e-12,  # float32 in the raw file
    )


def test_single_entries_match_the_raw_condensed_vectors():
    monkey, human = load_dataset("Kriegeskorte2008.mIT"), load_dataset("Kriegeskorte2008.hIT")
    # First and last entries of the condensed vectors: (image01, image02), (image91, image92).
    assert float(monkey.sel(stimulus_row="image01", stimulus_column="image02")) == (
        0.9669127246041016
    )
    assert float(monkey.sel(stimulus_row="image92", stimulus_column="image91")) == (
        0.8046630574470712
    )
    assert float(human.sel(stimulus_row="image01", stimulus_column="image02")) == (
        0.9356239885091782
    )
    assert float(human[-2, -1]) == 0.7750169783830643


def test_subject_dimensions_name_subjects_and_sessions():
    sessions = load_dataset("Kriegeskorte2008.hIT-sessions")
    assert sessions["subject"].values.tolist() == [
        "BE-1", "BE-2", "KO-1", "KO-2", "SN-1", "SN-2", "TI-1", "TI-2"]
    assert sessions["session"].values.tolist() == [1, 2] * 4
    subjects = load_dataset("Kriegeskorte2008.hIT-subjects")
    assert subjects["subject"].values.tolist() == ["BE", "KO", "SN", "TI"]
    expected = np.asarray(sessions.values[2:4], dtype=np.float64).mean(axis=0)
    np.testing.assert_array_equal(subjects.sel(subject="KO").values, expected)
    behavior = load_dataset("Kriegeskorte2008.behavior-similarity")
    assert behavior.sizes["subject"] == 16
    # Entry (4, 51) of subject 16's raw matrix and the sum of all 16 raw matrices.
    assert float(behavior.sel(subject="subject16")[3, 50]) == 0.015061806336064153
    np.testing.assert_allclose(float(behavior.sum()), 1842.1574445706851, rtol=1e-12)


def test_monkey_it_model_rdm_is_the_monkey_it_data():
    models = load_dataset("Kriegeskorte2008.model-RDMs")
    np.testing.assert_array_equal(
        models.sel(model="monkeyIT").values, load_dataset("Kriegeskorte2008.mIT").values
    )


def test_a_changed_packaged_file_is_refused(tmp_path, monkeypatch):
    from brainmark.registry import data_registry

    loaders = __import__(data_registry["Kriegeskorte2008.mIT"].__module__, fromlist=["x"])
    monkeypatch.setitem(loaders.ASSEMBLY_SHA1S, "Kriegeskorte2008.mIT", "0" * 40)
    with pytest.raises(ChecksumMismatchError, match="expected 0000000000"):
        loaders.load_monkey_it()
