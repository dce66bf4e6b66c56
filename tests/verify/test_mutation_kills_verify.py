"""Mutation-audit tests: the verify comparisons fail on wrong rules; clipping and flat training.

References are independent: optax, numpy's ``allclose``, closed forms.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim, verify
from nndl_jax.optim.flat_training import ravel_training
from nndl_jax.verify import optim as vopt


def test_close_error_agrees_with_numpy_allclose():
    """close_error <= atol exactly when np.allclose(rtol=1e-5, atol=1e-6) holds (float32)."""
    assert vopt.tolerances() == (1e-5, 1e-6)
    rng = np.random.default_rng(0)
    b = rng.normal(size=2000) * 10.0 ** rng.integers(-4, 3, 2000)
    a = b + rng.normal(size=2000) * (1e-6 + 1e-5 * np.abs(b)) * rng.uniform(0.5, 1.5, 2000)
    for x, y in zip(a, b, strict=True):
        inside = vopt.close_error(np.array(x), np.array(y)) <= vopt.TOL
        assert inside == np.allclose(x, y, rtol=1e-5, atol=1e-6), (x, y)
    assert np.isnan(vopt.close_error(np.array([np.nan]), np.array([0.0])))


def test_optimizer_checks_use_the_issue_tolerances():
    """Every optimizer/schedule check passes only within atol 1e-6 (float32), 1e-12 (x64)."""
    optimizer_checks = verify.checks("optim.")
    assert len(optimizer_checks) > 20
    for c in optimizer_checks:
        assert c.tol <= 1e-6 and c.tol_x64 <= 1e-12, c.name
    assert (vopt.TOL, vopt.TOL_X64) == (1e-6, 1e-12)


def test_twin_comparison_fails_for_eps_inside_the_root():
    """An Adam with ε inside the square root is reported as beyond tolerance; ours is not."""
    mu = lambda a, b: (a[0].mu, b[0].mu)  # noqa: E731
    wrong = optax.adam(1e-2, eps=0.0, eps_root=1e-6)  # √(ν̂ + ε) instead of √ν̂ + ε
    err_wrong = vopt.compare_with_optax(wrong, optax.adam(1e-2, eps=1e-6), state_map=mu, steps=10)
    ours = optim.adam(1e-2, eps=1e-6)
    err_ours = vopt.compare_with_optax(ours, optax.adam(1e-2, eps=1e-6), state_map=mu, steps=10)
    assert err_wrong > 100 * vopt.TOL
    assert err_ours <= vopt.TOL


@pytest.mark.parametrize("clip", ["global", "leaf"])
def test_clipping_keeps_a_narrow_update_dtype(clip):
    """Rescaling a bfloat16 update returns bfloat16, as optax.clip_by_global_norm does."""
    u = {"w": jnp.asarray([3.0, 4.0, 12.0], jnp.bfloat16)}  # norm 13
    ours = (optim.clip_by_global_norm if clip == "global" else optim.clip_by_norm)(1.0)
    out, _ = ours.update(u, ours.init(u))
    ref, _ = optax.clip_by_global_norm(1.0).update(u, optax.EmptyState())
    assert out["w"].dtype == ref["w"].dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(out["w"], np.float32), np.asarray([3, 4, 12]) / 13, rtol=1e-2
    )


def test_clipping_accepts_empty_leaves():
    """A (0,)-shaped leaf has norm 0: the global norm is that of the other leaves (closed form)."""
    u = {"empty": jnp.zeros((0,)), "v": jnp.asarray([3.0, 4.0])}
    out, _ = optim.clip_by_global_norm(1.0).update(u, optim.clip_by_global_norm(1.0).init(u))
    np.testing.assert_allclose(out["v"], [0.6, 0.8], rtol=1e-6)
    assert out["empty"].shape == (0,)
    per_leaf, _ = optim.clip_by_norm(1.0).update(u, optim.clip_by_norm(1.0).init(u))
    np.testing.assert_allclose(per_leaf["v"], [0.6, 0.8], rtol=1e-6)
    only_empty, _ = optim.clip_by_global_norm(1.0).update({"e": jnp.zeros((0,))}, None)
    assert only_empty["e"].shape == (0,)


def test_flat_forward_pass_sees_each_leaf_in_its_template_dtype():
    """loss_fn gets a bfloat16 leaf as bfloat16 (as on the tree), not the float32 buffer view."""
    params = {"h": jnp.ones(3, jnp.bfloat16), "w": jnp.ones(2, jnp.float32)}
    seen = {}

    def loss_fn(p, batch):
        seen.update({k: v.dtype for k, v in p.items()})
        return jnp.sum(p["h"].astype(jnp.float32) * batch) + jnp.sum(p["w"] ** 2)

    trainer = ravel_training(loss_fn, params, optim.sgd(0.1), donate=False)
    flat, state = trainer.init(params)
    trainer.step(flat, state, jnp.ones(3))
    assert seen == {"h": jnp.bfloat16, "w": jnp.float32}


def test_flat_update_in_a_wider_dtype_does_not_widen_the_buffer():
    """float32 updates on bfloat16 params: same dtype and values as optax.apply_updates."""
    params = {"a": jnp.asarray([1.0, 2.0, 3.0], jnp.bfloat16)}

    def update(g, s, p=None):
        del p
        return jax.tree.map(lambda x: -0.013 * x.astype(jnp.float32), g), s

    widening = optax.GradientTransformation(lambda p: optax.EmptyState(), update)
    trainer = ravel_training(lambda p, b: jnp.sum(p["a"]), params, widening, donate=False)
    flat, state = trainer.init(params)
    grads = jnp.asarray([1.0, 3.0, 7.0], jnp.bfloat16)
    new_flat, _ = trainer.update(flat, state, grads)
    tree_u, _ = update({"a": grads}, None)
    ref = optax.apply_updates(params, tree_u)["a"]
    assert new_flat.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(new_flat, np.float32), np.asarray(ref, np.float32))
