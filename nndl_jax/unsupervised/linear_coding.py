r"""Linear coding: a basis A encodes by projection and decodes by a linear combination.

With a basis :math:`A = [a_1, \dots, a_M]` of shape (d, M), atoms as columns, a sample x
(taken relative to a centre :math:`\mu`, the data mean, or 0) is

.. math::  \text{decoded as}\quad \hat x = \mu + A z = \mu + \sum_m z_m a_m, \qquad
           \text{encoded as}\quad z = A^\top (x - \mu).

When A has orthonormal columns (:math:`A^\top A = I_M`, e.g. PCA's ``components.T``) the
encoding is the least-squares code, :math:`\hat x` is the orthogonal projection of x onto the
span of A, and with M = d (a full orthonormal basis) the reconstruction is exact.

Rows are samples: ``X`` is (N, d), codes ``Z`` are (N, M), so ``Z = (X - μ) A`` and
``X̂ = Z Aᵀ + μ``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndl_jax.unsupervised import pca as _pca
from nndl_jax.unsupervised._checks import as_float_array, check_data, check_finite
from nndl_jax.unsupervised._precision import full_precision

__all__ = ["basis_from_pca", "encode", "decode", "reconstruction_error", "error_curve"]


def basis_from_pca(model: _pca.PCA) -> tuple[jax.Array, jax.Array]:
    """The orthonormal basis ``A = components.T`` (d, k) and centre ``mean`` (d,) of a PCA."""
    return model.components.T, model.mean


@full_precision
def encode(X, A, mean=None) -> jax.Array:
    r"""Codes :math:`Z = (X - \mu) A`, shape (N, M), for X (N, d) and A (d, M)."""
    X, A, mean = _check(X, A, mean)
    return (X - mean) @ A


@full_precision
def decode(Z, A, mean=None) -> jax.Array:
    r"""Reconstructions :math:`\hat X = Z A^\top + \mu`, shape (N, d), for Z (N, M), A (d, M)."""
    Z = as_float_array("Z", Z)
    A = as_float_array("A", A)
    if A.ndim != 2 or Z.ndim < 1 or Z.shape[-1] != A.shape[1]:
        raise ValueError(
            f"Z must have A's number of atoms (columns) as its last axis; got Z.shape="
            f"{tuple(Z.shape)} and A.shape={tuple(A.shape)}"
        )
    check_finite("Z", Z)
    check_finite("A", A)
    out = Z @ A.T
    return out if mean is None else out + _check_mean(mean, A.shape[0])


@full_precision
def reconstruction_error(X, A, mean=None) -> jax.Array:
    r"""Mean squared reconstruction error :math:`\frac1N\sum_n \|x^{(n)} - \hat x^{(n)}\|^2`."""
    X, A, mean = _check(X, A, mean)
    residual = (X - mean) - ((X - mean) @ A) @ A.T
    return jnp.mean(jnp.sum(residual**2, axis=1))


@full_precision
def error_curve(X, A, mean=None) -> jax.Array:
    r"""Reconstruction error using the first m atoms, for m = 0, 1, ..., M.

    For an orthonormal A (checked by the caller; PCA's basis is), the projections onto
    different atoms are orthogonal, so the error drops by each atom's captured energy:

    .. math::  e(m) = \frac1N\Big(\|X_c\|_F^2 - \sum_{j \le m} \|X_c a_j\|^2\Big),

    computed from one product :math:`X_c A` instead of M reconstructions. For PCA on the training
    data, :math:`e(m) = \frac{N-1}{N} \sum_{j > m} \lambda_j` (the discarded eigenvalues).

    Args:
      X: (N, d) data. A: (d, M) orthonormal columns. mean: (d,) centre, or None for 0.

    Returns:
      ``(M + 1,)`` errors, starting from m = 0 (everything discarded).
    """
    X, A, mean = _check(X, A, mean)
    Xc = X - mean
    n = X.shape[0]
    energy = jnp.sum((Xc @ A) ** 2, axis=0) / n
    total = jnp.sum(Xc**2) / n
    captured = jnp.concatenate([jnp.zeros((1,), energy.dtype), jnp.cumsum(energy)])
    # Rounding can make the last (exact) value slightly negative.
    return jnp.maximum(total - captured, 0.0)


def _check(X, A, mean):
    X = check_data("X", X)
    A = as_float_array("A", A)
    if A.ndim != 2 or A.shape[0] != X.shape[1]:
        raise ValueError(
            f"A must be a (n_features, n_atoms) matrix with n_features={X.shape[1]} (X's "
            f"columns), got A.shape={tuple(A.shape)}"
        )
    check_finite("A", A)
    mean = jnp.zeros((X.shape[1],), X.dtype) if mean is None else _check_mean(mean, X.shape[1])
    return X, A, mean


def _check_mean(mean, d: int) -> jax.Array:
    mean = as_float_array("mean", mean)
    if mean.shape != (d,):
        raise ValueError(f"mean must have shape {(d,)}, got {tuple(mean.shape)}")
    check_finite("mean", mean)
    return mean
