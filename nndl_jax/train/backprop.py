r"""Manual backpropagation for a multilayer perceptron (book, section 4.4).

A fully connected network of ``L`` layers maps an input batch through

.. math::

    z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}, \qquad a^{(l)} = f(z^{(l)}) \quad (l < L), \qquad
    a^{(0)} = x, \qquad \hat y = z^{(L)},

with the examples as the *rows* of ``x`` (shape ``(N, d_0)``) and ``W^{(l)}`` of shape
``(d_{l-1}, d_l)``: the transpose of the book's column-vector convention, the layout of
:func:`nndl_jax.nn.Dense`. The last layer is linear; its outputs are the logits of the loss.

Backpropagation, written by hand from the chain rule (no autodiff). With the error term
:math:`\delta^{(l)} = \partial L / \partial z^{(l)}` (shape ``(N, d_l)``, one row per example):

.. math::

    \delta^{(L)} &= \partial L / \partial \hat y
        \quad\text{(the loss's analytic gradient)}, \\
    \delta^{(l)} &= f'(z^{(l)}) \odot \big(\delta^{(l+1)} W^{(l+1)\top}\big), \\
    \partial L / \partial W^{(l)} &= a^{(l-1)\top} \delta^{(l)}, \qquad
    \partial L / \partial b^{(l)} = \textstyle\sum_{n} \delta^{(l)}_{n}.

(The book writes :math:`\delta^{(l)} = f'(z^{(l)}) \odot (W^{(l+1)\top} \delta^{(l+1)})` and
:math:`\partial L/\partial W^{(l)} = \delta^{(l)} a^{(l-1)\top}` for one column vector; stacking
examples as rows transposes both.) The sum over the batch inside :math:`a^\top\delta` and
:math:`\sum_n \delta_n` is why the loss is an *average* and :math:`\delta^{(L)}` carries its
``1/N``.

Params are a list with one ``{"w": (d_in, d_out), "b": (d_out,)}`` per layer, exactly the params
of a ``serial`` of :func:`~nndl_jax.nn.Dense` layers without the activation entries, so an
optimizer, a checkpoint or :func:`mlp_as_layer` (for the generic training loop) can use them.

>>> import jax
>>> params = mlp_init(jax.random.key(0), [64, 32, 10], init="he")
>>> x, y = jax.numpy.ones((8, 64)), jax.numpy.arange(8) % 10
>>> loss, grads = mlp_grads(params, x, y, activation="relu")
>>> [g["w"].shape for g in grads]
[(64, 32), (32, 10)]

References:
  Qiu Xipeng, *Neural Networks and Deep Learning*, section 4.4 (backpropagation, algorithm 4.1)
  and section 7.3 (parameter initialization).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import losses as _losses
from nndl_jax._validate import (
    as_label_array,
    check_labels_in_range,
    check_non_negative,
    check_positive,
    is_traced,
    unknown_name,
)
from nndl_jax.nn import activations as _activations, initializers as _initializers
from nndl_jax.nn._layer import Layer

__all__ = [
    "MLPCache",
    "mlp_init",
    "mlp_from_params",
    "mlp_forward",
    "mlp_grads",
    "mlp_grad_fn",
    "mlp_as_layer",
    "mlp_activations",
    "mlp_losses",
]

Params = list[dict[str, jax.Array]]

# Activations that are not elementwise maps of a layer's own net input: maxout reduces groups of
# units and prelu has a learned slope, so neither fits z -> f(z) with a derivative f'(z).
_NOT_ELEMENTWISE = ("maxout", "prelu")

# loss name -> (per-example loss, its analytic gradient w.r.t. the network outputs)
_LOSSES: dict[str, tuple[Callable, Callable]] = {
    "softmax_cross_entropy": (_losses.softmax_cross_entropy, _losses.softmax_cross_entropy_grad),
    "cross_entropy": (_losses.softmax_cross_entropy, _losses.softmax_cross_entropy_grad),
    "mse": (_losses.squared_error, _losses.squared_error_grad),
    "squared_error": (_losses.squared_error, _losses.squared_error_grad),
}

# the short init names of the book (table 7.2); each paper's own distribution
_INIT_ALIASES = {"xavier": "xavier_uniform", "glorot": "xavier_uniform", "he": "he_normal"}


def mlp_activations() -> list[str]:
    """The activation names :func:`mlp_forward` and :func:`mlp_grads` accept, sorted."""
    return sorted(n for n in _activations.names() if n not in _NOT_ELEMENTWISE)


def mlp_losses() -> list[str]:
    """The loss names :func:`mlp_grads` accepts, sorted."""
    return sorted(_LOSSES)


class MLPCache(NamedTuple):
    r"""What the forward pass keeps for the backward pass (前馈计算每一层的净输入和激活值).

    Attributes:
      z: the net inputs, a tuple of ``L`` arrays: ``z[l]`` is :math:`z^{(l+1)}`, shape
        ``(..., d_{l+1})``; ``z[-1]`` are the logits.
      a: the activations, a tuple of ``L + 1`` arrays: ``a[0]`` is the input :math:`x`,
        ``a[l] = f(z[l-1])`` for the hidden layers and ``a[L] = z[L-1]`` (the last layer is
        linear).
    """

    z: tuple[jax.Array, ...]
    a: tuple[jax.Array, ...]


# --------------------------------------------------------------------------------------------
# validation


def _sizes(sizes: Any) -> tuple[int, ...]:
    try:
        dims = tuple(operator.index(d) for d in sizes)
    except TypeError:
        raise TypeError(
            f"sizes must be a sequence of layer widths (d_0, d_1, ..., d_L), got {sizes!r}"
        ) from None
    if len(dims) < 2 or any(d <= 0 for d in dims):
        raise ValueError(
            f"sizes must hold at least two positive widths (input, ..., output), got {sizes!r}"
        )
    return dims


def _param_sizes(params: Any) -> tuple[int, ...]:
    """Check the MLP params' structure and shapes; return the widths ``(d_0, ..., d_L)``."""
    if not isinstance(params, (list, tuple)) or not params:
        raise TypeError(
            'params must be a non-empty list of {"w": (d_in, d_out), "b": (d_out,)} dicts, got '
            f"{type(params).__name__}"
        )
    sizes: list[int] = []
    for l, layer in enumerate(params):
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            got = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            raise TypeError(f'params[{l}] must be a dict with keys "w" and "b", got {got}')
        w_shape, b_shape = np.shape(layer["w"]), np.shape(layer["b"])
        if len(w_shape) != 2 or b_shape != w_shape[1:]:
            raise ValueError(
                f'params[{l}] must hold "w" of shape (d_in, d_out) and "b" of shape (d_out,), '
                f"got w.shape={w_shape} and b.shape={b_shape}"
            )
        if sizes and w_shape[0] != sizes[-1]:
            raise ValueError(
                f"params[{l}]['w'].shape={w_shape} does not follow params[{l - 1}]['w'].shape="
                f"{np.shape(params[l - 1]['w'])}: its d_in must be {sizes[-1]}"
            )
        if not sizes:
            sizes.append(w_shape[0])
        sizes.append(w_shape[1])
    return tuple(sizes)


