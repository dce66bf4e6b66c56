"""The classification data sets that ship with scikit-learn, split and scaled.

Loading happens on the host with NumPy (it is not traced code): the stratified split draws from
``np.random.default_rng(seed)``, the scaling statistics come from the training split only, and the
result is converted to JAX arrays once, at the end.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax._validate import check_fraction, lookup, unknown_name

__all__ = ["Split", "Dataset", "load", "names", "stratified_split"]


class Split(NamedTuple):
    """One split of a data set.

    Attributes:
      x: features, shape ``(n, d)``, floating point.
      y: integer class labels in ``[0, num_classes)``, shape ``(n,)``, int32.
    """

    x: jax.Array
    y: jax.Array


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["train", "val", "test", "shift", "scale"],
    meta_fields=["name", "num_classes", "feature_names", "class_names", "image_shape", "scaling"],
)
@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A bundled data set split into train, validation and test sets.

    A pytree: the splits and the scaling arrays are its leaves, the rest is static metadata, so a
    ``Dataset`` can be passed through ``jax.jit`` or ``jax.device_put`` whole.

    Attributes:
      train, val, test: the three :class:`Split` s (``val`` or ``test`` may have 0 rows).
      shift, scale: the per-feature affine map applied to the raw features, shape ``(d,)``:
        ``x = (x_raw - shift) / scale``. :meth:`unscale` inverts it.
      name: the data set's name, e.g. ``"digits"``.
      num_classes: number of classes.
      feature_names, class_names: names from scikit-learn.
      image_shape: ``(8, 8)`` for digits (rows of ``x`` reshape to images), else None.
      scaling: ``"zscore"``, ``"minmax"`` or ``"none"``: what ``shift`` and ``scale`` hold.
    """

    train: Split
    val: Split
    test: Split
    shift: jax.Array
    scale: jax.Array
    name: str
    num_classes: int
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    image_shape: tuple[int, int] | None
    scaling: str

    @property
    def num_features(self) -> int:
        return int(self.train.x.shape[-1])

    def splits(self) -> dict[str, Split]:
        """``{"train": ..., "val": ..., "test": ...}``, for loops over the three."""
        return {"train": self.train, "val": self.val, "test": self.test}

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={np.shape(s.x)}" for k, s in self.splits().items())
        return (
            f"Dataset({self.name!r}, {shapes}, num_classes={self.num_classes}, "
            f"scaling={self.scaling!r})"
        )

    def unscale(self, x: jax.Array) -> jax.Array:
        """Map scaled features back to the raw ones: ``x * scale + shift`` (e.g. to draw digits)."""
        return x * self.scale + self.shift


class _Spec(NamedTuple):
    loader: str
    # the range every feature is known to lie in, used by "minmax" instead of the train range
    value_range: tuple[float, float] | None = None
    image_shape: tuple[int, int] | None = None


_SPECS = {
    "breast_cancer": _Spec("load_breast_cancer"),
    "digits": _Spec("load_digits", value_range=(0.0, 16.0), image_shape=(8, 8)),
    "iris": _Spec("load_iris"),
    "wine": _Spec("load_wine"),
}

_SCALINGS = ("zscore", "minmax", "none")


def names() -> tuple[str, ...]:
    """The names :func:`load` accepts."""
    return tuple(sorted(_SPECS))


@functools.cache
def _raw(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    import sklearn.datasets  # imported here so that `import nndl_jax` stays fast

    bunch = getattr(sklearn.datasets, _SPECS[name].loader)()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int32)
    x.setflags(write=False)  # shared by every load() through the cache
    y.setflags(write=False)
    feature_names = tuple(str(f) for f in getattr(bunch, "feature_names", range(x.shape[1])))
    class_names = tuple(str(c) for c in bunch.target_names)
    return x, y, feature_names, class_names


