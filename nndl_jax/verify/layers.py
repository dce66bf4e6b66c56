"""Checks of the dense kernel, dropout and the combinators."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndl_jax import nn
from nndl_jax.verify._registry import check, float_dtype, max_abs_diff


def _inputs(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape, float_dtype())


@check("layers.dense.forward", reference="flax.linen.Dense (random nonzero kernel and bias)",
       tol=1e-5, tol_x64=1e-12)  # fmt: skip
def _dense_vs_flax():
    import flax.linen as fnn

    # random weights *and* biases (flax initializes the bias to zero, which hides bias errors)
    x, w, b = _inputs((5, 7), 0), _inputs((7, 4), 1), _inputs((4,), 2)
    module = fnn.Dense(4, param_dtype=float_dtype(), dtype=float_dtype())
    ours, _ = nn.Dense(4).apply({"w": w, "b": b}, {}, x)
    return max_abs_diff(ours, module.apply({"params": {"kernel": w, "bias": b}}, x))


@check(
    "layers.dense.grad", reference="jax.grad of x @ w + b (closed form)", tol=1e-5, tol_x64=1e-12
)
def _dense_grad_closed_form():
    # d/dw sum(c * (x w + b)) = x^T c and d/db = sum over the batch of c
    x, c = _inputs((5, 7), 0), _inputs((5, 4), 1)
    w, b = _inputs((7, 4), 2), _inputs((4,), 3)
    gw, gb = jax.grad(lambda w, b: jnp.sum(c * nn.dense(x, w, b)), argnums=(0, 1))(w, b)
    return max(max_abs_diff(gw, x.T @ c), max_abs_diff(gb, c.sum(0)))


@check("layers.dropout.keep_fraction",
       reference="jax.random.bernoulli(key, 1 - rate) on the same key, units differing",
       tol=0, tier="closed form")  # fmt: skip
def _dropout_keep_fraction():
    # Our dropout draws its mask as jax.random.bernoulli(key, 1 - rate, mask_shape), one value
    # per unit, or one per row along broadcast_dims; count the units whose kept/dropped state
    # differs from that draw on the same key (x has no zeros, so y != 0 is the kept mask).
    n, t, rate = 20_000, 5, 0.3
    x = jnp.ones((n, t), float_dtype())
    key = jax.random.key(0)
    kept = nn.dropout(x, rate, key=key) != 0
    kept_rows = nn.dropout(x, rate, key=key, broadcast_dims=(1,)) != 0
    expected = jax.random.bernoulli(key, 1 - rate, (n, t))
    expected_rows = jax.random.bernoulli(key, 1 - rate, (n, 1))
    return int(jnp.sum(kept != expected) + jnp.sum(kept_rows != expected_rows))


@check("layers.dropout.scaling", reference="closed form x / (1 - rate)", tol=1e-6, tol_x64=1e-15,
       tier="closed form")  # fmt: skip
def _dropout_scaling():
    x, rate = _inputs((1000,)), 0.25
    y = nn.dropout(x, rate, key=jax.random.key(3))
    kept = y != 0
    return max_abs_diff(jnp.where(kept, y, 0), jnp.where(kept, x / (1 - rate), 0))


@check("layers.dropout.eval_and_extremes", reference="identity / zeros", tol=0.0,
       tier="closed form")  # fmt: skip
def _dropout_modes():
    x = _inputs((64,))
    layer = nn.Dropout(0.5)
    y_eval, _ = layer.apply({}, {}, x, train=False)
    return max(
        max_abs_diff(y_eval, x),
        max_abs_diff(nn.dropout(x, 0.0, key=jax.random.key(0)), x),
        max_abs_diff(nn.dropout(x, 1.0, key=jax.random.key(0)), jnp.zeros_like(x)),
    )


def _random_dense_params(shapes, seed):
    """Random nonzero ``{"w", "b"}`` for each ``(d_in, d_out)`` (the zero initial biases would
    hide bias errors)."""
    return [{"w": _inputs((d_in, d_out), seed + 2 * i), "b": _inputs((d_out,), seed + 2 * i + 1)}
            for i, (d_in, d_out) in enumerate(shapes)]  # fmt: skip


@check("layers.serial.composition", reference="closed form (x @ w0 + b0) @ w1 + b1", tol=0.0,
       tier="closed form")  # fmt: skip
def _serial_composition():
    x = _inputs((3, 6))
    model = nn.serial(nn.Dense(5), nn.Dense(2))
    _, _, state = model.init(jax.random.key(0), x.shape)
    params = _random_dense_params([(6, 5), (5, 2)], seed=1)
    y, _ = model.apply(params, state, x)
    manual = (x @ params[0]["w"] + params[0]["b"]) @ params[1]["w"] + params[1]["b"]
    return max_abs_diff(y, manual)


@check("layers.residual.identity_shortcut", reference="closed form (x @ w + b) + x", tol=0.0,
       tier="closed form")  # fmt: skip
def _residual():
    x = _inputs((3, 6))
    model = nn.residual(nn.Dense(6))
    _, params, state = model.init(jax.random.key(0), x.shape)
    body = _random_dense_params([(6, 6)], seed=1)
    y, _ = model.apply({**params, "body": body}, state, x)
    return max_abs_diff(y, (x @ body[0]["w"] + body[0]["b"]) + x)
