"""Tests added by mutation testing of ``nndl_jax.unsupervised``.

Each test pins behaviour that a small source change slipped past, against an independent
reference: scikit-learn, SciPy or a closed form computed here with NumPy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.decomposition import PCA as SkPCA
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from nndl_jax.unsupervised import gmm, kde, kmeans, pca, sparse_coding as sc

RNG = np.random.default_rng(11)
X_NP = RNG.normal(size=(40, 5)) @ np.diag([3.0, 2.0, 1.0, 0.5, 0.2]) + 1.5
X = jnp.asarray(X_NP, jnp.float32)


@pytest.mark.parametrize("method", ["eigh", "svd"])
def test_pca_whitened_partial_model_matches_sklearn(method):
    """k < d with whitening: variances, ratios over trace(Σ), codes and inverse as sklearn."""
    ref = SkPCA(3, whiten=True, svd_solver="full").fit(X_NP)
    model = pca.fit(X, 3, method=method, whiten=True)
    np.testing.assert_allclose(model.explained_variance, ref.explained_variance_, rtol=1e-4)
    np.testing.assert_allclose(
        model.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-4
    )
    # sklearn's sign rule may differ; align each component's sign before comparing codes.
    signs = np.sign(np.sum(np.asarray(model.components) * ref.components_, axis=1))
    Z = np.asarray(pca.transform(model, X))
    np.testing.assert_allclose(Z * signs, ref.transform(X_NP), atol=1e-4)
    np.testing.assert_allclose(
        pca.inverse_transform(model, jnp.asarray(Z)), ref.inverse_transform(Z * signs), atol=1e-4
    )


def test_pca_n_components_equal_to_n_samples_is_allowed():
    """k = min(N, d) = N is a valid request; the variances are the nonzero ones of Σ."""
    Xs = X_NP[:4]
    model = pca.fit(jnp.asarray(Xs, jnp.float32), 4, method="svd")
    values = np.sort(np.linalg.eigvalsh(np.cov(Xs, rowvar=False)))[::-1][:4]
    np.testing.assert_allclose(model.explained_variance, values, rtol=1e-4, atol=1e-5)


def _pairs(spread):
    """Four tight clusters placed as two far-apart pairs (a bad local optimum exists)."""
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [100.0, 0.0], [103.0, 0.0]])
    rng = np.random.default_rng(3)
    return np.concatenate([c + spread * rng.normal(size=(10, 2)) for c in centres])


def test_kmeans_returns_the_lowest_inertia_restart_and_its_true_inertia():
    """Best of n_init random starts is the global optimum; inertia is the plain sum of d²."""
    Xk = _pairs(0.1)
    model = kmeans.fit(
        jax.random.PRNGKey(0), jnp.asarray(Xk, jnp.float32), 4, n_init=12, init="random"
    )
    groups = Xk.reshape(4, 10, 2)
    optimum = np.sum((groups - groups.mean(axis=1, keepdims=True)) ** 2)
    np.testing.assert_allclose(float(model.inertia), optimum, rtol=1e-4)
    C = np.asarray(model.centroids, np.float64)
    d2 = np.sum((Xk[:, None] - C[None]) ** 2, axis=2)
    np.testing.assert_allclose(float(model.inertia), np.sum(np.min(d2, axis=1)), rtol=1e-4)
    np.testing.assert_array_equal(model.labels, np.argmin(d2, axis=1))


def test_kmeans_plusplus_samples_proportional_to_squared_distance():
    """Non-greedy k-means++ picks the second seed with probability D(x)² / Σ D²."""
    pts = np.array([0.0, 1.0, 10.0])
    keys = jax.random.split(jax.random.PRNGKey(1), 3000)
    seeds = jax.vmap(
        lambda k: kmeans.kmeans_plusplus(k, jnp.asarray(pts[:, None]), 2, n_local_trials=1)
    )(keys)
    seeds = np.asarray(seeds)[:, :, 0]
    for first in range(3):
        rows = seeds[np.isclose(seeds[:, 0], pts[first])]
        assert len(rows) > 800
        w = (pts - pts[first]) ** 2
        for j in range(3):
            freq = np.mean(np.isclose(rows[:, 1], pts[j]))
            assert abs(freq - w[j] / w.sum()) < 0.04, (first, j, freq)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_gmm_em_fixed_point_matches_sklearn_with_large_reg_covar(covariance):
    """EM from the same means, reg_covar on the diagonal only, to sklearn's converged mixture."""
    rng = np.random.default_rng(5)
    Xg = np.concatenate(
        [
            rng.multivariate_normal([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]], 60),
            rng.multivariate_normal([4.0, 1.0], [[0.5, -0.3], [-0.3, 1.5]], 40),
        ]
    )
    means0 = np.array([[0.5, 0.5], [3.5, 1.5]])
    ref = GaussianMixture(
        2, covariance_type=covariance, reg_covar=0.2, tol=1e-10, max_iter=2000, means_init=means0
    ).fit(Xg)
    model = gmm.fit(
        None,
        jnp.asarray(Xg, jnp.float32),
        2,
        covariance=covariance,
        reg_covar=0.2,
        tol=1e-7,
        max_iter=2000,
        means_init=means0,
    )
    np.testing.assert_allclose(model.weights, ref.weights_, atol=1e-3)
    np.testing.assert_allclose(model.means, ref.means_, atol=1e-3)
    np.testing.assert_allclose(model.covariances, ref.covariances_, atol=1e-3)
    np.testing.assert_allclose(float(model.log_likelihood), ref.lower_bound_, atol=1e-4)
    np.testing.assert_allclose(gmm.log_likelihood(model, jnp.asarray(Xg)), ref.score(Xg), atol=1e-4)


