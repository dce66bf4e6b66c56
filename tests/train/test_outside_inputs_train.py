"""Inputs met by probing from outside: incomplete step folders, empty key arrays, odd step
numbers; augmentation under jit and with mis-shaped arguments."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax.train import augment
from nndl_jax.train.checkpoint import Checkpointer

TREE = {"x": jnp.arange(3.0)}
LIKE = {"x": jnp.zeros(3)}


def _steps(folder):
    return sorted(p.name for p in folder.iterdir())


def test_an_incomplete_step_folder_is_skipped_and_blocks_no_checkpoint(tmp_path):
    ckpt = Checkpointer(tmp_path, max_to_keep=2)
    ckpt.save(1, TREE)
    ckpt.close()
    os.makedirs(tmp_path / "2")  # a copy cut short, a folder made by hand
    ckpt = Checkpointer(tmp_path, max_to_keep=2)
    assert ckpt.latest_step() == 1 and ckpt.incomplete_steps() == [2]
    step, tree = ckpt.restore_latest(LIKE)
    assert step == 1
    np.testing.assert_array_equal(tree["x"], TREE["x"])
    with pytest.raises(
        FileNotFoundError, match=r"no complete checkpoint 2 in .*; have \[1\] \(incomplete: \[2\]\)"
    ):
        ckpt.restore(2, LIKE)
    # orbax would count "2" towards max_to_keep and delete the complete step 1
    with pytest.raises(ValueError, match=r"without orbax's _CHECKPOINT_METADATA \[2\]"):
        ckpt.save(3, TREE)
    assert _steps(tmp_path) == ["1", "2"]
    os.rmdir(tmp_path / "2")
    ckpt.save(3, TREE)
    assert ckpt.all_steps() == [1, 3]


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path):
    ckpt = Checkpointer(tmp_path)
    ckpt.save(1, TREE)
    for root, _, files in os.walk(tmp_path / "1" / "default"):
        for name in files:
            if os.path.basename(root) == "d":  # the data files
                os.remove(os.path.join(root, name))
    with pytest.raises(ValueError, match=r"checkpoint 1 in .* cannot be restored"):
        Checkpointer(tmp_path).restore_latest(LIKE)


def test_an_empty_key_array_round_trips(tmp_path):
    keys = jax.random.split(jax.random.key(0), 2)[:0]
    tree = {"k": keys, "x": jnp.ones(2)}
    ckpt = Checkpointer(tmp_path)
    ckpt.save(1, tree)
    step, back = ckpt.restore_latest({"k": keys, "x": jnp.zeros(2)})
    assert step == 1 and back["k"].shape == (0,)
    assert jax.random.key_impl(back["k"]) == jax.random.key_impl(keys)
    np.testing.assert_array_equal(back["x"], tree["x"])


def test_a_failed_save_does_not_block_a_retry_of_its_step(tmp_path, monkeypatch):
    ckpt = Checkpointer(tmp_path)
    (tmp_path / "2.orbax-checkpoint-tmp-123").mkdir()  # what a failed write leaves
    monkeypatch.setattr(
        ckpt._manager, "save", lambda step, args: (_ for _ in ()).throw(OSError("disk full"))
    )
    with pytest.raises(OSError, match="disk full"):
        ckpt.save(2, TREE)
    assert _steps(tmp_path) == []  # the temporary folder of step 2 went with the failure
    monkeypatch.undo()
    ckpt.save(2, TREE)
    assert ckpt.all_steps() == [2]


@pytest.mark.parametrize("step", [2.9, "10", -1, True, None])
def test_a_step_must_be_a_non_negative_integer(step, tmp_path):
    with pytest.raises(ValueError, match="checkpoint step must be an integer >= 0"):
        Checkpointer(tmp_path).save(step, TREE)
    assert list(tmp_path.iterdir()) == []


def test_a_numpy_integer_step_is_taken(tmp_path):
    ckpt = Checkpointer(tmp_path)
    ckpt.save(np.int64(4), TREE)
    assert ckpt.latest_step() == 4


def test_add_noise_under_jit_with_a_traced_std():
    key, x = jax.random.key(0), jnp.zeros(3)
    np.testing.assert_allclose(
        jax.jit(augment.add_noise)(key, x, 0.1), augment.add_noise(key, x, 0.1), rtol=1e-6
    )
    np.testing.assert_array_equal(jax.jit(augment.add_noise)(key, x, 0.0), x)


def test_transforms_refuse_mis_shaped_angles_and_shifts():
    image = jnp.zeros((4, 4))
    with pytest.raises(ValueError, match=r"shift a \(t_row, t_col\) pair, got .*\(3,\)"):
        augment.transform_image(image, 0.0, jnp.zeros(3))
    with pytest.raises(ValueError, match=r"angles must have shape \(n,\) and shifts \(n, 2\)"):
        augment.affine_images(jnp.zeros((2, 4, 4)), jnp.zeros(3), jnp.zeros((2, 2)))


def test_image_augmenter_takes_numpy_integers():
    aug = augment.image_augmenter((np.int64(8), np.int32(8)), max_shift=np.int64(1))
    x = jnp.zeros((2, 64))
    assert aug(jax.random.key(0), x).shape == (2, 64)


@pytest.mark.parametrize("mask", [[1.0, -1.0, 1.0], [1.0, np.nan, 0.0], [np.inf, 1.0, 1.0]])
def test_backprop_refuses_negative_or_non_finite_mask_weights(mask):
    from nndl_jax.train import backprop

    params = backprop.mlp_init(jax.random.key(0), [2, 3, 2])
    with pytest.raises(ValueError, match="mask must hold finite weights >= 0"):
        backprop.mlp_grads(params, jnp.ones((3, 2)), jnp.array([0, 1, 0]), mask=np.array(mask))


def test_mlp_grads_takes_a_traced_l2_under_jit_and_vmap():
    from nndl_jax.train import backprop

    params = backprop.mlp_init(jax.random.key(0), (4, 5, 3))
    x, y = jnp.ones((2, 4)), jnp.array([0, 2])
    eager = [backprop.mlp_grads(params, x, y, l2=l2) for l2 in (0.0, 0.1)]
    jitted = jax.jit(lambda l2: backprop.mlp_grads(params, x, y, l2=l2))(0.1)
    np.testing.assert_allclose(jitted[0], eager[1][0], rtol=1e-6)
    np.testing.assert_allclose(jitted[1][0]["w"], eager[1][1][0]["w"], rtol=1e-6)
    losses = jax.vmap(lambda l2: backprop.mlp_grads(params, x, y, l2=l2)[0])(jnp.array([0.0, 0.1]))
    np.testing.assert_allclose(losses, [eager[0][0], eager[1][0]], rtol=1e-6)


def test_random_affine_takes_a_traced_max_rotation():
    images = jax.random.uniform(jax.random.key(1), (2, 6, 6))
    key = jax.random.key(0)
    traced = jax.jit(lambda r: augment.random_affine(key, images, max_rotation=r))(10.0)
    np.testing.assert_allclose(
        traced, augment.random_affine(key, images, max_rotation=10.0), atol=1e-6
    )


def test_restoring_floats_into_an_integer_template_is_refused(tmp_path):
    # orbax casts to the template: 1.7 came back as 1 without a word
    import optax

    ckpt = Checkpointer(tmp_path)
    tree = {"x": jnp.array([1.7, 2.2]), "opt": optax.adam(0.1).init({"w": jnp.ones(2)}), "n": 3}
    ckpt.save(1, tree)
    with pytest.raises(ValueError, match=r"holds float32 values at \['x'\], where the template"):
        ckpt.restore(1, {**tree, "x": jnp.zeros(2, jnp.int32)})
    # a float template of another width is a deliberate cast, and the NamedTuple state matches
    back = ckpt.restore(1, {**tree, "x": jnp.zeros(2, jnp.bfloat16)})
    np.testing.assert_allclose(np.asarray(back["x"], np.float32), [1.703125, 2.203125])
    assert int(back["opt"][0].count) == 0 and int(back["n"]) == 3


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_raveled_training_refuses_a_non_float_leaf_at_init(dtype):
    # ravel_pytree promoted an int32 leaf to the float32 buffer without a word
    from nndl_jax import optim
    from nndl_jax.optim.flat_training import ravel_training

    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    trainer = ravel_training(lambda p, batch: jnp.sum(p["w"]) * batch, params, optim.adam(0.1))
    with pytest.raises(ValueError, match=r"params leaf \['b'\] must be a floating-point array"):
        trainer.init({**params, "b": jnp.zeros(3, dtype)})
