"""Gradient clipping: by value, by each leaf's norm, by the global norm."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from nndl_jax._validate import check_non_negative, check_positive
from nndl_jax.optim._base import (
    EmptyState,
    GradientTransformation,
    abs_sq,
    accumulator_dtype,
    check_updates,
)


def _init_empty(params):
    del params
    return EmptyState()


def l2_norm(arrays: Sequence[jax.Array]) -> jax.Array:
    """``√(Σ |x|²)`` over all elements of ``arrays``, in at least float32, without overflow.

    The squares are taken after dividing by the largest magnitude, so a float32 gradient of
    norm 1e30 has norm 1e30 rather than ``inf`` (whose clipping would zero every update). All
    zeros give 0. Complex elements count with their modulus; the norm is real.
    """
    dtype = jnp.result_type(*(accumulator_dtype(x) for x in arrays))
    arrays = [jnp.asarray(x, dtype) for x in arrays]
    largest = jnp.max(jnp.stack([jnp.max(jnp.abs(x), initial=0) for x in arrays]))
    unit = jnp.where(largest > 0, largest, 1)
    total = sum(jnp.sum(abs_sq(x / unit)) for x in arrays)
    return unit * jnp.sqrt(total)


def _rescale(u: jax.Array, norm: jax.Array, max_norm: float) -> jax.Array:
    # max_norm / max(norm, max_norm) is exactly 1 below the threshold and never 0/0
    u = jnp.asarray(u)
    factor = max_norm / jnp.maximum(norm, max_norm)
    return (u * factor).astype(u.dtype)


def clip_by_value(max_delta: float) -> GradientTransformation:
    r"""Clip each coordinate into ``[-δ, δ]``: ``u ← \min(\max(u, -δ), δ)``. Stateless.

    Same as ``optax.clip`` and PyTorch's ``clip_grad_value_``. Complex updates have no order
    and are a TypeError (optax raises too); clip them by norm instead.

    Args:
      max_delta: ``δ >= 0``.
    """
    max_delta = check_non_negative("max_delta", max_delta)

    def update(updates, state, params=None):
        check_updates(updates, params)
        for path, u in jax.tree_util.tree_flatten_with_path(updates)[0]:
            if jnp.iscomplexobj(u):
                raise TypeError(
                    f"clip_by_value needs real updates (complex numbers have no order), got "
                    f"{jnp.result_type(u)} at updates{jax.tree_util.keystr(path)}; use "
                    "clip_by_norm or clip_by_global_norm"
                )
        return jax.tree.map(lambda u: jnp.clip(u, -max_delta, max_delta), updates), state

    return GradientTransformation(_init_empty, update)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    r"""Rescale the whole update so that its global norm is at most ``c``.

    .. math::
        u ← u \cdot \frac{c}{\max(\|u\|, c)}, \qquad \|u\| = \sqrt{\textstyle\sum_{leaves} \sum u^2}

    The direction is kept (Pascanu et al. 2013; the book's gradient clipping by norm). Updates
    that are all zero stay zero (no 0/0), and the norm is computed without overflow (see
    ``l2_norm``). Differences: ``optax.clip_by_global_norm`` computes the same rescaling
    (up to rounding) but, in float32, returns zeros once the sum of squares overflows (norm
    above ~1.8e19); PyTorch's ``clip_grad_norm_`` divides by ``norm + 1e-6``.

    Args:
      max_norm: ``c > 0``.
    """
    max_norm = check_positive("max_norm", max_norm)

    def update(updates, state, params=None):
        check_updates(updates, params)
        leaves = jax.tree.leaves(updates)
        if not leaves:
            return updates, state
        norm = l2_norm(leaves)
        return jax.tree.map(lambda u: _rescale(u, norm, max_norm), updates), state

    return GradientTransformation(_init_empty, update)


def clip_by_norm(max_norm: float) -> GradientTransformation:
    r"""Rescale each leaf separately so that its norm is at most ``c``: ``u ← u · c / max(‖u‖, c)``.

    Each parameter array (a weight matrix, a bias) is clipped on its own, so one exploding
    layer does not shrink the others' updates. It equals ``optax.clip_by_global_norm`` applied
    to each leaf alone; optax's per-leaf ``clip_by_block_rms`` bounds each leaf's RMS
    ``‖u‖/√size`` instead of its norm.

    Args:
      max_norm: ``c > 0``.
    """
    max_norm = check_positive("max_norm", max_norm)

    def update(updates, state, params=None):
        check_updates(updates, params)
        return jax.tree.map(lambda u: _rescale(u, l2_norm([u]), max_norm), updates), state

    return GradientTransformation(_init_empty, update)
