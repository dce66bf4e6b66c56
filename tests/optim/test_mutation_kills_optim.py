"""Tests added by a mutation-testing audit of ``nndl_jax.optim``.

Each test pins a behaviour that a small source change (a mutant) altered without any other test
noticing. Every expected value comes from an independent reference: optax, or a closed form
computed here with numpy from the book's formula.
"""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim
from nndl_jax.optim import schedules


def _tiny_grads(steps=4, shape=(5,), seed=0):
    """Gradients spread over 1e-7 .. 1e-3, where the default ε dominates or matters."""
    rng = np.random.default_rng(seed)
    scales = np.logspace(-7, -3, shape[0])
    return [(rng.standard_normal(shape) * scales).astype(np.float32) for _ in range(steps)]


def _updates(opt, params, grads):
    state = opt.init(params)
    out = []
    for g in grads:
        u, state = opt.update(g, state, params)
        params = optax.apply_updates(params, u)
        out.append(np.asarray(u))
    return out


DEFAULT_TWINS = {
    "adam": (lambda: optim.adam(0.1), lambda: optax.adam(0.1)),
    "nadam": (lambda: optim.nadam(0.1), lambda: optax.nadam(0.1)),
    "amsgrad": (lambda: optim.amsgrad(0.1), lambda: optax.amsgrad(0.1)),
    "adamw": (lambda: optim.adamw(0.1), lambda: optax.adamw(0.1)),
    "adagrad": (
        lambda: optim.adagrad(0.1),
        lambda: optax.adagrad(0.1, initial_accumulator_value=0.0),
    ),
    "adadelta": (lambda: optim.adadelta(), lambda: optax.adadelta(learning_rate=1.0)),
    "rmsprop": (lambda: optim.rmsprop(0.1), lambda: optax.rmsprop(0.1, eps_in_sqrt=False)),
    "momentum": (lambda: optim.momentum(0.1), lambda: optax.sgd(0.1 * 0.1, momentum=0.9)),
    "nesterov": (
        lambda: optim.nesterov(0.1),
        lambda: optax.sgd(0.1 * 0.1, momentum=0.9, nesterov=True),
    ),
}


@pytest.mark.parametrize("name", sorted(DEFAULT_TWINS))
def test_default_hyperparameters_equal_the_documented_optax_defaults(name):
    """Default ε, β, ρ, λ equal optax's: checked on gradients small enough for ε to matter."""
    ours, theirs = DEFAULT_TWINS[name]
    params = np.linspace(-20.0, 20.0, 5).astype(np.float32)
    grads = _tiny_grads()
    for a, b in zip(
        _updates(ours(), params, grads), _updates(theirs(), params, grads), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-9)


def test_adagrad_without_eps_steps_zero_where_every_gradient_was_zero():
    """With ε = 0 a coordinate whose gradients were all 0 gets step 0 (no 0·∞), as in optax."""
    params = np.array([1.0, 2.0, -1.0], np.float32)
    grads = [np.array([0.0, 3.0, -4.0], np.float32), np.array([0.0, 4.0, 3.0], np.float32)]
    ours = _updates(optim.adagrad(0.1, eps=0.0), params, grads)
    theirs = _updates(optax.adagrad(0.1, initial_accumulator_value=0.0, eps=0.0), params, grads)
    # closed form: -α g_t / √(Σ_{s<=t} g_s²), and 0 where Σ g² = 0
    sums = np.cumsum(np.square(grads), axis=0)
    book = [
        np.where(s > 0, -0.1 * g / np.sqrt(np.where(s > 0, s, 1)), 0)
        for g, s in zip(grads, sums, strict=True)
    ]
    for a, b, c in zip(ours, theirs, book, strict=True):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=0)


