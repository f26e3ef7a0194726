"""Each bad input named in the data standards is refused with a message naming the culprits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainmark.data import (
    PropertyAssembly,
    validate_alignment,
    validate_assembly,
    validate_stimulus_set,
)
from brainmark.exceptions import ValidationError


def test_valid_stimulus_set_is_returned_unchanged(make_stimulus_set):
    stimuli = make_stimulus_set()
    assert validate_stimulus_set(stimuli) is stimuli


def test_missing_stimulus_id_column_is_refused(make_stimulus_set):
    stimuli = make_stimulus_set().rename(columns={"stimulus_id": "image_id"})
    with pytest.raises(ValidationError, match=r"no 'stimulus_id' column.*'image_id'"):
        validate_stimulus_set(stimuli)


def test_duplicate_stimulus_ids_are_listed(make_stimulus_set):
    stimuli = make_stimulus_set(ids=["a", "b", "a", "c", "b"])
    with pytest.raises(ValidationError, match=r"2 duplicate stimulus_id values: \['a', 'b'\]"):
        validate_stimulus_set(stimuli, name="my-set")
    with pytest.raises(ValidationError, match="Stimulus set 'my-set'"):
        validate_stimulus_set(stimuli, name="my-set")


def test_many_offending_ids_are_shortened_to_ten_and_a_count(make_stimulus_set):
    ids = [f"s{i:02d}" for i in range(15)]
    stimuli = make_stimulus_set(ids=ids * 2)
    with pytest.raises(ValidationError, match=r"'s09'\] \(and 5 more\)"):
        validate_stimulus_set(stimuli)


def test_ids_without_a_path_are_listed(make_stimulus_set):
    stimuli = make_stimulus_set()
    del stimuli.stimulus_paths["c"]
    with pytest.raises(ValidationError, match=r"1 stimulus_id values without a file.*\['c'\]"):
        validate_stimulus_set(stimuli)


def test_missing_files_are_listed_with_the_first_path(make_stimulus_set):
    stimuli = make_stimulus_set()
    stimuli.get_stimulus("b").unlink()
    with pytest.raises(ValidationError, match=r"1 stimulus files that do not exist: \['b'\]"):
        validate_stimulus_set(stimuli)


def test_unreadable_images_are_listed_with_the_reason(make_stimulus_set):
    stimuli = make_stimulus_set()
    stimuli.get_stimulus("d").write_bytes(b"not an image at all")
    with pytest.raises(ValidationError, match=r"not readable images: \['d'\].*UnidentifiedImage"):
        validate_stimulus_set(stimuli)


def test_truncated_image_is_unreadable(make_stimulus_set):
    stimuli = make_stimulus_set()
    path = stimuli.get_stimulus("a")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValidationError, match=r"not readable images: \['a'\]"):
        validate_stimulus_set(stimuli)


def test_missing_stimulus_ids_are_refused(make_stimulus_set):
    stimuli = make_stimulus_set(ids=["a", None, "c"])
    with pytest.raises(ValidationError, match=r"1 rows without a stimulus_id \(rows \[1\]\)"):
        validate_stimulus_set(stimuli)


def test_valid_assembly_is_returned_unchanged(neuroid_assembly):
    checked = validate_assembly(
        neuroid_assembly,
        dims=["presentation", "neuroid"],
        coords={"stimulus_id": "presentation", "neuroid_id": "neuroid"},
    )
    assert checked is neuroid_assembly


def test_missing_dimension_is_named(neuroid_assembly):
    with pytest.raises(ValidationError, match=r"'source' is missing dimension\(s\) \['time_bin'\]"):
        validate_assembly(neuroid_assembly, dims=["presentation", "time_bin"], name="source")


def test_missing_coordinate_is_named_with_the_existing_ones(neuroid_assembly):
    with pytest.raises(ValidationError, match=r"missing the coordinate 'object_name'.*'region'"):
        validate_assembly(neuroid_assembly, coords=["object_name"])


def test_coordinate_on_the_wrong_dimension_is_refused(neuroid_assembly):
    with pytest.raises(ValidationError, match=r"'region' along \('neuroid',\).*'presentation'"):
        validate_assembly(neuroid_assembly, coords={"region": "presentation"})


def test_nan_values_are_located_by_stimulus_and_neuroid(neuroid_assembly):
    values = neuroid_assembly.values.copy()
    values[5, 2] = np.nan
    broken = neuroid_assembly.copy(data=values)
    with pytest.raises(ValidationError) as error:
        validate_assembly(broken, name="target")
    message = str(error.value)
    assert "'target' has 1 NaN or infinite values" in message
    assert "presentation stimulus_id ['b']" in message
    assert "neuroid neuroid_id ['n3']" in message


def test_infinite_values_are_refused_even_when_nan_is_allowed(neuroid_assembly):
    values = neuroid_assembly.values.copy()
    values[0, 0], values[1, 1] = np.nan, np.inf
    broken = neuroid_assembly.copy(data=values)
    with pytest.raises(ValidationError, match=r"1 infinite values.*stimulus_id \['b'\]"):
        validate_assembly(broken, allow_nan=True)
    values[1, 1] = 0
    assert validate_assembly(neuroid_assembly.copy(data=values), allow_nan=True) is not None


def test_a_non_dataarray_is_refused():
    with pytest.raises(ValidationError, match=r"must be an xarray DataArray.*ndarray"):
        validate_assembly(np.zeros((2, 2)), name="source")


def test_rdm_stimulus_ids_absent_from_the_stimulus_set_are_listed(make_stimulus_set):
    ids = ["a", "b", "x", "y"]
    rdm = PropertyAssembly(
        np.zeros((4, 4)),
        dims=("stimulus_row", "stimulus_column"),
        coords={"stimulus_row": ids, "stimulus_column": ids},
        attrs={"identifier": "rdm"},
    )
    stimuli = make_stimulus_set(ids=["a", "b", "c"], identifier="abc")
    with pytest.raises(
        ValidationError,
        match=r"Assembly 'rdm' has 2 stimulus_id values not in stimulus set 'abc': "
        r"\['x', 'y'\]. Package it against",
    ):
        validate_alignment(rdm, stimuli)


def test_alignment_compares_ids_as_text(neuroid_assembly, make_stimulus_set):
    numeric = xr.DataArray(
        np.zeros(4), dims="presentation", coords={"stimulus_id": ("presentation", [1, 2, 3, 4])}
    )
    stimuli = make_stimulus_set(ids=["1", "2", "3", "4"])
    assert validate_alignment(numeric, stimuli) is numeric


def test_assembly_without_stimulus_ids_cannot_be_aligned(make_stimulus_set):
    with pytest.raises(ValidationError, match="has none of the coordinates"):
        validate_alignment(xr.DataArray(np.zeros(3), dims="x"), make_stimulus_set())


def test_stimulus_set_must_be_a_dataframe():
    with pytest.raises(ValidationError, match="must be a StimulusSet"):
        validate_stimulus_set({"stimulus_id": ["a"]})
    with pytest.raises(ValidationError, match="column names that are not strings"):
        validate_stimulus_set(pd.DataFrame({"stimulus_id": ["a"], 3: [1]}))
