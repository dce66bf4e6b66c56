"""Argument checks shared by the whole package.

Every check raises with a message that names the argument, the value it got and what was
expected, so that a user can fix the call without reading our source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def unknown_name(kind: str, name: Any, known: Iterable[str]) -> ValueError:
    """The error for a name that is not in a registry (activation, initializer, data set, ...)."""
    return ValueError(f"unknown {kind} {name!r}; expected one of: {', '.join(sorted(known))}")


def lookup(kind: str, name: str, table: dict[str, Any]) -> Any:
    """``table[name]``, or a ValueError that lists the valid names."""
    try:
        return table[name]
    except (KeyError, TypeError):
        raise unknown_name(kind, name, table) from None


def check_same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise ValueError naming both shapes unless ``a`` and ``b`` have the same shape."""
    shape_a, shape_b = np.shape(a), np.shape(b)
    if shape_a != shape_b:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {name_a}.shape={shape_a} "
            f"and {name_b}.shape={shape_b}"
        )


def check_ndim(name: str, x: Any, ndims: int | Sequence[int]) -> None:
    """Raise ValueError unless ``x.ndim`` is one of ``ndims``."""
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if np.ndim(x) not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{name} must have {want} dimensions, got shape {np.shape(x)}")


def is_integer(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(name: str, value: Any) -> int:
    """A positive Python or NumPy integer; a traced one gets an error saying it must be static."""
    if is_traced(value):
        raise ValueError(
            f"{name} must be a concrete integer, not a traced value: it sets array shapes or loop "
            f"lengths, so under jax.jit pass it as a static argument (static_argnums or "
            f"static_argnames) or close over it"
        )
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_seed(name: str, value: Any) -> int:
    """A seed for ``jax.random.key``: an integer in [0, 2**32).

    ``jax.random.key(2**32)`` is ``key(0)`` (without x64), so a larger seed would silently rerun
    seed 0, and from 2**63 it overflows.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if value >= 2**32:
        raise ValueError(f"{name} must be below 2**32 (JAX keys take 32-bit seeds), got {value}")
    return int(value)


def check_non_negative(name: str, value: Any) -> float:
    v = as_real(value)
    if v is None or (not is_traced(v) and (not v >= 0 or math.isinf(v))):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_positive(name: str, value: Any) -> float:
    v = as_real(value)
    if v is None or (not is_traced(v) and (not v > 0 or math.isinf(v))):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_fraction(
    name: str, value: Any, *, low_open: bool = False, high_open: bool = True
) -> float:
    """A number in [0, 1) by default; ``low_open``/``high_open`` exclude the ends."""
    lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
    v = as_real(value)
    ok = v is not None and (
        is_traced(v) or ((v > 0 if low_open else v >= 0) and (v < 1 if high_open else v <= 1))
    )
    if not ok:
        raise ValueError(f"{name} must be in {lo}0, 1{hi}, got {value!r}")
    return v


def check_labels_in_range(name: str, labels: Any, num_classes: int) -> None:
    """Outside jit, report integer labels outside ``[0, num_classes)`` instead of miscounting.

    Under ``jit`` the values are unknown at trace time, so the check is skipped there.
    """
    try:
        values = np.asarray(labels)
    except Exception:  # a tracer: values unknown while tracing
        return
    if values.size == 0:
        return
    if not np.issubdtype(values.dtype, np.integer):
        if not np.all(np.equal(np.mod(values, 1), 0)):
            raise ValueError(f"{name} must hold integer class labels, got dtype {values.dtype}")
    lo, hi = values.min(), values.max()
    if lo < 0 or hi >= num_classes:
        bad = values[(values < 0) | (values >= num_classes)]
        raise ValueError(
            f"{name} has labels outside [0, {num_classes}): e.g. {bad[:5].tolist()} "
            f"(min {lo}, max {hi}); pass num_classes large enough or fix the labels"
        )


def as_label_array(name: str, labels: Any) -> Any:
    """``jnp.asarray(labels)``, refusing host integers that the conversion would wrap.

    Without x64, JAX narrows int64 to int32: a label of 2**32 becomes 0 and then passes every
    range check. Arrays already on a device (or traced) are taken as they are.
    """
    if isinstance(labels, (jax.Array, jax.core.Tracer)):
        return labels
    host = np.asarray(labels)
    if host.dtype.kind in "iu" and host.size:
        kept = np.iinfo(jax.dtypes.canonicalize_dtype(host.dtype))
        outside = (host < kept.min) | (host > kept.max)
        if outside.any():
            raise ValueError(
                f"{name} holds integers outside the {kept.dtype} range that JAX keeps them in "
                f"({kept.min} to {kept.max}), e.g. {host[outside][:5].tolist()}: they would wrap "
                f"around to other labels"
            )
    return jnp.asarray(host)


def as_real(value: Any) -> Any:
    """A real scalar as a Python float, a traced scalar unchanged, anything else ``None``.

    Real scalars are Python and NumPy numbers and 0-d NumPy or JAX arrays of an integer or
    floating dtype (``optax.inject_hyperparams`` passes every hyperparameter as a 0-d array).
    A tracer, a hyperparameter under ``jit`` or ``vmap``, has no value to check yet and is
    returned as it is. Booleans are not numbers here.
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if not isinstance(value, (np.ndarray, jax.Array)) or np.ndim(value) != 0:
        return None
    dtype = value.dtype
    if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)):
        return None
    return value if is_traced(value) else float(value)


def is_traced(value: Any) -> bool:
    return isinstance(value, jax.core.Tracer)


def check_key(key: Any) -> None:
    """A PRNG key: a typed key array or a raw ``uint32[2]`` key."""
    if is_traced(key):
        return
    try:
        arr = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    except TypeError:
        raise TypeError(
            f"key must be a PRNG key such as jax.random.key(0), got {type(key).__name__}"
        ) from None
    typed = jnp.issubdtype(arr.dtype, jax.dtypes.prng_key)
    raw = arr.dtype == jnp.uint32 and arr.shape == (2,)
    if not (typed and arr.shape == ()) and not raw:
        raise TypeError(
            "key must be a PRNG key such as jax.random.key(0) or jax.random.PRNGKey(0), got "
            f"an array of dtype {arr.dtype} and shape {tuple(arr.shape)}"
        )


@jax.jit
def all_finite(tree: Any) -> jax.Array:
    """Whether every floating leaf of ``tree`` is finite, in one compiled call per structure."""
    flags = [
        jnp.all(jnp.isfinite(leaf))
        for leaf in jax.tree.leaves(tree)
        if jnp.issubdtype(leaf.dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(flags)) if flags else jnp.asarray(True)
