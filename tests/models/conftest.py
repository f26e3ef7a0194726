"""Tiny images and networks for the model-helper tests (32 px, a few hundred weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brainmark.data import StimulusSet
from brainmark.models import ImagePreprocessing

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
