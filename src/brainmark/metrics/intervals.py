"""Confidence intervals by bootstrap: resample indices, intervals, storage and comparisons.

Every :class:`~brainmark.metrics.Score` a benchmark returns carries a percentile bootstrap
interval (``docs/scores.md``, "Intervals"). This module holds what every part of brainmark
shares about them:

- the resample indices: :func:`stimulus_resamples` and :func:`subject_resamples` are pure
  functions of ``(seed, number of stimuli or subjects, number of resamples)``. Stimuli are
  counted in their sorted ``stimulus_id`` order (:func:`sorted_positions`), so every model
  scored on a benchmark with the same seed and resample count is evaluated on the same
  resampled stimuli, and the ceiling on the same ones too: paired comparisons are valid;
- :func:`percentile_interval`, and :func:`attach_interval` which writes the ``attrs``
  names (``interval``, ``interval_level``, ``interval_method``, ``resamples``, ``seed``,
  ``resample_values``);
- :func:`encode_resamples` / :func:`decode_resamples`: per-resample values as compact text
  (float32, little-endian, base64) for score records and the platform;
- :func:`paired_difference`: the paired bootstrap of two models on one benchmark (or tree
  node), and :func:`node_resamples`: a tree node's per-resample values from its children's;
- :func:`corrected_two_factor`: the variance-corrected bootstrap over stimuli and subjects
  of Schütt et al. (2023, eLife, "Statistical inference on representational geometries").
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from brainmark.exceptions import MetricError

DEFAULT_LEVEL = 0.95
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 14

#: Stream tags, so the stimulus and the subject resamples of one seed are independent.
_STIMULI, _SUBJECTS = 0, 1


def _indices(tag: int, count: int, resamples: int, seed: int) -> np.ndarray:
    if count < 1 or resamples < 1:
        raise MetricError(
            f"A bootstrap needs at least 1 item and 1 resample; got {count} items and "
            f"{resamples} resamples."
        )
    rng = np.random.default_rng([seed, tag, count])
    return rng.integers(0, count, size=(resamples, count))


def stimulus_resamples(
    count: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """``resamples x count`` indices of stimuli drawn with replacement (sorted-id order).

    A pure function of its arguments; row ``b`` is the same whatever ``resamples`` is, so a
    shorter run's resamples are the first rows of a longer one's.
    """
    return _indices(_STIMULI, count, resamples, seed)


def subject_resamples(
    count: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """``resamples x count`` indices of subjects drawn with replacement (their given order)."""
    return _indices(_SUBJECTS, count, resamples, seed)


def resample_counts(indices: np.ndarray, count: int) -> np.ndarray:
    """How often each of ``count`` items is drawn in each resample (``resamples x count``)."""
    rows = indices.shape[0]
    offsets = (np.arange(rows)[:, None] * count + indices).ravel()
    return np.bincount(offsets, minlength=rows * count).reshape(rows, count).astype(np.float64)


def sorted_positions(ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """For each stimulus id (unique), its position in the sorted order of the ids.

    The resample indices count stimuli in this order, whatever order the data stores them
    in; ``counts[:, sorted_positions(ids)]`` gives the counts in the data's own order.
    """
    labels = np.asarray(ids).astype(str)
    order = np.argsort(labels, kind="stable")
    positions = np.empty(len(labels), dtype=np.intp)
    positions[order] = np.arange(len(labels))
    return positions


def percentile_interval(
    values: np.ndarray, level: float = DEFAULT_LEVEL
) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite values (NaN, NaN if none)."""
    if not 0 < level < 1:
        raise MetricError(f"An interval level must be in (0, 1); got {level}.")
    finite = np.asarray(values, dtype=np.float64).ravel()
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    lower, upper = np.percentile(finite, [tail, 100 - tail])
    return (float(lower), float(upper))


def attach_interval(
    score: Any,
    values: np.ndarray,
    *,
    method: str,
    resamples: int,
    seed: int,
    level: float = DEFAULT_LEVEL,
) -> Any:
    """Write the interval of ``values`` (one per resample) into ``score.attrs``; return it."""
    values = np.asarray(values, dtype=np.float64).ravel()
    score.attrs["interval"] = list(percentile_interval(values, level))
    score.attrs["interval_level"] = level
    score.attrs["interval_method"] = method
    score.attrs["resamples"] = int(resamples)
    score.attrs["seed"] = int(seed)
    score.attrs["resample_values"] = values
    return score


