"""The activations cache: entries keyed by content, reused, verified, healed."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from brainmark._files import read_checked_json
from brainmark.data import StimulusSet
from brainmark.exceptions import CacheIntegrityWarning
from brainmark.models import ImagePreprocessing, cache_activations
from brainmark.models._activation_cache import LayerLayout, _neuroid_index
from brainmark.settings import override_settings

from .conftest import PREPROCESSING, TinyNet, cache_entries, direct_forward, extract, write_stimuli


def test_cached_activations_are_read_back_without_running_the_model(net, stimuli):
    first = extract(net, stimuli, ["fc", "relu"])
    seen = net.images_seen
    second = extract(net, StimulusSet(stimuli.iloc[::-1].reset_index(drop=True)), ["relu", "fc"])
    assert net.images_seen == seen
    np.testing.assert_array_equal(
        second.sel(layer="fc").values, first.sel(layer="fc").values[::-1]
    )
    assert len(cache_entries()) == 2  # one entry per layer


def test_only_the_layers_not_in_the_cache_are_extracted(net, stimuli):
    extract(net, stimuli, ["fc"])
    extract(net, stimuli, ["fc", "relu"])
    entries = cache_entries()
    layers = sorted(read_checked_json(e / "meta.json", what="meta")["layer"] for e in entries)
    assert layers == ["fc", "relu"]


def test_identical_nets_share_cache_entries_across_instances(stimuli):
    extract(TinyNet(seed=0), stimuli, ["fc"])
    fresh = TinyNet(seed=0)
    extract(fresh, stimuli, ["fc"])
    assert fresh.images_seen == 0


def test_cache_activations_returns_files_with_one_row_per_image_in_stimulus_id_order(
    net, stimuli
):
    reordered = StimulusSet(stimuli.iloc[::-1].reset_index(drop=True))
    files = cache_activations(net, reordered, ["fc"], preprocessing=PREPROCESSING, progress=False)
    rows = np.load(files["fc"], mmap_mode="r")
    assembly = extract(net, stimuli, ["fc"])  # read from the same cache entry
    assert net.images_seen == 10
    np.testing.assert_array_equal(rows, assembly.values[np.argsort(stimuli["stimulus_id"])])


def test_changed_weights_preprocessing_or_stimuli_never_read_stale_activations(
    net, stimuli, tmp_path
):
    before = extract(net, stimuli, ["fc"])
    with torch.no_grad():
        net.fc.bias += 1
    after = extract(net, stimuli, ["fc"])
    np.testing.assert_allclose(after.values, before.values + 1, rtol=1e-5)
    other = ImagePreprocessing(size=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    assert not np.allclose(extract(net, stimuli, ["fc"], preprocessing=other).values, after.values)
    # Same identifier, different images: the (id, file name) pairs differ, so no reuse.
    different = write_stimuli(tmp_path / "other", 10, identifier="tiny", seed=1)
    assert not np.allclose(extract(net, different, ["fc"]).values, after.values)


def test_changed_images_under_the_same_names_and_ids_are_extracted_anew(net, tmp_path):
    before = write_stimuli(tmp_path / "images", 6, seed=0)
    first = extract(net, before, ["fc"])
    after = write_stimuli(tmp_path / "images", 6, seed=1)  # same ids, names and identifier
    assert list(after["stimulus_id"]) == list(before["stimulus_id"])
    second = extract(net, after, ["fc"])
    np.testing.assert_allclose(second.values, direct_forward(net, after, "fc"), rtol=1e-5)
    assert not np.allclose(second.values, first.values)


def test_a_network_with_other_code_but_the_same_weights_is_extracted_anew(stimuli):
    relu_net, tanh_net = TinyNet(), TinyNet()
    tanh_net.relu = torch.nn.Tanh()  # no weights change: the state dicts are identical
    assert relu_net.state_dict().keys() == tanh_net.state_dict().keys()
    relu = extract(relu_net, stimuli, ["fc"], identifier="same-name")
    tanh = extract(tanh_net, stimuli, ["fc"], identifier="same-name")
    np.testing.assert_allclose(tanh.values, direct_forward(tanh_net, stimuli, "fc"), rtol=1e-5)
    assert not np.allclose(tanh.values, relu.values)


def test_a_network_class_whose_forward_changed_is_extracted_anew(stimuli, tmp_path):
    """Same class name, module name, structure and weights; only forward's code differs."""
    import importlib.util

    def load(body: str) -> torch.nn.Module:
        path = tmp_path / "user_net.py"
        path.write_text(
            "import torch\n\n"
            "class Net(torch.nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        torch.manual_seed(0)\n"
            "        self.conv = torch.nn.Conv2d(3, 2, 3)\n\n"
            "    def forward(self, x):\n"
            f"        return {body}\n"
        )
        spec = importlib.util.spec_from_file_location("user_net", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.Net()

    plain = load("self.conv(x)")
    doubled = load("self.conv(x) * 2")
    first = extract(plain, stimuli, ["conv"], identifier="user-net")
    second = extract(doubled, stimuli, ["conv"], identifier="user-net")
    # conv's output is the same for both, yet the entry of one network's code is not
    # reused for the other: its forward pass (and so any later layer) differs.
    np.testing.assert_array_equal(first.values, second.values)
    assert len(cache_entries()) == 2


def npy_of(entry):
    return entry / "activations.npy"


def test_a_same_size_change_to_cached_activations_is_reported_and_recomputed(net, stimuli):
    expected = extract(net, stimuli, ["fc"])
    [entry] = cache_entries()
    data = bytearray(npy_of(entry).read_bytes())
    data[-4:] = np.float32(123.0).tobytes()  # the last value, same size
    npy_of(entry).write_bytes(bytes(data))
    with pytest.warns(CacheIntegrityWarning, match="activations.npy.*no longer match"):
        again = extract(net, stimuli, ["fc"])
    np.testing.assert_array_equal(again.values, expected.values)


def test_a_truncated_activations_file_is_healed_not_failed_on_every_run(net, stimuli):
    expected = extract(net, stimuli, ["fc"])
    [entry] = cache_entries()
    npy_of(entry).write_bytes(npy_of(entry).read_bytes()[:100])
    with pytest.warns(CacheIntegrityWarning, match="truncated"):
        again = extract(net, stimuli, ["fc"])
    np.testing.assert_array_equal(again.values, expected.values)
    seen = net.images_seen

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheIntegrityWarning)
        extract(net, stimuli, ["fc"])
    assert net.images_seen == seen  # healed: read from the cache again


