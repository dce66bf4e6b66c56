"""Shuffled minibatches built on the device, for a ``lax.scan`` over one epoch inside ``jit``.

An epoch is a random permutation of the n samples cut into ``num_batches`` rows of
``batch_size``. When ``batch_size`` does not divide n and ``drop_last`` is False, the last row is
padded with valid indices (repeats from the start of the permutation) and a boolean mask marks
the real slots, so every sample is used exactly once per epoch and every batch has the same
static shape. Sum losses and metrics with the mask::

    loss = jnp.sum(mask * per_example_loss) / jnp.sum(mask)

``n`` and ``batch_size`` fix the shapes, so they are static Python ints; the key may be traced, and
a new key each epoch reuses the compiled program. Arguments are checked in Python, then one
jitted kernel runs (inlined when the caller is itself jitted).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from nndl_jax._validate import check_positive_int

__all__ = ["batches", "minibatch_indices", "num_batches", "shuffle"]

#: Sizes from here on overflow the 32-bit integers JAX indexes with (without ``jax_enable_x64``).
_INDEX_LIMIT = 2**31


def check_size(name: str, value: Any) -> int:
    """A positive int that 32-bit indices can count up to (a sample count, a sequence length)."""
    value = check_positive_int(name, value)
    if value >= _INDEX_LIMIT and not jax.config.jax_enable_x64:
        raise ValueError(
            f"{name} must be below 2**31 = {_INDEX_LIMIT} (JAX indexes with 32-bit integers "
            f"unless jax_enable_x64 is on), got {value}"
        )
    return value


def num_batches(n: int, batch_size: int, *, drop_last: bool = False) -> int:
    """Batches per epoch: ``n // batch_size`` with ``drop_last``, else ``ceil(n / batch_size)``.

    Raises:
      ValueError: ``n`` or ``batch_size`` not a positive int, ``batch_size > n``, or an epoch
        of 2**31 samples or more (JAX's 32-bit indices, unless ``jax_enable_x64`` is on).
    """
    n = check_size("n", n)
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n (the number of samples), got {batch_size} > {n}")
    nb = n // batch_size if drop_last else -(-n // batch_size)
    if nb * batch_size >= _INDEX_LIMIT and not jax.config.jax_enable_x64:
        raise ValueError(
            f"n={n} in batches of batch_size={batch_size} pads the epoch to {nb * batch_size} "
            f"slots, which must be below 2**31 = {_INDEX_LIMIT} (32-bit indices): use "
            f"drop_last=True or fewer samples"
        )
    return nb


def minibatch_indices(
    key: jax.Array, n: int, batch_size: int, *, drop_last: bool = False
) -> tuple[jax.Array, jax.Array]:
    """Indices of one shuffled epoch, cut into equal batches.

    Args:
      key: PRNG key; a different key gives a different order.
      n: number of samples (static).
      batch_size: samples per batch, at most n (static).
      drop_last: drop the ``n % batch_size`` samples that do not fill a batch (a different
        random subset each epoch) instead of padding the last batch (static).

    Returns:
      ``(idx, mask)``, both of shape ``(num_batches, batch_size)``: int32 indices into the n
      samples and a bool mask that is False only on the padding of the last batch. Over the
      slots where ``mask`` is True each index in ``[0, n)`` appears exactly once (without
      ``drop_last``) or at most once (with it). Padded slots hold valid indices, so gathering
      them is safe; only their contribution must be masked out.
    """
    nb = num_batches(n, batch_size, drop_last=drop_last)
    return _minibatch_indices(key, n, batch_size, nb)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _minibatch_indices(key, n, batch_size, nb):
    order = jax.random.permutation(key, n).astype(jnp.int32)
    slots = nb * batch_size
    if slots <= n:
        idx, mask = order[:slots], jnp.ones(slots, bool)
    else:
        # the padding (fewer than batch_size <= n slots) repeats the first indices
        idx = jnp.concatenate([order, order[: slots - n]])
        mask = jnp.arange(slots) < n
    return idx.reshape(nb, batch_size), mask.reshape(nb, batch_size)


def _leading_size(trees: Any) -> int:
    leaves = jax.tree_util.tree_leaves(trees)
    if not leaves:
        raise ValueError("expected at least one array to shuffle or batch, got none")
    sizes = {jnp.shape(leaf)[0] if jnp.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        shapes = [jnp.shape(leaf) for leaf in leaves]
        raise ValueError(f"arrays must share their leading (sample) axis, got shapes {shapes}")
    return sizes.pop()


def shuffle(key: jax.Array, *arrays: Any) -> tuple[Any, ...]:
    """The arrays permuted together along their first axis, by one random permutation.

    Args:
      key: PRNG key.
      *arrays: arrays (or pytrees of arrays) with the same leading size n.

    Returns:
      A tuple with one permuted array per argument (a tuple even for a single array).

    >>> x, y = shuffle(jax.random.key(0), jnp.arange(4.0), jnp.arange(4))
    >>> bool((x == y).all())
    True
    """
    _leading_size(arrays)
    return _shuffle(key, arrays)


@jax.jit
def _shuffle(key, arrays):
    n = jax.tree_util.tree_leaves(arrays)[0].shape[0]
    order = jax.random.permutation(key, n)
    return tuple(jax.tree_util.tree_map(lambda a: a[order], arrays))


def batches(
    key: jax.Array, x: Any, y: Any, batch_size: int, *, drop_last: bool = False
) -> tuple[Any, Any, jax.Array]:
    """One shuffled epoch of ``(x, y)`` stacked into batches, for ``lax.scan``.

    Args:
      key: PRNG key.
      x, y: arrays (or pytrees of arrays; ``y`` may be None) with the same leading size n.
      batch_size: samples per batch, at most n (static).
      drop_last: see :func:`minibatch_indices` (static).

    Returns:
      ``(xb, yb, mask)``: ``xb`` of shape ``(num_batches, batch_size, *x.shape[1:])``, ``yb``
      likewise, and the bool mask ``(num_batches, batch_size)`` of real (not padded) samples.

    Example, one compiled epoch (``step(params, (xb, yb, mask)) -> (params, loss)``)::

        @jax.jit
        def epoch(params, key):
            xb, yb, mask = batches(key, x_train, y_train, 32)
            params, losses = jax.lax.scan(step, params, (xb, yb, mask))
            return params, losses
    """
    n = _leading_size((x, y))
    nb = num_batches(n, batch_size, drop_last=drop_last)
    return _batches(key, x, y, batch_size, nb)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _batches(key, x, y, batch_size, nb):
    n = jax.tree_util.tree_leaves((x, y))[0].shape[0]
    idx, mask = _minibatch_indices(key, n, batch_size, nb)
    xb, yb = jax.tree_util.tree_map(lambda a: a[idx], (x, y))
    return xb, yb, mask
