r"""Learning-rate schedules: functions from the update count to a rate.

Every schedule here is a pure function ``schedule(count) -> rate`` that works under ``jit`` and
elementwise on an array of counts (``schedule(jnp.arange(100))`` gives the curve to plot). Any
optimizer of ``nndl_jax.optim`` accepts one in place of a constant ``learning_rate``.

Step convention (optax's): ``count`` is the number of updates made before this one, so the
first update uses ``schedule(0)``. The book numbers iterations from ``t = 1``; its ``α_t`` is
``schedule(t - 1)`` here. Rates come out in the default float dtype (float32, or float64 under
x64). A negative count gives the rate at count 0 (as optax's schedules do), except in
``cosine_decay``, which follows ``optax.cosine_decay_schedule`` there too. Real-valued
hyperparameters may be traced (a schedule built under ``jit``, ``vmap`` or ``grad``); only
concrete values are range-checked. Integer ones (step counts, periods, boundaries) must be
concrete.

Learning-rate decay (book §7.2.3.1), for an initial rate ``α₀``, decay rate ``β`` and a
transition length ``T`` (the book's formulas are the case ``T = 1``), and the optax schedule
each one is verified against:

- ``constant``: ``α₀`` (``optax.constant_schedule``).
- ``piecewise_constant`` (step decay): ``α₀ · Π_{b_i <= t} s_i``
  (``optax.piecewise_constant_schedule``).
- ``inverse_time_decay``: ``α₀ / (1 + β t/T)`` (no optax twin: closed form).
- ``exponential_decay``: ``α₀ · β^{t/T}`` (``optax.exponential_decay``).
- ``natural_exp_decay``: ``α₀ · exp(-β t/T)`` (``optax.exponential_decay`` with base ``e^{-β}``).
- ``cosine_decay``: ``α₀ (a + (1-a) ½(1 + cos(π min(t,T)/T)))`` (``optax.cosine_decay_schedule``).
- ``warmup``: linear from ``α_init`` to ``s(0)`` over ``W`` counts, then ``s(t - W)``
  (``optax.join_schedules`` of ``linear_schedule`` and the twin of ``s``).
- ``triangular``: Smith's cyclic triangle between ``α_min`` and ``α_max`` (no optax twin:
  ``optax.join_schedules`` of linear pieces).
- ``sgdr``: cosine annealing with warm restarts, periods ``T₀ T_mult^i``
  (``optax.sgdr_schedule`` with the cycles listed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import check_non_negative, check_positive, check_positive_int, is_traced

Schedule = Callable[[jax.Array], jax.Array]


def _time(count) -> jax.Array:
    """The count as a float of the default dtype (float32, float64 under x64)."""
    return jnp.asarray(count).astype(jnp.result_type(float))


def _elapsed(count) -> jax.Array:
    """``_time(count)``, with negative counts taken as 0.

    A formula evaluated at a negative count can give a rate above ``α₀``, a negative rate, or
    an infinity (``1 + βt/T = 0``); even in a ``jnp.where`` branch that is then discarded, an
    infinity there turns derivatives with respect to the hyperparameters into NaN.
    """
    return jnp.maximum(_time(count), 0)


def _check_count(name: str, value) -> int:
    """A count: an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def constant(value: float) -> Schedule:
    """``α_t = α₀`` for every ``t``.

    >>> constant(0.1)(5)
    Array(0.1, dtype=float32)
    """
    value = check_non_negative("value", value)
    return lambda count: jnp.full(jnp.shape(count), value, jnp.result_type(float))