def test_kde_matches_sklearn_in_three_dimensions():
    """Gaussian KDE log-density (normaliser N (2π)^{d/2} h^d) as sklearn's KernelDensity."""
    train = X_NP[:, :3]
    query = RNG.normal(size=(7, 3)) + 1.5
    for h in (0.3, 1.7):
        ref = KernelDensity(bandwidth=h).fit(train).score_samples(query)
        ours = kde.score_samples(jnp.asarray(train, jnp.float32), jnp.asarray(query), h)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)


def _numpy_fista(Xn, An, lam, steps, accelerate, restart):
    """Reference ISTA/FISTA (Beck & Teboulle; O'Donoghue & Candès restart) in float64."""
    L = np.linalg.eigvalsh(An.T @ An)[-1]
    Z = np.zeros((Xn.shape[0], An.shape[1]))
    Y, s = Z.copy(), np.ones(Xn.shape[0])
    for _ in range(steps):
        V = Y - (Y @ An.T @ An - Xn @ An) / L
        Z_new = np.sign(V) * np.maximum(np.abs(V) - lam / L, 0.0)
        if not accelerate:
            Z = Y = Z_new
            continue
        s_new = 0.5 * (1 + np.sqrt(1 + 4 * s**2))
        Y_new = Z_new + ((s - 1) / s_new)[:, None] * (Z_new - Z)
        if restart:
            against = np.sum((Y - Z_new) * (Z_new - Z), axis=1) > 0
            s_new = np.where(against, 1.0, s_new)
            Y_new = np.where(against[:, None], Z_new, Y_new)
        Z, Y, s = Z_new, Y_new, s_new
    return Z


@pytest.mark.parametrize("method,restart", [("ista", False), ("fista", False), ("fista", True)])
def test_encode_iterates_match_reference_proximal_gradient(method, restart):
    """A fixed number of steps (tol=0) equals textbook ISTA/FISTA: step 1/‖A‖², threshold λ/L."""
    rng = np.random.default_rng(8)
    An = rng.normal(size=(6, 9)) * 0.7
    Xn = rng.normal(size=(5, 6))
    lam = 0.4
    Z = sc.encode(
        jnp.asarray(Xn, jnp.float32),
        jnp.asarray(An, jnp.float32),
        lam=lam,
        method=method,
        restart=restart,
        tol=0.0,
        max_iter=7,
    )
    ref = _numpy_fista(Xn, An, lam, 7, method == "fista", restart)
    np.testing.assert_allclose(Z, ref, atol=2e-5)


def test_encode_stops_within_relative_tol_of_the_lasso_optimum():
    """The duality-gap stop leaves the objective within tol (relative) of sklearn's optimum."""
    from sklearn.decomposition import sparse_encode

    rng = np.random.default_rng(9)
    An = rng.normal(size=(10, 16))
    An /= np.linalg.norm(An, axis=0)
    Xn = rng.normal(size=(20, 10))
    lam, tol = 0.05, 1e-4
    best = sparse_encode(Xn, An.T, algorithm="lasso_cd", alpha=lam, max_iter=100000)
    f = lambda Z: np.sum(0.5 * np.sum((Xn - Z @ An.T) ** 2, 1) + lam * np.abs(Z).sum(1))
    Z = np.asarray(
        sc.encode(
            jnp.asarray(Xn, jnp.float32),
            jnp.asarray(An, jnp.float32),
            lam=lam,
            tol=tol,
            method="ista",
            max_iter=100000,
        ),
        np.float64,
    )
    assert f(Z) - f(best) <= tol * f(best)


