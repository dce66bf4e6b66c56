r"""L1 and L2 penalties on the weights, and the decoupled weight decay of the notes.

Regularized training minimizes (book section 7.7.1)

.. math::
    θ^* = \operatorname{argmin}_θ \frac{1}{N} \sum_{n=1}^N L(y^{(n)}, f(x^{(n)}; θ)) + λ\, l_p(θ)

with the penalties

* ``l1(θ) = Σ_i |θ_i|``, whose subgradient ``sign(θ)`` pulls every weight towards 0 by the same
  amount and so sets many exactly to 0 (sparse weights);
* ``l2(θ) = ½ Σ_i θ_i²``, whose gradient ``θ`` shrinks each weight in proportion to its size.
  The ½ makes the gradient of ``λ l2`` exactly ``λθ``, so plain SGD with an L2 penalty ``λ`` is
  the same update as SGD with the weight decay ``θ ← θ - α(g + λθ)`` (the book's remark that the
  two coincide for SGD, and not for adaptive methods such as Adam).

By default only *weights* are penalized: the leaves with two or more axes (dense matrices,
convolution kernels). Biases, normalization scales and PReLU slopes are vectors and are left
alone, as is customary: penalizing a bias does not reduce the capacity of the model, it only
shifts its outputs. ``mask`` overrides the choice.

The gradients are written out analytically (:func:`penalty_grad`) so that a hand-written
backpropagation can add them without autodiff; the training loop adds them to the gradient of
the data loss on every path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from nndl_jax._validate import check_fraction, check_non_negative, is_traced

__all__ = [
    "weights_mask",
    "resolve_mask",
    "l1_penalty",
    "l2_penalty",
    "penalty",
    "penalty_grad",
    "decay_weights",
]

Mask = Any  # None | bool | tree (or prefix) of bools | callable params -> such a tree


def weights_mask(params: Any) -> Any:
    """The default mask: True on leaves with ``ndim >= 2`` (weights), False on vectors (biases)."""
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def resolve_mask(mask: Mask, params: Any) -> Any:
    """A tree of Python bools shaped like ``params`` from any accepted ``mask``.

    Args:
      mask: ``None`` (weights only, :func:`weights_mask`), ``True``/``False`` (every leaf or
        none), a tree of bools with the structure of ``params`` or a prefix of it (one bool then
        covers a whole subtree), or a callable ``params -> such a tree``.
      params: the parameter tree.

    Raises:
      TypeError: the mask's structure does not match the params'.
    """
    if mask is None:
        tree = weights_mask(params)
    elif callable(mask):
        tree = mask(params)
    else:
        tree = mask
    try:
        return jax.tree.map(lambda m, sub: jax.tree.map(lambda _: bool(m), sub), tree, params)
    except ValueError as err:
        raise TypeError(
            f"mask must be a tree of booleans with the structure of params (or a prefix of it), "
            f"got mask: {jax.tree.structure(tree)} and params: {jax.tree.structure(params)}"
        ) from err


def _masked_sum(fn: Callable[[jax.Array], jax.Array], params: Any, mask: Mask) -> jax.Array:
    keep = resolve_mask(mask, params)
    leaves = zip(jax.tree.leaves(params), jax.tree.leaves(keep), strict=True)
    terms = [jnp.sum(fn(p)) for p, on in leaves if on]
    if not terms:
        return jnp.zeros((), jnp.result_type(float))
    return sum(terms[1:], terms[0])


def l1_penalty(params: Any, mask: Mask = None) -> jax.Array:
    """``l1(θ) = Σ_i |θ_i|`` over the masked leaves (weights only by default); a scalar."""
    return _masked_sum(jnp.abs, params, mask)


def l2_penalty(params: Any, mask: Mask = None) -> jax.Array:
    """``l2(θ) = ½ Σ_i θ_i²`` over the masked leaves (weights only by default); a scalar."""
    return 0.5 * _masked_sum(jnp.square, params, mask)


def penalty(params: Any, *, l1: float = 0.0, l2: float = 0.0, mask: Mask = None) -> jax.Array:
    """The regularization term ``λ₁ l1(θ) + λ₂ l2(θ)`` added to the mean data loss.

    Args:
      params: the parameter tree.
      l1, l2: the coefficients ``λ₁, λ₂ >= 0``.
      mask: which leaves are penalized (see :func:`resolve_mask`; weights only by default).

    Returns:
      A scalar.
    """
    l1 = check_non_negative("l1", l1)
    l2 = check_non_negative("l2", l2)
    # a traced coefficient (under jit or vmap) has no truth value: always add its term
    terms = [
        coefficient * fn(params, mask)
        for coefficient, fn in ((l1, l1_penalty), (l2, l2_penalty))
        if is_traced(coefficient) or coefficient
    ]
    # summed in the parameters' dtype: a float64 zero to start from would promote the penalty
    # of float32 parameters under x64
    return sum(terms[1:], terms[0]) if terms else jnp.zeros((), jnp.result_type(float))


def penalty_grad(params: Any, *, l1: float = 0.0, l2: float = 0.0, mask: Mask = None) -> Any:
    """Gradient of :func:`penalty`: ``λ₁ sign(θ) + λ₂ θ`` on masked leaves, 0 elsewhere.

    At ``θ_i = 0`` the L1 term uses the subgradient ``sign(0) = 0`` (the one of least norm, which
    leaves a zero weight at zero), where ``jax.grad(jnp.abs)`` would give 1.

    Returns:
      A tree shaped like ``params``, each leaf in its dtype.
    """
    l1 = check_non_negative("l1", l1)
    l2 = check_non_negative("l2", l2)
    keep = resolve_mask(mask, params)

    def leaf(p, on):
        if not on:
            return jnp.zeros_like(p)
        return (l1 * jnp.sign(p) + l2 * p).astype(p.dtype)

    return jax.tree.map(leaf, params, keep)


def decay_weights(updates: Any, params: Any, rate: float, mask: Mask = None) -> Any:
    r"""Add the notes' weight decay to an optimizer's updates: ``u ← u - β θ``.

    Applied after the optimizer this gives ``θ_t = (1 - β) θ_{t-1} + u_t`` (book section 7.7.2):
    the decay is decoupled from the gradient *and* from the learning rate, so an adaptive
    optimizer does not rescale it. With a constant learning rate ``α`` it is AdamW's rule
    ``-αλθ`` for ``λ = β / α`` (``optim.adamw``, ``optax.adamw``).

    Args:
      updates: the optimizer's updates (to be added to ``params``).
      params: the parameters before the update.
      rate: ``β`` in ``[0, 1)`` per step.
      mask: which leaves decay (weights only by default).

    Raises:
      ValueError: ``rate`` outside ``[0, 1)`` (``1`` would zero the weights every step).
    """
    rate = check_fraction("rate", rate)
    keep = resolve_mask(mask, params)

    def leaf(u, p, on):
        return (u - rate * p).astype(u.dtype) if on else u

    return jax.tree.map(leaf, updates, params, keep)
