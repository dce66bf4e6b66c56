r"""Gaussian mixture models fitted by expectation-maximisation (EM).

A mixture of k Gaussians has density

.. math::  p(x) = \sum_{j=1}^k \pi_j\, \mathcal N(x; \mu_j, \Sigma_j), \qquad
           \log\mathcal N(x;\mu,\Sigma) = -\tfrac12\big(d\log 2\pi + \log|\Sigma|
           + (x-\mu)^\top\Sigma^{-1}(x-\mu)\big).

EM maximises the average log-likelihood :math:`\frac1N\sum_n \log p(x^{(n)})` by alternating

* **E-step**: responsibilities :math:`r_{nj} = \pi_j\mathcal N(x^{(n)};\mu_j,\Sigma_j) /
  p(x^{(n)})`, computed in log space with a log-sum-exp;
* **M-step**: :math:`N_j = \sum_n r_{nj}`, :math:`\pi_j = N_j/N`,
  :math:`\mu_j = \frac{1}{N_j}\sum_n r_{nj}x^{(n)}`,
  :math:`\Sigma_j = \frac{1}{N_j}\sum_n r_{nj}(x^{(n)}-\mu_j)(x^{(n)}-\mu_j)^\top
  + \epsilon I` (``reg_covar`` ε keeps every Σ positive definite, as in scikit-learn).

Neither step can lower the likelihood. Iteration stops when the average log-likelihood of an
E-step changes by less than ``tol`` (scikit-learn's rule and default 1e-3), or after ``max_iter``
steps; the model returned is the one after the last M-step.

Covariances are ``"full"`` ((k, d, d) matrices) or ``"diag"`` ((k, d) variances); the model
tells which by the shape of ``covariances``. The Gaussian log-density uses the Cholesky factor
of each precision, :math:`\Sigma^{-1} = P P^\top` with P upper triangular: the Mahalanobis term
is :math:`\|(x-\mu)^\top P\|^2` and :math:`\log|\Sigma| = -2\sum_i\log P_{ii}`, so all k
components are evaluated by one batched matrix product.

Initialisation (as scikit-learn's default): one k-means run gives hard responsibilities and an
M-step turns them into the first weights, means and covariances. With ``means_init`` the points
are instead assigned to the nearest given mean, weights and covariances come from the M-step of
that assignment, and the means are the given ones (scikit-learn's ``means_init`` keeps its
k-means weights and covariances the same way).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from nndl_jax._validate import all_finite, check_non_negative
from nndl_jax.unsupervised import _blas_threads, kmeans as _kmeans
from nndl_jax.unsupervised._checks import (
    as_float_array,
    check_choice,
    check_count,
    check_data,
    check_finite,
    check_key,
    check_positive_int,
    is_tracer,
)
from nndl_jax.unsupervised._precision import full_precision

__all__ = [
    "GMM",
    "fit",
    "initialize",
    "em",
    "score_samples",
    "log_likelihood",
    "predict_proba",
    "predict",
]

COVARIANCES = ("full", "diag")


class GMM(NamedTuple):
    """A Gaussian mixture.

    Attributes:
      weights: ``(k,)`` mixing proportions π, summing to 1.
      means: ``(k, d)``.
      covariances: ``(k, d, d)`` for full covariances or ``(k, d)`` variances for diagonal ones.
      log_likelihood: scalar, the average log-likelihood of the last E-step of the fit (the
        lower bound scikit-learn reports); NaN before any EM step.
      n_iter: scalar int32, EM steps taken.
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array
    log_likelihood: jax.Array
    n_iter: jax.Array

    @property
    def covariance_type(self) -> str:
        return "full" if self.covariances.ndim == 3 else "diag"


