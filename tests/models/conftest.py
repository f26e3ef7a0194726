"""Tiny images and networks for the model-helper tests (32 px, a few hundred weights).

Also the helpers several test modules share: extraction without a progress bar, a
layer's output computed without the extractor, the cache's entries, a committed TinyNet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brainmark.data import StimulusSet
from brainmark.models import (
    ActivationsModel,
    ImagePreprocessing,
    ModelCommitment,
    extract_activations,
)
from brainmark.settings import get_settings

SIZE = 32
PREPROCESSING = ImagePreprocessing(size=SIZE)


class TinyNet(torch.nn.Module):
    """conv (4 x 30 x 30) -> relu -> pool (4 x 2 x 2) -> flatten -> linear (5)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv = torch.nn.Conv2d(3, 4, 3)
            self.relu = torch.nn.ReLU()
            self.pool = torch.nn.AdaptiveAvgPool2d(2)
            self.flatten = torch.nn.Flatten()
            self.fc = torch.nn.Linear(16, 5)
        self.images_seen = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.images_seen += len(images)
        return self.fc(self.flatten(self.pool(self.relu(self.conv(images)))))


def write_stimuli(folder: Path, count: int, *, identifier: str | None = "tiny", seed: int = 0):
    """``count`` random 32 px RGB images with a ``image_label`` of 'dark' or 'bright'."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids, labels, paths = [], [], {}
    for n in range(count):
        label = ("dark", "bright")[n % 2]
        low, high = (0, 100) if label == "dark" else (150, 256)
        pixels = rng.integers(low, high, (SIZE, SIZE, 3), dtype=np.uint8)
        sid = f"{folder.name}-{n:03d}"
        paths[sid] = folder / f"{sid}.png"
        Image.fromarray(pixels).save(paths[sid])
        ids.append(sid)
        labels.append(label)
    return StimulusSet(
        {"stimulus_id": ids, "image_label": labels}, stimulus_paths=paths, identifier=identifier
    )


@pytest.fixture
def stimuli(tmp_path):
    return write_stimuli(tmp_path / "images", 10)


@pytest.fixture
def net():
    return TinyNet()


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


def commitment(net=None, **kwargs):
    activations_model = ActivationsModel("tiny", net or TinyNet(), preprocessing=PREPROCESSING)
    kwargs.setdefault("region_layer_map", {"V1": "relu", "IT": "pool"})
    return ModelCommitment("tiny", activations_model, ["conv", "relu", "pool", "fc"], **kwargs)


def features(model, stimuli, layer):
    return model.activations_model(stimuli, [layer]).values
