"""Checkpoints of a training run, written atomically with orbax and resumable.

A checkpoint is any pytree of arrays (params, optimizer state, model state, the PRNG key, the
epoch, the history so far). Orbax writes each step into a temporary folder and renames it when
complete, so a run killed mid-write leaves the previous checkpoint intact. PRNG keys are stored as
their raw ``key_data`` and rebuilt on restore, since typed key arrays are not serializable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np


def _is_typed_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_storable(tree):
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_typed_key(x) else x, tree)


def _from_storable(stored, like):
    return jax.tree.map(
        lambda s, x: jax.random.wrap_key_data(s) if _is_typed_key(x) else s, stored, like
    )


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
        """Write ``tree`` as checkpoint ``step`` and wait until it is complete on disk."""
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
        return _from_storable(jax.tree.map(jax.numpy.asarray, stored), like)

    def restore_latest(self, like: Any) -> tuple[int, Any] | tuple[None, None]:
        """``(step, tree)`` of the newest complete checkpoint, or ``(None, None)`` if none."""
        step = self.latest_step()
        if step is None:
            return None, None
        return step, self.restore(step, like)

    def close(self) -> None:
        self._manager.close()
