"""alexnet-untrained: torchvision's AlexNet with random weights from a fixed seed.

An untrained network is the baseline that shows how much of a score the architecture
alone explains. The weights are torchvision's default initialization drawn with the seed
``SEED`` (:func:`~brainmark.models.seeded_initialization`: the caller's random state is
untouched and threads building networks at once do not mix their draws): every load gives
the same weights and the same scores.

Inputs are 224x224 RGB with ImageNet normalization; the field of view is 8 degrees
(Brain-Score's default). Regions are committed by depth in ``region_layer_map.json``
(not by layer selection): V1 ``features.2`` (pool1), V2 ``features.5`` (pool2), V4
``features.7`` (conv3), IT ``features.12`` (pool5). Behavioral readouts use
``classifier.5`` (the second 4096-unit layer).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import alexnet

from brainmark.models import (
    ActivationsModel,
    ImagePreprocessing,
    ModelCommitment,
    seeded_initialization,
)

SEED = 0
LAYERS = [
    "features.2", "features.5", "features.7", "features.9", "features.12",
    "classifier.2", "classifier.5",
]


def alexnet_untrained_network() -> torch.nn.Module:
    with seeded_initialization(SEED):
        return alexnet(weights=None).eval()


def alexnet_untrained() -> ModelCommitment:
    activations_model = ActivationsModel(
        "alexnet-untrained", alexnet_untrained_network(), preprocessing=ImagePreprocessing(224)
    )
    return ModelCommitment(
        "alexnet-untrained",
        activations_model,
        LAYERS,
        region_layer_map=Path(__file__).parent / "region_layer_map.json",
        visual_degrees=8,
        behavioral_readout_layer="classifier.5",
    )
