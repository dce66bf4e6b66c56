"""A streaming-bandwidth probe: how fast this machine moves memory, measured in the same run.

Optimizer updates are memory bound: an Adam step reads the parameters, gradients and both
moments and writes the parameters and moments back, doing a few flops per byte. Their physical
limit is the device's streaming bandwidth, so a benchmark reports the fraction of it reached
(DESIGN.md, Benchmarks). The probe is STREAM's *triad*,

    a <- a + s * b,

over float32 buffers far larger than the caches, jitted with ``a`` donated so the result is
written in place. Donation matters: without it every call writes into a freshly allocated
buffer, and on a CPU the first touch of new pages costs several times the copy itself, so the
probe would measure the allocator instead of the memory. The optimizer benchmarks donate their
buffers too, which makes the two numbers comparable.

Each call moves ``3 * n * itemsize`` bytes (read ``a`` and ``b``, write ``a``).
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

#: Buffer lengths (float32 elements): 128 MiB per buffer in the full run, 32 MiB in quick mode;
#: both well beyond the last-level cache of the machines we run on.
FULL_SIZE = 2**25
QUICK_SIZE = 2**23


def _triad(a: jax.Array, b: jax.Array) -> jax.Array:
    return a + jnp.asarray(1.5, a.dtype) * b


class Triad:
    """The triad on two buffers of ``n`` elements, ready to be timed again and again.

    ``time(calls)`` runs ``calls`` triads, each on the previous one's output (so the donated
    buffer is always valid), and returns the seconds per call. The optimizer benchmarks time it
    inside their alternating loop, beside each pair of ours and the peer's, so that the
    bandwidth a fraction divides by was measured under the same load as the step itself.

    Attributes:
      n: elements per buffer.
      bytes_per_call: ``3 * n * itemsize`` (read ``a`` and ``b``, write ``a``).
    """

    def __init__(self, n: int = FULL_SIZE, dtype=jnp.float32):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        self.n = n
        self.bytes_per_call = 3 * n * jnp.dtype(dtype).itemsize
        self._a = jnp.zeros((n,), dtype)
        self._b = jnp.ones((n,), dtype)
        self._step = jax.jit(_triad, donate_argnums=0)
        # two warm-up calls: compile, then touch the output pages once
        self.time(2)

    def time(self, calls: int) -> float:
        """Run ``calls`` triads; seconds per call."""
        start = time.perf_counter()
        for _ in range(calls):
            self._a = self._step(self._a, self._b)
        jax.block_until_ready(self._a)
        return (time.perf_counter() - start) / calls

    def GBps(self, seconds_per_call: float) -> float:
        return self.bytes_per_call / seconds_per_call / 1e9


def streaming_bandwidth(
    n: int = FULL_SIZE,
    *,
    repeats: int = 15,
    number: int = 3,
    dtype=jnp.float32,
) -> dict[str, float]:
    """Measure the triad ``a <- a + s * b`` on buffers of ``n`` elements.

    Args:
      n: elements per buffer.
      repeats: timed batches; the statistics are over these.
      number: calls per timed batch, each feeding its output back as the next ``a``.
      dtype: element type of the buffers.

    Returns:
      ``{"stream_GBps": median, "stream_best_GBps": best, "stream_bytes": bytes per call,
      "stream_n": n, "stream_ms": median ms per call}``.
    """
    if repeats < 1 or number < 1:
        raise ValueError(f"repeats and number must be >= 1, got {repeats!r} and {number!r}")
    triad = Triad(n, dtype)
    times = [triad.time(number) for _ in range(repeats)]
    median = statistics.median(times)
    return {
        "stream_GBps": triad.GBps(median),
        "stream_best_GBps": triad.GBps(min(times)),
        "stream_bytes": float(triad.bytes_per_call),
        "stream_n": n,
        "stream_ms": 1e3 * median,
    }


if __name__ == "__main__":
    print(streaming_bandwidth())
