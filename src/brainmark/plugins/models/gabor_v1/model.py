"""gabor-v1: a fixed bank of Gabor filters, rectified and pooled; a classical V1 model.

The image (grayscale, 96x96 pixels over the model's 8 degrees, so 12 pixels per degree)
is filtered by Gabor functions at 8 orientations (0-157.5 degrees), 3 spatial frequencies
(1, 2 and 4 cycles per degree) and 2 phases (cosine and sine: a quadrature pair), with a
Gaussian envelope of sigma = 0.56 wavelengths (about one octave of bandwidth). Nothing is
learned. Layers:

- ``gabor``: the 48 linear filter responses;
- ``simple``: simple cells, half-wave rectified responses of both signs (96 channels);
- ``complex``: complex cells, the energy sqrt(cos^2 + sin^2) of each quadrature pair
  (24 channels: frequency-major, then orientation);
- ``pooled``: simple and complex cells averaged over 8x8 pixel windows (120 x 12 x 12).

Every region and the behavioral readout use ``pooled``: the model is a V1 model, and its
scores in later regions measure how far V1-like features go there.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from brainmark.models import ActivationsModel, ImagePreprocessing, ModelCommitment

REGIONS = ("V1", "V2", "V4", "IT")
IMAGE_SIZE = 96
VISUAL_DEGREES = 8
ORIENTATIONS = 8
CYCLES_PER_DEGREE = (1.0, 2.0, 4.0)
PHASES = (0.0, np.pi / 2)
KERNEL_SIZE = 31


def gabor_bank(
    *,
    orientations: int = ORIENTATIONS,
    cycles_per_pixel: tuple[float, ...] = tuple(
        f * VISUAL_DEGREES / IMAGE_SIZE for f in CYCLES_PER_DEGREE
    ),
    phases: tuple[float, ...] = PHASES,
    size: int = KERNEL_SIZE,
) -> np.ndarray:
    """Filters ``(frequency, orientation, phase) x size x size``, zero mean, unit norm."""
    y, x = np.mgrid[: size, : size] - size // 2
    filters = []
    for frequency in cycles_per_pixel:
        sigma = 0.56 / frequency
        envelope = np.exp(-(x**2 + y**2) / (2 * sigma**2))
        for k in range(orientations):
            theta = np.pi * k / orientations
            along = x * np.cos(theta) + y * np.sin(theta)
            for phase in phases:
                kernel = envelope * np.cos(2 * np.pi * frequency * along + phase)
                kernel -= kernel.mean()
                filters.append(kernel / np.linalg.norm(kernel))
    return np.stack(filters).astype(np.float32)


class HalfWaveRectification(nn.Module):
    """Both signs of each response, rectified: ON and OFF simple cells."""

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(responses), torch.relu(-responses)], dim=1)


class QuadratureEnergy(nn.Module):
    """sqrt of the summed squares of consecutive channel pairs (cosine, sine phase)."""

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = responses.shape
        pairs = responses.reshape(batch, channels // 2, 2, height, width)
        return torch.sqrt((pairs**2).sum(dim=2) + 1e-12)


class GaborV1(nn.Module):
    """Gabor filtering, simple and complex cells, spatial pooling (see module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        bank = torch.from_numpy(gabor_bank())[:, None]
        self.gabor = nn.Conv2d(1, len(bank), KERNEL_SIZE, padding=KERNEL_SIZE // 2, bias=False)
        self.gabor.weight.data.copy_(bank)
        self.gabor.weight.requires_grad_(False)
        self.simple = HalfWaveRectification()
        self.complex = QuadratureEnergy()
        self.pooled = nn.AvgPool2d(8)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        responses = self.gabor(images)
        cells = torch.cat([self.simple(responses), self.complex(responses)], dim=1)
        return self.pooled(cells)


def gabor_v1() -> ModelCommitment:
    activations_model = ActivationsModel(
        "gabor-v1",
        GaborV1(),
        preprocessing=ImagePreprocessing(size=IMAGE_SIZE, mean=(0.5,), std=(0.5,), grayscale=True),
    )
    return ModelCommitment(
        "gabor-v1",
        activations_model,
        ["gabor", "simple", "complex", "pooled"],
        region_layer_map={region: "pooled" for region in REGIONS},
        visual_degrees=VISUAL_DEGREES,
        behavioral_readout_layer="pooled",
    )