def piecewise_constant(
    init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    r"""Step decay: multiply the rate by ``s_i`` from count ``b_i`` on.

    .. math::
        α_t = α_0 \prod_{i:\ b_i \le t} s_i

    Args:
      init_value: ``α₀ >= 0``.
      boundaries_and_scales: ``{b_i: s_i}`` with integer counts ``b_i >= 0`` and scales
        ``s_i >= 0``; e.g. ``{100: 0.1, 200: 0.1}`` divides the rate by 10 at counts 100 and 200.
        Same convention as ``optax.piecewise_constant_schedule``.
    """
    init_value = check_non_negative("init_value", init_value)
    pairs = []
    for boundary, scale in sorted((boundaries_and_scales or {}).items()):
        pairs.append(
            (
                _check_count("boundaries_and_scales boundary", boundary),
                check_non_negative(f"boundaries_and_scales[{boundary}]", scale),
            )
        )

    def schedule(count):
        t = jnp.asarray(count)
        rate = jnp.full(jnp.shape(t), init_value, jnp.result_type(float))
        for boundary, scale in pairs:
            rate = jnp.where(t >= boundary, rate * scale, rate)
        return rate

    return schedule


def _decay_time(count, transition_steps: int, staircase: bool) -> jax.Array:
    p = _elapsed(count) / transition_steps
    return jnp.floor(p) if staircase else p


def inverse_time_decay(
    init_value: float, transition_steps: int, decay_rate: float, *, staircase: bool = False
) -> Schedule:
    r"""Inverse time decay: ``α_t = α₀ / (1 + β t/T)`` (the book's ``α₀/(1 + βt)`` at ``T = 1``).

    Args:
      init_value: ``α₀ >= 0``.
      transition_steps: ``T``, a positive integer.
      decay_rate: ``β >= 0``.
      staircase: use ``⌊t/T⌋`` (decay in steps of ``T`` updates).
    """
    init_value = check_non_negative("init_value", init_value)
    transition_steps = check_positive_int("transition_steps", transition_steps)
    decay_rate = check_non_negative("decay_rate", decay_rate)

    def schedule(count):
        return init_value / (1 + decay_rate * _decay_time(count, transition_steps, staircase))

    return schedule


def exponential_decay(
    init_value: float,
    transition_steps: int,
    decay_rate: float,
    *,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    r"""Exponential decay: ``α_t = α₀ β^{(t - B)/T}`` for ``t > B``, ``α₀`` before.

    The book's ``α_t = α₀ β^t`` is ``T = 1, B = 0``. Same arguments and values as
    ``optax.exponential_decay`` (which takes ``transition_begin`` and ``staircase`` positionally).

    Args:
      init_value: ``α₀ >= 0``.
      transition_steps: ``T``, a positive integer.
      decay_rate: ``β > 0`` (``β > 1`` grows).
      transition_begin: ``B >= 0``, counts to hold ``α₀`` before decaying.
      staircase: use ``⌊(t - B)/T⌋``.
      end_value: a bound the rate does not pass (a floor when ``β < 1``, a ceiling when
        ``β > 1``), or None.
    """
    init_value = check_non_negative("init_value", init_value)
    transition_steps = check_positive_int("transition_steps", transition_steps)
    decay_rate = check_positive("decay_rate", decay_rate)
    transition_begin = _check_count("transition_begin", transition_begin)
    if end_value is not None:
        end_value = check_non_negative("end_value", end_value)

    def schedule(count):
        since = _time(count) - transition_begin
        p = since / transition_steps
        if staircase:
            p = jnp.floor(p)
        rate = jnp.where(since <= 0, init_value, init_value * jnp.power(decay_rate, p))
        if end_value is not None:
            # a floor when decaying, a ceiling when growing (decay_rate may be traced)
            rate = jnp.where(
                decay_rate < 1, jnp.maximum(rate, end_value), jnp.minimum(rate, end_value)
            )
        return rate

    return schedule


def natural_exp_decay(
    init_value: float, transition_steps: int, decay_rate: float, *, staircase: bool = False
) -> Schedule:
    r"""Natural exponential decay: ``α_t = α₀ exp(-β t/T)``.

    The book's ``α₀ e^{-βt}`` is ``T = 1``. It is ``exponential_decay`` with base ``e^{-β}``.

    Args:
      init_value: ``α₀ >= 0``.
      transition_steps: ``T``, a positive integer.
      decay_rate: ``β >= 0``.
      staircase: use ``⌊t/T⌋``.
    """
    init_value = check_non_negative("init_value", init_value)
    transition_steps = check_positive_int("transition_steps", transition_steps)
    decay_rate = check_non_negative("decay_rate", decay_rate)

    def schedule(count):
        return init_value * jnp.exp(-decay_rate * _decay_time(count, transition_steps, staircase))

    return schedule


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0) -> Schedule:
    r"""Cosine decay from ``α₀`` to ``a·α₀`` over ``T`` counts, then constant.

    .. math::
        α_t = α_0 \left(a + (1 - a)\, \tfrac12 \big(1 + \cos(π \min(t, T)/T)\big)\right)

    Same as ``optax.cosine_decay_schedule(α₀, T, alpha=a)``; the book's cosine decay is
    ``a = 0``.

    Args:
      init_value: ``α₀ >= 0``.
      decay_steps: ``T``, a positive integer.
      alpha: ``a`` in [0, 1], the final rate as a fraction of ``α₀``.
    """
    init_value = check_non_negative("init_value", init_value)
    decay_steps = check_positive_int("decay_steps", decay_steps)
    alpha = _check_unit("alpha", alpha)

    def schedule(count):
        t = jnp.minimum(_time(count), decay_steps)
        return init_value * (alpha + (1 - alpha) * 0.5 * (1 + jnp.cos(math.pi * t / decay_steps)))

    return schedule


def warmup(schedule: Schedule | float, warmup_steps: int, *, init_value: float = 0.0) -> Schedule:
    r"""Linear warm-up in front of any schedule.

    .. math::
        α_t = \begin{cases}
            α_{init} + (s(0) - α_{init})\, t / W & t < W \\
            s(t - W) & t \ge W
        \end{cases}

    The wrapped schedule ``s`` starts, from its own count 0, when the warm-up ends. With
    ``init_value=0`` the first update has rate 0 (as in optax's warm-ups). The book's warm-up
    ``α'_t = t α₀ / T'`` for updates ``t = 1..T'`` is ``warmup(α₀, T' - 1, init_value=α₀/T')``.
    ``warmup(cosine_decay(p, D, a), W, init_value=i)`` equals
    ``optax.warmup_cosine_decay_schedule(i, p, W, W + D, a·p)``.

    Args:
      schedule: the schedule to warm up into, or a constant rate.
      warmup_steps: ``W``, a non-negative integer (0 returns ``schedule`` unchanged).
      init_value: ``α_init >= 0``, the rate at count 0.
    """
    if not callable(schedule):
        schedule = constant(check_non_negative("schedule", schedule))
    warmup_steps = _check_count("warmup_steps", warmup_steps)
    init_value = check_non_negative("init_value", init_value)
    if warmup_steps == 0:
        return schedule

    def warmed_up(count):
        t = _elapsed(count)
        peak = schedule(jnp.zeros_like(jnp.asarray(count)))
        ramp = init_value + (peak - init_value) * (t / warmup_steps)
        # the wrapped schedule never sees a negative count, not even in the discarded branch
        after = schedule(jnp.maximum(jnp.asarray(count) - warmup_steps, 0))
        return jnp.where(t < warmup_steps, ramp, after)

    return warmed_up


def triangular(
    min_value: float, max_value: float, step_size: int, *, decay: float = 1.0
) -> Schedule:
    r"""Cyclic triangular rate (Smith 2017): up from ``α_min`` to ``α_max`` and back, repeated.

    A cycle lasts ``2S`` counts (``S = step_size``, half a cycle). With cycle index
    ``m = ⌊t / 2S⌋`` and ``x = |t/S - 2m - 1|``,

    .. math::
        α_t = α_{min} + (α_{max} - α_{min})\, γ^m \max(0, 1 - x)

    so ``α_0 = α_min`` and the peak is at ``t = S``. ``γ = decay`` shrinks the amplitude each
    cycle: 1 is Smith's "triangular", 0.5 his "triangular2" (and PyTorch's ``CyclicLR``
    modes of the same names, which count cycles from 1). optax has no cyclic schedule.

    Args:
      min_value: ``α_min >= 0``.
      max_value: ``α_max >= α_min``.
      step_size: ``S``, a positive integer (half a cycle).
      decay: ``γ`` in [0, 1], the amplitude factor per cycle.
    """
    min_value = check_non_negative("min_value", min_value)
    max_value = check_non_negative("max_value", max_value)
    if not (is_traced(min_value) or is_traced(max_value)) and max_value < min_value:
        raise ValueError(f"max_value must be >= min_value={min_value}, got {max_value}")
    step_size = check_positive_int("step_size", step_size)
    decay = _check_unit("decay", decay)

    def schedule(count):
        t = _elapsed(count)
        cycle = jnp.floor(t / (2 * step_size))
        into = t - 2 * step_size * cycle  # counts into the cycle, an exact integer
        # (S - |into - S|) / S is 1 - x; integer-valued numerator keeps cycle ends exact
        height = jnp.maximum(0, step_size - jnp.abs(into - step_size)) / step_size
        return min_value + (max_value - min_value) * jnp.power(decay, cycle) * height

    return schedule


def sgdr(init_value: float, period: int, period_mult: int = 1, *, alpha: float = 0.0) -> Schedule:
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Restart ``i`` (from 0) lasts ``T_i = T₀ · T_mult^i`` counts and starts at
    ``t_i = T₀ (T_mult^i - 1)/(T_mult - 1)`` (``i T₀`` when ``T_mult = 1``). Within it,
    with ``T_cur = t - t_i``,

    .. math::
        α_t = α_0 \left(a + (1 - a)\, \tfrac12 \big(1 + \cos(π\, T_{cur} / T_i)\big)\right)

    i.e. the paper's ``η_min + ½(η_max - η_min)(1 + cos(π T_cur/T_i))`` with
    ``η_max = α₀, η_min = a α₀``; each restart jumps back to ``α₀``. Equals
    ``optax.sgdr_schedule`` given the cycles one by one (``warmup_steps=0``,
    ``decay_steps=T_i``, ``end_value=a α₀``), without listing them in advance. Cycle starts
    are computed in the float dtype, exact up to ``2^24`` counts in float32.

    Args:
      init_value: ``α₀ >= 0``, the rate at each restart.
      period: ``T₀``, a positive integer.
      period_mult: ``T_mult``, a positive integer (1: equal periods, 2: each twice as long).
      alpha: ``a`` in [0, 1], the rate at the end of a period as a fraction of ``α₀``.
    """
    init_value = check_non_negative("init_value", init_value)
    period = check_positive_int("period", period)
    period_mult = check_positive_int("period_mult", period_mult)
    alpha = _check_unit("alpha", alpha)

    def start_of(i):
        if period_mult == 1:
            return period * i
        return period * (jnp.power(float(period_mult), i) - 1) / (period_mult - 1)

    def schedule(count):
        t = _elapsed(count)
        if period_mult == 1:
            i = jnp.floor(t / period)
        else:
            i = jnp.floor(jnp.log1p(t * (period_mult - 1) / period) / math.log(period_mult))
        # the division or logarithm can round across a restart; the exact starts settle it
        i = jnp.where(t < start_of(i), i - 1, i)
        i = jnp.where(t >= start_of(i + 1), i + 1, i)
        t_cur = t - start_of(i)
        t_i = period * jnp.power(float(period_mult), i)
        return init_value * (alpha + (1 - alpha) * 0.5 * (1 + jnp.cos(math.pi * t_cur / t_i)))

    return schedule


def _check_unit(name: str, value) -> float:
    value = check_non_negative(name, value)
    if not is_traced(value) and value > 1:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return value
