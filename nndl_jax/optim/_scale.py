"""Scaling by a constant, a schedule, or the (negative) learning rate — the last link of a chain.

Step convention (optax's): a schedule is called with the number of updates made *before* this
one, so the first update uses ``schedule(0)``, the second ``schedule(1)``, and so on. The book
counts iterations from t = 1; its ``α_t`` is our ``schedule(t - 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from nndl_jax._validate import as_real, is_traced
from nndl_jax.optim._base import (
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    ScheduleState,
    accumulator_dtype,
    check_rate,
    check_updates,
    increment,
    zero_count,
)


def _times(factor: Any, updates: Any) -> Any:
    # The product is taken in the accumulator dtype (float32 for bfloat16 updates) and cast
    # back, so the updates keep their dtype without first rounding the rate to bfloat16.
    def leaf(u):
        u = jnp.asarray(u)
        acc = accumulator_dtype(u)
        return (jnp.asarray(factor, acc) * u.astype(acc)).astype(u.dtype)

    return jax.tree.map(leaf, updates)


def scale(step_size: float) -> GradientTransformation:
    """Multiply every update by a constant: ``u ← s · u``. Stateless (``EmptyState``).

    Raises:
      TypeError: ``step_size`` is a schedule (use ``scale_by_schedule``) or not a real number.
      ValueError: ``step_size`` is NaN or infinite (any sign is allowed: ``scale(-α)``).
    """
    if callable(step_size):
        raise TypeError("scale expects a number; for a schedule use scale_by_schedule")
    value = as_real(step_size)
    if value is None:
        raise TypeError(
            f"step_size must be a real number, got {type(step_size).__name__}: {step_size!r}"
        )
    if not is_traced(value) and not math.isfinite(value):
        raise ValueError(f"step_size must be a finite number, got {step_size!r}")
    step_size = value

    def init(params):
        del params
        return EmptyState()

    def update(updates, state, params=None):
        check_updates(updates, params)
        return _times(step_size, updates), state

    return GradientTransformation(init, update)


def scale_by_schedule(step_size_fn: Callable[[jax.Array], jax.Array]) -> GradientTransformation:
    """Multiply every update by ``step_size_fn(count)``, where ``count`` counts earlier updates.

    The state is ``ScheduleState(count)``, an int32 that starts at 0, so the first update uses
    ``step_size_fn(0)`` (optax's convention).
    """
    if not callable(step_size_fn):
        raise TypeError(f"step_size_fn must be callable count -> value, got {step_size_fn!r}")

    def init(params):
        del params
        return ScheduleState(count=zero_count())

    def update(updates, state, params=None):
        check_updates(updates, params)
        return _times(step_size_fn(state.count), updates), ScheduleState(increment(state.count))

    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """Multiply by ``-α``: turns a descent direction into the step ``Δθ = -α u``.

    Public optimizers end with this transform, as optax's do, so that a constant rate costs no
    state (``EmptyState``) and a schedule adds only a counter (``ScheduleState``).

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).

    Raises:
      TypeError: ``learning_rate`` is neither a number nor a callable schedule.
      ValueError: ``learning_rate`` is negative or not finite.
    """
    learning_rate = check_rate("learning_rate", learning_rate)
    if callable(learning_rate):
        return scale_by_schedule(lambda count: -learning_rate(count))
    return scale(-learning_rate)
