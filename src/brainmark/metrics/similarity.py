"""Similarity metrics that need no fitting: RDM comparison (RSA) and linear CKA.

``rdm``: representational dissimilarity matrices, 1 - Pearson r between the response
patterns of every pair of stimuli, compared by Spearman rank correlation. Either side may
be responses (``presentation x neuroid``, repetitions averaged) or an RDM
(``stimulus_row x stimulus_column``, optionally with a leading ``subject`` dim) whose rows
and columns are matched by their stimulus ids, in whatever order each is stored. Matrices
that are all symmetric are compared on the upper triangle; otherwise (e.g. cross-validated
split-half RDMs) on every off-diagonal entry. NaN entries of the data are left out
pairwise. With several subjects the score is the mean over subjects, ``raw`` keeps each
subject's value and the error is their standard error.

``cka``: linear centered kernel alignment between model features and neural responses of
the same stimuli (Kornblith et al. 2019), by default with the unbiased HSIC estimator
(Song et al. 2012), which removes the bias of CKA toward 1 when there are many features
per stimulus; ``unbiased=False`` gives the original (biased) estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import rankdata

from brainmark.data.validation import format_ids, validate_assembly
from brainmark.exceptions import MetricError
from brainmark.metrics import _inputs
from brainmark.metrics._correlation import pearson_columns
from brainmark.metrics.intervals import (
    Resampled,
    attach_interval,
    corrected_two_factor,
    resample_counts,
    sorted_positions,
    stimulus_resamples,
    subject_resamples,
)
from brainmark.metrics.score import Score, standard_error

#: How the RDM metric and ceiling resample (``attrs['interval_method']``).
RDM_STIMULI_METHOD = "bootstrap over stimuli: rows and columns of the RDMs (percentile)"
RDM_TWO_FACTOR_METHOD = (
    "bootstrap over stimuli (rows and columns of the RDMs) and subjects, variance-corrected "
    "as Schütt et al. 2023 (percentile)"
)

RDM_DIMS = ("stimulus_row", "stimulus_column")


def is_rdm(assembly: xr.DataArray) -> bool:
    """Whether the assembly holds dissimilarity matrices rather than responses."""
    return all(dim in assembly.dims for dim in RDM_DIMS)


def rdm_of_responses(
    assembly: xr.DataArray, *, name: str, nan_padding: bool = False
) -> xr.DataArray:
    """The RDM (1 - Pearson r between stimuli) of a ``presentation x neuroid`` assembly.

    Repetitions are averaged first; ``nan_padding`` accepts NaN-padded trials (the data
    side, see :func:`brainmark.metrics._inputs.responses`).
    """
    responses = _inputs.responses(assembly, name=name, nan_padding=nan_padding)
    values = np.asarray(responses.values, dtype=np.float64)
    ids = _inputs.stimulus_ids(responses)
    flat = np.ptp(values, axis=1) == 0
    if flat.any():
        raise MetricError(
            f"The {name} assembly responds identically on every neuroid to "
            f"{int(flat.sum())} stimuli: stimulus_id {format_ids(ids[flat])}. Their "
            f"correlation with other stimuli is undefined; record more (or other) neuroids."
        )
    if len(ids) < 3:
        raise MetricError(f"An RDM needs at least 3 stimuli; the {name} assembly has {len(ids)}.")
    dissimilarity = 1.0 - np.corrcoef(values)
    dissimilarity = (dissimilarity + dissimilarity.T) / 2  # exactly symmetric, zero diagonal
    np.fill_diagonal(dissimilarity, 0.0)
    return xr.DataArray(
        dissimilarity, dims=RDM_DIMS, coords={"stimulus_row": ids, "stimulus_column": ids}
    )


def as_rdms(
    assembly: xr.DataArray, *, name: str, nan_padding: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(subjects x n x n values, row ids, column ids, subject ids or None) of an assembly.

    Responses are turned into an RDM first (``nan_padding`` as in
    :func:`rdm_of_responses`).

    Rows and columns are matched by their labels: the columns are put in the order of the
    rows, so entry ``[s, i, j]`` is the dissimilarity of stimuli ``ids[i]`` and ``ids[j]``
    however the columns were stored, and the returned column ids equal the row ids.

    Raises
    ------
    MetricError
        When a label appears twice on the rows or on the columns, or the rows and the
        columns hold different stimuli; the message names those ids.
    """
    if not is_rdm(assembly):
        assembly = rdm_of_responses(assembly, name=name, nan_padding=nan_padding)
    validate_assembly(assembly, dims=RDM_DIMS, name=name, allow_nan=True)
    extra = [dim for dim in assembly.dims if dim not in (*RDM_DIMS, "subject")]
    if extra:
        raise MetricError(
            f"The {name} RDM assembly has dims {list(assembly.dims)}; expected "
            f"[subject,] stimulus_row, stimulus_column. Select or average over {extra}."
        )
    subjects = None
    if "subject" in assembly.dims:
        assembly = assembly.transpose("subject", *RDM_DIMS)
        subjects = np.asarray(assembly["subject"].values)
    else:
        assembly = assembly.transpose(*RDM_DIMS).expand_dims("subject")
    rows = np.asarray(assembly["stimulus_row"].values).astype(str)
    columns = np.asarray(assembly["stimulus_column"].values).astype(str)
    _refuse_unmatched_labels(rows, columns, name=name)
    column_order = pd.Index(columns).get_indexer(rows)
    values = np.asarray(assembly.values, dtype=np.float64)[:, :, column_order]
    return values, rows, columns[column_order], subjects


