r"""Parameter initializers (book, section 7.3).

An initializer is a function ``init(key, shape, dtype=jnp.float32) -> array``, the signature of
``jax.nn.initializers``. Ready-made ones are plain functions (``he_normal(key, (784, 256))``);
those with a hyperparameter are factories that return one (``normal(0.1)``, ``orthogonal()``).
Note the difference from jax, where ``lecun_normal()`` etc. are factories too.

Fan-in and fan-out (:func:`compute_fans`), as ``jax.nn.initializers.variance_scaling`` with its
default axes: a dense kernel has shape ``(in, out)``; a convolution kernel ``(..., in, out)``
with leading receptive-field axes (``(kh, kw, in, out)`` for conv2d), and every unit of it sees
the whole receptive field, so

.. math::
   n_{in} = \text{in} \cdot r, \quad n_{out} = \text{out} \cdot r, \quad r = \prod
   \text{shape}[:-2].

Variance scaling draws weights with mean 0 and variance :math:`s/n` (table 7.2 of the book):

================  ============  ===============  =========================================
initializer       :math:`s`     :math:`n`        distribution
================  ============  ===============  =========================================
lecun_*           1             :math:`n_{in}`   uniform or truncated normal
xavier_* (glorot) 1             average of fans  uniform or truncated normal
he_* (kaiming)    2             :math:`n_{in}`   uniform or truncated normal
================  ============  ===============  =========================================

A uniform distribution with variance :math:`\sigma^2` is :math:`U(-r, r)`,
:math:`r = \sqrt{3}\,\sigma` (Xavier uniform: :math:`r = \sqrt{6/(n_{in}+n_{out})}`).

Truncated normal: the ``*_normal`` initializers draw from a standard normal truncated to
:math:`[-2, 2]` and scale it by :math:`\sigma / c`, where
:math:`c = \sqrt{1 - 2\cdot2\,\varphi(2)/\operatorname{erf}(\sqrt2)} \approx 0.8796` is the
standard deviation of that truncated normal, so the variance is exactly :math:`\sigma^2` and no
weight lies beyond :math:`2\sigma/c`. This is what ``jax.nn.initializers`` (and flax) do for all
of their ``*_normal`` variance-scaling initializers, so ours have the same distribution: with
the same key they give the same numbers, up to the last-bit rounding of the scale factor. The
book (and PyTorch's ``kaiming_normal_``) use the untruncated normal; :func:`variance_scaling`
with ``distribution="normal"`` gives that.

``get(name_or_callable)`` returns an initializer by name (``Dense(w_init="he_normal")``);
``names()`` lists the names.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import check_positive, lookup

Initializer = Callable[..., jax.Array]

__all__ = [
    "Initializer",
    "compute_fans",
    "variance_scaling",
    "zeros",
    "ones",
    "constant",
    "uniform",
    "normal",
    "xavier_uniform",
    "xavier_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "lecun_uniform",
    "lecun_normal",
    "orthogonal",
    "TRUNCATED_NORMAL_STDDEV",
]

_TRUNCATION = 2.0


def _truncated_normal_stddev(a: float) -> float:
    r"""Standard deviation of :math:`N(0, 1)` truncated to :math:`[-a, a]`.

    :math:`\mathrm{Var} = 1 - 2a\varphi(a) / (\Phi(a) - \Phi(-a))` with
    :math:`\Phi(a) - \Phi(-a) = \operatorname{erf}(a/\sqrt2)`.
    """
    density = math.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
    return math.sqrt(1.0 - 2.0 * a * density / math.erf(a / math.sqrt(2.0)))


#: Standard deviation of the standard normal truncated to [-2, 2] (about 0.87962566).
TRUNCATED_NORMAL_STDDEV = _truncated_normal_stddev(_TRUNCATION)

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


# --- argument checks ------------------------------------------------------------------------


def _shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints (a single int is a 1-d shape)."""
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got shape={shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must have non-negative dimensions, got shape={shape!r}")
    return dims


def _float_dtype(dtype):
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"a random initializer needs a floating dtype, got dtype={dtype}")
    return dtype


# --- fans and variance scaling --------------------------------------------------------------


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a dense ``(in, out)`` or conv ``(..., in, out)`` kernel.

    Leading axes are the receptive field: both fans are multiplied by their product.

    Raises:
      ValueError: for a shape with fewer than 2 dimensions (a bias has no fans; initialize it
        with :func:`zeros` or :func:`constant`).
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(
            f"fan-in/fan-out need a kernel shape (in, out) or (..., in, out), got shape={shape}; "
            "initialize vectors such as biases with zeros or constant"
        )
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _stddev(shape, scale: float, mode: str) -> float:
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    # an empty kernel (a zero fan) has nothing to scale; any finite value will do
    return math.sqrt(scale / n) if n > 0 else 0.0


