"""The raveled training mode against per-leaf training with optax on the pytree."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim
from nndl_jax.optim.flat_training import RavelTrainer, ravel_training

STEPS = 12


def make_params():
    rng = np.random.default_rng(0)
    normal = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)
    return {"w": normal(3, 5), "layers": [normal(7), (normal(2, 3, 4), normal())]}


def loss_fn(params, batch):
    """Nonlinear in every leaf, so that each step's gradient differs in every coordinate."""
    return sum(
        jnp.sum(jnp.sin(leaf) * batch) + 0.5 * jnp.sum(leaf**2)
        for leaf in jax.tree_util.tree_leaves(params)
    )


BATCHES = jnp.linspace(-1.0, 2.0, STEPS, dtype=jnp.float32)


def reference_run(params, transform):
    """Per-leaf training on the tree: jax.grad, the transform, optax.apply_updates."""

    def body(carry, batch):
        p, s = carry
        value, grads = jax.value_and_grad(loss_fn)(p, batch)
        updates, s = transform.update(grads, s, p)
        p = optax.apply_updates(p, updates)
        return (p, s), (value, p)

    (_, state), (values, path) = jax.lax.scan(body, (params, transform.init(params)), BATCHES)
    return values, path, state


TRANSFORMS = {
    "optax.adam": lambda: optax.adam(0.05),
    "optax.sgd+clip_by_global_norm": lambda: optax.chain(
        optax.clip_by_global_norm(0.5), optax.sgd(0.1, momentum=0.9)
    ),
    "nndl_jax.optim.adam": lambda: optim.adam(0.05),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_epoch_follows_per_leaf_training_on_the_tree(name):
    params = make_params()
    # the reference is optax's adam on the tree whichever transform runs on the flat vector;
    # elementwise and global-norm rules give the same numbers on both layouts
    reference = {
        "optax.adam": optax.adam(0.05),
        "optax.sgd+clip_by_global_norm": TRANSFORMS["optax.sgd+clip_by_global_norm"](),
        "nndl_jax.optim.adam": optax.adam(0.05),
    }[name]
    values_ref, path_ref, state_ref = jax.jit(reference_run, static_argnums=1)(params, reference)

    trainer = ravel_training(loss_fn, params, TRANSFORMS[name]())
    flat, state = trainer.init(params)
    flat, state, values = trainer.epoch(flat, state, BATCHES)

    np.testing.assert_allclose(values, values_ref, rtol=1e-5, atol=1e-5)
    final_ref = jax.tree_util.tree_map(lambda x: x[-1], path_ref)
    chex.assert_trees_all_close(trainer.unravel(flat), final_ref, rtol=1e-5, atol=1e-6)
    if "adam" in name:  # the moments, raveled, match the reference's per-leaf moments
        mu, nu = _adam_moments(state)
        mu_ref, nu_ref = _adam_moments(state_ref)
        chex.assert_trees_all_close(trainer.unravel(mu), mu_ref, rtol=1e-5, atol=1e-6)
        chex.assert_trees_all_close(trainer.unravel(nu), nu_ref, rtol=1e-5, atol=1e-6)


def _adam_moments(state):
    """(mu, nu) of an adam chain's state, ours or optax's (both keep fields mu and nu)."""
    for s in jax.tree_util.tree_leaves(state, is_leaf=lambda x: hasattr(x, "nu")):
        if hasattr(s, "nu"):
            return s.mu, s.nu
    raise AssertionError(f"no adam moments in {state}")


def test_step_repeated_equals_epoch_and_traces_once():
    params = make_params()
    traces = []

    def counted_loss(p, batch):
        traces.append(1)  # runs only while tracing
        return loss_fn(p, batch)

    trainer = ravel_training(counted_loss, params, optax.adam(0.05))
    flat, state = trainer.init(params)
    values = []
    for batch in BATCHES[:5]:
        flat, state, value = trainer.step(flat, state, batch)
        values.append(value)
    assert len(traces) == 1, "step retraced between calls"

    flat_e, state_e = trainer.init(params)
    flat_e, state_e, values_e = trainer.epoch(flat_e, state_e, BATCHES[:5])
    np.testing.assert_allclose(np.stack(values), values_e, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(flat, flat_e, rtol=1e-6, atol=1e-7)


def test_update_is_the_transform_plus_the_params():
    params = make_params()
    transform = optax.adam(0.05)
    trainer = ravel_training(loss_fn, params, transform)
    flat, state = trainer.init(params)
    grads = jnp.linspace(-1.0, 1.0, trainer.size, dtype=jnp.float32)
    # the expectation first: update donates flat and state
    updates, state_ref = transform.update(grads, transform.init(flat), flat)
    expected = flat + updates
    flat, state = trainer.update(flat, state, grads)
    np.testing.assert_allclose(flat, expected, rtol=0, atol=1e-7)
    chex.assert_trees_all_close(state, state_ref, rtol=0, atol=1e-7)


def test_has_aux_returns_the_aux_value():
    params = make_params()

    def loss_with_aux(p, batch):
        loss = loss_fn(p, batch)
        return loss, {"twice": 2 * loss}

    trainer = ravel_training(loss_with_aux, params, optax.sgd(0.1), has_aux=True)
    flat, state = trainer.init(params)
    expected = loss_fn(params, BATCHES[0])
    flat, state, (loss, aux) = trainer.step(flat, state, BATCHES[0])
    np.testing.assert_allclose(loss, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(aux["twice"], 2 * expected, rtol=1e-6, atol=1e-6)


def test_layout_ravel_unravel_round_trip():
    params = make_params()
    trainer = ravel_training(loss_fn, params, optax.sgd(0.1))
    assert isinstance(trainer, RavelTrainer)
    assert trainer.size == 15 + 7 + 24 + 1
    assert trainer.dtype == jnp.float32
    flat = trainer.ravel(params)
    assert flat.shape == (trainer.size,)
    chex.assert_trees_all_equal(trainer.unravel(flat), params)


def test_donation_consumes_inputs_but_never_the_callers_params():
    # a single 1-D leaf ravels to itself: init must still hand out a buffer of its own
    params = {"w": jnp.arange(4.0, dtype=jnp.float32)}
    loss = lambda p, batch: jnp.sum(p["w"] ** 2) * batch
    trainer = ravel_training(loss, params, optax.adam(0.1))
    flat, state = trainer.init(params)
    new_flat, new_state, _ = trainer.step(flat, state, jnp.float32(1.0))
    assert flat.is_deleted()
    assert not params["w"].is_deleted()
    np.testing.assert_array_equal(params["w"], np.arange(4.0))

    kept = ravel_training(loss, params, optax.adam(0.1), donate=False)
    flat, state = kept.init(params)
    kept.step(flat, state, jnp.float32(1.0))
    assert not flat.is_deleted()


def test_init_gives_fresh_state_buffers_to_an_init_that_aliases_them():
    def aliasing_init(params):  # one zeros buffer for two moments, as some inits return
        zeros = jnp.zeros_like(params)
        return (zeros, zeros)

    def update(grads, state, params=None):
        return -0.1 * grads, (state[0] + grads, state[1] + grads**2)

    transform = optax.GradientTransformation(aliasing_init, update)
    params = {"w": jnp.ones(3, jnp.float32)}
    trainer = ravel_training(lambda p, b: jnp.sum(p["w"] ** 2), params, transform)
    flat, state = trainer.init(params)
    flat, state, _ = trainer.step(flat, state, None)  # would fail: same buffer donated twice
    np.testing.assert_allclose(state[1], np.full(3, 4.0), rtol=0, atol=1e-6)


def test_mixed_dtypes_keep_each_leafs_dtype():
    params = {"a": jnp.ones(3, jnp.bfloat16), "b": jnp.ones(2, jnp.float32)}
    trainer = ravel_training(
        lambda p, b: sum(jnp.sum(x) for x in p.values()), params, optax.sgd(1.0)
    )
    assert trainer.dtype == jnp.float32
    flat, state = trainer.init(params)
    flat, state, _ = trainer.step(flat, state, None)
    out = trainer.unravel(flat)
    assert out["a"].dtype == jnp.bfloat16 and out["b"].dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out["a"], np.float32), np.zeros(3), atol=0)


def test_float64_under_x64():
    with jax.enable_x64(True):
        params = {"w": jnp.ones(3, jnp.float64)}
        trainer = ravel_training(lambda p, b: jnp.sum(p["w"] ** 2), params, optax.sgd(0.25))
        flat, state = trainer.init(params)
        flat, state, loss = trainer.step(flat, state, None)
        assert flat.dtype == jnp.float64
        np.testing.assert_allclose(flat, np.full(3, 0.5), rtol=0, atol=1e-15)  # 1 - 0.25 * 2


# ------------------------------------------------------------------------------ bad input


def test_bad_arguments_are_named():
    params = make_params()
    with pytest.raises(TypeError, match="loss_fn must be callable, got int"):
        ravel_training(3, params, optax.sgd(0.1))
    with pytest.raises(TypeError, match="transform must be a GradientTransformation"):
        ravel_training(loss_fn, params, "adam")
    with pytest.raises(ValueError, match="params must hold at least one array"):
        ravel_training(loss_fn, {}, optax.sgd(0.1))
    with pytest.raises(ValueError, match=r"params leaf \['n'\] must be a floating-point array"):
        ravel_training(loss_fn, {"n": jnp.arange(3)}, optax.sgd(0.1))


def test_wrong_flat_vectors_and_trees_are_rejected():
    params = make_params()
    trainer = ravel_training(loss_fn, params, optax.sgd(0.1), donate=False)
    flat, state = trainer.init(params)
    with pytest.raises(ValueError, match=r"flat must be a flat vector of shape \(47,\).*\(46,\)"):
        trainer.step(flat[:-1], state, BATCHES[0])
    with pytest.raises(ValueError, match=r"grads must be a flat vector of shape \(47,\)"):
        trainer.update(flat, state, jnp.zeros((47, 1)))
    with pytest.raises(ValueError, match="flat must have dtype float32"):
        trainer.step(flat.astype(jnp.bfloat16), state, BATCHES[0])
    with pytest.raises(TypeError, match="params must have the template's tree structure"):
        trainer.ravel({"w": params["w"]})
    wrong = jax.tree_util.tree_map(lambda x: x, params)
    wrong["w"] = jnp.ones((5, 3))
    with pytest.raises(ValueError, match=r"params leaf \['w'\] must have the template's shape"):
        trainer.init(wrong)
