"""extract_activations: labelled output, order, de-duplication, the forward pass, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainmark.data import StimulusSet
from brainmark.exceptions import ModelError
from brainmark.models import ActivationsModel, weights_sha1
from brainmark.settings import get_settings

from .conftest import PREPROCESSING, TinyNet, cache_entries, direct_forward, extract


def test_activations_are_labelled_by_layer_channel_and_position(net, stimuli):
    assembly = extract(net, stimuli, ["relu", "fc"])
    assert assembly.dims == ("presentation", "neuroid")
    assert assembly.sizes == {"presentation": 10, "neuroid": 4 * 30 * 30 + 5}
    relu = assembly.sel(layer="relu")
    np.testing.assert_allclose(relu.values, direct_forward(net, stimuli, "relu"), rtol=1e-5)
    np.testing.assert_allclose(
        assembly.sel(layer="fc").values, direct_forward(net, stimuli, "fc"), rtol=1e-5
    )
    # Channel 2, row 7, column 11 of the relu map is flat index 2 * 900 + 7 * 30 + 11.
    unit = relu.sel(channel=2, channel_y=7, channel_x=11)
    np.testing.assert_allclose(
        unit.values.ravel(), direct_forward(net, stimuli, "relu")[:, 2 * 900 + 7 * 30 + 11],
        rtol=1e-5,
    )
    assert list(assembly["stimulus_id"].values) == list(stimuli["stimulus_id"])
    assert list(assembly["image_label"].values) == list(stimuli["image_label"])
    assert len(set(assembly["neuroid_id"].values)) == assembly.sizes["neuroid"]


def test_order_follows_the_stimulus_set_whatever_the_batching_and_workers(net, stimuli):
    reference = extract(net, stimuli, ["fc"], batch_size=64, num_workers=0, use_cache=False)
    reordered = StimulusSet(stimuli.iloc[::-1].reset_index(drop=True))
    batched = extract(net, reordered, ["fc"], batch_size=3, num_workers=2, use_cache=False)
    assert list(batched["stimulus_id"].values) == list(reordered["stimulus_id"])
    np.testing.assert_allclose(batched.values, reference.values[::-1], rtol=1e-6)


def test_stimuli_sharing_a_file_are_computed_once(net, stimuli):
    ids = list(stimuli["stimulus_id"])
    twins = StimulusSet(
        {"stimulus_id": [*ids, "copy-of-first"]},
        stimulus_paths={**stimuli.stimulus_paths, "copy-of-first": stimuli.get_stimulus(ids[0])},
        identifier="twins",
    )
    assembly = extract(net, twins, ["fc"])
    assert net.images_seen == 10
    np.testing.assert_array_equal(assembly.values[-1], assembly.values[0])


def test_activations_model_extracts_with_its_configuration(net, stimuli):
    model = ActivationsModel("tiny-net", net, preprocessing=PREPROCESSING)
    assembly = model(stimuli, ["fc"])
    assert assembly.attrs["model"] == "tiny-net"
    assert "relu" in model.layers and "conv" in model.layers
    np.testing.assert_allclose(assembly.values, direct_forward(net, stimuli, "fc"), rtol=1e-5)


def test_a_layer_output_changed_in_place_later_is_recorded_as_the_layer_returned_it(stimuli):
    # torchvision style: a conv followed by ReLU(inplace=True) overwrites the conv output.
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU(inplace=True))
    conv = extract(net, stimuli, ["0"]).values
    with torch.no_grad():
        paths = [stimuli.get_stimulus(sid) for sid in stimuli["stimulus_id"]]
        expected = net[0](torch.stack([PREPROCESSING(path) for path in paths]))
    np.testing.assert_allclose(conv, expected.reshape(len(paths), -1).numpy(), rtol=1e-5)
    assert (conv < 0).any()


def test_the_module_training_mode_is_restored(net, stimuli):
    net.train()
    extract(net, stimuli, ["fc"])
    assert net.training


def test_an_undecodable_file_names_the_stimulus_and_path_and_leaves_no_cache_entry(
    net, stimuli, tmp_path
):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a png")
    paths = dict(stimuli.stimulus_paths)
    paths[stimuli["stimulus_id"][7]] = broken
    damaged = StimulusSet(stimuli, stimulus_paths=paths, identifier="damaged")
    with pytest.raises(ModelError, match=rf"{stimuli['stimulus_id'][7]}.*broken\.png"):
        extract(net, damaged, ["relu", "fc"], batch_size=3)
    assert cache_entries() == []
    leftovers = list((get_settings().activations_dir).rglob("*.npy"))
    assert leftovers == []


def test_an_unknown_layer_lists_the_valid_layers(net, stimuli):
    with pytest.raises(ModelError, match=r"no layer 'rleu'.*Did you mean \['relu'\].*'conv'"):
        extract(net, stimuli, ["fc", "rleu"])
    assert cache_entries() == []


def test_a_failing_forward_pass_names_the_model_and_leaves_no_cache_entry(stimuli):
    wrong_input = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(7, 2))
    with pytest.raises(ModelError, match=r"Model 'wrong-input' failed in its forward pass"):
        extract(wrong_input, stimuli, ["1"], identifier="wrong-input")
    assert cache_entries() == []
    assert not list((get_settings().activations_dir).rglob("*.npy"))


def test_a_layer_not_called_in_forward_is_refused(stimuli):
    class Unused(TinyNet):
        def __init__(self):
            super().__init__()
            self.spare = torch.nn.Linear(2, 2)

    with pytest.raises(ModelError, match="'spare' was not called"):
        extract(Unused(), stimuli, ["spare"])


def test_decoding_threads_the_calling_thread_and_worker_processes_give_the_same_activations(
    net, stimuli
):
    runs = {
        workers: extract(net, stimuli, ["relu", "fc"], batch_size=4, num_workers=workers,
                         use_cache=False).values
        for workers in (-1, 0, 2)
    }
    np.testing.assert_array_equal(runs[-1], runs[0])
    np.testing.assert_array_equal(runs[2], runs[0])
    np.testing.assert_allclose(
        runs[0][:, -5:], direct_forward(net, stimuli, "fc"), rtol=1e-5, atol=1e-6
    )


def test_without_cache_nothing_is_written_and_the_assembly_is_labelled_by_model(net, stimuli):
    assembly = extract(net, stimuli, ["fc"], identifier="tiny", use_cache=False)
    assert cache_entries() == []
    assert assembly.attrs["model"] == "tiny"
    assert "weights_sha1" not in assembly.attrs  # nothing hashed without the cache
    cached = extract(net, stimuli, ["fc"], identifier="tiny")
    assert cached.attrs["weights_sha1"] == weights_sha1(net)
