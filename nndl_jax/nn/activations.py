"""Activation functions and their analytic derivatives (book, section 4.1).

Every activation ``f`` here is a pure, elementwise, jit-compatible function of an array ``x`` of
any shape (except :func:`maxout`, which reduces groups of features). Beside it lives ``f_grad``,
the elementwise derivative ``f'(x)`` with the same keywords, which manual backpropagation
multiplies by the upstream gradient: ``dL/dx = f_grad(x) * dL/dy``.

Conventions:

* dtype: the output has the dtype of ``x`` (bfloat16, float32 and float64 are kept); integer
  and boolean inputs are promoted to the default float dtype.
* Kinks: where ``f`` is not differentiable we return the value ``jax.grad`` gives for the
  matching ``jax.nn`` function, so the analytic and the automatic derivative agree everywhere:
  ``relu'(0) = 0``; ``leaky_relu'(0) = prelu'(0) = 1``; ``elu'(0) = alpha``;
  ``hard_tanh'(±1) = 1``; ``hard_sigmoid'`` is 0 at both corners; :func:`maxout_grad` splits
  the gradient evenly among tied maxima, as ``jax.grad`` of ``jnp.max`` does.
* Extreme inputs: forward values and derivatives are finite at ``|x| = 1e4`` (and beyond),
  and so are the gradients that ``jax.grad`` computes through our forward functions: no branch
  of a ``jnp.where`` ever evaluates an overflowing ``exp``.
* NaN: forward values are NaN where ``x`` is, as in ``jax.nn``; derivatives there are again
  what ``jax.grad`` gives for the ``jax.nn`` function (0 for relu and hard_sigmoid, 1 for
  hard_tanh, NaN for the smooth ones, and NaN for a maxout group holding a NaN).

The registry maps names to functions: ``get("relu")``, ``get_grad("relu")``, ``names()``.
These three are reached as ``nndl_jax.nn.activations.get`` etc.; they are not star-exported.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import check_positive_int, is_traced, lookup

__all__ = [
    "identity",
    "identity_grad",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "hard_sigmoid",
    "hard_sigmoid_grad",
    "hard_tanh",
    "hard_tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "prelu_grad_alpha",
    "elu",
    "elu_grad",
    "softplus",
    "softplus_grad",
    "swish",
    "swish_grad",
    "silu",
    "silu_grad",
    "gelu",
    "gelu_grad",
    "maxout",
    "maxout_grad",
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715


def _inexact(x) -> jax.Array:
    """``x`` as an array of a floating dtype (integers and booleans go to the default float)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


def _nonpositive_abs(x: jax.Array) -> jax.Array:
    """``-|x|``, written so that its derivative at 0 is -1 by construction.

    The stable forms of sigmoid and softplus go through ``exp(-|x|) <= 1``, and their slope at
    ``x = 0`` needs the one-sided derivative. JAX 0.10 differentiates ``jnp.abs`` as 1 at ±0, but
    it has used sign(x) (0 at 0) before, which would lose the slope exactly there.
    """
    return jnp.where(x >= 0, -x, x)


def _nan_without_gradient(x: jax.Array, y: jax.Array) -> jax.Array:
    """``y``, but NaN where ``x`` is NaN, with derivative 0 there (as ``jax.nn``'s ``relu``)."""
    return jnp.where(jnp.isnan(x), jax.lax.stop_gradient(x), y)


def _check_number(fn: str, name: str, value) -> None:
    """A numeric (real) hyperparameter: a number or an array; anything else is a TypeError."""
    if is_traced(value):
        return
    dtype = None
    # jnp.result_type reads a string as a dtype name and None as the default float
    if value is not None and not isinstance(value, (str, bytes)):
        try:
            dtype = jnp.result_type(value)
        except TypeError:
            pass
    if (
        isinstance(value, (bool, np.bool_))
        or dtype is None
        or not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating))
    ):
        raise TypeError(f"{fn}: {name} must be a real number (or array), got {value!r}")


# --- identity -------------------------------------------------------------------------------


def identity(x: jax.Array) -> jax.Array:
    """``f(x) = x`` (the "linear" output activation)."""
    return _inexact(x)