def test_an_edited_activations_meta_file_is_reported_and_recomputed(net, stimuli):
    extract(net, stimuli, ["fc"])
    [entry] = cache_entries()
    meta = entry / "meta.json"
    envelope = json.loads(meta.read_text())
    envelope["content"]["rows"] = 11  # edited without updating the checksum
    meta.write_text(json.dumps(envelope))
    seen = net.images_seen
    with pytest.warns(CacheIntegrityWarning, match="meta.json.*checksum"):
        extract(net, stimuli, ["fc"])
    assert net.images_seen == seen + 10


def test_reuse_cache_off_runs_the_model_again_and_replaces_the_entry(net, stimuli):
    extract(net, stimuli, ["fc"])
    seen = net.images_seen
    with override_settings(reuse_cache=False):
        extract(net, stimuli, ["fc"])
    assert net.images_seen == seen + 10
    assert len(cache_entries()) == 1


def test_activations_returned_from_memory_equal_those_written_to_and_read_from_the_cache(
    net, stimuli
):
    # Stimuli out of id order and one file shown twice: rows are placed, not copied in order.
    ids = list(stimuli["stimulus_id"])
    shuffled = StimulusSet(
        {"stimulus_id": [*ids[::-1], "again"]},
        stimulus_paths={**stimuli.stimulus_paths, "again": stimuli.get_stimulus(ids[3])},
        identifier="shuffled",
    )
    in_memory = extract(net, shuffled, ["relu", "fc"], batch_size=3, use_cache=False)
    cold = extract(net, shuffled, ["relu", "fc"], batch_size=3)
    seen = net.images_seen
    read_back = extract(net, shuffled, ["relu", "fc"], batch_size=3)
    assert net.images_seen == seen
    for other in (cold, read_back):
        np.testing.assert_array_equal(other.values, in_memory.values)
        assert list(other["neuroid_id"].values) == list(in_memory["neuroid_id"].values)
    np.testing.assert_array_equal(in_memory.values[-1], in_memory.values[len(ids) - 1 - 3])
    np.testing.assert_allclose(
        in_memory.sel(layer="fc").values[:-1],
        direct_forward(net, stimuli, "fc")[::-1], rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize(
    "widths",
    [
        {"conv": 4 * 30 * 30, "fc": 5},
        {"features.12": 9216, "features.2": 46656, "classifier.5": 4096},
        {"a": 12, "a.b": 11, "b": 1},  # 'a.' starts 'a.b.': their ids interleave
    ],
)
def test_the_neuroid_index_is_the_one_pandas_builds_from_the_columns(widths):
    layouts = {
        layer: LayerLayout((1, 1, n), projected=layer == "fc", width=n)
        for layer, n in widths.items()
    }
    index = _neuroid_index(layouts).to_index()
    columns = {
        "layer": np.concatenate([[layer] * n for layer, n in widths.items()]),
        "channel": np.concatenate([np.arange(n) if layer == "fc" else np.zeros(n, int)
                                   for layer, n in widths.items()]),
        "channel_y": np.zeros(sum(widths.values()), int),
        "channel_x": np.concatenate([np.zeros(n, int) if layer == "fc" else np.arange(n)
                                     for layer, n in widths.items()]),
        "neuroid_id": [f"{layer}.{i}" for layer, n in widths.items() for i in range(n)],
    }
    expected = pd.MultiIndex.from_arrays(list(columns.values()), names=list(columns))
    assert index.names == expected.names
    for level, (ours, theirs) in enumerate(zip(index.levels, expected.levels, strict=True)):
        assert list(ours) == list(theirs), index.names[level]
        np.testing.assert_array_equal(index.codes[level], expected.codes[level])
