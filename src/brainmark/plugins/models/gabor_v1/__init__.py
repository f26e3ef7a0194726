from brainmark.registry import model_registry

from .model import gabor_v1

model_registry["gabor-v1"] = gabor_v1
