"""Initializers: API, shapes, dtypes, fans, bounds and errors.

Variances (statistically), equality with jax.nn.initializers for the same key and the
orthogonality of `orthogonal` are verification checks in nndl_jax/verify/initializers.py, run
by tests/verify/test_registry.py.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import nn
from nndl_jax.nn import initializers as init

KEY = jax.random.key(0)
RANDOM = [
    "uniform",
    "normal",
    "lecun_uniform",
    "lecun_normal",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
]
# One shape almost everywhere: every new (shape, dtype) compiles the sampler again, and that
# compile time, not the sampling, is what these tests would otherwise spend.
SHAPE = (3, 3, 4, 8)  # fans (36, 72); 288 entries


def test_names_get_and_aliases():
    assert set(init.names()) == set(RANDOM) | {
        "zeros",
        "ones",
        "glorot_uniform",
        "glorot_normal",
        "kaiming_uniform",
        "kaiming_normal",
    }
    assert init.get("he_normal") is init.he_normal
    assert init.get("kaiming_normal") is init.he_normal is init.kaiming_normal
    assert init.glorot_uniform is init.xavier_uniform
    custom = init.constant(0.5)
    assert init.get(custom) is custom
    with pytest.raises(ValueError, match=r"unknown initializer 'he'.*he_normal.*zeros"):
        init.get("he")
    with pytest.raises(TypeError, match="name or a callable, got 0.1"):
        init.get(0.1)


@pytest.mark.parametrize("name", RANDOM)
def test_random_shapes_dtypes_and_determinism(name):
    fn = init.get(name)
    w = fn(KEY, SHAPE)
    assert w.shape == SHAPE and w.dtype == jnp.float32
    np.testing.assert_array_equal(w, fn(KEY, SHAPE, jnp.float32))
    assert not np.array_equal(w, fn(jax.random.key(1), SHAPE))
    assert fn(KEY, SHAPE, jnp.bfloat16).dtype == jnp.bfloat16
    with pytest.raises(TypeError, match="floating dtype, got dtype=int32"):
        fn(KEY, SHAPE, jnp.int32)


def test_float64_under_x64():
    with jax.enable_x64(True):
        # the truncated normal and the QR, the samplers with the most dtype-dependent code
        for name in ["he_normal", "orthogonal", "zeros"]:
            assert init.get(name)(KEY, SHAPE, jnp.float64).dtype == jnp.float64, name


def test_constants():
    np.testing.assert_array_equal(init.zeros(KEY, (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones(None, 4), np.ones(4))
    w = init.constant(0.25)(KEY, (2, 2), jnp.bfloat16)
    assert w.dtype == jnp.bfloat16 and w.tolist() == [[0.25, 0.25], [0.25, 0.25]]
    assert init.zeros(KEY, (3,), jnp.int32).dtype == jnp.int32
    with pytest.raises(TypeError, match="scalar number"):
        init.constant(jnp.ones(3))


def test_fans_dense_and_conv():
    assert init.compute_fans((3, 5)) == (3, 5)
    assert init.compute_fans((3, 3, 4, 8)) == (36, 72)
    assert init.compute_fans((5, 4, 8)) == (20, 40)
    with pytest.raises(ValueError, match=r"got shape=\(7,\).*zeros or constant"):
        init.compute_fans((7,))
    with pytest.raises(ValueError, match=r"got shape=\(7,\)"):
        init.he_normal(KEY, (7,))


def test_bad_shapes():
    with pytest.raises(TypeError, match="shape must be a tuple of ints, got shape=2.5"):
        init.zeros(KEY, 2.5)
    with pytest.raises(TypeError, match="shape must be a tuple of ints"):
        init.he_normal(KEY, (3.0, 4))
    with pytest.raises(ValueError, match=r"non-negative dimensions, got shape=\(3, -1\)"):
        init.normal()(KEY, (3, -1))


def test_uniform_bounds_and_errors():
    w = init.uniform(0.5)(KEY, SHAPE)
    assert -0.5 <= float(w.min()) < -0.4 and 0.4 < float(w.max()) < 0.5
    w = init.uniform((1.0, 3.0))(KEY, SHAPE)
    # 288 draws fill the interval: the extremes lie within 0.1 of its ends
    lo, hi = float(w.min()), float(w.max())
    assert lo >= 1.0 and lo < 1.1 and hi > 2.9 and hi < 3.0
    with pytest.raises(ValueError, match="scale must be a finite number > 0, got 0"):
        init.uniform(0)
    with pytest.raises(ValueError, match=r"low < high, got \(low, high\)=\(3, 1\)"):
        init.uniform((3, 1))
    with pytest.raises(ValueError, match="number or \\(low, high\\)"):
        init.uniform((1, 2, 3))
    with pytest.raises(ValueError, match="stddev must be a finite number > 0, got -1"):
        init.normal(-1)


def test_uniform_half_width_follows_fans():
    # Xavier: r = sqrt(6 / (fan_in + fan_out)); He: r = sqrt(6 / fan_in)
    r_xavier, r_he = math.sqrt(6 / (36 + 72)), math.sqrt(6 / 36)
    assert 0.95 * r_xavier < float(jnp.abs(init.xavier_uniform(KEY, SHAPE)).max()) <= r_xavier
    assert 0.95 * r_he < float(jnp.abs(init.he_uniform(KEY, SHAPE)).max()) <= r_he


def test_truncated_normal_bound_and_untruncated_variant():
    sigma = math.sqrt(2 / 36)
    bound = 2 * sigma / init.TRUNCATED_NORMAL_STDDEV
    assert float(jnp.abs(init.he_normal(KEY, SHAPE)).max()) <= bound * (1 + 1e-6)
    plain = init.variance_scaling(2.0, "fan_in", "normal")(KEY, SHAPE)
    np.testing.assert_allclose(plain, sigma * jax.random.normal(KEY, SHAPE), atol=1e-7, rtol=0)
    assert init.TRUNCATED_NORMAL_STDDEV == pytest.approx(0.87962566103423978, abs=1e-15)


def test_variance_scaling_validates():
    with pytest.raises(ValueError, match="mode must be one of"):
        init.variance_scaling(1.0, "fan_sum", "normal")
    with pytest.raises(ValueError, match="distribution must be one of"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="scale must be a finite number > 0, got 0"):
        init.variance_scaling(0, "fan_in", "normal")
    w = init.variance_scaling(1.0, "fan_out", "uniform")(KEY, SHAPE)
    assert 0.9 * math.sqrt(3 / 72) < float(jnp.abs(w).max()) <= math.sqrt(3 / 72)


def test_orthogonal_shapes_scale_and_errors():
    w = init.orthogonal(2.0)(KEY, SHAPE).reshape(36, 8)
    np.testing.assert_allclose(w.T @ w, 4 * np.eye(8), atol=1e-5)
    w = init.orthogonal()(KEY, (8, 36))  # draws the same (36, 8) matrix, transposed
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-5)
    w = init.orthogonal()(KEY, SHAPE, jnp.bfloat16)
    assert w.shape == SHAPE and w.dtype == jnp.bfloat16
    assert init.orthogonal()(KEY, (0, 3)).shape == (0, 3)
    with pytest.raises(ValueError, match=r"2 or more dimensions, got shape=\(5,\)"):
        init.orthogonal()(KEY, (5,))
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        init.orthogonal(-1.0)


def test_jit_of_vmap_over_keys():
    keys = jax.random.split(KEY, 3)
    ws = jax.jit(jax.vmap(lambda k: init.he_normal(k, SHAPE)))(keys)
    assert ws.shape == (3, *SHAPE)
    np.testing.assert_allclose(ws[1], init.he_normal(keys[1], SHAPE), atol=1e-7)


def test_dense_accepts_names_and_callables():
    _, params, _ = nn.Dense(5, w_init="he_uniform", b_init=init.constant(0.1)).init(KEY, (-1, 6))
    assert params["w"].shape == (6, 5)
    assert float(jnp.abs(params["w"]).max()) <= 1.0  # sqrt(6 / 6)
    np.testing.assert_allclose(params["b"], np.full(5, 0.1), atol=1e-7)
    with pytest.raises(ValueError, match="unknown initializer 'he_norml'"):
        nn.Dense(5, w_init="he_norml")
