"""extract_activations: labelled output, order, de-duplication, cache, projections, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.decomposition import PCA

from brainmark._files import read_checked_json
from brainmark.data import StimulusSet
from brainmark.exceptions import CacheIntegrityWarning, ModelError
from brainmark.models import (
    ActivationsModel,
    ImagePreprocessing,
    PCAProjection,
    RandomProjection,
    cache_activations,
    extract_activations,
)
from brainmark.settings import get_settings, override_settings

from .conftest import PREPROCESSING, TinyNet, write_stimuli


def extract(net, stimuli, layers, **kwargs):
    kwargs.setdefault("preprocessing", PREPROCESSING)
    return extract_activations(net, stimuli, layers, progress=False, **kwargs)


def direct_forward(net, stimuli, layer):
    """The layer's output for each stimulus, computed without the extractor."""
    outputs = {}
    handle = dict(net.named_modules())[layer].register_forward_hook(
        lambda _m, _i, output: outputs.setdefault("value", output)
    )
    with torch.no_grad():
        paths = [stimuli.get_stimulus(sid) for sid in stimuli["stimulus_id"]]
        batch = torch.stack([PREPROCESSING(path) for path in paths])
        net.eval()(batch)
    handle.remove()
    return outputs["value"].reshape(len(batch), -1).numpy()


def cache_entries():
    root = get_settings().activations_dir
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_dir() and p.parent != root)


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


def test_activations_model_extracts_with_its_configuration(net, stimuli):
    model = ActivationsModel("tiny-net", net, preprocessing=PREPROCESSING)
    assembly = model(stimuli, ["fc"])
    assert assembly.attrs["model"] == "tiny-net"
    assert "relu" in model.layers and "conv" in model.layers
    np.testing.assert_allclose(assembly.values, direct_forward(net, stimuli, "fc"), rtol=1e-5)


def test_random_projection_is_seeded_and_preserves_distances(net, stimuli):
    raw = extract(net, stimuli, ["relu"]).values
    projected = extract(net, stimuli, ["relu"], projection=RandomProjection(500, seed=3))
    again = extract(
        net, stimuli, ["relu"], projection=RandomProjection(500, seed=3), use_cache=False
    )
    assert projected.sizes["neuroid"] == 500
    np.testing.assert_array_equal(projected.values, again.values)

    def distances(x):
        return np.linalg.norm(x[:, None] - x[None], axis=-1)[np.triu_indices(len(x), 1)]

    ratio = distances(projected.values) / distances(raw)
    assert np.all(np.abs(ratio - 1) < 0.25)


def test_narrow_layers_are_stored_as_they_are_under_a_projection(net, stimuli):
    plain = extract(net, stimuli, ["fc"])
    projected = extract(net, stimuli, ["fc"], projection=RandomProjection(500))
    np.testing.assert_array_equal(projected.values, plain.values)


def test_pca_projection_matches_sklearn_pca_fitted_on_the_fitting_stimuli(net, stimuli, tmp_path):
    fitting = write_stimuli(tmp_path / "fitting", 12, identifier="fitting", seed=5)
    projected = extract(net, stimuli, ["relu"], projection=PCAProjection(fitting, n_components=6))
    pca = PCA(n_components=6).fit(direct_forward(net, fitting, "relu"))
    expected = pca.transform(direct_forward(net, stimuli, "relu"))
    np.testing.assert_allclose(projected.values, expected, rtol=1e-3, atol=1e-3)


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


def test_the_module_training_mode_is_restored(net, stimuli):
    net.train()
    extract(net, stimuli, ["fc"])
    assert net.training


def test_a_layer_not_called_in_forward_is_refused(stimuli):
    class Unused(TinyNet):
        def __init__(self):
            super().__init__()
            self.spare = torch.nn.Linear(2, 2)

    with pytest.raises(ModelError, match="'spare' was not called"):
        extract(Unused(), stimuli, ["spare"])


def test_grayscale_preprocessing_gives_one_normalized_channel(tmp_path):
    Image.fromarray(np.full((8, 8, 3), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    tensor = ImagePreprocessing(size=4, mean=(0.5,), std=(0.25,), grayscale=True)(
        tmp_path / "white.png"
    )
    assert tensor.shape == (1, 4, 4)
    np.testing.assert_allclose(tensor.numpy(), (1 - 0.5) / 0.25)


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


def test_a_layer_output_changed_in_place_later_is_recorded_as_the_layer_returned_it(stimuli):
    # torchvision style: a conv followed by ReLU(inplace=True) overwrites the conv output.
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU(inplace=True))
    conv = extract(net, stimuli, ["0"]).values
    with torch.no_grad():
        paths = [stimuli.get_stimulus(sid) for sid in stimuli["stimulus_id"]]
        expected = net[0](torch.stack([PREPROCESSING(path) for path in paths]))
    np.testing.assert_allclose(conv, expected.reshape(len(paths), -1).numpy(), rtol=1e-5)
    assert (conv < 0).any()


# --- content keys and verified entries ------------------------------------------------------


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
    import warnings

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