def identity_grad(x: jax.Array) -> jax.Array:
    """``f'(x) = 1``."""
    return jnp.ones_like(_inexact(x))


# --- logistic and tanh ----------------------------------------------------------------------


def sigmoid(x: jax.Array) -> jax.Array:
    r"""Logistic function :math:`\sigma(x) = 1 / (1 + e^{-x})`.

    Computed as :math:`1/(1+e^{-|x|})` for :math:`x \ge 0` and :math:`e^{-|x|}/(1+e^{-|x|})`
    otherwise, so the exponential never overflows and small values keep their relative
    precision (``sigmoid(-30)`` is ``9.4e-14``, not 0).

    Args:
      x: array of any shape.

    Returns:
      Values in (0, 1), same shape and dtype as ``x``.
    """
    x = _inexact(x)
    e = jnp.exp(_nonpositive_abs(x))
    return jnp.where(x >= 0, 1.0, e) / (1.0 + e)


def sigmoid_grad(x: jax.Array) -> jax.Array:
    r""":math:`\sigma'(x) = \sigma(x)(1 - \sigma(x)) = \sigma(x)\sigma(-x)`, at most 1/4.

    Computed as :math:`e/(1 + e)^2` with :math:`e = e^{-|x|}` (the derivative is even): one
    exponential, no overflow, and no cancellation as in :math:`1 - \sigma(x)`.
    """
    x = _inexact(x)
    e = jnp.exp(_nonpositive_abs(x))
    return e / jnp.square(1.0 + e)


def tanh(x: jax.Array) -> jax.Array:
    r"""Hyperbolic tangent :math:`\tanh(x) = (e^x - e^{-x})/(e^x + e^{-x}) = 2\sigma(2x) - 1`."""
    return jnp.tanh(_inexact(x))


def tanh_grad(x: jax.Array) -> jax.Array:
    r""":math:`\tanh'(x) = 1 - \tanh^2(x)`, at most 1 (at 0)."""
    t = tanh(x)
    return (1.0 - t) * (1.0 + t)


# --- piecewise-linear -----------------------------------------------------------------------


def _hard_sigmoid_corner(slope) -> float | jax.Array:
    """``c = 1/(2 slope)``: the linear part of the hard sigmoid spans ``-c < x < c``.

    Both the function and its derivative decide the region by comparing ``x`` with ``±c``
    rather than ``slope * x + 1/2`` with 0 and 1: a slope such as 1/6 is not a binary float, and
    the rounding of ``slope * x + 1/2`` (fused or not by the compiler) would otherwise move the
    corner by one ulp, e.g. off ``x = -3`` where ``jax.nn.hard_sigmoid`` has it.
    """
    _check_number("hard_sigmoid", "slope", slope)
    if not is_traced(slope):
        values = np.asarray(slope, dtype=float)
        if not np.all((values > 0) & np.isfinite(values)):
            raise ValueError(f"hard_sigmoid: slope must be a finite number > 0, got {slope!r}")
    return 0.5 / slope


def hard_sigmoid(x: jax.Array, slope: float = 0.25) -> jax.Array:
    r"""Piecewise-linear sigmoid :math:`\max(\min(\text{slope}\cdot x + 1/2,\ 1),\ 0)`.

    The book's form uses ``slope = 1/4``, the slope of :math:`\sigma` at 0 (its first-order
    Taylor expansion, clipped to [0, 1]). ``jax.nn.hard_sigmoid`` is
    :math:`\mathrm{relu6}(x + 3)/6`, i.e. ``slope = 1/6``: ``hard_sigmoid(x, slope=1/6)``.

    Args:
      x: array of any shape.
      slope: slope (> 0) of the linear part, which spans :math:`|x| < 1/(2\,\text{slope})`.
    """
    x = _inexact(x)
    c = _hard_sigmoid_corner(slope)
    y = jnp.where(x <= -c, 0.0, jnp.where(x >= c, 1.0, slope * x + 0.5))
    # NaN propagates with derivative 0, as through jax.nn.hard_sigmoid (and hard_sigmoid_grad)
    return _nan_without_gradient(x, y).astype(x.dtype)


