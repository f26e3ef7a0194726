from brainmark.registry import model_registry

from .model import pixels

model_registry["pixels"] = pixels
