"""Fully connected (affine) layer: z = x W + b."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.nn._layer import Layer

__all__ = ["dense", "Dense"]


def dense(x: jax.Array, w: jax.Array, b: jax.Array | None = None) -> jax.Array:
    """The affine map ``z = x @ w + b`` over the last axis of ``x``.

    Args:
      x: inputs, shape ``(..., d_in)``.
      w: weights, shape ``(d_in, d_out)`` (the book writes W x with W of shape (d_out, d_in); we
        store the transpose so that a batch of row vectors multiplies on the left).
      b: bias, shape ``(d_out,)``, or None.

    Returns:
      ``(..., d_out)``.
    """
    if jnp.ndim(w) != 2:
        raise ValueError(f"w must be a matrix (d_in, d_out), got w.shape={jnp.shape(w)}")
    if jnp.shape(x)[-1:] != jnp.shape(w)[:1]:
        raise ValueError(
            f"x's last axis must match w's first: x.shape={jnp.shape(x)}, w.shape={jnp.shape(w)}"
        )
    z = jnp.matmul(x, w)
    if b is not None:
        if jnp.shape(b) != jnp.shape(w)[1:]:
            raise ValueError(f"b must have shape {jnp.shape(w)[1:]}, got b.shape={jnp.shape(b)}")
        z = z + b
    return z


def Dense(
    features: int,
    *,
    use_bias: bool = True,
    w_init="lecun_normal",
    b_init="zeros",
    dtype=None,
) -> Layer:
    """Dense layer ``y = x @ w + b`` with params ``{"w": (d_in, features), "b": (features,)}``.

    Args:
      features: output width.
      use_bias: add ``b`` (params then have no ``"b"`` when False).
      w_init, b_init: initializer names or functions ``(key, shape, dtype) -> array``
        (see :mod:`nndl_jax.nn.initializers`); flax's default ``lecun_normal`` for weights.
      dtype: parameter dtype; default float32, or float64 when ``jax_enable_x64`` is on.
    """
    from nndl_jax.nn.initializers import get as get_initializer

    if isinstance(features, bool) or not isinstance(features, (int, np.integer)) or features <= 0:
        raise ValueError(f"features must be a positive integer, got {features!r}")
    features = int(features)  # a NumPy integer would show up in the output shape
    w_fn, b_fn = get_initializer(w_init), get_initializer(b_init)
    param_dtype = jnp.dtype(dtype) if dtype is not None else None

    def init(key, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 1 or input_shape[-1] is None or input_shape[-1] <= 0:
            raise ValueError(
                f"Dense needs a known last input dimension, got input_shape={input_shape}"
            )
        k_w, k_b = jax.random.split(key)
        # resolved at init, not construction, so that enabling x64 later is honoured
        dt = param_dtype or jax.dtypes.canonicalize_dtype(jnp.float64)
        params = {"w": w_fn(k_w, (input_shape[-1], features), dt)}
        if use_bias:
            params["b"] = b_fn(k_b, (features,), dt)
        return input_shape[:-1] + (features,), params, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        return dense(x, params["w"], params.get("b")), state

    return Layer(init, apply)
