"""RMSProp: per-coordinate rates from a moving average of squared gradients."""

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
from nndl_jax.optim._sgd import trace


class RMSPropState(NamedTuple):
    """State of ``scale_by_rms``.

    Attributes:
      nu: ``G``, the moving average of squared gradients.
      mu: the moving average of gradients when ``centered``, else None.
    """

    nu: Any
    mu: Any = None


def scale_by_rms(
    decay: float = 0.9,
    eps: float = 1e-8,
    *,
    eps_in_sqrt: bool = False,
    initial_scale: float = 0.0,
    centered: bool = False,
) -> GradientTransformation:
    r"""Divide by the root mean square: ``G_t = β G_{t-1} + (1-β) |g_t|²``, ``u = g_t/(√G_t + ε)``.

    With ``eps_in_sqrt`` the denominator is ``√(G_t + ε)``. With ``centered`` a moving average
    ``M_t = β M_{t-1} + (1-β) g_t`` is kept too and ``G_t`` is replaced by the variance
    estimate ``max(G_t - |M_t|², 0)`` (the clamp keeps rounding from taking a root of a negative).

    Args:
      decay: ``β`` in [0, 1).
      eps: ``ε >= 0``.
      eps_in_sqrt: put ``ε`` inside the square root.
      initial_scale: ``G_0 >= 0``.
      centered: divide by the centred second moment.

    Returns:
      A ``GradientTransformation`` with state ``RMSPropState(nu=G, mu=M or None)``.
    """
    decay = check_fraction("decay", decay)
    eps = check_non_negative("eps", eps)
    g0 = check_non_negative("initial_scale", initial_scale)

    def init(params):
        return RMSPropState(
            nu=zeros_for(params, g0, real=True), mu=zeros_for(params) if centered else None
        )

    def denominator(second_moment):
        if eps_in_sqrt:
            return jnp.sqrt(second_moment + eps)
        return jnp.sqrt(second_moment) + eps

    def update(updates, state, params=None):
        check_updates(updates, params, **{"state.nu": state.nu})
        if not centered:

            def leaf(g, nu):
                g_acc = g.astype(accumulator_dtype(g))
                nu = decay * nu + (1 - decay) * abs_sq(g_acc)
                return (g_acc / denominator(nu)).astype(g.dtype), nu

            out, nu = map_leaves(leaf, updates, state.nu, n_out=2)
            return out, RMSPropState(nu=nu)

        check_updates(updates, **{"state.mu": state.mu})

        def centered_leaf(g, nu, mu):
            g_acc = g.astype(accumulator_dtype(g))
            nu = decay * nu + (1 - decay) * abs_sq(g_acc)
            mu = decay * mu + (1 - decay) * g_acc
            variance = jnp.maximum(nu - abs_sq(mu), 0)
            return (g_acc / denominator(variance)).astype(g.dtype), nu, mu

        out, nu, mu = map_leaves(centered_leaf, updates, state.nu, state.mu, n_out=3)
        return out, RMSPropState(nu=nu, mu=mu)

    return GradientTransformation(init, update)


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.9,
    eps: float = 1e-8,
    *,
    eps_in_sqrt: bool = False,
    initial_scale: float = 0.0,
    centered: bool = False,
    momentum: float | None = None,
) -> GradientTransformation:
    r"""RMSProp (Tieleman & Hinton 2012), in the notes' form by default.

    .. math::
        G_t = β G_{t-1} + (1-β)\, g_t \odot g_t, \qquad
        θ_t = θ_{t-1} - \frac{α_t}{\sqrt{G_t} + ε} \odot g_t

    Options: ``eps_in_sqrt`` uses ``√(G_t + ε)`` (the book's printed form and optax's default);
    ``centered`` divides by ``√(G_t - M_t²)`` with ``M_t`` the moving average of gradients
    (Graves 2013); ``momentum=μ`` accumulates the scaled step, ``v_t = μ v_{t-1} + g_t/(√G_t+ε)``,
    ``θ_t = θ_{t-1} - α_t v_t``.

    Differences: optax's ``rmsprop`` defaults to ``eps_in_sqrt=True``; pass
    ``eps_in_sqrt=False`` there to get this rule. With ``momentum`` optax applies the learning
    rate *before* the trace (its trace holds ``-α v``); the two agree for a constant rate,
    while with a schedule ours (and PyTorch's) rescales the whole velocity by the current rate.
    PyTorch's ``RMSprop`` uses the decay ``alpha=0.99`` (our ``β``) and ``ε = 1e-8`` outside the
    root, as here.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      decay: ``β`` in [0, 1).
      eps: ``ε >= 0``.
      eps_in_sqrt: put ``ε`` inside the square root.
      initial_scale: ``G_0 >= 0``.
      centered: use the centred second moment.
      momentum: ``μ`` in [0, 1), or None for none.

    Returns:
      ``chain(scale_by_rms(...), [trace(μ)], scale_by_learning_rate(α))``.
    """
    links = [
        scale_by_rms(
            decay, eps, eps_in_sqrt=eps_in_sqrt, initial_scale=initial_scale, centered=centered
        )
    ]
    if momentum is not None:
        links.append(trace(check_fraction("momentum", momentum)))
    links.append(scale_by_learning_rate(learning_rate))
    return chain(*links)
