"""Composing transforms, and applying their output to the parameters."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from nndl_jax.optim._base import (
    GradientTransformation,
    check_matching,
    check_real_params_get_real_updates,
    check_transform,
)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Run transforms one after the other, each on the previous one's output.

    ``chain(t1, t2, ..., tn)`` maps gradients ``g`` to ``tn(...t2(t1(g)))``; its state is the
    tuple of the transforms' states. Any optax transform may appear in the chain, and the chain
    itself is an optax ``GradientTransformationExtraArgs``: as in ``optax.chain``, keyword
    arguments of ``update`` after ``params`` (``value=loss`` for
    ``optax.contrib.reduce_on_plateau``, ``value_fn`` for ``optax.lbfgs``) reach the transforms
    that take them and are dropped for the others.

    Args:
      *transforms: ``GradientTransformation`` objects (ours or optax's).

    Returns:
      The composed ``GradientTransformation``.

    >>> from nndl_jax import optim
    >>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))
    """
    for i, t in enumerate(transforms):
        check_transform(f"chain's argument {i}", t)
    transforms = tuple(optax.with_extra_args_support(t) for t in transforms)

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None, **extra_args):
        if isinstance(state, list):  # e.g. restored from a format without tuples
            state = tuple(state)
        if not isinstance(state, tuple) or len(state) != len(transforms):
            length = f" of length {len(state)}" if isinstance(state, tuple) else ""
            raise ValueError(
                f"state must be the tuple of {len(transforms)} states that this chain's init "
                f"returns, got {type(state).__name__}{length}"
            )
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            updates, s = t.update(updates, s, params, **extra_args)
            new_state.append(s)
        return updates, tuple(new_state)

    return optax.GradientTransformationExtraArgs(init, update)


def apply_updates(params: Any, updates: Any) -> Any:
    """``θ + Δθ`` leaf by leaf, each result cast back to its parameter's dtype.

    Transforms already fold in the sign (``scale_by_learning_rate`` multiplies by ``-α``), so
    this is an addition, as in optax. A bfloat16 parameter stays bfloat16 even when its update
    arrives in float32.

    Raises:
      TypeError: ``updates`` has a different tree structure from ``params``, or a complex
        update for a real parameter.
      ValueError: a leaf of ``updates`` has a different shape from its parameter.
    """
    check_matching("updates", updates, "params", params)
    check_real_params_get_real_updates(updates, params)
    return jax.tree.map(lambda p, u: jnp.asarray(p + u).astype(jnp.result_type(p)), params, updates)
