"""Adam (moving averages of the gradient and its square, bias-corrected) and NAdam."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nndl_jax._validate import check_fraction, check_non_negative
from nndl_jax.optim._base import (
    GradientTransformation,
    ScalarOrSchedule,
    abs_sq,
    bias_correction,
    check_updates,
    increment,
    map_leaves,
    zero_count,
    zeros_for,
)
from nndl_jax.optim._chain import chain
from nndl_jax.optim._scale import scale_by_learning_rate


class AdamState(NamedTuple):
    """State of ``scale_by_adam``.

    Attributes:
      count: int32 number of updates made (``t`` after an update).
      mu: ``M``, the moving average of gradients (first moment).
      nu: ``G``, the moving average of squared gradients (second moment).
    """

    count: jax.Array
    mu: Any
    nu: Any


def check_adam_args(b1: float, b2: float, eps: float, eps_root: float) -> tuple[float, ...]:
    return (
        check_fraction("b1", b1),
        check_fraction("b2", b2),
        check_non_negative("eps", eps),
        check_non_negative("eps_root", eps_root),
    )


def scale_by_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    r"""The Adam direction ``M̂_t / (√(Ĝ_t + ε_root) + ε)``; see ``adam`` for the equations.

    With ``nesterov=True`` the first moment is NAdam's look-ahead
    ``β₁ M_t / (1 - β₁^{t+1}) + (1-β₁) g_t / (1 - β₁^t)`` (Dozat 2016, without the momentum
    schedule); see ``nadam``.

    Returns:
      A ``GradientTransformation`` with state ``AdamState(count, mu=M, nu=G)``.
    """
    b1, b2, eps, eps_root = check_adam_args(b1, b2, eps, eps_root)

    def init(params):
        return AdamState(count=zero_count(), mu=zeros_for(params), nu=zeros_for(params, real=True))

    def update(updates, state, params=None):
        check_updates(updates, params, **{"state.mu": state.mu, "state.nu": state.nu})
        t = increment(state.count)
        # the scalars 1 - β^t, once per update and (real) dtype rather than once per leaf
        dtypes = {nu.dtype for nu in jax.tree.leaves(state.nu)}
        bc1 = {d: bias_correction(b1, t, d) for d in dtypes}
        bc2 = {d: bias_correction(b2, t, d) for d in dtypes}
        bc1_next = {d: bias_correction(b1, increment(t), d) for d in dtypes} if nesterov else {}

        def leaf(g, mu, nu):
            dtype = nu.dtype  # real, also for complex g and mu
            g_acc = g.astype(mu.dtype)
            mu = b1 * mu + (1 - b1) * g_acc
            nu = b2 * nu + (1 - b2) * abs_sq(g_acc)
            if nesterov:
                mu_hat = b1 * mu / bc1_next[dtype] + (1 - b1) * g_acc / bc1[dtype]
            else:
                mu_hat = mu / bc1[dtype]
            nu_hat = nu / bc2[dtype]
            step = mu_hat / (jnp.sqrt(nu_hat + eps_root) + eps)
            return step.astype(g.dtype), mu, nu

        out, mu, nu = map_leaves(leaf, updates, state.mu, state.nu, n_out=3)
        return out, AdamState(count=t, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
) -> GradientTransformation:
    r"""Adam (Kingma & Ba 2015), exactly as the notes write it.

    .. math::
        M_t &= β_1 M_{t-1} + (1-β_1)\, g_t, \qquad
        G_t = β_2 G_{t-1} + (1-β_2)\, g_t \odot \bar g_t \\
        \hat M_t &= \frac{M_t}{1-β_1^t}, \qquad \hat G_t = \frac{G_t}{1-β_2^t} \\
        Δθ_t &= -\frac{α_t}{\sqrt{\hat G_t + ε_{root}} + ε}\, \hat M_t

    ``M_0 = G_0 = 0`` and ``t`` counts updates from 1 (``state.count`` after the update).
    ``ε_root`` (default 0) is for differentiating through the update: with 0, the
    derivative of ``√Ĝ`` at a coordinate whose gradients were all 0 is infinite and
    meta-gradients there are NaN (as in optax); a small ``ε_root`` such as 1e-8 keeps them
    finite. It also shrinks the steps where ``Ĝ`` is not far above it (with 1e-8, a
    coordinate of gradients ``1e-5`` steps 10 times less). For complex parameters ``G``
    averages ``|g|² = g·conj(g)`` (real), as in optax.

    Same rule and defaults as ``optax.adam`` and PyTorch's ``Adam`` (``ε`` outside the root).
    TensorFlow/Keras fold the bias correction into the rate, which moves ``ε`` by a factor
    ``√(1-β₂^t)``. In float32 ``1 - β^t`` loses relative accuracy when ``β`` is within ~1e-4 of
    1 (as it does in optax); use x64 there.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      b1: ``β₁`` in [0, 1).
      b2: ``β₂`` in [0, 1).
      eps: ``ε >= 0``, outside the square root.
      eps_root: ``ε_root >= 0``, inside the square root.

    Returns:
      ``chain(scale_by_adam(β₁, β₂, ε, ε_root), scale_by_learning_rate(α))``.

    >>> from nndl_jax import optim
    >>> opt = optim.adam(1e-3)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))


def nadam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
) -> GradientTransformation:
    r"""NAdam: Adam with Nesterov momentum (Dozat 2016).

    The first moment is replaced by its look-ahead, everything else is Adam's:

    .. math::
        \hat M_t = \frac{β_1 M_t}{1-β_1^{t+1}} + \frac{(1-β_1)\, g_t}{1-β_1^t}, \qquad
        Δθ_t = -\frac{α_t}{\sqrt{\hat G_t + ε_{root}} + ε}\, \hat M_t

    Same rule as ``optax.nadam``. Dozat's algorithm also decays ``β₁`` over time (a "momentum
    schedule", which PyTorch's ``NAdam`` implements with ``momentum_decay=4e-3``); like optax
    we keep ``β₁`` constant.

    Returns:
      ``chain(scale_by_adam(β₁, β₂, ε, ε_root, nesterov=True), scale_by_learning_rate(α))``.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, nesterov=True), scale_by_learning_rate(learning_rate)
    )
