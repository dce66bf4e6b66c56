"""AdaDelta: RMSProp whose rate is the RMS of the past steps themselves."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp

from nndl_jax._validate import check_fraction, check_non_negative
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


class AdadeltaState(NamedTuple):
    """State of ``scale_by_adadelta``.

    Attributes:
      avg_sq_grad: ``G``, the moving average of squared gradients.
      avg_sq_step: ``ΔX²``, the moving average of squared (unscaled) steps.
    """

    avg_sq_grad: Any
    avg_sq_step: Any


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> GradientTransformation:
    r"""The AdaDelta direction ``Δ_t = √(ΔX²_{t-1} + ε) / √(G_t + ε) ⊙ g_t``.

    ``G_t = ρ G_{t-1} + (1-ρ) g_t²`` and ``ΔX²_t = ρ ΔX²_{t-1} + (1-ρ) Δ_t²``, both from 0.
    For complex gradients the squares are ``|g_t|²`` and ``|Δ_t|²``, so both averages stay real
    (``optax.adadelta`` squares the complex numbers themselves, ``g_t²``; for real gradients the
    two agree).

    Returns:
      A ``GradientTransformation`` with state ``AdadeltaState(avg_sq_grad, avg_sq_step)``.
    """
    rho = check_fraction("rho", rho)
    eps = check_non_negative("eps", eps)

    def init(params):
        return AdadeltaState(
            avg_sq_grad=zeros_for(params, real=True), avg_sq_step=zeros_for(params, real=True)
        )

    def update(updates, state, params=None):
        check_updates(
            updates,
            params,
            **{"state.avg_sq_grad": state.avg_sq_grad, "state.avg_sq_step": state.avg_sq_step},
        )

        def leaf(g, sq_grad, sq_step):
            g_acc = g.astype(accumulator_dtype(g))
            sq_grad = rho * sq_grad + (1 - rho) * abs_sq(g_acc)
            step = jnp.sqrt(sq_step + eps) / jnp.sqrt(sq_grad + eps) * g_acc
            sq_step = rho * sq_step + (1 - rho) * abs_sq(step)
            return step.astype(g.dtype), sq_grad, sq_step

        out, sq_grad, sq_step = map_leaves(
            leaf, updates, state.avg_sq_grad, state.avg_sq_step, n_out=3
        )
        return out, AdadeltaState(avg_sq_grad=sq_grad, avg_sq_step=sq_step)

    return GradientTransformation(init, update)


def adadelta(
    learning_rate: ScalarOrSchedule = 1.0, rho: float = 0.9, eps: float = 1e-6
) -> GradientTransformation:
    r"""AdaDelta (Zeiler 2012), as the book writes it.

    .. math::
        G_t &= ρ G_{t-1} + (1-ρ)\, g_t \odot g_t \\
        Δ_t &= \frac{\sqrt{ΔX^2_{t-1} + ε}}{\sqrt{G_t + ε}} \odot g_t, \qquad
        θ_t = θ_{t-1} - α_t Δ_t \\
        ΔX^2_t &= ρ ΔX^2_{t-1} + (1-ρ)\, Δ_t \odot Δ_t

    The book's AdaDelta has no learning rate (``α = 1``, the default here); like optax and
    PyTorch we allow one, applied after the step's moving average is updated, so ``ΔX²``
    tracks the unscaled step. Same rule and ``ρ, ε`` defaults as ``optax.adadelta``, whose
    ``learning_rate`` defaults to None: no scaling at all, not even the sign flip, so pass
    ``learning_rate=1.0`` there to get this default. PyTorch's ``Adadelta`` has the same rule
    with ``lr = 1, ρ = 0.9, ε = 1e-6``.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      rho: ``ρ`` in [0, 1).
      eps: ``ε >= 0``.

    Returns:
      ``chain(scale_by_adadelta(ρ, ε), scale_by_learning_rate(α))``.
    """
    return chain(scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))
