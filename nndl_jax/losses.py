"""Loss functions: squared error, cross-entropies, hinge losses and the KL divergence.

Every loss is a pure function of arrays that returns the loss of each element (squared error,
binary cross-entropy, binary hinge) or of each example (the losses over a class axis, which is
always the last). Pass ``reduction="mean"`` or ``"sum"`` for a scalar; ``"none"`` (the default,
as in optax) keeps the unreduced losses.

The losses that take logits work in log space (log-sum-exp and softplus written so that no
``exp`` overflows), so values and gradients stay finite for logits as large as ``|z| = 1e4``
in float32.

For manual backpropagation, :func:`softmax_cross_entropy_grad`, :func:`binary_cross_entropy_grad`
and :func:`squared_error_grad` give the analytic gradients of the losses with respect to their
first argument.

:func:`get` maps a name (``"softmax_cross_entropy"``, ``"mse"``, ...) to a loss so that later
code can take ``loss="mse"``; :func:`names` lists them.

Reference: Qiu Xipeng, *Neural Networks and Deep Learning*, sections 2.2.2 (loss functions) and
3.3-3.5 (logistic and softmax regression, the SVM hinge loss); optax's ``optax.losses`` is the
independent reference the verification suite compares with.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import _validate

__all__ = [
    "REDUCTIONS",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "get",
    "hinge",
    "kl_divergence",
    "kl_divergence_with_logits",
    "l2_loss",
    "multiclass_hinge",
    "names",
    "reduce",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "squared_error",
    "squared_error_grad",
]

REDUCTIONS = ("none", "mean", "sum")


# --------------------------------------------------------------------------------------------
# reduction


def reduce(losses: jax.Array, reduction: str = "mean") -> jax.Array:
    """Reduce unreduced losses: ``"none"`` keeps them, ``"mean"`` averages, ``"sum"`` adds.

    Args:
      losses: any shape.
      reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
      ``losses`` unchanged for ``"none"``, else a scalar.
    """
    _check_reduction(reduction)
    if reduction == "mean":
        return jnp.mean(losses)
    if reduction == "sum":
        return jnp.sum(losses)
    return losses


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _grad_scale(reduction: str, count: int) -> float:
    """The factor that turns the gradient of a summed loss into that of the reduced loss."""
    if reduction not in ("sum", "mean"):
        raise ValueError(
            f"reduction must be 'sum' or 'mean' for a gradient (the gradient of unreduced "
            f"losses is the gradient of their sum), got {reduction!r}"
        )
    return 1.0 / max(count, 1) if reduction == "mean" else 1.0


# --------------------------------------------------------------------------------------------
# numerically stable building blocks


def _as_float(x) -> jax.Array:
    """An array in a floating dtype: floats keep theirs, integers and bools get the default."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def _log_softmax(z: jax.Array) -> jax.Array:
    """``log softmax(z) = z - log Σ_k exp(z_k)`` over the last axis.

    Shifting by the row maximum m makes every exponent ``<= 0``, so nothing overflows, and
    subtracting ``m`` before adding the logs keeps the result accurate for logits as large as
    ``1e4`` (``(z - m) - log Σ exp(z - m)``; ``z - (m + log Σ ...)`` would round the sum to the
    spacing of float32 at ``m``). The shift cancels in the gradient, hence ``stop_gradient``.
    """
    shifted = z - _row_max(z)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))


def _softmax(z: jax.Array) -> jax.Array:
    """``exp(z_k) / Σ_j exp(z_j)`` over the last axis, shifted by the row maximum."""
    e = jnp.exp(z - _row_max(z))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def _row_max(z: jax.Array) -> jax.Array:
    m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    return jnp.where(jnp.isfinite(m), m, 0.0)  # a row of -inf: avoid inf - inf


@jax.custom_jvp
def _softplus(z: jax.Array) -> jax.Array:
    """``log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|})``; the exponent is never positive.

    The derivative is given explicitly as ``σ(z)``: differentiating the formula would meet the
    kinks of ``max`` and ``|z|`` at ``z = 0`` and give 0 instead of ½ there.
    """
    return jnp.maximum(z, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(z)))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    return _softplus(z), _sigmoid(z) * dz


