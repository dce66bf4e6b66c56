"""Each update rule against the book's equations, evaluated by hand in NumPy float64.

These are closed-form checks, independent of optax: a few steps on a constant or alternating
gradient whose exact result can be written down.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import optim

G = np.array([0.5, -2.0, 1e-3])
P = np.array([1.0, -1.0, 0.0])


def _run(opt, grads, params=P):
    """The updates of ``opt`` for the given sequence of gradients (float32)."""
    p = jnp.asarray(params, jnp.float32)
    state = opt.init(p)
    out = []
    for g in grads:
        u, state = opt.update(jnp.asarray(g, jnp.float32), state, p)
        p = optim.apply_updates(p, u)
        out.append(np.asarray(u, np.float64))
    return out, state


def test_sgd_and_book_momentum():
    (u,), _ = _run(optim.sgd(0.1), [G])
    np.testing.assert_allclose(u, -0.1 * G, rtol=1e-6, atol=1e-9)
    us, _ = _run(optim.sgd(0.1, momentum=0.9), [G, 2 * G])
    # v1 = g, v2 = 0.9 g + 2g
    np.testing.assert_allclose(us[1], -0.1 * 2.9 * G, rtol=1e-6, atol=1e-9)
    us, _ = _run(optim.sgd(0.1, momentum=0.9, nesterov=True), [G, 2 * G])
    np.testing.assert_allclose(us[1], -0.1 * (2 * G + 0.9 * 2.9 * G), rtol=1e-6, atol=1e-9)


def test_notes_momentum_is_a_moving_average():
    us, state = _run(optim.momentum(0.1, beta=0.9), [G, G, -G])
    v1 = 0.1 * G
    v2 = 0.9 * v1 + 0.1 * G
    v3 = 0.9 * v2 - 0.1 * G
    for u, v in zip(us, (v1, v2, v3), strict=True):
        np.testing.assert_allclose(u, -0.1 * v, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(state[0].velocity, v3, rtol=1e-6, atol=1e-9)
    # on a constant gradient the step tends to -α g (plain SGD's size), not -α g / (1-β)
    us, _ = _run(optim.momentum(0.1, beta=0.5), [G] * 40)
    np.testing.assert_allclose(us[-1], -0.1 * G, rtol=1e-6, atol=1e-9)


def test_nesterov_look_ahead():
    us, _ = _run(optim.nesterov(0.1, beta=0.9), [G, -G])
    v1 = 0.1 * G
    v2 = 0.9 * v1 - 0.1 * G
    np.testing.assert_allclose(us[0], -0.1 * (0.9 * v1 + 0.1 * G), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(us[1], -0.1 * (0.9 * v2 - 0.1 * G), rtol=1e-6, atol=1e-9)


def test_adagrad_accumulates_squares():
    us, state = _run(optim.adagrad(0.1, eps=1e-7), [G, 3 * G])
    big_g = G**2 + 9 * G**2
    np.testing.assert_allclose(us[0], -0.1 * G / np.sqrt(G**2 + 1e-7), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(us[1], -0.1 * 3 * G / np.sqrt(big_g + 1e-7), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(state[0].sum_of_squares, big_g, rtol=1e-6, atol=1e-12)
    # a coordinate whose gradients were all zero does not move, even with eps = 0
    (u,), _ = _run(optim.adagrad(0.1, eps=0.0), [np.array([0.0, 1.0, 0.0])])
    np.testing.assert_allclose(u, [0.0, -0.1, 0.0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("eps_in_sqrt", [False, True])
def test_rmsprop_notes_form(eps_in_sqrt):
    eps = 1e-4
    us, _ = _run(optim.rmsprop(0.01, decay=0.9, eps=eps, eps_in_sqrt=eps_in_sqrt), [G, -G])
    g1 = 0.1 * G**2
    g2 = 0.9 * g1 + 0.1 * G**2
    denom = (lambda v: np.sqrt(v + eps)) if eps_in_sqrt else (lambda v: np.sqrt(v) + eps)
    np.testing.assert_allclose(us[0], -0.01 * G / denom(g1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(us[1], 0.01 * G / denom(g2), rtol=1e-6, atol=1e-9)


def test_rmsprop_centered_with_momentum():
    eps = 1e-6
    us, _ = _run(optim.rmsprop(0.01, decay=0.9, eps=eps, centered=True, momentum=0.5), [G, -G])
    nu1, mu1 = 0.1 * G**2, 0.1 * G
    nu2, mu2 = 0.9 * nu1 + 0.1 * G**2, 0.9 * mu1 - 0.1 * G
    d1 = G / (np.sqrt(nu1 - mu1**2) + eps)
    d2 = -G / (np.sqrt(nu2 - mu2**2) + eps)
    np.testing.assert_allclose(us[0], -0.01 * d1, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(us[1], -0.01 * (0.5 * d1 + d2), rtol=1e-5, atol=1e-9)


def test_adadelta_book_form():
    rho, eps = 0.9, 1e-6
    us, state = _run(optim.adadelta(1.0, rho=rho, eps=eps), [G, G])
    sq_g1 = (1 - rho) * G**2
    d1 = np.sqrt(eps) / np.sqrt(sq_g1 + eps) * G
    sq_x1 = (1 - rho) * d1**2
    sq_g2 = rho * sq_g1 + (1 - rho) * G**2
    d2 = np.sqrt(sq_x1 + eps) / np.sqrt(sq_g2 + eps) * G
    np.testing.assert_allclose(us[0], -d1, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(us[1], -d2, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(
        state[0].avg_sq_step, rho * sq_x1 + (1 - rho) * d2**2, rtol=1e-5, atol=1e-15
    )


def test_adam_notes_form_with_bias_correction():
    b1, b2, eps = 0.9, 0.999, 1e-8
    us, state = _run(optim.adam(0.01, b1, b2, eps), [G, -3 * G])
    m1, v1 = (1 - b1) * G, (1 - b2) * G**2
    m2, v2 = b1 * m1 - (1 - b1) * 3 * G, b2 * v1 + (1 - b2) * 9 * G**2
    # first step: M̂ = g, Ĝ = g², so Δθ = -α g / (|g| + ε) ≈ -α sign(g)
    np.testing.assert_allclose(us[0], -0.01 * G / (np.abs(G) + eps), rtol=1e-5, atol=1e-9)
    m_hat, v_hat = m2 / (1 - b1**2), v2 / (1 - b2**2)
    np.testing.assert_allclose(us[1], -0.01 * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-5, atol=1e-9)
    assert int(state[0].count) == 2
    np.testing.assert_allclose(state[0].mu, m2, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(state[0].nu, v2, rtol=1e-5, atol=1e-12)


def test_adamw_decays_outside_the_moments():
    (u,), _ = _run(optim.adamw(0.01, weight_decay=0.5), [G])
    np.testing.assert_allclose(u, -0.01 * (G / (np.abs(G) + 1e-8) + 0.5 * P), rtol=1e-5, atol=1e-9)


def test_nadam_first_step():
    b1 = 0.9
    (u,), _ = _run(optim.nadam(0.01, b1=b1, eps=0.0), [G])
    m_hat = b1 * (1 - b1) * G / (1 - b1**2) + (1 - b1) * G / (1 - b1)
    np.testing.assert_allclose(u, -0.01 * m_hat / np.abs(G), rtol=1e-5, atol=1e-9)


def test_amsgrad_keeps_the_largest_second_moment():
    b1, b2 = 0.0, 0.5
    us, state = _run(optim.amsgrad(0.01, b1=b1, b2=b2, eps=0.0), [10 * G, G])
    v1_hat = 100 * G**2  # (1-b2)·100g² / (1-b2)
    v2_hat = (b2 * (1 - b2) * 100 * G**2 + (1 - b2) * G**2) / (1 - b2**2)
    assert np.all(v2_hat < v1_hat)
    np.testing.assert_allclose(state[0].nu_max, v1_hat, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(us[1], -0.01 * G / np.sqrt(v1_hat), rtol=1e-5, atol=1e-9)


def test_first_update_uses_schedule_at_count_zero():
    us, state = _run(optim.sgd(lambda count: 0.1 * (count + 1)), [G, G, G])
    for k, u in enumerate(us):
        np.testing.assert_allclose(u, -0.1 * (k + 1) * G, rtol=1e-6, atol=1e-9)
    assert int(state[0].count) == 3


@pytest.mark.parametrize(
    "opt",
    [
        optim.momentum(0.1),
        optim.nesterov(0.1),
        optim.adagrad(0.5),
        optim.rmsprop(0.01, momentum=0.5),
        optim.adam(0.05),
        optim.amsgrad(0.05),
    ],
    ids=["momentum", "nesterov", "adagrad", "rmsprop", "adam", "amsgrad"],
)
def test_converges_on_an_ill_conditioned_quadratic(opt):
    # f(x, y) = 0.1 x² + 2 y², the bowl of the trajectories example; minimum at 0. (AdaDelta,
    # whose first steps are ~√ε, needs far more than 500 steps here and is left out.)
    def step(carry, _):
        p, state = carry
        u, state = opt.update(jnp.array([0.2, 4.0]) * p, state, p)
        return (optim.apply_updates(p, u), state), None

    p = jnp.array([3.0, 1.0])
    (p, _), _ = jax.jit(lambda c: jax.lax.scan(step, c, length=500))((p, opt.init(p)))
    assert float(jnp.linalg.norm(p)) < 0.05, p
