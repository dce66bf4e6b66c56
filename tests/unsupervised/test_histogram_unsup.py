"""Histogram density: agreement with numpy.histogramdd, edges, look-ups, errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.unsupervised import histogram

RNG = np.random.default_rng(6)
X2 = RNG.normal(size=(200, 2))


def test_matches_numpy_histogramdd_default_range():
    model = histogram.fit(X2, 6)
    ref, edges = np.histogramdd(X2, bins=6, density=True)
    np.testing.assert_allclose(model.edges, np.stack(edges), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.density, ref, rtol=1e-5, atol=1e-7)


def test_given_range_ignores_outside_points_like_numpy():
    rng = [[-1.0, 1.0], [0.0, 2.0]]
    model = histogram.fit(X2, 4, range=rng)
    ref, _ = np.histogramdd(X2, bins=4, range=rng, density=True)
    np.testing.assert_allclose(model.density, ref, rtol=1e-5, atol=1e-7)


def test_one_dimension_and_right_edge_inclusive():
    x = np.array([[0.0], [1.0], [1.0], [2.0]])
    model = histogram.fit(x, 2)
    np.testing.assert_allclose(model.density.ravel(), [0.25, 0.75], atol=1e-7)
    np.testing.assert_allclose(
        histogram.density(model, jnp.array([[2.0], [0.5], [2.5]])), [0.75, 0.25, 0.0], atol=1e-7
    )
    scores = np.asarray(histogram.score_samples(model, jnp.array([[-1.0], [1.5]])))
    assert scores[0] == -np.inf and scores[1] == pytest.approx(np.log(0.75), abs=1e-6)


def test_constant_feature_gets_a_unit_range():
    model = histogram.fit(np.full((5, 1), 3.0), 2)
    np.testing.assert_allclose(model.edges, [[2.5, 3.0, 3.5]], atol=1e-7)


def test_errors():
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        histogram.fit(X2, 0)
    with pytest.raises(ValueError, match=r"range must be 2 pairs"):
        histogram.fit(X2, 3, range=[[0, 1]])
    with pytest.raises(ValueError, match="low <= high"):
        histogram.fit(X2, 3, range=[[1, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\)"):
        histogram.density(histogram.fit(X2, 3), np.zeros((2, 3)))
