r"""Principal component analysis (PCA).

The first principal component is the unit direction of largest variance,

.. math::  w_1 = \arg\max_{w} w^\top \Sigma w \quad \text{s.t.}\quad w^\top w = 1,

where :math:`\Sigma = \frac{1}{N-1}\sum_n (x^{(n)} - \bar x)(x^{(n)} - \bar x)^\top` is the
sample covariance. The Lagrangian :math:`w^\top\Sigma w - \lambda(w^\top w - 1)` has gradient
:math:`2\Sigma w - 2\lambda w`, so a stationary point is an eigenvector, :math:`\Sigma w =
\lambda w`, and the variance it captures is :math:`w^\top\Sigma w = \lambda`: the maximum is the
top eigenvector. Adding the constraints :math:`w_k^\top w_j = 0` for :math:`j < k` gives the
k-th eigenvector, so the first k components are the top-k eigenvectors of Σ, and the rows of the
``components`` matrix W (k × d) satisfy :math:`W W^\top = I_k`.

Two solvers give the same result:

* ``method="eigh"`` (the derivation above): eigendecomposition of the d × d covariance. It costs
  one pass of O(N d²) to form :math:`X_c^\top X_c` and O(d³) for ``eigh``; fast when N ≫ d.
  Forming the covariance squares the condition number, so the directions of small variance are
  resolved only to about eps·λ_max/gap (SVD does better on badly scaled features); their
  variances are measured on the data, :math:`\|X_c w_j\|^2/(N-1)`, one more O(N d k) pass,
  which keeps them accurate relative to their own size.
* ``method="svd"``: thin SVD :math:`X_c = U S V^\top`; the rows of :math:`V^\top` are the
  components and :math:`S^2/(N-1)` the variances. More accurate, slower for tall data.

Signs are fixed as scikit-learn fixes them: in each component the entry of largest absolute
value is positive.

>>> import jax.numpy as jnp
>>> from nndl_jax.unsupervised import pca
>>> X = jnp.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
>>> model = pca.fit(X, 1)
>>> [round(float(v), 4) for v in model.components[0]]
[0.7071, 0.7071]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp

from nndl_jax.unsupervised import _blas_threads
from nndl_jax.unsupervised._checks import as_float_array, check_choice, check_count, check_data
from nndl_jax.unsupervised._precision import full_precision

__all__ = ["PCA", "fit", "transform", "inverse_transform"]

METHODS = ("eigh", "svd")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PCA:
    """A fitted PCA model (a pytree; ``whiten`` is static).

    Attributes:
      mean: ``(d,)`` the training mean.
      components: ``(k, d)`` principal directions as unit-norm, mutually orthogonal rows, in
        order of decreasing variance.
      explained_variance: ``(k,)`` the variance along each component (eigenvalues of Σ, with the
        unbiased 1/(N-1) normalisation scikit-learn uses).
      explained_variance_ratio: ``(k,)`` each variance over the total variance trace(Σ).
      whiten: whether :func:`transform` scales each projection to unit variance.
    """

    mean: jax.Array
    components: jax.Array
    explained_variance: jax.Array
    explained_variance_ratio: jax.Array
    whiten: bool = field(default=False, metadata={"static": True})

    @property
    def n_components(self) -> int:
        return self.components.shape[0]


def fit(X, n_components: int, *, method: str = "eigh", whiten: bool = False) -> PCA:
    """Fit PCA with ``n_components`` components.

    Args:
      X: data, shape ``(N, d)`` with N ≥ 2; finite.
      n_components: k, with 1 ≤ k ≤ min(N, d). Static (it sets output shapes).
      method: ``"eigh"`` (covariance eigendecomposition) or ``"svd"`` (thin SVD of the centred
        data); see the module docstring.
      whiten: if True, :func:`transform` divides each projection by the square root of its
        variance, so the codes have identity covariance on the training data.

    Returns:
      A :class:`PCA` model.

    Raises:
      ValueError: ``n_components`` out of range, fewer than 2 rows, NaN/Inf in ``X``, an
        unknown ``method``.
      TypeError: ``whiten`` is not a bool.
    """
    X = check_data("X", X, min_samples=2)
    n, d = X.shape
    k = check_count(
        "n_components",
        n_components,
        n,
        f"min(n_samples, n_features) for X of shape {(n, d)}",
        limit=min(n, d),
    )
    check_choice("method", method, METHODS)
    if not isinstance(whiten, bool):
        raise TypeError(f"whiten must be a bool, got {whiten!r}")
    # LAPACK sees the d × d covariance (eigh) or the whole N × d matrix (svd).
    size = d if method == "eigh" else max(n, d)
    return _blas_threads.call(_fit, X, k, method, whiten, size=size)


@partial(jax.jit, static_argnums=(1, 2, 3))
@full_precision
def _fit(X, k: int, method: str, whiten: bool) -> PCA:
    n = X.shape[0]
    mean = jnp.mean(X, axis=0)
    # One correction pass. XLA divides by N as a product with the rounded 1/N, so the mean of a
    # constant column can miss the constant by an ulp; the centred column is then a constant
    # c != 0, "variance" c², and whitening blows it up to codes of size 1. The correction makes
    # such a mean exact and removes most of the rounding of the first pass (data far from 0).
    mean = mean + jnp.mean(X - mean, axis=0)
    Xc = X - mean
    if method == "eigh":
        cov = (Xc.T @ Xc) / (n - 1)
        # eigh returns ascending eigenvalues; the top k are the last k, reversed.
        _, eigvecs = jnp.linalg.eigh(cov)
        components = eigvecs[:, ::-1][:, :k].T
        # The eigenvalues of the rounded covariance are accurate only to ~eps·λ_max; the variance
        # along each direction measured on the data, |X_c w|²/(N-1), is accurate relative to
        # itself (a Rayleigh quotient: first-order errors in w do not change it).
        variance = jnp.sum((Xc @ components.T) ** 2, axis=0) / (n - 1)
        total = jnp.trace(cov)
    else:
        _, s, vt = jnp.linalg.svd(Xc, full_matrices=False)
        variance = s[:k] ** 2 / (n - 1)
        components = vt[:k]
        total = jnp.sum(s**2) / (n - 1)
    components = _fix_signs(components)
    # An all-constant X has zero total variance; report ratios of 0 rather than NaN.
    ratio = jnp.where(total > 0, variance / jnp.where(total > 0, total, 1.0), 0.0)
    return PCA(mean, components, variance, ratio, whiten)


def _fix_signs(components: jax.Array) -> jax.Array:
    """Flip each row so that its entry of largest magnitude is positive (a unique choice)."""
    biggest = jnp.take_along_axis(
        components, jnp.argmax(jnp.abs(components), axis=1)[:, None], axis=1
    )
    return components * jnp.where(biggest < 0, -1.0, 1.0).astype(components.dtype)


@full_precision
def transform(model: PCA, X) -> jax.Array:
    r"""Project onto the components: :math:`Z = (X - \bar x) W^\top`, whitened if the model is.

    Args:
      model: a fitted :class:`PCA`.
      X: ``(..., d)``.

    Returns:
      ``(..., k)`` codes; with whitening each column is divided by
      :math:`\sqrt{\text{explained\_variance}}`.
    """
    X = _check_last_axis("X", X, model.mean.shape[0], "n_features")
    Z = (X - model.mean) @ model.components.T
    if model.whiten:
        Z = Z / _whitening_scale(model)
    return Z


@full_precision
def inverse_transform(model: PCA, Z) -> jax.Array:
    r"""Map codes back to data space: :math:`\hat X = Z W + \bar x` (un-whitening first).

    With k = d (all components) this inverts :func:`transform` exactly, because W is then
    orthogonal; with k < d it returns the projection of X onto the principal subspace.

    Args:
      model: a fitted :class:`PCA`.
      Z: ``(..., k)`` codes.

    Returns:
      ``(..., d)``.
    """
    Z = _check_last_axis("Z", Z, model.components.shape[0], "n_components")
    if model.whiten:
        Z = Z * _whitening_scale(model)
    return Z @ model.components + model.mean


def _whitening_scale(model: PCA) -> jax.Array:
    # A zero-variance component would divide by zero; leave its (all-zero) codes unscaled.
    std = jnp.sqrt(model.explained_variance)
    return jnp.where(std > 0, std, 1.0)


def _check_last_axis(name: str, x, size: int, what: str) -> jax.Array:
    x = as_float_array(name, x)
    if x.ndim < 1 or x.shape[-1] != size:
        raise ValueError(
            f"{name} must have {size} columns (the model's {what}), got shape {tuple(x.shape)}"
        )
    return x
