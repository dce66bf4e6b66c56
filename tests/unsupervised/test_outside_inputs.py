"""Inputs met by probing the estimators from outside: features of very different scales, fewer
distinct points than clusters, NaN at prediction time, bandwidths at the edge of float32."""

import math
import re

import jax
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_wine
from sklearn.mixture import GaussianMixture

from nndl_jax.unsupervised import gmm, histogram, kde, kmeans


def test_gmm_fits_raw_wine_with_a_constant_column_like_sklearn():
    # Proline spans ~1,400 while a constant column's variance is reg_covar = 1e-6: a collapse
    # bound taken over all features at once called that variance a collapse.
    X = np.column_stack([load_wine().data, np.ones(178)])
    ours = gmm.fit(jax.random.key(0), X, 1)
    ref = GaussianMixture(1).fit(X).score(X)
    assert abs(float(gmm.log_likelihood(ours, X)) - ref) < 1e-3


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_gmm_resolves_a_small_variance_beside_a_large_one(covariance):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(0, 1e4, 500), rng.normal(0, 1e-3, 500)])
    ours = gmm.fit(jax.random.key(0), X, 1, covariance=covariance)
    ref = GaussianMixture(1, covariance_type=covariance).fit(X)
    assert abs(float(gmm.log_likelihood(ours, X)) - ref.score(X)) < 1e-3
    variances = ours.covariances[0] if covariance == "diag" else np.diag(ours.covariances[0])
    ref_var = ref.covariances_[0] if covariance == "diag" else np.diag(ref.covariances_[0])
    np.testing.assert_allclose(variances, ref_var, rtol=1e-3)


def test_gmm_still_refuses_a_real_collapse():
    X = np.repeat(np.random.default_rng(1).normal(size=(3, 2)), 20, axis=0)
    with pytest.raises(ValueError, match="EM broke down"):
        gmm.fit(jax.random.key(0), X, 3, reg_covar=0.0)


@pytest.mark.filterwarnings("ignore:Number of distinct clusters:UserWarning")
def test_kmeans_with_fewer_distinct_points_than_clusters_stops_like_sklearn():
    # Duplicate centroids leave a cluster empty for good; moving it again gains nothing.
    X = np.repeat(np.random.default_rng(1).normal(size=(5, 3)), 40, axis=0)
    for seed in range(3):
        ours = kmeans.fit(jax.random.key(seed), X, 7)
        ref = KMeans(7, n_init=1, random_state=seed).fit(X)
        assert int(ours.n_iter) <= ref.n_iter_ + 1 < 300
        assert float(ours.inertia) <= 1e-6 * np.sum((X - X.mean(0)) ** 2)


def _nan_row(d):
    row = np.zeros((2, d))
    row[1, 0] = np.nan
    return row


def test_prediction_refuses_nan_rows():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 2))
    km = kmeans.fit(jax.random.key(0), X, 2)
    mix = gmm.fit(jax.random.key(0), X, 2)
    hist = histogram.fit(X, 4)
    calls = {
        "kmeans.predict": lambda Y: kmeans.predict(km, Y),
        "gmm.score_samples": lambda Y: gmm.score_samples(mix, Y),
        "gmm.predict_proba": lambda Y: gmm.predict_proba(mix, Y),
        "histogram.density": lambda Y: histogram.density(hist, Y),
        "histogram.score_samples": lambda Y: histogram.score_samples(hist, Y),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=r"X must be finite.*\(1, 0\)"):
            call(_nan_row(2))
            pytest.fail(name)


@pytest.mark.parametrize("h", [1e-39, 1e39])
def test_kde_refuses_a_bandwidth_float32_cannot_hold(h):
    with pytest.raises(ValueError, match=re.escape(f"bandwidth={h!r} is outside the normal range")):
        kde.score_samples([[0.0], [1.0]], [[0.0]], h)


@pytest.mark.parametrize("h", [1.2e-38, 3e38])
def test_kde_at_the_edges_of_float32_matches_the_closed_form(h):
    # Two training points 1 apart, scored at the first: exp(-1/(2h²)) vanishes for tiny h.
    got = float(kde.score_samples([[0.0], [1.0]], [[0.0]], h)[0])
    h32 = float(np.float32(h))
    near = 1.0 + math.exp(-0.5 / h32**2)
    expected = math.log(near / 2) - 0.5 * math.log(2 * math.pi) - math.log(h32)
    assert got == pytest.approx(expected, rel=1e-6)


def test_sparse_coding_names_a_dictionary_without_atoms():
    from nndl_jax.unsupervised import sparse_coding as sc

    X = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"A must be .* at least one atom, got A.shape=\(3, 0\)"):
        sc.encode(X, np.ones((3, 0)), lam=0.1)
    for unit_norm in (False, True):
        with pytest.raises(ValueError, match=r"at least one atom, got Z.shape=\(4, 0\)"):
            sc.update_dictionary(X, np.ones((4, 0)), reg=1.0, unit_norm=unit_norm)


def test_sparse_coding_checks_codes_restart_and_atoms():
    from nndl_jax.unsupervised import sparse_coding as sc

    rng = np.random.default_rng(3)
    X, A = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    with pytest.raises(ValueError, match=r"Z must be finite"):
        sc.objective(X, A, np.full((4, 5), np.nan), lam=0.1)
    with pytest.raises(TypeError, match=r"restart must be a bool, got 'no'"):
        sc.encode(X, A, lam=0.1, restart="no")
    with pytest.raises(ValueError, match=r"atoms must have shape \(d, n_atoms\)=\(3, 5\)"):
        sc.update_dictionary(X, rng.normal(size=(4, 5)), reg=1.0, atoms=np.ones((2, 2)))
