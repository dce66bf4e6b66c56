"""Benchmark suites behind ``nndl-jax bench`` (installed as ``nndl_jax.benchmarks``).

Each module here is one suite (``benchmarks/optim.py`` -> ``nndl-jax bench optim``). A suite
registers cases with :func:`case`; a case takes ``quick`` (smaller sizes and fewer repeats) and
returns a list of rows, normally built with :func:`compare`, which times our function beside the
peer's in one process, alternating, and reports the ratio (DESIGN.md, Benchmarks).
"""

from nndl_jax.benchmarks._harness import (
    Case as Case,
    case as case,
    cases as cases,
    compare as compare,
    environment as environment,
    load_all as load_all,
    run_cases as run_cases,
    suites as suites,
    time_compile as time_compile,
)
