"""Audit regressions for sparse and linear coding."""

import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.unsupervised import linear_coding, sparse_coding


def test_linear_decode_rejects_non_finite_inputs_like_encode():
    A = jnp.eye(3)
    Z = jnp.ones((2, 3))
    with pytest.raises(ValueError, match="A must be finite"):
        linear_coding.encode(Z, A.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="A must be finite"):
        linear_coding.decode(Z, A.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="Z must be finite"):
        linear_coding.decode(Z.at[1, 2].set(jnp.inf), A)


def test_unused_atom_becomes_zero_without_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4)).astype(np.float32)
    Z = rng.normal(size=(20, 5)).astype(np.float32)
    Z[:, 2] = 0.0
    for unit_norm in (False, True):
        A = np.asarray(sparse_coding.update_dictionary(X, Z, reg=0.1, unit_norm=unit_norm))
        assert np.isfinite(A).all()
        np.testing.assert_array_equal(A[:, 2], 0.0)
