"""Dense, Dropout, Flatten and the combinators: shapes, protocol, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import nn

KEY = jax.random.key(0)


def test_dense_init_shapes_and_apply():
    out_shape, params, state = nn.Dense(3).init(KEY, (-1, 5))
    assert out_shape == (-1, 3)
    assert params["w"].shape == (5, 3) and params["b"].shape == (3,)
    assert state == {}
    y, _ = nn.Dense(3).apply(params, state, jnp.ones((2, 5)))
    np.testing.assert_allclose(y, jnp.ones((2, 5)) @ params["w"] + params["b"], atol=1e-6)


def test_dense_without_bias_and_custom_init():
    _, params, _ = nn.Dense(4, use_bias=False, w_init="zeros").init(KEY, (1, 2))
    assert set(params) == {"w"}
    np.testing.assert_array_equal(params["w"], np.zeros((2, 4)))


@pytest.mark.parametrize("features", [0, -3, 2.5, True])
def test_dense_rejects_bad_features(features):
    with pytest.raises(ValueError, match="features"):
        nn.Dense(features)


def test_dense_kernel_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"x.shape=\(2, 5\).*w.shape=\(4, 3\)"):
        nn.dense(jnp.ones((2, 5)), jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"b.shape=\(4,\)"):
        nn.dense(jnp.ones((2, 5)), jnp.ones((5, 3)), jnp.ones((4,)))


def test_dropout_layer_needs_key_in_training_only():
    layer = nn.Dropout(0.5)
    x = jnp.ones((4, 8))
    with pytest.raises(ValueError, match="key"):
        layer.apply({}, {}, x, train=True)
    y, _ = layer.apply({}, {}, x)  # eval mode: identity, no key needed
    np.testing.assert_array_equal(y, x)
    y, _ = layer.apply({}, {}, x, key=KEY, train=True)
    assert set(np.unique(np.asarray(y)).tolist()) <= {0.0, 2.0}


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_layer_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(rate)


def test_dropout_kernel_broadcast_dims_share_one_mask_along_time():
    x = jnp.ones((3, 10, 6))  # (batch, time, features)
    y = nn.dropout(x, 0.5, key=KEY, broadcast_dims=(1,))
    # every time step of a sequence sees the same mask
    np.testing.assert_array_equal(y, jnp.broadcast_to(y[:, :1], y.shape))


def test_dropout_keeps_dtype():
    x = jnp.ones((16,), jnp.bfloat16)
    assert nn.dropout(x, 0.5, key=KEY).dtype == jnp.bfloat16


def test_serial_splits_keys_per_child():
    model = nn.serial(nn.Dropout(0.5), nn.Dropout(0.5))
    _, params, state = model.init(KEY, (1, 1000))
    # with a shared key both masks would be equal; the product of two independent masks keeps ~1/4
    y, _ = model.apply(params, state, jnp.ones((1, 1000)), key=KEY, train=True)
    kept = float(jnp.mean(y != 0))
    assert 0.2 < kept < 0.3


def test_serial_shapes_and_errors():
    model = nn.serial(nn.Flatten(), nn.Dense(4), nn.Dense(2))
    out_shape, params, state = model.init(KEY, (-1, 2, 3))
    assert out_shape == (-1, 2)
    assert len(params) == 3 and params[0] == {}
    y, new_state = jax.jit(model.apply)(params, state, jnp.ones((5, 2, 3)))
    assert y.shape == (5, 2) and len(new_state) == 3
    with pytest.raises(TypeError, match="not a Layer"):
        nn.serial(nn.Dense(2), "relu")
    with pytest.raises(ValueError, match="params"):
        model.apply(params[:2], state, jnp.ones((5, 2, 3)))


def test_parallel():
    model = nn.parallel(nn.Dense(2), nn.Dense(3))
    out_shape, params, state = model.init(KEY, ((-1, 4), (-1, 5)))
    assert out_shape == ((-1, 2), (-1, 3))
    (a, b), _ = model.apply(params, state, (jnp.ones((1, 4)), jnp.ones((1, 5))))
    assert a.shape == (1, 2) and b.shape == (1, 3)
    with pytest.raises(ValueError, match="inputs"):
        model.apply(params, state, (jnp.ones((1, 4)),))


def test_residual_shapes_and_projection():
    with pytest.raises(ValueError, match="shortcut"):
        nn.residual(nn.Dense(3)).init(KEY, (-1, 5))
    model = nn.residual(nn.Dense(3), shortcut=nn.Dense(3, use_bias=False))
    out_shape, params, state = model.init(KEY, (-1, 5))
    assert out_shape == (-1, 3)
    x = jnp.ones((2, 5))
    y, _ = model.apply(params, state, x)
    body, skip = params["body"][0], params["shortcut"]
    np.testing.assert_allclose(y, x @ body["w"] + body["b"] + x @ skip["w"], atol=1e-5)


def test_flatten():
    out_shape, _, _ = nn.Flatten().init(KEY, (-1, 8, 8, 3))
    assert out_shape == (-1, 192)
    y, _ = nn.Flatten().apply({}, {}, jnp.zeros((2, 8, 8, 3)))
    assert y.shape == (2, 192)


def test_dense_param_dtype_follows_x64_and_argument():
    _, params, _ = nn.Dense(2, dtype=jnp.bfloat16).init(KEY, (1, 3))
    assert params["w"].dtype == jnp.bfloat16 and params["b"].dtype == jnp.bfloat16
    with jax.enable_x64(True):
        _, params, _ = nn.Dense(2).init(KEY, (1, 3))
        assert params["w"].dtype == jnp.float64


# ------------------------------------------------------------ under jax transformations


def test_dropout_with_a_traced_rate_of_one_has_a_zero_gradient():
    # rate = 1 drops everything, so the output is 0 and so is its gradient; the discarded
    # x / (1 - rate) = x / 0 made it 0 * inf = NaN when the rate was traced
    key = jax.random.key(2)
    x = jnp.linspace(-1.0, 1.0, 8)

    def total(x, rate):
        return jnp.sum(nn.dropout(x, rate, key=key))

    value, grad = jax.jit(jax.value_and_grad(total))(x, 1.0)
    assert float(value) == 0.0
    np.testing.assert_array_equal(grad, np.zeros(8))
    # vmapped (traced) rates agree with the same concrete rates, values and gradients
    rates = [0.0, 0.5, 1.0]
    values = jax.vmap(lambda r: nn.dropout(x, r, key=key))(jnp.array(rates))
    grads = jax.vmap(jax.grad(total), in_axes=(None, 0))(x, jnp.array(rates))
    for i, rate in enumerate(rates):
        np.testing.assert_allclose(values[i], nn.dropout(x, rate, key=key), rtol=1e-6)
        np.testing.assert_allclose(grads[i], jax.grad(total)(x, rate), rtol=1e-6)


@pytest.mark.parametrize(
    "model",
    [
        nn.serial(nn.Dense(8), nn.Dropout(0.5), nn.Relu(), nn.Dense(3)),
        nn.residual(nn.Dense(6), nn.Gelu(), nn.Dropout(0.3)),
    ],
    ids=["serial_dropout", "residual"],
)
def test_vmapped_ensemble_matches_its_members(model):
    keys = jax.random.split(KEY, 3)
    x = jax.random.normal(jax.random.key(1), (5, 6))
    params, states = jax.vmap(lambda k: model.init(k, (-1, 6))[1:])(keys)
    outs = jax.vmap(lambda p, s, k: model.apply(p, s, x, key=k, train=True)[0])(
        params, states, keys
    )
    for i, key in enumerate(keys):
        _, p, s = model.init(key, (-1, 6))
        for leaf, stacked in zip(jax.tree.leaves(p), jax.tree.leaves(params), strict=True):
            np.testing.assert_array_equal(leaf, stacked[i])
        np.testing.assert_allclose(outs[i], model.apply(p, s, x, key=key, train=True)[0], atol=1e-6)


def test_dropout_vmapped_over_keys_draws_independent_masks():
    masks = jax.vmap(lambda k: nn.Dropout(0.5).apply({}, {}, jnp.ones(64), key=k, train=True)[0])(
        jax.random.split(KEY, 4)
    )
    assert len({tuple(np.asarray(m != 0)) for m in masks}) == 4
    assert set(np.unique(np.asarray(masks)).tolist()) == {0.0, 2.0}
