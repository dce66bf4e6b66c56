"""Inputs the main tests do not name: half precision, 0-d array parameters, tol = 0, a collapsing
mixture, NaN in the secondary arrays, ragged rows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.neighbors import KernelDensity

from nndl_jax.unsupervised import gmm, kde, kmeans, linear_coding, pca, sparse_coding

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
BLOBS = np.r_[
    RNG.normal(size=(20, 2)), RNG.normal(size=(20, 2)) + 20, RNG.normal(size=(20, 2)) - 20
]


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_data_is_computed_in_float32(dtype):
    Xh = jnp.asarray(X, dtype)
    X32 = np.asarray(Xh.astype(jnp.float32))  # the same (rounded) values
    model = pca.fit(Xh, 2)
    assert model.components.dtype == jnp.float32
    np.testing.assert_allclose(model.explained_variance, pca.fit(X32, 2).explained_variance,
                               rtol=1e-6)  # fmt: skip
    ours = kde.score_samples(Xh, Xh[:5], 0.5)
    ref = KernelDensity(bandwidth=0.5).fit(X32).score_samples(X32[:5])
    assert ours.dtype == jnp.float32
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert gmm.fit(jax.random.key(0), Xh, 2).means.dtype == jnp.float32


def test_zero_d_array_parameters_equal_python_floats():
    for make in (np.asarray, jnp.asarray):
        np.testing.assert_array_equal(kde.score_samples(X, X[:3], make(0.5)),
                                      kde.score_samples(X, X[:3], 0.5))  # fmt: skip
        A = jnp.asarray(RNG.normal(size=(3, 4)))
        np.testing.assert_array_equal(sparse_coding.encode(X, A, lam=make(0.1)),
                                      sparse_coding.encode(X, A, lam=0.1))  # fmt: skip


def test_kmeans_with_tol_zero_stops_when_the_labels_settle():
    model = kmeans.fit(jax.random.key(0), BLOBS, 3, tol=0.0, max_iter=300)
    reference = KMeans(3, n_init=1, tol=0.0, random_state=0).fit(BLOBS)
    assert int(model.n_iter) < 20, int(model.n_iter)
    assert float(model.inertia) == pytest.approx(reference.inertia_, rel=1e-5)


def test_a_collapsing_mixture_is_an_error_not_a_nan_model():
    repeated = np.array([[0.0, 0.0]] * 5 + [[1, 1], [2, 3], [3, 1], [2, 2]])
    for covariance in ("full", "diag"):
        with pytest.raises(ValueError, match=r"EM broke down.*Increase reg_covar \(got 0.0\)"):
            gmm.fit(jax.random.key(0), repeated, 2, covariance=covariance, reg_covar=0.0)
    # the default regularisation fits the same data
    assert np.isfinite(float(gmm.fit(jax.random.key(0), repeated, 2).log_likelihood))


def _nan(shape):
    out = np.zeros(shape)
    out[0, 0] = np.nan
    return out


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: sparse_coding.encode(X, np.eye(3), lam=0.1, init=_nan((40, 3))), "init"),
        (
            lambda: sparse_coding.learn(
                jax.random.key(0), X, 2, lam=0.1, reg=1.0, init=_nan((3, 2))
            ),
            "init",
        ),  # fmt: skip
        (lambda: sparse_coding.update_dictionary(X, _nan((40, 2)), reg=1.0), "Z"),
        (lambda: linear_coding.encode(X, _nan((3, 2))), "A"),
        (lambda: linear_coding.encode(X, np.eye(3), np.full(3, np.inf)), "mean"),
    ],
)
def test_nan_in_secondary_arrays_is_named(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be finite"):
        call()


def test_ragged_rows_are_named():
    with pytest.raises((TypeError, ValueError), match=r"^X must be"):
        pca.fit([[1.0, 2.0], [3.0]], 1)
