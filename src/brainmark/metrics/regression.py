"""Regression-correlation metrics: how well a linear map of model features predicts neuroids.

``metric(model_assembly, data_assembly) -> Score``, both ``presentation x neuroid`` with
``stimulus_id`` on presentation. Repetitions on either side are averaged first (the data's
NaN-padded trials ignored); rows are matched by ``stimulus_id`` (both sides must hold the
same stimuli). The data's stimuli, in the data's row order, are split 10 times into 90%
train / 10% test exactly as Brain-Score splits them
(:func:`~brainmark.metrics.splits.stratified_splits`: scikit-learn's
``StratifiedShuffleSplit`` over ``object_name`` when the data has it, else
``ShuffleSplit``; ``random_state=1``); per split a regression from model features to all
neuroids is fitted on the training stimuli, and each neuroid's held-out predictions are
correlated (Pearson r) with its held-out responses. The score is the mean over splits of
the median over neuroids; the error is the standard error of the per-split medians
(:func:`~brainmark.metrics.score.standard_error`). ``attrs['raw']`` holds every r (split x
neuroid).

Time bins: when both assemblies have a ``time_bin`` dim with the same number of bins (or
one side has a single bin), each bin is scored on its own with the same splits and the
score is the mean over bins (``raw`` gains a ``time_bin`` dim); a single bin is squeezed.

The regressions: ``pls`` (partial least squares, 25 components, no scaling; exact kernel
algorithm), ``ridge`` (alpha 1), ``ridgecv`` (alpha per split by exact leave-one-out error,
from one eigendecomposition per split), ``linear`` (minimum-norm least squares). Every fit
has an unpenalized intercept. Everything is float64 and deterministic.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainmark.exceptions import MetricError
from brainmark.metrics import _inputs
from brainmark.metrics._correlation import pearson_columns
from brainmark.metrics._solvers import (
    CrossProducts,
    least_squares_solution,
    pls_predictions,
    ridge_solution,
    ridgecv_solution,
)
from brainmark.metrics.intervals import (
    Resampled,
    attach_interval,
    resample_counts,
    sorted_positions,
    stimulus_resamples,
)
from brainmark.metrics.score import Score, standard_error
from brainmark.metrics.splits import stratified_splits

#: ``attrs['interval_method']`` of the regression metrics.
REGRESSION_METHOD = (
    "bootstrap over stimuli of each split's held-out predictions, models not refitted "
    "(percentile)"
)

DEFAULT_ALPHAS = tuple(float(alpha) for alpha in np.logspace(-3, 9, 13))


class RegressionCorrelation(Resampled):
    """Base of the regression-correlation metrics; subclasses choose the regression.

    The interval resamples stimuli: each split's held-out predictions are re-correlated
    with the responses of the resampled stimuli (a test stimulus drawn twice counts
    twice), without refitting. It says how the score of these fitted maps would vary on
    new stimuli, not how refitting on other training stimuli would change them.

    Parameters
    ----------
    n_splits, train_size, seed
        Cross-validation: number of splits, fraction of stimuli trained on,
        ``random_state`` of scikit-learn's splitter (Brain-Score's: 10, 0.9, 1).
    stratify_by
        Presentation coordinate of the data to stratify splits by, when the data has it;
        None never stratifies.
    """

    kind = "neural"
    name = "regression"

    def __init__(
        self,
        *,
        n_splits: int = 10,
        train_size: float = 0.9,
        seed: int = 1,
        stratify_by: str | None = "object_name",
    ) -> None:
        self.n_splits = n_splits
        self.train_size = train_size
        self.seed = seed
        self.stratify_by = stratify_by

    def __call__(self, source: xr.DataArray, target: xr.DataArray) -> Score:
        """Score ``source`` (model) against ``target`` (data); see the module docstring."""
        pairs = _inputs.time_bin_pairs(source, target)
        return _inputs.mean_over_time_bins([self._score_bin(s, t) for s, t in pairs])

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({settings})"

    # --- what subclasses provide ---------------------------------------------------------

    def _min_train(self, n_features: int) -> int:
        return 2

    def _predict(
        self, products: CrossProducts, splits: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Held-out predictions per split, and per-split details for ``attrs``."""
        raise NotImplementedError

    # --- the shared procedure --------------------------------------------------------------

    def _score_bin(self, source: xr.DataArray, target: xr.DataArray) -> Score:
        features, responses, target = _inputs.paired_responses(source, target)
        _inputs.refuse_constant_neuroids(responses, target, name=_inputs.TARGET)
        stratify = None
        if self.stratify_by is not None and self.stratify_by in target.coords:
            stratify = _inputs.coordinate(target, self.stratify_by)
        splits = stratified_splits(
            _inputs.stimulus_ids(target),
            stratify=stratify,
            n_splits=self.n_splits,
            train_size=self.train_size,
            seed=self.seed,
            min_train=self._min_train(features.shape[1]),
        )
        products = CrossProducts(features, responses)
        predictions, details = self._predict(products, splits)
        tests = np.stack([test for _, test in splits])
        held_out = responses[tests]
        predictions = np.stack(predictions)
        correlations = _held_out_r(predictions, held_out)
        score = _aggregate(correlations, target, details, self.name)
        if not self.resamples:
            return score
        counts = resample_counts(
            stimulus_resamples(len(responses), self.resamples, self.resample_seed),
            len(responses),
        )[:, sorted_positions(_inputs.stimulus_ids(target))]
        return attach_interval(
            score, _resampled_score(predictions, held_out, tests, counts),
            method=REGRESSION_METHOD, resamples=self.resamples, seed=self.resample_seed,
            level=self.interval_level,
        )


