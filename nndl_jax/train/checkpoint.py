"""Checkpoints of a training run, written atomically with orbax and resumable.

A checkpoint is any pytree of arrays (params, optimizer state, model state, the PRNG key, the
epoch, the history so far). Orbax writes each step into a temporary folder and renames it when
complete, so a run killed mid-write leaves the previous checkpoint intact. PRNG keys are stored as
their raw ``key_data`` and rebuilt on restore, since typed key arrays are not serializable, and
zero-size arrays (which orbax refuses) as their shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _is_typed_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _is_empty(x) -> bool:
    return not _is_typed_key(x) and np.size(x) == 0


def _to_storable(tree):
    """Typed keys as their key data; zero-size arrays, which orbax refuses, as their shape."""

    def leaf(x):
        if _is_typed_key(x):
            return jax.random.key_data(x)
        if _is_empty(x):
            return np.asarray(np.shape(x), np.int64)
        return x

    return jax.tree.map(leaf, tree)


def _from_storable(stored, like):
    def leaf(s, x):
        if _is_empty(x):
            return jnp.zeros(np.shape(x), x.dtype) if isinstance(x, jax.Array) else np.asarray(x)
        if _is_typed_key(x):
            return jax.random.wrap_key_data(jnp.asarray(s), impl=jax.random.key_impl(x))
        if isinstance(x, jax.Array):
            return jnp.asarray(s)
        # NumPy arrays and Python numbers stay NumPy, in their own dtype: a float64 best value
        # made float32 by jnp.asarray would compare differently after a resume
        return np.asarray(s)

    return jax.tree.map(leaf, stored, like)


class Checkpointer:
    """Saves and restores numbered checkpoints under ``directory``.

    Args:
      directory: folder of the run's checkpoints (created if missing).
      max_to_keep: how many of the newest checkpoints to keep (older ones are deleted only after
        a newer one is complete).

    >>> ckpt = Checkpointer("/tmp/run/checkpoints")  # doctest: +SKIP
    >>> ckpt.save(epoch, {"params": params, "opt_state": opt_state, "key": key})  # doctest: +SKIP
    >>> step, tree = ckpt.restore_latest(like=template)  # doctest: +SKIP
    """

    def __init__(self, directory: str | Path, *, max_to_keep: int = 2):
        import orbax.checkpoint as ocp

        if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(f"max_to_keep must be a positive integer, got {max_to_keep!r}")
        self.directory = Path(directory).resolve()
        self._ocp = ocp
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
        )

    def save(self, step: int, tree: Any) -> None:
        """Write ``tree`` as checkpoint ``step`` and wait until it is complete on disk.

        Raises:
          ValueError: ``step`` is not after the latest checkpoint (orbax would skip it
            silently).
        """
        latest = self.latest_step()
        if latest is not None and int(step) <= latest:
            raise ValueError(
                f"checkpoint step must be greater than the latest one ({latest}) in "
                f"{self.directory}, got {step}"
            )
        self._manager.save(int(step), args=self._ocp.args.StandardSave(_to_storable(tree)))
        self._manager.wait_until_finished()

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def restore(self, step: int, like: Any) -> Any:
        """Checkpoint ``step``, with the structure, shapes and dtypes of ``like``."""
        if step not in self._manager.all_steps():
            raise FileNotFoundError(
                f"no checkpoint {step} in {self.directory}; "
                f"have {sorted(self._manager.all_steps())}"
            )
        template = _to_storable(like)
        abstract = jax.tree.map(lambda x: np.zeros(np.shape(x), np.asarray(x).dtype), template)
        stored = self._manager.restore(step, args=self._ocp.args.StandardRestore(abstract))
        # orbax restores the stored shapes whatever the template says: a checkpoint of another
        # model must not be taken for this one
        paths = jax.tree_util.tree_flatten_with_path(template)[0]
        for (path, want), got, x in zip(
            paths, jax.tree.leaves(stored), jax.tree.leaves(like), strict=True
        ):
            if _is_empty(x):  # stored as its shape
                got_shape, want_shape = tuple(np.asarray(got).tolist()), np.shape(x)
            else:
                got_shape, want_shape = np.shape(got), np.shape(want)
            if got_shape != want_shape:
                raise ValueError(
                    f"checkpoint {step} in {self.directory} does not match the template: "
                    f"{jax.tree_util.keystr(path)} has shape {got_shape} there, "
                    f"{want_shape} here (a different model or data?)"
                )
        return _from_storable(stored, like)

    def restore_latest(self, like: Any) -> tuple[int, Any] | tuple[None, None]:
        """``(step, tree)`` of the newest complete checkpoint, or ``(None, None)`` if none."""
        step = self.latest_step()
        if step is None:
            return None, None
        return step, self.restore(step, like)

    def close(self) -> None:
        self._manager.close()
