"""Input checks shared by the unsupervised estimators.

They run in Python before any tracing: shapes and integers always, the values (NaN, Inf) only
when they can be read. Under an outer ``jax.jit`` (or ``vmap``) they cannot, so that check is
skipped there, as :func:`nndl_jax._validate.check_labels_in_range` does.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import (
    all_finite,
    check_key as check_key,
    check_positive_int as check_positive_int,
)


def is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def as_float_array(name: str, x: Any) -> jax.Array:
    """``x`` as a floating JAX array of at least float32.

    Integers become the default float dtype. float16 and bfloat16 are promoted to float32: the
    linear algebra (eigh, Cholesky) has no half-precision kernels, and distances or densities
    accumulated in 8 to 11 significant bits are off in the second digit.

    Host data (lists, NumPy arrays) goes through NumPy first: integers are converted to float there,
    because ``jnp.asarray`` would first narrow int64 to int32 without x64 and silently wrap values
    beyond 2**31, and non-native byte order (``">f8"``, as read from some files) is swapped, which
    ``jnp.asarray`` refuses.

    Raises:
      TypeError: for complex, boolean or non-numeric input.
      ValueError: for ragged nested sequences.
    """
    if is_tracer(x) or isinstance(x, jax.Array):
        arr = x
    else:
        try:
            host = np.asarray(x)
        except ValueError as exc:  # e.g. a ragged list of rows
            raise ValueError(f"{name} must be a rectangular numeric array: {exc}") from exc
        if host.dtype.kind in "iu":
            host = host.astype(np.float64)
        elif not host.dtype.isnative:
            host = host.astype(host.dtype.newbyteorder("="))
        try:
            arr = jnp.asarray(host)
        except TypeError as exc:
            raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    if jnp.issubdtype(arr.dtype, jnp.complexfloating) or arr.dtype == jnp.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    return arr.astype(jnp.promote_types(arr.dtype, jnp.float32))


def check_data(name: str, x: Any, *, min_samples: int = 1) -> jax.Array:
    """Validate a data matrix ``(n_samples, n_features)`` and return it as a float array.

    Raises:
      ValueError: wrong number of dimensions, too few rows, no columns, or NaN/Inf values
        (located by row and column in the message).
    """
    arr = as_float_array(name, x)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (n_samples, n_features), got shape {tuple(arr.shape)}"
        )
    n, d = arr.shape
    if n < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples (rows), got shape {(n, d)}")
    if d < 1:
        raise ValueError(f"{name} needs at least one feature (column), got shape {(n, d)}")
    check_finite(name, arr)
    return arr


def check_finite(name: str, arr: jax.Array) -> None:
    """Raise ValueError if a concrete ``arr`` holds NaN or Inf, saying how many and where."""
    if is_tracer(arr) or arr.size == 0:
        return
    # One reduction on the array's own device: no host copy of the data unless it is bad.
    ok = all_finite(arr)
    if is_tracer(ok) or bool(ok):
        # A tracer here means an outer jit is tracing: the answer is not known yet.
        return
    host = np.asarray(arr)
    bad = np.argwhere(~np.isfinite(host))
    first = tuple(int(i) for i in bad[0])
    raise ValueError(
        f"{name} must be finite, but it holds {len(bad)} NaN or Inf value(s); the first is "
        f"{host[first]} at index {first}"
    )


def check_count(name: str, value: Any, n_samples: int, what: str, *, limit: int | None = None):
    """A positive integer at most ``limit`` (default ``n_samples``); ``what`` explains the limit."""
    value = check_positive_int(name, value)
    limit = n_samples if limit is None else limit
    if value > limit:
        raise ValueError(f"{name}={value} is larger than {what} ({limit})")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
