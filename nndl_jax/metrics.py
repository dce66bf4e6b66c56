"""Classification metrics: accuracy, error rate, precision, recall, F1 and the confusion matrix.

The book's definitions (section 2.7), for N examples with true labels ``y`` and predictions
``ŷ``:

    accuracy    A = 1/N Σ_n I(y_n = ŷ_n),            error rate  E = 1 - A,
    precision   P_c = TP_c / (TP_c + FP_c),           recall      R_c = TP_c / (TP_c + FN_c),
    F1          F_c = 2 P_c R_c / (P_c + R_c) = 2 TP_c / (2 TP_c + FP_c + FN_c),

where for class c, ``TP_c`` counts examples of class c predicted c, ``FP_c`` examples of another
class predicted c and ``FN_c`` examples of class c predicted as another. All counts come from one
confusion matrix ``C[i, j]`` = number of examples of true class i predicted as j (rows true,
columns predicted, as ``sklearn.metrics.confusion_matrix``): ``TP = diag(C)``,
``TP + FP = column sums``, ``TP + FN = row sums``.

Averages (``average=``), as scikit-learn's:

- ``"binary"``: the score of the class ``pos_label`` alone; needs at most two classes.
- ``"macro"``: the unweighted mean of the per-class scores over the classes that occur in
  ``y_true`` or ``y_pred`` (scikit-learn's default label set: a class that appears in neither
  has no score and does not count, so the result does not depend on ``num_classes``).
- ``"micro"``: the score of the pooled counts ``Σ TP / Σ (TP + FP)``; for single-label data
  micro precision, recall and F1 all equal the accuracy.
- ``"weighted"``: the per-class scores averaged with weights the true counts (support).
- ``None``: the per-class scores, shape ``(num_classes,)`` (classes absent from both arrays get 0).

Zero division gives 0: a class never predicted has precision 0, a class that never occurs has
recall 0, and F1 is 0 when ``2 TP + FP + FN = 0`` -- scikit-learn's ``zero_division=0``, without
its warning.

Labels and predictions. ``y_true`` holds integer class labels in ``[0, num_classes)`` (any shape;
every entry counts). ``y_pred`` is either labels of the same shape, or scores/logits/probabilities
with one more trailing axis of size K, ``y_pred.shape == y_true.shape + (K,)``, of which the
argmax is the prediction (binary probabilities of shape ``y_true.shape`` are *not* thresholded:
pass ``p > 0.5``). Float arrays holding whole numbers are accepted as labels.

jit. With ``num_classes`` given (a static Python int), every function here traces under
``jax.jit`` (make ``num_classes``, ``average`` and ``pos_label`` static). Without it,
``num_classes`` is inferred outside jit as ``max label + 1`` (or K for scores), which needs the
values. Labels outside ``[0, num_classes)`` raise a ValueError outside jit; under jit, where values
are unknown, they are dropped from the confusion matrix (not counted anywhere).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import _validate

__all__ = [
    "AVERAGES",
    "accuracy",
    "confusion_matrix",
    "error_rate",
    "f1",
    "precision",
    "recall",
]

AVERAGES = ("binary", "macro", "micro", "weighted", None)


# --------------------------------------------------------------------------------------------
# inputs


def _as_labels(name: str, labels) -> jax.Array:
    """Integer labels from ints, bools or whole-number floats (the last checked outside jit)."""
    labels = _validate.as_label_array(name, labels)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        return labels
    if labels.dtype == jnp.bool_:
        return labels.astype(jnp.int32)
    if jnp.issubdtype(labels.dtype, jnp.floating):
        values = _concrete(labels)
        if values is not None and not np.all(np.mod(values, 1) == 0):
            raise ValueError(
                f"{name} must hold integer class labels, got non-integer values of dtype "
                f"{labels.dtype} (for scores, give them a class axis: shape (..., K))"
            )
        return labels.astype(jnp.int32)
    raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")


def _concrete(x) -> np.ndarray | None:
    """The values of ``x`` when known (outside jit), else None (a tracer)."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def _predicted_labels(y_true, y_pred) -> tuple[jax.Array, int | None]:
    """``y_pred`` as labels, and the class count K when it came as scores (else None)."""
    true_shape, y_pred = np.shape(y_true), _validate.as_label_array("y_pred", y_pred)
    if y_pred.ndim == len(true_shape) + 1 and y_pred.shape[:-1] == true_shape:
        return jnp.argmax(y_pred, axis=-1), y_pred.shape[-1]
    if y_pred.shape != true_shape:
        raise ValueError(
            f"y_pred must have the shape of y_true (labels) or y_true.shape + (K,) (scores), got "
            f"y_true.shape={true_shape} and y_pred.shape={y_pred.shape}"
        )
    return y_pred, None


