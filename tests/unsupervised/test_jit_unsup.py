"""Every estimator traces under jit and vmap (value checks are skipped while tracing), and a
constant captured by a jitted function is still accepted."""

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.unsupervised import gmm, histogram, kde, kmeans, sparse_coding

X = jnp.asarray(np.random.default_rng(7).normal(size=(12, 3)), jnp.float32)
KEY = jax.random.key(0)


def test_jit_matches_eager():
    A = jnp.eye(3)  # closed over: concrete, but checked inside a trace
    encode = lambda X: sparse_coding.encode(X, A, lam=0.1)
    np.testing.assert_allclose(jax.jit(encode)(X), encode(X), atol=1e-6)
    score = lambda X: kde.score_samples(X, X, 0.5)
    np.testing.assert_allclose(jax.jit(score)(X), score(X), atol=1e-5)
    dens = lambda X: histogram.fit(X, 4, range=[[-3.0, 3.0]] * 3).density
    np.testing.assert_allclose(jax.jit(dens)(X), dens(X), atol=1e-7)


def test_vmap_over_data_sets():
    batch = jnp.stack([X, 2.0 * X])
    inertia = jax.vmap(lambda X: kmeans.fit(KEY, X, 2).inertia)(batch)
    # Scaling the data by 2 scales the same clustering's inertia by 4.
    np.testing.assert_allclose(inertia[1], 4.0 * inertia[0], rtol=1e-5, atol=0)
    means = jax.vmap(lambda X: gmm.fit(KEY, X, 2, covariance="diag", max_iter=5).means)(batch)
    assert means.shape == (2, 2, 3) and bool(jnp.all(jnp.isfinite(means)))
