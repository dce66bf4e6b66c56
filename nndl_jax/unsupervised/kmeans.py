r"""k-means clustering: k-means++ seeding, Lloyd iterations, restarts run in parallel.

k-means looks for k centroids :math:`c_1, \dots, c_k` minimising the *inertia*

.. math::  J = \sum_n \min_j \|x^{(n)} - c_j\|^2 .

**Lloyd's algorithm** alternates the two partial minimisations: assign every point to its nearest
centroid, then move every centroid to the mean of its points. Neither step can raise J, so it
decreases to a local minimum. It stops when the centroids move by at most
``tol * mean_j Var(X[:, j])`` in total squared distance (scikit-learn's rule), or after
``max_iter`` steps. A cluster that loses all its points is moved to one of the points farthest
from their centroids (as scikit-learn does), so k clusters survive.

**k-means++** (Arthur & Vassilvitskii, 2007) seeds the centroids: the first is a uniformly random
point, each next one is drawn with probability proportional to :math:`D(x)^2`, the squared
distance to the nearest centroid chosen so far. As in scikit-learn we use the *greedy* variant:
draw ``2 + floor(log k)`` candidates and keep the one that lowers the potential
:math:`\sum_n D(x^{(n)})^2` most.

Restarts (``n_init``) are independent runs from different seeds; they are ``vmap``-ped into one
program and the run with the lowest inertia is returned.

References:
  Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. SODA.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from nndl_jax._validate import check_non_negative
from nndl_jax.unsupervised._checks import (
    as_float_array,
    check_choice,
    check_count,
    check_data,
    check_finite,
    check_key,
    check_positive_int,
)
from nndl_jax.unsupervised._precision import full_precision

__all__ = ["KMeans", "fit", "predict", "kmeans_plusplus", "squared_distances"]

INITS = ("k-means++", "random")


class KMeans(NamedTuple):
    """A fitted k-means model.

    Attributes:
      centroids: ``(k, d)`` cluster centres.
      labels: ``(N,)`` int32 index of the nearest centroid of each training point.
      inertia: scalar, the sum of squared distances of the points to their centroids.
      n_iter: scalar int32, Lloyd steps taken by the returned run.
    """

    centroids: jax.Array
    labels: jax.Array
    inertia: jax.Array
    n_iter: jax.Array


@full_precision
def squared_distances(X: jax.Array, C: jax.Array) -> jax.Array:
    r"""``(N, k)`` squared Euclidean distances :math:`\|x_n\|^2 - 2x_n\cdot c_j + \|c_j\|^2`.

    Expanding the square turns the N·k·d work into one matrix product; rounding can make a tiny
    distance negative, so it is clipped at 0. Both sets are first shifted by the mean of C: the
    distances do not change, but the norms whose difference is taken do, so that data far from
    the origin (say 1e4 + noise in float32) does not lose its distances to cancellation.
    """
    shift = jnp.mean(C, axis=0)
    return _expanded_distances(X - shift, C - shift)


def _expanded_distances(X: jax.Array, C: jax.Array) -> jax.Array:
    """``squared_distances`` without the shift, for data ``fit`` has already centred."""
    d2 = jnp.sum(X**2, axis=1)[:, None] - 2.0 * (X @ C.T) + jnp.sum(C**2, axis=1)[None, :]
    return jnp.maximum(d2, 0.0)


def fit(
    key,
    X,
    k: int,
    *,
    n_init: int = 1,
    max_iter: int = 300,
    tol: float = 1e-4,
    init: str = "k-means++",
) -> KMeans:
    """Cluster the rows of X into k clusters.

    Args:
      key: PRNG key for the seeding.
      X: ``(N, d)`` data, finite.
      k: the number of clusters, 1 ≤ k ≤ N (static).
      n_init: independent restarts, run in parallel; the lowest inertia wins.
      max_iter: the most Lloyd steps per run.
      tol: stop when the centroids' total squared move is at most ``tol`` times the mean
        per-feature variance of X.
      init: ``"k-means++"`` (greedy, as scikit-learn) or ``"random"`` (k distinct points).

    Returns:
      A :class:`KMeans` model.

    Raises:
      ValueError: k > N, NaN/Inf in X, bad counts or names.
    """
    check_key(key)
    X = check_data("X", X)
    n = X.shape[0]
    k = check_count("k", k, n, f"the number of samples in X of shape {tuple(X.shape)}")
    n_init = check_positive_int("n_init", n_init)
    max_iter = check_positive_int("max_iter", max_iter)
    tol = check_non_negative("tol", tol)
    check_choice("init", init, INITS)
    return _fit(key, X, tol, k=k, n_init=n_init, max_iter=max_iter, init=init)


@partial(jax.jit, static_argnames=("k", "n_init", "max_iter", "init"))
@full_precision
def _fit(key, X, tol, *, k, n_init, max_iter, init):
    # Centring changes no distance but shrinks the norms in the expanded distance formula,
    # which keeps its cancellation error small in float32.
    mean = jnp.mean(X, axis=0)
    Xc = X - mean
    threshold = tol * jnp.mean(jnp.var(X, axis=0))

    def one_run(run_key):
        if init == "k-means++":
            C0 = _plusplus(run_key, Xc, k, 2 + int(math.log(k)))
        else:
            C0 = Xc[jax.random.choice(run_key, Xc.shape[0], (k,), replace=False)]
        return _lloyd(Xc, C0, threshold, max_iter)

    centroids, n_iter = jax.vmap(one_run)(jax.random.split(key, n_init))
    labels, inertia = jax.vmap(lambda C: _assign(Xc, C))(centroids)
    best = jnp.argmin(inertia)
    return KMeans(centroids[best] + mean, labels[best], inertia[best], n_iter[best])


def _assign(X, C):
    """Nearest-centroid labels and the exact inertia (direct differences, no expansion)."""
    labels = jnp.argmin(_expanded_distances(X, C), axis=1).astype(jnp.int32)
    inertia = jnp.sum((X - C[labels]) ** 2)
    return labels, inertia


def _lloyd(X, C0, threshold, max_iter):
    k = C0.shape[0]

    def step(carry):
        C, it, _, previous = carry
        d2 = _expanded_distances(X, C)
        labels = jnp.argmin(d2, axis=1)
        onehot = (labels[:, None] == jnp.arange(k)).astype(X.dtype)
        counts = jnp.sum(onehot, axis=0)
        means = (onehot.T @ X) / jnp.maximum(counts, 1.0)[:, None]
        # Empty clusters move to the points farthest from their centroids, one point each.
        empty = counts == 0
        farthest = lax.top_k(jnp.min(d2, axis=1), k)[1]
        rank = jnp.cumsum(empty) - 1
        C_new = jnp.where(empty[:, None], X[farthest[jnp.clip(rank, 0, k - 1)]], means)
        shift = jnp.sum((C_new - C) ** 2)
        # Unchanged labels mean a fixed point: the new centroids are the old ones up to
        # rounding, which tol = 0 alone would keep chasing until max_iter. That holds with an
        # empty cluster too: it was empty in the previous step as well, so the point it moved to
        # did not join it, which happens only when that point already sits on another centroid
        # (fewer distinct points than k), and moving it again gains nothing.
        settled = jnp.all(labels == previous)
        shift = jnp.where(settled, 0.0, shift).astype(shift.dtype)
        return C_new, it + 1, shift, labels.astype(jnp.int32)

    def cond(carry):
        _, it, shift, _ = carry
        return (it < max_iter) & (shift > threshold)

    inf = jnp.array(jnp.inf, X.dtype)
    start = (C0, jnp.int32(0), inf, jnp.full((X.shape[0],), -1, jnp.int32))
    C, n_iter, _, _ = lax.while_loop(cond, step, start)
    return C, n_iter


def kmeans_plusplus(key, X, k: int, *, n_local_trials: int | None = None) -> jax.Array:
    """Greedy k-means++ seeding: ``(k, d)`` initial centroids, all rows of X.

    Args:
      key: PRNG key. X: ``(N, d)`` data. k: centroids to choose (≤ N).
      n_local_trials: candidates drawn per centroid (the best is kept); default
        ``2 + floor(log k)`` as scikit-learn; 1 gives the original, non-greedy k-means++.
    """
    check_key(key)
    X = check_data("X", X)
    k = check_count("k", k, X.shape[0], f"the number of samples in X of shape {tuple(X.shape)}")
    trials = 2 + int(math.log(k)) if n_local_trials is None else n_local_trials
    trials = check_positive_int("n_local_trials", trials)
    return _plusplus_jit(key, X, k, trials)


@partial(jax.jit, static_argnums=(2, 3))
@full_precision
def _plusplus_jit(key, X, k, trials):
    mean = jnp.mean(X, axis=0)
    return _plusplus(key, X - mean, k, trials) + mean


def _plusplus(key, X, k, trials):
    n = X.shape[0]
    key, first_key = jax.random.split(key)
    first = jax.random.randint(first_key, (), 0, n)
    closest = jnp.sum((X - X[first]) ** 2, axis=1)
    C = jnp.zeros((k, X.shape[1]), X.dtype).at[0].set(X[first])

    def add_one(i, carry):
        C, closest, key = carry
        key, sub = jax.random.split(key)
        # Sample ∝ D(x)² by inverting the cumulative sum: `trials` uniform numbers instead of
        # one Gumbel number per point and trial. If every point already coincides with a
        # centroid (total 0), sample uniformly.
        cdf = jnp.cumsum(closest)
        u = jax.random.uniform(sub, (trials,), X.dtype)
        weighted = jnp.searchsorted(cdf, u * cdf[-1], side="right")
        uniform = (u * n).astype(jnp.int32)
        candidates = jnp.minimum(jnp.where(cdf[-1] > 0, weighted, uniform), n - 1)
        d2 = _expanded_distances(X[candidates], X).T  # (N, trials)
        reduced = jnp.minimum(closest[:, None], d2)
        best = jnp.argmin(jnp.sum(reduced, axis=0))
        return C.at[i].set(X[candidates[best]]), reduced[:, best], key

    C, _, _ = lax.fori_loop(1, k, add_one, (C, closest, key))
    return C


def predict(model: KMeans, X) -> jax.Array:
    """``(N,)`` int32 index of the nearest centroid for each row of X ``(N, d)``."""
    X = as_float_array("X", X)
    d = model.centroids.shape[1]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n_samples, {d}), got {tuple(X.shape)}")
    check_finite("X", X)  # a NaN row would get label 0
    return _predict(model.centroids, X)


@jax.jit
@full_precision
def _predict(C, X):
    return jnp.argmin(squared_distances(X, C), axis=1).astype(jnp.int32)