def _prepare(y_true, y_pred, num_classes, mask=None):
    """Validate and return ``(y_true, y_pred, num_classes)``: two label arrays and a static K.

    With a ``mask``, only the kept examples are checked and counted for K: the padded slots of
    a last minibatch may hold anything.
    """
    if num_classes is not None:
        num_classes = _validate.check_positive_int("num_classes", num_classes)
    y_pred, k = _predicted_labels(y_true, y_pred)
    if k is not None:
        if num_classes not in (None, k):
            raise ValueError(
                f"num_classes={num_classes} does not match the class axis of the scores "
                f"y_pred.shape={np.shape(y_pred) + (k,)} (K={k})"
            )
        num_classes = k
    y_true, y_pred = _as_labels("y_true", y_true), _as_labels("y_pred", y_pred)
    kept_true, kept_pred = y_true, y_pred
    if mask is not None:
        values = [_concrete(a) for a in (mask, y_true, y_pred)]
        if all(v is not None for v in values):
            keep = values[0].astype(bool)
            kept_true, kept_pred = values[1][keep], values[2][keep]
    if num_classes is None:
        num_classes = _infer_num_classes(kept_true, kept_pred)
    _validate.check_labels_in_range("y_true", kept_true, num_classes)
    _validate.check_labels_in_range("y_pred", kept_pred, num_classes)
    return y_true, y_pred, num_classes


def _infer_num_classes(y_true, y_pred) -> int:
    true_values, pred_values = _concrete(y_true), _concrete(y_pred)
    if true_values is None or pred_values is None:
        raise ValueError(
            "num_classes must be given under jit (the labels' values are unknown while tracing); "
            "pass it as a static argument"
        )
    if true_values.size == 0:
        raise ValueError("cannot infer num_classes from empty labels; pass num_classes")
    low = min(true_values.min(), pred_values.min())
    if low < 0:
        raise ValueError(f"labels must be >= 0, got a label {low}")
    return int(max(true_values.max(), pred_values.max())) + 1


def _check_average(average) -> None:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")


# --------------------------------------------------------------------------------------------
# confusion matrix


def confusion_matrix(y_true, y_pred, num_classes: int | None = None, *, mask=None) -> jax.Array:
    """Confusion matrix ``C[i, j]`` = number of examples of true class i predicted as class j.

    Rows are true classes and columns predicted ones, as ``sklearn.metrics.confusion_matrix``
    with ``labels=range(num_classes)``.

    Args:
      y_true: integer labels in ``[0, num_classes)``, any shape.
      y_pred: labels of the same shape, or scores of shape ``y_true.shape + (K,)`` (argmax).
      num_classes: K, static; inferred outside jit as ``max label + 1`` (or from the scores).
      mask: optional booleans of ``y_true``'s shape; only the examples where it is True are
        counted (the padded slots of a last minibatch, say).

    Returns:
      int32 counts, shape ``(num_classes, num_classes)``, summing to ``y_true.size`` (to the
      number of True entries of ``mask``).

    >>> confusion_matrix(jnp.array([0, 1, 1]), jnp.array([0, 0, 1]), 2)
    Array([[1, 0],
           [1, 1]], dtype=int32)
    """
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != np.shape(y_true):
            raise ValueError(
                f"mask must have the shape of y_true {np.shape(y_true)}, got {mask.shape}"
            )
    y_true, y_pred, k = _prepare(y_true, y_pred, num_classes, mask)
    if mask is not None:
        y_true = jnp.where(mask, y_true, -1)  # label -1 is not counted
    return _confusion_counts(y_true, y_pred, k)


@partial(jax.jit, static_argnums=2)
def _confusion_counts(y_true: jax.Array, y_pred: jax.Array, k: int) -> jax.Array:
    # One scatter-add of ones at the flat index i * K + j: O(N) work and memory, exact int32
    # counts (a one-hot matmul would cost O(N K^2) and be exact in float32 only below 2^24).
    # Pairs with a label outside [0, K) go to index K*K, which mode="drop" discards.
    # int32 first: in uint8/int8 labels t * K + p would wrap around
    t, p = y_true.reshape(-1).astype(jnp.int32), y_pred.reshape(-1).astype(jnp.int32)
    valid = (t >= 0) & (t < k) & (p >= 0) & (p < k)
    flat = jnp.where(valid, t * k + p, k * k)
    counts = jnp.zeros(k * k, jnp.int32).at[flat].add(1, mode="drop")
    return counts.reshape(k, k)


# --------------------------------------------------------------------------------------------
# accuracy


def accuracy(y_true, y_pred) -> jax.Array:
    """Accuracy ``A = 1/N Σ_n I(y_n = ŷ_n)``, as ``sklearn.metrics.accuracy_score``.

    Args:
      y_true: integer labels, any non-empty shape.
      y_pred: labels of the same shape, or scores of shape ``y_true.shape + (K,)`` (argmax).

    Returns:
      A float scalar in ``[0, 1]`` (the default float dtype).
    """
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    return jnp.mean(y_true == y_pred, dtype=jnp.result_type(float))


def error_rate(y_true, y_pred) -> jax.Array:
    """Error rate ``E = 1 - A``, the fraction of wrong predictions. Args as :func:`accuracy`."""
    y_true, y_pred = _prepare_pair(y_true, y_pred)
    return jnp.mean(y_true != y_pred, dtype=jnp.result_type(float))


