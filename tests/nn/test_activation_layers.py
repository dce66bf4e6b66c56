"""Activation layers: the layer protocol, PReLU's parameters, Maxout as dense + maxout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import nn
from nndl_jax.nn import activation_layers as layers, activations as act

KEY = jax.random.key(0)
X = jnp.linspace(-3, 3, 24, dtype=jnp.float32).reshape(2, 3, 4)

CONSTRUCTORS = [
    (layers.Sigmoid(), act.sigmoid),
    (layers.Tanh(), act.tanh),
    (layers.HardSigmoid(), act.hard_sigmoid),
    (layers.HardSigmoid(slope=1 / 6), lambda x: act.hard_sigmoid(x, slope=1 / 6)),
    (layers.HardTanh(), act.hard_tanh),
    (layers.Relu(), act.relu),
    (layers.LeakyRelu(0.2), lambda x: act.leaky_relu(x, 0.2)),
    (layers.Elu(), act.elu),
    (layers.Softplus(), act.softplus),
    (layers.Swish(beta=2.0), lambda x: act.swish(x, 2.0)),
    (layers.Gelu(), act.gelu),
    (layers.Gelu(approximate=True), lambda x: act.gelu(x, approximate=True)),
    (layers.Activation("leaky_relu", negative_slope=0.3), lambda x: act.leaky_relu(x, 0.3)),
    (layers.Activation(jnp.sin), jnp.sin),
]


@pytest.mark.parametrize("index", range(len(CONSTRUCTORS)))
def test_elementwise_layers_follow_the_protocol(index):
    layer, fn = CONSTRUCTORS[index]
    assert isinstance(layer, nn.Layer)
    out_shape, params, state = layer.init(KEY, (-1, 3, 4))
    assert out_shape == (-1, 3, 4) and params == {} and state == {}
    y, new_state = layer.apply(params, state, X)
    assert new_state == {}
    np.testing.assert_allclose(y, fn(X), atol=0)
    y_train, _ = layer.apply(params, state, X, key=KEY, train=True)
    np.testing.assert_allclose(y_train, y, atol=0)


def test_activation_rejects_bad_names():
    with pytest.raises(ValueError, match=r"unknown activation 'relu6'.*relu"):
        layers.Activation("relu6")
    with pytest.raises(ValueError, match="use PReLU"):
        layers.Activation("prelu")
    with pytest.raises(ValueError, match="use Maxout"):
        layers.Activation("maxout")
    with pytest.raises(TypeError, match="approximate must be True or False"):
        layers.Gelu(approximate=1)


def test_prelu_params_and_gradient():
    layer = layers.PReLU()
    out_shape, params, state = layer.init(KEY, (-1, 3, 4))
    assert out_shape == (-1, 3, 4) and state == {}
    assert set(params) == {"alpha"}
    np.testing.assert_array_equal(params["alpha"], np.full(4, 0.25, np.float32))
    params = {"alpha": jnp.array([0.0, 0.1, 0.2, 0.3])}
    y, _ = layer.apply(params, state, X)
    np.testing.assert_allclose(y, act.prelu(X, params["alpha"]), atol=0)

    def loss(p):
        return jnp.sum(layer.apply(p, state, X)[0] ** 2)

    # d/d alpha_j sum(y^2) = sum over the other axes of 2 y * df/dalpha
    expected = jnp.sum(2 * y * act.prelu_grad_alpha(X, params["alpha"]), axis=(0, 1))
    np.testing.assert_allclose(jax.grad(loss)(params)["alpha"], expected, atol=1e-5)
    assert layers.PReLU(init_alpha=0.0).init(KEY, (5, 2))[1]["alpha"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"known last input dimension, got input_shape=\(\)"):
        layer.init(KEY, ())
    with pytest.raises(TypeError, match="init_alpha must be a number"):
        layers.PReLU(init_alpha="0.25")


def test_maxout_is_dense_then_maxout():
    layer = layers.Maxout(features=3, num_pieces=2)
    out_shape, params, state = layer.init(KEY, (-1, 5))
    assert out_shape == (-1, 3) and state == {}
    assert params["w"].shape == (5, 6) and params["b"].shape == (6,)
    np.testing.assert_array_equal(params["b"], np.zeros(6))
    x = jax.random.normal(jax.random.key(1), (4, 5))
    params = {"w": params["w"], "b": jnp.arange(6.0) / 10}
    y, _ = layer.apply(params, state, x)
    z = np.asarray(x) @ np.asarray(params["w"]) + np.asarray(params["b"])
    # unit k is the max over columns 2k and 2k+1
    np.testing.assert_allclose(y, np.maximum(z[:, 0::2], z[:, 1::2]), atol=1e-6)


def test_maxout_validates():
    with pytest.raises(ValueError, match="features must be a positive integer, got 0"):
        layers.Maxout(0, 2)
    with pytest.raises(ValueError, match="num_pieces must be a positive integer, got 1.5"):
        layers.Maxout(3, 1.5)
    with pytest.raises(ValueError, match="unknown initializer"):
        layers.Maxout(3, 2, w_init="nope")
    with pytest.raises(ValueError, match="Maxout needs a known last input dimension"):
        layers.Maxout(3, 2).init(KEY, (4, 0))


def test_in_a_network_under_jit():
    net = nn.serial(nn.Dense(6), layers.PReLU(), layers.Maxout(2, 3), layers.Gelu())
    out_shape, params, state = net.init(KEY, (-1, 4))
    assert out_shape == (-1, 2)
    x = jnp.ones((5, 4))
    y, _ = jax.jit(net.apply)(params, state, x)
    assert y.shape == (5, 2) and y.dtype == jnp.float32
    np.testing.assert_allclose(y, net.apply(params, state, x)[0], atol=1e-6)
    grads = jax.grad(lambda p: jnp.sum(net.apply(p, state, x)[0]))(params)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
