"""Cache keys of networks, shared by activation extraction and layer selection.

Each key is made of content, never of names alone: a network is keyed by its weights and
by the code of every class it is built from (stimuli: :mod:`brainmark.data.hashing`).
"""

from __future__ import annotations

import hashlib

import torch

from brainmark._provenance import code_key


def weights_sha1(module: torch.nn.Module) -> str:
    """SHA1 over the module's class, parameter and buffer names, shapes, dtypes and bytes."""
    digest = hashlib.sha1(type(module).__qualname__.encode())
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy())  # hashed in place, no copy
    return digest.hexdigest()


def module_code_sha1(module: torch.nn.Module) -> str:
    """SHA1 of what a network computes besides its weights: its structure and its code.

    The structure is ``repr(module)`` (every submodule with its configuration, so
    ``nn.ReLU()`` -> ``nn.Tanh()`` changes it); the code is :func:`~brainmark._provenance.
    code_key` of every distinct class among its modules (a change to a ``forward``
    method or to a helper in the plugin changes it).
    """
    classes = sorted({type(sub) for sub in module.modules()}, key=lambda c: (c.__module__,
                                                                           c.__qualname__))
    digest = hashlib.sha1(repr(module).encode())
    for cls in classes:
        digest.update(code_key(cls).encode() + b"\n")
    return digest.hexdigest()
