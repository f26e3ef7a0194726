import numpy as np

from brainmark.data import (
    BehavioralAssembly,
    NeuroidAssembly,
    PropertyAssembly,
    assembly_sha1,
    load_assembly_from_store,
    package_data_assembly_locally,
)


def _rdm(values):
    ids = [f"s{n}" for n in range(values.shape[-1])]
    return PropertyAssembly(
        values, dims=("stimulus_row", "stimulus_column"),
        coords={"stimulus_row": ids, "stimulus_column": ids},
    )


NEUROID_IDS = np.array(["n1", "n2", "n3"])


def _single_coordinate_responses(neuroid_ids=NEUROID_IDS, values=None):
    """What packaging requires and no more: stimulus_id alone, neuroid_id alone."""
    values = np.arange(6.0).reshape(2, 3) if values is None else values
    return NeuroidAssembly(
        values, dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", ["a", "b"]),
                "neuroid_id": ("neuroid", neuroid_ids)},
    )


def test_assembly_sha1_changes_with_values_and_with_labels():
    base = _rdm(np.eye(3))
    assert assembly_sha1(base) == assembly_sha1(_rdm(np.eye(3)))
    assert assembly_sha1(base) != assembly_sha1(_rdm(2 * np.eye(3)))
    relabelled = base.assign_coords(stimulus_row=["a", "b", "c"])
    assert assembly_sha1(base) != assembly_sha1(relabelled)


def test_dimensions_with_a_single_coordinate_are_hashed_by_it():
    digest = assembly_sha1(_single_coordinate_responses())
    assert digest == assembly_sha1(_single_coordinate_responses())
    assert digest != assembly_sha1(_single_coordinate_responses(np.array(["n1", "n2", "n4"])))
    assert digest != assembly_sha1(_single_coordinate_responses(values=np.zeros((2, 3))))


def test_multi_level_dimensions_are_hashed_by_every_level(neuroid_assembly):
    digest = assembly_sha1(neuroid_assembly)
    regions = neuroid_assembly.reset_index("neuroid").assign_coords(
        region=("neuroid", ["IT", "V4", "V4"])
    )
    repetitions = neuroid_assembly.reset_index("presentation").assign_coords(
        repetition=("presentation", [0, 0, 0, 0, 1, 1, 1, 2])
    )
    assert digest != assembly_sha1(NeuroidAssembly(regions))
    assert digest != assembly_sha1(NeuroidAssembly(repetitions))


def test_the_order_coordinates_were_given_in_does_not_change_the_digest():
    values = np.arange(6.0).reshape(2, 3)
    coords = {"stimulus_id": ("presentation", ["a", "b"]),
              "object_name": ("presentation", ["cat", "dog"]),
              "neuroid_id": ("neuroid", ["n1", "n2", "n3"])}
    one = NeuroidAssembly(values, dims=("presentation", "neuroid"), coords=coords)
    other = NeuroidAssembly(values, dims=("presentation", "neuroid"),
                            coords=dict(reversed(coords.items())))
    assert assembly_sha1(one) == assembly_sha1(other)


def test_object_coordinates_hash_as_their_text():
    as_text = _single_coordinate_responses()
    as_objects = _single_coordinate_responses(np.array(["n1", "n2", "n3"], dtype=object))
    assert as_objects["neuroid_id"].dtype == object
    assert assembly_sha1(as_objects) == assembly_sha1(as_text)


def test_object_coordinates_of_mixed_objects_are_hashed():
    labels = np.array([None, "n2", 3], dtype=object)
    digest = assembly_sha1(_single_coordinate_responses(labels))
    changed = labels.copy()
    changed[1] = "other"
    assert digest != assembly_sha1(_single_coordinate_responses(changed))


def test_object_choices_are_hashed_as_their_text():
    def choices(labels):
        return BehavioralAssembly(labels, dims=("presentation",),
                                  coords={"stimulus_id": ("presentation", ["a", "b", "c"])})

    as_objects = choices(np.array(["cat", "dog", "cat"], dtype=object))
    assert assembly_sha1(as_objects) == assembly_sha1(choices(np.array(["cat", "dog", "cat"])))
    assert assembly_sha1(as_objects) != assembly_sha1(choices(np.array(["cat", "dog", "dog"])))


def test_a_packaged_and_loaded_assembly_has_the_digest_of_the_original(tmp_path):
    assembly = _single_coordinate_responses()
    record = package_data_assembly_locally(assembly, "Test2024.IT", "Test2024",
                                           "NeuroidAssembly", tmp_path)
    loaded = load_assembly_from_store("Test2024.IT", tmp_path.as_uri(), record["sha1"])
    assert assembly_sha1(loaded) == assembly_sha1(assembly)