def test_unit_norm_basis_step_is_one_block_coordinate_sweep():
    """One sweep of u_j = (b_j - A c_j + c_jj a_j)/(c_jj + μ/2), projected on the unit ball."""
    rng = np.random.default_rng(10)
    Xn, Zn = rng.normal(size=(15, 4)), rng.normal(size=(15, 3)) * 0.1
    A0 = rng.normal(size=(4, 3))
    reg = 0.7
    C, B, A = Zn.T @ Zn, Xn.T @ Zn, A0.copy()
    for j in range(3):
        u = (B[:, j] - A @ C[:, j] + C[j, j] * A[:, j]) / (C[j, j] + 0.5 * reg)
        A[:, j] = u / max(1.0, np.linalg.norm(u))
    ours = sc.update_dictionary(
        jnp.asarray(Xn, jnp.float32),
        jnp.asarray(Zn, jnp.float32),
        reg=reg,
        unit_norm=True,
        atoms=jnp.asarray(A0, jnp.float32),
    )
    assert np.min(np.linalg.norm(A, axis=0)) < 0.99  # some atom stays strictly inside
    np.testing.assert_allclose(ours, A, atol=1e-5)


def test_kmeans_tol_zero_stops_at_the_fixed_point():
    """tol=0 stops once the labels repeat (sklearn's strict convergence), not at max_iter."""
    from sklearn.cluster import KMeans as SkKMeans

    Xk = _pairs(0.1)
    model = kmeans.fit(jax.random.PRNGKey(2), jnp.asarray(Xk, jnp.float32), 4, tol=0.0)
    ref = SkKMeans(4, init=np.asarray(model.centroids, np.float64), n_init=1, tol=0.0).fit(Xk)
    # sklearn, started there, stops at once: the returned centroids are a fixed point
    assert ref.n_iter_ <= 2
    np.testing.assert_allclose(ref.cluster_centers_, model.centroids, atol=1e-4)
    assert int(model.n_iter) <= 10


def test_gmm_initialize_keeps_means_init_like_sklearn():
    """means_init is the starting mean; weights, covariances come from the nearest-mean split."""
    rng = np.random.default_rng(6)
    Xg = np.concatenate([rng.normal(size=(30, 2)), rng.normal(size=(20, 2)) + [5.0, 2.0]])
    means0 = np.array([[1.0, -1.0], [4.0, 3.0]])
    model = gmm.initialize(None, jnp.asarray(Xg, jnp.float32), 2, means_init=means0, reg_covar=0.01)
    np.testing.assert_allclose(model.means, means0, atol=1e-6)
    labels = np.argmin(((Xg[:, None] - means0[None]) ** 2).sum(2), axis=1)
    for j in range(2):
        part = Xg[labels == j]
        np.testing.assert_allclose(model.weights[j], len(part) / len(Xg), atol=1e-6)
        cov = np.cov(part, rowvar=False, bias=True) + 0.01 * np.eye(2)
        np.testing.assert_allclose(model.covariances[j], cov, atol=1e-4)


def test_gmm_em_stops_on_the_average_log_likelihood_change_like_sklearn():
    """From the same start, EM takes as many steps as sklearn (tol on the per-sample average)."""
    rng = np.random.default_rng(12)
    Xg = np.concatenate([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) * 0.7 + [1.5, 1.0]])
    start = gmm.initialize(None, jnp.asarray(Xg), 2, means_init=[[-1.0, 0.0], [2.0, 2.0]])
    ref = GaussianMixture(
        2,
        tol=1e-4,
        reg_covar=1e-6,
        weights_init=_normalised(start.weights),
        means_init=np.asarray(start.means, np.float64),
        precisions_init=np.linalg.inv(np.asarray(start.covariances, np.float64)),
    ).fit(Xg)
    model = gmm.em(start, jnp.asarray(Xg), tol=1e-4)
    assert ref.n_iter_ > 5
    assert abs(int(model.n_iter) - ref.n_iter_) <= 1


def _normalised(w):
    w = np.asarray(w, np.float64)
    return w / w.sum()
