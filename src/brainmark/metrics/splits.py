"""Train/test splits of stimuli for cross-validated metrics, identical to Brain-Score's.

Brain-Score's regression metrics split the data assembly's presentations with
scikit-learn: ``StratifiedShuffleSplit(n_splits=10, train_size=0.9, test_size=None,
random_state=1)`` over the ``object_name`` labels when it stratifies, ``ShuffleSplit`` with
the same arguments when it does not. :func:`stratified_splits` runs exactly that over the
rows it is given (one per stimulus, repetitions averaged first), so brainmark and
Brain-Score hold out the same stimuli for the same data assembly in the same row order.
Each split trains on ``floor(train_size * n)`` stimuli and tests on the rest.

The splits therefore depend on the row order and on scikit-learn's shuffling algorithm
(unchanged since scikit-learn 0.22), as Brain-Score's do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

from brainmark.data.validation import format_ids
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
    """``n_splits`` (train, test) index pairs into ``stimulus_ids``, as Brain-Score draws them.

    The index sets are those of scikit-learn's ``StratifiedShuffleSplit`` (with
    ``stratify``) or ``ShuffleSplit`` (without), called with ``n_splits``, ``train_size``,
    ``test_size=None`` and ``random_state=seed``; each array is returned sorted.

    Parameters
    ----------
    stimulus_ids
        Unique stimulus ids, one per row, in the data assembly's row order (the order
        decides which rows land in which split, as in Brain-Score).
    stratify
        One class label per stimulus (e.g. its ``object_name``), or None. Labels are
        passed to scikit-learn as given: their sort order numbers the classes.
    n_splits, train_size, seed
        Number of splits, fraction of stimuli to train on, ``random_state``.
    min_train
        Fewest training stimuli the caller's estimator needs.

    Raises
    ------
    MetricError
        When ids repeat, labels do not match the ids, the split sizes leave fewer than 3
        test stimuli (Pearson r needs 3) or fewer than ``min_train`` training stimuli, or
        stratification is impossible (a class with one stimulus, more classes than test
        or training stimuli).
    """
    ids = np.asarray(stimulus_ids).astype(str)
    n = len(ids)
    if len(np.unique(ids)) != n:
        raise MetricError(
            "Cross-validation splits need one row per stimulus, but some stimulus ids "
            "repeat. Average the repetitions first (brainmark.data.average_repetitions)."
        )
    if not 0 < train_size < 1:
        raise MetricError(f"train_size must be in (0, 1). Got {train_size}.")
    if n_splits < 1:
        raise MetricError(f"n_splits must be at least 1. Got {n_splits}.")
    n_train = math.floor(train_size * n)  # as scikit-learn computes it
    n_test = n - n_train
    if n_test < MIN_TEST_STIMULI or n_train < min_train:
        raise MetricError(
            f"{n} stimuli are too few for train size {train_size}: each split would hold out "
            f"{n_test} stimuli (at least {MIN_TEST_STIMULI} are needed for a Pearson r) and "
            f"train on {n_train} (at least {min_train} are needed). Use at least "
            f"{_stimuli_needed(train_size, min_train)} stimuli or a different train_size."
        )
    rows = np.zeros(n)  # scikit-learn only counts the rows
    if stratify is None:
        splitter = ShuffleSplit(
            n_splits=n_splits, train_size=train_size, test_size=None, random_state=seed
        )
        splits = splitter.split(rows)
    else:
        labels = np.asarray(stratify)
        _check_stratification(labels, n=n, n_train=n_train, n_test=n_test)
        splitter = StratifiedShuffleSplit(
            n_splits=n_splits, train_size=train_size, test_size=None, random_state=seed
        )
        splits = splitter.split(rows, labels)
    return [(np.sort(train), np.sort(test)) for train, test in splits]


def _check_stratification(labels: np.ndarray, *, n: int, n_train: int, n_test: int) -> None:
    """Refuse labels scikit-learn cannot stratify by, saying why and what to do."""
    if labels.shape != (n,):
        raise MetricError(
            f"Got {labels.size} stratification labels for {n} stimuli; give one per stimulus."
        )
    classes, counts = np.unique(labels, return_counts=True)
    remedy = (
        "Stratify by a coarser coordinate, or not at all (e.g. load_metric('pls', "
        "stratify_by=None))."
    )
    if (counts < 2).any():
        raise MetricError(
            f"Cannot stratify the splits: {int((counts < 2).sum())} classes have a single "
            f"stimulus: {format_ids(classes[counts < 2])}. Every class needs at least 2. "
            f"{remedy}"
        )
    smaller = min(n_train, n_test)
    if len(classes) > smaller:
        side = "test" if n_test <= n_train else "training"
        raise MetricError(
            f"Cannot stratify the splits: the {len(classes)} classes do not fit into the "
            f"{smaller} {side} stimuli of a split of {n} stimuli. {remedy}"
        )


def _stimuli_needed(train_size: float, min_train: int) -> int:
    n = MIN_TEST_STIMULI
    while n - math.floor(train_size * n) < MIN_TEST_STIMULI or (
        math.floor(train_size * n) < min_train
    ):
        n += 1
    return n
