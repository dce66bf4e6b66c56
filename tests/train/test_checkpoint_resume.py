"""Checkpoints every epoch, bitwise resume, and the non-finite stop that keeps the last good one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import data, nn
from nndl_jax.nn.activation_layers import Activation
from nndl_jax.optim import GradientTransformation
from nndl_jax.train.checkpoint import Checkpointer
from nndl_jax.train.history import read_json
from nndl_jax.train.loop import fit

EPOCHS = 3


@pytest.fixture(scope="module")
def iris():
    return data.load("iris")


def _model():
    # dropout makes the run depend on the per-epoch keys, which resume must reproduce
    return nn.serial(nn.Dense(8), Activation("relu"), nn.Dropout(0.3), nn.Dense(3))


def _fit(iris, directory, **kwargs):
    options = dict(optimizer="momentum", learning_rate=0.05, batch_size=16, patience=10, seed=3,
                   progress=False, checkpoint_dir=directory)  # fmt: skip
    return fit(_model(), iris, **{**options, **kwargs})


@pytest.fixture(scope="module")
def uninterrupted(iris, tmp_path_factory):
    directory = tmp_path_factory.mktemp("whole")
    # resume=True on an empty folder is a fresh start
    return _fit(iris, directory, epochs=EPOCHS, resume=True), directory


def _assert_same_run(a, b):
    for name in ("last_params", "opt_state", "params", "state"):
        leaves_a, leaves_b = jax.tree.leaves(getattr(a, name)), jax.tree.leaves(getattr(b, name))
        assert len(leaves_a) == len(leaves_b)
        for x, y in zip(leaves_a, leaves_b, strict=True):
            np.testing.assert_array_equal(x, y)  # bitwise
    assert a.best_epoch == b.best_epoch
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]
    assert strip(a.history) == strip(b.history)


def test_every_epoch_is_checkpointed(uninterrupted):
    result, directory = uninterrupted
    ckpt = Checkpointer(directory)
    assert ckpt.latest_step() == EPOCHS
    assert len(read_json(directory / "history.json")) == EPOCHS
    ckpt.close()


def test_resume_after_a_stop_is_bitwise_identical(iris, uninterrupted, tmp_path):
    whole, _ = uninterrupted
    first = _fit(iris, tmp_path, epochs=1)
    assert len(first.history) == 1
    resumed = _fit(iris, tmp_path, epochs=EPOCHS, resume=True)
    _assert_same_run(resumed, whole)


def test_resume_after_a_crash_is_bitwise_identical(iris, uninterrupted, tmp_path):
    whole, _ = uninterrupted

    def crash(record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt  # killed after epoch 2 was saved

    with pytest.raises(KeyboardInterrupt):
        _fit(iris, tmp_path, epochs=EPOCHS, callback=crash)
    resumed = _fit(iris, tmp_path, epochs=EPOCHS, resume=True)
    assert len(resumed.history) == EPOCHS
    _assert_same_run(resumed, whole)
    with pytest.raises(ValueError, match="already holds checkpoints .* pass resume=True"):
        _fit(iris, tmp_path, epochs=EPOCHS)


def _nan_after(updates_ok: int, learning_rate: float = 0.05) -> GradientTransformation:
    """SGD whose update number ``updates_ok + 1`` is NaN: the next step's loss is NaN."""

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(grads, count, params=None):
        bad = count == updates_ok
        step = jax.tree.map(lambda g: jnp.where(bad, jnp.nan, -learning_rate * g), grads)
        return step, count + 1

    return GradientTransformation(init, update)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(iris, tmp_path):
    steps_per_epoch = 7  # 104 samples in batches of 16
    optimizer = _nan_after(steps_per_epoch + 2)
    with pytest.warns(RuntimeWarning, match="non-finite loss at epoch 2, step 4 of 7"):
        result = _fit(iris, tmp_path, epochs=EPOCHS, optimizer=optimizer)
    assert result.stopped_reason == "non_finite" and len(result.history) == 1
    assert "kept the parameters of epoch 1" in result.message
    ckpt = Checkpointer(tmp_path)
    assert ckpt.latest_step() == 1  # the bad epoch wrote nothing
    ckpt.close()
    with pytest.raises(ValueError, match="does not match this run"):
        _fit(iris, tmp_path, epochs=1, resume=True)  # momentum's state is not that of the run
    # resuming that folder with epochs=1 runs nothing and returns the checkpoint's state
    saved = _fit(iris, tmp_path, epochs=1, resume=True, optimizer=optimizer)
    assert saved.stopped_reason == "max_epochs" and len(saved.history) == 1
    for a, b in zip(jax.tree.leaves(saved.last_params), jax.tree.leaves(result.last_params),
                    strict=True):  # fmt: skip
        assert np.isfinite(np.asarray(a)).all()
        np.testing.assert_array_equal(a, b)


def test_an_overflow_in_the_last_step_of_an_epoch_is_caught(iris):
    # the 7th update (the last of epoch 1) is NaN: every loss of epoch 1 was finite
    with pytest.warns(RuntimeWarning, match="non-finite parameters at epoch 1, step 7 of 7"):
        result = _fit(iris, None, epochs=EPOCHS, optimizer=_nan_after(6))
    assert result.stopped_reason == "non_finite" and result.history == []
    assert result.best_epoch == 0
    _assert_finite(result.last_params)
    _assert_finite(result.params)


def _assert_finite(tree):
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(tree))
