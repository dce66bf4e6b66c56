"""Dropout: zero each unit with probability ``rate`` in training, scale the rest by 1/(1-rate)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndl_jax._validate import check_fraction, is_traced
from nndl_jax.nn._layer import Layer

__all__ = ["dropout", "Dropout"]


def _check_train(train) -> None:
    if is_traced(train):
        raise TypeError(
            "train must be a Python bool, static under jit (it selects the program); mark it "
            "static (jax.jit(..., static_argnames='train')) or switch dropout off with rate=0, "
            "which may be traced"
        )


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
      x: inputs (integers are promoted to the default float dtype, since the kept units are
        scaled by 1/(1-rate)).
      rate: drop probability in [0, 1] (a number, a 0-d array, or a traced value under jit).
        ``rate=0`` or ``train=False`` is the identity; ``rate=1`` returns zeros.
      key: PRNG key, required when ``train`` and ``0 < rate < 1``.
      train: a Python bool, static under jit (it selects the program, as flax's
        ``deterministic``); to switch at run time, use ``rate=0`` (which may be traced).
      broadcast_dims: axes along which one mask value is shared (e.g. the time axis for the
        variational dropout of recurrent networks: one mask per sequence).
    """
    _check_train(train)
    rate = check_fraction("rate", rate, high_open=False)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    traced = is_traced(rate)
    if not train or (not traced and rate == 0.0):
        return x
    if not traced and rate == 1.0:
        return jnp.zeros_like(x)
    if key is None:
        raise ValueError("dropout in training mode needs a PRNG key: pass key=jax.random.key(...)")
    shared = set()
    for d in broadcast_dims:
        if isinstance(d, bool) or not isinstance(d, int) or not -x.ndim <= d < x.ndim:
            raise ValueError(
                f"broadcast_dims must hold axes of x in [{-x.ndim}, {x.ndim}) for x of shape "
                f"{x.shape}, got {tuple(broadcast_dims)!r}"
            )
        shared.add(d % x.ndim)
    mask_shape = tuple(1 if i in shared else n for i, n in enumerate(x.shape))
    keep = jax.random.bernoulli(key, 1.0 - rate, mask_shape)
    # a traced rate may be 1, which keeps nothing: divide by 1 there rather than 0, since the
    # gradient of the discarded x / 0 would be 0 * inf = NaN
    keep_prob = jnp.where(rate < 1.0, 1.0 - rate, 1.0) if traced else 1.0 - rate
    return jnp.where(keep, x / keep_prob, jnp.zeros((), x.dtype)).astype(x.dtype)


def Dropout(rate: float, *, broadcast_dims: tuple[int, ...] = ()) -> Layer:
    """Dropout layer; ``rate`` is the drop probability in [0, 1). Identity when ``train=False``."""
    rate = check_fraction("rate", rate)

    def init(key, input_shape):
        del key
        return tuple(input_shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        _check_train(train)
        del params
        if train and (is_traced(rate) or rate > 0) and key is None:
            raise ValueError(
                "Dropout in training mode needs a PRNG key: call apply(..., key=key, train=True)"
            )
        return dropout(x, rate, key=key, train=train, broadcast_dims=broadcast_dims), state

    return Layer(init, apply)
