"""Combinators that build networks from layers: ``serial``, ``parallel``, ``residual``, ``Flatten``.

Parameters and state of ``serial`` and ``parallel`` are lists (one entry per child, in order),
so ``params[i]`` is the i-th layer's params (``residual`` uses ``{"body", "shortcut"}``); the
PRNG key is split once per child, so stochastic children draw independent masks.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from nndl_jax.nn._layer import Layer, stateless

__all__ = ["serial", "parallel", "residual", "Flatten", "Identity"]


def _split(key, n):
    return [None] * n if key is None else list(jax.random.split(key, n))


def _check_layers(combinator: str, layers: tuple) -> None:
    if not layers:
        raise ValueError(f"{combinator} needs at least one layer")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{combinator}: argument {i} is not a Layer, got {type(layer).__name__}: {layer!r}"
            )


def serial(*layers: Layer) -> Layer:
    """Compose layers left to right: ``serial(f, g)(x) = g(f(x))``."""
    _check_layers("serial", layers)

    def init(key, input_shape):
        params, states = [], []
        shape = tuple(input_shape)
        for layer, k in zip(layers, jax.random.split(key, len(layers)), strict=True):
            shape, p, s = layer.init(k, shape)
            params.append(p)
            states.append(s)
        return shape, params, states

    def apply(params, state, x, *, key=None, train=False):
        _check_len("serial", params, state, len(layers))
        new_states = []
        for layer, p, s, k in zip(layers, params, state, _split(key, len(layers)), strict=True):
            x, s = layer.apply(p, s, x, key=k, train=train)
            new_states.append(s)
        return x, new_states

    return Layer(init, apply)


def parallel(*layers: Layer) -> Layer:
    """Apply layer i to input i of a tuple; returns a tuple (stax's ``parallel``)."""
    _check_layers("parallel", layers)

    def init(key, input_shape):
        if len(input_shape) != len(layers):
            raise ValueError(
                f"parallel of {len(layers)} layers needs as many input shapes, got {input_shape}"
            )
        if not all(isinstance(s, (tuple, list)) for s in input_shape):
            raise TypeError(
                f"parallel of {len(layers)} layers needs a tuple of {len(layers)} input shapes "
                f"(one tuple per layer), got input_shape={input_shape}"
            )
        outs = [
            layer.init(k, s)
            for layer, k, s in zip(
                layers, jax.random.split(key, len(layers)), input_shape, strict=True
            )
        ]
        return tuple(o[0] for o in outs), [o[1] for o in outs], [o[2] for o in outs]

    def apply(params, state, xs, *, key=None, train=False):
        _check_len("parallel", params, state, len(layers))
        if hasattr(xs, "shape") and hasattr(xs, "dtype"):
            # an array would be split along its first axis, one row per layer
            raise TypeError(
                f"parallel of {len(layers)} layers takes a tuple or list of {len(layers)} "
                f"inputs, got a single array of shape {tuple(xs.shape)}"
            )
        if len(xs) != len(layers):
            raise ValueError(f"parallel of {len(layers)} layers got {len(xs)} inputs")
        ys, new_states = [], []
        for layer, p, s, x, k in zip(
            layers, params, state, xs, _split(key, len(layers)), strict=True
        ):
            y, s = layer.apply(p, s, x, key=k, train=train)
            ys.append(y)
            new_states.append(s)
        return tuple(ys), new_states

    return Layer(init, apply)


def residual(*layers: Layer, shortcut: Layer | None = None) -> Layer:
    """Residual unit ``y = f(x) + shortcut(x)`` with ``f = serial(*layers)`` (He et al., 2016).

    The shortcut is the identity unless given (e.g. a Dense projection when widths differ).
    Params and state are ``{"body": ..., "shortcut": ...}``.
    """
    _check_layers("residual", layers)
    if shortcut is not None and not isinstance(shortcut, Layer):
        raise TypeError(f"residual: shortcut is not a Layer, got {type(shortcut).__name__}")
    body = serial(*layers)
    skip = shortcut if shortcut is not None else Identity()

    def init(key, input_shape):
        k_body, k_skip = jax.random.split(key)
        shape_body, p_body, s_body = body.init(k_body, input_shape)
        shape_skip, p_skip, s_skip = skip.init(k_skip, input_shape)
        if tuple(shape_body) != tuple(shape_skip):
            raise ValueError(
                f"residual: the body's output shape {tuple(shape_body)} differs from the "
                f"shortcut's {tuple(shape_skip)}; pass shortcut=Dense(...) to project"
            )
        return (
            shape_body,
            {"body": p_body, "shortcut": p_skip},
            {"body": s_body, "shortcut": s_skip},
        )

    def apply(params, state, x, *, key=None, train=False):
        k_body, k_skip = _split(key, 2)
        y, s_body = body.apply(params["body"], state["body"], x, key=k_body, train=train)
        r, s_skip = skip.apply(params["shortcut"], state["shortcut"], x, key=k_skip, train=train)
        if y.shape != r.shape:
            raise ValueError(
                f"residual: body output {y.shape} and shortcut output {r.shape} differ"
            )
        return y + r, {"body": s_body, "shortcut": s_skip}

    return Layer(init, apply)


def Identity() -> Layer:
    return stateless(lambda x: x)


def _check_flatten_ndim(ndim: int) -> None:
    if ndim < 1:
        raise ValueError("Flatten needs an input with a batch axis, got a 0-d (scalar) input")


def _flatten_shape(shape):
    _check_flatten_ndim(len(shape))
    rest = shape[1:]
    size = -1 if any(d is None or d < 0 for d in rest) else math.prod(rest)
    return (shape[0], size)


def Flatten() -> Layer:
    """Flatten every axis but the first (the batch): ``(n, a, b, ...) -> (n, a*b*...)``."""

    def flatten(x):
        _check_flatten_ndim(jnp.ndim(x))
        # the product, not -1: an empty batch has no size to infer -1 from
        return jnp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    return stateless(flatten, _flatten_shape)


def _check_len(name, params, state, n):
    if len(params) != n or len(state) != n:
        raise ValueError(
            f"{name} of {n} layers got params of length {len(params)} and state of length "
            f"{len(state)}; pass the params and state returned by its init"
        )
