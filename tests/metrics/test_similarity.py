"""RDM and CKA metrics against rsatoolbox / scipy references and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import calc_rdm, compare
from scipy.stats import ortho_group, spearmanr

from brainmark import load_metric
from brainmark.data import PropertyAssembly
from brainmark.exceptions import MetricError
from brainmark.metrics import linear_cka
from brainmark.testing._metrics import neural_assemblies, rdm_assembly, with_stimulus_ids


def test_rdm_of_identical_responses_scores_one():
    model, _ = neural_assemblies()
    assert float(load_metric("rdm")(model, model)) == pytest.approx(1.0, abs=1e-12)


def test_rdm_score_equals_rsatoolbox_spearman_comparison():
    model, data = neural_assemblies(n_stimuli=30, noise=2.0)
    expected = compare(
        calc_rdm(Dataset(model.values), method="correlation"),
        calc_rdm(Dataset(data.values), method="correlation"),
        method="spearman",
    )[0, 0]
    assert float(load_metric("rdm")(model, data)) == pytest.approx(expected, abs=1e-12)


def upper(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.triu_indices(len(matrix), k=1)]


def test_subject_rdms_give_the_mean_and_keep_each_subject():
    rdms = rdm_assembly(n_stimuli=12, n_subjects=3)
    model, _ = neural_assemblies(n_stimuli=12)
    model_rdm = 1 - np.corrcoef(model.values)
    expected = [spearmanr(upper(model_rdm), upper(rdm)).statistic for rdm in rdms.values]
    score = load_metric("rdm")(model, rdms)
    np.testing.assert_allclose(score.attrs["raw"].values, expected, rtol=1e-12)
    assert float(score) == pytest.approx(np.mean(expected))
    assert score.attrs["error"] == pytest.approx(np.std(expected, ddof=1) / np.sqrt(3))
    assert list(score.attrs["raw"]["subject"].values) == ["s0", "s1", "s2"]


def test_rdm_assemblies_are_accepted_as_the_model_side_and_aligned_by_id():
    rdms = rdm_assembly(n_stimuli=10, n_subjects=2)
    single = rdms.isel(subject=0).drop_vars("subject")
    reordered = single.isel(stimulus_row=slice(None, None, -1),
                            stimulus_column=slice(None, None, -1))
    assert float(load_metric("rdm")(reordered, single)) == pytest.approx(1.0)


def test_non_symmetric_rdms_are_compared_on_all_off_diagonal_entries():
    rng = np.random.default_rng(2)
    ids = [f"stim{k:04d}" for k in range(8)]
    matrix = rng.random((8, 8))
    data = PropertyAssembly(matrix, dims=("stimulus_row", "stimulus_column"),
                            coords={"stimulus_row": ids, "stimulus_column": ids})
    model, _ = neural_assemblies(n_stimuli=8)
    model_rdm = 1 - np.corrcoef(model.values)
    model_rdm = (model_rdm + model_rdm.T) / 2  # tie the two copies of each pair exactly
    off = ~np.eye(8, dtype=bool)
    expected = spearmanr(model_rdm[off], matrix[off]).statistic
    score = load_metric("rdm")(model, data)
    assert float(score) == pytest.approx(expected, abs=1e-12)
    assert score.attrs["entries"] == "all off-diagonal"


def test_nan_entries_of_the_data_rdm_are_left_out():
    model, data = neural_assemblies(n_stimuli=10)
    rdm = 1 - np.corrcoef(data.values)
    rdm[2, 5] = rdm[5, 2] = np.nan
    ids = data["stimulus_id"].values
    target = PropertyAssembly(rdm, dims=("stimulus_row", "stimulus_column"),
                              coords={"stimulus_row": ids, "stimulus_column": ids})
    model_entries, data_entries = upper(1 - np.corrcoef(model.values)), upper(rdm)
    keep = np.isfinite(data_entries)
    expected = spearmanr(model_entries[keep], data_entries[keep]).statistic
    assert float(load_metric("rdm")(model, target)) == pytest.approx(expected, abs=1e-12)


def test_a_stimulus_with_flat_responses_is_refused_by_id():
    model, data = neural_assemblies()
    values = model.values.copy()
    values[3] = 0.0
    with pytest.raises(MetricError, match="stim0003"):
        load_metric("rdm")(model.copy(data=values), data)


def test_rdm_refuses_mismatched_stimuli():
    model, data = neural_assemblies(n_stimuli=12)
    renamed = with_stimulus_ids(model, [f"other{k}" for k in range(12)])
    with pytest.raises(MetricError, match="same stimuli"):
        load_metric("rdm")(renamed, data)


def rdm_with_columns_in_order(matrix: np.ndarray, ids: np.ndarray, order: np.ndarray):
    """A data RDM storing ``matrix``'s columns in ``order``, labelled accordingly."""
    return PropertyAssembly(matrix[:, order], dims=("stimulus_row", "stimulus_column"),
                            coords={"stimulus_row": ids, "stimulus_column": ids[order]})