def _activation(activation: Any) -> tuple[Callable, Callable]:
    """``(f, f')`` for a name, one of our activation functions, or a pair of callables."""
    if isinstance(activation, tuple) and len(activation) == 2 and all(map(callable, activation)):
        return activation
    if isinstance(activation, str):
        if activation not in mlp_activations():
            raise unknown_name("activation", activation, mlp_activations())
        return _activations.get(activation), _activations.get_grad(activation)
    if callable(activation):
        try:
            return activation, _activations.get_grad(activation)
        except ValueError:
            pass
    raise TypeError(
        "activation must be a name (one of: " + ", ".join(mlp_activations()) + "), one of "
        f"nndl_jax.nn's activation functions, or a pair (f, f_grad), got {activation!r}"
    )


def _check_input(x: Any, sizes: tuple[int, ...], ndim: int | None = None) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim < 1 or x.shape[-1] != sizes[0] or (ndim is not None and x.ndim != ndim):
        want = f"(N, {sizes[0]})" if ndim == 2 else f"(..., {sizes[0]})"
        raise ValueError(
            f"x must have shape {want} for params with layer widths {sizes}, got x.shape={x.shape}"
        )
    return x


def _targets(loss: str, logits: jax.Array, y: Any) -> jax.Array:
    """The targets in the form the loss takes; integer labels become one-hot rows for MSE."""
    y = as_label_array("y", y)
    n, k = logits.shape
    if jnp.issubdtype(y.dtype, jnp.integer):
        if y.shape != (n,):
            raise ValueError(
                f"integer labels y must have shape (N,) = ({n},), got y.shape={y.shape} "
                f"(logits shape {logits.shape})"
            )
        check_labels_in_range("y", y, k)
        if _LOSSES[loss][0] is _losses.squared_error:
            return (y[:, None] == jnp.arange(k)).astype(logits.dtype)
        return y
    if not jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError(f"y must hold integer labels or floating targets, got dtype {y.dtype}")
    if y.shape != logits.shape:
        raise ValueError(
            f"floating targets y must have the network's output shape (N, d_L) = {logits.shape}, "
            f"got y.shape={y.shape}"
        )
    return y


