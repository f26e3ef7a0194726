from brainmark.registry import model_registry

from .model import resnet20_cifar10

model_registry["resnet20-cifar10"] = resnet20_cifar10