def fit(
    key,
    X,
    k: int,
    *,
    covariance: str = "full",
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    tol: float = 1e-3,
    means_init=None,
) -> GMM:
    """Fit a k-component Gaussian mixture by EM (:func:`initialize`, then :func:`em`).

    Args:
      key: PRNG key for the k-means initialisation (unused with ``means_init``).
      X: ``(N, d)`` data, finite.
      k: components, 1 ≤ k ≤ N (static).
      covariance: ``"full"`` or ``"diag"``.
      reg_covar: ε ≥ 0 added to every covariance's diagonal.
      max_iter: the most EM steps. tol: stop when the average log-likelihood changes by less.
      means_init: ``(k, d)`` starting means instead of k-means.

    Returns:
      A fitted :class:`GMM`.

    Raises:
      ValueError: k > N, NaN/Inf in X or ``means_init``, bad names or numbers.
    """
    model = initialize(key, X, k, covariance=covariance, reg_covar=reg_covar, means_init=means_init)
    return em(model, X, reg_covar=reg_covar, max_iter=max_iter, tol=tol)


def initialize(
    key, X, k: int, *, covariance: str = "full", reg_covar: float = 1e-6, means_init=None
) -> GMM:
    """The starting mixture: hard assignments (k-means, or nearest ``means_init``) + an M-step.

    Args:
      key, X, k, covariance, reg_covar, means_init: as in :func:`fit`.

    Returns:
      A :class:`GMM` with ``n_iter = 0`` and a NaN ``log_likelihood``.
    """
    X = check_data("X", X)
    n, d = X.shape
    k = check_count("k", k, n, f"the number of samples in X of shape {(n, d)}")
    check_choice("covariance", covariance, COVARIANCES)
    reg_covar = check_non_negative("reg_covar", reg_covar)
    if means_init is None:
        check_key(key)
        labels = _kmeans.fit(key, X, k, n_init=1).labels
        means = None
    else:
        means = as_float_array("means_init", means_init)
        if means.shape != (k, d):
            raise ValueError(f"means_init must have shape (k, d)={(k, d)}, got {means.shape}")
        check_finite("means_init", means)
        means = means.astype(X.dtype)
        labels = _kmeans.predict(_kmeans.KMeans(means, None, None, None), X)
    return _initialize(X, labels, means, reg_covar, k=k, covariance=covariance)


@partial(jax.jit, static_argnames=("k", "covariance"))
@full_precision
def _initialize(X, labels, means, reg_covar, *, k, covariance):
    resp = (labels[:, None] == jnp.arange(k)).astype(X.dtype)
    shift = jnp.mean(X, axis=0)
    weights, mu, cov = _m_step(X - shift, resp, reg_covar, covariance)
    mu = mu + shift if means is None else means
    nan = jnp.array(jnp.nan, X.dtype)
    return GMM(weights, mu, cov, nan, jnp.int32(0))


def em(model: GMM, X, *, reg_covar: float = 1e-6, max_iter: int = 100, tol: float = 1e-3) -> GMM:
    """Run EM from ``model`` until the average log-likelihood changes by less than ``tol``.

    Args:
      model: the starting :class:`GMM` (e.g. from :func:`initialize`).
      X: ``(N, d)`` data. reg_covar, max_iter, tol: as :func:`fit`.

    Returns:
      The fitted :class:`GMM`; ``n_iter`` counts the steps of this call.
    """
    X = check_data("X", X)
    _check_model(model, X.shape[1])
    reg_covar = check_non_negative("reg_covar", reg_covar)
    max_iter = check_positive_int("max_iter", max_iter)
    tol = check_non_negative("tol", tol)
    model = jax.tree.map(lambda a: jnp.asarray(a), model)
    fitted = _blas_threads.call(_em, model, X, reg_covar, tol, max_iter=max_iter, size=X.shape[1])
    healthy = all_finite(fitted) & ~_collapsed(fitted.covariances, X)
    if not is_tracer(healthy) and not bool(healthy):
        raise ValueError(
            f"EM broke down: a covariance became singular (a component collapsed onto a single "
            f"point or onto a constant feature), so the model holds NaN or variances at the "
            f"rounding level of X. Increase reg_covar (got {reg_covar}), use fewer components "
            f"(k={model.means.shape[0]}) or rescale X"
        )
    return fitted


