"""Suite ``nn``, case ``activations``: our activation kernels against ``jax.nn``.

Run with ``nndl-jax bench nn``.

For relu, gelu (exact), softplus and sigmoid on a float32 array of 2^20 elements, three rows:

* ``forward``: ``f(x)``, ours against ``jax.nn.f``;
* ``derivative``: our analytic ``f_grad(x)`` against ``jax.grad`` of ``sum(jax.nn.f(x))`` -- the
  hand-written derivative manual backpropagation uses, against what autodiff would compute;
* ``autodiff``: ``jax.grad`` through our forward against ``jax.grad`` through ``jax.nn``'s, i.e.
  what a user pays for our numerically safe forms (``exp(-|x|)``, guarded ``where`` branches).

Each call reads ``x`` and writes one array, ``8 n`` bytes, so rows report GB/s. No fraction of
the streaming bandwidth is reported: 4 MiB buffers sit in the last-level cache of most CPUs and
in a GPU's L2, so a DRAM bound would not apply (rows exceeded it on this machine's CPU). The
target is a ratio ours/peer within 1.2.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from nndl_jax.benchmarks._harness import case, compare

N = 2**20

# name -> (ours, our derivative, jax.nn's)
_KERNELS = {
    "relu": ("relu", "relu_grad", jax.nn.relu),
    "gelu": ("gelu", "gelu_grad", functools.partial(jax.nn.gelu, approximate=False)),
    "softplus": ("softplus", "softplus_grad", jax.nn.softplus),
    "sigmoid": ("sigmoid", "sigmoid_grad", jax.nn.sigmoid),
}


def _grad_of_sum(f):
    return jax.grad(lambda x: jnp.sum(f(x)))


@case("nn", "activations")
def activations(quick: bool) -> list[dict]:
    from nndl_jax.nn import activations as act

    timing = {"repeats": 5, "number": 3, "warmup": 1} if quick else {"repeats": 15, "number": 10}
    # a spread that reaches the saturated tails as well as the kinks
    x = 4.0 * jax.random.normal(jax.random.key(0), (N,), jnp.float32)
    jax.block_until_ready(x)
    bytes_moved = 2 * N * x.dtype.itemsize
    rows = []
    for name, (forward, derivative, peer) in _KERNELS.items():
        ours, ours_grad = getattr(act, forward), getattr(act, derivative)
        pairs = {
            "forward": (ours, peer, "jax.nn." + name),
            "derivative": (ours_grad, _grad_of_sum(peer), f"jax.grad(sum(jax.nn.{name}))"),
            "autodiff": (_grad_of_sum(ours), _grad_of_sum(peer), f"jax.grad(sum(jax.nn.{name}))"),
        }
        for op, (fn_ours, fn_peer, peer_name) in pairs.items():
            row = compare(
                fn_ours,
                fn_peer,
                (x,),
                peer_name=peer_name,
                bytes_moved=bytes_moved,
                activation=name,
                op=op,
                n=N,
                dtype="float32",
                **timing,
            )
            rows.append(row)
    return rows
