"""Run a transform on one raveled vector instead of on every leaf of a pytree."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.optim._base import GradientTransformation, check_transform, check_updates


def ravel(tree: Any) -> jax.Array:
    """Concatenate every leaf of ``tree``, flattened, into one vector of their common dtype."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.zeros((0,), jnp.float32)
    dtype = jnp.result_type(*leaves)
    return jnp.concatenate([jnp.ravel(jnp.asarray(x, dtype)) for x in leaves])


def unravel_like(flat: jax.Array, tree: Any) -> Any:
    """The inverse of ``ravel``: split ``flat`` into leaves shaped and typed like ``tree``'s."""
    leaves, treedef = jax.tree.flatten(tree)
    sizes = [int(np.size(x)) for x in leaves]
    if flat.shape != (sum(sizes),):
        raise ValueError(
            f"the flat vector has shape {flat.shape}, expected ({sum(sizes)},) for the tree "
            f"{treedef}"
        )
    pieces = jnp.split(flat, np.cumsum(sizes)[:-1]) if leaves else []

    def shaped(p, x):
        if jnp.iscomplexobj(p) and not jnp.iscomplexobj(x):
            p = jnp.real(p)  # a real leaf raveled with complex ones
        return p.reshape(np.shape(x)).astype(jnp.result_type(x))

    return treedef.unflatten([shaped(p, x) for p, x in zip(pieces, leaves, strict=True)])


def flatten(transform: GradientTransformation) -> GradientTransformation:
    """Run ``transform`` on the raveled vector of all leaves, then split its output back.

    ``init`` ravels the params (every leaf flattened and concatenated in tree order) and
    returns ``transform``'s state for that one vector; ``update`` ravels the updates (and the
    params), runs ``transform`` once, and unravels its output into the updates' structure.
    An elementwise optimizer (SGD, momentum, RMSProp, AdaGrad, Adam ...) computes exactly the
    same numbers either way; a tree of many small leaves becomes a few large kernels, which
    compile and run faster. Transforms that look at leaves separately change meaning: there
    is only one leaf, so ``clip_by_norm`` clips the global norm, and a ``mask`` shaped like the
    params tree no longer matches and raises a TypeError (only a single boolean fits). A
    *callable* mask is called with the flat vector, so it sees no tree: a rule such as
    ``lambda p: tree_map(lambda x: x.ndim > 1, p)`` returns ``False`` and silently decays
    nothing; keep masked weight decay outside ``flatten``.

    The leaves are checked as the per-leaf transforms check them, before raveling hides their
    dtypes: integer or boolean params or updates (``float0`` gradients of integer leaves
    included) are a TypeError rather than being trained as floats and rounded back.

    Leaves of mixed dtypes are raveled in their common dtype and cast back on the way out (real
    leaves raveled with complex ones take the real part).
    The state is ``transform``'s own state for the flat vector, as in ``optax.flatten``.

    Args:
      transform: any ``GradientTransformation``.

    Returns:
      The flattened ``GradientTransformation``.
    """
    check_transform("transform", transform)

    def init(params):
        for path, p in jax.tree_util.tree_flatten_with_path(params)[0]:
            if not jnp.issubdtype(jnp.result_type(p), jnp.inexact):
                raise TypeError(
                    "params must hold floating-point (real or complex) arrays, got dtype "
                    f"{jnp.result_type(p)} at params{jax.tree_util.keystr(path)}"
                )
        return transform.init(ravel(params))

    def update(updates, state, params=None):
        # dtypes, structures, shapes and complex-for-real, as every per-leaf transform checks
        check_updates(updates, params)
        flat_params = None if params is None else ravel(params)
        flat_updates, state = transform.update(ravel(updates), state, flat_params)
        return unravel_like(flat_updates, updates), state

    return GradientTransformation(init, update)
