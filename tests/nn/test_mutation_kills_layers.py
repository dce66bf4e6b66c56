"""Layer-level tests added by a mutation-testing audit: each pins a behaviour of the layer
protocol (init(key, input_shape) -> (output_shape, params, state); apply(params, state, x, *,
key=None, train=False) -> (y, new_state)) that a small source change altered unnoticed.
References are NumPy closed forms or the documented contract restated here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import nn

KEY = jax.random.key(0)


def _counter():
    """A stateful layer: counts its calls in state and adds 1 to x in training, else 0."""

    def init(key, input_shape):
        del key
        return tuple(input_shape), {}, {"n": jnp.zeros((), jnp.int32)}

    def apply(params, state, x, *, key=None, train=False):
        del params, key
        return x + (1.0 if train else 0.0), {"n": state["n"] + 1}

    return nn.Layer(init, apply)


def test_dense_keeps_leading_axes_in_its_output_shape():
    """Dense maps (..., d_in) to (..., features): init's shape agrees with apply's."""
    layer = nn.Dense(3)
    out_shape, params, state = layer.init(KEY, (-1, 5, 4))
    assert out_shape == (-1, 5, 3)
    y, _ = layer.apply(params, state, jnp.ones((2, 5, 4)))
    assert y.shape == (2, 5, 3)


def test_dense_apply_adds_the_bias():
    """apply is x @ w + b with a nonzero bias (NumPy closed form)."""
    layer = nn.Dense(3, b_init=lambda k, s, dt: jnp.arange(1.0, 4.0, dtype=dt))
    _, params, state = layer.init(KEY, (-1, 2))
    x = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    y, _ = layer.apply(params, state, jnp.asarray(x))
    want = x @ np.asarray(params["w"]) + np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(y, want, rtol=1e-6)


def test_dense_rejects_an_empty_last_dimension():
    """Dense needs a known, positive last input dimension."""
    for shape in ((-1, 0), (4, -1)):
        with pytest.raises(ValueError, match="known last input dimension"):
            nn.Dense(3).init(KEY, shape)


def test_dropout_in_eval_mode_is_identity_even_with_a_key():
    """train=False is the identity whether or not a key is passed."""
    layer = nn.Dropout(0.5)
    _, params, state = layer.init(KEY, (-1, 64))
    x = jnp.arange(1.0, 65.0).reshape(1, 64)
    y, _ = layer.apply(params, state, x, key=KEY, train=False)
    np.testing.assert_array_equal(y, x)


def test_dropout_layer_missing_key_message_names_apply():
    """The layer's own error tells how to call apply in training."""
    layer = nn.Dropout(0.5)
    with pytest.raises(ValueError, match=r"apply\(.*key=.*train=True"):
        layer.apply({}, {}, jnp.ones((2, 3)), train=True)


def test_serial_returns_each_childs_new_state_in_order():
    """serial's new state is the list of the children's new states, not the old ones."""
    net = nn.serial(_counter(), nn.Relu(), _counter())
    _, params, state = net.init(KEY, (-1, 2))
    _, state = net.apply(params, state, jnp.ones((1, 2)))
    _, state = net.apply(params, state, jnp.ones((1, 2)))
    assert [int(s["n"]) for s in (state[0], state[2])] == [2, 2]
    assert state[1] == {}


def test_parallel_returns_a_tuple_and_each_childs_new_state():
    """parallel returns a tuple of outputs and the children's new states, in order."""
    net = nn.parallel(_counter(), nn.Dense(2))
    shapes, params, state = net.init(KEY, ((-1, 3), (-1, 4)))
    assert isinstance(shapes, tuple)
    ys, state = net.apply(params, state, (jnp.ones((1, 3)), jnp.ones((1, 4))), train=True)
    assert isinstance(ys, tuple) and len(ys) == 2
    np.testing.assert_array_equal(ys[0], 2.0 * jnp.ones((1, 3)))
    assert int(state[0]["n"]) == 1 and state[1] == {}


def test_residual_returns_the_new_states_of_body_and_shortcut():
    """residual's state is {"body": body's new state, "shortcut": shortcut's new state}."""
    net = nn.residual(_counter(), shortcut=_counter())
    _, params, state = net.init(KEY, (-1, 2))
    y, state = net.apply(params, state, jnp.ones((1, 2)), train=True)
    np.testing.assert_array_equal(y, 4.0 * jnp.ones((1, 2)))  # (x + 1) + (x + 1), x = 1
    assert int(state["body"][0]["n"]) == 1 and int(state["shortcut"]["n"]) == 1