def test_rmsprop_initial_scale_equals_optax_and_the_closed_form():
    """``initial_scale`` is ``G_0``: ``G_t = β G_{t-1} + (1-β) g²`` starts from it."""
    params = np.array([0.5, -1.0], np.float32)
    grads = [np.array([0.1, -0.2], np.float32), np.array([0.3, 0.05], np.float32)]
    ours = _updates(optim.rmsprop(0.1, initial_scale=2.0), params, grads)
    theirs = _updates(optax.rmsprop(0.1, initial_scale=2.0, eps_in_sqrt=False), params, grads)
    g_sq, book = np.full(2, 2.0), []
    for g in grads:
        g_sq = 0.9 * g_sq + 0.1 * g.astype(np.float64) ** 2
        book.append(-0.1 * g / (np.sqrt(g_sq) + 1e-8))
    for a, b, c in zip(ours, theirs, book, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=0)


@pytest.mark.parametrize("decay", [1.0, 0.5])
def test_triangular_equals_smiths_closed_form_over_several_cycles(decay):
    """Smith's triangle: cycle ``⌊1 + t/2S⌋``, ``x = |t/S - 2 cycle + 1|``, amplitude ``γ^m``."""
    lo, hi, step = 0.01, 0.1, 3
    t = np.arange(0, 40)
    cycle = np.floor(1 + t / (2 * step))
    x = np.abs(t / step - 2 * cycle + 1)
    book = lo + (hi - lo) * np.maximum(0, 1 - x) * decay ** (cycle - 1)
    got = np.asarray(schedules.triangular(lo, hi, step, decay=decay)(t))
    np.testing.assert_allclose(got, book, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("rate", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("end", [0.25, 4.0])
def test_exponential_decay_end_value_equals_optax_including_a_unit_rate(rate, end):
    """``end_value`` is a floor for β < 1 and a ceiling otherwise (β = 1 too), as in optax."""
    t = np.arange(0, 12)
    ours = schedules.exponential_decay(1.0, 3, rate, transition_begin=2, end_value=end)(t)
    theirs = optax.exponential_decay(1.0, 3, rate, transition_begin=2, end_value=end)(t)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=0)


def test_adagrad_initial_accumulator_equals_optax_and_the_closed_form():
    """``initial_accumulator_value`` is ``G_0``: step ``-α g_t / √(G_0 + Σ g² + ε)``."""
    params = np.array([0.5, -1.0], np.float32)
    grads = [np.array([0.1, -0.2], np.float32), np.array([0.3, 0.05], np.float32)]
    ours = _updates(optim.adagrad(0.1, initial_accumulator_value=0.5), params, grads)
    theirs = _updates(optax.adagrad(0.1, initial_accumulator_value=0.5, eps=1e-7), params, grads)
    sums = 0.5 + np.cumsum(np.square(np.asarray(grads, np.float64)), axis=0)
    for a, b, g, s in zip(ours, theirs, grads, sums, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)
        np.testing.assert_allclose(a, -0.1 * g / np.sqrt(s + 1e-7), rtol=1e-5, atol=0)


def test_adam_count_saturates_at_the_int32_maximum_like_optax():
    """At ``count = 2³¹-1`` the count stays there (optax's safe_increment), it does not wrap."""
    top = jnp.asarray(np.iinfo(np.int32).max, jnp.int32)
    params = np.array([0.5, -1.0], np.float32)
    mu, nu = np.array([0.1, -0.2], np.float32), np.array([0.04, 0.09], np.float32)
    g = np.array([0.3, 0.05], np.float32)
    ours = optim.scale_by_adam()
    state = ours.init(params)._replace(count=top, mu=jnp.asarray(mu), nu=jnp.asarray(nu))
    u, new = ours.update(g, state, params)
    theirs = optax.scale_by_adam()
    ref_state = optax.ScaleByAdamState(count=top, mu=jnp.asarray(mu), nu=jnp.asarray(nu))
    ref_u, ref_new = theirs.update(g, ref_state, params)
    assert int(new.count) == int(ref_new.count) == np.iinfo(np.int32).max
    np.testing.assert_allclose(np.asarray(u), np.asarray(ref_u), rtol=1e-6, atol=0)
