"""Schedules against their formulas at chosen counts (NumPy float64), under jit and on arrays."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.optim import schedules


def _at(schedule, counts):
    return np.asarray(jax.jit(schedule)(jnp.asarray(counts, jnp.int32)), np.float64)


def test_constant_and_piecewise_constant():
    np.testing.assert_allclose(_at(schedules.constant(0.3), [0, 7, 10**6]), 0.3, rtol=1e-7, atol=0)
    step = schedules.piecewise_constant(1.0, {10: 0.1, 20: 0.5})
    np.testing.assert_allclose(
        _at(step, [0, 9, 10, 19, 20, 500]), [1, 1, 0.1, 0.1, 0.05, 0.05], rtol=1e-6, atol=0
    )


def test_book_decays_at_unit_transition():
    t = np.array([0, 1, 5, 40])
    np.testing.assert_allclose(
        _at(schedules.inverse_time_decay(0.5, 1, 0.2), t), 0.5 / (1 + 0.2 * t), rtol=1e-6, atol=0
    )
    beta = float(np.float32(0.9))  # what float32 computes with; 0.9**40 would differ by 1e-6
    np.testing.assert_allclose(
        _at(schedules.exponential_decay(0.5, 1, 0.9), t), 0.5 * beta**t, rtol=1e-6, atol=0
    )
    np.testing.assert_allclose(
        _at(schedules.natural_exp_decay(0.5, 1, 0.2), t), 0.5 * np.exp(-0.2 * t), rtol=1e-6, atol=0
    )


def test_staircase_and_transition_begin_and_end_value():
    s = schedules.exponential_decay(1.0, 10, 0.5, transition_begin=5, staircase=True, end_value=0.2)
    np.testing.assert_allclose(
        _at(s, [0, 5, 14, 15, 25, 35, 100]), [1, 1, 1, 0.5, 0.25, 0.2, 0.2], rtol=1e-6, atol=0
    )
    stairs = schedules.inverse_time_decay(1.0, 10, 1.0, staircase=True)
    np.testing.assert_allclose(_at(stairs, [9, 10, 29]), [1, 0.5, 1 / 3], rtol=1e-6, atol=0)


def test_cosine_decay_ends_at_alpha():
    s = schedules.cosine_decay(2.0, 100, alpha=0.1)
    np.testing.assert_allclose(
        _at(s, [0, 50, 100, 1000]), [2.0, 2.0 * (0.1 + 0.9 * 0.5), 0.2, 0.2], rtol=1e-6, atol=0
    )


def test_warmup_ramps_then_hands_over_with_restarted_count():
    inner = schedules.exponential_decay(1.0, 1, 0.5)
    s = schedules.warmup(inner, 4, init_value=0.2)
    np.testing.assert_allclose(
        _at(s, [0, 1, 2, 3, 4, 5, 6]), [0.2, 0.4, 0.6, 0.8, 1.0, 0.5, 0.25], rtol=1e-6, atol=0
    )
    assert schedules.warmup(inner, 0) is inner
    np.testing.assert_allclose(
        _at(schedules.warmup(0.1, 5), [0, 1, 5, 9]), [0, 0.02, 0.1, 0.1], rtol=1e-6, atol=0
    )


def test_the_books_warmup():
    # α'_t = t α₀ / T' for the updates t = 1..T' (count t - 1), then α₀
    alpha0, t_prime = 0.3, 5
    s = schedules.warmup(alpha0, t_prime - 1, init_value=alpha0 / t_prime)
    t = np.arange(1, 9)
    np.testing.assert_allclose(
        _at(s, t - 1), alpha0 * np.minimum(t, t_prime) / t_prime, rtol=1e-6, atol=0
    )


def test_triangular_cycles():
    s = schedules.triangular(0.1, 0.5, 4)
    np.testing.assert_allclose(
        _at(s, [0, 2, 4, 6, 8, 12, 16]), [0.1, 0.3, 0.5, 0.3, 0.1, 0.5, 0.1], rtol=1e-6, atol=0
    )
    halved = schedules.triangular(0.1, 0.5, 4, decay=0.5)
    np.testing.assert_allclose(_at(halved, [4, 12, 20]), [0.5, 0.3, 0.2], rtol=1e-6, atol=0)


@pytest.mark.parametrize("mult", [1, 2, 3])
def test_sgdr_restarts_at_the_right_counts(mult):
    period, top, alpha = 10, 0.4, 0.05
    starts, length = [0], period
    while starts[-1] < 10**6:
        starts.append(starts[-1] + length)
        length *= mult
    starts = np.array(starts[:-1][:200])  # up to 10^6 counts (a sample when mult = 1)
    lengths = period * mult ** np.arange(len(starts))

    def expected(t_cur):
        return top * (alpha + (1 - alpha) * 0.5 * (1 + np.cos(np.pi * t_cur / lengths)))

    # each restart jumps back to the top; its middle and its last count follow the cosine
    counts = np.concatenate([starts, starts + lengths // 2, starts + lengths - 1])
    got = np.split(np.asarray(jax.jit(schedules.sgdr(top, period, mult, alpha=alpha))(counts)), 3)
    np.testing.assert_allclose(got[0], top, rtol=1e-6, atol=0)
    np.testing.assert_allclose(got[1], expected(lengths // 2), rtol=1e-5, atol=0)
    np.testing.assert_allclose(got[2], expected(lengths - 1), rtol=1e-5, atol=0)


ALL = {
    "constant": schedules.constant(0.1),
    "piecewise_constant": schedules.piecewise_constant(0.1, {5: 0.5}),
    "inverse_time_decay": schedules.inverse_time_decay(0.1, 3, 0.5),
    "exponential_decay": schedules.exponential_decay(0.1, 3, 0.5),
    "natural_exp_decay": schedules.natural_exp_decay(0.1, 3, 0.5),
    "cosine_decay": schedules.cosine_decay(0.1, 10),
    "warmup": schedules.warmup(schedules.cosine_decay(0.1, 10), 3),
    "triangular": schedules.triangular(0.01, 0.1, 3),
    "sgdr": schedules.sgdr(0.1, 3, 2),
}


@pytest.mark.parametrize("name", ALL)
def test_jit_scalar_counts_equal_array_evaluation(name):
    s = ALL[name]
    counts = jnp.arange(30, dtype=jnp.int32)
    on_array = np.asarray(s(counts))
    one_by_one = np.array([float(jax.jit(s)(jnp.int32(c))) for c in range(30)])
    # atol: a rate near 0 (1 + cos near π) carries the absolute rounding of the cosine, ~1e-8
    np.testing.assert_allclose(one_by_one, on_array, rtol=1e-6, atol=1e-8)
    assert jax.jit(s)(jnp.int32(3)).shape == ()
    assert np.all(np.isfinite(on_array)) and np.all(on_array >= 0)
    assert on_array.dtype == np.float32


def test_python_int_counts_work():
    assert math.isclose(float(schedules.cosine_decay(1.0, 4)(2)), 0.5, rel_tol=1e-6)
