"""make_stimulus_set: small deterministic images that a readout can tell apart."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from brainmark.data import validate_stimulus_set
from brainmark.exceptions import ValidationError
from brainmark.testing import make_stimulus_set


def _digests(stimuli):
    return [hashlib.sha1(stimuli.get_stimulus(sid).read_bytes()).hexdigest()
            for sid in stimuli["stimulus_id"]]


def test_the_same_arguments_write_the_same_bytes(tmp_path):
    first = make_stimulus_set(tmp_path / "one", 6, seed=3)
    second = make_stimulus_set(tmp_path / "two", 6, seed=3)
    assert _digests(first) == _digests(second)
    assert len(set(_digests(first))) == 6  # every image differs
    assert _digests(make_stimulus_set(tmp_path / "three", 6, seed=4)) != _digests(first)


def test_classes_alternate_and_show_their_pattern(tmp_path):
    stimuli = make_stimulus_set(tmp_path, ["a", "b", "c"], labels=["disk", "stripes", "other"],
                                image_size=20)
    assert list(stimuli["image_label"]) == ["disk", "stripes", "other"]
    disk, stripes, other = (np.asarray(Image.open(stimuli.get_stimulus(sid)))
                            for sid in ["a", "b", "c"])
    gray = np.array([128, 128, 128])
    # The disk covers the centre, not the corner; horizontal stripes vary down a column
    # only; the third class has a pattern of its own.
    assert (disk[10, 10] != gray).any() and (disk[0, 0] == gray).all()
    assert (stripes == stripes[:, :1]).all() and len(np.unique(stripes[:, 0], axis=0)) == 2
    masks = [(image != gray).any(axis=2) for image in (disk, stripes, other)]
    assert masks[2].any() and not (masks[2] == masks[0]).all()
    assert not (masks[2] == masks[1]).all()


def test_columns_are_added_and_the_set_passes_validation(tmp_path):
    stimuli = make_stimulus_set(tmp_path, 4, identifier="Test2024",
                                object_name=["a", "a", "b", "b"])
    assert list(stimuli["stimulus_id"]) == ["stimulus0", "stimulus1", "stimulus2", "stimulus3"]
    assert list(stimuli["object_name"]) == ["a", "a", "b", "b"]
    assert stimuli.identifier == "Test2024"
    validate_stimulus_set(stimuli)


def test_a_column_of_the_wrong_length_is_refused(tmp_path):
    with pytest.raises(ValidationError, match=r"makes 3 stimuli.*\['object_name'\] have \[2\]"):
        make_stimulus_set(tmp_path, 3, object_name=["a", "b"])
