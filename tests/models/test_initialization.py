"""seeded_initialization: the same weights in every load, whatever other threads draw."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from brainmark.models import seeded_initialization, weights_sha1


def build(seed: int, barrier: threading.Barrier | None = None) -> torch.nn.Module:
    with seeded_initialization(seed):
        first = torch.nn.Conv2d(3, 8, 3)
        if barrier is not None:
            barrier.wait(timeout=0.5)  # let another thread draw now, if it can
        time.sleep(0.02)
        return torch.nn.Sequential(first, torch.nn.Conv2d(8, 8, 3))


def test_networks_built_at_once_in_two_threads_get_the_weights_they_get_alone():
    alone = {seed: weights_sha1(build(seed)) for seed in (0, 1)}
    barrier = threading.Barrier(2)

    def build_waiting(seed: int) -> str:
        try:
            return weights_sha1(build(seed, barrier))
        except threading.BrokenBarrierError:  # the other thread is kept waiting: expected
            return weights_sha1(build(seed))

    with ThreadPoolExecutor(2) as pool:
        together = dict(zip((0, 1), pool.map(build_waiting, (0, 1)), strict=True))
    assert together == alone


def test_the_callers_random_state_is_left_as_it_was():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build(0)
    assert torch.equal(torch.rand(3), expected)