def hard_sigmoid_grad(x: jax.Array, slope: float = 0.25) -> jax.Array:
    """``slope`` for ``|x| < 1/(2 slope)``, else 0 (0 at both corners, as jax.nn)."""
    x = _inexact(x)
    c = _hard_sigmoid_corner(slope)
    return jnp.where((x > -c) & (x < c), slope, jnp.zeros_like(x)).astype(x.dtype)


def hard_tanh(x: jax.Array) -> jax.Array:
    r"""Piecewise-linear tanh :math:`\max(\min(x, 1), -1)`."""
    x = _inexact(x)
    return jnp.where(x > 1, 1.0, jnp.where(x < -1, -1.0, x)).astype(x.dtype)


def hard_tanh_grad(x: jax.Array) -> jax.Array:
    """1 on the closed interval ``[-1, 1]``, 0 outside (1 at the corners and at NaN, as the
    ``jax.grad`` of ``jax.nn.hard_tanh``)."""
    x = _inexact(x)
    return jnp.logical_not((x < -1) | (x > 1)).astype(x.dtype)


# --- rectifiers -----------------------------------------------------------------------------


def relu(x: jax.Array) -> jax.Array:
    r"""Rectified linear unit :math:`\max(x, 0)`."""
    x = _inexact(x)
    # NaN passes through with derivative 0, as in jax.nn.relu (and relu_grad)
    return _nan_without_gradient(x, jnp.where(x > 0, x, 0.0)).astype(x.dtype)


def relu_grad(x: jax.Array) -> jax.Array:
    r""":math:`\mathbb{1}[x > 0]`; ``relu'(0) = 0`` as ``jax.grad(jax.nn.relu)``."""
    x = _inexact(x)
    return (x > 0).astype(x.dtype)


