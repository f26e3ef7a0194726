"""Seeded network initialization that holds when threads build networks at once.

``torch.manual_seed`` sets a random generator shared by the whole process: two threads of a
worker building seeded networks at the same moment draw from each other's sequence and get
weights neither would get alone. :func:`seeded_initialization` makes every seeded build in
the process take turns, and leaves the caller's generator state as it was.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

_generator_lock = threading.RLock()


@contextlib.contextmanager
def seeded_initialization(seed: int) -> Iterator[None]:
    """Draw from torch's CPU generator seeded with ``seed``, alone, inside the block.

    Build an untrained network inside it (``with seeded_initialization(0): net = alexnet()``)
    and every load gives the same weights, whatever else the process is doing.
    """
    with _generator_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