# --------------------------------------------------------------------------------------------
# initialization


def mlp_init(
    key: jax.Array,
    sizes: Sequence[int],
    init: str | Callable | Sequence[dict] = "xavier",
    *,
    bias_init: str | Callable = "zeros",
    value: float = 0.1,
    stddev: float = 0.01,
    dtype: Any = jnp.float32,
) -> Params:
    r"""Parameters of an MLP with layer widths ``sizes = (d_0, d_1, ..., d_L)``.

    Weight initializers (book section 7.3), applied to every ``W^{(l)}`` of shape
    ``(d_{l-1}, d_l)``:

    * ``"zeros"``: all zero; ``"constant"``: all ``value``. Both make every hidden unit of a
      layer compute the same function, and backpropagation then gives them the same gradient,
      so they stay identical (the symmetric-weights problem, 对称权重现象).
    * ``"normal"``: :math:`N(0, \text{stddev}^2)`.
    * ``"xavier"`` (= ``"xavier_uniform"``): :math:`U(-r, r)`,
      :math:`r = \sqrt{6/(d_{l-1} + d_l)}`, Glorot & Bengio's own choice.
    * ``"he"`` (= ``"he_normal"``): truncated normal with variance :math:`2/d_{l-1}`, for ReLU.
    * any name of :func:`nndl_jax.nn.initializers.names` or a function
      ``(key, shape, dtype) -> array``.
    * parameters from elsewhere (pretraining): a list of ``{"w", "b"}`` dicts, checked against
      ``sizes`` by :func:`mlp_from_params`; ``key`` is then unused.

    Args:
      key: PRNG key.
      sizes: input width, hidden widths and output width, at least two positive ints.
      init: the weight initializer, see above.
      bias_init: the bias initializer (a name or function); biases have no fans, so use
        ``"zeros"``, ``"ones"``, ``"normal"``, ``"uniform"`` or a function.
      value: the constant of ``init="constant"``.
      stddev: the standard deviation of ``init="normal"``.
      dtype: floating dtype of the parameters.

    Returns:
      A list of ``L`` dicts ``{"w": (d_{l-1}, d_l), "b": (d_l,)}``.

    Raises:
      ValueError: for an unknown init name (listing the valid ones) or bad sizes.
    """
    sizes = _sizes(sizes)
    if isinstance(init, (list, tuple)):
        return mlp_from_params(init, sizes, dtype=dtype)
    w_init = _weight_initializer(init, value, stddev)
    b_init = _initializers.get(bias_init)
    num_layers = len(sizes) - 1
    w_keys = jax.random.split(key, 2 * num_layers)
    params = []
    for l in range(num_layers):
        d_in, d_out = sizes[l], sizes[l + 1]
        params.append(
            {
                "w": w_init(w_keys[2 * l], (d_in, d_out), dtype),
                "b": b_init(w_keys[2 * l + 1], (d_out,), dtype),
            }
        )
    return params


