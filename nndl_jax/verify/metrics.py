"""Verification of :mod:`nndl_jax.metrics` against ``sklearn.metrics`` on random labels.

Labels are drawn with a fixed seed; in every multiclass draw one class is never predicted (so its
precision is a zero division, which both sides count as 0) and, in the ``absent_class`` checks,
one class occurs in neither array (scikit-learn leaves it out of the macro average, and so do we).
"""

from __future__ import annotations

import numpy as np

from nndl_jax import verify
from nndl_jax.verify import max_abs_diff

_N, _K = 200, 5
_TOL, _TOL_X64 = 1e-6, 1e-12


def _draw(k: int = _K, *, seed: int = 0, never_predicted: int | None = None, absent=None):
    """Random (y_true, y_pred) of length _N over k classes, with classes left out on request."""
    rng = np.random.default_rng(seed)
    classes = [c for c in range(k) if c != absent]
    y_true = rng.choice(classes, _N)
    y_pred = np.where(rng.random(_N) < 0.5, y_true, rng.choice(classes, _N))
    if never_predicted is not None:
        stand_in = next(c for c in classes if c != never_predicted)
        y_pred = np.where(y_pred == never_predicted, stand_in, y_pred)
    return y_true, y_pred


def _register(average_name: str, draw_kwargs: dict, score_kwargs: dict) -> None:
    """Register ``metrics.{precision,recall,f1}.<average_name>`` against scikit-learn."""
    for metric in ("precision", "recall", "f1"):

        @verify.check(
            f"metrics.{metric}.{average_name}",
            reference=f"sklearn.metrics.{metric}_score",
            tol=_TOL,
            tol_x64=_TOL_X64,
        )
        def _check(metric=metric):
            from sklearn import metrics as sk

            from nndl_jax import metrics

            y_true, y_pred = _draw(**draw_kwargs)
            ours = getattr(metrics, metric)(y_true, y_pred, **score_kwargs)
            reference = getattr(sk, f"{metric}_score")(
                y_true, y_pred, zero_division=0, **score_kwargs
            )
            if score_kwargs.get("average", "binary") is None:
                # scikit-learn scores only the classes seen; ours are 0 for the others
                full = np.zeros(_K)
                full[np.union1d(y_true, y_pred)] = reference
                reference = full
            return max_abs_diff(ours, np.asarray(reference, np.float64))


# average="binary" with either positive class and with the positive class never predicted; the
# multiclass averages with a class never predicted, and again with a class in neither array
_register("binary", {"k": 2}, {"average": "binary"})
_register("binary_pos_label_0", {"k": 2, "seed": 1}, {"average": "binary", "pos_label": 0})
_register("binary_never_predicted", {"k": 2, "never_predicted": 1}, {"average": "binary"})
for _average in ("macro", "micro", "weighted"):
    _register(_average, {"never_predicted": 2}, {"average": _average})
    _register(
        f"{_average}_absent_class", {"never_predicted": 2, "absent": 3}, {"average": _average}
    )
_register("per_class", {"never_predicted": 2, "absent": 3}, {"average": None})


@verify.check(
    "metrics.f1.macro_scores_jit",
    reference="sklearn.metrics.f1_score(average='macro')",
    tol=_TOL,
    tol_x64=_TOL_X64,
)
def _macro_scores_jit():
    """Scores (argmax) as y_pred, jitted with a static num_classes."""
    import jax
    import jax.numpy as jnp
    from sklearn.metrics import f1_score

    from nndl_jax.metrics import f1

    y_true, y_pred = _draw(seed=3, never_predicted=1)
    scores = np.eye(_K)[y_pred] + 0.1 * np.random.default_rng(4).random((_N, _K))
    jitted = jax.jit(f1, static_argnames=("average", "num_classes"))
    scores = jnp.asarray(scores, verify.float_dtype())
    ours = jitted(jnp.asarray(y_true), scores, average="macro", num_classes=_K)
    return max_abs_diff(ours, f1_score(y_true, y_pred, average="macro", zero_division=0))


@verify.check(
    "metrics.accuracy.multiclass",
    reference="sklearn.metrics.accuracy_score",
    tol=_TOL,
    tol_x64=_TOL_X64,
)
def _accuracy():
    from sklearn.metrics import accuracy_score

    from nndl_jax.metrics import accuracy, error_rate

    y_true, y_pred = _draw(seed=5)
    reference = accuracy_score(y_true, y_pred)
    ours = (accuracy(y_true, y_pred), error_rate(y_true, y_pred))
    return max_abs_diff(ours, (reference, 1.0 - reference))


@verify.check(
    "metrics.confusion_matrix.multiclass",
    reference="sklearn.metrics.confusion_matrix",
    tol=0.0,
)
def _confusion():
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    from nndl_jax.metrics import confusion_matrix

    y_true, y_pred = _draw(seed=6, never_predicted=0, absent=4)
    reference = sk_confusion_matrix(y_true, y_pred, labels=np.arange(_K))
    return max_abs_diff(confusion_matrix(y_true, y_pred, _K), reference)
