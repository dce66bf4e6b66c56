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


def _logsumexp(z: jax.Array) -> jax.Array:
    """``log Σ_k exp(z_k)`` over the last axis, shape ``z.shape[:-1]``.

    Shifting by the maximum m makes every exponent ``<= 0``, so nothing overflows:
    ``log Σ exp(z_k) = m + log Σ exp(z_k - m)``. The shift is a constant of the gradient (the
    identity holds for any m), hence ``stop_gradient``.
    """
    m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)  # all -inf rows: avoid inf - inf
    return jnp.log(jnp.sum(jnp.exp(z - m), axis=-1)) + m[..., 0]


def _softplus(z: jax.Array) -> jax.Array:
    """``log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|})``; the exponent is never positive."""
    return jnp.maximum(z, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(z)))


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
    diff = _as_float(predictions) - targets
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
    return (2.0 * scale) * (_as_float(predictions) - targets)


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


def _target_distribution(logits, labels, label_smoothing, num_classes) -> jax.Array:
    """Validate the labels and turn them into (smoothed) target rows ``y`` of shape ``(..., K)``.

    Integer labels become one-hot rows; an integer label outside ``[0, K)`` is an error outside
    jit and, under jit where values are unknown, a row of NaN (so the loss is NaN, not a wrong
    number).
    """
    logits = jnp.asarray(logits)
    if logits.ndim < 1:
        raise ValueError(f"logits must have a class axis (..., K), got logits.shape={logits.shape}")
    k = logits.shape[-1]
    if num_classes is not None:
        _validate.check_positive_int("num_classes", num_classes)
        if num_classes != k:
            raise ValueError(
                f"num_classes={num_classes} does not match the class axis of "
                f"logits.shape={logits.shape} (K={k})"
            )
    labels = jnp.asarray(labels)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if labels.shape != logits.shape[:-1]:
            raise ValueError(
                f"integer labels must have shape logits.shape[:-1]={logits.shape[:-1]}, got "
                f"labels.shape={labels.shape} (logits.shape={logits.shape})"
            )
        _validate.check_labels_in_range("labels", labels, k)
        classes = jnp.arange(k)
        one_hot = (labels[..., None] == classes).astype(_as_float(logits).dtype)
        valid = (labels >= 0) & (labels < k)
        y = jnp.where(valid[..., None], one_hot, jnp.nan)
    elif jnp.issubdtype(labels.dtype, jnp.floating):
        if labels.shape != logits.shape:
            raise ValueError(
                f"probability (one-hot) labels must have the shape of the logits, got "
                f"labels.shape={labels.shape} and logits.shape={logits.shape}"
            )
        y = labels
    else:
        raise TypeError(
            f"labels must be integer class indices or floating probabilities, got dtype "
            f"{labels.dtype}"
        )
    if label_smoothing:
        y = smooth_labels(y, label_smoothing)
    else:
        _validate.check_fraction("label_smoothing", label_smoothing, high_open=False)
    return y