def test_rdm_columns_stored_in_another_order_are_matched_by_their_labels():
    model, data = neural_assemblies(n_stimuli=12, noise=1.0)
    ids = np.asarray(data["stimulus_id"].values)
    data_rdm = 1 - np.corrcoef(data.values)
    stored = rdm_with_columns_in_order(data_rdm, ids, np.arange(12))
    permuted = rdm_with_columns_in_order(data_rdm, ids, np.random.default_rng(3).permutation(12))
    expected = spearmanr(upper(1 - np.corrcoef(model.values)), upper(data_rdm)).statistic
    metric = load_metric("rdm")
    assert float(metric(model, stored)) == pytest.approx(expected, abs=1e-12)
    score = metric(model, permuted)
    assert float(score) == pytest.approx(expected, abs=1e-12)
    assert score.attrs["entries"] == "upper triangle"


def test_model_and_subject_rdms_with_permuted_columns_score_like_the_stored_order():
    rdms = rdm_assembly(n_stimuli=10, n_subjects=3)
    ids = np.asarray(rdms["stimulus_row"].values)
    model_rdm = rdms.values.mean(axis=0) + np.random.default_rng(4).random((10, 10)) * 0.2
    model_rdm = (model_rdm + model_rdm.T) / 2
    expected = [spearmanr(upper(model_rdm), upper(rdm)).statistic for rdm in rdms.values]
    rng = np.random.default_rng(5)
    model = rdm_with_columns_in_order(model_rdm, ids, rng.permutation(10))
    data = rdms.isel(stimulus_column=rng.permutation(10))
    score = load_metric("rdm")(model, data)
    np.testing.assert_allclose(score.attrs["raw"].values, expected, rtol=0, atol=1e-12)


def test_rdm_with_a_repeated_label_is_refused_naming_it():
    _, data = neural_assemblies(n_stimuli=6)
    ids = np.asarray(data["stimulus_id"].values)
    columns = ids.copy()
    columns[4] = ids[1]
    rdm = PropertyAssembly(1 - np.corrcoef(data.values), dims=("stimulus_row", "stimulus_column"),
                           coords={"stimulus_row": ids, "stimulus_column": columns})
    with pytest.raises(MetricError, match=r"stimulus_column labels that appear more than once: "
                                          r"\['stim0001'\]"):
        load_metric("rdm")(data, rdm)


def test_rdm_with_other_stimuli_on_its_columns_is_refused_naming_them():
    _, data = neural_assemblies(n_stimuli=6)
    ids = np.asarray(data["stimulus_id"].values)
    columns = ids.astype(object)
    columns[2] = "elsewhere"
    rdm = PropertyAssembly(1 - np.corrcoef(data.values), dims=("stimulus_row", "stimulus_column"),
                           coords={"stimulus_row": ids, "stimulus_column": columns})
    with pytest.raises(MetricError, match=r"1 only on the rows: \['stim0002'\]; 1 only on the "
                                          r"columns: \['elsewhere'\]"):
        load_metric("rdm")(data, rdm)


def song_unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. (2012) eq. 5, on uncentered Gram matrices with zeroed diagonals."""
    n = len(k)
    k, l = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
    ones = np.ones(n)
    return (np.trace(k @ l) + ones @ k @ ones * (ones @ l @ ones) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * ones @ k @ l @ ones) / (n * (n - 3))


def biased_hsic(k: np.ndarray, l: np.ndarray) -> float:
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ l @ h) / (n - 1) ** 2


@pytest.mark.parametrize(("hsic", "unbiased"), [(song_unbiased_hsic, True), (biased_hsic, False)])
@pytest.mark.parametrize("features", [5, 50])
def test_cka_equals_the_gram_matrix_formula(hsic, unbiased, features):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, features)) + 3.0
    y = x[:, :3] @ rng.standard_normal((3, 4)) + rng.standard_normal((20, 4))
    k, l = x @ x.T, y @ y.T
    expected = hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))
    assert linear_cka(x, y, unbiased=unbiased) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("unbiased", [True, False])
def test_cka_is_one_for_identical_and_invariant_to_rotation_and_scaling(unbiased):
    model, data = neural_assemblies(n_stimuli=40, n_features=12)
    metric = load_metric("cka", unbiased=unbiased)
    assert float(metric(model, model)) == pytest.approx(1.0, abs=1e-12)
    rotation = ortho_group.rvs(12, random_state=0)
    transformed = model.copy(data=3.5 * model.values @ rotation)
    assert float(metric(transformed, data)) == pytest.approx(float(metric(model, data)),
                                                             rel=1e-10)
