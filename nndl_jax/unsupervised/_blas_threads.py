"""LAPACK on one thread while a CPU estimator runs.

On the CPU, JAX runs eigh, Cholesky, triangular solves and SVD through the LAPACK that SciPy
loads (OpenBLAS in the wheels), whose thread pool is separate from XLA's. Both pools keep their
threads spinning for a while after their work. On a machine with few cores each one then steals
time from the other: every barrier inside an OpenBLAS factorisation waits for a thread that
shares a core with a spinning XLA worker, and the XLA matmuls after a LAPACK call share the
cores with spinning OpenBLAS threads. Measured on 2 cores (JAX 0.10.2, OpenBLAS 0.3.30), calls
back to back, two OpenBLAS threads against one:

* ``pca.fit`` of 20,000 × 256, k = 32: 26 ms and 17 ms;
* ``gmm.fit`` of 20,000 × 64, k = 10: 147 ms and 92 ms;
* ``sparse_coding.encode`` of 2,000 × 64 with 128 atoms: 152 ms and 106 ms.

The matrices our estimators factor are small (d × d covariances, M × M systems of atoms), and
one thread does them as fast as two up to about 1,000. Larger ones gain from the second thread
(a 2,048 × 2,048 eigh: 474 ms on two, 613 ms on one; the SVD of a 20,000 × 256 matrix: 120 ms
and 171 ms), so they are left alone.

:func:`call` runs a compiled estimator step with every loaded BLAS library limited to one
thread, and waits for the result before it lifts the limit (the work would otherwise run
asynchronously, after the limit is gone). It changes nothing while tracing (under an outer
``jit`` or ``vmap`` the limit cannot follow the program), off the CPU, or above
:data:`MAX_SIZE`. While it holds, the limit is process-wide: NumPy or SciPy called from another
Python thread at that moment also runs on one thread. Where threadpoolctl will not let this
thread set it (another thread holds a limit of its own), the call runs as it is.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import jax

__all__ = ["MAX_SIZE", "call"]

#: The largest matrix order (rows or columns handed to LAPACK) run on one thread.
MAX_SIZE = 1024

# Held by the one thread whose call has set the limit. threadpoolctl lets only the thread that
# set an OpenBLAS limit lift it, so a call made while another thread holds the limit runs under
# it (or, once that thread lifts it, on all threads: slower, never wrong), as a nested call does.
_holder = threading.Lock()


@functools.cache
def _controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, or None if it cannot be had."""
    try:
        import scipy.linalg  # noqa: F401  (loads the BLAS that JAX's LAPACK calls use)
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController().select(user_api="blas")
    except Exception:  # noqa: BLE001  (a missing or broken threadpoolctl only costs speed)
        return None
    return controller if controller.lib_controllers else None


def _concrete_on_cpu(args: tuple, kwargs: dict) -> bool:
    leaves = jax.tree.leaves((args, kwargs))
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return False
    arrays = [leaf for leaf in leaves if isinstance(leaf, jax.Array)]
    if not arrays:
        return jax.default_backend() == "cpu"
    return all(device.platform == "cpu" for a in arrays for device in a.devices())


def call(fn: Callable, *args: Any, size: int, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with BLAS on one thread when that is faster (module docstring).

    Args:
      fn: a compiled function whose program calls LAPACK.
      size: the order of the largest matrix the program hands to LAPACK.
    """
    if size > MAX_SIZE or not _concrete_on_cpu(args, kwargs):
        return fn(*args, **kwargs)
    controller = _controller()
    if controller is None:
        return fn(*args, **kwargs)
    if not _holder.acquire(blocking=False):
        return fn(*args, **kwargs)
    try:
        with controller.limit(limits=1):
            return jax.block_until_ready(fn(*args, **kwargs))
    finally:
        _holder.release()
