"""Audit of the raveled training mode and ``flatten``: dtypes, bad input, every optimizer."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from nndl_jax import optim
from nndl_jax.optim import schedules as S
from nndl_jax.optim.flat_training import ravel_training

STEPS = 20
BATCHES = jnp.linspace(-1.0, 2.0, STEPS, dtype=jnp.float32)


def _params():
    rng = np.random.default_rng(0)
    normal = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)
    return {"w": normal(3, 4), "b": normal(4), "s": normal(), "layers": [normal(2, 2, 3)]}


def _loss(params, batch):
    return sum(
        jnp.sum(jnp.sin(x.astype(jnp.float32)) * batch * (k + 1) + 0.5 * x.astype(jnp.float32) ** 2)
        for k, x in enumerate(jax.tree.leaves(params))
    )


def _tree_run(transform, params, batches=BATCHES, loss=_loss):
    """Per-leaf training on the tree: jax.grad, the transform, apply_updates."""

    def body(carry, batch):
        p, s = carry
        grads = jax.grad(loss)(p, batch)
        updates, s = transform.update(grads, s, p)
        return (optim.apply_updates(p, updates), s), None

    run = jax.jit(lambda p: jax.lax.scan(body, (p, transform.init(p)), batches)[0][0])
    return run(params)


def _ravel_run(transform, params, batches=BATCHES, loss=_loss):
    trainer = ravel_training(loss, params, transform)
    flat, state = trainer.init(params)
    flat, state, _ = trainer.epoch(flat, state, batches)
    return trainer.unravel(flat)


def _assert_close(got, want, atol):
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), atol=atol)


# --------------------------------------------------------------------- every optimizer

OPTIMIZERS = {
    "sgd_nesterov": lambda: optim.sgd(0.05, 0.9, nesterov=True),
    "momentum": lambda: optim.momentum(0.05),
    "rmsprop_momentum": lambda: optim.rmsprop(0.01, momentum=0.9),
    "adagrad": lambda: optim.adagrad(0.1),
    "adadelta": lambda: optim.adadelta(1.0),
    "nadam": lambda: optim.nadam(0.05),
    "amsgrad": lambda: optim.amsgrad(0.05),
    "adamw": lambda: optim.adamw(0.05, weight_decay=0.1),
    "clip_by_global_norm+adam": lambda: optim.chain(
        optim.clip_by_global_norm(0.5), optim.adam(0.05)
    ),
    "clip_by_value+adam": lambda: optim.chain(optim.clip_by_value(0.3), optim.adam(0.05)),
    "skip_nonfinite": lambda: optim.skip_nonfinite(optim.adam(0.05)),
    "scheduled": lambda: optim.chain(
        optim.add_decayed_weights(S.exponential_decay(0.1, 3, 0.5)),
        optim.adam(S.warmup(S.cosine_decay(0.05, 10), 5)),
    ),
    "inject_hyperparams": lambda: optax.inject_hyperparams(optim.adamw)(
        learning_rate=0.05, weight_decay=0.1
    ),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_flatten_and_ravel_training_equal_per_leaf_training(name):
    params = _params()
    want = _tree_run(OPTIMIZERS[name](), params)
    _assert_close(_tree_run(optim.flatten(OPTIMIZERS[name]()), params), want, atol=1e-6)
    _assert_close(_ravel_run(OPTIMIZERS[name](), params), want, atol=1e-6)


def test_leaf_wise_rules_change_meaning_on_the_flat_vector_as_documented():
    params = _params()
    # clip_by_norm clips the one flat vector: the global norm
    clipped = _tree_run(
        optim.flatten(optim.chain(optim.clip_by_norm(0.5), optim.sgd(0.05))), params
    )
    global_ = _tree_run(optim.chain(optim.clip_by_global_norm(0.5), optim.sgd(0.05)), params)
    _assert_close(clipped, global_, atol=1e-6)
    # a tree-shaped mask no longer matches
    with pytest.raises(TypeError, match="mask must be a tree of booleans"):
        _ravel_run(
            optim.adamw(0.05, mask={"w": True, "b": False, "s": False, "layers": [True]}), params
        )
    # a callable mask is called with the flat vector
    seen = []
    mask = lambda p: seen.append(jnp.shape(p)) or True
    _ravel_run(optim.adamw(0.05, mask=mask), params)
    assert seen and all(shape == (12 + 4 + 1 + 12,) for shape in seen)


# ------------------------------------------------------------------------ mixed dtypes


def test_a_narrow_leaf_is_rounded_to_its_dtype_every_step_like_on_the_tree():
    # Adam's steps of 1e-3 are below half a bfloat16 ulp at 1.0 (2^-8): on the tree the
    # bfloat16 weight never moves; the flat float32 buffer used to accumulate them (0.98)
    params = {"a": jnp.ones(4, jnp.bfloat16), "b": jnp.linspace(-1.0, 1.0, 3, dtype=jnp.float32)}
    want = _tree_run(optim.adam(1e-3), params)
    got = _ravel_run(optim.adam(1e-3), params)
    np.testing.assert_array_equal(np.asarray(want["a"], np.float32), np.ones(4))
    np.testing.assert_array_equal(
        np.asarray(got["a"], np.float32), np.asarray(want["a"], np.float32)
    )
    _assert_close(got, want, atol=1e-6)
    # and a learning rate that moves it: the same bfloat16 values as on the tree
    want = _tree_run(optim.sgd(0.01, 0.9), params)
    got = _ravel_run(optim.sgd(0.01, 0.9), params)
    np.testing.assert_array_equal(
        np.asarray(got["a"], np.float32), np.asarray(want["a"], np.float32)
    )
    _assert_close(got, want, atol=1e-6)


def test_a_float32_leaf_in_a_float64_buffer_is_rounded_like_on_the_tree():
    with jax.enable_x64(True):
        params = {"f32": jnp.ones(3, jnp.float32), "f64": jnp.ones(2, jnp.float64)}
        loss = lambda p, b: jnp.sum(p["f32"]) + jnp.sum(p["f64"]) * b
        batches = jnp.ones(STEPS, jnp.float64)
        # steps of 2e-8 are below half a float32 ulp at 1.0: on the tree the float32 leaf stays
        want = _tree_run(optim.sgd(2e-8), params, batches, loss)
        got = _ravel_run(optim.sgd(2e-8), params, batches, loss)
        np.testing.assert_array_equal(want["f32"], np.ones(3, np.float32))
        assert got["f32"].dtype == jnp.float32 and got["f64"].dtype == jnp.float64
        np.testing.assert_array_equal(got["f32"], want["f32"])
        np.testing.assert_allclose(got["f64"], want["f64"], rtol=0, atol=1e-15)


def test_ravel_unravel_round_trip_is_exact_for_mixed_dtypes():
    rng = np.random.default_rng(1)
    tree = {
        "a": jnp.asarray(rng.normal(size=(3, 2)), jnp.bfloat16),
        "b": jnp.asarray(rng.normal(size=5), jnp.float32),
        "s": jnp.float32(np.pi),
        "empty": jnp.ones((0, 3)),
        "none": None,
    }
    trainer = ravel_training(lambda p, b: 0.0, tree, optim.sgd(0.1))
    flat = trainer.ravel(tree)
    np.testing.assert_array_equal(flat, ravel_pytree(tree)[0])
    back = trainer.unravel(flat)
    assert back["none"] is None
    _assert_close(back, tree, atol=0)


# --------------------------------------------------------------------------- bad input


def test_flatten_rejects_integer_and_boolean_leaves_like_the_per_leaf_transforms():
    opt = optim.flatten(optim.adam(0.1))
    with pytest.raises(TypeError, match=r"floating-point.*got dtype bool at params\['flag'\]"):
        opt.init({"w": jnp.ones(2), "flag": jnp.array([True, False])})
    # integer updates were raveled into floats and their steps rounded back to 0
    sgd = optim.flatten(optim.sgd(0.1))
    state = sgd.init({"w": jnp.ones(2), "n": jnp.ones(3)})
    with pytest.raises(
        TypeError, match=r"floating-point arrays, got dtype int32 at updates\['n'\]"
    ):
        sgd.update({"w": jnp.ones(2), "n": jnp.ones(3, jnp.int32)}, state)
    # and a complex update for a real parameter, as apply_updates would see it
    params = {"w": jnp.ones(2)}
    with pytest.raises(TypeError, match=r"updates\['w'\] is complex"):
        opt.update({"w": jnp.ones(2) * 1j}, opt.init(params), params)


def test_unravel_rejects_a_wrong_flat_vector_naming_it():
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    trainer = ravel_training(lambda p, b: jnp.sum(p["w"]), params, optim.sgd(0.1))
    with pytest.raises(ValueError, match=r"flat must be a flat vector of shape \(9,\).*\(8,\)"):
        trainer.unravel(jnp.zeros(8))
    mixed = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(3)}
    trainer = ravel_training(lambda p, b: jnp.sum(p["b"]), mixed, optim.sgd(0.1))
    with pytest.raises(ValueError, match="flat must have dtype float32.*got float16"):
        trainer.unravel(jnp.zeros(5, jnp.float16))


def test_complex_params_are_refused_with_a_message_that_says_so():
    with pytest.raises(ValueError, match=r"\['z'\].*complex64; complex parameters are not"):
        ravel_training(lambda p, b: 0.0, {"z": jnp.ones(2, jnp.complex64)}, optim.sgd(0.1))


# ------------------------------------------------------------------ vmap, grad, donation


def test_vmap_over_an_ensemble_and_meta_gradients_through_the_epoch():
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32).reshape(2, 3)}
    loss = lambda p, b: jnp.sum(jnp.sin(p["w"]) * b + p["w"] ** 2)
    batches = BATCHES[:5]
    trainer = ravel_training(loss, params, optim.adam(0.05))
    members = jnp.stack([trainer.ravel(params) + k for k in range(3)])
    states = jax.vmap(lambda f: optim.adam(0.05).init(f))(members)
    out, _, values = jax.vmap(trainer.epoch, in_axes=(0, 0, None))(members, states, batches)
    assert values.shape == (3, 5)
    for k in range(3):
        p = jax.tree.map(lambda x, k=k: x + k, params)
        want = _tree_run(optim.adam(0.05), p, batches, loss)
        np.testing.assert_allclose(trainer.unravel(out[k])["w"], want["w"], rtol=0, atol=1e-6)

    def meta(lr, flat):  # the final loss as a function of the learning rate
        tx = optax.inject_hyperparams(optim.adam)(learning_rate=lr)
        t = ravel_training(loss, params, tx, donate=False)
        flat, _, _ = t.epoch(flat, tx.init(flat), batches)
        return loss(t.unravel(flat), 1.0)

    def meta_tree(lr, p):
        tx = optax.inject_hyperparams(optim.adam)(learning_rate=lr)
        return loss(_tree_run(tx, p, batches, loss), 1.0)

    got = jax.grad(meta)(jnp.float32(0.05), trainer.ravel(params))
    want = jax.grad(meta_tree)(jnp.float32(0.05), params)
    np.testing.assert_allclose(got, want, rtol=1e-5)
