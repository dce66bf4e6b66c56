"""Skip (and count) the updates whose gradients hold a NaN or an infinity."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nndl_jax.optim._base import (
    GradientTransformation,
    check_transform,
    increment,
    zero_count,
)


class SkipNonfiniteState(NamedTuple):
    """State of ``skip_nonfinite``.

    Attributes:
      skipped: int32 number of updates skipped so far.
      last_finite: bool, whether the latest gradients were all finite.
      inner_state: the wrapped transform's state, untouched by skipped updates.
    """

    skipped: jax.Array
    last_finite: jax.Array
    inner_state: Any


def all_finite(tree: Any) -> jax.Array:
    """True when every element of every leaf is finite (no NaN, no ±inf)."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)] or [True]))


def skip_nonfinite(transform: GradientTransformation) -> GradientTransformation:
    """Wrap ``transform`` so that gradients with a NaN or an inf change nothing.

    If any element of the incoming updates is not finite, the wrapper returns zero updates
    and the wrapped state unchanged, and adds one to ``skipped``; otherwise it runs
    ``transform``. A skipped step therefore also leaves step counters (Adam's ``t``, a
    schedule's count) where they were. The choice is a ``lax.cond``, so only one branch runs.

    Same as ``optax.apply_if_finite(transform, max_consecutive_errors)`` with an unlimited
    number of consecutive errors (``skipped`` is its ``total_notfinite``); optax can give up
    and apply non-finite updates after a number of consecutive skips, we never do.

    Args:
      transform: any ``GradientTransformation``.

    Returns:
      A ``GradientTransformation`` with state ``SkipNonfiniteState(skipped, last_finite,
      inner_state)``.
    """
    check_transform("transform", transform)

    def init(params):
        return SkipNonfiniteState(
            skipped=zero_count(),
            last_finite=jnp.array(True),
            inner_state=transform.init(params),
        )

    def update(updates, state, params=None):
        finite = all_finite(updates)

        def apply(_):
            return transform.update(updates, state.inner_state, params)

        def skip(_):
            # zeros shaped like what ``transform`` returns, which may differ in dtype from input;
            # zeros_like of the shape struct also keeps its sharding (with explicit sharding,
            # lax.cond needs both branches sharded alike)
            shapes = jax.eval_shape(apply, None)[0]
            return jax.tree.map(jnp.zeros_like, shapes), state.inner_state

        new_updates, inner_state = jax.lax.cond(finite, apply, skip, None)
        skipped = jnp.where(finite, state.skipped, increment(state.skipped))
        return new_updates, SkipNonfiniteState(skipped, finite, inner_state)

    return GradientTransformation(init, update)
