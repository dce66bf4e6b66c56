"""The layer protocol every model in the package speaks.

A :class:`Layer` pairs two pure functions (the design of ``jax.example_libraries.stax``, with
state and keys made explicit):

* ``init(key, input_shape) -> (output_shape, params, state)`` works out shapes without data.
  ``input_shape`` includes the batch dimension, which may be ``-1`` (unknown).
* ``apply(params, state, x, *, key=None, train=False) -> (y, new_state)``.

``params`` and ``state`` are pytrees, dicts with named leaves (``{"w": ..., "b": ...}``); a layer
without parameters or state uses ``{}``. State holds what changes without gradients, such as
batch norm's running statistics; it is returned, never mutated. Stochastic layers draw from the
keyword ``key`` in training mode and raise when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

Params = Any
State = Any
Shape = tuple[int, ...]


class Layer(NamedTuple):
    """A pair of pure functions ``init`` and ``apply`` (see the module docstring)."""

    init: Callable[[jax.Array, Shape], tuple[Shape, Params, State]]
    apply: Callable[..., tuple[jax.Array, State]]


def stateless(
    fn: Callable[[jax.Array], jax.Array], shape_fn: Callable[[Shape], Shape] | None = None
) -> Layer:
    """A layer without parameters or state that applies ``fn`` to its input.

    Args:
      fn: the array function.
      shape_fn: maps the input shape to the output shape (identity when omitted).
    """

    def init(key, input_shape):
        del key
        shape = tuple(input_shape)
        return (shape_fn(shape) if shape_fn else shape), {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return fn(x), state

    return Layer(init, apply)