def _refuse_unmatched_labels(rows: np.ndarray, columns: np.ndarray, *, name: str) -> None:
    """Refuse RDM labels that cannot pair each row with one column: repeats, differing sets."""
    for dim, labels in (("stimulus_row", rows), ("stimulus_column", columns)):
        index = pd.Index(labels)
        if not index.is_unique:
            repeated = index[index.duplicated()].unique()
            raise MetricError(
                f"The {name} RDM has {len(repeated)} {dim} labels that appear more than "
                f"once: {format_ids(repeated)}. Each stimulus needs one row and one column; "
                f"average or drop the repeats."
            )
    only_rows = sorted(set(rows) - set(columns))
    only_columns = sorted(set(columns) - set(rows))
    if only_rows or only_columns:
        parts = []
        if only_rows:
            parts.append(f"{len(only_rows)} only on the rows: {format_ids(only_rows)}")
        if only_columns:
            parts.append(f"{len(only_columns)} only on the columns: {format_ids(only_columns)}")
        raise MetricError(
            f"The {name} RDM has different stimuli on its rows and columns ("
            f"{'; '.join(parts)}); an RDM compares every stimulus with every other. Label "
            f"stimulus_row and stimulus_column with the same stimulus ids."
        )


def off_diagonal_entries(*matrices: np.ndarray) -> np.ndarray:
    """Mask of the entries to compare: upper triangle if every matrix is symmetric.

    Symmetry allows rounding differences (``rtol=1e-10``), as left by float32 storage.
    """
    size = matrices[0].shape[-1]
    symmetric = all(
        np.allclose(m, np.swapaxes(m, -1, -2), rtol=1e-10, atol=1e-12, equal_nan=True)
        for m in matrices
    )
    mask = np.triu(np.ones((size, size), dtype=bool), k=1)
    return mask if symmetric else mask | mask.T


