"""pixels: the image itself, downsampled; the floor every model must beat.

The stimulus is resized to 64x64 RGB (values in [0, 1], no normalization) and averaged
over 2x2 blocks to 32x32, giving 3,072 "neuroids". Every region and every readout uses
that one layer, so a benchmark scores what raw pixel similarity alone explains. It sees 8
degrees of visual angle, like the other built-in models.
"""

from __future__ import annotations

import torch
from torch import nn

from brainmark.models import ActivationsModel, ImagePreprocessing, ModelCommitment

REGIONS = ("V1", "V2", "V4", "IT")


class Pixels(nn.Module):
    """Average-pools the image to ``size x size``; its only layer is ``pixels``."""

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        self.pixels = nn.AdaptiveAvgPool2d(size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pixels(images)


def pixels() -> ModelCommitment:
    activations_model = ActivationsModel(
        "pixels",
        Pixels(size=32),
        preprocessing=ImagePreprocessing(size=64, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
    )
    return ModelCommitment(
        "pixels",
        activations_model,
        ["pixels"],
        region_layer_map={region: "pixels" for region in REGIONS},
        visual_degrees=8,
        behavioral_readout_layer="pixels",
    )
