"""Checks of the dense kernel, dropout and the combinators."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import nn
from nndl_jax.verify._registry import check, float_dtype, max_abs_diff


def _inputs(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape, float_dtype())


@check("layers.dense.forward", reference="flax.linen.Dense", tol=1e-5, tol_x64=1e-12)
def _dense_vs_flax():
    import flax.linen as fnn

    x = _inputs((5, 7))
    module = fnn.Dense(4, param_dtype=float_dtype(), dtype=float_dtype())
    variables = module.init(jax.random.key(1), x)
    ours_params = {"w": variables["params"]["kernel"], "b": variables["params"]["bias"]}
    ours, _ = nn.Dense(4).apply(ours_params, {}, x)
    return max_abs_diff(ours, module.apply(variables, x))


@check(
    "layers.dense.grad", reference="jax.grad of x @ w + b (closed form)", tol=1e-5, tol_x64=1e-12
)
def _dense_grad_closed_form():
    # d/dw sum(c * (x w + b)) = x^T c and d/db = sum over the batch of c
    x, c = _inputs((5, 7), 0), _inputs((5, 4), 1)
    w, b = _inputs((7, 4), 2), _inputs((4,), 3)
    gw, gb = jax.grad(lambda w, b: jnp.sum(c * nn.dense(x, w, b)), argnums=(0, 1))(w, b)
    return max(max_abs_diff(gw, x.T @ c), max_abs_diff(gb, c.sum(0)))


@check("layers.dropout.keep_fraction", reference="Bernoulli(1 - rate), in sigmas", tol=3.0,
       tier="property")  # fmt: skip
def _dropout_keep_fraction():
    # The number of kept units of n is Binomial(n, 1 - rate): report |kept - mean| / std.
    n, rate = 100_000, 0.3
    y = nn.dropout(jnp.ones((n,), float_dtype()), rate, key=jax.random.key(0))
    kept = float(jnp.sum(y != 0))
    return abs(kept - n * (1 - rate)) / np.sqrt(n * rate * (1 - rate))


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


@check("layers.serial.composition", reference="manual composition", tol=0.0, tier="closed form")
def _serial_composition():
    x = _inputs((3, 6))
    model = nn.serial(nn.Dense(5), nn.Dense(2))
    _, params, state = model.init(jax.random.key(0), x.shape)
    y, _ = model.apply(params, state, x)
    manual = nn.dense(nn.dense(x, params[0]["w"], params[0]["b"]), params[1]["w"], params[1]["b"])
    return max_abs_diff(y, manual)


@check("layers.residual.identity_shortcut", reference="closed form f(x) + x", tol=0.0,
       tier="closed form")  # fmt: skip
def _residual():
    x = _inputs((3, 6))
    model = nn.residual(nn.Dense(6))
    _, params, state = model.init(jax.random.key(0), x.shape)
    y, _ = model.apply(params, state, x)
    body = params["body"][0]
    return max_abs_diff(y, nn.dense(x, body["w"], body["b"]) + x)
