"""Behavioral metrics: a model's choices against subjects' choices on the same images.

Call shape ``metric(model_choices, data) -> Score``. ``model_choices`` is a
:class:`~brainmark.data.BehavioralAssembly` over ``presentation`` (coordinate
``stimulus_id``) whose values are the labels the model chose (several trials per image are
allowed and averaged). ``data`` is the subjects' assembly over ``presentation`` with the
chosen labels as values and coordinates ``stimulus_id``, ``truth`` (the correct label) and,
for error consistency, ``subject`` (and optionally ``condition``). Both must cover the
same images.

- ``accuracy``: fraction of images the model labels correctly (against ``truth``).
- ``error_consistency``: Cohen's kappa between the model's and each subject's
  trial-by-trial correctness (Geirhos et al. 2020): agreement beyond what their accuracies
  alone predict. Per condition, mean over subjects; then mean over conditions.
- ``i2n``: image-level normalized d' consistency (Rajalingham et al. 2018) computed from
  choices: see :func:`i2n_signature`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import norm

from brainmark.data.assemblies import coords_frame
from brainmark.data.validation import format_ids, validate_assembly
from brainmark.exceptions import MetricError
from brainmark.metrics import _inputs
from brainmark.metrics._correlation import masked_pearson_columns
from brainmark.metrics.intervals import (
    Resampled,
    attach_interval,
    resample_counts,
    sorted_positions,
    stimulus_resamples,
)
from brainmark.metrics.score import Score, standard_error

#: ``attrs['interval_method']`` of the behavioral metrics and their ceiling.
IMAGES_METHOD = "bootstrap over images, every trial of a drawn image counted (percentile)"


def image_draws(ids: np.ndarray | pd.Index, resamples: int, seed: int) -> np.ndarray:
    """``resamples x images``: how often each image (given by its unique ``ids``) is drawn.

    The shared draws of :func:`~brainmark.metrics.intervals.stimulus_resamples` (sorted-id
    order) put in the order of ``ids``.
    """
    ids = np.asarray(ids).astype(str)
    counts = resample_counts(stimulus_resamples(len(ids), resamples, seed), len(ids))
    return counts[:, sorted_positions(ids)]

DPRIME_LIMIT = 5.0
RATE_FLOOR = 1e-5  # rates are kept inside [floor, 1 - floor] so z-scores stay finite


def choices_frame(
    assembly: xr.DataArray, *, name: str, needs: tuple[str, ...] = ()
) -> pd.DataFrame:
    """One row per trial: ``stimulus_id``, ``choice`` (as strings) and the ``needs`` coords."""
    validate_assembly(
        assembly,
        dims=("presentation",),
        coords={"stimulus_id": "presentation", **dict.fromkeys(needs, "presentation")},
        name=name,
    )
    if assembly.ndim != 1:
        raise MetricError(
            f"The {name} assembly has dims {list(assembly.dims)}; expected one chosen label per "
            f"presentation. Turn probabilities into choices first (e.g. argmax over 'choice')."
        )
    frame = coords_frame(assembly, "presentation")
    result = pd.DataFrame({"stimulus_id": frame["stimulus_id"].astype(str).to_numpy(),
                           "choice": np.asarray(assembly.values).astype(str)})
    for coordinate in needs:
        result[coordinate] = frame[coordinate].astype(str).to_numpy()
    return result


def truth_per_stimulus(data: pd.DataFrame) -> pd.Series:
    """stimulus_id -> correct label; refuses stimuli with more than one truth."""
    counts = data.groupby("stimulus_id", sort=True)["truth"].nunique()
    conflicting = counts.index[counts > 1]
    if len(conflicting):
        raise MetricError(
            f"The data gives several 'truth' labels for {len(conflicting)} stimuli: "
            f"{format_ids(conflicting)}. Each image has one correct label."
        )
    return data.groupby("stimulus_id", sort=True)["truth"].first()


def model_correctness(model: pd.DataFrame, truth: pd.Series) -> pd.Series:
    """stimulus_id -> fraction of the model's trials on that image that are correct."""
    _inputs.align(pd.unique(model["stimulus_id"]), truth.index.to_numpy())
    correct = model["choice"].to_numpy() == truth.loc[model["stimulus_id"]].to_numpy()
    return pd.Series(correct.astype(float)).groupby(model["stimulus_id"].to_numpy()).mean()


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two correctness vectors (rates in [0, 1] allowed, 1/0 for trials).

    ``(c_obs - c_exp) / (1 - c_exp)`` with ``c_obs`` the expected agreement per trial and
    ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)`` from the accuracies; NaN when ``c_exp = 1``.
    """
    observed = np.mean(a * b + (1 - a) * (1 - b))
    pa, pb = np.mean(a), np.mean(b)
    expected = pa * pb + (1 - pa) * (1 - pb)
    return float((observed - expected) / (1 - expected)) if expected < 1 else np.nan


class Accuracy(Resampled):
    """Fraction of images the model labels correctly; error is the standard error.

    The interval resamples images.
    """

    kind = "behavioral"

    def __call__(self, source: xr.DataArray, target: xr.DataArray) -> Score:
        model = choices_frame(source, name=_inputs.SOURCE)
        data = choices_frame(target, name=_inputs.TARGET, needs=("truth",))
        correctness = model_correctness(model, truth_per_stimulus(data))
        values = correctness.to_numpy()
        score = Score(float(values.mean()))
        score.attrs["raw"] = xr.DataArray(
            values, dims=("presentation",),
            coords={"stimulus_id": ("presentation", correctness.index.to_numpy())},
        )
        score.attrs["error"] = standard_error(values)
        if not self.resamples:
            return score
        draws = image_draws(correctness.index, self.resamples, self.resample_seed)
        return attach_interval(score, draws @ values / len(values), method=IMAGES_METHOD,
                               resamples=self.resamples, seed=self.resample_seed,
                               level=self.interval_level)

    def __repr__(self) -> str:
        return "Accuracy()"


class ErrorConsistency(Resampled):
    """Cohen's kappa of model and subject trial-by-trial correctness (Geirhos et al. 2020).

    The interval resamples images: every trial of a drawn image counts once per draw.
    """

    kind = "behavioral"

    def __call__(self, source: xr.DataArray, target: xr.DataArray) -> Score:
        model = choices_frame(source, name=_inputs.SOURCE)
        needs = ("truth", "subject") + (("condition",) if "condition" in target.coords else ())
        data = choices_frame(target, name=_inputs.TARGET, needs=needs)
        if "condition" not in data:
            data["condition"] = ""
        truth = truth_per_stimulus(data)
        model_rate = model_correctness(model, truth)
        data["subject_correct"] = (data["choice"] == data["truth"]).astype(float)
        data["model_correct"] = model_rate.loc[data["stimulus_id"]].to_numpy()
        kappas = data.groupby(["condition", "subject"], sort=True)[
            ["subject_correct", "model_correct"]
        ].apply(lambda g: cohen_kappa(g["model_correct"].to_numpy(),
                                      g["subject_correct"].to_numpy()))
        table = kappas.unstack("subject")  # condition x subject
        if table.isna().to_numpy().all():
            raise MetricError(
                "Error consistency is undefined for every subject: the model and the subjects "
                "are always correct (or always wrong), so no errors can be compared."
            )
        if table.isna().to_numpy().any():
            warnings.warn(
                f"Error consistency is undefined (no errors on either side) for "
                f"{int(table.isna().to_numpy().sum())} (condition, subject) pairs; they are "
                f"left out of the mean.",
                stacklevel=2,
            )
        per_condition = table.mean(axis=1, skipna=True)
        per_subject = table.mean(axis=0, skipna=True).to_numpy()
        score = Score(float(per_condition.mean()))
        score.attrs["raw"] = xr.DataArray(
            table.to_numpy(), dims=("condition", "subject"),
            coords={"condition": table.index.to_numpy().astype(str),
                    "subject": table.columns.to_numpy().astype(str)},
        )
        score.attrs["error"] = standard_error(per_subject)
        if not self.resamples:
            return score
        draws = image_draws(truth.index, self.resamples, self.resample_seed)
        values = _resampled_error_consistency(data, truth.index, table.index, draws)
        return attach_interval(score, values, method=IMAGES_METHOD, resamples=self.resamples,
                               seed=self.resample_seed, level=self.interval_level)

    def __repr__(self) -> str:
        return "ErrorConsistency()"


def _resampled_error_consistency(
    data: pd.DataFrame, images: pd.Index, conditions: pd.Index, draws: np.ndarray
) -> np.ndarray:
    """Error consistency per resample (``draws``: resamples x ``images``).

    Per (condition, subject) the kappa's three means (agreement, model and subject
    accuracy) are sums over images of per-image trial sums, so weighting the images by
    their draws gives every resample at once; then the mean over subjects, over conditions.
    """
    image = images.get_indexer(data["stimulus_id"])
    groups = data.groupby(["condition", "subject"], sort=True).ngroup().to_numpy()
    keys = data.groupby(["condition", "subject"], sort=True).size().index
    shape = (len(images), len(keys))
    model, subject = data["model_correct"].to_numpy(), data["subject_correct"].to_numpy()
    agreement = model * subject + (1 - model) * (1 - subject)

    def summed(values: np.ndarray) -> np.ndarray:
        table = np.zeros(shape)
        np.add.at(table, (image, groups), values)
        return draws @ table

    trials = summed(np.ones(len(data)))
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = summed(agreement) / trials
        pa, pb = summed(model) / trials, summed(subject) / trials
        expected = pa * pb + (1 - pa) * (1 - pb)
        kappa = np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)
    condition_of_group = conditions.get_indexer(keys.get_level_values("condition"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a condition without errors: NaN
        per_condition = np.stack([np.nanmean(kappa[:, condition_of_group == c], axis=1)
                                  for c in range(len(conditions))], axis=1)
        return np.nanmean(per_condition, axis=1)


def i2n_signature(choices: pd.DataFrame, truth: pd.Series, labels: np.ndarray) -> np.ndarray:
    """Image x distractor normalized d' (NaN where undefined or the distractor is the truth).

    From choice counts ``C[image, label]``: for an image of class ``t`` and a distractor
    label ``d``, the hit rate is ``C[i, t] / (C[i, t] + C[i, d])`` (the two-way choice
    between ``t`` and ``d`` implied by the multi-way choice, Luce's choice axiom), the false
    alarm rate is the same ratio pooled over all images of class ``d`` (how often they were
    called ``t`` rather than ``d``). ``d' = z(hit) - z(false alarm)`` with rates kept inside
    ``[1e-5, 1 - 1e-5]``, clipped to +-5; subtracting the mean d' over the images of the
    same class (per distractor) normalizes out object-level performance.
    """
    return _I2nCounts(*_choice_counts(choices, truth, labels)).signature()


class _I2nCounts:
    """The choice counts of :func:`i2n_signature`, and its signature with images weighted.

    A weight ``w_i`` counts image ``i``'s choices ``w_i`` times (a bootstrap draw): the
    hit rates (per image) do not change, the pooled false-alarm rates and the class means
    of the normalization do.
    """

    def __init__(self, counts: np.ndarray, classes: np.ndarray) -> None:
        self.counts, self.classes = counts, classes
        own = counts[np.arange(len(counts)), classes][:, None]  # C[i, t_i]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.hit = own / (own + counts)
        self.z_hit = norm.ppf(np.clip(self.hit, RATE_FLOOR, 1 - RATE_FLOOR))

    def signature(self, weights: np.ndarray | None = None) -> np.ndarray:
        counts, classes = self.counts, self.classes
        n_labels = counts.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            # pooled[t, d] = sum over images j of class d of C[j, t]
            pooled = np.zeros((n_labels, n_labels))
            np.add.at(pooled.T, classes, counts if weights is None else weights[:, None] * counts)
            false_alarm_table = pooled / (pooled + np.diagonal(pooled)[None, :])
            false_alarm = false_alarm_table[classes]  # [i, d]: images of class d called t_i
            dprime = np.clip(
                self.z_hit - norm.ppf(np.clip(false_alarm, RATE_FLOOR, 1 - RATE_FLOOR)),
                -DPRIME_LIMIT, DPRIME_LIMIT,
            )
        dprime[np.isnan(self.hit) | np.isnan(false_alarm)] = np.nan
        dprime[np.arange(len(counts)), classes] = np.nan
        normalized = np.full_like(dprime, np.nan)
        for label in np.unique(classes):
            members = classes == label
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
                if weights is None:
                    mean = np.nanmean(dprime[members], axis=0)
                else:
                    finite = np.isfinite(dprime[members])
                    w = weights[members][:, None] * finite
                    mean = (w * np.where(finite, dprime[members], 0)).sum(0) / w.sum(0)
                normalized[members] = dprime[members] - mean
        return normalized


class I2n(Resampled):
    """Pearson r between the model's and the subjects' image-level normalized d' (i2n).

    The interval resamples images: both signatures are recomputed with the drawn images'
    choices counted once per draw, and correlated over the drawn images' entries.
    """

    kind = "behavioral"

    def __call__(self, source: xr.DataArray, target: xr.DataArray) -> Score:
        model = choices_frame(source, name=_inputs.SOURCE)
        data = choices_frame(target, name=_inputs.TARGET, needs=("truth",))
        truth = truth_per_stimulus(data)
        _inputs.align(pd.unique(model["stimulus_id"]), truth.index.to_numpy())
        labels = np.unique(truth.to_numpy())
        if len(labels) < 2:
            raise MetricError("i2n needs images of at least 2 classes ('truth' labels).")
        model_i2n = i2n_signature(model, truth, labels)
        data_i2n = i2n_signature(data, truth, labels)
        valid = np.isfinite(model_i2n) & np.isfinite(data_i2n)
        if valid.sum() < 3:
            raise MetricError(
                f"Only {int(valid.sum())} (image, distractor) entries have an i2n on both "
                f"sides; at least 3 are needed. Are the model's choices among the data's labels?"
            )
        value = float(masked_pearson_columns(
            model_i2n.ravel()[:, None], data_i2n.ravel()[:, None], valid.ravel()[:, None])[0])
        score = Score(value)
        score.attrs["raw"] = xr.DataArray(
            np.stack([model_i2n, data_i2n]),
            dims=("side", "presentation", "distractor"),
            coords={"side": ["model", "data"], "distractor": labels,
                    "stimulus_id": ("presentation", truth.index.to_numpy())},
        )
        score.attrs["error"] = np.nan
        if not self.resamples:
            return score
        draws = image_draws(truth.index, self.resamples, self.resample_seed)
        sides = [_I2nCounts(*_choice_counts(frame, truth, labels)) for frame in (model, data)]
        values = np.empty(len(draws))
        for b, weights in enumerate(draws):
            first, second = (side.signature(weights) for side in sides)
            entry_weights = np.broadcast_to(weights[:, None], first.shape)
            values[b] = _weighted_pearson(first.ravel(), second.ravel(), entry_weights.ravel())
        return attach_interval(score, values, method=IMAGES_METHOD, resamples=self.resamples,
                               seed=self.resample_seed, level=self.interval_level)

    def __repr__(self) -> str:
        return "I2n()"


def _choice_counts(
    choices: pd.DataFrame, truth: pd.Series, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(images x labels choice counts, each image's class position), as i2n_signature."""
    position = {label: k for k, label in enumerate(labels)}
    counts = pd.crosstab(choices["stimulus_id"], choices["choice"]).reindex(
        index=truth.index.to_numpy(), columns=labels, fill_value=0
    ).to_numpy(dtype=float)
    return counts, np.array([position[label] for label in truth.to_numpy()])


def _weighted_pearson(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> float:
    """Pearson r of the entries finite on both sides, entry ``e`` counted ``weights[e]``
    times."""
    keep = np.isfinite(a) & np.isfinite(b) & (weights > 0)
    a, b, w = a[keep], b[keep], weights[keep]
    if w.sum() == 0:
        return np.nan
    a, b = a - np.average(a, weights=w), b - np.average(b, weights=w)
    denominator = np.sqrt((w * a * a).sum() * (w * b * b).sum())
    return float((w * a * b).sum() / denominator) if denominator > 0 else np.nan
