"""Stochastic gradient descent with accumulated (heavy-ball) momentum, optionally Nesterov's."""

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


class TraceState(NamedTuple):
    """State of ``trace``: the accumulated velocity ``v``, shaped like the params."""

    trace: Any


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    r"""Accumulated momentum: ``v_t = β v_{t-1} + g_t``, output ``v_t``.

    With ``nesterov=True`` the output is the look-ahead ``g_t + β v_t`` (Sutskever et al.'s
    reformulation of Nesterov's accelerated gradient, which needs the gradient at the current
    parameters only). ``v_0 = 0``.

    This is the undamped form (optax ``trace``, PyTorch ``SGD(momentum=β)`` with
    ``dampening=0``, the book's ``Δθ_t = ρΔθ_{t-1} - α g_t`` for a constant ``α``); for the
    notes' exponential moving average ``v_t = β v_{t-1} + (1-β) g_t`` see
    ``scale_by_momentum``.

    Args:
      decay: ``β`` in [0, 1).
      nesterov: output ``g_t + β v_t`` instead of ``v_t``.

    Returns:
      A ``GradientTransformation`` with state ``TraceState(trace=v)``.
    """
    decay = check_fraction("decay", decay)

    def init(params):
        return TraceState(trace=zeros_for(params))

    def update(updates, state, params=None):
        check_updates(updates, params, **{"state.trace": state.trace})

        def leaf(g, v):
            g_acc = g.astype(accumulator_dtype(g))
            v = decay * v + g_acc
            out = g_acc + decay * v if nesterov else v
            return out.astype(g.dtype), v

        out, velocity = map_leaves(leaf, updates, state.trace, n_out=2)
        return out, TraceState(trace=velocity)

    return GradientTransformation(init, update)


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: float | None = None,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""Stochastic gradient descent, with optional accumulated momentum.

    Plain: ``θ_t = θ_{t-1} - α_t g_t``. With ``momentum=β``:

    .. math::
        v_t = β v_{t-1} + g_t, \qquad θ_t = θ_{t-1} - α_t v_t

    and with ``nesterov=True`` the step is ``-α_t (g_t + β v_t)``.

    Same rule and defaults as ``optax.sgd`` and PyTorch's ``SGD`` (dampening 0). The book's
    momentum ``Δθ_t = ρΔθ_{t-1} - α g_t`` keeps ``α`` inside the velocity; for a constant rate
    it is this rule with ``Δθ_t = -α v_t``. The notes' damped form is ``momentum``.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      momentum: ``β`` in [0, 1), or None for plain SGD.
      nesterov: use Nesterov's look-ahead (needs ``momentum``).

    Returns:
      ``chain(trace(β, nesterov), scale_by_learning_rate(α))``, or
      ``chain(scale_by_learning_rate(α))`` without momentum.

    Raises:
      TypeError: a learning rate that is neither a number nor a schedule.
      ValueError: a negative or non-finite learning rate, ``momentum`` outside [0, 1), or
        ``nesterov`` without ``momentum``.
    """
    lr = scale_by_learning_rate(learning_rate)
    if momentum is None:
        if nesterov:
            raise ValueError("nesterov=True needs a momentum, got momentum=None")
        return chain(lr)
    return chain(trace(decay=check_fraction("momentum", momentum), nesterov=nesterov), lr)
