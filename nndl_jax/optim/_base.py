"""What every optimizer shares: the protocol types, argument checks and per-leaf tree helpers.

The protocol is optax's (``optax/_src/base.py``): a transform is a ``GradientTransformation``
NamedTuple of ``init(params) -> state`` and ``update(updates, state, params=None) ->
(updates, state)``. We use optax's *type*, so that our transforms drop into any optax chain and
optax's into ours; the update rules in this package are our own.

Dtypes. Moments and accumulators are stored in ``promote_types(param.dtype, float32)``: float32
for bfloat16/float16/float32 params, float64 for float64 params under x64. A bfloat16 moving
average with β = 0.999 would not move at all (0.999·x rounds back to x at bfloat16's 2⁻⁸), so
low-precision state is not an option we offer. Updates leave each transform in the dtype of the
updates that came in, and ``apply_updates`` casts back to each parameter's dtype, so bfloat16
params stay bfloat16.

Complex parameters (as in optax). First moments (momentum, Adam's ``M``) are complex like the
gradients; second moments are real, the moving averages of ``|g|² = g·conj(g)`` (``abs_sq``), so
every denominator ``√G`` is real and the step keeps the gradient's phase. A complex update for
a real parameter is a TypeError: casting it back would silently drop its imaginary part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from optax import EmptyState as EmptyState, GradientTransformation as GradientTransformation

from nndl_jax._validate import as_real, check_non_negative

Schedule = Callable[[jax.Array], jax.Array]
"""A learning-rate schedule: the update count (int32, 0 for the first update) -> a scalar."""

ScalarOrSchedule = float | Schedule


class ScheduleState(NamedTuple):
    """The state of a transform that reads a schedule: how many updates it has made so far."""

    count: jax.Array  # int32, shape ()


def check_transform(name: str, value: Any) -> GradientTransformation:
    """Raise TypeError unless ``value`` has callable ``init`` and ``update`` (ours or optax's)."""
    if not (callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))):
        raise TypeError(
            f"{name} must be a GradientTransformation (with init and update), "
            f"got {type(value).__name__}: {value!r}"
        )
    return value


def check_rate(name: str, value: Any) -> ScalarOrSchedule:
    """A learning rate (or weight decay): a schedule ``count -> value``, or a finite number >= 0.

    Raises:
      TypeError: ``value`` is neither callable nor a real number (or 0-d real array).
      ValueError: ``value`` is negative, NaN or infinite.
    """
    if callable(value):
        return value
    if as_real(value) is None:
        raise TypeError(
            f"{name} must be a number or a schedule count -> value, "
            f"got {type(value).__name__}: {value!r}"
        )
    # a traced rate (under jit or vmap over rates) comes back as it is: no value to check
    return check_non_negative(name, value)


def zero_count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the int32 maximum instead of wrapping to a negative count."""
    return jnp.where(count < np.iinfo(np.int32).max, count + 1, count)


def accumulator_dtype(x: Any) -> np.dtype:
    """The dtype moments are kept in for a leaf of dtype ``x.dtype``: at least float32.

    Complex leaves keep a complex dtype (complex64 for complex64); see ``real_dtype``.
    """
    return jnp.promote_types(jnp.result_type(x), jnp.float32)


def real_dtype(dtype: Any) -> np.dtype:
    """The real dtype of the same precision: float32 for complex64, ``dtype`` itself if real."""
    return jnp.finfo(dtype).dtype


def abs_sq(x: jax.Array) -> jax.Array:
    """``|x|² = x·conj(x)`` as a real array (``x * x`` for real ``x``): a second moment's input."""
    if jnp.iscomplexobj(x):
        return jnp.real(x * jnp.conj(x))
    return x * x


def zeros_for(params: Any, fill: float = 0.0, *, real: bool = False) -> Any:
    """A moment tree shaped like ``params`` (filled with ``fill``), in the accumulator dtype.

    ``real=True`` is for second moments: a complex parameter gets a real accumulator. Each leaf
    is placed (sharded) like its parameter, as optax's state is, rather than on one device.
    """

    def leaf(path, p):
        p = jnp.asarray(p)
        if not jnp.issubdtype(p.dtype, jnp.inexact):
            raise TypeError(
                f"params must hold floating-point (real or complex) arrays, got dtype {p.dtype} "
                f"at params{jax.tree_util.keystr(path)}"
            )
        dtype = accumulator_dtype(p)
        return jnp.full_like(p, fill, real_dtype(dtype) if real else dtype)

    return jax.tree_util.tree_map_with_path(leaf, params)


