"""Random and PCA projections of wide layers, applied before activations are stored."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from brainmark.models import PCAProjection, RandomProjection

from .conftest import direct_forward, extract, write_stimuli


def test_random_projection_is_seeded_and_preserves_distances(net, stimuli):
    raw = extract(net, stimuli, ["relu"]).values
    projected = extract(net, stimuli, ["relu"], projection=RandomProjection(500, seed=3))
    again = extract(
        net, stimuli, ["relu"], projection=RandomProjection(500, seed=3), use_cache=False
    )
    assert projected.sizes["neuroid"] == 500
    np.testing.assert_array_equal(projected.values, again.values)

    def distances(x):
        return np.linalg.norm(x[:, None] - x[None], axis=-1)[np.triu_indices(len(x), 1)]

    ratio = distances(projected.values) / distances(raw)
    assert np.all(np.abs(ratio - 1) < 0.25)


def test_narrow_layers_are_stored_as_they_are_under_a_projection(net, stimuli):
    plain = extract(net, stimuli, ["fc"])
    projected = extract(net, stimuli, ["fc"], projection=RandomProjection(500))
    np.testing.assert_array_equal(projected.values, plain.values)


def test_pca_projection_matches_sklearn_pca_fitted_on_the_fitting_stimuli(net, stimuli, tmp_path):
    fitting = write_stimuli(tmp_path / "fitting", 12, identifier="fitting", seed=5)
    projected = extract(net, stimuli, ["relu"], projection=PCAProjection(fitting, n_components=6))
    pca = PCA(n_components=6).fit(direct_forward(net, fitting, "relu"))
    expected = pca.transform(direct_forward(net, stimuli, "relu"))
    np.testing.assert_allclose(projected.values, expected, rtol=1e-3, atol=1e-3)
