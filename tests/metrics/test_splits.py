"""Stratified stimulus splits: sizes, stratification, determinism, refusal of tiny sets."""

from __future__ import annotations

import numpy as np
import pytest

from brainmark.exceptions import MetricError
from brainmark.metrics import stratified_splits

IDS = np.array([f"s{k:03d}" for k in range(100)])
OBJECTS = np.array([f"object{k % 4}" for k in range(100)])


def test_each_split_holds_out_a_tenth_and_covers_every_stimulus():
    splits = stratified_splits(IDS)
    assert len(splits) == 10
    for train, test in splits:
        assert len(test) == 10 and len(train) == 90
        assert set(train).isdisjoint(test) and set(train) | set(test) == set(range(100))


def test_test_sets_keep_the_object_mix():
    for _, test in stratified_splits(IDS, stratify=OBJECTS):
        counts = np.unique(OBJECTS[test], return_counts=True)[1]
        assert sorted(counts) == [2, 2, 3, 3]  # 10 of 100 over 4 objects of 25


def test_splits_are_deterministic_and_independent_of_row_order():
    first = stratified_splits(IDS, stratify=OBJECTS, seed=1)
    order = np.random.default_rng(0).permutation(100)
    shuffled = stratified_splits(IDS[order], stratify=OBJECTS[order], seed=1)
    for (_, test), (_, test_shuffled) in zip(first, shuffled, strict=True):
        assert set(IDS[test]) == set(IDS[order][test_shuffled])
    again = stratified_splits(IDS, stratify=OBJECTS, seed=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    other = stratified_splits(IDS, stratify=OBJECTS, seed=2)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))


def test_too_few_stimuli_are_refused_with_how_many_are_needed():
    with pytest.raises(MetricError, match=r"20 stimuli are too few.*Use at least 21 stimuli"):
        stratified_splits(IDS[:20])


def test_repeated_ids_are_refused():
    with pytest.raises(MetricError, match="unique"):
        stratified_splits(np.concatenate([IDS, IDS[:1]]))
