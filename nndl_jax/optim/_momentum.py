"""The notes' momentum: an exponential moving average of the gradients, and its Nesterov variant."""

from __future__ import annotations

from typing import Any, NamedTuple

from nndl_jax._validate import check_fraction
from nndl_jax.optim._base import (
    GradientTransformation,
    ScalarOrSchedule,
    accumulator_dtype,
    check_updates,
    map_leaves,
    zeros_for,
)
from nndl_jax.optim._chain import chain
from nndl_jax.optim._scale import scale_by_learning_rate


class MomentumState(NamedTuple):
    """State of ``scale_by_momentum``: the velocity ``v`` (a moving average of gradients)."""

    velocity: Any


def scale_by_momentum(beta: float = 0.9, *, nesterov: bool = False) -> GradientTransformation:
    r"""Damped momentum: ``v_t = β v_{t-1} + (1-β) g_t``, output ``v_t``.

    With ``nesterov=True`` the output is the look-ahead ``β v_t + (1-β) g_t``. ``v_0 = 0``,
    without bias correction (Adam's ``M_t`` is this velocity, bias-corrected).

    Args:
      beta: ``β`` in [0, 1).
      nesterov: output the look-ahead instead of ``v_t``.

    Returns:
      A ``GradientTransformation`` with state ``MomentumState(velocity=v)``.
    """
    beta = check_fraction("beta", beta)

    def init(params):
        return MomentumState(velocity=zeros_for(params))

    def update(updates, state, params=None):
        check_updates(updates, params, **{"state.velocity": state.velocity})

        def leaf(g, v):
            g_acc = g.astype(accumulator_dtype(g))
            v = beta * v + (1 - beta) * g_acc
            out = beta * v + (1 - beta) * g_acc if nesterov else v
            return out.astype(g.dtype), v

        out, velocity = map_leaves(leaf, updates, state.velocity, n_out=2)
        return out, MomentumState(velocity=velocity)

    return GradientTransformation(init, update)


def momentum(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> GradientTransformation:
    r"""The notes' momentum method.

    .. math::
        v_t = β v_{t-1} + (1-β) g_t, \qquad θ_t = θ_{t-1} - α_t v_t

    The velocity is a moving average of the gradients, so a constant gradient ``g`` gives a
    step that tends to ``-α g``, the same size as plain SGD's. The accumulated form of optax,
    PyTorch and the book (``v_t = β v_{t-1} + g_t``, see ``sgd``) tends to ``-α g / (1-β)``;
    the two are the same method with ``α_sgd = α (1-β)``: this optimizer equals
    ``optax.sgd(α (1-β), momentum=β)`` step for step (for a schedule too, with each rate
    multiplied by ``1-β``), and its velocity is ``(1-β)`` times optax's trace.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      beta: ``β`` in [0, 1).

    Returns:
      ``chain(scale_by_momentum(β), scale_by_learning_rate(α))``.
    """
    return chain(scale_by_momentum(beta), scale_by_learning_rate(learning_rate))


def nesterov(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> GradientTransformation:
    r"""Nesterov accelerated gradient, in the notes' damped form.

    .. math::
        v_t = β v_{t-1} + (1-β) g_t, \qquad θ_t = θ_{t-1} - α_t \big(β v_t + (1-β) g_t\big)

    The book writes Nesterov's method with the gradient taken at the look-ahead point
    ``θ_{t-1} + ρΔθ_{t-1}``; rewritten in the variable that is stored (Sutskever et al. 2013,
    as optax and PyTorch do) it needs only the gradient at the current parameters, which is
    what an optimizer receives. Equals ``optax.sgd(α (1-β), momentum=β, nesterov=True)`` step
    for step; its velocity is ``(1-β)`` times optax's trace.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      beta: ``β`` in [0, 1).

    Returns:
      ``chain(scale_by_momentum(β, nesterov=True), scale_by_learning_rate(α))``.
    """
    return chain(scale_by_momentum(beta, nesterov=True), scale_by_learning_rate(learning_rate))