def _weight_initializer(init: Any, value: float, stddev: float) -> Callable:
    if callable(init):
        return init
    if not isinstance(init, str):
        raise TypeError(
            f"init must be an initializer name, a function or a list of params, got {init!r}"
        )
    if init == "constant":
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"value must be a number for init='constant', got {value!r}")
        return _initializers.constant(float(value))
    if init == "normal":
        return _initializers.normal(check_positive("stddev", stddev))
    name = _INIT_ALIASES.get(init, init)
    if name not in _initializers.names():
        valid = set(_initializers.names()) | set(_INIT_ALIASES) | {"constant"}
        raise unknown_name("init", init, valid)
    return _initializers.get(name)


def mlp_from_params(
    params: Sequence[dict], sizes: Sequence[int] | None = None, *, dtype: Any = None
) -> Params:
    """MLP params built from parameters that come from elsewhere (pretraining initialization).

    A stacked autoencoder's encoder, another run's checkpoint or a ``serial`` of ``Dense``
    layers can initialize an MLP: the entries must be ``{"w": (d_in, d_out), "b": (d_out,)}``
    dicts whose widths chain. Empty dicts (the parameterless activation layers of a ``serial``)
    are skipped.

    Args:
      params: the list of layer dicts.
      sizes: if given, the widths ``(d_0, ..., d_L)`` the params must have.
      dtype: cast every array to this dtype (default: keep each array's dtype).

    Returns:
      A new list of new dicts of JAX arrays (the caller's containers are not shared).

    Raises:
      TypeError: for a wrong structure; ValueError: for shapes that do not chain or do not
      match ``sizes`` (the message names the shapes).
    """
    if isinstance(params, (list, tuple)):
        params = [p for p in params if not (isinstance(p, dict) and not p)]
    have = _param_sizes(params)
    if sizes is not None and have != _sizes(sizes):
        raise ValueError(
            f"the given params have layer widths {have}, but sizes={tuple(sizes)} was asked for"
        )
    return [{k: jnp.asarray(layer[k], dtype=dtype) for k in ("w", "b")} for layer in params]


# --------------------------------------------------------------------------------------------
# forward and backward


def mlp_forward(
    params: Params, x: jax.Array, *, activation: Any = "relu"
) -> tuple[jax.Array, MLPCache]:
    r"""The forward pass, keeping every layer's net input and activation.

    :math:`z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}`, :math:`a^{(l)} = f(z^{(l)})` for
    :math:`l < L`, and the linear output :math:`z^{(L)}`.

    Args:
      params: MLP params (see :func:`mlp_init`).
      x: inputs, shape ``(..., d_0)``.
      activation: the hidden activation: a name of :func:`mlp_activations`, one of
        ``nndl_jax.nn``'s activation functions, or a pair ``(f, f_grad)`` of elementwise
        callables (e.g. ``(partial(leaky_relu, negative_slope=0.2), partial(leaky_relu_grad,
        negative_slope=0.2))``).

    Returns:
      ``(logits, cache)``: logits of shape ``(..., d_L)`` and an :class:`MLPCache`.
    """
    sizes = _param_sizes(params)
    f, _ = _activation(activation)
    a = _check_input(x, sizes)
    zs, acts = [], [a]
    for l, layer in enumerate(params):
        z = a @ layer["w"] + layer["b"]
        a = f(z) if l < len(params) - 1 else z
        zs.append(z)
        acts.append(a)
    return a, MLPCache(tuple(zs), tuple(acts))


