"""Suite ``backprop``: manual backpropagation against ``jax.value_and_grad`` (``nndl-jax bench
backprop``).

Each case times one loss-and-gradient evaluation of an MLP with a softmax cross-entropy on
integer labels: ours is :func:`nndl_jax.train.mlp_grads` (the hand-written backward pass), the
peer is ``jax.value_and_grad`` of the same mean loss written as a user would (``jnp`` matmuls,
``jax.nn.relu`` or ``jnp.tanh``, ``optax.losses.softmax_cross_entropy_with_integer_labels``).
Both are jitted by the harness. The target is a ratio ours/peer within 1.2.

Cases: ``mlp_64x128x128x10_b256`` (digits-sized, ReLU; ``..._tanh`` with tanh, whose derivative
we recompute from z where autodiff keeps tanh(z)) and ``mlp_784x512x512x10_b512`` (MNIST-sized).
Rows also report ``max_rel_diff`` (gradients, relative to the largest entry) and the GFLOP/s of
both, counting ``2 N d_in d_out`` per matmul: one in the forward pass, two in the backward
(one for the weight gradient, one for the error term, none below the first layer).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from nndl_jax.benchmarks._harness import case, compare

# name -> (layer widths, batch size, hidden activation)
CASES = {
    "mlp_64x128x128x10_b256": ((64, 128, 128, 10), 256, "relu"),
    "mlp_64x128x128x10_b256_tanh": ((64, 128, 128, 10), 256, "tanh"),
    "mlp_784x512x512x10_b512": ((784, 512, 512, 10), 512, "relu"),
}
_PEER_ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}


def _timing(quick: bool) -> dict:
    return {"repeats": 7, "number": 5, "warmup": 2} if quick else {"repeats": 21, "number": 20}


def _flops(sizes, batch) -> float:
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    forward = sum(2 * batch * a * b for a, b in pairs)
    # the first layer needs no error term for its input
    backward = 2 * forward - 2 * batch * sizes[0] * sizes[1]
    return float(forward + backward)


def _peer_value_and_grad(activation: str):
    import optax

    f = _PEER_ACTIVATIONS[activation]

    def loss(params, x, y):
        a = x
        for l, layer in enumerate(params):
            a = a @ layer["w"] + layer["b"]
            if l < len(params) - 1:
                a = f(a)
        return jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(a, y))

    return jax.value_and_grad(loss)


def _run(name: str, quick: bool) -> dict:
    from nndl_jax.train import mlp_grads, mlp_init

    sizes, batch, activation = CASES[name]
    k_params, k_x, k_y = jax.random.split(jax.random.key(0), 3)
    params = mlp_init(k_params, sizes, "he")
    x = jax.random.normal(k_x, (batch, sizes[0]), jnp.float32)
    y = jax.random.randint(k_y, (batch,), 0, sizes[-1])
    jax.block_until_ready((params, x, y))

    def ours(params, x, y):
        return mlp_grads(params, x, y, activation=activation, loss="softmax_cross_entropy")

    peer = _peer_value_and_grad(activation)
    row = compare(
        ours,
        peer,
        (params, x, y),
        peer_name="jax.value_and_grad (jnp forward, optax softmax cross-entropy)",
        flops=_flops(sizes, batch),
        sizes="-".join(map(str, sizes)),
        batch=batch,
        activation=activation,
        dtype="float32",
        **_timing(quick),
    )
    # after timing, so that the harness's compile times are not cache hits
    (_, g_ours), (_, g_peer) = jax.jit(ours)(params, x, y), jax.jit(peer)(params, x, y)
    leaves_ours, leaves_peer = jax.tree.leaves(g_ours), jax.tree.leaves(g_peer)
    diff = max(
        float(jnp.max(jnp.abs(a - b))) for a, b in zip(leaves_ours, leaves_peer, strict=True)
    )
    scale = max(float(jnp.max(jnp.abs(b))) for b in leaves_peer)
    row["max_rel_diff"] = diff / scale
    return row


@case("backprop", "mlp_64x128x128x10_b256")
def small(quick: bool) -> list[dict]:
    return [_run("mlp_64x128x128x10_b256", quick)]


@case("backprop", "mlp_64x128x128x10_b256_tanh")
def small_tanh(quick: bool) -> list[dict]:
    return [_run("mlp_64x128x128x10_b256_tanh", quick)]


@case("backprop", "mlp_784x512x512x10_b512")
def large(quick: bool) -> list[dict]:
    return [_run("mlp_784x512x512x10_b512", quick)]
