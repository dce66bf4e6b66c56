"""Audit regressions for augment, epoch and initialization (independent references)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage as ndi

from nndl_jax.optim import sgd
from nndl_jax.train.augment import affine_images, random_affine, transform_image
from nndl_jax.train.backprop import mlp_forward, mlp_grad_fn, mlp_init
from nndl_jax.train.epoch import TrainState, make_train_step
from nndl_jax.train.initialization import hidden_unit_spread


def _reference(img, theta, t):
    """The documented map with scipy: bilinear, zeros outside (grid-constant)."""
    h, w = img.shape
    c = np.array([(h - 1) / 2, (w - 1) / 2])
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    m = rot.T
    offset = c - m @ (c + np.asarray(t, float))
    return ndi.affine_transform(img.astype(np.float64), m, offset=offset, order=1,
                                mode="grid-constant", cval=0.0)  # fmt: skip


@pytest.mark.parametrize("shape", [(8, 8), (7, 11)])
def test_transform_matches_scipy(shape):
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    for deg in (0, 7.5, -33, 90):
        for t in ((0, 0), (1, -2), (0.5, 0.25)):
            out = transform_image(jnp.asarray(img), math.radians(deg), jnp.array(t, jnp.float32))
            np.testing.assert_allclose(out, _reference(img, math.radians(deg), t), atol=1e-5)
    for dr in range(-3, 4):
        for dc in range(-3, 4):
            out = transform_image(jnp.asarray(img), 0.0, jnp.array([dr, dc], jnp.float32))
            np.testing.assert_array_equal(out, ndi.shift(img, (dr, dc), order=0, cval=0))


def test_bfloat16_large_image_integer_shift_is_exact():
    # bfloat16 cannot represent the pixel indices above 256: coordinates must be float32
    img = jnp.asarray(np.random.default_rng(1).random((1, 300, 300))).astype(jnp.bfloat16)
    out = affine_images(img, jnp.zeros(1), jnp.array([[1.0, 0.0]]))
    expected = jnp.zeros_like(img[0]).at[1:].set(img[0, :-1])
    np.testing.assert_array_equal(np.asarray(out[0], np.float32), np.asarray(expected, np.float32))
    same = affine_images(img, jnp.zeros(1), jnp.zeros((1, 2)))
    np.testing.assert_array_equal(np.asarray(same, np.float32), np.asarray(img, np.float32))


def test_integer_images_are_rejected_not_left_unrotated():
    img = jnp.arange(64, dtype=jnp.int32).reshape(1, 8, 8)
    with pytest.raises(ValueError, match="floating"):
        affine_images(img, jnp.array([math.radians(45)]), jnp.zeros((1, 2)))
    with pytest.raises(ValueError, match="images must be floating"):
        random_affine(jax.random.key(0), img)


@pytest.mark.parametrize("bad", [{"angle": math.nan}, {"shift": [math.inf, 0.0]}])
def test_non_finite_angle_or_shift_named(bad):
    img = jnp.ones((4, 4))
    angle, shift = bad.get("angle", 0.0), jnp.asarray(bad.get("shift", [0.0, 0.0]))
    with pytest.raises(ValueError, match=next(iter(bad))):
        transform_image(img, angle, shift)
    with pytest.raises(ValueError, match=next(iter(bad))):
        affine_images(img[None], jnp.array([angle]), shift[None])


def _apply(params, state, x, *, key=None, train=False):
    return mlp_forward(params, x, activation="sigmoid")[0], state


def _loss(out, y):
    return jax.nn.logsumexp(out, -1) - jnp.take_along_axis(out, y[:, None], 1)[:, 0]


@pytest.mark.parametrize("use_grad_fn", [False, True])
def test_eager_step_with_padded_mask_matches_real_examples(use_grad_fn):
    # the step called outside jit used to reject the padding's label -1 in confusion_matrix
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(5, 5)).astype(np.float32))
    y = jnp.array([0, 2, 1, 0, 2])
    mask = jnp.array([True, True, True, False, False])
    params = mlp_init(jax.random.key(0), (5, 4, 3))
    grad_fn = mlp_grad_fn(activation="sigmoid") if use_grad_fn else None
    opt = sgd(1.0)
    step = make_train_step(_apply, loss_fn=_loss, optimizer=opt, num_classes=3, grad_fn=grad_fn)
    new, stats = step(TrainState(params, {}, opt.init(params)), x, y, mask, jax.random.key(1))
    ref = jax.grad(lambda p: jnp.mean(_loss(_apply(p, {}, x[:3])[0], y[:3])))(params)
    for p0, p1, g in zip(params, new.params, ref, strict=True):
        for name in ("w", "b"):
            np.testing.assert_allclose(p0[name] - p1[name], g[name], atol=1e-6)
    assert int(stats.count) == 3 and int(stats.confusion.sum()) == 3


def test_equal_incoming_weights_alone_do_not_keep_units_identical():
    # the docstring's condition: symmetry needs the outgoing weights equal too
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(20, 5)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 3, 20))

    def loss(p):
        return jnp.mean(_loss(mlp_forward(p, x, activation="sigmoid")[0], y))

    def train(p):
        for _ in range(5):
            p = jax.tree.map(lambda a, b: a - 0.5 * b, p, jax.grad(loss)(p))
        return p

    zero = train(mlp_init(jax.random.key(0), (5, 4, 6, 3), "zeros"))
    np.testing.assert_array_equal(hidden_unit_spread(zero, per_layer=True), 0.0)
    mixed = mlp_init(jax.random.key(0), (5, 4, 3), "xavier")
    mixed[0]["w"] = jnp.full_like(mixed[0]["w"], 0.1)
    assert float(hidden_unit_spread(mixed)) == 0.0
    assert float(hidden_unit_spread(train(mixed))) > 1e-3


def test_history_json_takes_values_left_on_the_device(tmp_path):
    # a record built by hand may hold JAX scalars and arrays; json.dumps alone refuses them
    import json

    from nndl_jax.train import history

    records = [{"epoch": 1, "loss": jnp.float32(0.5), "per_class": jnp.array([1.0, jnp.nan])}]
    path = history.write_json(records, tmp_path / "h.json", best=jnp.int32(1))
    payload = json.loads(path.read_text())
    assert payload["history"][0]["loss"] == 0.5 and payload["best"] == 1
    assert payload["history"][0]["per_class"] == [1.0, None]
