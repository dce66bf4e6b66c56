"""Checkpoints of a training run, written atomically with orbax and resumable.

A checkpoint is any pytree of arrays (params, optimizer state, model state, the PRNG key, the
epoch, the history so far). Orbax writes each step into a temporary folder and renames it when
complete, so a run killed mid-write leaves the previous checkpoint intact. PRNG keys are stored as
their raw ``key_data`` and rebuilt on restore, since typed key arrays are not serializable, and
zero-size arrays (which orbax refuses, keys included) as their shape.

A complete step folder holds orbax's ``_CHECKPOINT_METADATA``. A numbered folder without it (a
copy or sync cut short, a folder made by hand) is never taken for the latest checkpoint, and
:meth:`Checkpointer.save` refuses to write beside one: orbax would count it towards
``max_to_keep`` and delete a complete checkpoint in its place.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import is_integer


def _is_typed_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


_COMPLETE = "_CHECKPOINT_METADATA"  # written by orbax into a step folder it has finished


def _is_empty(x) -> bool:
    return (x.size if _is_typed_key(x) else np.size(x)) == 0


def _to_storable(tree):
    """Typed keys as their key data; zero-size arrays, which orbax refuses, as their shape."""

    def leaf(x):
        if _is_empty(x):
            return np.asarray(np.shape(x), np.int64)
        if _is_typed_key(x):
            return jax.random.key_data(x)
        return x

    return jax.tree.map(leaf, tree)


def _from_storable(stored, like):
    def leaf(s, x):
        if _is_empty(x):
            if _is_typed_key(x):
                return x  # no content to restore: the template's empty key array is exact
            return jnp.zeros(np.shape(x), x.dtype) if isinstance(x, jax.Array) else np.asarray(x)
        if _is_typed_key(x):
            return jax.random.wrap_key_data(jnp.asarray(s), impl=jax.random.key_impl(x))
        if isinstance(x, jax.Array):
            return jnp.asarray(s)
        # NumPy arrays and Python numbers stay NumPy, in their own dtype: a float64 best value
        # made float32 by jnp.asarray would compare differently after a resume
        return np.asarray(s)

    return jax.tree.map(leaf, stored, like)


def _names(path) -> tuple:
    """A tree path as plain keys: orbax's metadata turns NamedTuple fields into dict keys."""
    return tuple(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k))) for k in path)


def _loses_values(stored: np.dtype, template: np.dtype) -> bool:
    """Whether casting ``stored`` to ``template`` drops fractions or imaginary parts."""
    return (stored.kind in "fc" and template.kind in "iub") or (
        stored.kind == "c" and template.kind != "c"
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
        """Write ``tree`` as checkpoint ``step`` and wait until it is complete on disk.

        Raises:
          ValueError: ``step`` is not an integer >= 0, or not after the latest checkpoint
            (orbax would skip it silently), or the folder holds an incomplete step folder.
        """
        if not is_integer(step) or step < 0:
            raise ValueError(f"checkpoint step must be an integer >= 0, got {step!r}")
        step = int(step)
        complete, incomplete = self._steps()
        if incomplete:
            raise ValueError(
                f"{self.directory} holds step folders without orbax's {_COMPLETE} "
                f"{incomplete} (cut short, or not written by a checkpointer): move them away "
                f"before saving; orbax would count them towards max_to_keep and delete a "
                f"complete checkpoint in their place"
            )
        latest = complete[-1] if complete else None
        if latest is not None and step <= latest:
            raise ValueError(
                f"checkpoint step must be greater than the latest one ({latest}) in "
                f"{self.directory}, got {step}"
            )
        try:
            self._manager.save(step, args=self._ocp.args.StandardSave(_to_storable(tree)))
            self._manager.wait_until_finished()
        except BaseException:
            # a failed write leaves orbax's temporary folder, which blocks a retry of the step
            for tmp in self.directory.glob(f"{step}.orbax-checkpoint-tmp*"):
                shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _steps(self) -> tuple[list[int], list[int]]:
        """(complete, incomplete) numbered step folders, oldest first, read from disk."""
        complete, incomplete = [], []
        for s in sorted(self._manager.all_steps(read=True)):
            done = (self.directory / str(s) / _COMPLETE).is_file()
            (complete if done else incomplete).append(s)
        return complete, incomplete

    def incomplete_steps(self) -> list[int]:
        """Numbered folders without orbax's completion metadata (never restored)."""
        return self._steps()[1]

    def all_steps(self) -> list[int]:
        """The complete checkpoints, oldest first."""
        return self._steps()[0]

    def latest_step(self) -> int | None:
        """The newest complete checkpoint, or None."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    def restore(self, step: int, like: Any) -> Any:
        """Checkpoint ``step``, with the structure, shapes and dtypes of ``like``.

        Raises:
          FileNotFoundError: no complete checkpoint ``step``.
          ValueError: the checkpoint does not match ``like``, or its files cannot be read.
        """
        complete, incomplete = self._steps()
        if step not in complete:
            raise FileNotFoundError(
                f"no complete checkpoint {step} in {self.directory}; have {complete}"
                + (f" (incomplete: {incomplete})" if incomplete else "")
            )
        template = _to_storable(like)
        self._check_dtypes(step, template, like)
        abstract = jax.tree.map(lambda x: np.zeros(np.shape(x), np.asarray(x).dtype), template)
        try:
            stored = self._manager.restore(step, args=self._ocp.args.StandardRestore(abstract))
        except Exception as exc:  # orbax's and tensorstore's, e.g. for files gone missing
            raise ValueError(
                f"checkpoint {step} in {self.directory} cannot be restored (another tree "
                f"structure, or damaged or partly deleted files?): {type(exc).__name__}: {exc}"
            ) from exc
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

    def _check_dtypes(self, step: int, template: Any, like: Any) -> None:
        """Refuse to restore floating (or complex) values into an integer (or real) template.

        Orbax casts to the template's dtypes: 1.7 would come back as 1 without a word.
        """
        try:
            stored = jax.tree_util.tree_flatten_with_path(
                self._manager.item_metadata(step).tree, is_leaf=lambda m: hasattr(m, "dtype")
            )[0]
            stored = {_names(path): np.dtype(m.dtype) for path, m in stored}
        except Exception:  # noqa: BLE001  (no metadata to compare with: restore as orbax does)
            return
        paths = jax.tree_util.tree_flatten_with_path(template)[0]
        for (path, want), x in zip(paths, jax.tree.leaves(like), strict=True):
            got = stored.get(_names(path))
            if got is None or _is_empty(x) or _is_typed_key(x):
                continue
            dtype = np.asarray(want).dtype
            if _loses_values(got, dtype):
                raise ValueError(
                    f"checkpoint {step} in {self.directory} holds {got} values at "
                    f"{jax.tree_util.keystr(path)}, where the template has {dtype}: restoring "
                    f"would cast them (a different model, or a template of the wrong dtype?)"
                )

    def restore_latest(self, like: Any) -> tuple[int, Any] | tuple[None, None]:
        """``(step, tree)`` of the newest complete checkpoint, or ``(None, None)`` if none."""
        step = self.latest_step()
        if step is None:
            return None, None
        return step, self.restore(step, like)

    def close(self) -> None:
        self._manager.close()