def compare_rdms(model: np.ndarray, data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Spearman r between one model RDM and each data RDM over ``mask``, NaN pairwise-left-out.

    ``model`` is n x n, ``data`` subjects x n x n; returns one r per subject.
    """
    return compare_entries(model[mask], data[:, mask])


def compare_entries(model_entries: np.ndarray, data_entries: np.ndarray) -> np.ndarray:
    """Spearman r between model entries (k) and each row of data entries (subjects x k).

    Entries where either side is NaN are left out pairwise.
    """
    valid = np.isfinite(data_entries) & np.isfinite(model_entries)[None, :]
    if valid.all():
        ranks = rankdata(data_entries, axis=1).T
        model_ranks = np.repeat(rankdata(model_entries)[:, None], len(data_entries), 1)
        return pearson_columns(model_ranks, ranks)
    result = np.empty(len(data_entries))
    for subject, (entries, keep) in enumerate(zip(data_entries, valid, strict=True)):
        ranks = np.stack([rankdata(model_entries[keep]), rankdata(entries[keep])], axis=1)
        result[subject] = pearson_columns(ranks[:, :1], ranks[:, 1:])[0]
    return result


class PairWeights:
    """How often each compared RDM entry appears in each resampled RDM (resamples x entries).

    Resampling stimuli makes the RDM ``rdm[drawn][:, drawn]``; the pair of two different
    stimuli ``i, j`` drawn ``c_i`` and ``c_j`` times appears ``c_i c_j`` times among its
    compared entries, and the pair of a stimulus with its own copy is a zero of the
    diagonal, not a dissimilarity, so it is left out (rsatoolbox marks it NaN for the same
    reason). Only the stimulus counts are stored; rows of weights are built a chunk at a
    time (``rows(start, stop)``), as a large RDM's would not fit in memory at once.
    """

    def __init__(self, counts: np.ndarray, mask: np.ndarray) -> None:
        self.counts = counts
        self.first, self.second = np.nonzero(mask)

    @classmethod
    def drawn(cls, ids: np.ndarray, mask: np.ndarray, resamples: int, seed: int) -> PairWeights:
        """The shared draws of :func:`~brainmark.metrics.intervals.stimulus_resamples`
        (sorted-id order), for an RDM whose rows are ordered as ``ids``."""
        counts = resample_counts(stimulus_resamples(len(ids), resamples, seed), len(ids))
        return cls(counts[:, sorted_positions(ids)], mask)

    def __len__(self) -> int:
        return len(self.counts)

    def subset(self, resamples: np.ndarray) -> PairWeights:
        """The weights of some resamples (a boolean mask or indices)."""
        subset = PairWeights.__new__(PairWeights)
        subset.counts, subset.first, subset.second = (
            self.counts[resamples], self.first, self.second)
        return subset

    def rows(self, start: int, stop: int, entries: np.ndarray | None = None) -> np.ndarray:
        """Weights of resamples ``start:stop`` (of the given entries, in their order)."""
        first, second = (self.first, self.second) if entries is None else (
            self.first[entries], self.second[entries])
        return self.counts[start:stop, first] * self.counts[start:stop, second]


def weighted_spearman(x: np.ndarray, ys: np.ndarray, weights: PairWeights) -> np.ndarray:
    """Spearman r of ``x`` with each row of ``ys``, per row of ``weights`` as multiplicities.

    ``x`` holds k entries, ``ys`` subjects x k, ``weights`` resamples x k; returns
    resamples x subjects. Row ``b`` gives the r of the vectors in which entry ``e``
    appears ``weights[b, e]`` times (average ranks for ties), without building them:
    ranks are weighted midranks, from one sort per vector for all resamples. Entries NaN
    on either side are left out (pairwise, per subject).
    """
    ys = np.atleast_2d(ys)
    result = np.empty((len(weights), len(ys)))
    valid = np.isfinite(ys) & np.isfinite(x)
    # Everything runs in the sorted order of x's kept entries: x's ranks need no scatter.
    subjects = []
    for y, keep in zip(ys, valid, strict=True):
        order = np.flatnonzero(keep)[np.argsort(x[keep])]
        x_ranks = _Midranks(x[order])
        y_order = np.argsort(y[order])
        subjects.append((order, x_ranks, y_order, _Midranks(y[order][y_order])))
    step = max(1, 2_000_000 // max(len(x), 1))  # bounded memory: resamples in chunks
    for start in range(0, len(weights), step):
        stop = min(start + step, len(weights))
        for subject, (order, x_ranks, y_order, y_ranks) in enumerate(subjects):
            w = weights.rows(start, stop, order)
            rx = x_ranks.centered(w)
            ry = np.empty_like(rx)
            ry[:, y_order] = y_ranks.centered(w[:, y_order])
            with np.errstate(invalid="ignore", divide="ignore"):
                result[start:stop, subject] = np.einsum("ij,ij,ij->i", w, rx, ry) / np.sqrt(
                    np.einsum("ij,ij,ij->i", w, rx, rx) * np.einsum("ij,ij,ij->i", w, ry, ry))
    return result


class _Midranks:
    """Weighted midranks of sorted values, for many rows of weights (one per resample)."""

    def __init__(self, ordered: np.ndarray) -> None:
        new_group = np.concatenate([[True], ordered[1:] != ordered[:-1]])
        self.untied = bool(new_group.all())
        self.starts = np.flatnonzero(new_group)
        self.group = np.cumsum(new_group) - 1

    def centered(self, weights: np.ndarray) -> np.ndarray:
        """Each entry's average rank among the weighted entries (weights in sorted order),
        minus the weighted mean rank ``(total + 1) / 2``."""
        if self.untied:
            midranks = np.cumsum(weights, axis=1) - (weights - 1) / 2
        else:
            totals = np.add.reduceat(weights, self.starts, axis=1)
            midranks = (np.cumsum(totals, axis=1) - (totals - 1) / 2)[:, self.group]
        return midranks - (weights.sum(axis=1, keepdims=True) + 1) / 2


class RDMSimilarity(Resampled):
    """Spearman correlation of the model's RDM with the data's RDM(s); see the module.

    The interval resamples stimuli (rows and columns of both RDMs) and, with several
    subjects, subjects, with the corrected two-factor bootstrap of Schütt et al. (2023);
    see :mod:`brainmark.metrics.intervals`.
    """

    kind = "neural"

    def __call__(self, source: xr.DataArray, target: xr.DataArray) -> Score:
        model, model_ids, _, model_subjects = as_rdms(source, name=_inputs.SOURCE)
        if model_subjects is not None and len(model_subjects) > 1:
            raise MetricError(
                "The model side has several RDMs (a 'subject' dim); pass one model RDM."
            )
        data, ids, _, subjects = as_rdms(target, name=_inputs.TARGET, nan_padding=True)
        order = _inputs.align(model_ids, ids)  # both sides' columns follow their rows
        model = model[0][np.ix_(order, order)]
        mask = off_diagonal_entries(model, data)
        per_subject = compare_rdms(model, data, mask)
        if np.isnan(per_subject).any():
            raise MetricError(
                "An RDM comparison is undefined: the model's or a subject's dissimilarities are "
                "all equal over the compared entries."
            )
        score = Score(float(per_subject.mean()))
        if subjects is None:
            score.attrs["raw"] = xr.DataArray(per_subject[0])
            score.attrs["error"] = np.nan
        else:
            score.attrs["raw"] = xr.DataArray(
                per_subject, dims=("subject",), coords={"subject": subjects}
            )
            score.attrs["error"] = standard_error(per_subject)
        score.attrs["entries"] = "upper triangle" if not mask[1, 0] else "all off-diagonal"
        if not self.resamples:
            return score
        return self._attach_interval(score, model, data, ids, per_subject, mask)

    def _attach_interval(self, score: Score, model: np.ndarray, data: np.ndarray,
                         ids: np.ndarray, per_subject: np.ndarray, mask: np.ndarray) -> Score:
        weights = PairWeights.drawn(ids, mask, self.resamples, self.resample_seed)
        model_entries = model[mask]
        per_resample = weighted_spearman(model_entries, data[:, mask], weights)
        if len(data) == 1:
            values, method = per_resample[:, 0], RDM_STIMULI_METHOD
        else:
            subjects = subject_resamples(len(data), self.resamples, self.resample_seed)
            both = np.take_along_axis(per_resample, subjects, axis=1).mean(axis=1)
            values = corrected_two_factor(
                float(score), both, per_resample.mean(axis=1), per_subject[subjects].mean(axis=1),
                n_stimuli=len(ids), n_subjects=len(data),
            )
            method = RDM_TWO_FACTOR_METHOD
        return attach_interval(score, values, method=method, resamples=self.resamples,
                               seed=self.resample_seed, level=self.interval_level)

    def __repr__(self) -> str:
        return "RDMSimilarity()"


def linear_cka(source: np.ndarray, target: np.ndarray, *, unbiased: bool = True) -> float:
    """Linear CKA between two (stimuli x features) arrays with matching rows.

    Computed from feature-space products (``X'Y``), and ``X'X`` or ``XX'`` whichever is
    smaller, never materialising more than one Gram matrix. The unbiased HSIC of Song et
    al. (2012) is translation invariant, so with centered data its diagonal terms reduce to
    row norms: ``tr(K~L~) = |X'Y|^2 - d_K.d_L``, ``1'K~1 = -sum d_K``, ``1'K~L~1 = d_K.d_L``.
    """
    x = source - source.mean(axis=0)
    y = target - target.mean(axis=0)
    n = len(x)

    def squared_norm_of_gram(a: np.ndarray) -> float:
        small = a @ a.T if a.shape[0] <= a.shape[1] else a.T @ a
        return float(np.einsum("ij,ij->", small, small))

    cross = x.T @ y
    hsic = {
        "xy": float(np.einsum("ij,ij->", cross, cross)),
        "xx": squared_norm_of_gram(x),
        "yy": squared_norm_of_gram(y),
    }
    if unbiased:
        d = {"x": np.einsum("ij,ij->i", x, x), "y": np.einsum("ij,ij->i", y, y)}

        def debias(value: float, a: np.ndarray, b: np.ndarray) -> float:
            inner = float(a @ b)
            return (value - inner + a.sum() * b.sum() / ((n - 1) * (n - 2))
                    - 2.0 / (n - 2) * inner) / (n * (n - 3))

        hsic = {
            "xy": debias(hsic["xy"], d["x"], d["y"]),
            "xx": debias(hsic["xx"], d["x"], d["x"]),
            "yy": debias(hsic["yy"], d["y"], d["y"]),
        }
    denominator = hsic["xx"] * hsic["yy"]
    if not denominator > 0:
        raise MetricError(
            "CKA is undefined: the model or the data has no variance over stimuli "
            "(or too little to estimate it without bias)."
        )
    return hsic["xy"] / np.sqrt(denominator)


class CKASimilarity:
    """Linear CKA between model features and neural responses (unbiased by default).

    Parameters
    ----------
    unbiased
        Use the unbiased HSIC estimator (Song et al. 2012); needs at least 4 stimuli.
    """

    kind = "neural"

    def __init__(self, *, unbiased: bool = True) -> None:
        self.unbiased = unbiased

    def __call__(self, source: xr.DataArray, target: xr.DataArray) -> Score:
        features, responses, _ = _inputs.paired_responses(source, target)
        if len(features) < 4:
            raise MetricError(f"CKA needs at least 4 stimuli; got {len(features)}.")
        value = linear_cka(features, responses, unbiased=self.unbiased)
        score = Score(value)
        score.attrs["raw"] = xr.DataArray(value, attrs={"unbiased": int(self.unbiased)})
        score.attrs["error"] = np.nan
        return score

    def __repr__(self) -> str:
        return f"CKASimilarity(unbiased={self.unbiased})"
