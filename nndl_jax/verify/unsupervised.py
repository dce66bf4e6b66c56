"""Checks of ``nndl_jax.unsupervised`` against scikit-learn, NumPy and closed forms.

Tolerances, and why (float32 / float64). They leave ~10x over the measured error in float32,
and in float64 at least ~100x where the error is rounding (1e-15 to 1e-13), ~10x where it is
an iterative solver's stopping point (sparse codes).

* PCA components (up to sign) 1e-4 / 1e-11 and explained variance 1e-5 / 1e-12 relative.
  Measured in float32 on raw digits and iris and standardised wine (eigh, top components):
  ≤ 1.5e-5 and ≤ 1.1e-6; in float64 ≤ 1.9e-14 and ≤ 3.8e-15. Unstandardised wine is excluded on
  purpose: its features span five orders of magnitude, and eigh of the covariance in float32 then
  resolves the small components only to ~3e-3 (SVD does better); in float64 it agrees to 1e-11.
* Orthonormality and whitening: rounding of a k × k product, 1e-5 / 1e-12.
* k-means from the same start: ``fit`` with 4 restarts and scikit-learn's ``KMeans`` run from
  each of our 4 k-means++ seeds (same stopping rule), best run of each: centroids (relative to
  the largest entry), inertia (relative) and the fraction of differing labels, 1e-5 / 1e-12. One
  differing label out of 1797 is 5.6e-4, so labels must agree exactly. Measured: 3.4e-7 / 1.5e-15.
* k-means fixed point (Lloyd run to a standstill, tol = 0): centroid = mean of its points,
  1e-4 / 1e-12 absolute (a float32 mean of ~180 digits pixels up to 16 rounds at ~1e-5), and
  every label is a nearest centroid: the label's squared distance exceeds the smallest by at most
  1e-4 / 1e-12 of the mean squared distance (float32 distances round at ~1e-7 of |x|²).
  Measured 5.7e-6 / 5.3e-15 for the means and 0 for the labels (no point is within 1e-3 of a
  tie between two centroids).
* Sparse-code objective vs ``sparse_encode(algorithm="lasso_cd")`` (which solves to a 1e-8 dual
  gap): 1e-6 / 1e-9 relative, measured ≤ 1.2e-8 / 9.1e-12. We stop at a certified relative
  duality gap of 1e-5 (float32) or 1e-8 (float64); the tolerances are set from the measured
  errors, not that bound, so that a wrong λ (2% off: 6.6e-5) is caught. Objectives are evaluated
  in float64 NumPy for both. The codes themselves are poorly determined where atoms are nearly
  collinear, so they are compared with a tighter reference, below.
* Sparse codes vs ``Lasso(alpha=lam / d)`` fitted to 10 rows to a 1e-12 tolerance: 2e-4 / 1e-8
  relative to the largest code, measured ≤ 2.1e-5 / 6.9e-10 (limited by our stopping gap).
* Ridge basis step vs a float64 ``numpy.linalg.solve`` of the normal equations: 5e-4 / 1e-11
  relative to the largest entry. ZᵀZ + μ/2 I (μ = 4) has condition number ~8e2, so a float32
  solve resolves A to ~cond · eps ≈ 5e-5; measured 3.5e-5 / 7.8e-14. (μ 5% off: 1.3e-2.)
* GMM vs ``GaussianMixture`` started from the *same initial mixture* (weights, means and
  precisions passed in), both running exactly 50 EM steps (tol = 0, so that rounding cannot flip
  a stopping decision): average log-likelihood 5e-6 / 1e-12 absolute (measured 4.2e-7 /
  1.3e-15); weights (absolute), means and covariances (relative to the largest entry) 1e-5 /
  1e-11 (measured 7.8e-7 / 7.8e-14). Giving scikit-learn only ``means_init`` is not the same
  start: it takes its covariances from its own k-means run, and EM then reaches a different local
  optimum (differences up to 0.1 nats on iris).
* Histogram vs ``numpy.histogramdd`` on our edges: 1e-6 / 1e-12 relative to the largest
  density; its integral: 1e-5 / 1e-12, because float32 edges at |x| ≈ 8 with width 0.5 are
  uniform only to ~1e-6 relative per axis.
* GMM log-density for the same parameters vs ``GaussianMixture.score_samples``: 1e-5 / 1e-11
  relative to max(1, |log p|) (measured 3.1e-6 / 5.6e-14).
* KDE log-density vs ``KernelDensity`` (exact, atol = rtol = 0): 1e-5 / 1e-10 absolute on iris,
  where the log-density is O(1) (measured 1.2e-6 / 5.3e-15: the distances are direct
  differences, so no cancellation grows as the bandwidth shrinks).
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import verify

# --------------------------------------------------------------------------- data


@functools.cache
def _dataset(name: str) -> np.ndarray:
    from sklearn import datasets

    if name == "digits":
        return datasets.load_digits().data.astype(np.float64)
    if name == "iris":
        return datasets.load_iris().data.astype(np.float64)
    if name == "wine":  # standardised: see the module docstring
        X = datasets.load_wine().data.astype(np.float64)
        return (X - X.mean(0)) / X.std(0)
    raise ValueError(name)


def _x(name: str) -> jax.Array:
    return jnp.asarray(_dataset(name), verify.float_dtype())


def _n_components(name: str) -> int:
    return {"digits": 20, "iris": 4, "wine": 13}[name]


def _register(name: str, fn, *args, **kwargs) -> None:
    """Register ``fn(*args)`` as a check (a closure, so every check is a plain function)."""

    def run() -> float:
        return fn(*args)

    run.__qualname__ = f"check[{name}]"
    verify.check(name, **kwargs)(run)


# --------------------------------------------------------------------------- PCA


@functools.cache
def _pca_pair(name: str, method: str, x64: bool):
    from sklearn.decomposition import PCA

    from nndl_jax.unsupervised import pca

    del x64  # part of the cache key only
    k = _n_components(name)
    ours = pca.fit(_x(name), k, method=method)
    ref = PCA(k, svd_solver="full").fit(_dataset(name))
    return ours, ref


def _components_error(name: str, method: str) -> float:
    ours, ref = _pca_pair(name, method, verify.x64_enabled())
    ours_c = np.asarray(ours.components, np.float64)
    # A component is defined up to sign: align each row with the reference first.
    sign = np.sign(np.sum(ours_c * ref.components_, axis=1, keepdims=True))
    return verify.max_abs_diff(ours_c * sign, ref.components_)


def _variance_error(name: str, method: str) -> float:
    ours, ref = _pca_pair(name, method, verify.x64_enabled())
    rel_var = np.asarray(ours.explained_variance) / ref.explained_variance_ - 1.0
    rel_ratio = np.asarray(ours.explained_variance_ratio) / ref.explained_variance_ratio_ - 1.0
    return float(max(np.abs(rel_var).max(), np.abs(rel_ratio).max()))


for _name in ("digits", "iris", "wine"):
    _register(
        f"unsupervised.pca.components.{_name}",
        _components_error,
        _name,
        "eigh",
        reference="sklearn.decomposition.PCA",
        tol=1e-4,
        tol_x64=1e-11,
    )
    _register(
        f"unsupervised.pca.explained_variance.{_name}",
        _variance_error,
        _name,
        "eigh",
        reference="sklearn.decomposition.PCA",
        tol=1e-5,
        tol_x64=1e-12,
    )


@verify.check(
    "unsupervised.pca.components.svd",
    reference="sklearn.decomposition.PCA",
    tol=1e-4,
    tol_x64=1e-11,
)
def _pca_svd_components():
    return max(_components_error("digits", "svd"), _variance_error("digits", "svd"))


@verify.check(
    "unsupervised.pca.orthonormal_rows",
    reference="closed form: W Wᵀ = I",
    tol=1e-5,
    tol_x64=1e-12,
    tier="closed form",
)
def _pca_orthonormal():
    ours, _ = _pca_pair("digits", "eigh", verify.x64_enabled())
    W = np.asarray(ours.components, np.float64)
    return verify.max_abs_diff(W @ W.T, np.eye(W.shape[0]))


@verify.check(
    "unsupervised.pca.whitening",
    reference="closed form: Cov(Z) = I",
    tol=1e-5,
    tol_x64=1e-12,
    tier="closed form",
)
def _pca_whitening():
    from nndl_jax.unsupervised import pca

    X = _x("iris")
    Z = np.asarray(pca.transform(pca.fit(X, 3, whiten=True), X), np.float64)
    return verify.max_abs_diff(np.cov(Z, rowvar=False), np.eye(3))


# --------------------------------------------------------------------------- linear coding


@verify.check(
    "unsupervised.linear_coding.full_rank_reconstruction",
    reference="closed form: A Aᵀ = I reconstructs exactly",
    tol=1e-5,
    tol_x64=1e-12,
    tier="closed form",
)
def _full_rank():
    from nndl_jax.unsupervised import linear_coding, pca

    X = _x("wine")
    A, mean = linear_coding.basis_from_pca(pca.fit(X, X.shape[1]))
    X_hat = linear_coding.decode(linear_coding.encode(X, A, mean), A, mean)
    return verify.max_abs_diff(X_hat, X)


@verify.check(
    "unsupervised.linear_coding.error_curve",
    reference="closed form: (N-1)/N · Σ discarded eigenvalues",
    tol=1e-5,
    tol_x64=1e-12,
    tier="closed form",
)
def _error_curve():
    from nndl_jax.unsupervised import linear_coding, pca

    X = _x("digits")
    curve = np.asarray(
        linear_coding.error_curve(X, *linear_coding.basis_from_pca(pca.fit(X, X.shape[1]))),
        np.float64,
    )
    n = X.shape[0]
    eigvals = np.linalg.eigvalsh(np.cov(_dataset("digits"), rowvar=False))[::-1]
    expected = (n - 1) / n * np.concatenate([np.cumsum(eigvals[::-1])[::-1], [0.0]])
    return float(np.max(np.abs(curve - expected)) / expected[0])


# --------------------------------------------------------------------------- sparse coding


def _sparse_problem():
    rng = np.random.default_rng(0)
    X = _dataset("digits")[:120] / 16.0
    A = rng.normal(size=(X.shape[1], 96))
    return X, A / np.linalg.norm(A, axis=0), 0.05


@functools.cache
def _sparse_codes(method: str, x64: bool) -> np.ndarray:
    """Our codes for :func:`_sparse_problem`, as float64 NumPy (shared by several checks)."""
    from nndl_jax.unsupervised import sparse_coding

    del x64  # part of the cache key only
    X, A, lam = _sparse_problem()
    dtype = verify.float_dtype()
    Z = sparse_coding.encode(
        jnp.asarray(X, dtype),
        jnp.asarray(A, dtype),
        lam=lam,
        method=method,
        tol=1e-8 if verify.x64_enabled() else 1e-5,
        max_iter=20_000,
    )
    return np.asarray(Z, np.float64)


@functools.cache
def _sparse_encode_reference() -> np.ndarray:
    from sklearn.decomposition import sparse_encode

    X, A, lam = _sparse_problem()
    # scikit-learn: atoms are rows, and alpha is our lam (it rescales by n_features itself).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lasso_cd's ConvergenceWarning at its 1e-8 tolerance
        return sparse_encode(X, A.T, algorithm="lasso_cd", alpha=lam, max_iter=10_000)


def _sparse_objective_error(method: str) -> float:
    X, A, lam = _sparse_problem()
    f_ours = _lasso_objective(X, A, _sparse_codes(method, verify.x64_enabled()), lam)
    f_ref = _lasso_objective(X, A, _sparse_encode_reference(), lam)
    return float(abs(f_ours - f_ref) / f_ref)


def _lasso_objective(X, A, Z, lam) -> float:
    """Σ_n ½|x - Az|² + λ|z|₁ in float64 NumPy, whatever precision the codes came from."""
    return float(0.5 * np.sum((X - Z @ A.T) ** 2) + lam * np.sum(np.abs(Z)))


for _method in ("fista", "ista"):
    _register(
        f"unsupervised.sparse_coding.objective.{_method}",
        _sparse_objective_error,
        _method,
        reference="sklearn.decomposition.sparse_encode(lasso_cd)",
        tol=1e-6,
        tol_x64=1e-9,
    )


@verify.check(
    "unsupervised.sparse_coding.lasso_mapping",
    reference="sklearn.linear_model.Lasso(alpha=lam/d)",
    tol=2e-4,
    tol_x64=1e-8,
)
def _lasso_mapping():
    """Our codes (both methods) equal Lasso's coefficients with alpha = lam / d.

    Lasso minimises ``|x - Az|² / (2 d) + alpha |z|₁`` over z: our objective divided by d when
    alpha = lam / d (the module docstring of ``sparse_coding``). One fit per row, the atoms as
    features, solved far tighter than our codes.
    """
    from sklearn.linear_model import Lasso

    X, A, lam = _sparse_problem()
    rows = np.arange(0, X.shape[0], 12)
    lasso = Lasso(alpha=lam / X.shape[1], fit_intercept=False, tol=1e-12, max_iter=100_000)
    expected = np.stack([lasso.fit(A, X[i]).coef_ for i in rows])
    worst = 0.0
    for method in ("fista", "ista"):
        codes = _sparse_codes(method, verify.x64_enabled())[rows]
        worst = max(worst, _relative_diff(codes, expected))
    return worst


@verify.check(
    "unsupervised.sparse_coding.ridge_basis_step",
    reference="numpy.linalg.solve (float64 normal equations)",
    tol=5e-4,
    tol_x64=1e-11,
)
def _ridge_step():
    """The basis step equals A = XᵀZ (ZᵀZ + μ/2 I)⁻¹ solved in float64 for the same codes."""
    from nndl_jax.unsupervised import sparse_coding

    X, _, _ = _sparse_problem()
    Z = _sparse_codes("fista", verify.x64_enabled())
    dtype = verify.float_dtype()
    reg = 4.0
    ours = sparse_coding.update_dictionary(jnp.asarray(X, dtype), jnp.asarray(Z, dtype), reg=reg)
    system = Z.T @ Z + 0.5 * reg * np.eye(Z.shape[1])
    expected = np.linalg.solve(system, Z.T @ X).T
    return _relative_diff(ours, expected)


def _relative_diff(ours, expected) -> float:
    """Largest absolute difference relative to the largest entry of ``expected``."""
    return verify.max_abs_diff(np.asarray(ours, np.float64), expected) / np.max(np.abs(expected))


# --------------------------------------------------------------------------- k-means


@verify.check(
    "unsupervised.kmeans.same_start",
    reference="sklearn.cluster.KMeans(init=our k-means++ seeds)",
    tol=1e-5,
    tol_x64=1e-12,
)
def _kmeans_same_start():
    """``fit`` with 4 restarts vs scikit-learn's Lloyd from the same 4 initial centroids.

    ``fit`` seeds restart i with ``jax.random.split(key, n_init)[i]``; ``kmeans_plusplus`` with
    that key gives the same initial centroids. Both use the same stopping rule (tol = 1e-4 of
    the mean feature variance) and keep the run of lowest inertia, so centroids, labels and
    inertia must agree, which checks the Lloyd steps, the stopping rule and the choice of run.
    Returns the largest of: centroid error relative to the largest entry, the relative inertia
    error and the fraction of differing labels.
    """
    from sklearn.cluster import KMeans

    from nndl_jax.unsupervised import kmeans

    X, k, n_init, key = _dataset("digits"), 10, 4, jax.random.key(2)
    ours = kmeans.fit(key, _x("digits"), k, n_init=n_init)
    runs = []
    for run_key in jax.random.split(key, n_init):
        init = np.asarray(kmeans.kmeans_plusplus(run_key, _x("digits"), k), np.float64)
        runs.append(KMeans(k, init=init, n_init=1, tol=1e-4, max_iter=300).fit(X))
    ref = min(runs, key=lambda run: run.inertia_)
    return max(
        _relative_diff(ours.centroids, ref.cluster_centers_),
        abs(float(ours.inertia) / ref.inertia_ - 1.0),
        float(np.mean(np.asarray(ours.labels) != ref.labels_)),
    )


@verify.check(
    "unsupervised.kmeans.fixed_point",
    reference="closed form: centroid = mean of its points, label = nearest centroid",
    tol=1e-4,
    tol_x64=1e-12,
    tier="closed form",
)
def _kmeans_fixed_point():
    from nndl_jax.unsupervised import kmeans

    X = _dataset("digits")
    # tol=0: Lloyd runs until the labels stop changing, i.e. until the centroids are the means.
    # (The same sizes as the same-start check, so the compiled program is shared.)
    ours = kmeans.fit(jax.random.key(1), _x("digits"), 10, n_init=4, tol=0.0)
    labels = np.asarray(ours.labels)
    centroids = np.asarray(ours.centroids, np.float64)
    means = np.stack([X[labels == j].mean(0) for j in range(10)])
    # Each point's squared distance to its own centroid minus that to the nearest one (float64),
    # relative to the mean squared distance.
    d2 = np.sum((X[:, None, :] - centroids[None]) ** 2, axis=2)
    excess = d2[np.arange(len(X)), labels] - d2.min(axis=1)
    return max(verify.max_abs_diff(centroids, means), float(excess.max() / d2.min(axis=1).mean()))


# --------------------------------------------------------------------------- GMM


@functools.cache
def _gmm_pair(covariance: str, x64: bool):
    """Our EM and scikit-learn's on iris, both started from the same mixture."""
    from sklearn.mixture import GaussianMixture

    from nndl_jax.unsupervised import gmm

    del x64  # part of the cache key only
    X = _dataset("iris")
    # tol = 0: both run exactly `steps` EM steps.
    k, steps = 3, 50
    means = X[np.random.default_rng(0).choice(len(X), k, replace=False)]
    start = gmm.initialize(None, _x("iris"), k, covariance=covariance, means_init=means)
    ours = gmm.em(start, _x("iris"), tol=0.0, max_iter=steps)
    cov = np.asarray(start.covariances, np.float64)
    precisions = np.linalg.inv(cov) if covariance == "full" else 1.0 / cov
    weights = np.asarray(start.weights, np.float64)
    ref = GaussianMixture(
        k,
        covariance_type=covariance,
        tol=0.0,
        max_iter=steps,
        weights_init=weights / weights.sum(),
        means_init=np.asarray(start.means, np.float64),
        precisions_init=precisions,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol = 0 is never met
        ref.fit(X)
    return ours, ref


def _gmm_error(covariance: str) -> float:
    from nndl_jax.unsupervised import gmm

    ours, ref = _gmm_pair(covariance, verify.x64_enabled())
    return abs(float(gmm.log_likelihood(ours, _x("iris"))) - ref.score(_dataset("iris")))


def _gmm_parameter_error(covariance: str) -> float:
    ours, ref = _gmm_pair(covariance, verify.x64_enabled())
    return max(
        verify.max_abs_diff(ours.weights, ref.weights_),
        _relative_diff(ours.means, ref.means_),
        _relative_diff(ours.covariances, ref.covariances_),
    )


for _cov in ("full", "diag"):
    _register(
        f"unsupervised.gmm.log_likelihood.{_cov}",
        _gmm_error,
        _cov,
        reference="sklearn.mixture.GaussianMixture (same start)",
        tol=5e-6,
        tol_x64=1e-12,
    )
    _register(
        f"unsupervised.gmm.parameters.{_cov}",
        _gmm_parameter_error,
        _cov,
        reference="sklearn.mixture.GaussianMixture (same start)",
        tol=1e-5,
        tol_x64=1e-11,
    )


@verify.check(
    "unsupervised.gmm.score_samples",
    reference="sklearn.mixture.GaussianMixture.score_samples",
    tol=1e-5,
    tol_x64=1e-11,
)
def _gmm_score_samples():
    """Our log-density and scikit-learn's for the same parameters (ours, copied into it)."""
    from sklearn.mixture import GaussianMixture
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    from nndl_jax.unsupervised import gmm

    X = _dataset("iris")
    worst = 0.0
    for covariance in ("full", "diag"):
        model, _ = _gmm_pair(covariance, verify.x64_enabled())
        ref = GaussianMixture(model.weights.shape[0], covariance_type=covariance)
        ref.weights_, ref.means_, ref.covariances_ = (
            np.asarray(a, np.float64) for a in (model.weights, model.means, model.covariances)
        )
        ref.precisions_cholesky_ = _compute_precision_cholesky(ref.covariances_, covariance)
        ours = np.asarray(gmm.score_samples(model, _x("iris")), np.float64)
        expected = ref.score_samples(X)
        # Relative to max(1, |log p|): float32 resolves a log-density of ~10 to ~1e-6.
        error = np.abs(ours - expected) / np.maximum(1.0, np.abs(expected))
        worst = max(worst, float(np.max(error)))
    return worst


# --------------------------------------------------------------------------- densities


@verify.check(
    "unsupervised.kde.score_samples",
    reference="sklearn.neighbors.KernelDensity(gaussian)",
    tol=1e-5,
    tol_x64=1e-10,
)
def _kde():
    from sklearn.neighbors import KernelDensity

    from nndl_jax.unsupervised import kde

    X = _dataset("iris")
    queries = X[::2] + 0.05
    ours = kde.score_samples(_x("iris"), jnp.asarray(queries, verify.float_dtype()), 0.4)
    ref = KernelDensity(kernel="gaussian", bandwidth=0.4).fit(X).score_samples(queries)
    return verify.max_abs_diff(np.asarray(ours, np.float64), ref)


@verify.check(
    "unsupervised.histogram.density",
    reference="numpy.histogramdd(density=True)",
    tol=1e-6,
    tol_x64=1e-12,
)
def _histogram():
    from nndl_jax.unsupervised import histogram

    X = _x("iris")[:, 2:4]
    model = histogram.fit(X, 8)
    edges = [np.asarray(e, np.float64) for e in model.edges]
    ref, _ = np.histogramdd(np.asarray(X, np.float64), bins=edges, density=True)
    # Relative to the largest density value.
    return verify.max_abs_diff(np.asarray(model.density, np.float64), ref) / ref.max()


@verify.check(
    "unsupervised.histogram.normalised",
    reference="closed form: Σ density · volume = 1",
    tol=1e-5,
    tol_x64=1e-12,
    tier="closed form",
)
def _histogram_integral():
    from nndl_jax.unsupervised import histogram

    model = histogram.fit(_x("iris")[:, :2], 7)
    # Integrated in float64 over the actual cells. In float32 the edges themselves are uniform
    # only to about eps·|x|/width ≈ 6e-8 · 8 / 0.5 ≈ 1e-6 relative per axis (iris sepals), so
    # 1e-5 is the honest float32 tolerance.
    edges = np.asarray(model.edges, np.float64)
    widths = np.diff(edges, axis=1)
    volumes = np.multiply.outer(widths[0], widths[1])
    return abs(np.sum(np.asarray(model.density, np.float64) * volumes) - 1.0)
