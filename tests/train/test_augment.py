"""Image augmentation: exact shifts, rotations beside scipy.ndimage, noise, jit, bad input."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

from nndl_jax.train import augment as aug

KEY = jax.random.key(0)
# jitted once each: eager execution would compile every primitive separately
transform = jax.jit(aug.transform_image)


def _images(n=3, h=8, w=8, seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(0, 16, (n, h, w)), jnp.float32)


def _shift_reference(image, dr, dc):
    """Shift content down by dr and right by dc, zero fill (NumPy slicing)."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dr, 0) : h + min(dr, 0), max(dc, 0) : w + min(dc, 0)] = image[
        max(-dr, 0) : h + min(-dr, 0), max(-dc, 0) : w + min(-dc, 0)
    ]
    return out


def test_zero_transform_is_identity_and_integer_shifts_are_exact():
    img = _images(1)[0]
    np.testing.assert_array_equal(transform(img, 0.0, jnp.zeros(2)), img)
    for dr, dc in [(1, 0), (0, -1), (-2, 1), (1, 1)]:
        got = transform(img, 0.0, jnp.array([dr, dc], jnp.float32))
        np.testing.assert_array_equal(got, _shift_reference(np.asarray(img), dr, dc))


@pytest.mark.parametrize(
    "degrees, shift", [(10.0, (0.0, 0.0)), (-7.0, (1.0, -1.0)), (25.0, (0.5, 0.3))]
)
def test_rotation_and_shift_match_scipy_affine_transform(degrees, shift):
    img = np.asarray(_images(1, 8, 6)[0])
    theta = np.deg2rad(degrees)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    c = np.array([(8 - 1) / 2, (6 - 1) / 2])
    t = np.asarray(shift)
    # output[o] = input[M o + offset] with M = R^T and offset = c - R^T (c + t)
    ref = scipy.ndimage.affine_transform(
        img, rot.T, offset=c - rot.T @ (c + t), order=1, mode="grid-constant", cval=0.0
    )
    got = transform(jnp.asarray(img), jnp.deg2rad(degrees), jnp.asarray(t, jnp.float32))
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_random_affine_is_per_sample_deterministic_and_bounded():
    imgs = _images(64)
    shift_only = jax.jit(functools.partial(aug.random_affine, max_shift=1, max_rotation=0.0))
    a = shift_only(KEY, imgs)
    np.testing.assert_array_equal(a, shift_only(KEY, imgs))
    # with rotation 0 every output is one of the 9 exact shifts of its input
    shifts = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    seen = set()
    for img, out in zip(np.asarray(imgs), np.asarray(a), strict=True):
        match = [s for s in shifts if np.array_equal(out, _shift_reference(img, *s))]
        assert match, "an output is not an integer shift of its input"
        seen.add(match[0])
    assert len(seen) >= 6  # per-sample randomness, not one shift for the batch
    assert not np.array_equal(a, shift_only(jax.random.key(1), imgs))


def test_image_augmenter_keeps_features_and_maps_through_the_scaling():
    x = _images(16).reshape(16, 64) / 16.0  # min-max scaled digits
    scale, shift = jnp.full(64, 16.0), jnp.zeros(64)
    identity = aug.image_augmenter((8, 8), max_shift=0, max_rotation=0.0, shift=shift, scale=scale)
    np.testing.assert_allclose(jax.jit(identity)(KEY, x), x, atol=1e-6)
    # z-scored features: the background (raw 0) must stay the background after a shift
    mean, std = jnp.full(64, 3.0), jnp.full(64, 2.0)
    z = (x * 16.0 - mean) / std
    shifted = aug.image_augmenter((8, 8), max_shift=3, max_rotation=0.0, shift=mean, scale=std)
    raw = np.asarray(jax.jit(shifted)(KEY, z) * std + mean)
    assert raw.min() >= -1e-5 and raw.shape == (16, 64)
    noisy = aug.image_augmenter((8, 8), max_shift=0, max_rotation=0.0, noise_std=0.1)
    diff = np.asarray(jax.jit(noisy)(KEY, x) - x)
    assert abs(diff.std() - 0.1) < 3 * 0.1 / np.sqrt(2 * diff.size)
    assert abs(diff.mean()) < 3 * 0.1 / np.sqrt(diff.size)


def test_augmenter_keeps_shape_and_dtype_and_depends_on_the_key():
    x = _images(2).reshape(2, 64)
    fn = jax.jit(aug.image_augmenter((8, 8), max_rotation=12.0, noise_std=0.05))
    a, b = fn(KEY, x), fn(jax.random.key(1), x)
    assert a.dtype == x.dtype and a.shape == x.shape
    assert not np.allclose(a, b, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_shift": -1}, "max_shift must be an integer >= 0"),
        ({"max_shift": 1.5}, "max_shift must be an integer >= 0"),
        ({"max_rotation": -5.0}, "max_rotation must be a finite number >= 0"),
        ({"max_rotation": 200.0}, r"max_rotation must be in \[0, 180\]"),
        ({"noise_std": -0.1}, "noise_std must be a finite number >= 0"),
        ({"scale": jnp.ones(10)}, r"scale must be a scalar or have shape \(64,\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        aug.image_augmenter((8, 8), **kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match="image_shape must be two positive ints"):
        aug.image_augmenter((8,))
    with pytest.raises(ValueError, match=r"features of shape \(n, 64\).*x.shape=\(2, 10\)"):
        aug.image_augmenter((8, 8))(KEY, jnp.ones((2, 10)))
    with pytest.raises(ValueError, match=r"images must have shape \(n, H, W\)"):
        aug.random_affine(KEY, jnp.ones((8, 8)))
