"""Seeded, stratified train/test splits of stimuli for cross-validated metrics.

Splits are drawn over *stimuli* (unique ``stimulus_id`` values), never over trials, so the
repetitions of one stimulus can never straddle train and test. They depend only on the set
of ids, their stratification labels and the seed, not on the order of rows in an
assembly, and they use numpy's own generator (``np.random.default_rng``), so the same
inputs give the same splits on every machine and with every scikit-learn version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from brainmark.exceptions import MetricError

MIN_TEST_STIMULI = 3  # Pearson r over fewer held-out stimuli is +-1 or undefined.


def stratified_splits(
    stimulus_ids: Sequence[object] | np.ndarray,
    *,
    stratify: Sequence[object] | np.ndarray | None = None,
    n_splits: int = 10,
    train_size: float = 0.9,
    seed: int = 1,
    min_train: int = 2,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` (train, test) index pairs into ``stimulus_ids``, each sorted.

    Each split holds out ``n - floor(train_size * n)`` stimuli. With ``stratify`` (e.g.
    each stimulus' ``object_name``) the held-out count of every class is proportional to its
    size (largest remainders get the leftover places, ties broken at random) so test sets
    keep the class mix; without it stimuli are drawn uniformly.

    Parameters
    ----------
    stimulus_ids
        Unique stimulus ids; their order does not affect which ids land in which split.
    stratify
        One class label per stimulus, or None.
    n_splits, train_size, seed
        Number of splits, fraction of stimuli to train on, seed of the generator.
    min_train
        Fewest training stimuli the caller's estimator needs.

    Raises
    ------
    MetricError
        When ids repeat, labels do not match the ids, or the split sizes leave fewer than
        3 test stimuli (Pearson r needs 3) or fewer than ``min_train`` training stimuli.
    """
    ids = np.asarray(stimulus_ids).astype(str)
    n = len(ids)
    if len(np.unique(ids)) != n:
        raise MetricError("stratified_splits needs unique stimulus ids; average repetitions first.")
    if not 0 < train_size < 1:
        raise MetricError(f"train_size must be in (0, 1). Got {train_size}.")
    if n_splits < 1:
        raise MetricError(f"n_splits must be at least 1. Got {n_splits}.")
    n_train = math.floor(train_size * n + 1e-9)
    n_test = n - n_train
    if n_test < MIN_TEST_STIMULI or n_train < min_train:
        raise MetricError(
            f"{n} stimuli are too few for train size {train_size}: each split would hold out "
            f"{n_test} stimuli (at least {MIN_TEST_STIMULI} are needed for a Pearson r) and "
            f"train on {n_train} (at least {min_train} are needed). Use at least "
            f"{_stimuli_needed(train_size, min_train)} stimuli or a different train_size."
        )
    order = np.argsort(ids, kind="stable")  # positions in id order: row order is irrelevant
    rng = np.random.default_rng(seed)
    if stratify is None:
        classes = [order]
    else:
        labels = np.asarray(stratify).astype(str)
        if len(labels) != n:
            raise MetricError(
                f"Got {len(labels)} stratification labels for {n} stimuli; give one per stimulus."
            )
        sorted_labels = labels[order]
        classes = [order[sorted_labels == label] for label in np.unique(sorted_labels)]
    counts = np.array([len(members) for members in classes])
    splits = []
    for _ in range(n_splits):
        allocation = _allocate(counts, n_test, rng)
        test = np.concatenate(
            [members[rng.permutation(len(members))[:k]] for members, k in
             zip(classes, allocation, strict=True)]
        )
        is_test = np.zeros(n, dtype=bool)
        is_test[test] = True
        splits.append((np.flatnonzero(~is_test), np.flatnonzero(is_test)))
    return splits


def _allocate(counts: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Held-out stimuli per class: proportional, largest remainders first, random ties."""
    exact = counts * n_test / counts.sum()
    allocation = np.floor(exact).astype(int)
    leftover = n_test - allocation.sum()
    remainder = np.where(allocation < counts, exact - allocation, -1.0)
    ranking = np.lexsort((rng.random(len(counts)), -remainder))
    allocation[ranking[:leftover]] += 1
    return allocation


def _stimuli_needed(train_size: float, min_train: int) -> int:
    n = MIN_TEST_STIMULI
    while n - math.floor(train_size * n + 1e-9) < MIN_TEST_STIMULI or (
        math.floor(train_size * n + 1e-9) < min_train
    ):
        n += 1
    return n