def check_real_params_get_real_updates(updates: Any, params: Any) -> None:
    """Raise TypeError where a complex update meets a real parameter (call after the shapes match).

    ``θ + Δθ`` would be complex and casting it back to the parameter's dtype would silently drop
    the imaginary part.
    """
    paths = jax.tree_util.tree_flatten_with_path(updates)[0]
    for (path, u), p in zip(paths, jax.tree.leaves(params), strict=True):
        if jnp.iscomplexobj(u) and not jnp.iscomplexobj(p):
            raise TypeError(
                f"updates{jax.tree_util.keystr(path)} is complex ({jnp.result_type(u)}) but its "
                f"parameter is real ({jnp.result_type(p)}); the imaginary part would be dropped"
            )


def check_matching(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise unless the trees ``a`` and ``b`` have the same structure and leaf shapes.

    A different structure is a TypeError naming both structures; the same structure with a
    different leaf shape is a ValueError naming the leaf and both shapes (without it, jnp would
    silently broadcast a (5,) moment against a (3, 5) gradient). Tree structures and shapes are
    static, so this costs nothing under jit.
    """
    tree_a, tree_b = jax.tree.structure(a), jax.tree.structure(b)
    if tree_a != tree_b:
        raise TypeError(
            f"{name_a} and {name_b} must have the same tree structure, got "
            f"{name_a}: {tree_a} and {name_b}: {tree_b}"
        )
    paths = jax.tree_util.tree_flatten_with_path(a)[0]
    for (path, x), y in zip(paths, jax.tree.leaves(b), strict=True):
        if np.shape(x) != np.shape(y):
            where = jax.tree_util.keystr(path)
            raise ValueError(
                f"{name_a}{where} and {name_b}{where} must have the same shape, got "
                f"{np.shape(x)} and {np.shape(y)}"
            )


def check_updates(updates: Any, params: Any = None, **state_trees: Any) -> None:
    """Check ``updates`` against ``params`` (when given) and against each named state tree.

    Every update must be floating point, real or complex: an integer gradient would be scaled and
    cast back to integers, silently rounding every step to 0. A complex update needs a complex
    parameter (``check_real_params_get_real_updates``).
    """
    for path, u in jax.tree_util.tree_flatten_with_path(updates)[0]:
        if not jnp.issubdtype(jnp.result_type(u), jnp.inexact):
            raise TypeError(
                f"updates must hold floating-point arrays, got dtype {jnp.result_type(u)} at "
                f"updates{jax.tree_util.keystr(path)}"
            )
    if params is not None:
        check_matching("updates", updates, "params", params)
        check_real_params_get_real_updates(updates, params)
    for name, tree in state_trees.items():
        check_matching("updates", updates, name, tree)


def map_leaves(fn: Callable[..., tuple], tree: Any, *rest: Any, n_out: int) -> tuple:
    """Apply ``fn`` leaf by leaf to trees of one structure; ``fn`` returns ``n_out`` arrays.

    Returns ``n_out`` trees of ``tree``'s structure. One Python call per leaf computing every
    output at once keeps the traced program small (an Adam step is one fused kernel per leaf).
    """
    leaves, treedef = jax.tree.flatten(tree)
    others = [treedef.flatten_up_to(r) for r in rest]
    # jnp.asarray: a leaf may be a Python float (optax accepts those too)
    outs = [fn(*map(jnp.asarray, args)) for args in zip(leaves, *others, strict=True)]
    return tuple(treedef.unflatten([o[i] for o in outs]) for i in range(n_out))


def bias_correction(beta: float, count: jax.Array, dtype: Any) -> jax.Array:
    """``1 - β^t`` in the real ``dtype`` for the update count ``t >= 1``."""
    return 1 - jnp.asarray(beta, dtype) ** count.astype(dtype)
