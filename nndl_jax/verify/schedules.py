"""Learning-rate schedules beside optax's (or a closed form), over the first 300 counts.

Each check evaluates our schedule and the reference on the counts 0..299 (crossing every
boundary, restart and cycle) and returns the ``close_error`` of ``verify.optim``: at most
``atol`` when ``|ours - reference| <= atol + rtol |reference|`` (float32: ``rtol = 1e-5,
atol = 1e-6``; x64: both ``1e-12``). optax schedules are fed float counts (``float_count``),
since they compute int32 counts in float32 even under x64. That each optimizer applies
``schedule(count)`` with the first update at count 0 is checked by the optimizer twins
``optim.sgd.schedule.twin`` and ``optim.adam.schedule.twin``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from nndl_jax import verify
from nndl_jax.verify.optim import TOL, TOL_X64, close_error, float_count

COUNTS = 300


def _counts() -> jnp.ndarray:
    return jnp.arange(COUNTS, dtype=jnp.int32)


def _against_optax(pairs) -> float:
    """The largest ``close_error`` over ``(ours, optax_schedule)`` pairs on counts 0..299."""
    t = _counts()
    # broadcast: optax's constant schedule returns a scalar whatever the counts
    return max(
        close_error(ours(t), jnp.broadcast_to(float_count(theirs)(t), t.shape))
        for ours, theirs in pairs
    )


def schedule_check(name: str, reference: str, tier: str = "reference"):
    return verify.check(
        f"optim.schedules.{name}", reference=reference, tol=TOL, tol_x64=TOL_X64, tier=tier
    )


@schedule_check("constant", "optax.constant_schedule")
def _constant():
    import optax

    from nndl_jax.optim import schedules

    return _against_optax([(schedules.constant(0.3), optax.constant_schedule(0.3))])


@schedule_check("piecewise_constant", "optax.piecewise_constant_schedule")
def _piecewise_constant():
    import optax

    from nndl_jax.optim import schedules

    steps = {0: 0.5, 100: 0.1, 150: 2.0, 299: 0.0}
    return _against_optax(
        [(schedules.piecewise_constant(0.4, steps), optax.piecewise_constant_schedule(0.4, steps))]
    )


@schedule_check("exponential_decay", "optax.exponential_decay")
def _exponential_decay():
    import optax

    from nndl_jax.optim import schedules

    return _against_optax(
        [
            (
                schedules.exponential_decay(0.1, 20, 0.7),
                optax.exponential_decay(0.1, 20, 0.7),
            ),
            (
                schedules.exponential_decay(
                    0.1, 20, 0.7, transition_begin=15, staircase=True, end_value=0.01
                ),
                optax.exponential_decay(
                    0.1, 20, 0.7, transition_begin=15, staircase=True, end_value=0.01
                ),
            ),
            (
                schedules.exponential_decay(0.01, 50, 1.5, end_value=0.05),
                optax.exponential_decay(0.01, 50, 1.5, end_value=0.05),
            ),
        ]
    )


@schedule_check("natural_exp_decay", "optax.exponential_decay(α₀, T, e^-β)")
def _natural_exp_decay():
    import optax

    from nndl_jax.optim import schedules

    return _against_optax(
        [
            (
                schedules.natural_exp_decay(0.1, 10, 0.3),
                optax.exponential_decay(0.1, 10, math.exp(-0.3)),
            ),
            (
                schedules.natural_exp_decay(0.1, 10, 0.3, staircase=True),
                optax.exponential_decay(0.1, 10, math.exp(-0.3), staircase=True),
            ),
        ]
    )


@schedule_check("inverse_time_decay", "closed form α₀/(1 + β t/T) in float64", "closed form")
def _inverse_time_decay():
    from nndl_jax.optim import schedules

    t = np.arange(COUNTS, dtype=np.float64)
    smooth = 0.1 / (1 + 0.5 * t / 10)
    stairs = 0.1 / (1 + 0.5 * np.floor(t / 10))
    ours = schedules.inverse_time_decay(0.1, 10, 0.5)(_counts())
    ours_stairs = schedules.inverse_time_decay(0.1, 10, 0.5, staircase=True)(_counts())
    return max(close_error(ours, smooth), close_error(ours_stairs, stairs))


@schedule_check("cosine_decay", "optax.cosine_decay_schedule")
def _cosine_decay():
    import optax

    from nndl_jax.optim import schedules

    return _against_optax(
        [
            (schedules.cosine_decay(0.2, 200), optax.cosine_decay_schedule(0.2, 200)),
            (
                schedules.cosine_decay(0.2, 150, alpha=0.1),
                optax.cosine_decay_schedule(0.2, 150, alpha=0.1),
            ),
        ]
    )


@schedule_check(
    "warmup",
    "optax.warmup_cosine_decay_schedule, warmup_exponential_decay_schedule, "
    "warmup_constant_schedule",
)
def _warmup():
    import optax

    from nndl_jax.optim import schedules

    return _against_optax(
        [
            (
                schedules.warmup(schedules.cosine_decay(0.2, 200, alpha=0.05), 50, init_value=0.01),
                optax.warmup_cosine_decay_schedule(0.01, 0.2, 50, 250, end_value=0.01),
            ),
            (
                schedules.warmup(schedules.exponential_decay(0.2, 20, 0.8, staircase=True), 30),
                optax.warmup_exponential_decay_schedule(0.0, 0.2, 30, 20, 0.8, staircase=True),
            ),
            (schedules.warmup(0.1, 40), optax.warmup_constant_schedule(0.0, 0.1, 40)),
        ]
    )


@schedule_check("triangular", "optax.join_schedules of linear_schedule ramps")
def _triangular():
    import optax

    from nndl_jax.optim import schedules

    low, high, half, decay = 0.01, 0.1, 25, 0.5
    ramps, boundaries = [], []
    for cycle in range(COUNTS // (2 * half) + 1):
        peak = low + (high - low) * decay**cycle
        ramps += [optax.linear_schedule(low, peak, half), optax.linear_schedule(peak, low, half)]
        boundaries += [(2 * cycle + 1) * half, (2 * cycle + 2) * half]
    reference = optax.join_schedules(ramps, boundaries[:-1])
    plain = [optax.linear_schedule(low, high, half), optax.linear_schedule(high, low, half)]
    plain_reference = optax.join_schedules(
        plain * (COUNTS // half), [half * (i + 1) for i in range(2 * (COUNTS // half) - 1)]
    )
    return _against_optax(
        [
            (schedules.triangular(low, high, half, decay=decay), reference),
            (schedules.triangular(low, high, half), plain_reference),
        ]
    )


@schedule_check("sgdr", "optax.sgdr_schedule with the cycles listed")
def _sgdr():
    import optax

    from nndl_jax.optim import schedules

    def cycles(period, mult, alpha):
        listed, length, total = [], period, 0
        while total < COUNTS:
            listed.append(
                dict(
                    init_value=0.1,
                    peak_value=0.1,
                    warmup_steps=0,
                    decay_steps=length,
                    end_value=alpha * 0.1,
                )
            )
            total += length
            length *= mult
        return optax.sgdr_schedule(listed)

    return _against_optax(
        [
            (schedules.sgdr(0.1, 40), cycles(40, 1, 0.0)),
            (schedules.sgdr(0.1, 10, 2, alpha=0.2), cycles(10, 2, 0.2)),
            (schedules.sgdr(0.1, 7, 3), cycles(7, 3, 0.0)),
        ]
    )
