from brainmark.registry import model_registry

from .model import alexnet_untrained

model_registry["alexnet-untrained"] = alexnet_untrained
