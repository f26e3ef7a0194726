"""ResNet-20 for CIFAR-10 (He et al. 2016, section 4.2), with trained weights.

The architecture, written from the paper: a 3x3 convolution with 16 filters, then three
stages of three basic blocks (two 3x3 convolutions with batch normalization) on 32x32,
16x16 and 8x8 maps with 16, 32 and 64 filters, global average pooling and a 10-way
linear classifier; 6n + 2 = 20 weighted layers with n = 3. Shortcuts are "option A":
parameter-free identity, where a block that halves the map and doubles the channels
subsamples its input with stride 2 and pads the new channels with zeros (split equally
before and after the existing ones, the layout the shipped weights were trained with).

Weights: Yerlan Idelbayev's ``resnet20-12fca82f.th`` (BSD-2-Clause, see LICENSE and
README.md), 91.78% CIFAR-10 test accuracy as reported upstream. Inputs are 32x32 RGB
normalized with the CIFAR-10 channel means and standard deviations.

The model sees 8 degrees of visual angle (Brain-Score's default). A 32-pixel CIFAR image
is thumbnail-sized, so no physical viewing distance is implied; 8 degrees keeps it
comparable with the other built-in models.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from brainmark.exceptions import ChecksumMismatchError
from brainmark.models import ActivationsModel, ImagePreprocessing, ModelCommitment

HERE = Path(__file__).parent
WEIGHTS = HERE / "resnet20-12fca82f.th"
WEIGHTS_SHA1 = "a3a61b39f2eb823b7b62989fc19b5e08e6a68ab3"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
# CIFAR-10 class -> the word other label sets (e.g. Geirhos et al.'s 16 classes) use.
LABEL_SYNONYMS = {"automobile": "car", "ship": "boat"}
LAYERS = ["relu", "layer1", "layer2.0", "layer2", "layer3.0", "layer3", "avgpool", "linear"]


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a parameter-free (option A) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.extra_channels == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        before = self.extra_channels // 2
        return functional.pad(x, (0, 0, 0, 0, before, self.extra_channels - before))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = functional.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 images: stem, three stages of n blocks, pool, classifier."""

    def __init__(self, blocks_per_stage: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(16, 16, blocks_per_stage, stride=1)
        self.layer2 = self._stage(16, 32, blocks_per_stage, stride=2)
        self.layer3 = self._stage(32, 64, blocks_per_stage, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(64, num_classes)

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
        first = BasicBlock(in_channels, out_channels, stride)
        rest = [BasicBlock(out_channels, out_channels, 1) for _ in range(blocks - 1)]
        return nn.Sequential(first, *rest)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(self.flatten(self.avgpool(x)))


def resnet20_cifar10_network() -> CifarResNet:
    """The network with the shipped weights (legacy checkpoint: keys prefixed 'module.')."""
    digest = hashlib.sha1(WEIGHTS.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA1:
        raise ChecksumMismatchError(
            f"{WEIGHTS} has SHA1 {digest}, expected {WEIGHTS_SHA1}. Restore the file from the "
            f"repository (git checkout it); it may be a Git LFS pointer or damaged."
        )
    checkpoint = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    state = {key.removeprefix("module."): value for key, value in checkpoint["state_dict"].items()}
    network = CifarResNet(blocks_per_stage=3)
    network.load_state_dict(state)
    return network.eval()


def resnet20_cifar10() -> ModelCommitment:
    activations_model = ActivationsModel(
        "resnet20-cifar10",
        resnet20_cifar10_network(),
        preprocessing=ImagePreprocessing(size=32, mean=CIFAR10_MEAN, std=CIFAR10_STD),
    )
    return ModelCommitment(
        "resnet20-cifar10",
        activations_model,
        LAYERS,
        region_layer_map=HERE / "region_layer_map.json",
        visual_degrees=8,
        behavioral_readout_layer="avgpool",
        logits_layer="linear",
        class_names=CIFAR10_CLASSES,
        label_synonyms=LABEL_SYNONYMS,
    )
