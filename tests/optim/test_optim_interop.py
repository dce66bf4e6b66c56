"""What optax users do with optimizers: inject_hyperparams, array hyperparameters, odd leaves."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim

PARAMS = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.zeros(2)}
GRADS = {"w": jnp.array([0.5, -1.0, 2.0]), "b": jnp.array([0.1, -0.3])}

FACTORIES = {
    "sgd": optim.sgd,
    "momentum": optim.momentum,
    "nesterov": optim.nesterov,
    "adagrad": optim.adagrad,
    "rmsprop": optim.rmsprop,
    "adadelta": optim.adadelta,
    "adam": optim.adam,
    "adamw": optim.adamw,
    "nadam": optim.nadam,
    "amsgrad": optim.amsgrad,
}


def _run(opt, steps=3, update=None):
    update = update or opt.update
    state, params = opt.init(PARAMS), PARAMS
    for _ in range(steps):
        updates, state = update(GRADS, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize("name", FACTORIES)
def test_inject_hyperparams_wraps_every_optimizer(name):
    # optax passes every numeric hyperparameter, defaults included, as a 0-d array, and traces
    # them under jit: the result must be the optimizer's own.
    injected = optax.inject_hyperparams(FACTORIES[name])(learning_rate=0.01)
    params, state = _run(injected, update=jax.jit(injected.update))
    expected, _ = _run(FACTORIES[name](0.01))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), params,
                 expected)  # fmt: skip
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.01)


def test_a_hyperparameter_can_be_changed_between_steps():
    injected = optax.inject_hyperparams(optim.adam)(learning_rate=0.01)
    state = injected.init(PARAMS)
    state.hyperparams["learning_rate"] = jnp.asarray(0.0)
    updates, _ = jax.jit(injected.update)(GRADS, state, PARAMS)
    assert all(float(jnp.abs(u).max()) == 0.0 for u in jax.tree.leaves(updates))


@pytest.mark.parametrize(
    "make",
    [
        lambda v: optim.adam(1e-3, b1=v),
        lambda v: optim.rmsprop(1e-3, decay=v),
        lambda v: optim.sgd(1e-3, momentum=v),
        lambda v: optim.clip_by_norm(v),
        lambda v: optim.schedules.constant(v),
    ],
)
@pytest.mark.parametrize("kind", [np.float32, jnp.float32, np.array, jnp.asarray])
def test_zero_d_array_hyperparameters_equal_python_floats(make, kind):
    got, want = make(kind(0.5)), make(0.5)
    if callable(want) and not hasattr(want, "update"):  # a schedule
        assert float(got(3)) == float(want(3))
        return
    got_params, _ = _run(got, steps=2)
    want_params, _ = _run(want, steps=2)
    jax.tree.map(np.testing.assert_array_equal, got_params, want_params)


@pytest.mark.parametrize("value", [True, np.bool_(False), jnp.ones(2), "0.9"])
def test_non_scalar_or_boolean_hyperparameters_are_rejected(value):
    with pytest.raises(ValueError, match=r"b1 must be in \[0, 1\), got"):
        optim.adam(1e-3, b1=value)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "momentum"])
def test_python_float_leaves_work_as_in_optax(name):
    params, grads = {"a": 1.0, "b": [2.0]}, {"a": 0.5, "b": [-0.25]}
    ours = FACTORIES[name](0.1)
    updates, _ = ours.update(grads, ours.init(params), params)
    twin = {"sgd": optax.sgd(0.1), "adam": optax.adam(0.1),
            "rmsprop": optax.rmsprop(0.1, eps_in_sqrt=False),
            "momentum": optax.sgd(0.1 * (1 - 0.9), momentum=0.9)}[name]  # fmt: skip
    expected, _ = twin.update(grads, twin.init(params), params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), updates, expected)


@pytest.mark.parametrize(
    "transform",
    [
        optim.sgd(0.1),
        optim.scale(2.0),
        optim.clip_by_global_norm(1.0),
        optim.clip_by_value(1.0),
        optim.clip_by_norm(1.0),
    ],  # fmt: skip
)
def test_integer_gradients_are_a_type_error_not_silently_zero(transform):
    grads = {"w": jnp.array([1, 2, 3], jnp.int32)}
    with pytest.raises(TypeError, match=r"updates must hold floating-point arrays, got dtype int32 "
                                        r"at updates\['w'\]"):  # fmt: skip
        transform.update(grads, transform.init(grads))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_a_constant_rate_is_not_rounded_to_the_update_dtype(dtype):
    # -α·g computed in float32 and rounded once, exactly as with the rate given as a schedule
    g = jnp.asarray(np.random.default_rng(0).normal(size=64), dtype)
    lr = 1e-3 + 1e-7  # not representable in bfloat16 or float16
    constant = optim.sgd(lr)
    updates, _ = constant.update(g, constant.init(g))
    expected = (-jnp.float32(lr) * g.astype(jnp.float32)).astype(dtype)
    assert updates.dtype == dtype
    np.testing.assert_array_equal(np.asarray(updates, np.float32), np.asarray(expected, np.float32))
