r"""Data augmentation for small images, on the device: random shifts, small rotations, noise.

Every function is pure and jit-compatible: the randomness comes from an explicit key, split
once per sample and ``vmap`` ped, so that an augmenter can run inside the compiled epoch on each
minibatch (``fit(..., augment=image_augmenter((8, 8)))``).

Geometry. An image of shape ``(H, W)`` is resampled at the inverse of a rotation by ``θ`` about
its centre ``c = ((H-1)/2, (W-1)/2)`` followed by a translation ``t = (t_row, t_col)``: the
output pixel at ``p = (row, col)`` takes the input value at

.. math::
    s = R(θ)^T (p - c - t) + c, \qquad
    R(θ) = \begin{pmatrix} \cos θ & -\sin θ \\ \sin θ & \cos θ \end{pmatrix},

read off by bilinear interpolation with zeros outside the image (the background of the digits).
A positive ``t_row`` moves the content down, a positive ``t_col`` to the right. With ``θ = 0``
and integer ``t`` the result is the exact shift with zero fill.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from nndl_jax._validate import check_non_negative, is_integer, is_traced

__all__ = ["transform_image", "affine_images", "random_affine", "add_noise", "image_augmenter"]


def _bilinear(image: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """``image`` sampled at fractional ``(rows, cols)``, zero outside; output shape of ``rows``."""
    h, w = image.shape
    r0, c0 = jnp.floor(rows), jnp.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)

    def at(r, c):
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        value = image[jnp.clip(r, 0, h - 1), jnp.clip(c, 0, w - 1)]
        return jnp.where(inside, value, jnp.zeros((), image.dtype))

    top = (1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)
    bottom = (1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1)
    return ((1 - fr) * top + fr * bottom).astype(image.dtype)


def transform_image(image: jax.Array, angle: jax.Array, shift: jax.Array) -> jax.Array:
    """One image rotated by ``angle`` (radians) about its centre, then shifted by ``shift``.

    Args:
      image: shape ``(H, W)``, floating point.
      angle: scalar ``θ`` in radians.
      shift: ``(t_row, t_col)`` in pixels (fractional shifts interpolate).

    Returns:
      The resampled image, shape ``(H, W)``, zero where the source falls outside.

    Raises:
      ValueError: for a non-floating or non-2-D image, or a concrete non-finite angle or shift.
    """
    if jnp.ndim(image) != 2 or not jnp.issubdtype(image.dtype, jnp.floating):
        raise ValueError(
            f"image must be a floating-point (H, W) array, got shape {jnp.shape(image)} and "
            f"dtype {jnp.result_type(image)}"
        )
    if jnp.ndim(angle) != 0 or jnp.shape(shift) != (2,):
        raise ValueError(
            f"angle must be a scalar and shift a (t_row, t_col) pair, got angle.shape="
            f"{jnp.shape(angle)} and shift.shape={jnp.shape(shift)}"
        )
    _check_finite("angle", angle)
    _check_finite("shift", shift)
    h, w = image.shape
    # coordinates in at least float32: bfloat16/float16 cannot hold pixel indices above 256/2048
    dtype = jnp.promote_types(image.dtype, jnp.float32)
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=dtype), jnp.arange(w, dtype=dtype), indexing="ij")
    cr, cc = (h - 1) / 2, (w - 1) / 2
    angle = jnp.asarray(angle, dtype)
    shift = jnp.asarray(shift, dtype)
    # the inverse map: undo the shift, then rotate by -θ (R^T) about the centre
    dr, dc = rows - cr - shift[0], cols - cc - shift[1]
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    src_r = cos * dr + sin * dc + cr
    src_c = -sin * dr + cos * dc + cc
    return _bilinear(image, src_r, src_c)


def affine_images(images: jax.Array, angles: jax.Array, shifts: jax.Array) -> jax.Array:
    """:func:`transform_image` for each image: ``(n, H, W)`` images, ``(n,)`` angles and
    ``(n, 2)`` shifts."""
    if jnp.ndim(images) != 3:
        raise ValueError(f"images must have shape (n, H, W), got images.shape={jnp.shape(images)}")
    n = jnp.shape(images)[0]
    if jnp.shape(angles) != (n,) or jnp.shape(shifts) != (n, 2):
        raise ValueError(
            f"angles must have shape (n,) and shifts (n, 2) for n={n} images, got "
            f"angles.shape={jnp.shape(angles)} and shifts.shape={jnp.shape(shifts)}"
        )
    _check_finite("angles", angles)
    _check_finite("shifts", shifts)
    return jax.vmap(transform_image)(images, angles, shifts)


def _check_finite(name: str, value) -> None:
    # only concrete values can be checked; traced ones (under jit or vmap) pass through
    if is_traced(value):
        return
    if not bool(jnp.all(jnp.isfinite(jnp.asarray(value)))):
        raise ValueError(f"{name} must be finite, got {name}={value!r}")


def _sample_transform(key, max_shift: int, max_rotation: float, dtype):
    k_angle, k_shift = jax.random.split(key)
    radians = max_rotation * (math.pi / 180)  # math.radians would need a concrete value
    angle = jax.random.uniform(k_angle, (), dtype, -radians, radians)
    shift = jax.random.randint(k_shift, (2,), -max_shift, max_shift + 1).astype(dtype)
    return angle, shift


def random_affine(
    key: jax.Array, images: jax.Array, *, max_shift: int = 1, max_rotation: float = 10.0
) -> jax.Array:
    """Each image shifted by random whole pixels and rotated by a random small angle.

    Per sample, independently: ``t_row, t_col ~ U{-max_shift, ..., max_shift}`` and
    ``θ ~ U[-max_rotation, max_rotation]`` degrees.

    Args:
      key: PRNG key (split once per image).
      images: shape ``(n, H, W)``, background 0.
      max_shift: largest shift in pixels, an int >= 0.
      max_rotation: largest rotation in degrees, >= 0.

    Returns:
      The transformed images, shape ``(n, H, W)``.
    """
    max_shift, max_rotation = _check_geometry(max_shift, max_rotation)
    if jnp.ndim(images) != 3:
        raise ValueError(f"images must have shape (n, H, W), got images.shape={jnp.shape(images)}")
    if not jnp.issubdtype(jnp.result_type(images), jnp.floating):
        raise ValueError(f"images must be floating point, got dtype {jnp.result_type(images)}")
    keys = jax.random.split(key, images.shape[0])
    angles, shifts = jax.vmap(
        lambda k: _sample_transform(k, max_shift, max_rotation, images.dtype)
    )(keys)
    return affine_images(images, angles, shifts)


def add_noise(key: jax.Array, x: jax.Array, std: float) -> jax.Array:
    """``x + std * ε`` with ``ε ~ N(0, I)`` of the shape and dtype of ``x``."""
    std = check_non_negative("noise_std", std)
    if not is_traced(std) and std == 0:
        return x
    return x + (std * jax.random.normal(key, x.shape, x.dtype)).astype(x.dtype)


def _check_geometry(max_shift, max_rotation) -> tuple[int, float]:
    if not is_integer(max_shift) or max_shift < 0:
        raise ValueError(f"max_shift must be an integer >= 0 (pixels), got {max_shift!r}")
    max_shift = int(max_shift)
    max_rotation = check_non_negative("max_rotation", max_rotation)
    if not is_traced(max_rotation) and max_rotation > 180:
        raise ValueError(f"max_rotation must be in [0, 180] degrees, got {max_rotation!r}")
    return max_shift, max_rotation


def image_augmenter(
    image_shape: Sequence[int],
    *,
    max_shift: int = 1,
    max_rotation: float = 10.0,
    noise_std: float = 0.0,
    shift: jax.Array | None = None,
    scale: jax.Array | None = None,
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """An ``augment(key, x) -> x`` for flattened images, for ``fit(..., augment=...)``.

    The features ``x`` of shape ``(n, H*W)`` are mapped back to raw pixels
    ``x_raw = x * scale + shift`` (so that the background is 0 whatever the scaling), shifted
    and rotated by :func:`random_affine`, scaled again, and given Gaussian noise of standard
    deviation ``noise_std`` in feature units.

    Geometric augmentation of z-scored pixels (``load(..., standardize=True)``) moves strokes
    onto pixels whose training standard deviation is tiny, which blows their z-scores up; scale
    images to ``[0, 1]`` instead (``standardize="minmax"``).

    Args:
      image_shape: ``(H, W)``, e.g. ``dataset.image_shape``.
      max_shift, max_rotation: see :func:`random_affine` (pixels, degrees).
      noise_std: standard deviation of the additive noise, >= 0.
      shift, scale: the data set's feature scaling (``dataset.shift``, ``dataset.scale``),
        shape ``(H*W,)``; identity when omitted.

    Returns:
      ``augment(key, x)`` mapping ``(n, H*W)`` features to augmented features of the same
      shape and dtype.
    """
    if len(tuple(image_shape)) != 2 or any(not is_integer(d) or d <= 0 for d in image_shape):
        raise ValueError(f"image_shape must be two positive ints (H, W), got {image_shape!r}")
    h, w = (int(d) for d in image_shape)
    max_shift, max_rotation = _check_geometry(max_shift, max_rotation)
    noise_std = check_non_negative("noise_std", noise_std)
    for name, value in (("shift", shift), ("scale", scale)):
        if value is not None and jnp.shape(value) not in ((), (h * w,)):
            raise ValueError(
                f"{name} must be a scalar or have shape ({h * w},) for images {(h, w)}, got "
                f"{name}.shape={jnp.shape(value)}"
            )
    offset = 0.0 if shift is None else jnp.asarray(shift)
    factor = 1.0 if scale is None else jnp.asarray(scale)

    def augment(key: jax.Array, x: jax.Array) -> jax.Array:
        if jnp.ndim(x) != 2 or x.shape[-1] != h * w:
            raise ValueError(
                f"augment expects features of shape (n, {h * w}) for images {(h, w)}, got "
                f"x.shape={jnp.shape(x)}"
            )
        k_geometry, k_noise = jax.random.split(key)
        raw = (x * factor + offset).reshape(-1, h, w)
        moved = random_affine(k_geometry, raw, max_shift=max_shift, max_rotation=max_rotation)
        out = ((moved.reshape(x.shape) - offset) / factor).astype(x.dtype)
        return add_noise(k_noise, out, noise_std)

    return augment