def _sigmoid(z: jax.Array) -> jax.Array:
    """``1 / (1 + e^{-z})`` from ``e^{-|z|}``, which cannot overflow."""
    e = jnp.exp(-jnp.abs(z))
    return jnp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _concrete(x) -> np.ndarray | None:
    """The values of ``x`` when known (outside jit), else None (a tracer)."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def _check_integer_dtype(name: str, labels: jax.Array) -> None:
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"{name} must be integer class labels, got dtype {labels.dtype}")


# --------------------------------------------------------------------------------------------
# regression


def squared_error(predictions, targets, *, reduction: str = "none") -> jax.Array:
    """Elementwise squared error ``(ŷ - y)²``, as ``optax.losses.squared_error``.

    The book's squared loss ``½ (y - ŷ)²`` carries a ½ so that its derivative is ``ŷ - y``;
    that is :func:`l2_loss`. With ``reduction="mean"`` this is the mean squared error (MSE).

    Args:
      predictions: ``ŷ``, any shape.
      targets: ``y``, the same shape.
      reduction: ``"none"`` (elementwise, shape of ``predictions``), ``"mean"`` or ``"sum"``.

    Returns:
      The squared errors, reduced as asked.

    >>> squared_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0]))
    Array([1., 4.], dtype=float32)
    """
    _check_reduction(reduction)
    _validate.check_same_shape("predictions", predictions, "targets", targets)
    diff = _as_float(predictions) - jnp.asarray(targets)
    return reduce(diff * diff, reduction)


def l2_loss(predictions, targets, *, reduction: str = "none") -> jax.Array:
    """Elementwise ``½ (ŷ - y)²`` (the book's squared loss), as ``optax.losses.l2_loss``.

    Args and returns as :func:`squared_error`, of which this is half.
    """
    _check_reduction(reduction)
    return reduce(0.5 * squared_error(predictions, targets), reduction)


def squared_error_grad(predictions, targets, *, reduction: str = "sum") -> jax.Array:
    """Gradient of :func:`squared_error` with respect to ``predictions``: ``2 (ŷ - y)``.

    Args:
      predictions, targets: as :func:`squared_error`.
      reduction: ``"sum"`` gives each element's own derivative ``2 (ŷ - y)``; ``"mean"`` the
        gradient of the mean squared error, ``2 (ŷ - y) / size``.

    Returns:
      The gradient, shape of ``predictions``.
    """
    _validate.check_same_shape("predictions", predictions, "targets", targets)
    scale = _grad_scale(reduction, int(np.size(predictions)))
    return (2.0 * scale) * (_as_float(predictions) - jnp.asarray(targets))


# --------------------------------------------------------------------------------------------
# softmax cross-entropy


def smooth_labels(labels, label_smoothing: float) -> jax.Array:
    """Label smoothing ``y (1 - ε) + ε / K`` over the last axis, as ``optax.smooth_labels``.

    Args:
      labels: one-hot or probability labels, shape ``(..., K)``.
      label_smoothing: ``ε`` in ``[0, 1]``; ``0`` returns the labels, ``1`` the uniform law.

    Returns:
      The smoothed labels, shape ``(..., K)``.
    """
    eps = _validate.check_fraction("label_smoothing", label_smoothing, high_open=False)
    labels = _as_float(labels)
    return labels * (1.0 - eps) + eps / labels.shape[-1]


def _check_class_labels(logits, labels, num_classes, logits_name: str = "logits"):
    """Validate logits ``(..., K)`` and their labels; return ``(labels, integer?)``.

    Integer labels are class indices of shape ``logits.shape[:-1]`` in ``[0, K)`` (the range is
    checked outside jit only); floating labels are rows of shape ``logits.shape``.
    """
    shape = jnp.shape(logits)
    if len(shape) < 1:
        raise ValueError(
            f"{logits_name} must have a class axis (..., K), got {logits_name}.shape={shape}"
        )
    k = shape[-1]
    if num_classes is not None:
        _validate.check_positive_int("num_classes", num_classes)
        if num_classes != k:
            raise ValueError(
                f"num_classes={num_classes} does not match the class axis of "
                f"{logits_name}.shape={shape} (K={k})"
            )
    labels = _validate.as_label_array("labels", labels)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if labels.shape != shape[:-1]:
            raise ValueError(
                f"integer labels must have shape {logits_name}.shape[:-1]={shape[:-1]}, got "
                f"labels.shape={labels.shape} ({logits_name}.shape={shape})"
            )
        _validate.check_labels_in_range("labels", labels, k)
        return labels, True
    if jnp.issubdtype(labels.dtype, jnp.floating):
        if labels.shape != shape:
            raise ValueError(
                f"probability (one-hot) labels must have the shape of {logits_name}, got "
                f"labels.shape={labels.shape} and {logits_name}.shape={shape}"
            )
        return labels, False
    raise TypeError(
        f"labels must be integer class indices or floating probabilities, got dtype {labels.dtype}"
    )


def _valid(labels: jax.Array, k: int) -> jax.Array:
    """Which integer labels lie in ``[0, k)``; under jit the others make the loss NaN."""
    return (labels >= 0) & (labels < k)


def _smoothing(eps) -> bool:
    """Whether to apply label smoothing: a traced ε (under jit) always, a concrete one if > 0."""
    return _validate.is_traced(eps) or bool(eps)


def _target_rows(logits, labels, label_smoothing, num_classes, logits_name="logits"):
    """The (smoothed) target rows ``y``, shape ``(..., K)``; an invalid integer label gives NaN."""
    labels, integer = _check_class_labels(logits, labels, num_classes, logits_name)
    if integer:
        k = jnp.shape(logits)[-1]
        one_hot = (labels[..., None] == jnp.arange(k)).astype(_as_float(logits).dtype)
        labels = jnp.where(_valid(labels, k)[..., None], one_hot, jnp.nan)
    return smooth_labels(labels, label_smoothing) if _smoothing(label_smoothing) else labels


def softmax_cross_entropy(
    logits,
    labels,
    *,
    label_smoothing: float = 0.0,
    num_classes: int | None = None,
    reduction: str = "none",
) -> jax.Array:
    """Cross-entropy of softmax(logits) against labels, per example (book section 3.3).

    With targets ``y`` (a one-hot row, or any distribution) and logits ``z`` over K classes,

        L(y, z) = -Σ_k y_k log softmax(z)_k = Σ_k y_k (logsumexp(z) - z_k),

    computed in log space so that logits of ``±1e4`` give finite values and gradients. With
    ``label_smoothing=ε`` the targets are first replaced by ``y (1 - ε) + ε / K``
    (Szegedy et al., 2016), as ``optax.smooth_labels``.

    Args:
      logits: ``z``, shape ``(..., K)``.
      labels: either integer class indices of shape ``(...,)`` (= ``logits.shape[:-1]``) or
        floating one-hot/probability rows of shape ``(..., K)``. Integer labels outside
        ``[0, K)`` raise outside jit; under jit (values unknown) their loss is NaN.
      label_smoothing: ``ε`` in ``[0, 1]``.
      num_classes: optional check that ``K == num_classes``.
      reduction: ``"none"`` (shape ``logits.shape[:-1]``), ``"mean"`` or ``"sum"``.

    Returns:
      The cross-entropy of each example, reduced as asked.

    >>> softmax_cross_entropy(jnp.array([[0.0, 0.0]]), jnp.array([1]))
    Array([0.6931472], dtype=float32)
    """
    _check_reduction(reduction)
    eps = _validate.check_fraction("label_smoothing", label_smoothing, high_open=False)
    labels, integer = _check_class_labels(logits, labels, num_classes)
    z = _as_float(logits)
    if not integer:
        y = smooth_labels(labels, eps) if _smoothing(eps) else labels
        return reduce(-jnp.sum(y * _log_softmax(z), axis=-1), reduction)
    # Integer labels: L = log Σ_k exp(s_k) - s_y with s = z - max(z), no one-hot rows needed
    # (gather one logit per example); smoothing mixes in the mean of s with weight ε, since
    # Σ_k (ε/K) (log Σ exp(s) - s_k) = ε (log Σ exp(s) - mean(s)).
    k = z.shape[-1]
    shifted = z - _row_max(z)
    log_normalizer = jnp.log(jnp.sum(jnp.exp(shifted), axis=-1))
    index = jnp.clip(labels, 0, k - 1)[..., None]
    target = jnp.take_along_axis(shifted, index, axis=-1)[..., 0]
    if _smoothing(eps):
        # at ε = 1 the label's own logit has weight 0, also when it is -inf (0 · -inf is NaN);
        # only that product is replaced, so that the derivative in ε stays -target elsewhere
        target = jnp.where(jnp.isinf(target) & (1.0 - eps == 0), 0.0, target)
        target = (1.0 - eps) * target + eps * jnp.mean(shifted, axis=-1)
    losses = jnp.where(_valid(labels, k), log_normalizer - target, jnp.nan)
    return reduce(losses, reduction)


def softmax_cross_entropy_grad(
    logits,
    labels,
    *,
    label_smoothing: float = 0.0,
    num_classes: int | None = None,
    reduction: str = "sum",
) -> jax.Array:
    """Gradient of :func:`softmax_cross_entropy` with respect to the logits.

    ``∂L/∂z = softmax(z) Σ_k y_k - y``, which is the familiar ``softmax(z) - y`` when the
    (smoothed) targets ``y`` sum to one (book section 3.3).

    Args:
      logits, labels, label_smoothing, num_classes: as :func:`softmax_cross_entropy`.
      reduction: ``"sum"`` gives each example's own gradient; ``"mean"`` that of the mean loss,
        divided by the number of examples ``logits.size // K``.

    Returns:
      The gradient, shape of ``logits``.
    """
    _validate.check_fraction("label_smoothing", label_smoothing, high_open=False)
    y = _target_rows(logits, labels, label_smoothing, num_classes)
    z = _as_float(logits)
    scale = _grad_scale(reduction, int(np.prod(z.shape[:-1])))
    return scale * (_softmax(z) * jnp.sum(y, axis=-1, keepdims=True) - y)


# --------------------------------------------------------------------------------------------
# binary cross-entropy


def binary_cross_entropy(logits, labels, *, reduction: str = "none") -> jax.Array:
    """Sigmoid cross-entropy from logits, per element (logistic regression, book section 3.2).

    With ``p = σ(z)`` and a label ``y`` in ``[0, 1]``,

        L = -y log p - (1 - y) log(1 - p) = y softplus(-z) + (1 - y) softplus(z),

    since ``-log σ(z) = softplus(-z)`` and ``-log(1 - σ(z)) = softplus(z)``. The softplus is
    evaluated as ``max(z, 0) + log1p(exp(-|z|))``, finite at any finite ``z``. Both terms are
    non-negative, so a small loss keeps its relative precision (the equal ``softplus(z) - y z``
    would round the loss of a confident right answer, ``y = 1`` and ``z = 16``, to 0 in float32).
    Same as ``optax.losses.sigmoid_binary_cross_entropy``.

    Args:
      logits: ``z``, any shape.
      labels: ``y``, same shape; 0/1 labels or probabilities (ints and bools are accepted).
      reduction: ``"none"`` (elementwise), ``"mean"`` or ``"sum"``.

    Returns:
      The losses, reduced as asked.
    """
    _check_reduction(reduction)
    _validate.check_same_shape("logits", logits, "labels", labels)
    z = _as_float(logits)
    y = jnp.asarray(labels).astype(z.dtype)
    return reduce(y * _softplus(-z) + (1.0 - y) * _softplus(z), reduction)


def binary_cross_entropy_grad(logits, labels, *, reduction: str = "sum") -> jax.Array:
    """Gradient of :func:`binary_cross_entropy` with respect to the logits: ``σ(z) - y``.

    Evaluated as ``(1 - y) σ(z) - y σ(-z)``, which keeps the relative precision of small
    gradients for ``y = 1`` (``σ(z) - 1`` cancels to 0 in float32 from ``z ≈ 17``).

    Args:
      logits, labels: as :func:`binary_cross_entropy`.
      reduction: ``"sum"`` (each element's own derivative) or ``"mean"`` (divided by the size).

    Returns:
      The gradient, shape of ``logits``.
    """
    _validate.check_same_shape("logits", logits, "labels", labels)
    z = _as_float(logits)
    scale = _grad_scale(reduction, int(z.size))
    y = jnp.asarray(labels).astype(z.dtype)
    return scale * ((1.0 - y) * _sigmoid(z) - y * _sigmoid(-z))


# --------------------------------------------------------------------------------------------
# hinge losses


def hinge(scores, labels, *, reduction: str = "none") -> jax.Array:
    """Binary hinge loss ``max(0, 1 - y s)`` for labels ``y ∈ {-1, +1}`` (book section 3.5).

    The loss of the soft-margin support vector machine; same as ``optax.losses.hinge_loss``.

    Args:
      scores: decision values ``s``, any shape.
      labels: ``y``, same shape, each ``-1`` or ``+1``; other values (0/1 labels, say) raise
        outside jit.
      reduction: ``"none"`` (elementwise), ``"mean"`` or ``"sum"``.

    Returns:
      The losses, reduced as asked.
    """
    _check_reduction(reduction)
    _validate.check_same_shape("scores", scores, "labels", labels)
    values = _concrete(labels)
    if values is not None and values.size and not np.all(np.abs(values) == 1):
        bad = np.unique(values[np.abs(values) != 1])[:5].tolist()
        raise ValueError(f"hinge labels must be -1 or +1, got other values such as {bad}")
    s = _as_float(scores)
    return reduce(jnp.maximum(0.0, 1.0 - jnp.asarray(labels).astype(s.dtype) * s), reduction)


def multiclass_hinge(scores, labels, *, reduction: str = "none") -> jax.Array:
    """Crammer-Singer multiclass hinge loss, per example (book section 3.5).

        L(s, y) = max_k (s_k + 1 - [k = y]) - s_y = max(0, 1 + max_{k≠y} s_k - s_y),

    the margin by which the best wrong class comes within 1 of the true one. (Weston-Watkins
    would instead sum ``max(0, 1 + s_k - s_y)`` over all ``k ≠ y``.) Same as
    ``optax.losses.multiclass_hinge_loss``.

    Args:
      scores: ``s``, shape ``(..., K)``.
      labels: integer class indices, shape ``scores.shape[:-1]``, in ``[0, K)`` (checked outside
        jit; under jit an out-of-range label gives NaN).
      reduction: ``"none"`` (shape ``scores.shape[:-1]``), ``"mean"`` or ``"sum"``.

    Returns:
      The losses, reduced as asked.
    """
    _check_reduction(reduction)
    y = _target_rows(scores, _integer_labels(labels), 0.0, None, logits_name="scores")
    s = _as_float(scores)
    true_score = jnp.sum(y * s, axis=-1)
    return reduce(jnp.max(s + 1.0 - y, axis=-1) - true_score, reduction)


def _integer_labels(labels) -> jax.Array:
    labels = _validate.as_label_array("labels", labels)
    _check_integer_dtype("labels", labels)
    return labels


# --------------------------------------------------------------------------------------------
# Kullback-Leibler divergence


def kl_divergence(log_predictions, targets, *, reduction: str = "none") -> jax.Array:
    """``KL(targets || predictions)`` over the last axis, as ``optax.losses.kl_divergence``.

        KL(p || q) = Σ_k p_k (log p_k - log q_k),   with 0 log 0 = 0.

    Args:
      log_predictions: ``log q``, log-probabilities, shape ``(..., K)``.
      targets: ``p``, probabilities, the same shape.
      reduction: ``"none"`` (shape ``targets.shape[:-1]``), ``"mean"`` or ``"sum"``.

    Returns:
      The divergence of each row, reduced as asked.
    """
    _check_reduction(reduction)
    _validate.check_same_shape("log_predictions", log_predictions, "targets", targets)
    if jnp.ndim(targets) < 1:
        raise ValueError(f"targets must have a class axis (..., K), got shape {jnp.shape(targets)}")
    log_q = _as_float(log_predictions)
    p = jnp.asarray(targets).astype(log_q.dtype)
    # log(1) in place of log(0): the term is p log p = 0 there, and the gradient stays finite
    log_p = jnp.log(jnp.where(p > 0, p, 1.0))
    return reduce(jnp.sum(p * (log_p - log_q), axis=-1), reduction)


def kl_divergence_with_logits(logits, targets, *, reduction: str = "none") -> jax.Array:
    """:func:`kl_divergence` with predictions ``q = softmax(logits)`` given as logits.

    Args:
      logits: shape ``(..., K)``; ``log q = log softmax(logits)``, stable at ``±1e4``.
      targets, reduction: as :func:`kl_divergence`.
    """
    _validate.check_same_shape("logits", logits, "targets", targets)
    if np.ndim(logits) == 0:
        raise ValueError(
            "logits must have a class axis (shape (..., K)), got a 0-d array; for one "
            "distribution pass shape (K,)"
        )
    z = _as_float(logits)
    return kl_divergence(_log_softmax(z), targets, reduction=reduction)


# --------------------------------------------------------------------------------------------
# registry

_LOSSES: dict[str, Callable[..., jax.Array]] = {
    "squared_error": squared_error,
    "mse": squared_error,
    "l2_loss": l2_loss,
    "softmax_cross_entropy": softmax_cross_entropy,
    "cross_entropy": softmax_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "hinge": hinge,
    "multiclass_hinge": multiclass_hinge,
    "kl_divergence": kl_divergence,
    "kl_divergence_with_logits": kl_divergence_with_logits,
}


def names() -> list[str]:
    """The names :func:`get` knows, sorted."""
    return sorted(_LOSSES)


def get(name: str | Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """The loss called ``name`` (``"mse"`` is :func:`squared_error`, ``"cross_entropy"`` is
    :func:`softmax_cross_entropy`); a callable is returned unchanged.

    Every loss takes ``(outputs, targets, *, reduction="none")``.

    Raises:
      ValueError: for an unknown name, listing the known ones.
    """
    if callable(name):
        return name
    return _validate.lookup("loss", name, _LOSSES)