def _apportion(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Integer shares of ``round(fraction * counts.sum())`` with each within 1 of its quota.

    Largest-remainder apportionment: every class gets ``floor(fraction * count)``, and the
    samples still missing from the total go one each to the classes with the largest remainders.
    """
    quota = fraction * counts
    share = np.floor(quota).astype(np.int64)
    missing = int(np.floor(fraction * counts.sum() + 0.5)) - int(share.sum())
    share[np.argsort(share - quota, kind="stable")[:missing]] += 1
    return share


def _floor_and_remainder(quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``floor(quota)`` and the remainder, float noise around an integer counting as none."""
    base = np.floor(quota + 1e-9).astype(np.int64)
    rest = quota - base
    return base, np.where(rest < 1e-9, 0.0, rest)


def _move_one(up: np.ndarray, allowed: np.ndarray, lo, hi, start: int, *, give: bool) -> bool:
    """Move one round-up away from (``give``) or to class ``start``, keeping each split's total.

    A breadth-first search for an alternating path: ``start`` hands a round-up of one split to a
    class without one there (or takes one from a class that has one), which may pass one of the
    other split on, and so on, until a class whose number of round-ups may change is reached.
    Classes in between keep their number. False if no such path exists.
    """
    prev: dict[int, tuple[int, int] | None] = {start: None}
    queue = [start]
    for row in queue:  # the list grows while it is read: a FIFO queue
        for col in range(up.shape[1]):
            if give and up[row, col]:
                nxt = np.flatnonzero(allowed[:, col] & ~up[:, col])
            elif not give and allowed[row, col] and not up[row, col]:
                nxt = np.flatnonzero(up[:, col])
            else:
                continue
            for d in map(int, nxt):
                if d in prev:
                    continue
                prev[d] = (row, col)
                if (up[d].sum() < hi[d]) if give else (up[d].sum() > lo[d]):
                    node = d
                    while (step := prev[node]) is not None:
                        r, c = step
                        up[r, c], up[node, c] = not give, give
                        node = r
                    return True
                queue.append(d)
    return False


def _round_jointly(q_test, n_test: int, q_val, n_val: int, q_held):
    """Per-class test and validation counts, each the floor or the ceiling of its quota, with
    totals ``n_test`` and ``n_val``, and test + validation of every class strictly within one
    sample of ``q_held`` (so that the training set is within one sample of its share too).

    Starts from the largest remainders of each split on its own and repairs the classes out of
    bounds with :func:`_move_one`. None if no repair is found.
    """
    parts = []
    for quota, total in ((q_test, n_test), (q_val, n_val)):
        base, rest = _floor_and_remainder(quota)
        missing = total - int(base.sum())
        if not 0 <= missing <= np.count_nonzero(rest):
            return None
        up = np.zeros(len(quota), bool)
        up[np.argsort(-rest, kind="stable")[:missing]] = True
        parts.append((base, rest > 0, up))
    (base_test, may_test, up_test), (base_val, may_val, up_val) = parts
    allowed, up = np.stack([may_test, may_val], 1), np.stack([up_test, up_val], 1)
    # the number s of round-ups of a class must keep |base_test + base_val + s - q_held| < 1
    x = q_held - base_test - base_val
    lo = np.maximum(np.floor(x - 1 + 1e-9).astype(np.int64) + 1, 0)
    hi = np.minimum(np.ceil(x + 1 - 1e-9).astype(np.int64) - 1, allowed.sum(1))
    if (lo > hi).any():
        return None
    for c in range(len(x)):
        while not lo[c] <= up[c].sum() <= hi[c]:
            if not _move_one(up, allowed, lo, hi, c, give=bool(up[c].sum() > hi[c])):
                return None
    return base_test + up[:, 0], base_val + up[:, 1]


def _split_counts(
    counts: np.ndarray, val_fraction: float, test_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Test and validation samples per class (see :func:`stratified_split`)."""
    n = int(counts.sum())
    n_test = int(np.floor(test_fraction * n + 0.5))
    n_val = int(np.floor(val_fraction * n + 0.5))
    # the training set's share of each class, and the test + validation count that leaves it
    q_held = counts - (n - n_test - n_val) * counts / n
    for q_test, q_val in [
        (test_fraction * counts, val_fraction * counts),
        (n_test * counts / n, n_val * counts / n),  # always possible: integer totals
    ]:
        found = _round_jointly(q_test, n_test, q_val, n_val, q_held)
        if found is not None:
            return found
    return _apportion(counts, test_fraction), _apportion(counts, val_fraction)


def stratified_split(
    labels: Any, *, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of a stratified, shuffled train/validation/test split.

    The test set gets ``round(test_fraction * n)`` samples and the validation set
    ``round(val_fraction * n)``, shared among the classes so that each class c with n_c samples
    contributes within one sample of ``fraction * n_c`` to each (largest remainders); the rest is
    the training set, to which each class contributes within one sample of its proportional
    share ``n_train * n_c / n`` (the two held-out sets are rounded jointly, so that no class is
    rounded up, or down, in both). Every index appears in exactly one split; each split is in
    random order.

    Args:
      labels: integer class labels, shape ``(n,)`` (host array).
      seed: seed of ``np.random.default_rng``; the same seed gives the same split.
      val_fraction, test_fraction: in ``[0, 1)`` with ``val_fraction + test_fraction < 1``.

    Returns:
      ``(train_idx, val_idx, test_idx)``, int64 NumPy arrays.

    Raises:
      ValueError: bad fractions or seed, empty labels, or a class that would get no training
        sample.
    """
    val_fraction = check_fraction("val_fraction", val_fraction)
    test_fraction = check_fraction("test_fraction", test_fraction)
    if not val_fraction + test_fraction < 1:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave a training set, got "
            f"{val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a 1-D integer array, got shape {labels.shape} dtype {labels.dtype}"
        )

    if labels.size == 0:
        raise ValueError("labels must hold at least one label, got an empty array")

    classes, counts = np.unique(labels, return_counts=True)
    n_test, n_val = _split_counts(counts, val_fraction, test_fraction)
    n_train = counts - n_test - n_val
    if (n_train < 1).any():
        c = int(np.argmin(n_train))
        raise ValueError(
            f"class {classes[c]} has {counts[c]} samples, of which val_fraction={val_fraction} "
            f"and test_fraction={test_fraction} leave {n_train[c]} for training; every class "
            f"needs at least one training sample: lower the fractions"
        )

    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for c, k_test, k_val in zip(classes, n_test, n_val, strict=True):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.append(members[:k_test])
        val.append(members[k_test : k_test + k_val])
        train.append(members[k_test + k_val :])
    # shuffle across classes too, so that a split is not sorted by label
    return tuple(
        rng.permutation(np.concatenate(part)).astype(np.int64) for part in (train, val, test)
    )


def _scaling_mode(standardize: Any) -> str:
    if standardize is True:
        return "zscore"
    if standardize is False or standardize is None:
        return "none"
    if isinstance(standardize, str) and standardize in _SCALINGS:
        return standardize
    raise unknown_name("standardize mode", standardize, ["True", "False", *_SCALINGS])


def _shift_scale(mode: str, x_train: np.ndarray, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
    d = x_train.shape[1]
    if mode == "none":
        return np.zeros(d), np.ones(d)
    # a constant feature keeps scale 1 (it is centred, not divided by zero)
    constant = np.ptp(x_train, axis=0) == 0
    if mode == "zscore":
        shift, scale = x_train.mean(axis=0), x_train.std(axis=0)
    elif spec.value_range is not None:
        lo, hi = spec.value_range
        return np.full(d, lo), np.full(d, hi - lo)
    else:
        shift, scale = x_train.min(axis=0), np.ptp(x_train, axis=0)
    return shift, np.where(constant, 1.0, scale)


def load(
    name: str,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    standardize: bool | str | None = True,
    dtype: Any = jnp.float32,
) -> Dataset:
    """Load a scikit-learn bundled data set (nothing is downloaded), split and scaled.

    ========================  =======  ========  =======
    name                      samples  features  classes
    ========================  =======  ========  =======
    ``"breast_cancer"``       569      30        2
    ``"digits"`` (8x8 images) 1797     64        10
    ``"iris"``                150      4         3
    ``"wine"``                178      13        3
    ========================  =======  ========  =======

    The split is stratified by class and deterministic in ``seed`` (see
    :func:`stratified_split`). Scaling maps each feature j to ``(x_j - shift_j) / scale_j`` with
    statistics from the *training* split only, so no information leaks from validation or test:

    * ``standardize=True`` or ``"zscore"``: ``shift`` = train mean, ``scale`` = train standard
      deviation (population, ddof=0, as scikit-learn's ``StandardScaler``); train features then
      have mean 0 and standard deviation 1.
    * ``"minmax"``: to ``[0, 1]``. Digits use the known pixel range ``[0, 16]`` for every pixel
      (``x / 16``), which keeps images comparable; the other sets use each feature's train
      minimum and maximum, so validation and test values may fall slightly outside ``[0, 1]``.
    * ``False``, ``None`` or ``"none"``: raw values.

    A feature that is constant on the training split (some border pixels of digits) is shifted
    but not divided (``scale_j = 1``), so no NaN appears.

    Args:
      name: one of :func:`names`.
      seed: seed of the split.
      val_fraction, test_fraction: fractions of the samples held out, each in ``[0, 1)``, sum
        below 1. Either may be 0 (that split then has shape ``(0, d)``).
      standardize: the scaling, see above.
      dtype: floating dtype of ``x`` (float64 needs ``jax_enable_x64``). Labels are int32.

    Returns:
      A :class:`Dataset`.

    >>> ds = load("iris", seed=0)
    >>> ds.train.x.shape, ds.val.x.shape, ds.test.x.shape, ds.num_classes
    ((104, 4), (23, 4), (23, 4), 3)
    """
    spec = lookup("data set", name, _SPECS)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype!r}")
    mode = _scaling_mode(standardize)
    x, y, feature_names, class_names = _raw(name)
    parts = stratified_split(y, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    shift, scale = _shift_scale(mode, x[parts[0]], spec)

    def make(idx: np.ndarray) -> Split:
        # scaled in float64 on the host, then rounded once to the requested dtype
        return Split(jnp.asarray((x[idx] - shift) / scale, dtype), jnp.asarray(y[idx], jnp.int32))

    train, val, test = (make(idx) for idx in parts)
    return Dataset(
        train=train,
        val=val,
        test=test,
        shift=jnp.asarray(shift, dtype),
        scale=jnp.asarray(scale, dtype),
        name=name,
        num_classes=len(class_names),
        feature_names=feature_names,
        class_names=class_names,
        image_shape=spec.image_shape,
        scaling=mode,
    )
