"""Checkpointer edge cases: dtypes kept, shapes checked, steps in order, any PRNG implementation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import data, nn
from nndl_jax.train.checkpoint import Checkpointer
from nndl_jax.train.loop import evaluate, fit


def test_numpy_leaves_keep_their_dtype(tmp_path):
    ckpt = Checkpointer(tmp_path)
    tree = {"best": np.float64(0.1 + 0.2), "w": jnp.ones(3), "epoch": np.int64(4)}
    ckpt.save(1, tree)
    back = ckpt.restore(1, tree)
    assert back["best"].dtype == np.float64 and float(back["best"]) == 0.1 + 0.2
    assert isinstance(back["w"], jax.Array) and back["epoch"] == 4
    ckpt.close()


def test_a_template_of_other_shapes_is_an_error(tmp_path):
    ckpt = Checkpointer(tmp_path)
    ckpt.save(0, {"w": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"\['w'\] has shape \(2, 3\) there, \(5, 7\) here"):
        ckpt.restore(0, {"w": np.zeros((5, 7))})
    ckpt.close()


def test_zero_size_leaves_round_trip_and_keep_their_shape_checked(tmp_path):
    # orbax refuses zero-size arrays ("Cannot save arrays with zero size")
    ckpt = Checkpointer(tmp_path)
    tree = {"w": jnp.ones((2, 0), jnp.bfloat16), "b": np.zeros((0,), np.int32), "v": jnp.ones(2)}
    ckpt.save(1, tree)
    back = ckpt.restore(1, tree)
    assert back["w"].shape == (2, 0) and back["w"].dtype == jnp.bfloat16
    assert isinstance(back["w"], jax.Array) and isinstance(back["b"], np.ndarray)
    assert back["b"].shape == (0,) and back["b"].dtype == np.int32
    np.testing.assert_array_equal(back["v"], np.ones(2))
    with pytest.raises(ValueError, match=r"\['w'\] has shape \(2, 0\) there, \(3, 0\) here"):
        ckpt.restore(1, {**tree, "w": jnp.ones((3, 0), jnp.bfloat16)})
    ckpt.close()


def test_steps_must_increase(tmp_path):
    ckpt = Checkpointer(tmp_path)
    ckpt.save(5, {"v": np.ones(1)})
    for step in (3, 5):
        message = rf"greater than the latest one \(5\).*got {step}"
        with pytest.raises(ValueError, match=message):
            ckpt.save(step, {"v": np.zeros(1)})
    assert float(ckpt.restore(5, {"v": np.zeros(1)})["v"][0]) == 1.0
    ckpt.close()


def test_keys_of_any_implementation_round_trip(tmp_path):
    ckpt = Checkpointer(tmp_path)
    key = jax.random.key(0, impl="rbg")
    ckpt.save(0, {"key": key})
    back = ckpt.restore(0, {"key": jax.random.key(1, impl="rbg")})["key"]
    assert jax.random.key_impl(back) == jax.random.key_impl(key)
    np.testing.assert_array_equal(jax.random.key_data(back), jax.random.key_data(key))
    ckpt.close()


@pytest.fixture(scope="module")
def iris():
    return data.load("iris")


def _model():
    return nn.serial(nn.Dense(4), nn.Dense(3))


def test_resume_with_another_model_is_refused(iris, tmp_path):
    fit(_model(), iris, epochs=1, progress=False, checkpoint_dir=tmp_path)
    wider = nn.serial(nn.Dense(6), nn.Dense(3))
    with pytest.raises(ValueError, match="does not match this run"):
        fit(wider, iris, epochs=2, progress=False, checkpoint_dir=tmp_path, resume=True)


class EqualityLoss:
    """A callable loss with __eq__ and no __hash__ (what a dataclass with eq=True is)."""

    def __eq__(self, other):
        return isinstance(other, EqualityLoss)

    __hash__ = None

    def __call__(self, logits, labels):
        return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1)[:, 0]


def test_unhashable_losses_and_numpy_options(iris):
    result = fit(_model(), iris, epochs=1, loss=EqualityLoss(), threshold=np.float32(0.01),
                 unroll=np.int64(1), progress=False)  # fmt: skip
    scores = evaluate(_model(), result.params, result.state, iris.val, num_classes=3,
                      loss=EqualityLoss())  # fmt: skip
    assert np.isfinite(scores["loss"])


def test_bad_keys_states_and_labels_are_named(iris):
    with pytest.raises(TypeError, match="key must be a PRNG key such as jax.random.key"):
        fit(_model(), iris, key=5, progress=False)
    with pytest.raises(TypeError, match="model_state must have the structure"):
        fit(_model(), iris, model_state={"junk": 1}, progress=False)
    params = _model().init(jax.random.key(0), (1, 4))[1]
    with pytest.raises(ValueError, match=r"split labels has labels outside \[0, 2\)"):
        evaluate(_model(), params, [{}, {}], iris.val, num_classes=2)
