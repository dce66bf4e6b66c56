"""Dropout: zero each unit with probability ``rate`` in training, scale the rest by 1/(1-rate)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndl_jax._validate import check_fraction
from nndl_jax.nn._layer import Layer

__all__ = ["dropout", "Dropout"]


def dropout(
    x: jax.Array,
    rate: float,
    *,
    key: jax.Array | None = None,
    train: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> jax.Array:
    """Inverted dropout.

    In training, ``y = m ⊙ x / (1 - rate)`` with ``m ~ Bernoulli(1 - rate)``, so ``E[y] = x`` and
    evaluation needs no rescaling. ``rate`` is the probability of *dropping* a unit (as flax and
    PyTorch; stax's ``Dropout`` takes the keep rate instead).

    Args:
      x: inputs.
      rate: drop probability in [0, 1]. ``rate=0`` or ``train=False`` is the identity;
        ``rate=1`` returns zeros.
      key: PRNG key, required when ``train`` and ``0 < rate < 1``.
      broadcast_dims: axes along which one mask value is shared (e.g. the time axis for the
        variational dropout of recurrent networks: one mask per sequence).
    """
    if not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
        raise ValueError(f"rate must be in [0, 1], got {rate!r}")
    if not train or rate == 0.0:
        return x
    if rate == 1.0:
        return jnp.zeros_like(x)
    if key is None:
        raise ValueError("dropout in training mode needs a PRNG key: pass key=jax.random.key(...)")
    mask_shape = tuple(
        1 if i in {d % x.ndim for d in broadcast_dims} else n for i, n in enumerate(x.shape)
    )
    keep = jax.random.bernoulli(key, 1.0 - rate, mask_shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype)).astype(x.dtype)


def Dropout(rate: float, *, broadcast_dims: tuple[int, ...] = ()) -> Layer:
    """Dropout layer; ``rate`` is the drop probability in [0, 1). Identity when ``train=False``."""
    rate = check_fraction("rate", rate)

    def init(key, input_shape):
        del key
        return tuple(input_shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params
        if train and rate > 0 and key is None:
            raise ValueError(
                "Dropout in training mode needs a PRNG key: call apply(..., key=key, train=True)"
            )
        return dropout(x, rate, key=key, train=train, broadcast_dims=broadcast_dims), state

    return Layer(init, apply)
