"""Model helpers: turn a PyTorch network into a :class:`~brainmark.model_interface.BrainModel`.

Importing this package imports torch (``import brainmark`` alone does not).
"""

from brainmark.models.activations import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ActivationsModel,
    ImagePreprocessing,
    PCAProjection,
    RandomProjection,
    cache_activations,
    extract_activations,
    resolve_device,
    validate_layers,
    weights_sha1,
)
from brainmark.models.commitment import ModelCommitment, load_region_layer_map, select_layers
from brainmark.models.placement import place_image, place_on_screen

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ActivationsModel",
    "ImagePreprocessing",
    "ModelCommitment",
    "PCAProjection",
    "RandomProjection",
    "cache_activations",
    "extract_activations",
    "load_region_layer_map",
    "place_image",
    "place_on_screen",
    "resolve_device",
    "select_layers",
    "validate_layers",
    "weights_sha1",
]