def _prepare_pair(y_true, y_pred):
    """The two label arrays for accuracy, which needs no class count (and so no range check)."""
    if np.size(y_true) == 0:
        raise ValueError(f"y_true is empty (shape {np.shape(y_true)}); accuracy needs examples")
    y_pred, _ = _predicted_labels(y_true, y_pred)
    return _as_labels("y_true", y_true), _as_labels("y_pred", y_pred)


# --------------------------------------------------------------------------------------------
# precision, recall, F1


def precision(
    y_true, y_pred, *, average: str | None = "binary", pos_label: int = 1, num_classes=None
) -> jax.Array:
    """Precision ``P = TP / (TP + FP)``, averaged as ``average`` says (see the module notes).

    Matches ``sklearn.metrics.precision_score(..., zero_division=0)``.

    Args:
      y_true: integer labels, any non-empty shape.
      y_pred: labels of the same shape, or scores of shape ``y_true.shape + (K,)`` (argmax).
      average: ``"binary"`` (default, as scikit-learn), ``"macro"``, ``"micro"``,
        ``"weighted"`` or ``None`` (per class).
      pos_label: the positive class for ``average="binary"``; ignored otherwise.
      num_classes: K, static (needed under jit); inferred outside jit.

    Returns:
      A float scalar, or a ``(num_classes,)`` vector for ``average=None``.
    """
    return _score("precision", y_true, y_pred, average, pos_label, num_classes)


def recall(
    y_true, y_pred, *, average: str | None = "binary", pos_label: int = 1, num_classes=None
) -> jax.Array:
    """Recall ``R = TP / (TP + FN)``; arguments and averaging as :func:`precision`.

    Matches ``sklearn.metrics.recall_score(..., zero_division=0)``.
    """
    return _score("recall", y_true, y_pred, average, pos_label, num_classes)


def f1(
    y_true, y_pred, *, average: str | None = "binary", pos_label: int = 1, num_classes=None
) -> jax.Array:
    """F1 ``= 2PR / (P + R) = 2TP / (2TP + FP + FN)``; arguments as :func:`precision`.

    The macro average is the mean of the per-class F1 scores (not the F1 of the mean precision
    and recall), as ``sklearn.metrics.f1_score(..., zero_division=0)``.
    """
    return _score("f1", y_true, y_pred, average, pos_label, num_classes)


def _score(metric, y_true, y_pred, average, pos_label, num_classes) -> jax.Array:
    _check_average(average)
    if np.size(y_true) == 0:
        raise ValueError(f"y_true is empty (shape {np.shape(y_true)}); {metric} needs examples")
    binary = average == "binary"
    if binary and (isinstance(pos_label, bool) or not isinstance(pos_label, (int, np.integer))):
        raise ValueError(f"pos_label must be an integer class label, got {pos_label!r}")
    y_true, y_pred, k = _prepare(y_true, y_pred, num_classes)
    if binary:
        if k > 2:
            raise ValueError(
                f"average='binary' needs labels in {{0, 1}}, got {k} classes (from num_classes, "
                f"the scores' last axis or the largest label); choose average='macro', 'micro', "
                f"'weighted' or None"
            )
        if pos_label not in (0, 1):
            raise ValueError(f"pos_label must be 0 or 1 for binary labels, got {pos_label!r}")
        # a binary sample may show only one class; pos_label still names one of two
        k = 2
    counts = _confusion_counts(y_true, y_pred, k)
    return _from_counts(counts, metric, average, int(pos_label) if binary else 1)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _from_counts(counts: jax.Array, metric: str, average, pos_label: int) -> jax.Array:
    """The averaged score from a confusion matrix (rows true, columns predicted)."""
    dtype = jnp.result_type(float)
    counts = counts.astype(dtype)
    tp = jnp.diagonal(counts)
    predicted = jnp.sum(counts, axis=0)  # TP + FP
    actual = jnp.sum(counts, axis=1)  # TP + FN (the support)
    if metric == "precision":
        num, den = tp, predicted
    elif metric == "recall":
        num, den = tp, actual
    else:
        num, den = 2.0 * tp, predicted + actual

    if average == "micro":
        return _divide(jnp.sum(num), jnp.sum(den))
    per_class = _divide(num, den)
    if average is None:
        return per_class
    if average == "binary":
        return per_class[pos_label]
    if average == "weighted":
        return _divide(jnp.sum(per_class * actual), jnp.sum(actual))
    present = (predicted + actual) > 0  # sklearn's label set: seen in y_true or y_pred
    return _divide(jnp.sum(jnp.where(present, per_class, 0.0)), jnp.sum(present, dtype=dtype))


def _divide(num: jax.Array, den: jax.Array) -> jax.Array:
    """``num / den``, and 0 where ``den == 0`` (zero_division=0); safe to differentiate."""
    safe = jnp.where(den > 0, den, 1.0)
    return jnp.where(den > 0, num / safe, 0.0)
