from brainmark.registry import model_registry

from .model import resnet18_untrained

model_registry["resnet18-untrained"] = resnet18_untrained
