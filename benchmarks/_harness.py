"""Timing harness and registry for the benchmark suites.

Rules (JAX's "Benchmarking JAX code" FAQ and DESIGN.md): inputs are on the device before timing;
each function is compiled once and its compile time reported apart; warm-up runs are discarded;
every timed call ends in ``jax.block_until_ready`` on the whole output; ours and the peer's run
alternately in the same process and we report medians, minima, maxima and the ratio ours/peer
(the median of the per-pair ratios, which cancels much of a shared machine's drift).
"""

from __future__ import annotations

import importlib
import pkgutil
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    fn: Callable[..., list[dict]]


_CASES: dict[tuple[str, str], Case] = {}


def case(suite: str, name: str):
    """Decorator registering ``fn(quick: bool) -> list[dict]`` as a benchmark case."""

    def register(fn):
        _CASES[(suite, name)] = Case(suite, name, fn)
        return fn

    return register


def load_all() -> None:
    package = importlib.import_module("nndl_jax.benchmarks")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"nndl_jax.benchmarks.{info.name}")


def suites() -> list[str]:
    load_all()
    return sorted({s for s, _ in _CASES})


def cases(selected: list[str] | None = None) -> list[Case]:
    """Registered cases of the given suites (all when ``selected`` is empty)."""
    known = suites()
    for s in selected or []:
        if s not in known:
            raise ValueError(f"unknown benchmark suite {s!r}; expected one of: {', '.join(known)}")
    return [c for key, c in sorted(_CASES.items()) if not selected or key[0] in selected]


def run_cases(selected: list[str] | None = None, *, quick: bool = False, progress=None) -> dict:
    rows = []
    for c in cases(selected):
        if progress:
            progress(c)
        for row in c.fn(quick=quick):
            rows.append({"suite": c.suite, "case": c.name, **row})
    return {"environment": environment(), "quick": quick, "rows": rows}


def environment() -> dict[str, Any]:
    """Device, versions and host facts recorded beside every result."""
    import numpy
    import optax

    dev = jax.devices()[0]
    env = {
        "backend": jax.default_backend(),
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
        "device_count": jax.device_count(),
        "jax": jax.__version__,
        "optax": optax.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "x64": bool(jax.config.jax_enable_x64),
    }
    for name in ("flax", "sklearn"):
        try:
            env[name] = importlib.import_module(name).__version__
        except ImportError:
            pass
    try:
        import os

        env["cpu_count"] = os.cpu_count()
    except Exception:
        pass
    return env


def time_compile(fn: Callable, *args) -> tuple[Callable, float]:
    """Compile a jitted ``fn`` for ``args``; returns the compiled callable and seconds taken."""
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    return compiled, time.perf_counter() - start


def _time_call(fn: Callable, args: tuple, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / number


def compare(
    ours: Callable,
    peer: Callable,
    args: tuple,
    *,
    peer_args: tuple | None = None,
    peer_name: str,
    repeats: int = 15,
    number: int = 5,
    warmup: int = 2,
    jit: bool = True,
    bytes_moved: float | None = None,
    flops: float | None = None,
    **extra,
) -> dict:
    """Time ``ours(*args)`` against ``peer(*peer_args)`` alternately and return one result row.

    Args:
      ours, peer: the two functions. With ``jit=True`` they are ``jax.jit``-compiled here (and
        their compile time measured); pass ``jit=False`` for host code such as scikit-learn.
      args, peer_args: their inputs (``peer_args`` defaults to ``args``), already on the device.
      repeats: timed pairs; each pair times ``number`` calls of each and swaps the order every
        pair so neither side always runs first.
      bytes_moved, flops: per call; when given, the row reports GB/s or GFLOP/s for both.

    Returns:
      A dict with ``ours_ms``/``peer_ms`` (median, min, max), ``ratio`` (median of per-pair
      ratios ours/peer: below 1 means we are faster), compile seconds and any ``extra`` fields.
    """
    if min(repeats, number) < 1 or warmup < 0:
        raise ValueError(
            f"repeats and number must be >= 1 and warmup >= 0, got repeats={repeats}, "
            f"number={number}, warmup={warmup}"
        )
    peer_args = args if peer_args is None else peer_args
    compile_ours = compile_peer = None
    if jit:
        ours, compile_ours = time_compile(jax.jit(ours), *args)
        peer, compile_peer = time_compile(jax.jit(peer), *peer_args)
    for _ in range(warmup):
        jax.block_until_ready(ours(*args))
        jax.block_until_ready(peer(*peer_args))
    t_ours, t_peer = [], []
    for r in range(repeats):
        if r % 2 == 0:
            t_ours.append(_time_call(ours, args, number))
            t_peer.append(_time_call(peer, peer_args, number))
        else:
            t_peer.append(_time_call(peer, peer_args, number))
            t_ours.append(_time_call(ours, args, number))
    ratios = [a / b for a, b in zip(t_ours, t_peer, strict=True)]
    row = {
        "peer": peer_name,
        "ours_ms": 1e3 * statistics.median(t_ours),
        "ours_min_ms": 1e3 * min(t_ours),
        "ours_max_ms": 1e3 * max(t_ours),
        "peer_ms": 1e3 * statistics.median(t_peer),
        "peer_min_ms": 1e3 * min(t_peer),
        "peer_max_ms": 1e3 * max(t_peer),
        "ratio": statistics.median(ratios),
        "compile_ours_s": compile_ours,
        "compile_peer_s": compile_peer,
        "repeats": repeats,
        "number": number,
    }
    if bytes_moved:
        row["ours_GBps"] = bytes_moved / statistics.median(t_ours) / 1e9
        row["peer_GBps"] = bytes_moved / statistics.median(t_peer) / 1e9
    if flops:
        row["ours_GFLOPps"] = flops / statistics.median(t_ours) / 1e9
        row["peer_GFLOPps"] = flops / statistics.median(t_peer) / 1e9
    row.update(extra)
    return row
