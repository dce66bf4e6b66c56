"""Activation kernels: API, dtypes, errors, jit; derivatives against jax.grad on random floats.

The numerical comparisons on fixed grids (forward vs jax.nn, derivative vs jax.grad, finiteness
at |x| = 1e4) are verification checks in nndl_jax/verify/activations.py, run by
tests/verify/test_registry.py.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from nndl_jax import nn
from nndl_jax.nn import activations as act

ELEMENTWISE = [
    "identity",
    "sigmoid",
    "tanh",
    "hard_sigmoid",
    "hard_tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "swish",
    "silu",
    "gelu",
]

# forward functions of jax.nn (or closed forms) to differentiate with jax.grad
JAX_REFERENCE = {
    "identity": lambda x: x,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "hard_sigmoid": lambda x: jax.nn.hard_sigmoid(1.5 * x),  # slope 1/4 = 1.5 * 1/6
    "hard_tanh": jax.nn.hard_tanh,
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
    "elu": jax.nn.elu,
    "softplus": jax.nn.softplus,
    "swish": jax.nn.swish,
    "silu": jax.nn.silu,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_tanh": functools.partial(jax.nn.gelu, approximate=True),
}


def _ours(name):
    if name == "gelu_tanh":
        return (
            functools.partial(act.gelu, approximate=True),
            functools.partial(act.gelu_grad, approximate=True),
        )
    return act.get(name), act.get_grad(name)


# compiled once per activation, so hypothesis examples never recompile
@functools.cache
def _compiled(name):
    f, f_grad = _ours(name)
    return (
        jax.jit(f_grad),
        jax.jit(jax.vmap(jax.grad(f))),
        jax.jit(jax.vmap(jax.grad(JAX_REFERENCE[name]))),
    )


def test_names_and_registry():
    assert act.names() == sorted(ELEMENTWISE + ["prelu", "maxout"])
    for name in act.names():
        assert act.get(name) is getattr(act, name)
        assert act.get_grad(name) is getattr(act, f"{name}_grad")
    assert act.get(act.relu) is act.relu
    assert act.get_grad(act.relu) is act.relu_grad
    assert act.get_grad(nn.gelu) is act.gelu_grad


def test_registry_helpers_are_not_star_exported():
    assert not {"get", "get_grad", "names"} & set(act.__all__)
    assert nn.activations.get is act.get
    for name in act.__all__:
        assert getattr(nn, name) is getattr(act, name)


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'.*relu.*sigmoid"):
        act.get("rleu")
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'"):
        act.get_grad("rleu")
    with pytest.raises(TypeError, match="name or a callable"):
        act.get(3)
    with pytest.raises(ValueError, match="no analytic derivative"):
        act.get_grad(lambda x: x)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_shape_and_dtype_kept(name, dtype):
    x = jnp.linspace(-3, 3, 24, dtype=dtype).reshape(2, 3, 4)
    for fn in (act.get(name), act.get_grad(name)):
        y = fn(x)
        assert y.shape == x.shape and y.dtype == dtype, (fn.__name__, y.shape, y.dtype)


def test_float64_kept_under_x64():
    with jax.enable_x64(True):
        x = jnp.linspace(-3, 3, 7, dtype=jnp.float64)
        for name in ELEMENTWISE:
            assert act.get(name)(x).dtype == jnp.float64, name
            assert act.get_grad(name)(x).dtype == jnp.float64, name
        assert act.prelu(x, jnp.float64(0.1)).dtype == jnp.float64
        assert act.maxout(x[:6], 2).dtype == jnp.float64


def test_integer_input_is_promoted_to_float():
    y = act.sigmoid(jnp.arange(-2, 3))
    assert jnp.issubdtype(y.dtype, jnp.floating)
    np.testing.assert_allclose(y, jax.nn.sigmoid(jnp.arange(-2.0, 3.0)), atol=1e-7)
    assert act.relu_grad(jnp.array([-1, 0, 2])).tolist() == [0.0, 0.0, 1.0]


def test_values_at_kinks_follow_jax_grad():
    zero = jnp.zeros(())
    assert act.relu_grad(zero) == 0.0 == jax.grad(jax.nn.relu)(0.0)
    assert act.leaky_relu_grad(zero) == 1.0 == jax.grad(jax.nn.leaky_relu)(0.0)
    assert act.elu_grad(zero, alpha=0.5) == 0.5 == jax.grad(jax.nn.elu)(0.0, 0.5)
    assert act.hard_tanh_grad(jnp.array([-1.0, 1.0])).tolist() == [1.0, 1.0]
    assert act.hard_sigmoid_grad(jnp.array([-2.0, 2.0])).tolist() == [0.0, 0.0]
    assert act.hard_sigmoid_grad(jnp.array([-3.0, 3.0]), slope=1 / 6).tolist() == [0.0, 0.0]


def test_book_hard_sigmoid_and_jax_form():
    x = jnp.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.5])
    np.testing.assert_allclose(act.hard_sigmoid(x), [0.0, 0.0, 0.25, 0.5, 0.75, 1.0], atol=0)
    np.testing.assert_allclose(
        act.hard_sigmoid(x, slope=1 / 6), jax.nn.hard_sigmoid(x), atol=1e-7, rtol=0
    )
    with pytest.raises(ValueError, match="slope must be a finite number > 0, got -1"):
        act.hard_sigmoid(x, slope=-1)


def test_softplus_and_sigmoid_are_exact_far_out():
    x = jnp.array([-1e4, -100.0, 100.0, 1e4])
    np.testing.assert_array_equal(act.softplus(x), [0.0, 0.0, 100.0, 1e4])
    assert act.sigmoid(jnp.float32(-30.0)) == pytest.approx(9.357623e-14, rel=1e-5)


def test_gelu_default_is_exact_and_approximate_is_checked():
    x = jnp.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_allclose(act.gelu(x), jax.nn.gelu(x, approximate=False), atol=1e-6)
    assert not np.allclose(act.gelu(x), jax.nn.gelu(x, approximate=True), atol=1e-6)
    with pytest.raises(TypeError, match="approximate must be True or False, got 'tanh'"):
        act.gelu(x, approximate="tanh")


def test_prelu_per_feature_and_errors():
    x = jnp.array([[-2.0, -2.0, 3.0], [1.0, -4.0, -1.0]])
    alpha = jnp.array([0.1, 0.5, 2.0])
    expected = np.array([[-0.2, -1.0, 3.0], [1.0, -2.0, -2.0]])
    np.testing.assert_allclose(act.prelu(x, alpha), expected, atol=1e-7)
    np.testing.assert_allclose(act.prelu_grad(x, alpha), [[0.1, 0.5, 1], [1, 0.5, 2.0]], atol=0)
    np.testing.assert_allclose(act.prelu_grad_alpha(x, alpha), [[-2, -2, 0], [0, -4, -1]], atol=0)
    # the loss gradient wrt a broadcast alpha is the elementwise derivative summed over the batch
    g = jax.grad(lambda a: act.prelu(x, a).sum())(alpha)
    np.testing.assert_allclose(g, act.prelu_grad_alpha(x, alpha).sum(0), atol=1e-7)
    with pytest.raises(ValueError, match=r"alpha\.shape=\(4,\) and x\.shape=\(2, 3\)"):
        act.prelu(x, jnp.ones(4))
    with pytest.raises(ValueError, match="without enlarging"):
        act.prelu(x, jnp.ones((5, 1, 3)))


def test_maxout_groups_consecutive_features():
    x = jnp.array([[1.0, 5.0, 2.0, -1.0, -3.0, -2.0]])
    np.testing.assert_array_equal(act.maxout(x, 3), [[5.0, -1.0]])
    np.testing.assert_array_equal(act.maxout(x, 2), [[5.0, 2.0, -2.0]])
    np.testing.assert_array_equal(act.maxout(x.T, 3, axis=0), [[5.0], [-1.0]])
    assert act.maxout(jnp.zeros((2, 6, 5)), 3, axis=1).shape == (2, 2, 5)


def test_maxout_errors_name_both_sizes():
    with pytest.raises(ValueError, match=r"x\.shape\[1\]=7.*not divisible by num_pieces=3"):
        act.maxout(jnp.zeros((2, 7)), 3)
    with pytest.raises(ValueError, match="num_pieces must be a positive integer, got 0"):
        act.maxout(jnp.zeros((2, 6)), 0)
    with pytest.raises(ValueError, match="num_pieces must be a positive integer, got 2.0"):
        act.maxout(jnp.zeros((2, 6)), 2.0)
    with pytest.raises(ValueError, match=r"axis must be an integer in \[-2, 2\), got 2"):
        act.maxout(jnp.zeros((2, 6)), 2, axis=2)
    with pytest.raises(ValueError, match=r"g must have maxout's output shape \(2, 3\)"):
        act.maxout_grad(jnp.zeros((2, 6)), jnp.zeros((2, 6)), 2)


def test_maxout_grad_routes_and_splits_ties():
    x = jnp.array([[1.0, 5.0, 2.0, 4.0, 4.0, -2.0]])
    g = jnp.array([[10.0, 6.0]])
    np.testing.assert_allclose(act.maxout_grad(x, g, 3), [[0, 10, 0, 3, 3, 0]], atol=0)
    _, vjp = jax.vjp(lambda v: act.maxout(v, 3), x)
    np.testing.assert_allclose(act.maxout_grad(x, g, 3), vjp(g)[0], atol=1e-7)


def test_everything_jits():
    x = jnp.linspace(-3, 3, 24, dtype=jnp.float32).reshape(2, 3, 4)  # as in the dtype test
    fns = [f for name in ELEMENTWISE for f in (act.get(name), act.get_grad(name))]
    # one program for all of them: a compile per function would dominate the test's time
    jitted = jax.jit(lambda v: [f(v) for f in fns])(x)
    for f, y in zip(fns, jitted, strict=True):
        np.testing.assert_allclose(y, f(x), atol=1e-6, err_msg=f.__name__)
    np.testing.assert_allclose(jax.jit(act.prelu)(x, jnp.full(4, 0.2)), act.prelu(x, 0.2), atol=0)
    maxout = jax.jit(act.maxout, static_argnums=(1,))
    np.testing.assert_array_equal(maxout(x, 2), act.maxout(x, 2))
    # hyperparameters may be traced (e.g. vmapped over a sweep)
    slopes = jnp.array([0.0, 0.1, 0.2])
    y = jax.vmap(lambda s: act.leaky_relu(x, s))(slopes)
    np.testing.assert_allclose(y[2], act.leaky_relu(x, 0.2), atol=0)
    np.testing.assert_allclose(
        jax.jit(act.hard_sigmoid)(x, jnp.float32(0.25)), act.hard_sigmoid(x), atol=1e-7
    )


FLOATS = hnp.arrays(
    np.float32,
    (16,),
    elements=st.floats(-30, 30, width=32, allow_subnormal=False)
    | st.sampled_from([0.0, -1.0, 1.0, -2.0, 2.0, -1e4, 1e4]),
)


@pytest.mark.parametrize("name", ELEMENTWISE + ["gelu_tanh"])
@settings(max_examples=25, deadline=None)
@given(x=FLOATS)
def test_derivative_matches_jax_grad_on_random_floats(name, x):
    analytic, autodiff_ours, autodiff_reference = _compiled(name)
    d = analytic(x)
    np.testing.assert_allclose(d, autodiff_ours(x), atol=2e-6, rtol=0)
    np.testing.assert_allclose(d, autodiff_reference(x), atol=2e-6, rtol=0)


SECOND_ORDER_REFERENCES = {
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "tanh": jnp.tanh,
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER_REFERENCES))
def test_second_derivatives_match_jax_nn_in_forward_and_reverse_mode(name):
    # MAML-style grad of grad, also at the kinks of the stable forms (x = 0) and at |x| = 1e4
    f, ref = act.get(name), SECOND_ORDER_REFERENCES[name]
    x = jnp.array([-1e4, -20.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 20.0, 1e4])
    want = jax.vmap(jax.grad(jax.grad(ref)))(x)
    for got in (jax.vmap(jax.grad(jax.grad(f)))(x), jax.vmap(jax.jacfwd(jax.jacfwd(f)))(x)):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
