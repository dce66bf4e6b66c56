"""Bad hyperparameters fail at construction, bad gradients at update, each naming what is wrong."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim
from nndl_jax.optim import schedules

PARAMS = {"w": jnp.ones((2, 3)), "b": [jnp.zeros(3), jnp.ones(())]}
GRADS = jax.tree.map(jnp.ones_like, PARAMS)

OPTIMIZERS = {
    "sgd": lambda lr: optim.sgd(lr, momentum=0.9, nesterov=True),
    "momentum": lambda lr: optim.momentum(lr),
    "nesterov": lambda lr: optim.nesterov(lr),
    "adagrad": lambda lr: optim.adagrad(lr),
    "rmsprop": lambda lr: optim.rmsprop(lr, centered=True, momentum=0.5),
    "adadelta": lambda lr: optim.adadelta(lr),
    "adam": lambda lr: optim.adam(lr),
    "adamw": lambda lr: optim.adamw(lr),
    "nadam": lambda lr: optim.nadam(lr),
    "amsgrad": lambda lr: optim.amsgrad(lr),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf"), jnp.float32(-1.0)])
def test_bad_learning_rate_is_a_value_error_naming_it(name, lr):
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number >= 0, got"):
        OPTIMIZERS[name](lr)


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("lr", ["0.1", [0.1], None, True, jnp.ones(2)])
def test_learning_rate_of_wrong_type_is_a_type_error(name, lr):
    with pytest.raises(TypeError, match=r"learning_rate must be a number or a schedule"):
        OPTIMIZERS[name](lr)


def test_learning_rate_accepts_numpy_and_jax_scalars():
    for lr in (0, 1, 0.5, jnp.float32(0.1), np.float64(0.1)):
        optim.adam(lr)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda v: optim.sgd(0.1, momentum=v), "momentum"),
        (lambda v: optim.momentum(0.1, beta=v), "beta"),
        (lambda v: optim.nesterov(0.1, beta=v), "beta"),
        (lambda v: optim.rmsprop(0.1, decay=v), "decay"),
        (lambda v: optim.rmsprop(0.1, momentum=v), "momentum"),
        (lambda v: optim.adadelta(1.0, rho=v), "rho"),
        (lambda v: optim.adam(0.1, b1=v), "b1"),
        (lambda v: optim.adam(0.1, b2=v), "b2"),
        (lambda v: optim.adamw(0.1, b2=v), "b2"),
        (lambda v: optim.nadam(0.1, b1=v), "b1"),
        (lambda v: optim.amsgrad(0.1, b2=v), "b2"),
    ],
)
@pytest.mark.parametrize("value", [1.0, 1.5, -0.1])
def test_beta_outside_unit_interval(make, argument, value):
    with pytest.raises(ValueError, match=rf"{argument} must be in \[0, 1\), got {value}"):
        make(value)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda v: optim.adagrad(0.1, eps=v), "eps"),
        (lambda v: optim.adagrad(0.1, initial_accumulator_value=v), "initial_accumulator_value"),
        (lambda v: optim.rmsprop(0.1, eps=v), "eps"),
        (lambda v: optim.rmsprop(0.1, initial_scale=v), "initial_scale"),
        (lambda v: optim.adadelta(1.0, eps=v), "eps"),
        (lambda v: optim.adam(0.1, eps=v), "eps"),
        (lambda v: optim.adam(0.1, eps_root=v), "eps_root"),
        (lambda v: optim.adamw(0.1, weight_decay=v), "weight_decay"),
        (lambda v: optim.add_decayed_weights(v), "weight_decay"),
        (lambda v: optim.clip_by_value(v), "max_delta"),
        (lambda v: optim.clip_by_global_norm(v), "max_norm"),
        (lambda v: optim.clip_by_norm(v), "max_norm"),
    ],
)
def test_negative_eps_weight_decay_and_clipping(make, argument):
    with pytest.raises(ValueError, match=rf"{argument} must be .*got -0.5"):
        make(-0.5)


@pytest.mark.parametrize("make", [optim.clip_by_global_norm, optim.clip_by_norm])
def test_zero_clipping_norm_is_rejected(make):
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0, got 0"):
        make(0.0)


def test_nesterov_without_momentum():
    with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
        optim.sgd(0.1, nesterov=True)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_gradient_structure_differs_from_params(name):
    opt = OPTIMIZERS[name](0.1)
    state = opt.init(PARAMS)
    bad = {"w": jnp.ones((2, 3)), "b": [jnp.zeros(3)]}  # one leaf missing
    with pytest.raises(TypeError, match=r"updates and params must have the same tree structure"):
        opt.update(bad, state, PARAMS)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_gradient_structure_differs_from_state(name):
    opt = OPTIMIZERS[name](0.1)
    state = opt.init(PARAMS)
    other = {"v": jnp.ones((2, 3))}
    # without params, the state's own trees are what the gradients are checked against
    expected = r"updates and state\.\w+ must have the same tree structure"
    with pytest.raises(TypeError, match=expected):
        opt.update(other, state)


def test_structure_error_names_both_structures():
    opt = optim.adam(0.1)
    with pytest.raises(TypeError) as info:
        opt.update({"w": jnp.ones((2, 3))}, opt.init(PARAMS), PARAMS)
    message = str(info.value)
    assert "updates: PyTreeDef({'w': *})" in message
    assert "params: PyTreeDef({'b': [*, *], 'w': *})" in message


def test_structure_is_checked_under_jit():
    opt = optim.rmsprop(0.1)
    state = opt.init(PARAMS)
    with pytest.raises(TypeError, match="same tree structure"):
        jax.jit(opt.update)([GRADS["w"]], state, PARAMS)


def test_leaf_shape_mismatch_names_leaf_and_shapes():
    opt = optim.adam(0.1)
    bad = {"w": jnp.ones((3,)), "b": GRADS["b"]}
    with pytest.raises(ValueError, match=r"updates\['w'\] and params\['w'\].*\(3,\) and \(2, 3\)"):
        opt.update(bad, opt.init(PARAMS), PARAMS)


def test_apply_updates_checks_structure():
    with pytest.raises(TypeError, match="updates and params"):
        optim.apply_updates(PARAMS, {"w": GRADS["w"]})


def test_integer_params_are_rejected_at_init():
    with pytest.raises(TypeError, match=r"floating-point.*int32 at params\['n'\]"):
        optim.adam(0.1).init({"n": jnp.arange(3)})


def test_chain_rejects_non_transforms():
    with pytest.raises(TypeError, match="chain's argument 1 must be a GradientTransformation"):
        optim.chain(optim.sgd(0.1), lambda g: g)


def test_chain_rejects_wrong_state():
    opt = optim.chain(optim.clip_by_value(1.0), optim.sgd(0.1))
    with pytest.raises(ValueError, match="tuple of 2 states"):
        opt.update(GRADS, (optim.EmptyState(),), PARAMS)


def test_weight_decay_needs_params():
    opt = optim.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match="needs the parameters"):
        opt.update(GRADS, opt.init(PARAMS))


def test_mask_structure_mismatch_is_a_type_error():
    opt = optim.add_decayed_weights(0.1, mask={"w": True, "x": False})
    with pytest.raises(TypeError, match="mask must be a tree of booleans"):
        opt.update(GRADS, opt.init(PARAMS), PARAMS)


def test_optax_transforms_are_accepted_by_our_wrappers():
    # interop both ways: optax inside our chain, ours inside optax's chain
    ours = optim.chain(optax.clip_by_global_norm(1.0), optim.adam(0.1))
    theirs = optax.chain(optim.clip_by_global_norm(1.0), optax.adam(0.1))
    u1, _ = ours.update(GRADS, ours.init(PARAMS), PARAMS)
    u2, _ = theirs.update(GRADS, theirs.init(PARAMS), PARAMS)
    for a, b in zip(jax.tree.leaves(u1), jax.tree.leaves(u2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: schedules.constant(-1.0), "value must be a finite number >= 0"),
        (lambda: schedules.piecewise_constant(0.1, {10: -0.5}), r"boundaries_and_scales\[10\]"),
        (lambda: schedules.piecewise_constant(0.1, {-3: 0.5}), "boundary must be an integer >= 0"),
        (lambda: schedules.exponential_decay(0.1, 0, 0.5), "transition_steps must be a positive"),
        (lambda: schedules.exponential_decay(0.1, 10, 0.0), "decay_rate must be a finite"),
        (lambda: schedules.exponential_decay(0.1, 9, 0.5, transition_begin=-1), "transition_begin"),
        (lambda: schedules.inverse_time_decay(0.1, 10, -1.0), "decay_rate"),
        (lambda: schedules.natural_exp_decay(-0.1, 10, 1.0), "init_value"),
        (lambda: schedules.cosine_decay(0.1, 0), "decay_steps"),
        (lambda: schedules.cosine_decay(0.1, 10, alpha=1.5), r"alpha must be in \[0, 1\]"),
        (lambda: schedules.warmup(0.1, -5), "warmup_steps must be an integer >= 0"),
        (lambda: schedules.warmup(-0.1, 5), "schedule must be"),
        (lambda: schedules.triangular(0.2, 0.1, 10), "max_value must be >= min_value"),
        (lambda: schedules.triangular(0.1, 0.2, 2.5), "step_size must be a positive integer"),
        (lambda: schedules.sgdr(0.1, 10, 1.5), "period_mult must be a positive integer"),
        (lambda: schedules.sgdr(0.1, 0), "period must be a positive integer"),
    ],
)
def test_schedule_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_scale_refuses_a_non_finite_step_size(bad):
    with pytest.raises(ValueError, match="step_size must be a finite number"):
        optim.scale(bad)


@pytest.mark.parametrize("bad", ["x", None, True, [1.0], jnp.ones(2)])
def test_scale_refuses_a_step_size_that_is_not_a_number(bad):
    with pytest.raises(TypeError, match="step_size must be a real number"):
        optim.scale(bad)


def test_scale_takes_any_finite_sign_and_traced_values():
    grads = {"w": jnp.array([1.0, -2.0])}
    for s in (-3.0, 0.0, 2, np.float32(0.5), jnp.float32(-1.5)):
        out, _ = optim.scale(s).update(grads, optim.EmptyState())
        np.testing.assert_allclose(out["w"], float(s) * np.array([1.0, -2.0]))
    scaled = jax.jit(lambda s: optim.scale(s).update(grads, optim.EmptyState())[0]["w"])
    np.testing.assert_allclose(scaled(jnp.float32(4.0)), [4.0, -8.0])