def _sample(key, shape, dtype, stddev: float, distribution: str) -> jax.Array:
    """Mean-0 samples with standard deviation ``stddev`` from ``distribution``."""
    if distribution == "uniform":
        r = math.sqrt(3.0) * stddev
        return jax.random.uniform(key, shape, dtype, minval=-r, maxval=r)
    if distribution == "normal":
        return jax.random.normal(key, shape, dtype) * jnp.asarray(stddev, dtype)
    z = jax.random.truncated_normal(key, -_TRUNCATION, _TRUNCATION, shape, dtype)
    return z * jnp.asarray(stddev / TRUNCATED_NORMAL_STDDEV, dtype)


def variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    r"""Initializer with mean 0 and variance ``scale / n`` (see the module docstring).

    Args:
      scale: :math:`s > 0` (1 for LeCun and Xavier, 2 for He).
      mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``: which :math:`n`.
      distribution: ``"truncated_normal"`` (in :math:`[-2, 2]` standard deviations before the
        variance correction), ``"normal"`` or ``"uniform"``.

    Returns:
      ``init(key, shape, dtype=jnp.float32)`` for shapes ``(in, out)`` or ``(..., in, out)``.
    """
    scale = check_positive("scale", scale)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}")

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        shape, dtype = _shape(shape), _float_dtype(dtype)
        return _sample(key, shape, dtype, _stddev(shape, scale, mode), distribution)

    init.__doc__ = f"variance_scaling({scale}, {mode!r}, {distribution!r}) initializer."
    return init


# --- constants ------------------------------------------------------------------------------