def leaky_relu(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    r"""Leaky ReLU: :math:`x` for :math:`x \ge 0`, :math:`\gamma x` otherwise (:math:`\gamma` =
    ``negative_slope``), which keeps a small gradient where ReLU's is zero ("dead" units)."""
    _check_number("leaky_relu", "negative_slope", negative_slope)
    x = _inexact(x)
    return jnp.where(x >= 0, x, negative_slope * x).astype(x.dtype)


def leaky_relu_grad(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    """1 for ``x >= 0`` (so 1 at the kink, as jax.nn), ``negative_slope`` otherwise."""
    _check_number("leaky_relu", "negative_slope", negative_slope)
    x = _inexact(x)
    return jnp.where(x >= 0, jnp.ones_like(x), negative_slope * jnp.ones_like(x)).astype(x.dtype)


def _check_alpha(x: jax.Array, alpha: jax.Array) -> None:
    try:
        out = jnp.broadcast_shapes(jnp.shape(x), jnp.shape(alpha))
    except ValueError:
        out = None
    if out != jnp.shape(x):
        raise ValueError(
            f"prelu: alpha must broadcast against x without enlarging it, got "
            f"alpha.shape={jnp.shape(alpha)} and x.shape={jnp.shape(x)} (a per-feature alpha "
            f"has shape (x.shape[-1],) = ({jnp.shape(x)[-1] if jnp.ndim(x) else '?'},))"
        )


def prelu(x: jax.Array, alpha: jax.Array) -> jax.Array:
    r"""Parametric ReLU: :math:`x` for :math:`x \ge 0`, :math:`\alpha x` otherwise.

    Args:
      x: array of shape ``S``.
      alpha: learned slopes, broadcast against ``x`` (usually one per feature, shape
        ``(S[-1],)``; a scalar shares one slope). Must not enlarge ``x``.

    Returns:
      Shape ``S``; dtype the promotion of ``x`` and ``alpha``.
    """
    x = _inexact(x)
    _check_alpha(x, alpha)
    return jnp.where(x >= 0, x, alpha * x)


def prelu_grad(x: jax.Array, alpha: jax.Array) -> jax.Array:
    r""":math:`\partial f/\partial x`: 1 for :math:`x \ge 0`, :math:`\alpha` otherwise.

    Returned with the shape of ``x``.
    """
    x = _inexact(x)
    _check_alpha(x, alpha)
    ones = jnp.ones_like(x)
    return jnp.where(x >= 0, ones, alpha * ones)


def prelu_grad_alpha(x: jax.Array, alpha: jax.Array) -> jax.Array:
    r""":math:`\partial f/\partial \alpha` elementwise: 0 for :math:`x \ge 0`, :math:`x` otherwise.

    Returned with the shape of ``x``; the gradient of a loss with respect to a broadcast
    ``alpha`` is ``(g * prelu_grad_alpha(x, alpha))`` summed over the broadcast axes.
    """
    x = _inexact(x)
    _check_alpha(x, alpha)
    return jnp.where(x >= 0, jnp.zeros_like(x), x).astype(jnp.result_type(x, alpha))


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    r"""Exponential linear unit: :math:`x` for :math:`x > 0`, :math:`\alpha(e^x - 1)` otherwise.

    Smooth at 0 when ``alpha = 1``; saturates at :math:`-\alpha` for very negative inputs, which
    pushes the mean activation towards zero.
    """
    _check_number("elu", "alpha", alpha)
    x = _inexact(x)
    # exp only ever sees non-positive numbers, also in the branch that is not taken
    negative = jnp.where(x > 0, 0.0, x)
    return jnp.where(x > 0, x, alpha * jnp.expm1(negative)).astype(x.dtype)


def elu_grad(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    r"""1 for :math:`x > 0`, :math:`\alpha e^x` otherwise (so ``alpha`` at 0, as jax.nn)."""
    _check_number("elu", "alpha", alpha)
    x = _inexact(x)
    negative = jnp.where(x > 0, 0.0, x)
    return jnp.where(x > 0, jnp.ones_like(x), alpha * jnp.exp(negative)).astype(x.dtype)


# --- smooth rectifiers ----------------------------------------------------------------------


def softplus(x: jax.Array) -> jax.Array:
    r"""Softplus :math:`\log(1 + e^x)`, a smooth ReLU.

    Computed as :math:`\max(x, 0) + \log(1 + e^{-|x|})`: exact for large :math:`|x|`
    (``softplus(1e4) = 1e4``, ``softplus(-1e4) = 0``) without overflow.
    """
    x = _inexact(x)
    return jnp.where(x >= 0, x, 0.0).astype(x.dtype) + jnp.log1p(jnp.exp(_nonpositive_abs(x)))


def softplus_grad(x: jax.Array) -> jax.Array:
    r""":math:`\mathrm{softplus}'(x) = \sigma(x)`."""
    return sigmoid(x)


def swish(x: jax.Array, beta: float = 1.0) -> jax.Array:
    r"""Swish :math:`x\,\sigma(\beta x)`; ``beta = 1`` is SiLU, large ``beta`` approaches ReLU.

    ``jax.nn.swish`` is SiLU (no ``beta``).
    """
    _check_number("swish", "beta", beta)
    x = _inexact(x)
    return (x * sigmoid(beta * x)).astype(x.dtype)


def swish_grad(x: jax.Array, beta: float = 1.0) -> jax.Array:
    r""":math:`\sigma(\beta x) + \beta x\,\sigma(\beta x)\,\sigma(-\beta x)`."""
    _check_number("swish", "beta", beta)
    x = _inexact(x)
    z = beta * x
    # z σ'(z) → 0 as |z| → ∞; where β x overflows for a finite x, inf · 0 would be NaN
    tail = jnp.where(jnp.isinf(z) & jnp.isfinite(x), 0.0, z * sigmoid_grad(z))
    return (sigmoid(z) + tail).astype(x.dtype)


def silu(x: jax.Array) -> jax.Array:
    r"""SiLU :math:`x\,\sigma(x)`, i.e. ``swish(x, beta=1)``."""
    return swish(x, 1.0)


def silu_grad(x: jax.Array) -> jax.Array:
    """``swish_grad(x, beta=1)``."""
    return swish_grad(x, 1.0)


def _check_approximate(approximate) -> bool:
    if not isinstance(approximate, (bool, np.bool_)):
        raise TypeError(f"gelu: approximate must be True or False, got {approximate!r}")
    return bool(approximate)


def gelu(x: jax.Array, approximate: bool = False) -> jax.Array:
    r"""Gaussian error linear unit :math:`x\,\Phi(x)`, :math:`\Phi` the standard normal CDF.

    Exact: :math:`\Phi(x) = \tfrac12\,\mathrm{erfc}(-x/\sqrt2)` (erfc keeps the relative
    precision of small values for negative ``x``). With ``approximate=True``:
    :math:`\Phi(x) \approx \tfrac12\,(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715\,x^3)))`.

    Note the default: exact here (as PyTorch), while ``jax.nn.gelu`` defaults to the tanh
    approximation.
    """
    approximate = _check_approximate(approximate)
    x = _inexact(x)
    if approximate:
        return 0.5 * x * (1.0 + jnp.tanh(_gelu_tanh_argument(_gelu_clip(x))))
    return 0.5 * x * jax.lax.erfc(-x * _INV_SQRT_2)


def _gelu_clip(x: jax.Array) -> jax.Array:
    # Beyond |x| = 10, tanh(u) is exactly ±1 in every float type (u > 43), so clipping changes
    # no value; it keeps x³ and x² from overflowing (float16 at |x| ≈ 40, float32 at ≈ 1e13),
    # which would make the derivative 0 · inf = NaN, with jax.grad as with gelu_grad.
    return jnp.clip(x, -10.0, 10.0)


def _gelu_tanh_argument(x: jax.Array) -> jax.Array:
    return _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3)


def gelu_grad(x: jax.Array, approximate: bool = False) -> jax.Array:
    r"""GELU's derivative.

    Exact: :math:`\Phi(x) + x\,\varphi(x)`, :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`.
    Tanh form, with :math:`u = \sqrt{2/\pi}(x + 0.044715x^3)` and :math:`t = \tanh u`:
    :math:`\tfrac12(1 + t) + \tfrac12\,x\,(1 - t^2)\sqrt{2/\pi}\,(1 + 3\cdot0.044715\,x^2)`.
    """
    approximate = _check_approximate(approximate)
    x = _inexact(x)
    if approximate:
        xc = _gelu_clip(x)
        t = jnp.tanh(_gelu_tanh_argument(xc))
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * xc**2)
        return 0.5 * (1.0 + t) + 0.5 * x * ((1.0 - t) * (1.0 + t)) * du
    # exp(-z^2) rather than exp(-x^2/2): the same value, in the form XLA's erfc(z) evaluates
    # for |z| > 1 anyway, so the compiler can share the exponential
    z = -x * _INV_SQRT_2
    return 0.5 * jax.lax.erfc(z) + x * _INV_SQRT_2PI * jnp.exp(-z * z)


# --- maxout ---------------------------------------------------------------------------------


def _grouped_shape(x: jax.Array, num_pieces: int, axis: int) -> tuple[tuple[int, ...], int]:
    """Shape of ``x`` with ``axis`` split into ``(units, num_pieces)``, and the normalized axis."""
    num_pieces = check_positive_int("num_pieces", num_pieces)
    ndim = jnp.ndim(x)
    if ndim == 0:
        raise ValueError("maxout needs an array with a feature axis, got a 0-d (scalar) x")
    ok = isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_))
    if not ok or not -ndim <= axis < ndim:
        raise ValueError(f"maxout: axis must be an integer in [{-ndim}, {ndim}), got {axis!r}")
    axis = int(axis) % ndim
    size = jnp.shape(x)[axis]
    if size % num_pieces:
        raise ValueError(
            f"maxout: the feature dimension x.shape[{axis}]={size} (x.shape={jnp.shape(x)}) is not "
            f"divisible by num_pieces={num_pieces}"
        )
    shape = jnp.shape(x)
    return shape[:axis] + (size // num_pieces, num_pieces) + shape[axis + 1 :], axis


def maxout(x: jax.Array, num_pieces: int, axis: int = -1) -> jax.Array:
    r"""Maxout: the maximum over groups of ``num_pieces`` consecutive features.

    With ``x`` of ``K * p`` features along ``axis`` (``p = num_pieces``), output unit ``k`` is
    :math:`y_k = \max_{j < p} x_{kp + j}`. In a maxout network ``x`` is an affine map of the
    layer's input (see :func:`nndl_jax.nn.Maxout`), so each unit is a convex piecewise-linear
    function with ``p`` pieces.

    Args:
      x: array with ``x.shape[axis] = K * num_pieces``.
      num_pieces: group size ``p`` (a positive Python int).
      axis: the feature axis.

    Returns:
      ``x``'s shape with ``x.shape[axis]`` replaced by ``K``.

    Raises:
      ValueError: if ``x.shape[axis]`` is not divisible by ``num_pieces``.
    """
    x = _inexact(x)
    grouped, axis = _grouped_shape(x, num_pieces, axis)
    return jnp.max(x.reshape(grouped), axis=axis + 1)


def maxout_grad(x: jax.Array, g: jax.Array, num_pieces: int, axis: int = -1) -> jax.Array:
    r"""Vector-Jacobian product of :func:`maxout`: routes ``g`` to the winning inputs.

    :math:`\partial L/\partial x_{kp+j} = g_k\,[x_{kp+j} = y_k] / c_k`, where :math:`c_k` is the
    number of inputs of group ``k`` that attain the maximum (ties share the gradient evenly, as
    ``jax.grad`` of ``jnp.max`` does).

    Args:
      x: the input that was passed to :func:`maxout`.
      g: upstream gradient ``dL/dy``, with the shape of ``maxout(x, num_pieces, axis)``.
      num_pieces, axis: as in :func:`maxout`.

    Returns:
      ``dL/dx``, shape of ``x``.
    """
    x = _inexact(x)
    grouped, axis = _grouped_shape(x, num_pieces, axis)
    out_shape = grouped[: axis + 1] + grouped[axis + 2 :]
    if jnp.shape(g) != out_shape:
        raise ValueError(
            f"maxout_grad: g must have maxout's output shape {out_shape}, "
            f"got g.shape={jnp.shape(g)}"
        )
    xg = x.reshape(grouped)
    winners = xg == jnp.max(xg, axis=axis + 1, keepdims=True)
    count = jnp.sum(winners, axis=axis + 1, keepdims=True)
    g = jnp.expand_dims(g, axis + 1)
    # (g / count) * winners, the form of jax's VJP of max: a group holding NaN has no winner
    # (count 0), and its gradient is NaN, as with jax.grad
    share = g / count.astype(g.dtype)
    return (share * winners.astype(share.dtype)).reshape(x.shape)


# --- registry -------------------------------------------------------------------------------

_FORWARD: dict[str, Callable[..., jax.Array]] = {
    "identity": identity,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "hard_sigmoid": hard_sigmoid,
    "hard_tanh": hard_tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "prelu": prelu,
    "elu": elu,
    "softplus": softplus,
    "swish": swish,
    "silu": silu,
    "gelu": gelu,
    "maxout": maxout,
}

_GRAD: dict[str, Callable[..., jax.Array]] = {
    "identity": identity_grad,
    "sigmoid": sigmoid_grad,
    "tanh": tanh_grad,
    "hard_sigmoid": hard_sigmoid_grad,
    "hard_tanh": hard_tanh_grad,
    "relu": relu_grad,
    "leaky_relu": leaky_relu_grad,
    "prelu": prelu_grad,
    "elu": elu_grad,
    "softplus": softplus_grad,
    "swish": swish_grad,
    "silu": silu_grad,
    "gelu": gelu_grad,
    "maxout": maxout_grad,
}


def names() -> list[str]:
    """The registered activation names, sorted."""
    return sorted(_FORWARD)


def get(name: str | Callable) -> Callable[..., jax.Array]:
    """The activation called ``name``; a callable is returned unchanged.

    Raises:
      ValueError: for an unknown name (the message lists the valid ones).
      TypeError: for something that is neither a string nor a callable.
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name or a callable, got {name!r}")
    return lookup("activation", name, _FORWARD)


def get_grad(name: str | Callable) -> Callable[..., jax.Array]:
    """The analytic derivative of the activation ``name`` (or of one of our activation functions).

    ``get_grad("prelu")`` is the derivative with respect to ``x``; see also
    :func:`prelu_grad_alpha`. ``get_grad("maxout")`` is the VJP :func:`maxout_grad`.
    """
    if callable(name):
        for key, fn in _FORWARD.items():
            if fn is name:
                return _GRAD[key]
        raise ValueError(
            f"no analytic derivative is registered for {name!r}; pass one of: {', '.join(names())}"
        )
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name or a callable, got {name!r}")
    return lookup("activation", name, _GRAD)
