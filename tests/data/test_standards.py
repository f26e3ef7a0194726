"""The data standards themselves: StimulusSet metadata and labelled assemblies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainmark.data import (
    BehavioralAssembly,
    NeuroidAssembly,
    StimulusSet,
    attach_stimulus_set_meta,
    average_repetitions,
    walk_coords,
)
from brainmark.exceptions import ValidationError


@pytest.fixture
def stimuli() -> StimulusSet:
    return StimulusSet(
        {"stimulus_id": ["a", "b", "c"], "object_name": ["cat", "dog", "cat"]},
        stimulus_paths={"a": "/x/a.png", "b": "/x/b.png", "c": "/x/c.png"},
        identifier="test.set",
    )


def test_metadata_survives_slicing_copying_and_pandas_operations(stimuli):
    derived = [
        stimuli[stimuli["object_name"] == "cat"],
        stimuli.copy(),
        stimuli.iloc[1:],
        stimuli.sort_values("stimulus_id", ascending=False),
        stimuli.assign(size=[1, 2, 3]),
        stimuli.merge(pd.DataFrame({"stimulus_id": ["a"], "extra": [1]}), on="stimulus_id"),
        StimulusSet(stimuli),
    ]
    for frame in derived:
        assert isinstance(frame, StimulusSet)
        assert frame.identifier == frame.name == "test.set"
        assert frame.get_stimulus("a") == Path("/x/a.png")


def test_concat_joins_the_paths_and_keeps_a_shared_identifier(stimuli):
    other = StimulusSet(
        {"stimulus_id": ["d"], "object_name": ["owl"]},
        stimulus_paths={"d": "/y/d.png"},
        identifier="test.set",
    )
    joined = pd.concat([stimuli, other], ignore_index=True)
    assert isinstance(joined, StimulusSet)
    assert joined.identifier == "test.set"
    assert joined.get_stimulus("d") == Path("/y/d.png")
    assert joined.get_stimulus("a") == Path("/x/a.png")
    other.identifier = "another.set"
    assert pd.concat([stimuli, other]).identifier is None


def test_a_missing_file_names_the_stimulus_and_how_to_fix_it(stimuli):
    with pytest.raises(ValidationError, match=r"'test.set' has no file for stimulus_id 'z'"):
        stimuli.get_stimulus("z")


def test_subset_keeps_order_and_only_the_wanted_paths(stimuli):
    subset = stimuli.subset(["c", "a"])
    assert list(subset["stimulus_id"]) == ["c", "a"]
    assert set(subset.stimulus_paths) == {"a", "c"}
    with pytest.raises(ValidationError, match=r"no stimulus_id \['z'\]"):
        stimuli.subset(["a", "z"])


def _recordings() -> NeuroidAssembly:
    # Two stimuli x three repetitions (the last of 'b' NaN-padded) x two neuroids.
    values = np.array([[1.0, 10], [2, 20], [3, 30], [4, 40], [6, 60], [np.nan, np.nan]])
    return NeuroidAssembly(
        values,
        dims=("presentation", "neuroid"),
        coords={
            "stimulus_id": ("presentation", ["a", "a", "a", "b", "b", "b"]),
            "repetition": ("presentation", [0, 1, 2, 0, 1, 2]),
            "session": ("presentation", [1, 1, 2, 1, 1, 2]),
            "neuroid_id": ("neuroid", ["n1", "n2"]),
            "region": ("neuroid", ["IT", "IT"]),
        },
    )


def test_coordinates_of_a_dimension_become_levels_of_one_multiindex():
    assembly = _recordings()
    index = assembly.indexes["presentation"]
    assert isinstance(index, pd.MultiIndex)
    assert list(index.names) == ["stimulus_id", "repetition", "session"]
    assert walk_coords(assembly, "neuroid") == ["neuroid_id", "region"]
    assert assembly.sel(stimulus_id="b").sizes["presentation"] == 3
    assert isinstance(assembly.sel(neuroid_id="n2"), NeuroidAssembly)


def test_average_repetitions_ignores_nan_padding_and_drops_per_trial_coords():
    averaged = average_repetitions(_recordings())
    np.testing.assert_allclose(averaged.values, [[2.0, 20.0], [5.0, 50.0]])
    assert list(averaged["stimulus_id"].values) == ["a", "b"]
    # 'session' varies within a stimulus, 'repetition' is per trial: both go.
    assert walk_coords(averaged, "presentation") == ["stimulus_id"]
    assert isinstance(averaged, NeuroidAssembly)


def test_stimulus_set_columns_are_attached_by_stimulus_id(stimuli):
    choices = BehavioralAssembly(
        np.array(["cat", "cat", "dog"], dtype=object),
        dims=("presentation",),
        coords={"stimulus_id": ("presentation", ["c", "a", "b"])},
    )
    attached = attach_stimulus_set_meta(choices, stimuli)
    assert list(attached["object_name"].values) == ["cat", "cat", "dog"]
    assert isinstance(attached, BehavioralAssembly)
    unknown = BehavioralAssembly(
        np.array(["cat"], dtype=object),
        dims=("presentation",),
        coords={"stimulus_id": ("presentation", ["q"])},
    )
    with pytest.raises(ValidationError, match=r"1 stimulus_id values not in .*\['q'\]"):
        attach_stimulus_set_meta(unknown, stimuli)
