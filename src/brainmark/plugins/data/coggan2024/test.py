import numpy as np
import pytest

from brainmark import load_dataset, load_stimulus_set

REGIONS = ["V1", "V2", "V4", "IT"]


def test_stimulus_set_has_24_images_of_8_objects_in_3_occlusion_conditions():
    stimuli = load_stimulus_set("Coggan2024")
    assert len(stimuli) == 24
    assert stimuli["object_name"].nunique() == 8
    assert sorted(stimuli["occlusion"].unique()) == ["complete", "lower", "upper"]
    assert all(stimuli.get_stimulus(sid).is_file() for sid in stimuli["stimulus_id"])


@pytest.mark.parametrize("region", REGIONS)
def test_region_rdms_are_9_subjects_of_24_by_24_dissimilarities(region):
    rdms = load_dataset(f"Coggan2024.{region}")
    assert rdms.dims == ("subject", "stimulus_row", "stimulus_column")
    assert rdms.shape == (9, 24, 24)
    assert list(rdms["stimulus_row"].values) == list(rdms["stimulus_column"].values)
    assert np.isfinite(rdms.values).all()
    # 1 - r of correlations: within [0, 2].
    assert rdms.values.min() >= 0 and rdms.values.max() <= 2


def test_it_rdm_entries_are_one_minus_the_upstream_correlations():
    # Upstream coggan2024_fmri.npz data[IT, sub-0, :2, :2] = [[0.27544573, -0.28283983],
    # [-0.17397596, 0.37626844]] (rows and columns are different run halves: not symmetric).
    rdms = load_dataset("Coggan2024.IT").sel(subject="sub-0")
    np.testing.assert_allclose(
        rdms.values[:2, :2], 1 - np.array([[0.27544573, -0.28283983], [-0.17397596, 0.37626844]]),
        rtol=1e-7,
    )
    assert list(rdms["stimulus_row"].values[:2]) == ["bear_complete", "bear_lower"]
