"""Cross-validation splits: scikit-learn's (Brain-Score's recipe), sizes, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

from brainmark.exceptions import MetricError
from brainmark.metrics import stratified_splits

IDS = np.array([f"s{k:03d}" for k in range(100)])
OBJECTS = np.array([f"object{k % 4}" for k in range(100)])


def brain_score_splits(n: int, labels: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Brain-Score's splitter: train_size=0.9, test_size=None, random_state=1, 10 splits."""
    if labels is None:
        splitter = ShuffleSplit(n_splits=10, train_size=0.9, test_size=None, random_state=1)
        return list(splitter.split(np.zeros(n)))
    splitter = StratifiedShuffleSplit(n_splits=10, train_size=0.9, test_size=None,
                                      random_state=1)
    return list(splitter.split(np.zeros(n), labels))


@pytest.mark.parametrize("labels", [None, OBJECTS], ids=["shuffle", "stratified"])
def test_splits_are_scikit_learns_for_brain_scores_recipe(labels):
    splits = stratified_splits(IDS, stratify=labels)
    expected = brain_score_splits(100, labels)
    assert len(splits) == 10
    for (train, test), (expected_train, expected_test) in zip(splits, expected, strict=True):
        np.testing.assert_array_equal(train, np.sort(expected_train))
        np.testing.assert_array_equal(test, np.sort(expected_test))


def test_integer_labels_are_passed_as_they_are():
    # Converting 0..11 to strings would reorder the classes ('10' < '2') and so the splits.
    labels = np.arange(120) % 12
    splits = stratified_splits(np.arange(120), stratify=labels)
    for (_, test), (_, expected) in zip(splits, brain_score_splits(120, labels), strict=True):
        np.testing.assert_array_equal(test, np.sort(expected))


def test_train_size_is_floored_and_the_rest_is_held_out():
    splits = stratified_splits(np.arange(105))  # floor(0.9 * 105) = 94 train, 11 test
    for train, test in splits:
        assert (len(train), len(test)) == (94, 11)
        assert set(train).isdisjoint(test) and set(train) | set(test) == set(range(105))


def test_test_sets_keep_the_object_mix():
    for _, test in stratified_splits(IDS, stratify=OBJECTS):
        counts = np.unique(OBJECTS[test], return_counts=True)[1]
        assert sorted(counts) == [2, 2, 3, 3]  # 10 of 100 over 4 objects of 25


def test_splits_follow_the_row_order_as_brain_scores_do():
    order = np.random.default_rng(0).permutation(100)
    shuffled = stratified_splits(IDS[order], stratify=OBJECTS[order])
    for (_, test), (_, expected) in zip(
        shuffled, brain_score_splits(100, OBJECTS[order]), strict=True
    ):
        np.testing.assert_array_equal(test, np.sort(expected))
    other_seed = stratified_splits(IDS, stratify=OBJECTS, seed=2)
    same_seed = stratified_splits(IDS, stratify=OBJECTS)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(same_seed, other_seed,
                                                               strict=True))


def test_too_few_stimuli_are_refused_with_how_many_are_needed():
    with pytest.raises(MetricError, match=r"20 stimuli are too few.*Use at least 21 stimuli"):
        stratified_splits(IDS[:20])


def test_repeated_ids_are_refused():
    with pytest.raises(MetricError, match="Average the repetitions first"):
        stratified_splits(np.concatenate([IDS, IDS[:1]]))


def test_a_class_with_one_stimulus_is_refused_by_name():
    labels = OBJECTS.copy()
    labels[7] = "lonely"
    with pytest.raises(MetricError, match=r"1 classes have a single stimulus: \['lonely'\]"
                                          r".*stratify_by=None"):
        stratified_splits(IDS, stratify=labels)


def test_more_classes_than_test_stimuli_are_refused():
    labels = np.array([f"object{k % 20}" for k in range(100)])
    with pytest.raises(MetricError, match=r"20 classes do not fit into the 10 test stimuli"):
        stratified_splits(IDS, stratify=labels)
