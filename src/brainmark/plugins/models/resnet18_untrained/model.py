"""resnet18-untrained: torchvision's ResNet-18 with random weights from a fixed seed.

Like ``alexnet-untrained``, an architecture-only baseline; the weights are torchvision's
default initialization drawn with the seed ``SEED`` inside
:func:`~brainmark.models.seeded_initialization`, so every load gives the same weights and
scores, in any thread.

Inputs are 224x224 RGB with ImageNet normalization; the field of view is 8 degrees
(Brain-Score's default). Regions are committed by depth in ``region_layer_map.json``
(not by layer selection): V1 ``layer1``, V2 ``layer2``, V4 ``layer3``, IT ``layer4``.
Behavioral readouts use ``avgpool`` (512 units).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import resnet18

from brainmark.models import (
    ActivationsModel,
    ImagePreprocessing,
    ModelCommitment,
    seeded_initialization,
)

SEED = 0
LAYERS = ["maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"]


def resnet18_untrained_network() -> torch.nn.Module:
    with seeded_initialization(SEED):
        return resnet18(weights=None).eval()


def resnet18_untrained() -> ModelCommitment:
    activations_model = ActivationsModel(
        "resnet18-untrained", resnet18_untrained_network(), preprocessing=ImagePreprocessing(224)
    )
    return ModelCommitment(
        "resnet18-untrained",
        activations_model,
        LAYERS,
        region_layer_map=Path(__file__).parent / "region_layer_map.json",
        visual_degrees=8,
        behavioral_readout_layer="avgpool",
    )
