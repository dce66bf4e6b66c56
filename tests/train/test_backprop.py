"""Manual backpropagation (nndl_jax.train.backprop) against jax.grad of independent forward passes.

The reference forward passes use jax.nn activations, optax losses and plain jnp matmuls; none of
our code runs inside them. Shapes stay tiny and the networks run eagerly, so XLA compiles each
small operation once and reuses it across examples.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st

from nndl_jax import nn, train
from nndl_jax.nn import activations as act
from nndl_jax.train import backprop
from nndl_jax.verify.backprop import reference_value_and_grad, relative_error

KEY = jax.random.key(0)


def _problem(seed, sizes, batch, loss, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    params = [
        {
            "w": jnp.asarray(rng.normal(0, 1 / np.sqrt(a), (a, b)), dtype),
            "b": jnp.asarray(rng.normal(0, 0.5, b), dtype),
        }
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    x = jnp.asarray(rng.normal(size=(batch, sizes[0])), dtype)
    if loss == "softmax_cross_entropy":
        y = jnp.asarray(rng.integers(0, sizes[-1], batch), jnp.int32)
    else:
        y = jnp.asarray(rng.normal(size=(batch, sizes[-1])), dtype)
    return params, x, y


def _plain_loss(params, x, y, f=jax.nn.relu, *, l2=0.0, weights=None, loss="ce"):
    """The mean loss through a plain forward pass (the reference for jax.grad)."""
    a = x
    for l, layer in enumerate(params):
        a = jnp.dot(a, layer["w"]) + layer["b"]
        if l < len(params) - 1:
            a = f(a)
    if loss == "ce":
        per_example = optax.losses.softmax_cross_entropy_with_integer_labels(a, y)
    else:
        per_example = jnp.mean(optax.losses.squared_error(a, y), axis=-1)
    if weights is None:
        value = jnp.mean(per_example)
    else:
        value = jnp.sum(weights * per_example) / jnp.sum(weights)
    return value + 0.5 * l2 * sum(jnp.sum(p["w"] ** 2) for p in params)


# --- agreement with jax.grad -----------------------------------------------------------------


# widths from a small set keep the number of distinct shapes (and so of XLA compiles) small
@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    hidden=st.lists(st.sampled_from([2, 3]), min_size=1, max_size=5),
    activation=st.sampled_from(train.mlp_activations()),
    loss=st.sampled_from(["softmax_cross_entropy", "mse"]),
    seed=st.integers(0, 2**16),
)
def test_grads_match_jax_grad(hidden, activation, loss, seed):
    params, x, y = _problem(seed, [3, *hidden, 2], 5, loss)
    value, grads = train.mlp_grads(params, x, y, activation=activation, loss=loss)
    ref_value, ref_grads = reference_value_and_grad(params, x, y, activation, loss)
    assert relative_error(grads, ref_grads) <= 1e-5
    assert relative_error(value, ref_value) <= 1e-5
    chex.assert_trees_all_equal_shapes_and_dtypes(grads, params)


def test_grads_match_jax_grad_in_float64():
    with jax.enable_x64(True):
        params, x, y = _problem(1, [3, 4, 3, 4, 2], 5, "softmax_cross_entropy", jnp.float64)
        ours = jax.jit(functools.partial(train.mlp_grads, activation="gelu"))
        value, grads = ours(params, x, y)
        ref = jax.jit(
            functools.partial(
                reference_value_and_grad, activation="gelu", loss="softmax_cross_entropy"
            )
        )
        ref_value, ref_grads = ref(params, x, y)
        assert grads[0]["w"].dtype == jnp.float64
        assert relative_error(grads, ref_grads) <= 1e-12
        assert relative_error(value, ref_value) <= 1e-12


def test_a_wrong_derivative_is_caught():
    # the comparison can fail: relu with sigmoid's derivative is not relu's backprop
    params, x, y = _problem(2, [3, 4, 2], 5, "softmax_cross_entropy")
    _, wrong = train.mlp_grads(params, x, y, activation=(act.relu, act.sigmoid_grad))
    _, ref = reference_value_and_grad(params, x, y, "relu", "softmax_cross_entropy")
    assert relative_error(wrong, ref) > 1e-2


def test_custom_activation_pair():
    slope = 0.2
    pair = (
        functools.partial(act.leaky_relu, negative_slope=slope),
        functools.partial(act.leaky_relu_grad, negative_slope=slope),
    )
    params, x, y = _problem(3, [3, 4, 4, 2], 5, "softmax_cross_entropy")
    value, grads = train.mlp_grads(params, x, y, activation=pair)
    f = functools.partial(jax.nn.leaky_relu, negative_slope=slope)
    ref_value, ref_grads = jax.value_and_grad(_plain_loss)(params, x, y, f)
    chex.assert_trees_all_close(grads, ref_grads, atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(value, ref_value, atol=1e-6, rtol=1e-6)


def test_activation_may_be_our_function():
    params, x, y = _problem(4, [3, 4, 2], 5, "softmax_cross_entropy")
    by_name = train.mlp_grads(params, x, y, activation="softplus")
    by_function = train.mlp_grads(params, x, y, activation=act.softplus)
    chex.assert_trees_all_close(by_name, by_function, atol=0.0)


def test_one_hot_targets_equal_integer_labels():
    params, x, y = _problem(5, [3, 4, 2], 5, "softmax_cross_entropy")
    one_hot = jax.nn.one_hot(y, 2)
    chex.assert_trees_all_close(
        train.mlp_grads(params, x, y), train.mlp_grads(params, x, one_hot), atol=1e-7
    )


def test_mse_with_integer_labels_is_mse_on_one_hot_rows():
    params, x, y = _problem(6, [3, 4, 2], 5, "softmax_cross_entropy")
    one_hot = jax.nn.one_hot(y, 2)
    value, grads = train.mlp_grads(params, x, y, loss="mse", activation="sigmoid")
    ref = jax.value_and_grad(_plain_loss)(params, x, one_hot, jax.nn.sigmoid, loss="mse")
    chex.assert_trees_all_close((value, grads), ref, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_mask_weights_examples(loss):
    name = "softmax_cross_entropy" if loss == "ce" else "mse"
    params, x, y = _problem(7, [3, 4, 2], 5, name)
    mask = jnp.array([1.0, 1.0, 0.0, 1.0, 0.0])
    value, grads = train.mlp_grads(params, x, y, loss=name, mask=mask)
    ref = jax.value_and_grad(_plain_loss)(params, x, y, weights=mask, loss=loss)
    chex.assert_trees_all_close((value, grads), ref, atol=1e-6, rtol=1e-5)
    # masked rows do not count at all: the same as leaving them out
    keep = np.flatnonzero(np.asarray(mask))
    chex.assert_trees_all_close(
        (value, grads), train.mlp_grads(params, x[keep], y[keep], loss=name), atol=1e-6
    )


def test_masked_rows_cannot_leak_nan():
    # under jit an out-of-range label makes its row's loss and error term NaN; masked out, the
    # row must not turn the batch's loss or gradients into NaN (0 * NaN would)
    params, x, y = _problem(7, [3, 4, 2], 5, "softmax_cross_entropy")
    mask = jnp.array([1.0, 1.0, 0.0, 1.0, 0.0])
    grads = jax.jit(train.mlp_grad_fn())
    chex.assert_trees_all_close(
        grads(params, x, y.at[2].set(7), mask), grads(params, x, y, mask), atol=1e-7
    )


def test_all_zero_mask_gives_zero_loss_and_grads():
    params, x, y = _problem(8, [3, 4, 2], 5, "softmax_cross_entropy")
    value, grads = train.mlp_grads(params, x, y, mask=jnp.zeros(5))
    assert float(value) == 0.0
    chex.assert_trees_all_close(grads, jax.tree.map(jnp.zeros_like, params), atol=0.0)


def test_l2_penalty_on_weights_only():
    params, x, y = _problem(9, [3, 4, 4, 2], 5, "softmax_cross_entropy")
    value, grads = train.mlp_grads(params, x, y, l2=0.3)
    ref = jax.value_and_grad(_plain_loss)(params, x, y, l2=0.3)
    chex.assert_trees_all_close((value, grads), ref, atol=1e-6, rtol=1e-5)


def test_grad_fn_is_jittable_and_traces_once():
    params, x, y = _problem(10, [3, 4, 2], 5, "softmax_cross_entropy")
    grad_fn = train.mlp_grad_fn(activation="tanh", l2=0.01)
    step = jax.jit(chex.assert_max_traces(grad_fn, n=1))
    eager = grad_fn(params, x, y)
    for _ in range(3):
        jitted = step(params, x, y)
    chex.assert_trees_all_close(jitted, eager, atol=1e-6)


# --- forward pass and its cache --------------------------------------------------------------


def test_forward_cache_holds_net_inputs_and_activations():
    params, x, _ = _problem(11, [3, 4, 4, 2], 5, "softmax_cross_entropy")
    logits, cache = train.mlp_forward(params, x, activation="tanh")
    assert len(cache.z) == 3 and len(cache.a) == 4
    np.testing.assert_array_equal(cache.a[0], x)
    for l, layer in enumerate(params):
        np.testing.assert_allclose(
            cache.z[l], cache.a[l] @ layer["w"] + layer["b"], atol=1e-6, rtol=1e-6
        )
    np.testing.assert_allclose(cache.a[1], np.tanh(cache.z[0]), atol=1e-6)
    np.testing.assert_allclose(cache.a[2], np.tanh(cache.z[1]), atol=1e-6)
    np.testing.assert_array_equal(cache.a[3], cache.z[2])  # the output layer is linear
    np.testing.assert_array_equal(logits, cache.z[2])


def test_forward_accepts_leading_batch_axes():
    params, x, _ = _problem(12, [3, 4, 2], 6, "softmax_cross_entropy")
    logits, _ = train.mlp_forward(params, x.reshape(2, 3, 3))
    np.testing.assert_allclose(logits.reshape(6, 2), train.mlp_forward(params, x)[0], atol=1e-6)


# --- initialization --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "init", ["zeros", "constant", "normal", "xavier", "he", "lecun_normal", "orthogonal"]
)
def test_init_shapes_and_dtype(init):
    params = train.mlp_init(KEY, [5, 7, 3], init)
    assert [(p["w"].shape, p["b"].shape) for p in params] == [((5, 7), (7,)), ((7, 3), (3,))]
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    np.testing.assert_array_equal(params[0]["b"], np.zeros(7))


def test_init_values():
    zeros = train.mlp_init(KEY, [4, 3, 2], "zeros")
    assert all(np.all(np.asarray(leaf) == 0) for leaf in jax.tree.leaves(zeros))
    const = train.mlp_init(KEY, [4, 3, 2], "constant", value=0.5, bias_init="ones")
    np.testing.assert_array_equal(const[1]["w"], np.full((3, 2), 0.5))
    np.testing.assert_array_equal(const[1]["b"], np.ones(2))
    # the distributions: sample statistics of one large layer
    w = np.asarray(train.mlp_init(KEY, [400, 300, 2], "normal", stddev=0.05)[0]["w"])
    assert abs(w.std() - 0.05) < 0.05 * 0.02
    w = np.asarray(train.mlp_init(KEY, [400, 300, 2], "xavier")[0]["w"])
    bound = np.sqrt(6 / 700)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    w = np.asarray(train.mlp_init(KEY, [400, 300, 2], "he")[0]["w"])
    assert abs(w.var() - 2 / 400) < 0.03 * 2 / 400


def test_init_with_a_function_and_float64():
    params = train.mlp_init(KEY, [2, 3], lambda k, s, d: jnp.full(s, 7.0, d))
    np.testing.assert_array_equal(params[0]["w"], np.full((2, 3), 7.0))
    with jax.enable_x64(True):
        params = train.mlp_init(KEY, [2, 3, 2], "he", dtype=jnp.float64)
        assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves(params))


def test_pretraining_init_from_params():
    source = train.mlp_init(jax.random.key(1), [4, 3, 2], "he")
    params = train.mlp_init(KEY, [4, 3, 2], init=source)
    chex.assert_trees_all_close(params, source, atol=0.0)
    assert params is not source and params[0] is not source[0]
    # params of a serial of Dense layers: the activation layers' empty dicts are skipped
    net = nn.serial(nn.Dense(3), nn.stateless(act.relu), nn.Dense(2))
    _, serial_params, _ = net.init(KEY, (-1, 4))
    params = train.mlp_from_params(serial_params, [4, 3, 2])
    x = jnp.ones((2, 4))
    np.testing.assert_allclose(
        train.mlp_forward(params, x)[0], net.apply(serial_params, [{}, {}, {}], x)[0], atol=1e-6
    )


def test_mlp_as_layer():
    layer = train.mlp_as_layer([4, 6, 3], "tanh", init="he")
    out_shape, params, state = layer.init(KEY, (-1, 4))
    assert out_shape == (-1, 3) and state == {}
    chex.assert_trees_all_close(params, train.mlp_init(KEY, [4, 6, 3], "he"), atol=0.0)
    x = jax.random.normal(KEY, (5, 4))
    y, _ = layer.apply(params, state, x)
    np.testing.assert_array_equal(y, train.mlp_forward(params, x, activation="tanh")[0])
    with pytest.raises(ValueError, match=r"input_shape \(..., 4\).*\(-1, 5\)"):
        layer.init(KEY, (-1, 5))


# --- bad input -------------------------------------------------------------------------------


def test_unknown_names_list_the_valid_ones():
    params, x, y = _problem(13, [3, 4, 2], 5, "softmax_cross_entropy")
    with pytest.raises(ValueError, match="unknown activation 'maxout'.*elu.*tanh"):
        train.mlp_grads(params, x, y, activation="maxout")
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*mse.*softmax_cross_entropy"):
        train.mlp_grads(params, x, y, loss="hinge")
    with pytest.raises(ValueError, match="unknown init 'glorious'.*constant.*he.*xavier"):
        train.mlp_init(KEY, [3, 2], "glorious")
    with pytest.raises(ValueError, match="unknown activation"):
        train.mlp_grad_fn(activation="nope")
    with pytest.raises(TypeError, match="activation must be"):
        train.mlp_forward(params, x, activation=42)


def test_shape_errors_name_the_shapes():
    params, x, y = _problem(14, [3, 4, 2], 5, "softmax_cross_entropy")
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\).*x.shape=\(5, 4\)"):
        train.mlp_grads(params, jnp.ones((5, 4)), y)
    with pytest.raises(ValueError, match=r"y.shape=\(4,\)"):
        train.mlp_grads(params, x, y[:4])
    with pytest.raises(ValueError, match=r"\(N, d_L\) = \(5, 2\).*y.shape=\(5, 3\)"):
        train.mlp_grads(params, x, jnp.ones((5, 3)))
    with pytest.raises(ValueError, match=r"mask.shape=\(4,\)"):
        train.mlp_grads(params, x, y, mask=jnp.ones(4))
    with pytest.raises(ValueError, match="outside"):
        train.mlp_grads(params, x, y.at[0].set(7), loss="mse")
    with pytest.raises(ValueError, match="l2"):
        train.mlp_grads(params, x, y, l2=-1.0)


def test_bad_params_and_sizes():
    with pytest.raises(ValueError, match="sizes"):
        train.mlp_init(KEY, [3])
    with pytest.raises(ValueError, match="sizes"):
        train.mlp_init(KEY, [3, 0, 2])
    with pytest.raises(TypeError, match="sizes"):
        train.mlp_init(KEY, 3)
    bad_chain = [
        {"w": jnp.ones((3, 4)), "b": jnp.ones(4)},
        {"w": jnp.ones((5, 2)), "b": jnp.ones(2)},
    ]
    with pytest.raises(ValueError, match=r"\(5, 2\).*\(3, 4\).*d_in must be 4"):
        train.mlp_from_params(bad_chain)
    with pytest.raises(ValueError, match=r"b.shape=\(3,\)"):
        train.mlp_from_params([{"w": jnp.ones((3, 4)), "b": jnp.ones(3)}])
    with pytest.raises(TypeError, match='"w" and "b"'):
        train.mlp_from_params([{"kernel": jnp.ones((3, 4))}])
    with pytest.raises(ValueError, match=r"widths \(3, 4\).*sizes=\(3, 5\)"):
        train.mlp_init(KEY, [3, 5], init=[{"w": jnp.ones((3, 4)), "b": jnp.ones(4)}])
    with pytest.raises(TypeError, match="params"):
        train.mlp_forward({"w": jnp.ones((3, 4))}, jnp.ones((1, 3)))


def test_public_names_are_exported():
    for name in backprop.__all__:
        assert getattr(train, name) is getattr(backprop, name)
