"""PCA: agreement with a float64 NumPy eigendecomposition, round trips, whitening, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.unsupervised import pca

RNG = np.random.default_rng(0)
# Five features with clearly separated variances, so every component is well defined.
X = (RNG.normal(size=(60, 5)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5])) @ np.linalg.qr(
    RNG.normal(size=(5, 5))
)[0] + 3.0
X32 = jnp.asarray(X, jnp.float32)


def _reference(X, k):
    cov = np.cov(X, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order].T, values.sum()


@pytest.mark.parametrize("method", ["eigh", "svd"])
def test_matches_numpy_eigendecomposition(method):
    model = pca.fit(X32, 3, method=method)
    values, vectors, total = _reference(X, 3)
    comps = np.asarray(model.components, np.float64)
    signs = np.sign(np.sum(comps * vectors, axis=1, keepdims=True))
    np.testing.assert_allclose(comps * signs, vectors, atol=1e-5)
    np.testing.assert_allclose(model.explained_variance, values, rtol=1e-5, atol=0)
    np.testing.assert_allclose(model.explained_variance_ratio, values / total, rtol=1e-5, atol=0)
    np.testing.assert_allclose(model.mean, X.mean(0), rtol=1e-6, atol=1e-6)


def test_sign_convention_largest_entry_positive():
    comps = np.asarray(pca.fit(X32, 4).components)
    biggest = comps[np.arange(4), np.argmax(np.abs(comps), axis=1)]
    assert np.all(biggest > 0)


def test_full_rank_round_trip_and_projection():
    full = pca.fit(X32, 5)
    np.testing.assert_allclose(
        pca.inverse_transform(full, pca.transform(full, X32)), X32, atol=1e-4
    )
    # With k < d the reconstruction is the orthogonal projection: residual ⟂ components.
    part = pca.fit(X32, 2)
    residual = np.asarray(X32 - pca.inverse_transform(part, pca.transform(part, X32)))
    np.testing.assert_allclose(residual @ np.asarray(part.components).T, 0.0, atol=1e-4)


def test_whitening_gives_identity_covariance_and_inverts():
    model = pca.fit(X32, 3, whiten=True)
    Z = np.asarray(pca.transform(model, X32), np.float64)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(3), atol=1e-5)
    full = pca.fit(X32, 5, whiten=True)
    np.testing.assert_allclose(
        pca.inverse_transform(full, pca.transform(full, X32)), X32, atol=1e-4
    )


def test_model_is_a_pytree_through_jit_and_vmap():
    model = pca.fit(X32, 2)
    leaves, treedef = jax.tree_util.tree_flatten(model)
    assert len(leaves) == 4  # whiten is static metadata
    Z = jax.jit(pca.transform)(model, X32)
    np.testing.assert_allclose(Z, pca.transform(model, X32), atol=1e-5)
    fitted = jax.jit(lambda X: pca.fit(X, 2).explained_variance)(X32)
    np.testing.assert_allclose(fitted, model.explained_variance, rtol=1e-5, atol=0)
    batch = jnp.stack([X32, 2.0 * X32])
    variances = jax.vmap(lambda X: pca.fit(X, 2).explained_variance)(batch)
    np.testing.assert_allclose(variances[1], 4.0 * variances[0], rtol=1e-5, atol=0)


def test_float64_under_x64():
    with jax.enable_x64(True):
        model = pca.fit(jnp.asarray(X, jnp.float64), 2)
        assert model.components.dtype == jnp.float64
        values, _, _ = _reference(X, 2)
        np.testing.assert_allclose(model.explained_variance, values, rtol=1e-12, atol=0)


def test_integer_input_is_promoted():
    X_int = np.round(X).astype(np.int32)
    model = pca.fit(X_int, 2)
    assert jnp.issubdtype(model.components.dtype, jnp.floating)
    # The same fit as on the float conversion of the same integers, and the right values.
    expected = pca.fit(jnp.asarray(X_int, model.components.dtype), 2)
    for got, want in zip(jax.tree.leaves(model), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    values, _, _ = _reference(X_int.astype(np.float64), 2)
    np.testing.assert_allclose(model.explained_variance, values, rtol=1e-5, atol=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_components": 6}, r"n_components=6 is larger than min\(n_samples, n_features\)"),
        ({"n_components": 0}, "n_components must be a positive integer"),
        ({"n_components": 2, "method": "qr"}, "method must be one of"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pca.fit(X32, **kwargs)


def test_bad_data():
    bad = np.array(X)
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite.*\(7, 2\)"):
        pca.fit(bad, 2)
    bad[7, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        pca.fit(bad, 2)
    with pytest.raises(ValueError, match="2-D"):
        pca.fit(X[0], 1)
    with pytest.raises(ValueError, match="at least 2 samples"):
        pca.fit(X[:1], 1)
    with pytest.raises(TypeError, match="whiten must be a bool"):
        pca.fit(X32, 2, whiten="yes")
    with pytest.raises(ValueError, match="X must have 5 columns"):
        pca.transform(pca.fit(X32, 2), X32[:, :3])
    with pytest.raises(ValueError, match="Z must have 2 columns"):
        pca.inverse_transform(pca.fit(X32, 2), X32)
