"""Reductions of wide layers, applied batch by batch before activations are stored.

A projection has a ``key()`` (its part of the activations cache key) and a
``projector(layer, n_features, fitting)`` returning the function that maps a batch
``N x n_features`` to ``N x n_components``. The extractor applies it only to layers wider
than ``n_components``.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable

import numpy as np

from brainmark.data.hashing import stimulus_set_sha1
from brainmark.data.stimuli import StimulusSet
from brainmark.exceptions import ModelError


@dataclasses.dataclass(frozen=True)
class RandomProjection:
    """Reduce layers wider than ``n_components`` by a seeded sparse random projection.

    A very sparse random projection (Li, Hastie & Church 2006): each entry of the
    ``features x n_components`` matrix is +-sqrt(s / n_components) with probability 1/(2s)
    each and 0 otherwise, s = sqrt(features). It preserves pairwise distances up to a
    small distortion (Johnson-Lindenstrauss), needs no fitting data, and its matrix has
    only about ``n_components x sqrt(features)`` non-zeros however wide the layer. The
    matrix depends only on the seed, the layer name and its width.
    """

    n_components: int = 1000
    seed: int = 0

    def key(self) -> str:
        return repr(self)

    def projector(
        self, layer: str, n_features: int, fitting: Callable[[], np.ndarray] | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        from scipy import sparse

        rng = np.random.default_rng([self.seed, zlib.crc32(layer.encode()), n_features])
        density = 1 / np.sqrt(n_features)
        counts = rng.binomial(n_features, density, size=self.n_components)
        # Rows drawn with replacement: with ~sqrt(features) draws among `features` rows a
        # repeat is rare, and a repeated row merely doubles that entry.
        rows = rng.integers(0, n_features, size=counts.sum())
        columns = np.repeat(np.arange(self.n_components), counts)
        values = rng.choice(np.array([-1.0, 1.0], np.float32), size=counts.sum())
        values *= np.float32(np.sqrt(1 / (density * self.n_components)))
        matrix = sparse.csr_matrix(
            (values, (rows, columns)), shape=(n_features, self.n_components), dtype=np.float32
        )
        transposed = matrix.T.tocsr()  # sparse x dense is the fast direction in scipy
        return lambda batch: np.asarray((transposed @ batch.T).T, dtype=np.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class PCAProjection:
    """Reduce layers wider than ``n_components`` to their principal components.

    The components are fitted on the activations of ``fitting_stimuli`` (a fixed set, e.g.
    a few hundred natural images), held in memory while fitting: that costs
    ``len(fitting_stimuli) x features x 4`` bytes per layer. Prefer
    :class:`RandomProjection` for very wide layers.
    """

    fitting_stimuli: StimulusSet
    n_components: int = 1000

    def key(self) -> str:
        fitting = stimulus_set_sha1(self.fitting_stimuli)
        return f"PCAProjection(n_components={self.n_components}, fitting={fitting})"

    def projector(
        self, layer: str, n_features: int, fitting: Callable[[], np.ndarray] | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        from sklearn.decomposition import PCA

        if fitting is None:
            raise ModelError("PCAProjection needs the activations of its fitting stimuli.")
        data = fitting()
        pca = PCA(n_components=min(self.n_components, *data.shape), random_state=0)
        pca.fit(data)
        mean = pca.mean_.astype(np.float32)
        components = pca.components_.T.astype(np.float32)
        return lambda batch: (batch - mean) @ components


Projection = RandomProjection | PCAProjection
