"""Each optimizer's compiled step does no more memory passes than its optax twin's.

An optimizer step is memory-bound: its cost is the number of fused loops XLA emits and the
arrays each one reads. Ours and optax's implement the same rule, so they must compile to as few
loops with as few operands and no extra copies; a change that splits a loop or materialises an
intermediate (the usual way such code gets slower) fails here, on any XLA version, without
timing anything.
"""

import re

import jax
import jax.numpy as jnp
import optax
import pytest
from nndl_jax.benchmarks.optim import OPTIMIZERS, _pairs, update_step

from nndl_jax import optim

PAIRS = _pairs()


def _params():
    # No scalar leaf: there XLA may give amsgrad's bias-corrected ν its own one-element loop
    # (its maximum is a select that reads ν̂ twice, for the derivative; see _amsgrad.py),
    # which costs nothing measurable.
    return {"a": jnp.zeros(96), "b": jnp.zeros((8, 12)), "c": [jnp.zeros((4, 4, 6))]}


def _passes(transform, apply_updates) -> tuple[int, int, int]:
    """(fused loops, their operands, copies) in the compiled, donated step."""
    params = _params()
    state = transform.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    step = jax.jit(update_step(transform, apply_updates), donate_argnums=(0, 1))
    text = step.lower(params, state, grads).compile().as_text()
    entry = text[text.index("\nENTRY") :]
    loops = re.findall(r" fusion\(([^)]*)\)", entry)
    operands = sum(len(args.split(",")) for args in loops)
    return len(loops), operands, len(re.findall(r" copy\(", entry))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_no_more_passes_than_optax(name):
    pair = PAIRS[name]
    ours = _passes(pair.ours(), optim.apply_updates)
    theirs = _passes(pair.peer(), optax.apply_updates)
    assert ours[0] >= 1  # the counting sees the loops at all
    assert all(a <= b for a, b in zip(ours, theirs, strict=True)), (
        f"{name}: ours (loops, operands, copies) = {ours}, {pair.peer_name}: {theirs}"
    )


def test_flatten_no_more_passes_than_optax_flatten():
    ours = _passes(optim.flatten(optim.adam(1e-3)), optim.apply_updates)
    theirs = _passes(optax.flatten(optax.adam(1e-3)), optax.apply_updates)
    assert all(a <= b for a, b in zip(ours, theirs, strict=True)), (ours, theirs)
