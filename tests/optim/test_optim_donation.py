"""Every optimizer's state can be donated: no two state leaves share one buffer."""

import jax
import jax.numpy as jnp
import pytest

from nndl_jax import optim

OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1, momentum=0.9),
    "momentum": lambda: optim.momentum(0.1),
    "nesterov": lambda: optim.nesterov(0.1),
    "adagrad": lambda: optim.adagrad(0.1),
    "rmsprop": lambda: optim.rmsprop(0.1, centered=True, momentum=0.9),
    "adadelta": lambda: optim.adadelta(),
    "adam": lambda: optim.adam(0.1),
    "adamw": lambda: optim.adamw(0.1),
    "nadam": lambda: optim.nadam(0.1),
    "amsgrad": lambda: optim.amsgrad(0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_buffers_are_distinct_and_donatable(name):
    opt = OPTIMIZERS[name]()
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones((2,))}
    state = opt.init(params)
    arrays = [x for x in jax.tree.leaves(state) if isinstance(x, jax.Array) and x.ndim > 0]
    pointers = [x.unsafe_buffer_pointer() for x in arrays]
    assert len(set(pointers)) == len(pointers), f"{name}: state leaves share a buffer"

    def step(grads, state, params):
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    grads = jax.tree.map(lambda p: 0.5 * p, params)
    donated_step = jax.jit(step, donate_argnums=(1, 2))
    new_params, _ = donated_step(grads, state, jax.tree.map(jnp.copy, params))
    assert jax.tree.all(jax.tree.map(lambda p: bool(jnp.all(jnp.isfinite(p))), new_params))
