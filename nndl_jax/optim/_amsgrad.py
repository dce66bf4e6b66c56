"""AMSGrad: Adam whose second moment never decreases."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nndl_jax.optim._adam import check_adam_args
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


class AmsgradState(NamedTuple):
    """State of ``scale_by_amsgrad``: Adam's ``count, mu, nu`` and ``nu_max = max_s Ĝ_s``."""

    count: jax.Array
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0
) -> GradientTransformation:
    """The AMSGrad direction ``M̂_t / (√(max_{s<=t} Ĝ_s + ε_root) + ε)``; see ``amsgrad``.

    Returns:
      A ``GradientTransformation`` with state ``AmsgradState(count, mu, nu, nu_max)``.
    """
    b1, b2, eps, eps_root = check_adam_args(b1, b2, eps, eps_root)

    def init(params):
        # three separate trees: one shared buffer could not be donated three times
        return AmsgradState(
            count=zero_count(),
            mu=zeros_for(params),
            nu=zeros_for(params, real=True),
            nu_max=zeros_for(params, real=True),
        )

    def update(updates, state, params=None):
        check_updates(
            updates,
            params,
            **{"state.mu": state.mu, "state.nu": state.nu, "state.nu_max": state.nu_max},
        )
        t = increment(state.count)
        # the scalars 1 - β^t, once per update and (real) dtype rather than once per leaf
        dtypes = {nu.dtype for nu in jax.tree.leaves(state.nu)}
        bc1 = {d: bias_correction(b1, t, d) for d in dtypes}
        bc2 = {d: bias_correction(b2, t, d) for d in dtypes}

        def leaf(g, mu, nu, nu_max):
            dtype = nu.dtype  # real, also for complex g and mu
            g_acc = g.astype(mu.dtype)
            mu = b1 * mu + (1 - b1) * g_acc
            nu = b2 * nu + (1 - b2) * abs_sq(g_acc)
            nu_hat = nu / bc2[dtype]
            # max(nu_max, nu_hat) as a select, not jnp.maximum: the derivative of jnp.maximum
            # tests `input == output`, and under jit XLA may recompute the two sides with
            # different rounding, silently dropping the gradient through nu_max (meta-gradients
            # 0.3% off, some of the wrong sign, in a 3-step unroll). A NaN nu_hat propagates, as
            # through jnp.maximum. At an exact tie the derivative goes to the earlier maximum
            # (jnp.maximum splits it half and half), see amsgrad's docstring.
            nu_max = jnp.where(nu_max >= nu_hat, nu_max, nu_hat)
            step = mu / bc1[dtype] / (jnp.sqrt(nu_max + eps_root) + eps)
            return step.astype(g.dtype), mu, nu, nu_max

        out, mu, nu, nu_max = map_leaves(leaf, updates, state.mu, state.nu, state.nu_max, n_out=4)
        return out, AmsgradState(count=t, mu=mu, nu=nu, nu_max=nu_max)

    return GradientTransformation(init, update)


def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
) -> GradientTransformation:
    r"""AMSGrad (Reddi et al. 2018): Adam with a non-decreasing second moment.

    .. math::
        \hat G^{max}_t = \max(\hat G^{max}_{t-1}, \hat G_t), \qquad
        Δθ_t = -\frac{α_t}{\sqrt{\hat G^{max}_t + ε_{root}} + ε}\, \hat M_t

    with ``M̂_t, Ĝ_t`` Adam's bias-corrected moments. The maximum keeps each coordinate's
    effective rate from growing back, which repairs Adam's non-convergence counterexamples.

    Differences: same rule as ``optax.amsgrad`` (the maximum is over bias-corrected second
    moments). Differentiating through the update, the maximum's derivative goes to the earlier
    ``Ĝ^{max}`` when the two are exactly equal (optax splits it half and half): a coordinate
    whose gradients are all 0 then gets the true derivative 0 even with ``ε_root = 0``, where
    optax's is NaN. Reddi et al. use no bias correction; PyTorch's ``Adam(amsgrad=True)`` takes the
    maximum of the *uncorrected* ``G`` and divides by the current ``√(1-β₂^t)``.

    Returns:
      ``chain(scale_by_amsgrad(β₁, β₂, ε, ε_root), scale_by_learning_rate(α))``.
    """
    return chain(scale_by_amsgrad(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))