def zeros(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """All zeros (the usual bias initializer); ``key`` is ignored."""
    del key
    return jnp.zeros(_shape(shape), dtype)


def ones(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """All ones (e.g. a normalization scale); ``key`` is ignored."""
    del key
    return jnp.ones(_shape(shape), dtype)


def constant(value: float) -> Initializer:
    """Initializer filling every entry with ``value`` (e.g. ``constant(0.25)`` for PReLU)."""
    is_number = isinstance(value, (int, float, complex, np.number)) or (
        isinstance(value, (np.ndarray, jax.Array)) and jnp.ndim(value) == 0
    )
    if isinstance(value, (bool, np.bool_)) or not is_number:
        raise TypeError(f"constant: value must be a scalar number, got {value!r}")

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        del key
        return jnp.full(_shape(shape), value, dtype)

    init.__doc__ = f"constant({value!r}) initializer."
    return init


# --- plain random ---------------------------------------------------------------------------


def uniform(scale: float | tuple[float, float] = 1e-2) -> Initializer:
    r"""Uniform initializer on :math:`[-\text{scale}, \text{scale})`, or on ``[low, high)``.

    Args:
      scale: a half-width :math:`r > 0` for the book's symmetric :math:`U(-r, r)`, or a pair
        ``(low, high)`` with ``low < high``. ``jax.nn.initializers.uniform(s)`` samples
        :math:`[0, s)`: that is ``uniform((0, s))`` here.
    """
    if isinstance(scale, (tuple, list)):
        if len(scale) != 2:
            raise ValueError(f"uniform: scale must be a number or (low, high), got {scale!r}")
        low, high = (float(v) for v in scale)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"uniform: need finite low < high, got (low, high)={scale!r}")
    else:
        high = check_positive("scale", scale)
        low = -high

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        return jax.random.uniform(key, _shape(shape), _float_dtype(dtype), minval=low, maxval=high)

    init.__doc__ = f"uniform initializer on [{low}, {high})."
    return init


def normal(stddev: float = 1e-2) -> Initializer:
    r"""Initializer drawing from the (untruncated) normal :math:`N(0, \text{stddev}^2)`."""
    stddev = check_positive("stddev", stddev)

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        dtype = _float_dtype(dtype)
        return jax.random.normal(key, _shape(shape), dtype) * jnp.asarray(stddev, dtype)

    init.__doc__ = f"normal initializer with stddev {stddev}."
    return init


# --- variance scaling, named ----------------------------------------------------------------


def lecun_uniform(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    r"""LeCun uniform: :math:`U(-r, r)`, :math:`r = \sqrt{3/n_{in}}` (variance :math:`1/n_{in}`)."""
    return _named(key, shape, dtype, 1.0, "fan_in", "uniform")


def lecun_normal(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    r"""LeCun normal: truncated normal with variance :math:`1/n_{in}` (flax's Dense default)."""
    return _named(key, shape, dtype, 1.0, "fan_in", "truncated_normal")


def xavier_uniform(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    r"""Xavier (Glorot) uniform: :math:`U(-r, r)`, :math:`r = \sqrt{6/(n_{in} + n_{out})}`.

    Keeps the variance of activations and of back-propagated gradients about constant across
    layers for tanh/logistic units (Glorot & Bengio, 2010).
    """
    return _named(key, shape, dtype, 1.0, "fan_avg", "uniform")


def xavier_normal(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    r"""Xavier (Glorot) normal: truncated normal with variance :math:`2/(n_{in} + n_{out})`."""
    return _named(key, shape, dtype, 1.0, "fan_avg", "truncated_normal")


def he_uniform(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    r"""He (Kaiming) uniform: :math:`U(-r, r)` with :math:`r = \sqrt{6/n_{in}}`.

    Variance :math:`2/n_{in}`; the factor 2 compensates for ReLU zeroing half of its inputs
    (He et al., 2015).
    """
    return _named(key, shape, dtype, 2.0, "fan_in", "uniform")


def he_normal(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    r"""He (Kaiming) normal: truncated normal with variance :math:`2/n_{in}`."""
    return _named(key, shape, dtype, 2.0, "fan_in", "truncated_normal")


def _named(key, shape, dtype, scale: float, mode: str, distribution: str) -> jax.Array:
    shape, dtype = _shape(shape), _float_dtype(dtype)
    return _sample(key, shape, dtype, _stddev(shape, scale, mode), distribution)


glorot_uniform = xavier_uniform
glorot_normal = xavier_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


# --- orthogonal -----------------------------------------------------------------------------


def orthogonal(scale: float = 1.0) -> Initializer:
    r"""Random orthogonal initializer (Saxe et al., 2014), uniform over orthogonal matrices.

    A kernel of shape ``(..., n)`` is viewed as an ``m x n`` matrix ``W`` with
    ``m = prod(shape[:-1])``. We draw :math:`A \in \mathbb{R}^{\max(m,n) \times \min(m,n)}` with
    i.i.d. :math:`N(0, 1)` entries, take its reduced QR decomposition :math:`A = QR` and flip the
    signs of :math:`Q`'s columns so that :math:`\mathrm{diag}(R) > 0` (without that correction
    the distribution is not uniform, Mezzadri 2007); :math:`W = \text{scale}\cdot Q` (tall,
    :math:`W^\top W = \text{scale}^2 I`) or :math:`\text{scale}\cdot Q^\top` (wide,
    :math:`W W^\top = \text{scale}^2 I`).

    The QR runs in at least float32 (bfloat16 results are rounded from it).

    Args:
      scale: multiplier (gain) of the orthogonal matrix.
    """
    scale = check_positive("scale", scale)

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        shape, dtype = _shape(shape), _float_dtype(dtype)
        if len(shape) < 2:
            raise ValueError(f"orthogonal needs a shape of 2 or more dimensions, got shape={shape}")
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        work = jnp.promote_types(dtype, jnp.float32)
        a = jax.random.normal(key, (max(rows, cols), min(rows, cols)), work)
        q, r = jnp.linalg.qr(a)
        signs = jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0).astype(work)
        q = q * signs
        if rows < cols:
            q = q.T
        return (scale * q).reshape(shape).astype(dtype)

    init.__doc__ = f"orthogonal({scale}) initializer."
    return init


# --- registry -------------------------------------------------------------------------------

_BY_NAME: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "uniform": uniform(),
    "normal": normal(),
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
    "orthogonal": orthogonal(),
}


def names() -> list[str]:
    """The initializer names :func:`get` knows, sorted (factories with their defaults)."""
    return sorted(_BY_NAME)


def get(init: str | Initializer) -> Initializer:
    """An initializer by name; a callable is returned unchanged.

    ``"uniform"``, ``"normal"`` and ``"orthogonal"`` give the factories' defaults
    (``uniform(1e-2)``, ``normal(1e-2)``, ``orthogonal(1.0)``).

    Raises:
      ValueError: for an unknown name (the message lists the valid ones).
      TypeError: for something that is neither a string nor a callable.
    """
    if callable(init):
        return init
    if not isinstance(init, str):
        raise TypeError(f"initializer must be a name or a callable, got {init!r}")
    return lookup("initializer", init, _BY_NAME)
