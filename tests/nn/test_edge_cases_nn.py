"""Inputs the main tests do not name: NaN, huge values, small integer label types, traced
hyperparameters, empty batches, NumPy scalars, and arguments that are not layers."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.metrics import f1_score

from nndl_jax import losses, metrics, nn
from nndl_jax.nn import activations, initializers
from nndl_jax.nn.dropout import dropout


def test_relu_passes_nan_through_and_keeps_a_zero_derivative_at_zero():
    x = jnp.array([jnp.nan, -1.0, 0.0, 2.0])
    np.testing.assert_array_equal(activations.relu(x), jax.nn.relu(x))
    assert float(jax.grad(activations.relu)(0.0)) == 0.0


@pytest.mark.parametrize("dtype, big", [(jnp.float16, 1e4), (jnp.float32, 1e20)])
def test_tanh_gelu_derivative_is_finite_far_out(dtype, big):
    x = jnp.array([big, -big], dtype)
    expected = np.array([1.0, 0.0])
    np.testing.assert_array_equal(activations.gelu_grad(x, approximate=True), expected)
    grad = jax.vmap(jax.grad(lambda v: activations.gelu(v, approximate=True)))(x)
    np.testing.assert_array_equal(grad, expected)
    # and nothing changes where the approximation is not saturated
    x = jnp.linspace(-12, 12, 97)
    np.testing.assert_allclose(activations.gelu(x, approximate=True),
                               jax.nn.gelu(x, approximate=True), atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16])
def test_metrics_on_small_integer_label_types(dtype):
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 20, 400), rng.integers(0, 20, 400)
    ours = metrics.f1(y.astype(dtype), p.astype(dtype), average="macro", num_classes=20)
    assert float(ours) == pytest.approx(f1_score(y, p, average="macro"), abs=1e-6)


def test_pos_label_none_is_ignored_outside_binary():
    y, p = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    got = metrics.precision(y, p, average="macro", pos_label=None)
    assert float(got) == pytest.approx(float(metrics.precision(y, p, average="macro")))


def test_label_smoothing_can_be_traced():
    logits, labels = jnp.array([[2.0, -1.0, 0.5]]), jnp.array([0])
    loss = jax.jit(lambda eps: losses.softmax_cross_entropy(logits, labels, label_smoothing=eps))
    targets = optax.smooth_labels(jax.nn.one_hot(labels, 3), 0.1)
    expected = optax.softmax_cross_entropy(logits, targets)
    np.testing.assert_allclose(loss(0.1), expected, rtol=1e-6)
    grad = jax.jit(lambda e: losses.softmax_cross_entropy_grad(logits, labels, label_smoothing=e))
    np.testing.assert_allclose(grad(0.1), jax.nn.softmax(logits) - targets, atol=1e-6)


def test_kl_with_logits_needs_a_class_axis():
    with pytest.raises(ValueError, match="logits must have a class axis"):
        losses.kl_divergence_with_logits(jnp.float32(1.0), jnp.float32(1.0))


def test_flatten_an_empty_batch():
    layer = nn.Flatten()
    shape, params, state = layer.init(jax.random.key(0), (0, 3, 4))
    y, _ = layer.apply(params, state, jnp.zeros((0, 3, 4)))
    assert shape == (0, 12) and y.shape == (0, 12)


def test_dropout_arguments():
    key, x = jax.random.key(0), jnp.ones((4, 10))
    reference = dropout(x, 0.5, key=key)
    for rate in (np.float32(0.5), jnp.float32(0.5)):
        np.testing.assert_array_equal(dropout(x, rate, key=key), reference)
    np.testing.assert_array_equal(jax.jit(lambda r: dropout(x, r, key=key))(0.5), reference)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\], got True"):
        dropout(x, True, key=key)
    with pytest.raises(ValueError, match=r"broadcast_dims must hold axes of x in \[-2, 2\)"):
        dropout(x, 0.5, key=key, broadcast_dims=(5,))
    kept = np.unique(np.asarray(dropout(jnp.full((1000,), 3), 0.3, key=key)))
    np.testing.assert_allclose(kept, [0.0, 3 / 0.7], rtol=1e-6)  # not truncated to integers


def test_numpy_integers_and_non_layers():
    assert nn.Dense(np.int64(4)).init(jax.random.key(0), (2, 3))[0] == (2, 4)
    with pytest.raises(TypeError, match=r"parallel: argument 1 is not a Layer, got str"):
        nn.parallel(nn.Dense(2), "relu")
    with pytest.raises(ValueError, match="residual needs at least one layer"):
        nn.residual()
    with pytest.raises(TypeError, match="constant: value must be a scalar number, got 'abc'"):
        initializers.constant("abc")
    assert float(initializers.constant(np.float32(0.5))(None, (2,))[0]) == 0.5


def test_prelu_and_maxout_params_follow_x64_as_dense():
    code = (
        "import jax; from nndl_jax import nn\n"
        "from nndl_jax.nn.activation_layers import PReLU, Maxout\n"
        "k = jax.random.key(0)\n"
        "w = Maxout(2, 2).init(k, (1, 3))[1]['w']\n"
        "print(w.dtype, PReLU().init(k, (1, 3))[1]['alpha'].dtype)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "JAX_ENABLE_X64": "1"}, check=True)  # fmt: skip
    assert out.stdout.split() == ["float64", "float64"]
