"""Checks for :mod:`nndl_jax.train.backprop`: manual backpropagation against ``jax.grad``.

``backprop.mlp.<activation>.<loss>``, for every activation with an analytic derivative and both
losses: the loss and gradients of :func:`~nndl_jax.train.mlp_grads` against ``jax.value_and_grad``
of an independent forward pass (``jax.nn`` activations, ``optax`` losses, plain ``jnp`` matmuls)
on three random networks of 1 to 5 hidden layers and random widths. The error is relative to the
largest reference gradient entry (normwise over all layers): ``max |ours - ref| / max |ref|``
(the loss likewise), the worst of the three networks.

``backprop.spread.symmetric``: after a few SGD steps from a constant init the hidden units are
still identical (:func:`~nndl_jax.train.hidden_unit_spread` is 0 to rounding), a property of
exact backpropagation.

The networks run eagerly: the widths come from a small set, so the same few shapes recur from
network to network and XLA compiles each operation once for all 24 checks.
"""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import verify
from nndl_jax.train import backprop

_NETWORKS = 3
_WIDTHS = (4, 6)
_D_IN, _D_OUT, _BATCH = 6, 4, 7


_REFERENCE_NAMES = {
    "identity": "z",
    "tanh": "jnp.tanh",
    "hard_sigmoid": "jax.nn.hard_sigmoid(1.5z)",
    "swish": "jax.nn.silu",
    "gelu": "jax.nn.gelu(approximate=False)",
}
_LOSS_NAMES = {
    "softmax_cross_entropy": "optax softmax_cross_entropy_with_integer_labels",
    "mse": "optax squared_error",
}


def _reference_activation(name: str):
    nn = jax.nn
    return {
        "identity": lambda z: z,
        "sigmoid": nn.sigmoid,
        "tanh": jnp.tanh,
        # our slope-1/4 hard sigmoid is jax.nn's relu6(x + 3) / 6 at 1.5 x
        "hard_sigmoid": lambda z: nn.hard_sigmoid(1.5 * z),
        "hard_tanh": nn.hard_tanh,
        "relu": nn.relu,
        "leaky_relu": nn.leaky_relu,
        "elu": nn.elu,
        "softplus": nn.softplus,
        "swish": nn.silu,
        "silu": nn.silu,
        "gelu": lambda z: nn.gelu(z, approximate=False),
    }[name]


def _reference_loss(loss: str):
    import optax

    if loss == "softmax_cross_entropy":
        return lambda logits, y: jnp.mean(
            optax.losses.softmax_cross_entropy_with_integer_labels(logits, y)
        )
    return lambda out, y: jnp.mean(optax.losses.squared_error(out, y))


def reference_value_and_grad(params, x, y, activation: str, loss: str):
    """``jax.value_and_grad`` of the mean loss through a plain forward pass (independent code)."""
    f, ell = _reference_activation(activation), _reference_loss(loss)

    def total(params):
        a = x
        for l, layer in enumerate(params):
            z = jnp.dot(a, layer["w"]) + layer["b"]
            a = f(z) if l < len(params) - 1 else z
        return ell(a, y)

    return jax.value_and_grad(total)(params)


def random_problem(seed: int, hidden_layers: int, loss: str, dtype):
    """A random MLP (widths from a small set), inputs and targets for ``loss``."""
    rng = np.random.default_rng(seed)
    sizes = [_D_IN, *rng.choice(_WIDTHS, hidden_layers).tolist(), _D_OUT]
    params = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        # unit-variance net inputs and non-zero biases, so every activation sees both of its
        # regimes (negative and positive, saturated and linear)
        w = rng.normal(0.0, 1.0 / np.sqrt(d_in), (d_in, d_out))
        params.append(
            {"w": jnp.asarray(w, dtype), "b": jnp.asarray(rng.normal(0, 0.5, d_out), dtype)}
        )
    x = jnp.asarray(rng.normal(0.0, 1.0, (_BATCH, _D_IN)), dtype)
    if loss == "softmax_cross_entropy":
        y = jnp.asarray(rng.integers(0, _D_OUT, _BATCH), jnp.int32)
    else:
        y = jnp.asarray(rng.normal(0.0, 1.0, (_BATCH, _D_OUT)), dtype)
    return params, x, y


def relative_error(ours, ref) -> float:
    """``max |ours - ref| / max |ref|`` over all leaves of two pytrees (0 when both are zero)."""
    scale = max(float(np.max(np.abs(np.asarray(r, np.float64)))) for r in jax.tree.leaves(ref))
    return verify.max_abs_diff(ours, ref) / max(scale, np.finfo(np.float64).tiny)


def _backprop_error(activation: str, loss: str) -> float:
    dtype = verify.float_dtype()
    base = zlib.crc32(f"{activation}.{loss}".encode())
    worst = 0.0
    for i in range(_NETWORKS):
        # depths rotate with the check so that 1 to 5 hidden layers all occur
        hidden = 1 + (base + 2 * i) % 5
        params, x, y = random_problem(base + i, hidden, loss, dtype)
        value, grads = backprop.mlp_grads(params, x, y, activation=activation, loss=loss)
        ref_value, ref_grads = reference_value_and_grad(params, x, y, activation, loss)
        worst = max(worst, relative_error(grads, ref_grads), relative_error(value, ref_value))
    return worst


def _register(activation: str, loss: str) -> None:
    @verify.check(
        f"backprop.mlp.{activation}.{loss}",
        reference=(
            f"jax.grad of {_REFERENCE_NAMES.get(activation, f'jax.nn.{activation}')} MLP + "
            f"{_LOSS_NAMES[loss]} (relative)"
        ),
        tol=1e-5,
        tol_x64=1e-12,
    )
    def check() -> float:
        return _backprop_error(activation, loss)

    check.__qualname__ = f"backprop_{activation}_{loss}"


for _activation in backprop.mlp_activations():
    for _loss in ("softmax_cross_entropy", "mse"):
        _register(_activation, _loss)


@verify.check(
    "backprop.spread.symmetric",
    reference="closed form: identical units stay identical",
    tol=1e-6,
    tol_x64=1e-14,
    tier="property",
)
def _symmetric_units_stay_identical() -> float:
    from nndl_jax.train.initialization import hidden_unit_spread

    dtype = verify.float_dtype()
    rng = np.random.default_rng(0)
    params = backprop.mlp_init(jax.random.key(0), [_D_IN, 6, 6, _D_OUT], "constant", dtype=dtype)
    x = jnp.asarray(rng.normal(0.0, 1.0, (_BATCH, _D_IN)), dtype)
    y = jnp.asarray(rng.integers(0, _D_OUT, _BATCH), jnp.int32)
    for _ in range(5):
        _, grads = backprop.mlp_grads(params, x, y, activation="tanh")
        params = jax.tree.map(lambda p, g: p - 0.5 * g, params, grads)
    return float(hidden_unit_spread(params))
