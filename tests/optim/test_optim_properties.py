"""Properties over random trees and hyperparameters: equal to optax, finite, dtype kept.

Hypothesis draws tree structures (nested dict/list/tuple), gradient scales from 1e-15 to 1e15
and β up to 0.99999; every optimizer takes a few steps beside its optax twin. The runs are
eager (no jit) over a small pool of leaf shapes, so each primitive compiles once and new
hyperparameters never recompile.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st

from nndl_jax import optim

SHAPES = [(), (3,), (2, 3), (2, 1, 2)]
STEPS = 3

leaves = st.sampled_from(SHAPES)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.sampled_from("abc"), children, min_size=1, max_size=3),
    ),
    max_leaves=5,
)
betas = st.one_of(st.floats(0.0, 0.99), st.sampled_from([0.999, 0.9999, 0.99999]))
rates = st.floats(1e-4, 1.0)
epsilons = st.sampled_from([1e-8, 1e-6, 1e-3])
scales = st.sampled_from([1e-15, 1e-6, 1.0, 1e6, 1e15])


def _arrays(shape_tree, rng, scale=1.0):
    return jax.tree.map(
        lambda shape: jnp.asarray(rng.normal(size=shape) * scale, jnp.float32),
        shape_tree,
        is_leaf=lambda x: isinstance(x, tuple) and all(isinstance(d, int) for d in x),
    )


def _twins(name, lr, b1, b2, eps, flag):
    """Ours and optax's configured to compute the same rule (see verify/optim.py)."""
    if name == "sgd":
        return optim.sgd(lr, momentum=b1, nesterov=flag), optax.sgd(lr, b1, nesterov=flag)
    if name == "momentum":
        return optim.momentum(lr, b1), optax.sgd(lr * (1 - b1), momentum=b1)
    if name == "nesterov":
        return optim.nesterov(lr, b1), optax.sgd(lr * (1 - b1), momentum=b1, nesterov=True)
    if name == "adagrad":
        return (
            optim.adagrad(lr, eps=eps, initial_accumulator_value=0.1 if flag else 0.0),
            optax.adagrad(lr, initial_accumulator_value=0.1 if flag else 0.0, eps=eps),
        )
    if name == "rmsprop":
        return (
            optim.rmsprop(lr, b2, eps, eps_in_sqrt=flag),
            optax.rmsprop(lr, b2, eps, eps_in_sqrt=flag),
        )
    if name == "adadelta":
        return optim.adadelta(lr, b2, eps), optax.adadelta(lr, b2, eps)
    if name == "adam":
        return optim.adam(lr, b1, b2, eps), optax.adam(lr, b1, b2, eps)
    if name == "adamw":
        return (
            optim.adamw(lr, b1, b2, eps, weight_decay=0.1),
            optax.adamw(lr, b1, b2, eps, weight_decay=0.1),
        )
    if name == "nadam":
        return optim.nadam(lr, b1, b2, eps), optax.nadam(lr, b1, b2, eps)
    if name == "amsgrad":
        return optim.amsgrad(lr, b1, b2, eps), optax.amsgrad(lr, b1, b2, eps)
    raise AssertionError(name)


NAMES = [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
    "nadam",
    "amsgrad",
]


def _assert_close_to_scale(ours, theirs):
    """rtol 1e-5, and atol 1e-6 relative to the largest reference value of the tree.

    Gradients span 1e-15..1e15, so an absolute atol would be meaningless at either end.
    """
    ref = jax.tree.leaves(theirs)
    scale = max((float(jnp.max(jnp.abs(x))) for x in ref if x.size), default=0.0)
    for a, b in zip(jax.tree.leaves(ours), ref, strict=True):
        assert np.all(np.isfinite(a)), "our updates are not finite"
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(scale, 1e-30))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    shape_tree=trees,
    seed=st.integers(0, 2**16),
    lr=rates,
    b1=betas,
    b2=betas,
    eps=epsilons,
    scale=scales,
    flag=st.booleans(),
)
def test_equal_to_optax_and_finite(name, shape_tree, seed, lr, b1, b2, eps, scale, flag):
    rng = np.random.default_rng(seed)
    params = _arrays(shape_tree, rng)
    ours, theirs = _twins(name, lr, b1, b2, eps, flag)
    p_ours, p_theirs = params, params
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    for _ in range(STEPS):
        grads = _arrays(shape_tree, rng, scale)
        u_ours, s_ours = ours.update(grads, s_ours, p_ours)
        u_theirs, s_theirs = theirs.update(grads, s_theirs, p_theirs)
        _assert_close_to_scale(u_ours, u_theirs)
        p_ours = optim.apply_updates(p_ours, u_ours)
        p_theirs = optax.apply_updates(p_theirs, u_theirs)
    _assert_close_to_scale(p_ours, p_theirs)


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_params_keep_their_dtype(name):
    """bf16 in, bf16 updates and params out; moments in float32; values near a float32 run."""
    rng = np.random.default_rng(0)
    shapes = {"w": (2, 3), "b": [(3,), ()]}
    params32 = _arrays(shapes, rng)
    params16 = jax.tree.map(lambda x: x.astype(jnp.bfloat16), params32)
    params32 = jax.tree.map(lambda x: x.astype(jnp.float32), params16)  # same starting values
    opt = _twins(name, 0.05, 0.9, 0.999, 1e-6, False)[0]
    s16, s32 = opt.init(params16), opt.init(params32)
    for leaf in jax.tree.leaves(s16):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            assert leaf.dtype == jnp.float32  # moments are kept in float32 (documented)
    p16, p32 = params16, params32
    # bfloat16 keeps 8 significant bits: rounding an update or a sum errs by at most 2^-9 of it
    bound = jax.tree.map(jnp.zeros_like, params32)
    for _ in range(STEPS):
        g16 = jax.tree.map(lambda x: x.astype(jnp.bfloat16), _arrays(shapes, rng))
        u16, s16 = opt.update(g16, s16, p16)
        assert all(u.dtype == jnp.bfloat16 for u in jax.tree.leaves(u16))
        p16 = optim.apply_updates(p16, u16)
        assert all(p.dtype == jnp.bfloat16 for p in jax.tree.leaves(p16))
        u32, s32 = opt.update(jax.tree.map(lambda g: g.astype(jnp.float32), g16), s32, p32)
        p32 = optim.apply_updates(p32, u32)
        bound = jax.tree.map(
            lambda e, u, p: e + 2.0**-9 * (jnp.abs(u) + jnp.abs(p)), bound, u32, p32
        )
    for a, b, e in zip(*(jax.tree.leaves(t) for t in (p16, p32, bound)), strict=True):
        a = np.asarray(a, np.float32)
        assert np.all(np.isfinite(a))
        # 1.5: AdamW's decay feeds the (rounded) params back into the next update
        assert np.all(np.abs(a - b) <= 1.5 * e), (a, b, e)


@pytest.mark.parametrize("name", NAMES)
def test_jit_compiles_once_across_steps(name):
    import chex

    chex.clear_trace_counter()  # the counter is keyed by code, shared by the parametrized runs
    opt = _twins(name, 0.05, 0.9, 0.999, 1e-6, True)[0]
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    state = opt.init(params)
    for value in (0.5, -1.0, 2.0):
        grads = jax.tree.map(lambda p, v=value: jnp.full_like(p, v), params)
        params, state = step(params, state, grads)
    assert all(bool(jnp.all(jnp.isfinite(p))) for p in jax.tree.leaves(params))
