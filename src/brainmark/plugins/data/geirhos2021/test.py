import numpy as np
import pytest

from brainmark import load_dataset, load_stimulus_set

CATEGORIES = [
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
    "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck",
]


@pytest.mark.parametrize("image_set", ["edge", "silhouette"])
def test_stimulus_set_has_10_images_of_each_of_16_categories(image_set):
    stimuli = load_stimulus_set(f"Geirhos2021{image_set}")
    assert len(stimuli) == 160
    assert sorted(stimuli["image_label"].unique()) == CATEGORIES
    assert (stimuli.groupby("image_label").size() == 10).all()
    assert stimuli["stimulus_id"].str.startswith(f"{image_set}_").all()
    assert all(stimuli.get_stimulus(sid).is_file() for sid in stimuli["stimulus_id"][:5])


# Human accuracy and missing responses counted from the upstream CSVs with pandas.
@pytest.mark.parametrize(
    ("image_set", "accuracy", "no_response"), [("edge", 0.87125, 34), ("silhouette", 0.753125, 22)]
)
def test_trials_are_10_subjects_seeing_every_image_once(image_set, accuracy, no_response):
    trials = load_dataset(f"Geirhos2021{image_set}")
    assert trials.sizes["presentation"] == 1600
    assert trials["subject"].to_series().nunique() == 10
    per_subject = trials.to_series().groupby(level="subject").size()
    assert (per_subject == 160).all()
    assert np.mean(trials.values == trials["truth"].values) == pytest.approx(accuracy)
    assert int((trials.values == "na").sum()) == no_response
