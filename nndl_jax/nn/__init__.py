"""Kernels (pure array functions) and layers (``init``/``apply`` pairs; see :class:`Layer`)."""

from nndl_jax.nn import initializers as initializers
from nndl_jax.nn._layer import Layer as Layer, stateless as stateless
from nndl_jax.nn.activation_layers import *  # noqa: F403  (each module's __all__ lists its names)
from nndl_jax.nn.activations import *  # noqa: F403
from nndl_jax.nn.combinators import *  # noqa: F403
from nndl_jax.nn.dense import *  # noqa: F403
from nndl_jax.nn.dropout import *  # noqa: F403
