"""Registry and runner behind ``nndl-jax verify`` and ``tests/verify``."""

from __future__ import annotations

import fnmatch
import importlib
import math
import pkgutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

TIERS = ("closed form", "reference", "property")


@dataclass(frozen=True)
class Check:
    """One registered check.

    Attributes:
      name: the component and aspect, dotted, e.g. ``"activations.gelu.derivative"``.
      reference: what we compare with, e.g. ``"jax.grad"``, ``"optax.adam"``, ``"closed form"``.
      fn: computes and returns the error statistic (a float; NaN fails).
      tol: the largest error that passes in float32.
      tol_x64: the same under ``jax_enable_x64`` (defaults to ``tol``).
      tier: ``"closed form"``, ``"reference"`` or ``"property"`` (DESIGN.md, Verification).
    """

    name: str
    reference: str
    fn: Callable[[], float]
    tol: float
    tol_x64: float
    tier: str

    def tolerance(self) -> float:
        return self.tol_x64 if x64_enabled() else self.tol


@dataclass(frozen=True)
class Result:
    check: Check
    error: float
    tolerance: float
    passed: bool
    seconds: float
    message: str = ""


_CHECKS: dict[str, Check] = {}


def check(
    name: str,
    *,
    reference: str,
    tol: float,
    tol_x64: float | None = None,
    tier: str = "reference",
) -> Callable[[Callable[[], float]], Callable[[], float]]:
    """Decorator registering ``fn`` as the check ``name``; returns ``fn`` unchanged."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")

    def register(fn: Callable[[], float]) -> Callable[[], float]:
        if name in _CHECKS and _CHECKS[name].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"a verification check named {name!r} is already registered")
        _CHECKS[name] = Check(name, reference, fn, tol, tol if tol_x64 is None else tol_x64, tier)
        return fn

    return register


def load_all() -> None:
    """Import every module of ``nndl_jax.verify`` so that all checks register."""
    package = importlib.import_module("nndl_jax.verify")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"nndl_jax.verify.{info.name}")


def checks(pattern: str | None = None) -> list[Check]:
    """Registered checks whose name matches the glob ``pattern`` (or contains it as a substring)."""
    load_all()
    selected = []
    for name in sorted(_CHECKS):
        if pattern is None or fnmatch.fnmatch(name, pattern) or pattern in name:
            selected.append(_CHECKS[name])
    return selected


def run_one(c: Check) -> Result:
    start = time.perf_counter()
    tolerance = c.tolerance()
    try:
        error = float(c.fn())
        message = ""
    except Exception as exc:  # a crashing check is a failing check, reported with its cause
        error, message = math.nan, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    passed = math.isfinite(error) and error <= tolerance
    return Result(c, error, tolerance, passed, time.perf_counter() - start, message)


def run_checks(pattern: str | None = None) -> list[Result]:
    return [run_one(c) for c in checks(pattern)]


def x64_enabled() -> bool:
    return bool(jax.config.jax_enable_x64)


def float_dtype():
    """float64 when x64 is enabled, else float32: the dtype checks build their inputs in."""
    return jnp.float64 if x64_enabled() else jnp.float32


def max_abs_diff(a, b) -> float:
    """Largest absolute difference over two pytrees of the same structure (NaN anywhere -> NaN)."""
    leaves_a, tree_a = jax.tree_util.tree_flatten(a)
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    if tree_a != tree_b:
        raise ValueError(f"structures differ: {tree_a} vs {tree_b}")
    worst = 0.0
    for x, y in zip(leaves_a, leaves_b, strict=True):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
        if x.size:
            if np.isnan(x).any() or np.isnan(y).any():
                return math.nan
            with np.errstate(invalid="ignore"):  # inf - inf: equal infinities agree
                diff = np.where(x == y, 0.0, np.abs(x - y))
            worst = max(worst, float(diff.max()))
    return worst