def corrected_two_factor(
    point: float,
    both: np.ndarray,
    stimuli_only: np.ndarray,
    subjects_only: np.ndarray,
    *,
    n_stimuli: int,
    n_subjects: int,
) -> np.ndarray:
    """Per-resample values of a stimulus x subject bootstrap with the corrected variance.

    A bootstrap over both factors at once counts the measurement noise twice, so its
    spread is too wide. Schütt et al. (2023) estimate the variance from three bootstraps
    on the same indices (both factors, stimuli only, subjects only)::

        V = s/(s-1) V_subj + p/(p-1) V_stim - s p/((s-1)(p-1)) (V_both - V_subj - V_stim)

    (``s`` subjects, ``p`` stimuli), kept between ``max(V_subj, V_stim)`` and ``V_both``
    (as rsatoolbox does). The two-factor values are shrunk about their mean by
    ``sqrt(V / V_both)`` and shifted to ``point``, so their percentile interval has the
    corrected width and each resample keeps its place (for paired comparisons).
    """
    both = np.asarray(both, dtype=np.float64)
    usable = np.isfinite(both)
    if usable.sum() < 2:
        return both
    v_both = np.nanvar(both, ddof=1)
    v_stim = np.nanvar(stimuli_only, ddof=1)
    v_subj = np.nanvar(subjects_only, ddof=1)
    if not v_both > 0:
        return both
    s, p = n_subjects, n_stimuli
    variance = (s / (s - 1) * v_subj + p / (p - 1) * v_stim
                - s * p / ((s - 1) * (p - 1)) * (v_both - v_subj - v_stim))
    variance = min(max(variance, v_subj, v_stim), v_both)
    return point + (both - np.nanmean(both)) * np.sqrt(variance / v_both)


def encode_resamples(values: np.ndarray) -> str:
    """Per-resample values as text: float32 little-endian bytes in base64 (NaN allowed)."""
    array = np.asarray(values, dtype="<f4").ravel()
    return base64.b64encode(array.tobytes()).decode("ascii")


def decode_resamples(text: str) -> np.ndarray:
    """The float64 values an :func:`encode_resamples` call encoded."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise MetricError(f"Not encoded resample values (base64 expected): {error}") from None
    if len(raw) % 4:
        raise MetricError(
            f"Encoded resample values hold {len(raw)} bytes, not a whole number of float32s."
        )
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """Model A minus model B on one benchmark or node, with its paired bootstrap interval."""

    difference: float
    interval: tuple[float, float]
    level: float
    excludes_zero: bool

    @property
    def verdict(self) -> str:
        """'a' (A reliably higher: the interval lies above 0), 'b' (below 0) or 'tied'."""
        lower, upper = self.interval
        return "a" if lower > 0 else "b" if upper < 0 else "tied"

    def to_dict(self) -> dict[str, Any]:
        return {"difference": self.difference, "interval": list(self.interval),
                "level": self.level, "excludes_zero": self.excludes_zero}


def paired_difference(
    a: np.ndarray,
    b: np.ndarray,
    point_a: float,
    point_b: float,
    level: float = DEFAULT_LEVEL,
) -> PairedDifference:
    """Paired bootstrap of ``point_a - point_b``.

    ``a`` and ``b`` are the per-resample values of two models on the same benchmark with
    the same seed and resample count, so resample ``i`` of both used the same stimuli (and
    subjects). The interval is the percentile interval of ``a - b``; the difference is
    real at this level when that interval excludes 0 (the models are tied otherwise).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise MetricError(
            f"A paired comparison needs the same resamples on both sides; got {a.size} and "
            f"{b.size} values. Score both models with the same seed and resample count."
        )
    lower, upper = percentile_interval(a - b, level)
    return PairedDifference(
        difference=float(point_a) - float(point_b),
        interval=(lower, upper),
        level=level,
        excludes_zero=bool(lower > 0 or upper < 0),
    )


def node_resamples(children: Sequence[np.ndarray | None]) -> np.ndarray:
    """Per-resample values of a tree node that averages ``children``.

    As :func:`brainmark.benchmarks.tree.aggregate_scores` does with the point values:
    each child's values are clamped to [0, 1], a missing child (None, or values all NaN)
    counts 0, and the sum is divided by the number of all children. A NaN in one resample
    of a present child leaves that resample NaN (it is undefined, not 0). All children
    missing gives all NaN (a node without a score).
    """
    present = [np.asarray(child, dtype=np.float64).ravel() for child in children
               if child is not None and np.isfinite(np.asarray(child, dtype=np.float64)).any()]
    if not present:
        lengths = [np.asarray(child).size for child in children if child is not None]
        return np.full(max(lengths, default=0), np.nan)
    sizes = {values.size for values in present}
    if len(sizes) > 1:
        raise MetricError(
            f"A node's children have different numbers of resamples ({sorted(sizes)}); "
            f"score them all with the same seed and resample count."
        )
    total = np.sum([np.clip(values, 0.0, 1.0) for values in present], axis=0)
    return total / len(children)


class Resampled:
    """Mixin of the metrics and ceilings: their bootstrap settings, as class attributes.

    Set them on an instance to change them (``metric.resamples = 200``); a benchmark's
    metric and ceiling must use the same values for their resamples to pair up.
    ``resamples = 0`` computes no interval (to time a score without one).
    """

    resamples: int = DEFAULT_RESAMPLES
    resample_seed: int = DEFAULT_SEED
    interval_level: float = DEFAULT_LEVEL
