"""AdaGrad: per-coordinate rates from the sum of all squared gradients so far."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
from jax import lax

from nndl_jax._validate import check_non_negative
from nndl_jax.optim._base import (
    GradientTransformation,
    ScalarOrSchedule,
    abs_sq,
    accumulator_dtype,
    check_updates,
    map_leaves,
    zeros_for,
)
from nndl_jax.optim._chain import chain
from nndl_jax.optim._scale import scale_by_learning_rate


class AdagradState(NamedTuple):
    """State of ``scale_by_rss``: ``G``, the running sum of squared gradients."""

    sum_of_squares: Any


def scale_by_rss(
    eps: float = 1e-7, initial_accumulator_value: float = 0.0
) -> GradientTransformation:
    r"""AdaGrad's direction: ``G_t = G_{t-1} + |g_t|²``, ``u = g_t / √(G_t + ε)``.

    Args:
      eps: ``ε >= 0``, inside the root as in the book.
      initial_accumulator_value: ``G_0 >= 0``.

    Returns:
      A ``GradientTransformation`` with state ``AdagradState(sum_of_squares=G)``.
    """
    eps = check_non_negative("eps", eps)
    g0 = check_non_negative("initial_accumulator_value", initial_accumulator_value)

    def init(params):
        return AdagradState(sum_of_squares=zeros_for(params, g0, real=True))

    def update(updates, state, params=None):
        check_updates(updates, params, **{"state.sum_of_squares": state.sum_of_squares})

        def leaf(g, s):
            g_acc = g.astype(accumulator_dtype(g))
            s = s + abs_sq(g_acc)
            # G = 0 only where every gradient so far was 0: step 0 there, not 0/0 when ε = 0
            # (one rsqrt and a multiply: cheaper than sqrt and a divide, and as exact to 1 ulp)
            out = jnp.where(s > 0, g_acc * lax.rsqrt(s + eps), 0)
            return out.astype(g.dtype), s

        out, sums = map_leaves(leaf, updates, state.sum_of_squares, n_out=2)
        return out, AdagradState(sum_of_squares=sums)

    return GradientTransformation(init, update)


def adagrad(
    learning_rate: ScalarOrSchedule, eps: float = 1e-7, initial_accumulator_value: float = 0.0
) -> GradientTransformation:
    r"""AdaGrad (Duchi et al. 2011), as the book writes it.

    .. math::
        G_t = G_{t-1} + g_t \odot g_t, \qquad
        θ_t = θ_{t-1} - \frac{α_t}{\sqrt{G_t + ε}} \odot g_t

    with ``G_0 = initial_accumulator_value``. Each coordinate's rate shrinks as its gradients
    accumulate, so AdaGrad's steps decay even on a constant gradient.

    Differences: optax's ``adagrad`` defaults to ``G_0 = 0.1`` (ours, the book's and PyTorch's
    default is 0). Like optax, the update is 0 where ``G_t = 0`` (all gradients so far were 0),
    so that ``ε = 0`` gives no 0/0. PyTorch
    adds ``ε = 1e-10`` outside the root: ``g / (√G + ε)``.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      eps: ``ε >= 0``, added inside the square root.
      initial_accumulator_value: ``G_0 >= 0``.

    Returns:
      ``chain(scale_by_rss(ε, G_0), scale_by_learning_rate(α))``.
    """
    return chain(
        scale_by_rss(eps=eps, initial_accumulator_value=initial_accumulator_value),
        scale_by_learning_rate(learning_rate),
    )