@jax.jit
def _collapsed(cov, X):
    """Whether some component's variance is 0 up to rounding: a collapse that left no NaN.

    A component on copies of one point has variance exactly 0 only if the point's coordinates
    are reproduced exactly; otherwise its mean is off by a few ulps of |x| (the counts carry a
    10·eps guard) and its variance is that error squared. In feature j anything below
    (16·eps·max_n|x_nj - x̄_j|)² is such rounding, not a spread the data can resolve. The bound
    is per feature: one taken over all features would call a real, small variance (or a
    constant feature held up by reg_covar) a collapse whenever another feature spans a much
    larger range.
    """
    variances = jnp.diagonal(cov, axis1=-2, axis2=-1) if cov.ndim == 3 else cov
    scale = jnp.max(jnp.abs(X - jnp.mean(X, axis=0)), axis=0)  # (d,)
    return jnp.any(variances <= (16 * jnp.finfo(X.dtype).eps * scale) ** 2)


@partial(jax.jit, static_argnames=("max_iter",))
@full_precision
def _em(model, X, reg_covar, tol, *, max_iter):
    covariance = model.covariance_type

    def step(carry):
        weights, means, cov, previous, it, _ = carry
        log_prob = _weighted_log_prob(X, weights, means, cov)
        log_norm = logsumexp(log_prob, axis=1)
        resp = jnp.exp(log_prob - log_norm[:, None])
        weights, means, cov = _m_step(X, resp, reg_covar, covariance)
        current = jnp.mean(log_norm)
        return weights, means, cov, current, it + 1, jnp.abs(current - previous) < tol

    def cond(carry):
        *_, it, done = carry
        return (it < max_iter) & ~done

    dtype = X.dtype
    # EM on data centred once: far from the origin (say 1e5 + noise in float32) the means would
    # be rounded to the data's ulp, and each covariance, taken about a rounded mean, biased by
    # its square. Densities and responsibilities do not change with the shift.
    shift = jnp.mean(X, axis=0)
    X = X - shift
    carry = (
        model.weights.astype(dtype),
        model.means.astype(dtype) - shift,
        model.covariances.astype(dtype),
        jnp.array(-jnp.inf, dtype),
        jnp.int32(0),
        jnp.bool_(False),
    )
    weights, means, cov, current, n_iter, _ = lax.while_loop(cond, step, carry)
    return GMM(weights, means + shift, cov, current, n_iter)


def _tiny(X):
    # scikit-learn adds 10 * eps to every N_j so that an empty component divides by no zero.
    return 10 * jnp.finfo(X.dtype).eps


def _m_step(X, resp, reg_covar, covariance):
    n = X.shape[0]
    counts = jnp.sum(resp, axis=0) + _tiny(X)
    means = (resp.T @ X) / counts[:, None]
    cov = _covariances(X, resp, counts, means, reg_covar, covariance)
    return counts / n, means, cov


def _covariances(X, resp, counts, means, reg_covar, covariance):
    if covariance == "diag":
        # Centred on each mean exactly: E[x²] - μ² would cancel in float32.
        diff2 = (X[:, None, :] - means[None]) ** 2
        return jnp.einsum("nk,nkd->kd", resp, diff2) / counts[:, None] + reg_covar

    d = X.shape[1]

    # One component at a time (lax.map): centring on each mean exactly avoids the cancellation
    # of E[xxᵀ] - μμᵀ in float32, and keeps memory at one (N, d) copy instead of k.
    def one(args):
        r, mu, c = args
        diff = X - mu
        return (diff * r[:, None]).T @ diff / c

    cov = lax.map(one, (resp.T, means, counts))
    return cov + reg_covar * jnp.eye(d, dtype=X.dtype)


