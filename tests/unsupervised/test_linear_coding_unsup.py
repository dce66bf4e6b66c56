"""Linear coding: exact full-rank reconstruction, error curve vs explicit reconstructions."""

import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.unsupervised import linear_coding, pca

RNG = np.random.default_rng(1)
X = jnp.asarray(RNG.normal(size=(40, 6)) * np.arange(1, 7), jnp.float32)


def test_full_orthonormal_basis_reconstructs_exactly():
    A, mean = linear_coding.basis_from_pca(pca.fit(X, 6))
    X_hat = linear_coding.decode(linear_coding.encode(X, A, mean), A, mean)
    np.testing.assert_allclose(X_hat, X, atol=1e-4)
    assert float(linear_coding.reconstruction_error(X, A, mean)) < 1e-8


def test_error_curve_matches_explicit_reconstructions():
    A, mean = linear_coding.basis_from_pca(pca.fit(X, 6))
    curve = np.asarray(linear_coding.error_curve(X, A, mean))
    Xn, An, mn = (np.asarray(a, np.float64) for a in (X, A, mean))
    for m in range(7):
        Am = An[:, :m]
        explicit = np.mean(np.sum(((Xn - mn) - (Xn - mn) @ Am @ Am.T) ** 2, axis=1))
        np.testing.assert_allclose(curve[m], explicit, rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(curve) <= 1e-6)  # more atoms never hurt


def test_without_mean_codes_are_plain_projections():
    A = jnp.eye(6)[:, :2]
    np.testing.assert_allclose(linear_coding.encode(X, A), X[:, :2], atol=0)
    np.testing.assert_allclose(linear_coding.decode(X[:, :2], A)[:, 2:], 0.0, atol=0)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"A must be a \(n_features, n_atoms\) matrix"):
        linear_coding.encode(X, jnp.ones((5, 2)))
    with pytest.raises(ValueError, match="mean must have shape"):
        linear_coding.encode(X, jnp.ones((6, 2)), jnp.ones(5))
    with pytest.raises(ValueError, match="Z must have A's number of atoms"):
        linear_coding.decode(jnp.ones((3, 4)), jnp.ones((6, 2)))
