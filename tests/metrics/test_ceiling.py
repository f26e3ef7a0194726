"""Ceilings against hand-computed split halves, scipy Spearman and scikit-learn's kappa."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import ShuffleSplit

from brainmark import load_metric
from brainmark.exceptions import MetricError, ValidationError
from brainmark.metrics import ceil_score, no_ceiling, spearman_brown, standard_error
from brainmark.metrics.ceiling import half_splits
from brainmark.testing._metrics import behavioral_assemblies, neural_assemblies, rdm_assembly


def test_spearman_brown_doubles_the_length():
    assert spearman_brown(np.array(0.5)) == pytest.approx(2 / 3)


def test_internal_consistency_equals_a_hand_computed_split_half():
    _, data = neural_assemblies(n_stimuli=12, n_neuroids=3, n_repetitions=5, noise=1.0)
    ids = data["stimulus_id"].values
    codes = pd.factorize(pd.Series(ids), sort=True)[0]
    medians = []
    for side in half_splits(codes, n_splits=3, seed=7):
        corrected = []
        for neuroid in range(3):
            halves = [[data.values[(codes == s) & (side == h), neuroid].mean()
                       for s in range(12)] for h in (0, 1)]
            r = pearsonr(*halves)[0]
            corrected.append(2 * r / (1 + r))
            assert ((codes == 0) & (side == 0)).sum() == ((codes == 0) & (side == 1)).sum() == 2
        medians.append(np.median(corrected))
    score = load_metric("internal_consistency", n_splits=3, seed=7)(data)
    assert float(score) == pytest.approx(np.mean(medians), abs=1e-12)
    assert score.attrs["error"] == pytest.approx(np.std(medians, ddof=1) / np.sqrt(3))


def brain_score_internal_consistency(data, *, n_splits: int = 10, seed: int = 1) -> float:
    """Brain-Score's halves written with pandas, scikit-learn and scipy: the repetition values
    split by ShuffleSplit(train_size=0.5), per half the per-stimulus mean (NaN skipped),
    Pearson r per neuroid over the stimuli present in both halves, Spearman-Brown, median
    over neuroids, mean over splits."""
    frame = pd.DataFrame(data.values)
    frame["stimulus_id"] = data["stimulus_id"].values
    repetitions = data["repetition"].values
    values = np.unique(repetitions)
    splitter = ShuffleSplit(n_splits=n_splits, train_size=0.5, test_size=None,
                            random_state=seed)
    medians = []
    for first, second in splitter.split(np.zeros(len(values))):
        halves = [frame[np.isin(repetitions, values[side])].groupby("stimulus_id").mean()
                  for side in (first, second)]
        corrected = []
        for neuroid in range(data.sizes["neuroid"]):
            pair = pd.concat([half[neuroid] for half in halves], axis=1).dropna()
            r = pearsonr(pair.iloc[:, 0], pair.iloc[:, 1])[0]
            corrected.append(2 * r / (1 + r))
        medians.append(np.median(corrected))
    return float(np.mean(medians))


@pytest.mark.parametrize("repetitions", [4, 5])
def test_halves_by_repetition_are_brain_scores(repetitions):
    _, data = neural_assemblies(n_stimuli=15, n_neuroids=4, n_repetitions=repetitions,
                                noise=1.0)
    score = load_metric("internal_consistency", halves="by_repetition")(data)
    assert float(score) == pytest.approx(brain_score_internal_consistency(data), abs=1e-12)
    assert score.attrs["error"] == pytest.approx(scipy.stats.sem(score.attrs["split_scores"]))


def test_halves_by_repetition_keep_stimuli_with_nan_padded_repetitions():
    _, data = neural_assemblies(n_stimuli=15, n_neuroids=4, n_repetitions=6, noise=1.0)
    values = data.values.copy()
    # Trial k is stimulus k % 15 at repetition k // 15. Stimuli 0-2 lack repetition 2,
    # stimulus 1 also 5; stimulus 3 lacks 0, 1 and 2, a whole half in some splits (it then
    # drops out of those splits' correlations); one value of stimulus 5 is missing.
    values[[30, 31, 32, 76, 3, 18, 33]] = np.nan
    values[5, 2] = np.nan
    padded = data.copy(data=values)
    score = load_metric("internal_consistency", halves="by_repetition")(padded)
    assert float(score) == pytest.approx(brain_score_internal_consistency(padded), abs=1e-12)


def test_halves_by_repetition_need_the_repetition_coordinate():
    _, data = neural_assemblies(n_repetitions=4)
    without = data.reset_index("presentation").drop_vars("repetition")
    with pytest.raises(ValidationError, match="missing the coordinate 'repetition'"):
        load_metric("internal_consistency", halves="by_repetition")(without)


def test_an_unknown_way_to_halve_is_refused():
    with pytest.raises(MetricError, match=r"halves must be one of \('per_stimulus', "
                                          r"'by_repetition'\)"):
        load_metric("internal_consistency", halves="odd_even")


def test_no_ceiling_is_one_with_no_error_and_leaves_scores_unchanged():
    ceiling = no_ceiling()
    assert float(ceiling) == 1.0 and ceiling.attrs["error"] == 0.0
    model, data = neural_assemblies()
    raw = load_metric("ridge")(model, data)
    ceiled = ceil_score(raw, ceiling)
    assert float(ceiled) == float(raw) and ceiled.attrs["error"] == raw.attrs["error"]


def test_standard_error_is_scipys_sem_over_the_finite_values():
    values = np.array([0.2, 0.5, np.nan, 0.4, 0.9])
    assert standard_error(values) == pytest.approx(scipy.stats.sem(values, nan_policy="omit"))
    assert standard_error(values) == pytest.approx(np.std([0.2, 0.5, 0.4, 0.9], ddof=1) / 2)
    assert np.isnan(standard_error([0.3, np.nan]))


def test_noise_free_repetitions_are_perfectly_consistent():
    _, data = neural_assemblies(n_repetitions=4, noise=0.0)
    assert float(load_metric("internal_consistency")(data)) == pytest.approx(1.0)


def test_nan_padded_repetitions_are_ignored():
    _, data = neural_assemblies(n_stimuli=30, n_repetitions=4)
    padded_values = data.values.copy()
    padded_values[[3, 40, 77]] = np.nan  # whole padded trials
    padded = data.copy(data=padded_values)
    trimmed = data.isel(presentation=[k for k in range(120) if k not in (3, 40, 77)])
    metric = load_metric("internal_consistency")
    assert float(metric(padded)) == float(metric(trimmed))
    padded_values[5, 1] = np.nan  # one missing value of one neuroid
    assert np.isfinite(float(metric(data.copy(data=padded_values))))


def test_a_neuroid_without_variance_is_reported_by_id():
    _, data = neural_assemblies(n_repetitions=3)
    values = data.values.copy()
    values[:, 4] = 2.0
    with pytest.raises(MetricError, match=r"zero variance.*'n4'"):
        load_metric("internal_consistency")(data.copy(data=values))


def test_averaged_data_is_refused_as_having_no_repetitions():
    _, data = neural_assemblies()
    with pytest.raises(MetricError, match="with its repetitions"):
        load_metric("internal_consistency")(data)


def upper(matrix):
    return matrix[np.triu_indices(len(matrix), k=1)]


def test_rdm_subject_ceiling_is_leave_one_out_with_the_all_subject_bound_beside_it():
    rdms = rdm_assembly(n_stimuli=10, n_subjects=4)
    values = rdms.values
    lower = [spearmanr(upper(values[s]), upper(np.delete(values, s, 0).mean(0))).statistic
             for s in range(4)]
    upper_bound = [spearmanr(upper(values[s]), upper(values.mean(0))).statistic
                   for s in range(4)]
    score = load_metric("rdm_subject_ceiling")(rdms)
    assert float(score) == pytest.approx(np.mean(lower), abs=1e-12)
    assert score.attrs["upper_bound"] == pytest.approx(np.mean(upper_bound), abs=1e-12)
    assert score.attrs["upper_bound"] > float(score)


def test_rdm_subject_ceiling_needs_several_subjects():
    with pytest.raises(MetricError, match="at least 2 subjects"):
        load_metric("rdm_subject_ceiling")(rdm_assembly(n_subjects=1).isel(subject=0))


def test_error_consistency_ceiling_is_the_mean_pairwise_kappa():
    _, data = behavioral_assemblies(n_stimuli=30, n_subjects=4, seed=3)
    frame = pd.DataFrame({"subject": data["subject"].values,
                          "stimulus_id": data["stimulus_id"].values,
                          "correct": data.values == data["truth"].values})
    table = frame.pivot(index="stimulus_id", columns="subject", values="correct")
    kappas = [cohen_kappa_score(table[a], table[b])
              for a, b in itertools.combinations(table.columns, 2)]
    score = load_metric("error_consistency_ceiling")(data)
    assert float(score) == pytest.approx(np.mean(kappas), abs=1e-12)
