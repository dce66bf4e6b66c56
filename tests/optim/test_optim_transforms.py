"""Clipping, weight decay, skipping non-finite steps, flattening, chaining and applying updates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim

PARAMS = {"w": jnp.arange(6.0).reshape(2, 3) - 2.5, "b": [jnp.ones(3), jnp.asarray(0.5)]}


def _like(value, tree=PARAMS):
    return jax.tree.map(lambda p: jnp.full_like(p, value), tree)


def _global_norm(tree):
    return float(
        np.sqrt(sum(np.sum(np.square(np.asarray(x, np.float64))) for x in jax.tree.leaves(tree)))
    )


# ---------------------------------------------------------------- clipping


def test_clip_by_global_norm_keeps_direction_and_caps_norm():
    grads = {"w": jnp.full((2, 3), 3.0), "b": [jnp.full(3, -4.0), jnp.asarray(12.0)]}
    clip = optim.clip_by_global_norm(2.0)
    out, _ = clip.update(grads, clip.init(PARAMS))
    norm = _global_norm(grads)
    assert _global_norm(out) == pytest.approx(2.0, rel=1e-6)
    for o, g in zip(jax.tree.leaves(out), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(o, np.asarray(g) * 2.0 / norm, rtol=1e-6, atol=1e-7)


def test_clip_by_global_norm_below_threshold_is_exact_identity():
    grads = _like(0.1)
    clip = optim.clip_by_global_norm(10.0)
    out, _ = clip.update(grads, clip.init(PARAMS))
    for o, g in zip(jax.tree.leaves(out), jax.tree.leaves(grads), strict=True):
        np.testing.assert_array_equal(o, g)


@pytest.mark.parametrize("clip", [optim.clip_by_global_norm(1.0), optim.clip_by_norm(1.0)])
def test_clipping_all_zero_gradients_is_finite(clip):
    out, _ = jax.jit(clip.update)(_like(0.0), clip.init(PARAMS))
    for o in jax.tree.leaves(out):
        np.testing.assert_array_equal(o, np.zeros_like(o))


def test_clip_by_global_norm_does_not_overflow_on_huge_float32_gradients():
    # Σ g² = 1e60 overflows float32; the norm is still computed, the step still clipped to 1
    grads = _like(1e30)
    clip = optim.clip_by_global_norm(1.0)
    out, _ = clip.update(grads, clip.init(PARAMS))
    assert _global_norm(out) == pytest.approx(1.0, rel=1e-5)
    expected = 1.0 / np.sqrt(10.0)  # ten equal coordinates
    for o in jax.tree.leaves(out):
        np.testing.assert_allclose(o, expected, rtol=1e-5, atol=0)


def test_clip_by_norm_clips_each_leaf_alone():
    grads = {"w": jnp.full((2, 3), 10.0), "b": [jnp.full(3, 0.1), jnp.asarray(-7.0)]}
    clip = optim.clip_by_norm(1.0)
    out, _ = clip.update(grads, clip.init(PARAMS))
    assert _global_norm(out["w"]) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(out["b"][0], grads["b"][0])  # norm 0.17 < 1: untouched
    np.testing.assert_allclose(out["b"][1], -1.0, rtol=1e-6, atol=0)


def test_clip_by_value():
    grads = {
        "w": jnp.array([[-3.0, -0.2, 0.0], [0.2, 0.5, 9.0]]),
        "b": [jnp.zeros(3), jnp.ones(())],
    }
    clip = optim.clip_by_value(0.5)
    out, _ = clip.update(grads, clip.init(PARAMS))
    np.testing.assert_array_equal(out["w"], np.clip(np.asarray(grads["w"]), -0.5, 0.5))
    np.testing.assert_array_equal(out["b"][1], 0.5)


# ---------------------------------------------------------------- weight decay


def test_add_decayed_weights_with_prefix_and_callable_masks():
    grads = _like(1.0)
    # a prefix mask: one boolean for the whole "b" subtree
    for mask in ({"w": True, "b": False}, lambda p: {"w": True, "b": [False, False]}):
        opt = optim.add_decayed_weights(0.1, mask)
        out, _ = opt.update(grads, opt.init(PARAMS), PARAMS)
        np.testing.assert_allclose(out["w"], 1.0 + 0.1 * np.asarray(PARAMS["w"]), atol=1e-7)
        np.testing.assert_array_equal(out["b"][0], grads["b"][0])
        np.testing.assert_array_equal(out["b"][1], grads["b"][1])


def test_add_decayed_weights_with_a_schedule_counts_updates():
    opt = optim.add_decayed_weights(lambda count: 0.1 * (count + 1))
    state = opt.init(PARAMS)
    for k in range(3):
        out, state = opt.update(_like(0.0), state, PARAMS)
        np.testing.assert_allclose(out["b"][1], 0.1 * (k + 1) * 0.5, rtol=1e-6, atol=0)
    assert int(state.count) == 3


# ---------------------------------------------------------------- skipping non-finite steps


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf, -jnp.inf])
def test_skip_nonfinite_skips_counts_and_keeps_state(bad):
    opt = optim.skip_nonfinite(optim.adam(0.1))
    update = jax.jit(opt.update)
    state = opt.init(PARAMS)
    _, state = update(_like(1.0), state, PARAMS)
    grads = _like(1.0)
    grads["b"][0] = grads["b"][0].at[1].set(bad)
    out, skipped_state = update(grads, state, PARAMS)
    for o in jax.tree.leaves(out):
        np.testing.assert_array_equal(o, np.zeros_like(o))
    assert int(skipped_state.skipped) == 1 and not bool(skipped_state.last_finite)
    for a, b in zip(
        jax.tree.leaves(skipped_state.inner_state), jax.tree.leaves(state.inner_state), strict=True
    ):
        np.testing.assert_array_equal(a, b)  # Adam's count included
    # a finite step afterwards is an ordinary Adam step
    out, after = update(_like(1.0), skipped_state, PARAMS)
    plain = optim.adam(0.1)
    s = plain.init(PARAMS)
    _, s = plain.update(_like(1.0), s, PARAMS)
    expected, s = plain.update(_like(1.0), s, PARAMS)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert int(after.skipped) == 1 and bool(after.last_finite)
    assert int(after.inner_state[0].count) == 2


# ---------------------------------------------------------------- flatten


def test_ravel_and_unravel_round_trip_with_mixed_dtypes():
    tree = {"a": jnp.ones((2, 2), jnp.bfloat16), "b": (jnp.arange(3.0), jnp.asarray(-1.0))}
    flat = optim.ravel(tree)
    assert flat.shape == (8,) and flat.dtype == jnp.float32
    back = optim.unravel_like(flat, tree)
    assert jax.tree.structure(back) == jax.tree.structure(tree)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(tree), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_flatten_equals_the_tree_version_and_keeps_a_flat_state():
    grads = jax.tree.map(lambda p: jnp.sin(p) + 0.3, PARAMS)
    flat_opt, tree_opt = (
        optim.flatten(optim.rmsprop(0.01, momentum=0.9)),
        optim.rmsprop(0.01, momentum=0.9),
    )
    fs, ts = flat_opt.init(PARAMS), tree_opt.init(PARAMS)
    assert fs[0].nu.shape == (10,)
    for _ in range(3):
        fu, fs = flat_opt.update(grads, fs, PARAMS)
        tu, ts = tree_opt.update(grads, ts, PARAMS)
        for a, b in zip(jax.tree.leaves(fu), jax.tree.leaves(tu), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_flatten_rejects_gradients_of_another_size():
    opt = optim.flatten(optim.adam(0.1))
    state = opt.init(PARAMS)
    with pytest.raises(ValueError, match=r"updates and state.mu must have the same shape"):
        opt.update({"w": jnp.ones(4)}, state)


# ---------------------------------------------------------------- chain and apply_updates


def test_chain_threads_updates_and_states_in_order():
    opt = optim.chain(optim.scale(2.0), optim.clip_by_value(1.0), optim.scale(-3.0))
    state = opt.init(PARAMS)
    assert isinstance(state, tuple) and len(state) == 3
    out, _ = opt.update(_like(0.4), state, PARAMS)
    np.testing.assert_allclose(out["w"], -2.4, rtol=1e-6, atol=0)  # 0.4·2 = 0.8, unclipped
    out, _ = opt.update(_like(0.7), state, PARAMS)
    np.testing.assert_allclose(out["w"], -3.0, rtol=1e-6, atol=0)  # 1.4 clipped to 1


def test_empty_chain_is_the_identity():
    out, state = optim.chain().update(_like(0.3), (), PARAMS)
    assert state == ()
    np.testing.assert_array_equal(out["w"], 0.3 * np.ones((2, 3), np.float32))


def test_apply_updates_keeps_each_parameter_dtype():
    params = {"w": jnp.ones(3, jnp.bfloat16), "b": jnp.ones(3, jnp.float32)}
    updates = {"w": jnp.full(3, 0.5, jnp.float32), "b": jnp.full(3, 0.25, jnp.bfloat16)}
    out = optim.apply_updates(params, updates)
    assert out["w"].dtype == jnp.bfloat16 and out["b"].dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out["w"], np.float32), 1.5)
    np.testing.assert_array_equal(out["b"], 1.25)
    # optax's apply_updates gives the same
    ref = optax.apply_updates(params, updates)
    assert ref["w"].dtype == out["w"].dtype


def test_add_decayed_weights_keeps_the_imaginary_part_of_a_complex_parameter():
    # A real update for a complex parameter: λθ is complex, and optax keeps it so.
    params = {"z": jnp.array([1 + 2j, -0.5j], jnp.complex64), "w": jnp.array([3.0])}
    updates = {"z": jnp.array([0.5, 0.25], jnp.float32), "w": jnp.array([1.0], jnp.bfloat16)}
    ours, _ = optim.add_decayed_weights(0.1).update(updates, optim.EmptyState(), params)
    ref, _ = optax.add_decayed_weights(0.1).update(updates, optax.EmptyState(), params)
    np.testing.assert_allclose(ours["z"], ref["z"], rtol=1e-6)
    assert ours["z"].dtype == jnp.complex64
    assert ours["w"].dtype == jnp.bfloat16  # a real parameter's update keeps its own dtype


def test_adamw_decays_the_imaginary_part_like_optax():
    params = {"z": jnp.array([1 + 2j], jnp.complex64)}
    grads = {"z": jnp.array([0.5 - 0.25j], jnp.complex64)}
    ours_tx, ref_tx = optim.adamw(0.1, weight_decay=0.1), optax.adamw(0.1, weight_decay=0.1)
    ours, ref = params, params
    ours_state, ref_state = ours_tx.init(params), ref_tx.init(params)
    for _ in range(3):
        u, ours_state = ours_tx.update(grads, ours_state, ours)
        ours = optim.apply_updates(ours, u)
        v, ref_state = ref_tx.update(grads, ref_state, ref)
        ref = optax.apply_updates(ref, v)
    np.testing.assert_allclose(ours["z"], ref["z"], rtol=1e-5)


def test_chain_accepts_its_state_as_a_list_and_names_a_wrong_length():
    params = {"w": jnp.ones(3)}
    opt = optim.adam(0.1)
    state = opt.init(params)
    grads = {"w": jnp.full(3, 0.5)}
    from_tuple, _ = opt.update(grads, state, params)
    from_list, new_state = opt.update(grads, list(state), params)
    np.testing.assert_array_equal(from_list["w"], from_tuple["w"])
    assert isinstance(new_state, tuple)
    with pytest.raises(ValueError, match=r"tuple of 2 states .* got tuple of length 1"):
        opt.update(grads, state[:1], params)
    with pytest.raises(ValueError, match=r"got dict$"):
        opt.update(grads, {"a": 1}, params)
