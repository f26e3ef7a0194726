"""Ceilings: how well the data predicts itself, the value a perfect model would reach.

Call shape ``ceiling(data_assembly) -> Score``; see ``docs/scores.md`` for how each ceiling
pairs with its metric.

- ``internal_consistency``: split-half reliability of neural responses over repetitions,
  Spearman-Brown corrected to the full number of repetitions (the ceiling of the
  regression metrics).
- ``rdm_subject_ceiling``: how well each subject's RDM is predicted by the mean RDM of the
  other subjects (leave-one-out, the lower bound of the noise ceiling of Nili et al. 2014;
  the upper bound, against the mean of all subjects, is reported beside it).
- ``error_consistency_ceiling``: the mean error consistency between pairs of subjects.
- :func:`no_ceiling`: a ceiling of 1 (error 0) where no ceiling can be estimated.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse
import xarray as xr
from sklearn.model_selection import ShuffleSplit

from brainmark.data.validation import format_ids, validate_assembly
from brainmark.exceptions import MetricError
from brainmark.metrics import _inputs
from brainmark.metrics._correlation import masked_pearson_columns
from brainmark.metrics.behavior import (
    IMAGES_METHOD,
    choices_frame,
    image_draws,
    truth_per_stimulus,
)
from brainmark.metrics.intervals import (
    Resampled,
    attach_interval,
    corrected_two_factor,
    resample_counts,
    stimulus_resamples,
    subject_resamples,
)
from brainmark.metrics.score import Score, standard_error
from brainmark.metrics.similarity import (
    RDM_TWO_FACTOR_METHOD,
    PairWeights,
    as_rdms,
    compare_rdms,
    off_diagonal_entries,
    weighted_spearman,
)

HALVES = ("per_stimulus", "by_repetition")  # InternalConsistency's ways to halve the trials
#: ``attrs['interval_method']`` of :class:`InternalConsistency`.
SPLIT_HALF_METHOD = "bootstrap over stimuli of each split's half means (percentile)"


def spearman_brown(r: np.ndarray, factor: float = 2.0) -> np.ndarray:
    """Reliability of ``factor`` times as many trials, from the reliability ``r``."""
    return factor * r / (1 + (factor - 1) * r)


def no_ceiling() -> Score:
    """A ceiling of 1 with error 0, so that ceiled = raw.

    For data whose reliability cannot be estimated (a single pooled RDM) and for
    engineering benchmarks measured against ground truth (e.g. accuracy).
    """
    ceiling = Score(1.0)
    ceiling.attrs["error"] = 0.0
    return ceiling


class InternalConsistency(Resampled):
    """Split-half reliability of each neuroid over repetitions, Spearman-Brown corrected.

    The interval resamples stimuli (the same draws as the regression metrics, in sorted
    stimulus-id order): each split's half means are re-correlated over the drawn stimuli.

    Per split, the trials are divided into two halves; each neuroid's half means per
    stimulus (NaN-padded trials ignored) are correlated over stimuli (Pearson, over the
    stimuli with a value in both halves), the correlation is Spearman-Brown corrected from
    half to full length, and the median over neuroids is taken. The ceiling is the mean
    over splits, its error the standard error of the per-split medians.

    Parameters
    ----------
    n_splits, seed
        Number of random half splits, seed of their generator.
    halves
        How trials are divided into halves:

        - ``"per_stimulus"`` (default): every stimulus' valid (not all-NaN) trials are
          shuffled and split into two halves of equal size (an odd trial is left out of
          that split), so both halves of every stimulus average the same number of trials
          even when some stimuli have NaN-padded repetitions.
        - ``"by_repetition"``: Brain-Score's halves. The ``repetition`` values are split
          into two halves (scikit-learn ``ShuffleSplit(train_size=0.5,
          random_state=seed)`` over the sorted unique values) and each half holds the
          trials of its repetitions, for every stimulus alike. With padding a stimulus'
          halves can hold different numbers of valid trials (or none: that stimulus then
          drops out of the split's correlations); with an odd number of repetitions the
          second half has one more.

    ``docs/scores.md`` compares the two on data with missing repetitions.
    """

    kind = "neural_ceiling"

    def __init__(self, *, n_splits: int = 10, seed: int = 1, halves: str = "per_stimulus") -> None:
        if halves not in HALVES:
            raise MetricError(f"halves must be one of {HALVES}. Got {halves!r}.")
        if n_splits < 1:
            raise MetricError(f"n_splits must be at least 1. Got {n_splits}.")
        self.n_splits = n_splits
        self.seed = seed
        self.halves = halves

    def __call__(self, assembly: xr.DataArray) -> Score:
        validate_assembly(
            assembly,
            dims=("presentation", "neuroid"),
            coords={"stimulus_id": "presentation",
                    **({"repetition": "presentation"} if self.halves == "by_repetition"
                       else {})},
            name=_inputs.TARGET,
            allow_nan=True,
        )
        bins = [b for b, _ in _inputs.time_bin_pairs(assembly, assembly)]
        return _inputs.mean_over_time_bins(
            [self._ceiling(_inputs.squeeze_time_bin(b, name=_inputs.TARGET)) for b in bins]
        )

    def _ceiling(self, assembly: xr.DataArray) -> Score:
        assembly = assembly.transpose("presentation", "neuroid")
        values = np.asarray(assembly.values, dtype=np.float64)
        kept = ~np.isnan(values).all(axis=1)  # padded repetitions
        values = values[kept]
        ids = _inputs.stimulus_ids(assembly)[kept]
        codes, uniques = pd.factorize(ids, sort=True)
        trials = np.bincount(codes, minlength=len(uniques))
        if (trials >= 2).sum() < 3:
            raise MetricError(
                f"Internal consistency needs at least 3 stimuli with 2 or more valid trials; "
                f"the data has {int((trials >= 2).sum())}. Pass the assembly with its "
                f"repetitions (one presentation per trial), not averaged responses."
            )
        spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
        if not (spread > 0).all():
            labels = _inputs.neuroid_labels(assembly)[~(spread > 0)]
            raise MetricError(
                f"{len(labels)} neuroids have zero variance over trials: neuroid_id "
                f"{format_ids(labels)}. Their reliability is undefined; drop them first."
            )
        if self.halves == "per_stimulus":
            sides = half_splits(codes, n_splits=self.n_splits, seed=self.seed)
        else:
            repetitions = _inputs.coordinate(assembly, "repetition")[kept]
            sides = repetition_halves(repetitions, n_splits=self.n_splits, seed=self.seed)
        finite = np.isfinite(values)
        filled = np.where(finite, values, 0.0)
        corrected = np.empty((self.n_splits, values.shape[1]))
        draws = resample_counts(
            stimulus_resamples(len(uniques), self.resamples, self.resample_seed), len(uniques)
        ) if self.resamples else np.zeros((0, len(uniques)))
        resampled = np.empty((self.resamples, self.n_splits))
        for split, side in enumerate(sides):
            used = side >= 0
            groups = scipy.sparse.csr_matrix(
                (np.ones(used.sum()), (2 * codes[used] + side[used], np.flatnonzero(used))),
                shape=(2 * len(uniques), len(codes)),
            )
            sums = groups @ filled
            counts = groups @ finite.astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = sums / counts
            first, second = means[0::2], means[1::2]
            valid = np.isfinite(first) & np.isfinite(second)
            corrected[split] = spearman_brown(masked_pearson_columns(first, second, valid))
            resampled[:, split] = _resampled_split_half(first, second, valid, draws)
        if np.isnan(corrected).any():
            warnings.warn(
                f"{int(np.isnan(corrected).sum())} (split, neuroid) reliabilities are undefined "
                f"(a half without variance, or fewer than 2 stimuli with values in both "
                f"halves) and left out of those splits' medians.",
                stacklevel=3,
            )
        per_split = np.nanmedian(corrected, axis=1)
        score = Score(float(per_split.mean()))
        score.attrs["raw"] = xr.DataArray(
            corrected,
            dims=("split", "neuroid"),
            coords={"split": np.arange(self.n_splits),
                    **_inputs.dim_coordinates(assembly, "neuroid")},
            attrs={"description": "Spearman-Brown corrected split-half r per split and neuroid",
                   "halves": self.halves},
        )
        score.attrs["error"] = standard_error(per_split)
        score.attrs["split_scores"] = per_split
        if not self.resamples:
            return score
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values = np.nanmean(resampled, axis=1)
        return attach_interval(score, values, method=SPLIT_HALF_METHOD,
                               resamples=self.resamples, seed=self.resample_seed,
                               level=self.interval_level)

    def __repr__(self) -> str:
        return (f"InternalConsistency(n_splits={self.n_splits}, seed={self.seed}, "
                f"halves={self.halves!r})")


def _resampled_split_half(
    first: np.ndarray, second: np.ndarray, valid: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """Per resample, the median over neuroids of the corrected split-half r.

    ``first``/``second`` are stimuli x neuroids half means (valid where both exist),
    ``draws`` resamples x stimuli counts: a weighted Pearson r over the valid stimuli.
    """
    present = valid.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(valid, first - np.where(valid, first, 0).sum(0) / present.sum(0), 0.0)
        b = np.where(valid, second - np.where(valid, second, 0).sum(0) / present.sum(0), 0.0)
        total = draws @ present
        ma, mb = draws @ a / total, draws @ b / total
        sab = draws @ (a * b) / total - ma * mb
        saa = draws @ (a * a) / total - ma * ma
        sbb = draws @ (b * b) / total - mb * mb
        r = np.where((saa > 0) & (sbb > 0) & (total >= 2), sab / np.sqrt(saa * sbb), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(spearman_brown(r), axis=1)


def half_splits(codes: np.ndarray, *, n_splits: int, seed: int) -> list[np.ndarray]:
    """Per split, the half (0 or 1, -1 for an odd trial out) of each trial.

    ``codes[i]`` is the stimulus (0..k-1) of trial ``i``. Within every stimulus the trials
    are shuffled and the first ``count // 2`` go to half 0, the next ``count // 2`` to
    half 1, so both halves of a stimulus hold the same number of trials.
    """
    trials = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(trials)[:-1]])
    half = trials // 2
    rng = np.random.default_rng(seed)
    sides = []
    for _ in range(n_splits):
        order = np.lexsort((rng.random(len(codes)), codes))  # shuffle within stimulus
        rank = np.empty(len(codes), dtype=int)
        rank[order] = np.arange(len(codes)) - starts[codes[order]]
        sides.append(np.where(rank < half[codes], 0, np.where(rank < 2 * half[codes], 1, -1)))
    return sides


def repetition_halves(repetitions: np.ndarray, *, n_splits: int, seed: int) -> list[np.ndarray]:
    """Per split, the half (0 or 1) of each trial from its repetition, as Brain-Score splits.

    The sorted unique ``repetitions`` values are split by scikit-learn's
    ``ShuffleSplit(n_splits, train_size=0.5, random_state=seed)``: the trials of the
    training repetitions form half 0, those of the test repetitions half 1.
    """
    values, positions = np.unique(repetitions, return_inverse=True)
    if len(values) < 2:
        raise MetricError(
            f"Halves by repetition need at least 2 distinct 'repetition' values; the data "
            f"has {len(values)}. Pass the assembly with its repetitions, or use "
            f"halves='per_stimulus'."
        )
    splitter = ShuffleSplit(n_splits=n_splits, train_size=0.5, test_size=None,
                            random_state=seed)
    sides = []
    for _, second in splitter.split(np.zeros(len(values))):
        in_second = np.zeros(len(values), dtype=int)
        in_second[second] = 1
        sides.append(in_second[positions])
    return sides


class RDMSubjectCeiling(Resampled):
    """Leave-one-subject-out consistency of RDMs; the all-subject upper bound beside it.

    For each subject, the Spearman r of its RDM with the mean RDM of the other subjects
    (lower bound) and with the mean of all subjects including itself (upper bound), on the
    same entries the ``rdm`` metric compares. The ceiling is the mean lower bound: the
    score of a concrete predictor (the other subjects' consensus), on the same footing as
    the model's mean over subjects; the upper bound needs the subject's own noise.

    The interval resamples stimuli and subjects exactly as the ``rdm`` metric does (same
    indices, corrected two-factor bootstrap); a subject drawn several times is left out
    of its own consensus with all its copies, as rsatoolbox's bootstrap noise ceiling does.
    """

    kind = "rdm_ceiling"

    def __call__(self, assembly: xr.DataArray) -> Score:
        data, ids, _, subjects = as_rdms(assembly, name=_inputs.TARGET, nan_padding=True)
        if subjects is None or len(subjects) < 2:
            raise MetricError(
                "An RDM subject ceiling needs RDMs of at least 2 subjects (a 'subject' dim). "
                "For one pooled RDM use a ceiling of 1 (brainmark.metrics.no_ceiling)."
            )
        mask = off_diagonal_entries(data)
        present = np.isfinite(data)
        totals = np.where(present, data, 0.0).sum(axis=0)
        counts = present.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            everyone = totals / counts
            bounds = np.empty((len(subjects), 2))
            for position, rdm in enumerate(data):
                own = np.where(present[position], rdm, 0.0)
                others = (totals - own) / (counts - present[position])
                bounds[position, 0] = compare_rdms(others, rdm[None], mask)[0]
                bounds[position, 1] = compare_rdms(everyone, rdm[None], mask)[0]
        score = Score(float(bounds[:, 0].mean()))
        score.attrs["raw"] = xr.DataArray(
            bounds, dims=("subject", "bound"),
            coords={"subject": subjects, "bound": ["lower", "upper"]},
        )
        score.attrs["lower_bound"] = float(bounds[:, 0].mean())
        score.attrs["upper_bound"] = float(bounds[:, 1].mean())
        score.attrs["error"] = standard_error(bounds[:, 0])
        if not self.resamples:
            return score
        weights = PairWeights.drawn(ids, mask, self.resamples, self.resample_seed)
        subject_counts = resample_counts(
            subject_resamples(len(subjects), self.resamples, self.resample_seed), len(subjects)
        )
        entries = data[:, mask]
        stimuli_only = _consensus_lower_bound(entries, np.ones(len(subjects)), weights)
        both, subjects_only = np.empty(len(weights)), np.empty(len(weights))
        # Resamples that drew subjects alike share the consensus RDMs: one pass per pattern.
        patterns, which = np.unique(subject_counts, axis=0, return_inverse=True)
        which = which.ravel()
        for k, pattern in enumerate(patterns):
            members = which == k
            both[members] = _consensus_lower_bound(entries, pattern, weights.subset(members))
            subjects_only[members] = _consensus_lower_bound(
                entries, pattern, PairWeights(np.ones((1, data.shape[1])), mask))[0]
        values = corrected_two_factor(
            float(score), both, stimuli_only, subjects_only,
            n_stimuli=data.shape[1], n_subjects=len(subjects),
        )
        return attach_interval(score, values, method=RDM_TWO_FACTOR_METHOD,
                               resamples=self.resamples, seed=self.resample_seed,
                               level=self.interval_level)

    def __repr__(self) -> str:
        return "RDMSubjectCeiling()"


def _consensus_lower_bound(
    entries: np.ndarray, subject_weights: np.ndarray, stimulus_weights: PairWeights
) -> np.ndarray:
    """Per row of ``stimulus_weights``, the lower bound of the subject ceiling.

    The weighted mean over subjects of the Spearman r of each subject's entries with the
    others' mean. ``entries`` is subjects x k (NaN where missing); ``subject_weights`` how
    often each subject was drawn, a subject's copies all left out of its own consensus
    (so with one subject drawn there is no ceiling: NaN); ``stimulus_weights`` (resamples
    x k) how often each entry appears (:class:`~brainmark.metrics.similarity.PairWeights`).
    """
    drawn = np.flatnonzero(subject_weights > 0)
    if len(drawn) < 2:
        return np.full(len(stimulus_weights), np.nan)
    entries, subject_weights = entries[drawn], subject_weights[drawn]
    present = np.isfinite(entries)
    weighted = subject_weights[:, None] * np.where(present, entries, 0.0)
    totals = weighted.sum(axis=0)
    counts = (subject_weights[:, None] * present).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        others = (totals - weighted) / (counts - subject_weights[:, None] * present)
    r = np.stack([weighted_spearman(other, entry, stimulus_weights)[:, 0]
                  for other, entry in zip(others, entries, strict=True)])
    return subject_weights @ r / subject_weights.sum()


class ErrorConsistencyCeiling(Resampled):
    """Mean Cohen's kappa of correctness between every pair of subjects (per condition).

    Each pair is compared on the images both saw (a subject's repeated trials of an image
    enter as its correctness rate). Per condition the mean over pairs; then the mean over
    conditions. The error is the standard error over subjects of their mean kappa. The
    interval resamples images, with the draws of the ``error_consistency`` metric.
    """

    kind = "behavioral_ceiling"

    def __call__(self, assembly: xr.DataArray) -> Score:
        needs = ("truth", "subject") + (("condition",) if "condition" in assembly.coords else ())
        data = choices_frame(assembly, name=_inputs.TARGET, needs=needs)
        truth_per_stimulus(data)
        if "condition" not in data:
            data["condition"] = ""
        data["correct"] = (data["choice"] == data["truth"]).astype(float)
        subjects = np.unique(data["subject"])
        if len(subjects) < 2:
            raise MetricError("An error consistency ceiling needs at least 2 subjects.")
        images = pd.Index(np.unique(data["stimulus_id"]))
        draws = image_draws(images, self.resamples, self.resample_seed) if self.resamples else (
            None)
        per_condition, resampled = [], []
        for _, group in data.groupby("condition", sort=True):
            table = group.pivot_table(index="stimulus_id", columns="subject", values="correct",
                                      aggfunc="mean").reindex(columns=subjects)
            per_condition.append(pairwise_kappa(table.to_numpy()))
            if draws is not None:
                weights = draws[:, images.get_indexer(table.index)]
                resampled.append(_mean_pairwise_kappa(table.to_numpy(), weights))
        matrix = np.nanmean(np.stack(per_condition), axis=0) if len(per_condition) > 1 else (
            per_condition[0])
        off_diagonal = ~np.eye(len(subjects), dtype=bool)
        condition_means = [np.nanmean(k[off_diagonal]) for k in per_condition]
        value = float(np.nanmean(condition_means))
        if not np.isfinite(value):
            raise MetricError("Error consistency between subjects is undefined: no errors.")
        score = Score(value)
        score.attrs["raw"] = xr.DataArray(
            matrix, dims=("subject", "other_subject"),
            coords={"subject": subjects.astype(str), "other_subject": subjects.astype(str)},
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score.attrs["error"] = standard_error(
                np.nanmean(np.where(off_diagonal, matrix, np.nan), axis=1)
            )
            if draws is None:
                return score
            values = np.nanmean(np.stack(resampled, axis=1), axis=1)
        return attach_interval(score, values, method=IMAGES_METHOD, resamples=self.resamples,
                               seed=self.resample_seed, level=self.interval_level)

    def __repr__(self) -> str:
        return "ErrorConsistencyCeiling()"


def _mean_pairwise_kappa(correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per resample, the mean over subject pairs of :func:`pairwise_kappa` with the images
    weighted by ``weights`` (resamples x images): all pairs and resamples at once."""
    seen = np.isfinite(correct).astype(float)
    right = np.where(seen > 0, correct, 0.0)
    wrong = seen - right

    def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("ri,is,it->rst", weights, a, b, optimize=True)

    both = cross(seen, seen)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (cross(right, right) + cross(wrong, wrong)) / both
        accuracy = cross(right, seen) / both
        transposed = np.swapaxes(accuracy, 1, 2)
        expected = accuracy * transposed + (1 - accuracy) * (1 - transposed)
        kappa = np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)
    off_diagonal = ~np.eye(correct.shape[1], dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample without errors: NaN
        return np.nanmean(kappa[:, off_diagonal], axis=1)


def pairwise_kappa(correct: np.ndarray) -> np.ndarray:
    """Subjects x subjects Cohen's kappa from an (images x subjects) correctness table.

    NaN marks images a subject did not see; each pair uses the images both saw. All pairs
    at once from matrix products of the seen-masks and correctness rates.
    """
    seen = np.isfinite(correct).astype(float)
    right = np.where(seen > 0, correct, 0.0)
    wrong = seen - right
    both = seen.T @ seen
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (right.T @ right + wrong.T @ wrong) / both
        accuracy = (right.T @ seen) / both  # [a, b]: accuracy of a on images both saw
        expected = accuracy * accuracy.T + (1 - accuracy) * (1 - accuracy.T)
        kappa = np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)
    np.fill_diagonal(kappa, np.nan)
    return kappa
