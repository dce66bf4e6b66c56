"""L1/L2 penalties and decoupled weight decay: closed forms, jax.grad and optax equivalences."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim
from nndl_jax.train import regularization as reg
from nndl_jax.train.epoch import TrainState, make_train_step

KEY = jax.random.key(0)


def _params(key=KEY):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return [
        {"w": jax.random.normal(k1, (4, 3)), "b": jax.random.normal(k2, (3,))},
        {},
        {"w": jax.random.normal(k3, (3, 2)), "b": jax.random.normal(k4, (2,))},
    ]


def test_penalties_match_closed_form_on_weights_only():
    p = _params()
    w = [np.asarray(p[0]["w"]), np.asarray(p[2]["w"])]
    b = [np.asarray(p[0]["b"]), np.asarray(p[2]["b"])]
    np.testing.assert_allclose(reg.l1_penalty(p), sum(np.abs(a).sum() for a in w), rtol=1e-6)
    np.testing.assert_allclose(reg.l2_penalty(p), 0.5 * sum((a**2).sum() for a in w), rtol=1e-6)
    every = w + b
    np.testing.assert_allclose(
        reg.l1_penalty(p, mask=True), sum(np.abs(a).sum() for a in every), rtol=1e-6
    )
    total = reg.penalty(p, l1=0.3, l2=0.7)
    want = 0.3 * sum(np.abs(a).sum() for a in w) + 0.35 * sum((a**2).sum() for a in w)
    np.testing.assert_allclose(total, want, rtol=1e-6)
    assert float(reg.penalty(p)) == 0.0


def test_masks_prefix_and_callable():
    p = _params()
    only_first = [True, False, False]  # a prefix: one bool per layer
    np.testing.assert_allclose(
        reg.l1_penalty(p, mask=only_first),
        np.abs(np.asarray(p[0]["w"])).sum() + np.abs(np.asarray(p[0]["b"])).sum(),
        rtol=1e-6,
    )
    biases = lambda params: jax.tree.map(lambda a: a.ndim == 1, params)
    np.testing.assert_allclose(
        reg.l2_penalty(p, mask=biases),
        0.5 * sum((np.asarray(p[i]["b"]) ** 2).sum() for i in (0, 2)),
        rtol=1e-6,
    )
    with pytest.raises(TypeError, match="mask must be a tree of booleans"):
        reg.l1_penalty(p, mask=[True, False])


def test_penalty_grad_matches_jax_grad():
    p = _params(jax.random.key(3))
    for l1, l2, mask in [(0.1, 0.0, None), (0.0, 0.5, None), (0.2, 0.3, True)]:
        ours = jax.jit(functools.partial(reg.penalty_grad, l1=l1, l2=l2, mask=mask))(p)
        ref = jax.jit(jax.grad(functools.partial(reg.penalty, l1=l1, l2=l2, mask=mask)))(p)
        for a, r in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
            np.testing.assert_allclose(a, r, atol=1e-6)
    # biases untouched by default; the L1 subgradient at 0 is 0
    g = reg.penalty_grad({"w": jnp.zeros((2, 2)), "b": jnp.ones(2)}, l1=1.0, l2=1.0)
    np.testing.assert_array_equal(g["w"], np.zeros((2, 2)))
    np.testing.assert_array_equal(g["b"], np.zeros(2))


@pytest.mark.parametrize("name", ["l1", "l2"])
def test_negative_coefficients_are_rejected(name):
    with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0, got -1"):
        reg.penalty(_params(), **{name: -1.0})


# ---- the regularized step beside optax, N steps on the same data


def _model():
    def apply(params, state, x, *, key=None, train=False):
        h = jnp.tanh(x @ params[0]["w"] + params[0]["b"])
        return h @ params[2]["w"] + params[2]["b"], state

    return apply


def _ce(z, y):
    return optax.softmax_cross_entropy_with_integer_labels(z, y)


def _data():
    kx, ky = jax.random.split(jax.random.key(7))
    return jax.random.normal(kx, (8, 4)), jax.random.randint(ky, (8,), 0, 2)


def _run_ours(optimizer, steps=5, **kw):
    x, y = _data()
    params = _params()
    step = jax.jit(make_train_step(_model(), loss_fn=_ce, optimizer=optimizer, num_classes=2, **kw))
    state = TrainState(params, {}, optimizer.init(params))
    mask = jnp.ones(8, bool)
    for _ in range(steps):
        state, _ = step(state, x, y, mask, KEY)
    return state.params


def _run_optax(tx, extra_loss=lambda p: 0.0, steps=5):
    x, y = _data()
    params = _params()
    state = tx.init(params)
    loss = lambda p: jnp.mean(_ce(_model()(p, {}, x)[0], y)) + extra_loss(p)

    @jax.jit
    def update(params, state):
        updates, state = tx.update(jax.grad(loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(steps):
        params, state = update(params, state)
    return params


def _assert_close(a, b, atol):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(u, v, atol=atol)


def _weights(params):
    return jax.tree.map(lambda a: a.ndim >= 2, params)


def test_sgd_with_l2_is_sgd_with_coupled_weight_decay_in_optax():
    ours = _run_ours(optim.sgd(0.1), l2=0.05)
    ref = _run_optax(optax.chain(optax.add_decayed_weights(0.05, _weights), optax.sgd(0.1)))
    _assert_close(ours, ref, atol=1e-6)


def test_l1_step_matches_autodiff_of_the_penalized_loss():
    # random weights are never exactly 0, where |w| has no derivative
    l1_term = lambda p: 0.01 * sum(jnp.abs(p[i]["w"]).sum() for i in (0, 2))
    _assert_close(_run_ours(optim.sgd(0.1), l1=0.01), _run_optax(optax.sgd(0.1), l1_term), 1e-6)


def test_decoupled_weight_decay_with_adam_is_optax_adamw():
    lr, beta = 0.01, 0.002
    ours = _run_ours(optim.adam(lr), weight_decay=beta)
    ref = _run_optax(optax.adamw(lr, weight_decay=beta / lr, mask=_weights))
    _assert_close(ours, ref, atol=1e-6)


def test_decay_weights_closed_form():
    p = {"w": jnp.full((2, 2), 2.0), "b": jnp.full((2,), 2.0)}
    u = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
    out = reg.decay_weights(u, p, 0.25)
    np.testing.assert_array_equal(out["w"], np.full((2, 2), -0.5))
    np.testing.assert_array_equal(out["b"], np.zeros(2))


def test_penalty_accepts_traced_coefficients():
    # a sweep over λ under vmap (or a λ passed to a jitted step) is traced: it has no truth value
    params = {"w": jnp.array([[1.0, -2.0], [0.0, 3.0]]), "b": jnp.array([1.0, 1.0]), "e": {}}

    def pen(l1, l2):
        return reg.penalty(params, l1=l1, l2=l2)

    np.testing.assert_allclose(pen(0.1, 0.2), 0.1 * 6.0 + 0.2 * 0.5 * 14.0, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(pen)(0.1, 0.2), pen(0.1, 0.2), rtol=1e-6)
    swept = jax.vmap(pen)(jnp.array([0.0, 0.1]), jnp.array([0.2, 0.0]))
    np.testing.assert_allclose(swept, [pen(0.0, 0.2), pen(0.1, 0.0)], rtol=1e-6)


def test_penalty_keeps_the_parameters_dtype_under_x64():
    # as l1_penalty and l2_penalty (and optax.l2_loss): no float64 scalar from float32 weights
    with jax.enable_x64(True):
        for dtype in (jnp.float32, jnp.bfloat16):
            params = {"w": jnp.ones((2, 2), dtype), "b": jnp.ones(2, dtype)}
            for kwargs in ({"l1": 0.1}, {"l2": 0.1}, {"l1": 0.1, "l2": 0.2}):
                assert reg.penalty(params, **kwargs).dtype == dtype
