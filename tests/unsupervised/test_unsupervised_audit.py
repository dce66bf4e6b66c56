"""What a JAX or scikit-learn user tries without reading the docs: vmap over keys, grad, traced
sizes, data far from the origin, constant features, tiny bandwidths, big integers, big-endian
arrays. Each regression test here failed before its fix."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neighbors import KernelDensity

from nndl_jax.unsupervised import gmm, kde, kmeans, pca

RNG = np.random.default_rng(3)
BLOBS = np.r_[RNG.normal(size=(40, 3)), RNG.normal(size=(40, 3)) + 3.0]


# --------------------------------------------------------------------------- JAX transformations


def test_vmap_over_keys_equals_one_fit_per_key():
    keys = jax.random.split(jax.random.key(0), 3)
    X = jnp.asarray(BLOBS, jnp.float32)
    batched = jax.vmap(lambda key: kmeans.fit(key, X, 3, max_iter=20))(keys)
    for i, key in enumerate(keys):
        single = kmeans.fit(key, X, 3, max_iter=20)
        np.testing.assert_allclose(batched.centroids[i], single.centroids, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(batched.labels[i], single.labels)


def test_gradients_match_closed_forms():
    # One training point: the KDE is N(t, h² I), so ∂/∂x = -(x - t)/h², ∂/∂h = -d/h + |x - t|²/h³.
    t = jnp.array([[0.5, -1.0]])
    x = jnp.array([[0.9, -0.2], [-0.3, 0.4]])
    h = 0.7
    dx = jax.grad(lambda x: jnp.sum(kde.score_samples(t, x, h)))(x)
    np.testing.assert_allclose(dx, -(x - t) / h**2, rtol=1e-5, atol=1e-6)
    dh = jax.grad(lambda h: jnp.sum(kde.score_samples(t, x, h)))(h)
    r2 = jnp.sum((x - t) ** 2, axis=1)
    np.testing.assert_allclose(dh, jnp.sum(-2 / h + r2 / h**3), rtol=1e-5)
    # PCA codes are linear in X: the gradient of Σ Z·w is w W, the same for every row.
    model = pca.fit(BLOBS, 2)
    w = jnp.array([1.0, -2.0])
    dX = jax.grad(lambda X: jnp.sum(pca.transform(model, X) @ w))(jnp.asarray(BLOBS[:3]))
    np.testing.assert_allclose(dX, jnp.tile(w @ model.components, (3, 1)), atol=1e-6)


def test_traced_size_argument_says_it_must_be_static():
    X = jnp.asarray(BLOBS, jnp.float32)
    with pytest.raises(ValueError, match=r"n_components must be a concrete integer.*static"):
        jax.jit(lambda X, k: pca.fit(X, k).components)(X, 2)
    with pytest.raises(ValueError, match=r"block_size must be a concrete integer.*static"):
        jax.jit(lambda X, b: kde.score_samples(X, X, 0.5, block_size=b))(X, 4)


# --------------------------------------------------------------------------- inputs


def test_int64_beyond_int32_and_big_endian_arrays_are_read_as_numbers():
    # jnp.asarray narrows int64 to int32 without x64, so 3e9 used to wrap to -1.29e9.
    big = np.array([[3_000_000_000, 0], [3_000_000_000, 2], [3_000_000_000, 4]], np.int64)
    np.testing.assert_allclose(pca.fit(big, 1).mean, [3e9, 2.0], rtol=1e-7)
    swapped = BLOBS.astype(">f8")  # as read from a big-endian file; jnp.asarray refuses it
    for got, want in zip(
        jax.tree.leaves(pca.fit(swapped, 2)), jax.tree.leaves(pca.fit(BLOBS, 2)), strict=True
    ):
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- far from the origin


def test_kmeans_predict_far_from_the_origin_agrees_with_fit():
    # float32 data at 1e4: the expanded |x|² - 2x·c + |c|² used to cancel to ±70, and predict
    # (and gmm's means_init assignment) mislabelled 84 of 200 points.
    rng = np.random.default_rng(0)
    X = (np.r_[rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + 3.0] + 1e4).astype(np.float32)
    model = kmeans.fit(jax.random.key(0), X, 2)
    C = np.asarray(model.centroids, np.float64)
    direct = ((X.astype(np.float64)[:, None] - C[None]) ** 2).sum(-1)
    np.testing.assert_allclose(kmeans.squared_distances(X, model.centroids), direct, atol=1e-3)
    np.testing.assert_array_equal(kmeans.predict(model, X), direct.argmin(1))
    np.testing.assert_array_equal(kmeans.predict(model, X), model.labels)
    start = gmm.initialize(None, X, 2, means_init=model.centroids)
    np.testing.assert_allclose(start.weights, np.bincount(model.labels) / len(X), atol=1e-6)


@pytest.mark.parametrize("method", ["eigh", "svd"])
def test_constant_feature_has_zero_variance_and_zero_whitened_codes(method):
    # The float32 mean of 30 threes was 3 + 1 ulp (XLA multiplies by the rounded 1/30): the
    # "variance" 5.9e-14 was then whitened into codes of 0.98. scikit-learn (full SVD) gives 0.
    X = np.c_[BLOBS[:30, :2], np.full(30, 3.0)].astype(np.float32)
    model = pca.fit(X, 3, method=method, whiten=True)
    assert float(model.explained_variance[2]) == 0.0
    np.testing.assert_array_equal(pca.transform(model, X)[:, 2], 0.0)


# --------------------------------------------------------------------------- KDE bandwidths


@pytest.mark.parametrize("h", [1.0, 0.1, 1e-3])
def test_kde_is_exact_for_small_bandwidths_on_unscaled_data(h):
    # Raw-digits-like pixels (0..16); the expanded distance lost eps·|x|² to cancellation, times
    # 1/(2h²): here 3e-5 off at h = 1, 2.8e-3 at h = 0.1, 30 at h = 1e-3.
    X = np.round(np.random.default_rng(5).uniform(0, 16, size=(60, 8))).astype(np.float32)
    X64 = X.astype(np.float64)
    queries = X[:10] + np.float32(0.25 * h)
    ref = KernelDensity(bandwidth=h).fit(X64).score_samples(queries.astype(np.float64))
    got = np.asarray(kde.score_samples(X, queries, h), np.float64)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-5)


def test_kde_bandwidth_whose_square_underflows_stays_finite():
    # h² = 1e-40 is 0 in float32; this gave NaN. At a training point (all others infinitely far
    # in units of h) the log-density is that of one Gaussian: -log N - d log h - d/2 log 2π.
    X = jnp.asarray(BLOBS, jnp.float32)
    n, d = X.shape
    got = kde.score_samples(X, X[:3], 1e-20)
    want = -np.log(n) - d * np.log(1e-20) - 0.5 * d * np.log(2 * np.pi)
    np.testing.assert_allclose(got, np.full(3, want), rtol=1e-6)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_gmm_far_from_the_origin_gets_the_sample_covariance(covariance):
    """k = 1: the maximum-likelihood covariance is the biased sample covariance (+ reg_covar).

    At 1e5 + noise in float32, a covariance taken about the mean rounded to the data's ulp
    (0.008) was 1.3e-4 off in relative terms; EM on data centred once gets 7e-7.
    """
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(500, 3)) @ rng.normal(size=(3, 3)) + 1e5).astype(np.float32)
    model = gmm.fit(jax.random.key(0), X, 1, covariance=covariance, reg_covar=1e-6)
    exact = np.cov(X.astype(np.float64), rowvar=False, bias=True)
    exact = exact + 1e-6 * np.eye(3) if covariance == "full" else np.diag(exact) + 1e-6
    ours = np.asarray(model.covariances[0], np.float64)
    assert np.max(np.abs(ours - exact)) / np.max(np.abs(exact)) < 5e-6


@pytest.mark.parametrize("offset", [3.0, 1e3])
@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_a_collapse_away_from_the_origin_is_an_error_too(covariance, offset):
    """Five copies of one point, reg_covar = 0: scikit-learn raises at the origin but at +3 (diag)
    returns variances of 1.8e-15 and a log-likelihood of 16.7; we raise wherever the points are."""
    repeated = np.array([[0.0, 0.0]] * 5 + [[1, 1], [2, 3], [3, 1], [2, 2]]) + offset
    with pytest.raises(ValueError, match=r"EM broke down.*rounding level"):
        gmm.fit(jax.random.key(0), repeated, 2, covariance=covariance, reg_covar=0.0)
