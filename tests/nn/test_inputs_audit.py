"""Regression tests from an audit of inputs and settings the docs do not name.

NaN inputs, numpy scalar hyperparameters, non-numeric hyperparameters, arrays where a tuple of
inputs is expected, 0-d inputs to layers that need an axis.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.nn import Dense, Flatten, activation_layers as layers, activations as act, parallel

KEY = jax.random.key(0)
SPECIALS = jnp.array([jnp.nan, jnp.inf, -jnp.inf, 0.0, 1.0, -1.0, 2.0, -2.0])


def _autograd(f):
    return jax.vmap(jax.grad(f))(SPECIALS)


# --- the analytic and the automatic derivative agree at NaN too ------------------------------


@pytest.mark.parametrize(
    "name, ref",
    [
        ("relu", jax.nn.relu),
        ("hard_tanh", jax.nn.hard_tanh),
        ("leaky_relu", jax.nn.leaky_relu),
        ("elu", jax.nn.elu),
    ],
)
def test_grad_at_nan_matches_jax_nn_and_autodiff(name, ref):
    f, g = act.get(name), act.get_grad(name)
    want = np.asarray(_autograd(ref))
    np.testing.assert_allclose(np.asarray(g(SPECIALS)), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(_autograd(f)), want, rtol=1e-6)
    # the forward value still propagates NaN, as jax.nn
    np.testing.assert_array_equal(np.asarray(f(SPECIALS)), np.asarray(ref(SPECIALS)))


def test_hard_sigmoid_grad_at_nan_matches_jax_nn():
    want = np.asarray(_autograd(jax.nn.hard_sigmoid))
    f = lambda x: act.hard_sigmoid(x, slope=1 / 6)  # noqa: E731
    np.testing.assert_array_equal(np.asarray(_autograd(f)), want)
    np.testing.assert_array_equal(np.asarray(act.hard_sigmoid_grad(SPECIALS, slope=1 / 6)), want)
    assert np.isnan(np.asarray(f(SPECIALS))[0])


def test_maxout_grad_propagates_nan_as_jax_grad():
    x = jnp.array([[jnp.nan, 1.0, 2.0, 3.0, 5.0, 5.0]])
    g = jnp.array([[1.0, 2.0, 4.0]])
    _, vjp = jax.vjp(lambda v: act.maxout(v, 2), x)
    np.testing.assert_array_equal(np.asarray(act.maxout_grad(x, g, 2)), np.asarray(vjp(g)[0]))


# --- hyperparameters: numbers of any kind accepted, non-numbers rejected clearly -------------


@pytest.mark.parametrize(
    "fn, kw",
    [
        (act.leaky_relu, "negative_slope"),
        (act.elu, "alpha"),
        (act.swish, "beta"),
    ],
)
def test_non_numeric_hyperparameter_names_itself(fn, kw):
    for bad in ("a", "float32", None, [0.1]):
        with pytest.raises(TypeError, match=kw):
            fn(jnp.ones(2), **{kw: bad})


@pytest.mark.parametrize(
    "make, kw",
    [
        (layers.LeakyRelu, "negative_slope"),
        (layers.Elu, "alpha"),
        (layers.Swish, "beta"),
        (layers.HardSigmoid, "slope"),
    ],
)
def test_layer_hyperparameter_checked_at_construction(make, kw):
    with pytest.raises((TypeError, ValueError), match=kw):
        make("a")


def test_hard_sigmoid_layer_rejects_zero_slope_at_construction():
    with pytest.raises(ValueError, match="slope"):
        layers.HardSigmoid(0.0)


def test_activation_unknown_keyword_rejected_at_construction():
    with pytest.raises(TypeError, match="foo"):
        layers.Activation("relu", foo=1)


def test_negative_leaky_slope_is_allowed_as_in_jax_nn():
    x = jnp.array([-2.0, 3.0])
    np.testing.assert_array_equal(act.leaky_relu(x, -0.5), jax.nn.leaky_relu(x, -0.5))
    layers.LeakyRelu(-0.5)


def test_prelu_accepts_numpy_and_0d_init_alpha():
    for alpha in (np.float32(0.1), np.float64(0.1), jnp.array(0.1), np.int64(1)):
        _, params, _ = layers.PReLU(alpha).init(KEY, (2, 3))
        np.testing.assert_allclose(params["alpha"], np.full(3, float(alpha)), rtol=1e-6)
    with pytest.raises(TypeError, match="init_alpha"):
        layers.PReLU("a")
    with pytest.raises(TypeError, match="init_alpha"):
        layers.PReLU(True)


def test_gelu_accepts_numpy_bool_approximate():
    x = jnp.linspace(-3, 3, 7)
    np.testing.assert_array_equal(act.gelu(x, np.True_), act.gelu(x, True))
    np.testing.assert_array_equal(act.gelu_grad(x, np.False_), act.gelu_grad(x, False))
    layers.Gelu(np.True_)


def test_maxout_accepts_numpy_integer_axis():
    x = jnp.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(act.maxout(x, 2, axis=np.int64(0)), act.maxout(x, 2, axis=0))


def test_maxout_on_0d_input_says_it_needs_an_axis():
    with pytest.raises(ValueError, match="0-d"):
        act.maxout(jnp.array(1.0), 1)


# --- layers and combinators --------------------------------------------------------------------


def test_dense_numpy_features_gives_python_int_shape():
    out_shape, params, _ = Dense(np.int64(4)).init(KEY, (2, 3))
    assert out_shape == (2, 4)
    assert all(type(d) is int for d in out_shape)
    assert params["w"].shape == (3, 4)


def test_flatten_0d_clear_error():
    with pytest.raises(ValueError, match="Flatten"):
        Flatten().init(KEY, ())
    with pytest.raises(ValueError, match="Flatten"):
        Flatten().apply({}, {}, jnp.array(1.0))


def test_parallel_rejects_a_single_array_for_a_tuple_of_inputs():
    net = parallel(Dense(2), Dense(2))
    _, params, state = net.init(KEY, ((2, 3), (2, 3)))
    # a (2, 3) array would be silently split into its two rows
    with pytest.raises(TypeError, match="tuple"):
        net.apply(params, state, jnp.ones((2, 3)))


def test_parallel_init_needs_one_shape_per_layer():
    net = parallel(Dense(2), Dense(2))
    with pytest.raises(TypeError, match="input shape"):
        net.init(KEY, (2, 3))
