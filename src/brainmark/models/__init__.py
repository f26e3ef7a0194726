"""Model helpers: turn a PyTorch network into a :class:`~brainmark.model_interface.BrainModel`.

Importing this package does not import torch: the helpers that need it load on first use
(``from brainmark.models import ActivationsModel``), so a process that only places
stimuli on screen (:func:`place_on_screen`) never pays for torch.
"""

from __future__ import annotations

from brainmark._lazy import lazy_exports
from brainmark.models.placement import place_image, place_on_screen

# Name -> the module defining it; each of these modules imports torch.
_TORCH_HELPERS = {
    "IMAGENET_MEAN": "brainmark.models.preprocessing",
    "IMAGENET_STD": "brainmark.models.preprocessing",
    "ImagePreprocessing": "brainmark.models.preprocessing",
    "PCAProjection": "brainmark.models.projections",
    "RandomProjection": "brainmark.models.projections",
    "ActivationsModel": "brainmark.models.activations",
    "cache_activations": "brainmark.models.activations",
    "extract_activations": "brainmark.models.activations",
    "resolve_device": "brainmark.models.activations",
    "validate_layers": "brainmark.models.activations",
    "weights_sha1": "brainmark.models._keys",
    "ModelCommitment": "brainmark.models.commitment",
    "load_region_layer_map": "brainmark.models.layer_selection",
    "select_layers": "brainmark.models.layer_selection",
    "seeded_initialization": "brainmark.models.initialization",
}

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
    "seeded_initialization",
    "select_layers",
    "validate_layers",
    "weights_sha1",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _TORCH_HELPERS)
