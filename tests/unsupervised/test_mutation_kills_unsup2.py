"""Second round of tests added by mutation testing of ``nndl_jax.unsupervised``.

Each test pins behaviour that a small source change slipped past, against an independent
reference: a closed form, an invariance, or a small NumPy computation done here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp, softmax
from scipy.stats import multivariate_normal

from nndl_jax.unsupervised import gmm, histogram, kde, kmeans, linear_coding, sparse_coding as sc

RNG = np.random.default_rng(5)
CENTRES = np.array([[0, 0], [10, 0], [20, 0], [0, 10], [10, 10], [20, 10]], float)
BLOBS = np.concatenate([c + 0.3 * RNG.normal(size=(8, 2)) for c in CENTRES])


def _blob_optimum():
    return sum(((b - b.mean(0)) ** 2).sum() for b in np.split(BLOBS, 6))


@pytest.mark.parametrize("max_iter", [1, 2, 3])
def test_kmeans_takes_at_most_max_iter_lloyd_steps(max_iter):
    """With tol=0 on data that needs many steps, n_iter is exactly max_iter, never one more."""
    data = jnp.asarray(np.random.default_rng(21).normal(size=(60, 2)), jnp.float32)
    model = kmeans.fit(jax.random.key(1), data, 7, max_iter=max_iter, tol=0.0, init="random")
    assert int(model.n_iter) == max_iter


def test_kmeans_restarts_are_independent():
    """Many random-init restarts reach the 6-blob optimum for every key (one run often fails)."""
    X = jnp.asarray(BLOBS, jnp.float32)
    opt = _blob_optimum()
    for seed in range(12):
        model = kmeans.fit(jax.random.key(seed), X, 6, n_init=30, init="random")
        assert float(model.inertia) <= opt * 1.001


D, M, N = 4, 5, 24
XS = jnp.asarray(RNG.normal(size=(N, D)), jnp.float32)


def test_learn_history_is_the_documented_joint_objective():
    """history[0] = mean(½|x-Az|² + λ|z|₁) + μ|A|²/(4N), with z coded under the initial atoms."""
    lam, reg = 0.1, 0.3
    A0 = np.asarray(np.random.default_rng(22).normal(size=(D, M)))
    A0 = jnp.asarray(A0 / np.linalg.norm(A0, axis=0), jnp.float32)
    res = sc.learn(jax.random.key(0), XS, M, lam=lam, reg=reg, n_iter=1, init=A0, tol=1e-6)
    Z = np.asarray(sc.encode(XS, A0, lam=lam, max_iter=200, tol=1e-6), np.float64)
    A = np.asarray(res.atoms, np.float64)
    x = np.asarray(XS, np.float64)
    fit = 0.5 * np.sum((x - Z @ A.T) ** 2, axis=1) + lam * np.abs(Z).sum(1)
    expected = fit.mean() + 0.25 * reg * np.sum(A**2) / N
    np.testing.assert_allclose(float(res.history[0]), expected, rtol=1e-4)


def test_learn_default_atoms_are_scale_free():
    """Normalised initial rows: scaling X by c, λ by c and μ by c² keeps atoms, scales codes."""
    c, lam, reg = 4.0, 0.2, 0.1
    kw = dict(n_iter=1, tol=1e-7, encode_iter=500)
    a = sc.learn(jax.random.key(3), XS, M, lam=lam, reg=reg, **kw)
    b = sc.learn(jax.random.key(3), c * XS, M, lam=c * lam, reg=c**2 * reg, **kw)
    np.testing.assert_allclose(b.atoms, a.atoms, atol=1e-4)
    np.testing.assert_allclose(b.codes, c * a.codes, atol=1e-3 * c)


def _far_gmm():
    """A fixed two-component full-covariance mixture in 2-D."""
    weights = jnp.asarray([0.3, 0.7], jnp.float32)
    means = jnp.asarray([[0.0, 0.0], [3.0, 1.0]], jnp.float32)
    cov = jnp.asarray([[[1.0, 0.2], [0.2, 0.5]], [[0.4, 0.0], [0.0, 2.0]]], jnp.float32)
    return gmm.GMM(weights, means, cov, jnp.float32(jnp.nan), jnp.int32(0))


FAR = np.array([[0.5, 0.2], [60.0, -40.0], [-80.0, 90.0]])


def _reference_log_joint():
    model = _far_gmm()
    return np.stack(
        [
            np.log(float(w)) + multivariate_normal(np.asarray(m), np.asarray(c)).logpdf(FAR)
            for w, m, c in zip(model.weights, model.means, model.covariances, strict=True)
        ],
        axis=1,
    )


def test_gmm_score_samples_far_from_every_component_is_finite():
    """Far points: log p(x) stays finite (log-sum-exp with its max shift), matching SciPy."""
    model = _far_gmm()
    got = np.asarray(gmm.score_samples(model, jnp.asarray(FAR, jnp.float32)))
    np.testing.assert_allclose(got, logsumexp(_reference_log_joint(), axis=1), rtol=1e-5)


def test_gmm_predict_proba_far_from_every_component_matches_scipy():
    """Far points: responsibilities are finite probabilities (no underflow to 0/0)."""
    model = _far_gmm()
    got = np.asarray(gmm.predict_proba(model, jnp.asarray(FAR, jnp.float32)))
    np.testing.assert_allclose(got, softmax(_reference_log_joint(), axis=1), atol=1e-5)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-6)


def test_encode_stops_early_once_converged():
    """A = I: the lasso code is soft_threshold(x, λ), reached at once; encode stops early."""
    x = np.random.default_rng(23).normal(size=(6, 3))
    Z, n_iter = sc.encode(
        jnp.asarray(x, jnp.float32), jnp.eye(3), lam=0.3, max_iter=1000, return_n_iter=True
    )
    np.testing.assert_allclose(Z, np.sign(x) * np.maximum(np.abs(x) - 0.3, 0), atol=1e-6)
    assert int(n_iter) <= 20


def test_encode_stopping_rule_is_scale_free():
    """Scaling X and λ by 2¹⁰ scales every iterate exactly; the relative-gap stop is unchanged."""
    A = jnp.asarray(np.random.default_rng(24).normal(size=(D, M)), jnp.float32)
    c = 1024.0
    Z1, n1 = sc.encode(XS, A, lam=0.1, tol=1e-3, max_iter=2000, return_n_iter=True)
    Zc, nc = sc.encode(c * XS, A, lam=0.1 * c, tol=1e-3, max_iter=2000, return_n_iter=True)
    assert int(n1) < 2000 and int(nc) == int(n1)
    np.testing.assert_allclose(Zc, c * Z1, rtol=1e-5, atol=1e-5 * c)


def test_histogram_accepts_an_empty_range_like_numpy():
    """range low == high is allowed and widened by ±0.5, as numpy.histogramdd does."""
    x = np.array([[1.0, 0.2], [1.0, 0.7], [1.0, 0.9]])
    rng_ = [[1.0, 1.0], [0.0, 1.0]]
    model = histogram.fit(jnp.asarray(x, jnp.float32), 4, range=rng_)
    ref, edges = np.histogramdd(x, bins=4, range=rng_, density=True)
    np.testing.assert_allclose(model.edges, np.stack(edges), rtol=1e-6)
    np.testing.assert_allclose(model.density, ref, rtol=1e-5)


def test_histogram_density_casts_queries_to_the_model_dtype():
    """Under x64, float64 queries are binned as the float32 training values were."""
    x = np.array([[0.0], [0.1], [0.3], [1.0]])
    model = histogram.fit(jnp.asarray(x, jnp.float32), 10)
    with jax.enable_x64(True):
        got = np.asarray(histogram.density(model, jnp.asarray(x, jnp.float64)))
    np.testing.assert_array_equal(got > 0, True)


def test_kde_promotes_to_the_wider_input_dtype():
    """Under x64, float64 training data with float32 queries is scored in float64 (SciPy-exact)."""
    train = 1e4 + np.random.default_rng(25).normal(size=(20, 2)) * 1e-3
    query = train[:3].astype(np.float32)
    h = 1e-3
    d2 = ((query.astype(np.float64)[:, None] - train[None]) ** 2).sum(-1)
    ref = logsumexp(-0.5 * d2 / h**2, axis=1) - np.log(20) - np.log(2 * np.pi * h**2)
    with jax.enable_x64(True):
        got = kde.score_samples(jnp.asarray(train), jnp.asarray(query), h)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-9)


def test_kmeans_two_empty_clusters_take_the_two_farthest_points():
    """One Lloyd step: empty clusters, in order, move to the farthest and next farthest points."""
    pts = np.random.default_rng(26).normal(size=(20, 2))
    start = np.array([[0.0, 0.0], [1.0, 1.0], [500.0, 500.0], [-500.0, 500.0]])
    C, _ = kmeans._lloyd(jnp.asarray(pts, jnp.float32), jnp.asarray(start, jnp.float32), 0.0, 1)
    d2 = ((pts[:, None] - start[None]) ** 2).sum(-1)
    order = np.argsort(-d2.min(1))
    np.testing.assert_allclose(np.asarray(C)[2:], pts[order[:2]], rtol=1e-6)


def test_reconstruction_error_is_the_mean_squared_residual_norm():
    """(1/N) Σ_n |x_c - A Aᵀ x_c|² for a 2-atom orthonormal basis of 4-D data (NumPy SVD)."""
    x = np.random.default_rng(27).normal(size=(15, 4)) @ np.diag([3.0, 2.0, 1.0, 0.5]) + 2.0
    mean = x.mean(0)
    basis = np.linalg.svd(x - mean, full_matrices=False)[2][:2].T
    residual = (x - mean) - (x - mean) @ basis @ basis.T
    expected = np.mean(np.sum(residual**2, axis=1))
    got = linear_coding.reconstruction_error(
        jnp.asarray(x, jnp.float32), jnp.asarray(basis, jnp.float32), jnp.asarray(mean, jnp.float32)
    )
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)
