"""k-means: recovery of separated blobs, inertia and labels by direct computation, seeding,
empty-cluster relocation, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from nndl_jax.unsupervised import kmeans

RNG = np.random.default_rng(3)
CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
TRUTH = np.repeat(np.arange(3), 20)
X = jnp.asarray(CENTRES[TRUTH] + RNG.normal(size=(60, 2)), jnp.float32)


def test_recovers_separated_clusters_with_consistent_outputs():
    model = kmeans.fit(jax.random.key(0), X, 3, n_init=3)
    assert adjusted_rand_score(TRUTH, np.asarray(model.labels)) == 1.0
    Xn, C = np.asarray(X, np.float64), np.asarray(model.centroids, np.float64)
    d2 = ((Xn[:, None] - C[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(model.labels, d2.argmin(1))
    np.testing.assert_allclose(model.inertia, d2.min(1).sum(), rtol=1e-5, atol=0)
    np.testing.assert_array_equal(kmeans.predict(model, X), model.labels)
    assert model.labels.dtype == jnp.int32


def test_k_equal_to_n_has_zero_inertia():
    model = kmeans.fit(jax.random.key(1), X[:5], 5)
    assert float(model.inertia) == pytest.approx(0.0, abs=1e-6)


def test_plusplus_seeds_are_distinct_data_rows():
    seeds = np.asarray(kmeans.kmeans_plusplus(jax.random.key(2), X, 3))
    Xn = np.asarray(X)
    rows = [np.flatnonzero(np.all(np.isclose(Xn, s, atol=1e-6), axis=1)) for s in seeds]
    assert all(len(r) == 1 for r in rows) and len({int(r[0]) for r in rows}) == 3
    # With separated blobs D² sampling puts one seed in each blob.
    assert sorted(TRUTH[[int(r[0]) for r in rows]]) == [0, 1, 2]


def test_empty_cluster_moves_to_a_far_point():
    start = jnp.asarray([[0.0, 0.0], [10.0, 0.0], [500.0, 500.0]], jnp.float32)
    C, _ = kmeans._lloyd(X, start, 0.0, 50)
    assert float(jnp.max(jnp.abs(C[2]))) < 20.0  # left the empty far corner


def test_squared_distances_against_direct_differences():
    C = X[:4] + 0.5
    direct = ((np.asarray(X)[:, None] - np.asarray(C)[None]) ** 2).sum(-1)
    np.testing.assert_allclose(kmeans.squared_distances(X, C), direct, rtol=1e-5, atol=1e-4)


def test_errors_name_the_values():
    with pytest.raises(ValueError, match=r"k=61 is larger than the number of samples"):
        kmeans.fit(jax.random.key(0), X, 61)
    bad = np.array(X)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"X must be finite.*\(3, 1\)"):
        kmeans.fit(jax.random.key(0), bad, 2)
    with pytest.raises(ValueError, match="n_init must be a positive integer"):
        kmeans.fit(jax.random.key(0), X, 2, n_init=0)
    with pytest.raises(ValueError, match="init must be one of"):
        kmeans.fit(jax.random.key(0), X, 2, init="forgy")
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        kmeans.fit(0, X, 2)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\)"):
        kmeans.predict(kmeans.KMeans(jnp.zeros((2, 2)), None, None, None), jnp.zeros((3, 4)))
