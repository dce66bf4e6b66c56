"""Full float32 matrix products for the estimators, whatever the platform's default.

GPUs run float32 matmuls in TF32 by default (10-bit mantissa) and TPUs in bfloat16 passes. That
is fine for training a network, not for an estimator compared with scikit-learn: the expanded
distance |x|² - 2x·y + |y|² cancels, a covariance loses three digits, and an iterative solver's
convergence test stalls on the noise (measured on an H100: a KDE log-density off by 0.04, FISTA
running to max_iter). Every function here that multiplies matrices is traced under
``jax.default_matmul_precision("highest")``; on a CPU this changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import jax

F = TypeVar("F", bound=Callable)


def full_precision(fn: F) -> F:
    """Trace ``fn`` with float32 matmuls at full precision (apply it under ``jax.jit``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