def _precision_cholesky(cov):
    """P with Σ⁻¹ = P Pᵀ (upper triangular), from Σ = L Lᵀ: P = L⁻ᵀ."""
    d = cov.shape[-1]
    chol = jnp.linalg.cholesky(cov)
    eye = jnp.broadcast_to(jnp.eye(d, dtype=cov.dtype), cov.shape)
    return jnp.swapaxes(solve_triangular(chol, eye, lower=True), -1, -2)


def _log_gaussian(X, means, cov):
    """``(N, k)`` log N(x_n; μ_j, Σ_j)."""
    d = X.shape[1]
    if cov.ndim == 2:  # diagonal: N·k·d work either way, so take the exact differences
        mahalanobis = jnp.sum((X[:, None, :] - means[None]) ** 2 / cov[None], axis=2)
        log_det = jnp.sum(jnp.log(cov), axis=1)
        return -0.5 * (d * math.log(2 * math.pi) + log_det + mahalanobis)
    # Shift data and means by the means' average: differences are unchanged, but xP and μP,
    # whose difference is taken below, get smaller and cancel less in float32.
    shift = jnp.mean(means, axis=0)
    X, means = X - shift, means - shift
    P = _precision_cholesky(cov)  # (k, d, d)
    k = means.shape[0]
    # All components in one product: (N, d) @ (d, k·d).
    XP = (X @ jnp.transpose(P, (1, 0, 2)).reshape(d, k * d)).reshape(-1, k, d)
    muP = jnp.einsum("kd,kde->ke", means, P)
    mahalanobis = jnp.sum((XP - muP) ** 2, axis=2)
    log_det = -2.0 * jnp.sum(jnp.log(jnp.diagonal(P, axis1=1, axis2=2)), axis=1)
    return -0.5 * (d * math.log(2 * math.pi) + log_det + mahalanobis)


def _weighted_log_prob(X, weights, means, cov):
    return _log_gaussian(X, means, cov) + jnp.log(weights)


def score_samples(model: GMM, X) -> jax.Array:
    """``(N,)`` log-density :math:`\\log p(x)` of each row of X under the mixture."""
    X = _check_x(model, X)
    return _blas_threads.call(_score_samples, model, X, size=X.shape[1])


@jax.jit
@full_precision
def _score_samples(model, X):
    return logsumexp(_weighted_log_prob(X, model.weights, model.means, model.covariances), axis=1)


def log_likelihood(model: GMM, X) -> jax.Array:
    """The average log-likelihood :math:`\\frac1N\\sum_n\\log p(x^{(n)})` (scikit-learn's
    ``score``)."""
    return jnp.mean(score_samples(model, X))


def predict_proba(model: GMM, X) -> jax.Array:
    """``(N, k)`` responsibilities :math:`p(j \\mid x)`."""
    X = _check_x(model, X)
    return _blas_threads.call(_predict_proba, model, X, size=X.shape[1])


@jax.jit
@full_precision
def _predict_proba(model, X):
    log_prob = _weighted_log_prob(X, model.weights, model.means, model.covariances)
    return jnp.exp(log_prob - logsumexp(log_prob, axis=1, keepdims=True))


def predict(model: GMM, X) -> jax.Array:
    """``(N,)`` int32 most responsible component of each row."""
    return jnp.argmax(predict_proba(model, X), axis=1).astype(jnp.int32)


def _check_model(model: GMM, d: int) -> None:
    if not isinstance(model, GMM):
        raise TypeError(f"model must be a gmm.GMM, got {type(model).__name__}")
    k = model.weights.shape[0]
    want = ((k, d, d), (k, d))
    if model.means.shape != (k, d) or model.covariances.shape not in want:
        raise ValueError(
            f"model does not match data with {d} features: means {model.means.shape}, "
            f"covariances {model.covariances.shape}; expected means {(k, d)} and covariances "
            f"{want[0]} (full) or {want[1]} (diag)"
        )


def _check_x(model: GMM, X) -> jax.Array:
    X = as_float_array("X", X)
    d = model.means.shape[1]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n_samples, {d}), got {tuple(X.shape)}")
    check_finite("X", X)
    return X
