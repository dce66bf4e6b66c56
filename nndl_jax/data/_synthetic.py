"""Synthetic tasks drawn on the device: two moons, the adding problem, digit sums, sinusoids.

Every generator is a pure function of a PRNG ``key``; sizes are static Python ints, so each is
jit-compatible (mark the sizes static or close over them) and a new key never recompiles. Each
validates its arguments in Python and then calls one jitted kernel, so an eager call compiles a
single program per shape (cached) instead of one per operation.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import check_non_negative
from nndl_jax.data._batching import check_size

__all__ = [
    "DIGIT_SUM_NUM_CLASSES",
    "SinusoidTasks",
    "adding_problem",
    "digit_sum",
    "sinusoid",
    "sinusoid_tasks",
    "two_moons",
]

DIGIT_SUM_NUM_CLASSES = 19
"""Labels of :func:`digit_sum` are the sums 0..18 of two digits."""


def _float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype (hashable, a static argument of the kernels), if floating."""
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype!r}")
    return jnp.dtype(dtype)


def _check_interval(name: str, interval: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {interval!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"{name} must be finite with low <= high, got {interval!r}")
    return lo, hi


def two_moons(
    key: jax.Array, n: int, *, noise: float = 0.1, dtype: Any = jnp.float32
) -> tuple[jax.Array, jax.Array]:
    """Two interleaving half circles, a classic non-linearly-separable 2-D problem.

    Class 0 lies on the upper unit half circle ``(cos t, sin t)``, class 1 on the lower one
    shifted right and down, ``(1 - cos t, 0.5 - sin t)``, with ``t`` evenly spaced in ``[0, pi]``
    (``n // 2`` points on the first, the rest on the second), plus isotropic Gaussian noise of
    standard deviation ``noise``; the points are returned in random order. The geometry is that
    of ``sklearn.datasets.make_moons``.

    Args:
      key: PRNG key.
      n: number of points (static).
      noise: standard deviation of the Gaussian noise added to both coordinates (static).
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: points ``(n, 2)`` and int32 labels ``(n,)`` in ``{0, 1}``.
    """
    n = check_size("n", n)
    noise = check_non_negative("noise", noise)
    return _two_moons(key, n, noise, _float_dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _two_moons(key, n, noise, dtype):
    n_upper = n // 2
    t_upper = jnp.linspace(0.0, jnp.pi, n_upper, dtype=dtype)
    t_lower = jnp.linspace(0.0, jnp.pi, n - n_upper, dtype=dtype)
    upper = jnp.stack([jnp.cos(t_upper), jnp.sin(t_upper)], axis=-1)
    lower = jnp.stack([1.0 - jnp.cos(t_lower), 0.5 - jnp.sin(t_lower)], axis=-1)
    x = jnp.concatenate([upper, lower])
    y = jnp.concatenate([jnp.zeros(n_upper, jnp.int32), jnp.ones(n - n_upper, jnp.int32)])
    k_order, k_noise = jax.random.split(key)
    x = x + noise * jax.random.normal(k_noise, x.shape, dtype)
    order = jax.random.permutation(k_order, n)
    return x[order], y[order]


def adding_problem(
    key: jax.Array, n: int, T: int, *, dtype: Any = jnp.float32
) -> tuple[jax.Array, jax.Array]:
    """The adding problem, a long-range dependency benchmark for recurrent networks.

    Each sequence has T steps of two channels: a value ``v_t ~ U(0, 1)`` and a marker
    ``m_t in {0, 1}`` that is 1 at exactly two steps, one in the first half
    ``[0, T // 2)`` and one in the second half ``[T // 2, T)`` (the placement of Le et al.,
    2015). The target is the sum of the two marked values, ``y = sum_t m_t v_t``, in ``[0, 2]``.
    Always predicting 1 gives a mean squared error of ``Var(v_a + v_b) = 1/6``, the baseline a
    model must beat.

    Args:
      key: PRNG key.
      n: number of sequences (static).
      T: sequence length, at least 2 (static).
      dtype: floating dtype.

    Returns:
      ``(x, y)``: ``x`` of shape ``(n, T, 2)`` (``x[..., 0]`` values, ``x[..., 1]`` markers) and
      ``y`` of shape ``(n,)``.

    References:
      Hochreiter & Schmidhuber (1997), Long short-term memory, experiment 4.
      Le, Jaitly & Hinton (2015), A simple way to initialize recurrent networks of rectified
      linear units.
    """
    n = check_size("n", n)
    T = check_size("T", T)
    if T < 2:
        raise ValueError(f"T must be >= 2 (two marked steps), got {T}")
    return _adding_problem(key, n, T, _float_dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _adding_problem(key, n, T, dtype):
    k_values, k_first, k_second = jax.random.split(key, 3)
    values = jax.random.uniform(k_values, (n, T), dtype)
    first = jax.random.randint(k_first, (n, 1), 0, T // 2)
    second = jax.random.randint(k_second, (n, 1), T // 2, T)
    steps = jnp.arange(T)
    markers = ((steps == first) | (steps == second)).astype(dtype)
    y = (
        jnp.take_along_axis(values, first, axis=1)[:, 0]
        + jnp.take_along_axis(values, second, axis=1)[:, 0]
    )
    return jnp.stack([values, markers], axis=-1), y


def digit_sum(
    key: jax.Array, n: int, T: int, *, one_hot: bool = False, dtype: Any = jnp.float32
) -> tuple[jax.Array, jax.Array]:
    """The book's memory task: read T digits, answer the sum of the first two.

    Every digit is uniform on 0..9; the label ``x_0 + x_1`` is one of
    :data:`DIGIT_SUM_NUM_CLASSES` = 19 classes (0..18). The T - 2 later digits are distractors,
    so a recurrent network has to carry the first two across T - 2 steps; accuracy falls as T
    grows unless it remembers. Always answering 9, the most frequent sum, is right 10% of the time.

    Args:
      key: PRNG key.
      n: number of sequences (static).
      T: sequence length, at least 2 (static).
      one_hot: return ``x`` one-hot encoded, shape ``(n, T, 10)`` in ``dtype``, instead of int32
        digits ``(n, T)`` (static).
      dtype: floating dtype of the one-hot encoding.

    Returns:
      ``(x, y)``: digits (or their one-hot codes) and int32 labels ``(n,)``.
    """
    n = check_size("n", n)
    T = check_size("T", T)
    if T < 2:
        raise ValueError(f"T must be >= 2 (the label sums the first two digits), got {T}")
    return _digit_sum(key, n, T, bool(one_hot), _float_dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _digit_sum(key, n, T, one_hot, dtype):
    digits = jax.random.randint(key, (n, T), 0, 10, dtype=jnp.int32)
    y = digits[:, 0] + digits[:, 1]
    x = jax.nn.one_hot(digits, 10, dtype=dtype) if one_hot else digits
    return x, y


class SinusoidTasks(NamedTuple):
    """A batch of sinusoid regression tasks (see :func:`sinusoid_tasks`).

    Attributes:
      x: inputs, shape ``(num_tasks, num_points, 1)``.
      y: targets ``amplitude * sin(x - phase)``, same shape.
      amplitude, phase: each task's parameters, shape ``(num_tasks,)``.
    """

    x: jax.Array
    y: jax.Array
    amplitude: jax.Array
    phase: jax.Array


def sinusoid(x: jax.Array, amplitude: jax.Array, phase: jax.Array) -> jax.Array:
    """The task function ``amplitude * sin(x - phase)`` (broadcasting), e.g. to plot the truth."""
    return amplitude * jnp.sin(x - phase)


def sinusoid_tasks(
    key: jax.Array,
    num_tasks: int,
    num_points: int,
    *,
    amplitude: tuple[float, float] = (0.1, 5.0),
    phase: tuple[float, float] = (0.0, math.pi),
    x_range: tuple[float, float] = (-5.0, 5.0),
    dtype: Any = jnp.float32,
) -> SinusoidTasks:
    """Sinusoid regression tasks, the meta-learning benchmark of MAML.

    Task i is ``f_i(x) = A_i sin(x - phi_i)`` with ``A_i ~ U(amplitude)`` and
    ``phi_i ~ U(phase)``; its inputs are ``num_points`` draws ``x ~ U(x_range)``. For K-shot
    meta-learning draw K + Q points and use the first K as the support set, the rest as the query.

    Args:
      key: PRNG key.
      num_tasks: number of tasks (static).
      num_points: points per task (static).
      amplitude, phase, x_range: ``(low, high)`` of the uniform distributions.
      dtype: floating dtype.

    Returns:
      A :class:`SinusoidTasks` with ``x``, ``y`` of shape ``(num_tasks, num_points, 1)`` and
      ``amplitude``, ``phase`` of shape ``(num_tasks,)``.

    References:
      Finn, Abbeel & Levine (2017), Model-agnostic meta-learning for fast adaptation of deep
      networks, section 5.1.
    """
    num_tasks = check_size("num_tasks", num_tasks)
    num_points = check_size("num_points", num_points)
    ranges = (
        _check_interval("amplitude", amplitude),
        _check_interval("phase", phase),
        _check_interval("x_range", x_range),
    )
    return _sinusoid_tasks(key, num_tasks, num_points, ranges, _float_dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _sinusoid_tasks(key, num_tasks, num_points, ranges, dtype):
    (a_lo, a_hi), (p_lo, p_hi), (x_lo, x_hi) = ranges
    k_amp, k_phase, k_x = jax.random.split(key, 3)
    amp = jax.random.uniform(k_amp, (num_tasks,), dtype, a_lo, a_hi)
    phi = jax.random.uniform(k_phase, (num_tasks,), dtype, p_lo, p_hi)
    x = jax.random.uniform(k_x, (num_tasks, num_points, 1), dtype, x_lo, x_hi)
    y = sinusoid(x, amp[:, None, None], phi[:, None, None])
    return SinusoidTasks(x, y, amp, phi)
