r"""Histogram density estimation on a regular grid, in any number of dimensions.

The range of every feature is cut into equal bins; a point's density is the fraction of the
training points that fall in its cell divided by the cell's volume,

.. math::  \hat p(x) = \frac{n_{\text{cell}(x)}}{N\,V}, \qquad V = \prod_j w_j ,

so that :math:`\hat p` integrates to 1 over the range. This is ``numpy.histogramdd(...,
density=True)``: bins are half-open ``[e_i, e_{i+1})`` except the last, which includes its right
edge; points outside the range are not counted (N counts only the points inside). The default
range of a feature is its minimum and maximum on the training data (widened by ±0.5 when
they are equal, as NumPy does).

The number of bins sets the bias-variance trade-off: wide bins blur the density, narrow ones
leave most cells empty — in d dimensions a grid with b bins per feature has :math:`b^d` cells,
which is why histograms are only practical in low dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.unsupervised._checks import (
    as_float_array,
    check_data,
    check_finite,
    check_positive_int,
)

__all__ = ["Histogram", "fit", "score_samples", "density"]


class Histogram(NamedTuple):
    """A fitted histogram density.

    Attributes:
      edges: ``(d, b + 1)`` bin edges of each feature (the same count b for every feature).
      density: ``(b,) * d`` density value of every cell (``counts / (N_inside · volume)``).
    """

    edges: jax.Array
    density: jax.Array


def fit(X, bins: int = 10, *, range: Sequence[Sequence[float]] | None = None) -> Histogram:
    """Estimate the density of the rows of X by a histogram.

    Args:
      X: ``(N, d)`` data, finite.
      bins: b, bins per feature (static; the grid has b^d cells).
      range: ``d`` pairs ``(low, high)``; default the data's min and max per feature.

    Returns:
      A :class:`Histogram`.
    """
    X = check_data("X", X)
    d = X.shape[1]
    bins = check_positive_int("bins", bins)
    if bins**d > 50_000_000:
        raise ValueError(f"bins={bins} in d={d} dimensions gives {bins**d} cells; use fewer bins")
    if range is None:
        bounds = None
    else:
        bounds = as_float_array("range", range)
        if bounds.shape != (d, 2):
            raise ValueError(f"range must be {d} pairs (low, high), got shape {bounds.shape}")
        check_finite("range", bounds)
        if not isinstance(bounds, jax.core.Tracer):
            pairs = np.asarray(bounds)
            if np.any(pairs[:, 0] > pairs[:, 1]):
                raise ValueError(
                    f"range must have low <= high for every feature, got {pairs.tolist()}"
                )
        bounds = bounds.astype(X.dtype)
    return _fit(X, bounds, bins=bins)


@partial(jax.jit, static_argnames=("bins",))
def _fit(X, bounds, *, bins):
    n, d = X.shape
    if bounds is None:
        bounds = jnp.stack([jnp.min(X, axis=0), jnp.max(X, axis=0)], axis=1)
    low, high = bounds[:, 0], bounds[:, 1]
    flat = low == high
    low, high = jnp.where(flat, low - 0.5, low), jnp.where(flat, high + 0.5, high)
    edges = jax.vmap(lambda lo, hi: jnp.linspace(lo, hi, bins + 1))(low, high)
    index, inside = _cells(edges, X)
    counts = jnp.zeros(bins**d, X.dtype).at[index].add(inside.astype(X.dtype))
    # From the whole range: float32 edges far from 0 are not exactly equally spaced.
    volume = jnp.prod((high - low) / bins)
    total = jnp.maximum(jnp.sum(counts), 1.0)
    return Histogram(edges, (counts / (total * volume)).reshape((bins,) * d))


def _cells(edges, X):
    """Flat cell index of every row and whether it lies inside the grid."""
    bins = edges.shape[1] - 1

    def one_feature(e, x):
        i = jnp.searchsorted(e, x, side="right") - 1
        i = jnp.where(x == e[-1], bins - 1, i)  # the last bin is closed on the right
        return i, (i >= 0) & (i < bins)

    idx, ok = jax.vmap(one_feature, in_axes=(0, 1), out_axes=1)(edges, X)
    inside = jnp.all(ok, axis=1)
    flat = jnp.ravel_multi_index(
        tuple(jnp.clip(idx, 0, bins - 1).T), (bins,) * edges.shape[0], mode="clip"
    )
    return flat, inside


def density(model: Histogram, X) -> jax.Array:
    """``(M,)`` the histogram's density at each row of X (0 outside the grid)."""
    return _density(model, _check_x(model, X))


@jax.jit
def _density(model, X):
    index, inside = _cells(model.edges, X)
    return jnp.where(inside, model.density.reshape(-1)[index], 0.0)


def score_samples(model: Histogram, X) -> jax.Array:
    """``(M,)`` log-density at each row of X; ``-inf`` in empty cells and outside the grid."""
    return jnp.log(density(model, X))


def _check_x(model: Histogram, X) -> jax.Array:
    X = as_float_array("X", X)
    d = model.edges.shape[0]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n_samples, {d}), got {tuple(X.shape)}")
    check_finite("X", X)  # NaN falls in no cell: it would read as density 0
    return X.astype(model.edges.dtype)
