"""Decoupled weight decay: add ``λθ`` to the update, optionally on a subset of the parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from nndl_jax.optim._base import (
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    ScheduleState,
    check_rate,
    check_updates,
    increment,
    zero_count,
)


def _mask_tree(mask: Any, params: Any) -> Any:
    """The boolean mask, as a tree shaped like ``params`` (a callable mask is called on them)."""
    tree = mask(params) if callable(mask) else mask
    # A mask may be a prefix of the params tree: one boolean covers a whole subtree.
    try:
        return jax.tree.map(lambda m, sub: jax.tree.map(lambda _: bool(m), sub), tree, params)
    except ValueError as err:
        raise TypeError(
            f"mask must be a tree of booleans with the structure of params (or a prefix of it), "
            f"got mask: {jax.tree.structure(tree)} and params: {jax.tree.structure(params)}"
        ) from err


def add_decayed_weights(
    weight_decay: ScalarOrSchedule, mask: Any | Callable[[Any], Any] | None = None
) -> GradientTransformation:
    r"""Add the decayed weights: ``u ← u + λ_t θ``.

    Placed before ``scale_by_learning_rate`` this is decoupled weight decay (Loshchilov &
    Hutter 2019): ``θ_t = θ_{t-1} - α (u_t + λθ_{t-1})``, so the decay is not rescaled by an
    adaptive denominator, unlike an L2 term in the loss (which enters ``g`` and is). Same as
    ``optax.add_decayed_weights``.

    Args:
      weight_decay: ``λ``, a number >= 0 or a schedule ``count -> λ`` (first update: count 0).
      mask: None (decay everything), or a tree of booleans with the structure of the params (or
        a prefix of it), or a callable ``params -> such a tree``; ``True`` leaves are decayed.
        Usually weights are decayed and biases and normalization scales are not.

    Returns:
      A ``GradientTransformation``; its state is ``EmptyState()``, or ``ScheduleState(count)``
      for a scheduled ``λ``. ``update`` needs ``params``. Each update keeps its dtype, except
      that a real update of a complex parameter becomes complex (``λθ`` is), as in optax.

    Raises:
      TypeError: a ``weight_decay`` that is neither a number nor a schedule, or (in ``update``)
        a ``mask`` that is not a tree shaped like the params or a prefix of it.
      ValueError: a negative or non-finite ``weight_decay``, or ``update`` called without
        ``params``.
    """
    weight_decay = check_rate("weight_decay", weight_decay)
    scheduled = callable(weight_decay)

    def init(params):
        del params
        return ScheduleState(count=zero_count()) if scheduled else EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError(
                "add_decayed_weights needs the parameters: call update(updates, state, params)"
            )
        check_updates(updates, params)
        if scheduled:
            decay, new_state = weight_decay(state.count), ScheduleState(increment(state.count))
        else:
            decay, new_state = weight_decay, state
        keep = jax.tree.map(lambda _: True, params) if mask is None else _mask_tree(mask, params)

        def leaf(u, p, on):
            if not on:
                return u
            dtype = jnp.result_type(u)
            if jnp.iscomplexobj(p) and not jnp.issubdtype(dtype, jnp.complexfloating):
                # λθ has an imaginary part that a real update's dtype would drop: keep it
                dtype = jnp.promote_types(dtype, jnp.result_type(p))
            return jnp.asarray(u + decay * p).astype(dtype)

        return jax.tree.map(leaf, updates, params, keep), new_state

    return GradientTransformation(init, update)
