"""Intervals are calibrated, not only shaped, and the RDM bootstrap is rsatoolbox's.

Calibration: data are drawn from a known generative model; the population value of the
metric is computed on a very large independent sample; the 95 % interval of each of 200
benchmark-sized samples (seeded) should cover it in 90-99 % of them. Each simulation uses
500 resamples (not the default 1,000) to keep the tests under a minute or so on one core;
the percentile interval's coverage does not depend on it beyond Monte Carlo noise.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform
from scipy.stats import norm

from brainmark.metrics import ErrorConsistency, RDMSimilarity
from brainmark.metrics.intervals import corrected_two_factor, stimulus_resamples

SIMULATIONS = 200
RESAMPLES = 500


def rdm_array(values: np.ndarray, ids: list[str], subjects: list[str] | None = None):
    dims = ("stimulus_row", "stimulus_column")
    coords = {"stimulus_row": ids, "stimulus_column": ids}
    if subjects is not None:
        dims, coords = ("subject", *dims), {"subject": subjects, **coords}
    return xr.DataArray(values, dims=dims, coords=coords)


class RDMWorld:
    """Stimuli z ~ N(0, I); the model's RDM: distances of A z; each subject's: distances of
    (B + random U_s) z plus symmetric measurement noise. Subjects and stimuli are random."""

    dims = 8

    def __init__(self) -> None:
        rng = np.random.default_rng(123)
        self.a = rng.standard_normal((self.dims, self.dims))
        self.b = self.a + 0.7 * rng.standard_normal((self.dims, self.dims))

    def sample(self, rng: np.random.Generator, n_stimuli: int, n_subjects: int):
        z = rng.standard_normal((n_stimuli, self.dims))
        subjects = []
        for _ in range(n_subjects):
            mixing = self.b + 0.6 * rng.standard_normal((self.dims, self.dims))
            noise = rng.standard_normal((n_stimuli, n_stimuli)) * 1.5
            noise = (noise + noise.T) / 2
            np.fill_diagonal(noise, 0.0)
            subjects.append(squareform(pdist(z @ mixing.T)) + noise)
        ids = [f"stim{k:04d}" for k in range(n_stimuli)]
        return (rdm_array(squareform(pdist(z @ self.a.T)), ids),
                rdm_array(np.stack(subjects), ids, [f"s{k}" for k in range(n_subjects)]))


def coverage(metric, population: float, samples) -> float:
    covered = 0
    for model, data in samples:
        lower, upper = metric(model, data).attrs["interval"]
        covered += lower <= population <= upper
    return covered / SIMULATIONS


@pytest.mark.slow
def test_rdm_interval_covers_the_population_value_over_stimuli_and_subjects():
    world, metric = RDMWorld(), RDMSimilarity()
    metric.resamples = 0  # the population value needs no interval
    population = float(metric(*world.sample(np.random.default_rng(10_000), 400, 60)))
    metric.resamples = RESAMPLES
    samples = (world.sample(np.random.default_rng(k), 40, 8) for k in range(SIMULATIONS))
    assert 0.90 <= coverage(metric, population, samples) <= 0.99


class ChoiceWorld:
    """Images of random difficulty d ~ N(0, 1); the model is correct with probability
    Phi(0.3 - d), subject s with Phi(bias_s - 1.2 d), independently given the image; a wrong
    choice is one of the other three labels at random. The six subjects are fixed."""

    labels = np.array(["a", "b", "c", "d"])
    biases = np.linspace(-0.2, 0.8, 6)

    def sample(self, rng: np.random.Generator, n_images: int):
        difficulty = rng.standard_normal(n_images)
        truth = self.labels[np.arange(n_images) % 4]
        ids = np.array([f"image{k:06d}" for k in range(n_images)])

        def choices(probability: np.ndarray) -> np.ndarray:
            right = np.resize(truth, probability.shape)
            shift = rng.integers(1, 4, probability.shape)
            wrong = self.labels[(np.searchsorted(self.labels, right) + shift) % 4]
            return np.where(rng.random(probability.shape) < probability, right, wrong)

        model = xr.DataArray(choices(norm.cdf(0.3 - difficulty)), dims=("presentation",),
                             coords={"stimulus_id": ("presentation", ids)})
        subjects = len(self.biases)
        probability = norm.cdf(self.biases[:, None] - 1.2 * difficulty[None, :]).ravel()
        data = xr.DataArray(choices(probability), dims=("presentation",), coords={
            "stimulus_id": ("presentation", np.tile(ids, subjects)),
            "truth": ("presentation", np.tile(truth, subjects)),
            "subject": ("presentation", np.repeat([f"s{k}" for k in range(subjects)],
                                                  n_images)),
        })
        return model, data


@pytest.mark.slow
def test_error_consistency_interval_covers_the_population_value_over_images():
    world, metric = ChoiceWorld(), ErrorConsistency()
    metric.resamples = 0
    population = float(metric(*world.sample(np.random.default_rng(10_000), 200_000)))
    metric.resamples = RESAMPLES
    samples = (world.sample(np.random.default_rng(k), 160) for k in range(SIMULATIONS))
    assert 0.90 <= coverage(metric, population, samples) <= 0.99


def test_the_rdm_bootstrap_over_stimuli_equals_rsatoolbox_on_the_same_resamples():
    """Per resample, rsatoolbox's Spearman comparison of the RDMs subsampled to the same
    stimuli (its subsample_pattern marks a stimulus' pairs with its own copies NaN)."""
    from rsatoolbox.rdm import RDMs, compare

    world, metric = RDMWorld(), RDMSimilarity()
    metric.resamples = 60
    model, data = world.sample(np.random.default_rng(5), 25, 1)
    pooled = data.isel(subject=0)
    ours = metric(model, pooled).attrs["resample_values"]
    model_rdm = RDMs(model.values[None], pattern_descriptors={"index": np.arange(25)})
    data_rdm = RDMs(pooled.values[None], pattern_descriptors={"index": np.arange(25)})
    theirs = [
        compare(model_rdm.subsample_pattern("index", drawn),
                data_rdm.subsample_pattern("index", drawn), method="spearman")[0, 0]
        for drawn in stimulus_resamples(25, 60, metric.resample_seed)  # ids sorted = rows
    ]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_the_two_factor_correction_is_rsatoolboxs():
    """The corrected variance equals rsatoolbox's dual-bootstrap formula on the same three
    bootstrap variances (its _dual_bootstrap, with the numbers of subjects and stimuli)."""
    from rsatoolbox.util.inference_util import _dual_bootstrap

    rng = np.random.default_rng(3)
    stimuli, subjects = rng.normal(scale=0.03, size=2000), rng.normal(scale=0.04, size=2000)
    both = 0.5 + stimuli + subjects + rng.normal(scale=0.02, size=2000)
    values = corrected_two_factor(0.5, both, stimuli, subjects, n_stimuli=40, n_subjects=8)
    variances = np.array([[np.var(both, ddof=1)], [np.var(subjects, ddof=1)],
                          [np.var(stimuli, ddof=1)]])
    expected = _dual_bootstrap(variances, n_rdm=8, n_pattern=40)[0]
    assert np.var(values, ddof=1) == pytest.approx(expected, rel=1e-10)
