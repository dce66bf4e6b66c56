"""Gaussian mixtures: closed form for one component, density vs scipy.stats, EM monotonicity,
diagonal vs full, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from nndl_jax.unsupervised import gmm

RNG = np.random.default_rng(4)
X_NP = np.concatenate(
    [
        RNG.multivariate_normal([0.0, 0.0], [[1.0, 0.6], [0.6, 1.0]], 40),
        RNG.multivariate_normal([5.0, 3.0], [[0.5, 0.0], [0.0, 2.0]], 40),
    ]
)
X = jnp.asarray(X_NP, jnp.float32)
MEANS = np.array([[0.5, 0.5], [4.0, 4.0]])


def test_one_component_is_the_sample_gaussian():
    model = gmm.fit(None, X, 1, means_init=X_NP.mean(0, keepdims=True), reg_covar=1e-3)
    cov = np.cov(X_NP, rowvar=False, bias=True) + 1e-3 * np.eye(2)
    np.testing.assert_allclose(model.means[0], X_NP.mean(0), atol=1e-5)
    np.testing.assert_allclose(model.covariances[0], cov, atol=1e-5)
    expected = multivariate_normal(X_NP.mean(0), cov).logpdf(X_NP).mean()
    np.testing.assert_allclose(gmm.log_likelihood(model, X), expected, atol=1e-5)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_score_samples_matches_scipy_mixture(covariance):
    model = gmm.fit(None, X, 2, covariance=covariance, means_init=MEANS)
    w, mu, cov = (np.asarray(a, np.float64) for a in model[:3])
    dense = cov if covariance == "full" else np.stack([np.diag(c) for c in cov])
    pdf = sum(w[j] * multivariate_normal(mu[j], dense[j]).pdf(X_NP) for j in range(2))
    np.testing.assert_allclose(gmm.score_samples(model, X), np.log(pdf), atol=1e-5)
    proba = np.asarray(gmm.predict_proba(model, X))
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    assert model.covariance_type == covariance


def test_em_never_lowers_the_likelihood():
    model = gmm.initialize(None, X, 2, means_init=MEANS + 1.0)
    values = []
    for _ in range(8):  # one step per call: model.log_likelihood is that step's E-step value
        model = gmm.em(model, X, max_iter=1)
        values.append(float(model.log_likelihood))
    assert np.all(np.diff(values) >= -1e-5)
    assert float(gmm.log_likelihood(model, X)) >= values[-1] - 1e-5


def test_kmeans_initialisation_separates_the_two_groups():
    model = gmm.fit(jax.random.key(0), X, 2)
    labels = np.asarray(gmm.predict(model, X))
    assert len(set(labels[:40])) == 1 and len(set(labels[40:])) == 1 and labels[0] != labels[-1]
    # EM from k-means on two separated groups converges (Δ log-likelihood < tol) in a few
    # steps, far below max_iter = 100; the first step has no change to compare with
    assert 2 <= int(model.n_iter) <= 10


def test_errors_name_the_values():
    with pytest.raises(ValueError, match=r"k=81 is larger than the number of samples"):
        gmm.fit(jax.random.key(0), X, 81)
    with pytest.raises(ValueError, match=r"means_init must have shape \(k, d\)=\(2, 2\)"):
        gmm.fit(None, X, 2, means_init=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="means_init must be finite"):
        gmm.fit(None, X, 2, means_init=np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="covariance must be one of"):
        gmm.fit(None, X, 2, covariance="spherical", means_init=MEANS)
    bad = np.array(X_NP)
    bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        gmm.fit(jax.random.key(0), bad, 2)
    model = gmm.initialize(None, X, 2, means_init=MEANS)
    with pytest.raises(ValueError, match="model does not match data with 3 features"):
        gmm.em(model, jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\)"):
        gmm.score_samples(model, jnp.zeros((5, 3)))
