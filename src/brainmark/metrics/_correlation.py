"""Vectorized correlations: per column Pearson (optionally masked), and Spearman via ranks."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching columns of two ``[...] x observations x columns`` arrays.

    Leading dims (e.g. splits) are batched over. A column with zero variance on either
    side gives NaN; callers decide what that means.
    """
    a = a - a.mean(axis=-2, keepdims=True)
    b = b - b.mean(axis=-2, keepdims=True)
    denominator = np.sqrt(np.einsum("...ij,...ij->...j", a, a)
                          * np.einsum("...ij,...ij->...j", b, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, np.einsum("...ij,...ij->...j", a, b) / denominator,
                        np.nan)


def masked_pearson_columns(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Pearson r per column over the rows where ``valid`` is true (pairwise complete)."""
    count = valid.sum(axis=0)
    a = np.where(valid, a, 0.0)
    b = np.where(valid, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(valid, a - a.sum(axis=0) / count, 0.0)
        b = np.where(valid, b - b.sum(axis=0) / count, 0.0)
        denominator = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
        return np.where(denominator > 0, (a * b).sum(axis=0) / denominator, np.nan)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two vectors (average ranks for ties)."""
    return float(pearson_columns(rankdata(a)[:, None], rankdata(b)[:, None])[0])
