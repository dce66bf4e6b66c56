"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nndl_jax.optim._adam import scale_by_adam
from nndl_jax.optim._base import GradientTransformation, ScalarOrSchedule
from nndl_jax.optim._chain import chain
from nndl_jax.optim._scale import scale_by_learning_rate
from nndl_jax.optim._weight_decay import add_decayed_weights


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | Callable[[Any], Any] | None = None,
    *,
    eps_root: float = 0.0,
) -> GradientTransformation:
    r"""AdamW (Loshchilov & Hutter 2019): Adam's step plus a weight decay outside the moments.

    .. math::
        Δθ_t = -α_t \left(\frac{\hat M_t}{\sqrt{\hat G_t + ε_{root}} + ε} + λ θ_{t-1}\right)

    with ``M̂, Ĝ`` as in ``adam``. An L2 penalty ``λ‖θ‖²/2`` in the loss would instead enter
    ``g`` and be divided by ``√Ĝ``, decaying rarely-updated weights the most.

    Same rule and defaults as ``optax.adamw``. PyTorch's ``AdamW`` computes the same step
    (``θ ← θ(1 - αλ)`` then Adam's step) with a default ``λ = 0.01``.

    Args:
      learning_rate: ``α``, a number >= 0 or a schedule ``count -> α`` (first update: count 0).
      b1: ``β₁`` in [0, 1).
      b2: ``β₂`` in [0, 1).
      eps: ``ε >= 0``.
      weight_decay: ``λ``, a number >= 0 or a schedule.
      mask: which parameters to decay (see ``add_decayed_weights``); None decays all.
      eps_root: ``ε_root >= 0``, inside the square root, as in ``adam``: for differentiating
        through the update (keyword-only here; optax takes it after ``eps``).

    Returns:
      ``chain(scale_by_adam(β₁, β₂, ε, ε_root), add_decayed_weights(λ, mask),
      scale_by_learning_rate(α))``;
      ``update`` needs ``params``.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