def mlp_grads(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    activation: Any = "relu",
    loss: str = "softmax_cross_entropy",
    l2: float = 0.0,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, Params]:
    r"""Loss and gradients of an MLP by manual backpropagation (algorithm 4.1 of the book).

    The loss is the *mean* over the batch,

    .. math::

        L = \frac{1}{N} \sum_{n=1}^{N} \ell(y_n, \hat y_n)
            + \frac{\lambda}{2} \sum_{l} \lVert W^{(l)} \rVert_F^2,

    with :math:`\ell` the softmax cross-entropy (``"softmax_cross_entropy"``, alias
    ``"cross_entropy"``) or the squared error averaged over the ``d_L`` outputs,
    :math:`\ell = \frac{1}{d_L}\lVert \hat y_n - y_n \rVert^2` (``"mse"``, alias
    ``"squared_error"``; so :math:`L` is the mean over all ``N d_L`` elements, as
    ``squared_error(..., reduction="mean")``). :math:`\lambda` is ``l2``; biases are not
    penalized, and the penalty's gradient :math:`\lambda W` is weight decay.

    The error term of the output layer is the loss's analytic gradient
    (:func:`nndl_jax.losses.softmax_cross_entropy_grad`: ``(softmax(z) - y) / N``;
    :func:`nndl_jax.losses.squared_error_grad`: ``2 (ŷ - y) / (N d_L)``); every other step is
    the module docstring's recursion, with one matrix product per gradient.

    Args:
      params: MLP params (see :func:`mlp_init`), ``L`` layers.
      x: inputs, shape ``(N, d_0)``.
      y: integer class labels of shape ``(N,)`` in ``[0, d_L)`` (one-hot encoded for ``"mse"``),
        or floating targets of shape ``(N, d_L)`` (one-hot or probability rows for the
        cross-entropy, regression targets for MSE).
      activation: the hidden activation (see :func:`mlp_forward`); it needs an analytic
        derivative.
      loss: a name of :func:`mlp_losses`.
      l2: :math:`\lambda \ge 0`.
      mask: optional per-example weights :math:`m_n \ge 0`, shape ``(N,)``: the data term becomes
        :math:`\sum_n m_n \ell_n / \sum_n m_n` (0 if every weight is 0), so padded rows of a last
        partial batch (mask 0) do not count, not even through a NaN loss.

    Returns:
      ``(loss, grads)``: the scalar loss and a list shaped like ``params``.

    Raises:
      ValueError: for unknown activation or loss names (listing the valid ones), mismatched
        shapes (naming them) or labels outside ``[0, d_L)`` (checked outside jit).
    """
    sizes = _param_sizes(params)
    if not isinstance(loss, str) or loss not in _LOSSES:
        raise unknown_name("loss", loss, _LOSSES)
    l2 = check_non_negative("l2", l2)
    _, f_grad = _activation(activation)
    x = _check_input(x, sizes, ndim=2)

    logits, cache = mlp_forward(params, x, activation=activation)
    targets = _targets(loss, logits, y)
    value, delta = _output_error(loss, logits, targets, mask)

    decay = is_traced(l2) or bool(l2)  # a traced l2 (jit or vmap over it) always applies
    grads = [None] * len(params)
    for l in reversed(range(len(params))):
        a_prev = cache.a[l]
        w = params[l]["w"]
        g_w = a_prev.T @ delta
        grads[l] = {"w": g_w + l2 * w if decay else g_w, "b": jnp.sum(delta, axis=0)}
        if l > 0:
            delta = f_grad(cache.z[l - 1]) * (delta @ w.T)
    if decay:
        value = value + 0.5 * l2 * sum(jnp.sum(p["w"] * p["w"]) for p in params)
    return value, grads