def _held_out_r(predictions: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """Pearson r per split and neuroid (splits x test stimuli x neuroids in, splits x
    neuroids out); a constant prediction carries no information and scores 0."""
    r = pearson_columns(predictions, responses)
    constant_prediction = np.ptp(predictions, axis=1) == 0
    return np.where(constant_prediction & (np.ptp(responses, axis=1) > 0), 0.0, r)


def _resampled_score(
    predictions: np.ndarray, responses: np.ndarray, tests: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """The score per resample: held-out r re-computed with stimuli weighted by their draws.

    ``predictions`` and ``responses`` are splits x test stimuli x neuroids, ``tests`` the
    test stimuli's rows, ``counts`` resamples x stimuli (how often each row was drawn).
    A weighted Pearson r equals the r of the resampled stimuli, so per split five
    products of the counts with the held-out values give every resample at once.
    """
    per_split = np.empty((len(counts), len(tests)))
    for split, (x, y, test) in enumerate(zip(predictions, responses, tests, strict=True)):
        weights = counts[:, test]
        total = weights.sum(axis=1, keepdims=True)
        constant = np.ptp(x, axis=0) == 0
        x, y = x - x.mean(axis=0), y - y.mean(axis=0)  # centered first: less cancellation
        with np.errstate(invalid="ignore", divide="ignore"):
            mx, my = weights @ x / total, weights @ y / total
            sxy = weights @ (x * y) / total - mx * my
            sxx = weights @ (x * x) / total - mx * mx
            syy = weights @ (y * y) / total - my * my
            r = np.where((sxx > 1e-12 * (x * x).mean(axis=0)) & (syy > 0),
                         sxy / np.sqrt(sxx * syy), np.nan)
        r[:, constant] = np.where(syy[:, constant] > 0, 0.0, np.nan)  # as _held_out_r
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample may lose a neuroid
            per_split[:, split] = np.nanmedian(r, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(per_split, axis=1)


def _aggregate(
    correlations: np.ndarray, target: xr.DataArray, details: dict[str, Any], name: str
) -> Score:
    """Median over neuroids per split, mean over splits, standard error over splits."""
    undefined = np.isnan(correlations)
    if undefined.all(axis=1).any():
        raise MetricError(
            "In at least one split every neuroid's held-out responses are constant, so no "
            "correlation is defined. Use more stimuli per split (a larger test set)."
        )
    if undefined.any():
        labels = _inputs.neuroid_labels(target)[undefined.any(axis=0)]
        warnings.warn(
            f"{int(undefined.sum())} (split, neuroid) pairs have constant held-out responses "
            f"and are left out of those splits' medians: neuroid_id {labels[:10].tolist()}.",
            stacklevel=4,
        )
        per_split = np.nanmedian(correlations, axis=1)
    else:
        per_split = np.median(correlations, axis=1)
    raw = xr.DataArray(
        correlations,
        dims=("split", "neuroid"),
        coords={"split": np.arange(len(correlations)),
                **_inputs.dim_coordinates(target, "neuroid")},
        attrs={"description": f"held-out Pearson r per split and neuroid ({name})"},
    )
    score = Score(float(per_split.mean()))
    score.attrs["raw"] = raw
    score.attrs["error"] = standard_error(per_split)
    score.attrs["split_scores"] = per_split
    score.attrs.update(details)
    return score


class PLSRegressionCorrelation(RegressionCorrelation):
    """Cross-validated PLS regression (exact, no scaling) scored by held-out Pearson r.

    Parameters
    ----------
    n_components
        Number of PLS components (25, as Brain-Score).
    n_splits, train_size, seed, stratify_by
        See :class:`RegressionCorrelation`.
    """

    name = "pls"

    def __init__(self, *, n_components: int = 25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_components = n_components

    def _min_train(self, n_features: int) -> int:
        if n_features < self.n_components:
            raise MetricError(
                f"PLS with {self.n_components} components needs at least that many model "
                f"features; the model has {n_features}. Use load_metric('pls', "
                f"n_components={n_features}) or another regression."
            )
        return self.n_components + 1

    def _predict(self, products, splits):
        predictions, extracted = pls_predictions(products, splits, self.n_components)
        return predictions, {"n_components_used": np.asarray(extracted)}


class RidgeRegressionCorrelation(RegressionCorrelation):
    """Cross-validated ridge regression with a fixed ``alpha`` (default 1)."""

    name = "ridge"

    def __init__(self, *, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not alpha > 0:
            raise MetricError(f"ridge alpha must be positive. Got {alpha}; use 'linear' for 0.")
        self.alpha = alpha

    def _predict(self, products, splits):
        predictions = []
        for train, test in splits:
            split = products.split(train, test)
            predictions.append(split.predict(ridge_solution(split, self.alpha)))
        return predictions, {}


class RidgeCVRegressionCorrelation(RegressionCorrelation):
    """Cross-validated ridge whose alpha each split picks by exact leave-one-out error.

    Parameters
    ----------
    alphas
        Candidate alphas (default ``10**-3 ... 10**9``, 13 values).
    alpha_per_target
        Pick an alpha per neuroid instead of one for all.
    """

    name = "ridgecv"

    def __init__(
        self, *, alphas: Sequence[float] = DEFAULT_ALPHAS, alpha_per_target: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.alphas = tuple(float(alpha) for alpha in alphas)
        if not self.alphas or min(self.alphas) <= 0:
            raise MetricError(f"ridgecv alphas must be positive numbers. Got {alphas!r}.")
        self.alpha_per_target = alpha_per_target

    def _predict(self, products, splits):
        predictions, chosen = [], []
        for train, test in splits:
            split = products.split(train, test)
            solution, alphas = ridgecv_solution(
                split, np.asarray(self.alphas), alpha_per_target=self.alpha_per_target
            )
            predictions.append(split.predict(solution))
            chosen.append(alphas)
        return predictions, {"alpha": np.stack(chosen)}


class LinearRegressionCorrelation(RegressionCorrelation):
    """Cross-validated ordinary (minimum-norm) least squares."""

    name = "linear"

    def _predict(self, products, splits):
        predictions = []
        for train, test in splits:
            split = products.split(train, test)
            predictions.append(split.predict(least_squares_solution(split)))
        return predictions, {}
