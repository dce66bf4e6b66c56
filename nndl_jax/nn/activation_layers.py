"""Activation layers: the functions of :mod:`nndl_jax.nn.activations` as :class:`Layer` s.

Every constructor returns a layer (``Relu()``, not ``Relu``), so that all layers are built the
same way whether or not they take hyperparameters. Elementwise activations have no parameters
and keep the input shape; :func:`PReLU` learns one slope per feature; :func:`Maxout` is a dense
layer followed by maxout.

>>> import jax, jax.numpy as jnp
>>> from nndl_jax.nn import serial, Dense
>>> net = serial(Dense(8), Relu(), Dense(2))
>>> out_shape, params, state = net.init(jax.random.key(0), (-1, 3))
>>> net.apply(params, state, jnp.ones((4, 3)))[0].shape
(4, 2)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import as_real, check_positive_int
from nndl_jax.nn import activations
from nndl_jax.nn._layer import Layer, stateless
from nndl_jax.nn.dense import dense


def _param_dtype():
    # as Dense: float64 when x64 is on (resolved at init, so enabling x64 later is honoured)
    return jax.dtypes.canonicalize_dtype(jnp.float64)


__all__ = [
    "Activation",
    "Sigmoid",
    "Tanh",
    "HardSigmoid",
    "HardTanh",
    "Relu",
    "LeakyRelu",
    "Elu",
    "Softplus",
    "Swish",
    "Gelu",
    "PReLU",
    "Maxout",
]


def Activation(fn: str | Callable[..., jax.Array], **kwargs) -> Layer:
    """A parameter-free layer applying an elementwise activation.

    Args:
      fn: a name from ``nndl_jax.nn.activations.names()`` (``"relu"``, ``"gelu"``, ...) or any
        function of an array.
      **kwargs: keywords bound to ``fn`` (``Activation("leaky_relu", negative_slope=0.2)``).

    Returns:
      A :class:`Layer` with params and state ``{}`` that keeps the input shape.
    """
    if isinstance(fn, str) and fn in ("prelu", "maxout"):
        raise ValueError(
            f"Activation({fn!r}): this activation changes parameters or shape; use "
            f"{'PReLU' if fn == 'prelu' else 'Maxout'}(...) instead"
        )
    f = activations.get(fn)
    if kwargs:
        try:
            signature = inspect.signature(f)
        except (TypeError, ValueError):  # no signature to check against (a builtin, say)
            signature = None
        if signature is not None:
            try:
                signature.bind(None, **kwargs)
            except TypeError as e:
                raise TypeError(f"Activation({fn!r}, **{kwargs!r}): {e}") from None
    return stateless(functools.partial(f, **kwargs) if kwargs else f)


def Sigmoid() -> Layer:
    """Logistic sigmoid layer (:func:`nndl_jax.nn.sigmoid`)."""
    return Activation(activations.sigmoid)


def Tanh() -> Layer:
    """Tanh layer."""
    return Activation(activations.tanh)


def HardSigmoid(slope: float = 0.25) -> Layer:
    """Hard sigmoid layer, ``clip(slope * x + 1/2, 0, 1)`` (the book's slope 1/4 by default)."""
    activations._hard_sigmoid_corner(slope)  # checks slope now rather than at the first apply
    return Activation(activations.hard_sigmoid, slope=slope)


def HardTanh() -> Layer:
    """Hard tanh layer, ``clip(x, -1, 1)``."""
    return Activation(activations.hard_tanh)


def Relu() -> Layer:
    """ReLU layer, ``max(x, 0)``."""
    return Activation(activations.relu)


def LeakyRelu(negative_slope: float = 0.01) -> Layer:
    """Leaky ReLU layer with a fixed ``negative_slope``."""
    activations._check_number("LeakyRelu", "negative_slope", negative_slope)
    return Activation(activations.leaky_relu, negative_slope=negative_slope)


def Elu(alpha: float = 1.0) -> Layer:
    """ELU layer."""
    activations._check_number("Elu", "alpha", alpha)
    return Activation(activations.elu, alpha=alpha)


def Softplus() -> Layer:
    """Softplus layer, ``log(1 + exp(x))``."""
    return Activation(activations.softplus)


def Swish(beta: float = 1.0) -> Layer:
    """Swish layer ``x * sigmoid(beta * x)`` (SiLU when ``beta = 1``)."""
    activations._check_number("Swish", "beta", beta)
    return Activation(activations.swish, beta=beta)


def Gelu(approximate: bool = False) -> Layer:
    """GELU layer, exact (erf) by default or the tanh approximation."""
    if not isinstance(approximate, (bool, np.bool_)):
        raise TypeError(f"Gelu: approximate must be True or False, got {approximate!r}")
    return Activation(activations.gelu, approximate=bool(approximate))


def _last_dim(layer: str, input_shape) -> int:
    input_shape = tuple(input_shape)
    if not input_shape or input_shape[-1] is None or input_shape[-1] <= 0:
        raise ValueError(
            f"{layer} needs a known last input dimension, got input_shape={input_shape}"
        )
    return input_shape[-1]


def PReLU(init_alpha: float = 0.25) -> Layer:
    r"""Parametric ReLU with a learned slope per feature (He et al., 2015).

    :math:`y = x` for :math:`x \ge 0` and :math:`y = \alpha_j x` otherwise, where :math:`j`
    indexes the last axis. Params: ``{"alpha": (d,)}`` filled with ``init_alpha`` (float32, or
    float64 under x64, as ``Dense``).

    Args:
      init_alpha: initial slope (He et al. use 0.25).
    """
    # a Python or NumPy number or a 0-d array (not a bool)
    if as_real(init_alpha) is None:
        raise TypeError(f"PReLU: init_alpha must be a number, got {init_alpha!r}")

    def init(key, input_shape):
        del key
        d = _last_dim("PReLU", input_shape)
        return tuple(input_shape), {"alpha": jnp.full((d,), init_alpha, _param_dtype())}, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        return activations.prelu(x, params["alpha"]), state

    return Layer(init, apply)


def Maxout(features: int, num_pieces: int, *, w_init="lecun_normal", b_init="zeros") -> Layer:
    r"""Maxout layer (Goodfellow et al., 2013): ``features`` units, each the max of ``num_pieces``
    affine functions of the input.

    :math:`z = x W + b` with ``W`` of shape ``(d_in, features * num_pieces)``, then
    :math:`y_k = \max_{j < p} z_{kp + j}` (:func:`nndl_jax.nn.maxout` on the last axis): unit
    ``k`` uses columns ``k*p ... k*p + p - 1``. Params ``{"w", "b"}`` as in
    :func:`nndl_jax.nn.Dense`.

    Args:
      features: number of output units ``K``.
      num_pieces: affine pieces per unit ``p``.
      w_init, b_init: initializer names or functions (see :mod:`nndl_jax.nn.initializers`).
    """
    from nndl_jax.nn.initializers import get as get_initializer

    features = check_positive_int("features", features)
    num_pieces = check_positive_int("num_pieces", num_pieces)
    w_fn, b_fn = get_initializer(w_init), get_initializer(b_init)
    width = features * num_pieces

    def init(key, input_shape):
        d = _last_dim("Maxout", input_shape)
        k_w, k_b = jax.random.split(key)
        dt = _param_dtype()
        params = {"w": w_fn(k_w, (d, width), dt), "b": b_fn(k_b, (width,), dt)}
        return tuple(input_shape)[:-1] + (features,), params, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        return activations.maxout(dense(x, params["w"], params["b"]), num_pieces), state

    return Layer(init, apply)