def _output_error(loss: str, logits, targets, mask) -> tuple[jax.Array, jax.Array]:
    r"""The data loss and :math:`\delta^{(L)} = \partial L / \partial z^{(L)}`."""
    loss_fn, grad_fn = _LOSSES[loss]
    per_output = loss_fn is _losses.squared_error
    if mask is None:
        value = loss_fn(logits, targets, reduction="mean")
        return value, grad_fn(logits, targets, reduction="mean")
    mask = jnp.asarray(mask)
    if mask.shape != logits.shape[:1]:
        raise ValueError(
            f"mask must have shape (N,) = {logits.shape[:1]}, got mask.shape={mask.shape}"
        )
    if not isinstance(mask, jax.core.Tracer):  # values are known outside jit only
        values = np.asarray(mask, dtype=float)
        if not np.all(np.isfinite(values) & (values >= 0)):
            bad = values[~(np.isfinite(values) & (values >= 0))]
            raise ValueError(f"mask must hold finite weights >= 0, got e.g. {bad[:5].tolist()}")
    weights = mask.astype(logits.dtype)
    total = jnp.sum(weights)
    # each example's share of the loss; all-zero masks give a zero loss, not 0/0
    share = jnp.where(total > 0, weights / jnp.where(total > 0, total, 1.0), 0.0)
    if per_output:
        share = share / logits.shape[-1]
        per_example = jnp.sum(loss_fn(logits, targets), axis=-1)
    else:
        per_example = loss_fn(logits, targets)
    # where, not a product: a masked-out row must not leak a NaN (0 * NaN is NaN)
    kept = (weights > 0)[:, None]
    value = jnp.sum(jnp.where(kept[:, 0], share * per_example, 0.0))
    delta = jnp.where(kept, share[:, None] * grad_fn(logits, targets, reduction="sum"), 0.0)
    return value, delta


def mlp_grad_fn(
    *, activation: Any = "relu", loss: str = "softmax_cross_entropy", l2: float = 0.0
) -> Callable[..., tuple[jax.Array, Params]]:
    """``grad_fn(params, x, y, mask=None) -> (loss, grads)``: :func:`mlp_grads` with its options
    fixed, the hook a training loop calls in place of ``jax.value_and_grad``.

    The names are checked here, once, rather than at the first step.
    """
    _activation(activation)
    if not isinstance(loss, str) or loss not in _LOSSES:
        raise unknown_name("loss", loss, _LOSSES)
    check_non_negative("l2", l2)

    def grad_fn(params, x, y, mask=None):
        return mlp_grads(params, x, y, activation=activation, loss=loss, l2=l2, mask=mask)

    return grad_fn


def mlp_as_layer(
    sizes: Sequence[int],
    activation: Any = "relu",
    *,
    init: str | Callable | Sequence[dict] = "xavier",
    **init_kwargs: Any,
) -> Layer:
    """The MLP as an :class:`~nndl_jax.nn.Layer`, for the generic training loop.

    ``init(key, input_shape)`` returns :func:`mlp_init`'s params (the same list, so
    :func:`mlp_grads` can compute their gradients) and an empty state; ``apply`` returns the
    logits of :func:`mlp_forward`.

    Args:
      sizes: ``(d_0, ..., d_L)``; ``input_shape[-1]`` must be ``d_0``.
      activation: the hidden activation (see :func:`mlp_forward`).
      init: the weight initializer or pretrained params (see :func:`mlp_init`).
      **init_kwargs: ``bias_init``, ``value``, ``stddev``, ``dtype`` for :func:`mlp_init`.
    """
    sizes = _sizes(sizes)
    _activation(activation)
    if not isinstance(init, (list, tuple)):
        _weight_initializer(init, init_kwargs.get("value", 0.1), init_kwargs.get("stddev", 0.01))

    def init_fn(key, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape or input_shape[-1] != sizes[0]:
            raise ValueError(
                f"the MLP with widths {sizes} needs input_shape (..., {sizes[0]}), "
                f"got input_shape={input_shape}"
            )
        params = mlp_init(key, sizes, init, **init_kwargs)
        return input_shape[:-1] + (sizes[-1],), params, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        return mlp_forward(params, x, activation=activation)[0], state

    return Layer(init_fn, apply)
