"""Verification of :mod:`nndl_jax.losses` against ``optax.losses`` and ``jax.grad``.

Each loss is compared with its optax twin on random inputs; the losses over logits also at
extreme logits (``±1e4`` mixed with moderate ones), where values must be finite and equal to
optax's and gradients finite and equal to ``jax.grad`` of optax's loss. The analytic gradients
(:func:`softmax_cross_entropy_grad`, ...) are checked against ``jax.grad``.

At ``|z| = 1e4`` the losses themselves are of order 1e4, where float32 is spaced about 1e-3
apart, so the value checks there report the error relative to ``max(1, |reference|)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import verify
from nndl_jax.verify import max_abs_diff

_N, _K = 16, 7
_SMOOTHING = 0.1


def _logits(seed: int = 0, scale: float = 3.0, shape=(_N, _K)):
    return scale * jax.random.normal(jax.random.PRNGKey(seed), shape, verify.float_dtype())


def _extreme_logits(shape=(_N, _K)):
    """Logits mixing ±1e4, ±5e3, 0 and ties at the maximum: the cases that overflow ``exp``."""
    key_values, key_signs = jax.random.split(jax.random.PRNGKey(7))
    magnitudes = jnp.array([1e4, 5e3, 0.0, 1e4, 1.0], verify.float_dtype())
    picks = jax.random.randint(key_values, shape, 0, magnitudes.size)
    signs = jnp.where(jax.random.bernoulli(key_signs, 0.5, shape), 1.0, -1.0)
    return (magnitudes[picks] * signs).astype(verify.float_dtype())


def _labels(seed: int = 1, shape=(_N,), k: int = _K):
    return jax.random.randint(jax.random.PRNGKey(seed), shape, 0, k)


def _probabilities(seed: int = 2, shape=(_N, _K)):
    p = jax.nn.softmax(_logits(seed, 2.0, shape))
    return p.at[0, 0].set(0.0).at[1, :2].set(0.0)  # exact zeros: the 0 log 0 = 0 convention


def _relative_diff(ours, reference) -> float:
    """max |ours - ref| / max(1, max |ref|), inf when ours is not finite."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    if not np.all(np.isfinite(ours)):
        return math.inf
    return max_abs_diff(ours, reference) / max(1.0, float(np.max(np.abs(reference))))


def _finite_diff(ours, reference) -> float:
    """max_abs_diff, but inf when ours has a non-finite entry (a NaN/inf is never agreement)."""
    if not all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(ours)):
        return math.inf
    return max_abs_diff(ours, reference)


# --------------------------------------------------------------------------------------------
# squared error


@verify.check(
    "losses.squared_error.value", reference="optax.losses.squared_error", tol=1e-5, tol_x64=1e-12
)
def _squared_error_value():
    import optax

    from nndl_jax.losses import squared_error

    x, y = _logits(0), _logits(1)
    return max_abs_diff(squared_error(x, y), optax.losses.squared_error(x, y))


@verify.check("losses.l2_loss.value", reference="optax.losses.l2_loss", tol=1e-5, tol_x64=1e-12)
def _l2_loss_value():
    import optax

    from nndl_jax.losses import l2_loss

    x, y = _logits(0), _logits(1)
    return max_abs_diff(l2_loss(x, y), optax.losses.l2_loss(x, y))


@verify.check(
    "losses.squared_error.grad",
    reference="jax.grad(optax.losses.squared_error)",
    tol=1e-5,
    tol_x64=1e-12,
)
def _squared_error_grad():
    import optax

    from nndl_jax.losses import squared_error_grad

    x, y = _logits(0), _logits(1)
    reference = jax.grad(lambda p: jnp.mean(optax.losses.squared_error(p, y)))(x)
    return max_abs_diff(squared_error_grad(x, y, reduction="mean"), reference)


# --------------------------------------------------------------------------------------------
# softmax cross-entropy


@verify.check(
    "losses.softmax_cross_entropy.integer_labels",
    reference="optax.losses.softmax_cross_entropy_with_integer_labels",
    tol=1e-5,
    tol_x64=1e-12,
)
def _softmax_ce_integer():
    import optax

    from nndl_jax.losses import softmax_cross_entropy

    z, y = _logits(), _labels()
    reference = optax.losses.softmax_cross_entropy_with_integer_labels(z, y)
    return max_abs_diff(softmax_cross_entropy(z, y), reference)


@verify.check(
    "losses.softmax_cross_entropy.probabilities",
    reference="optax.losses.softmax_cross_entropy",
    tol=1e-5,
    tol_x64=1e-12,
)
def _softmax_ce_probabilities():
    import optax

    from nndl_jax.losses import softmax_cross_entropy

    z, p = _logits(), _probabilities()
    one_hot = jax.nn.one_hot(_labels(), _K, dtype=z.dtype)
    ours = (softmax_cross_entropy(z, p), softmax_cross_entropy(z, one_hot))
    reference = (
        optax.losses.softmax_cross_entropy(z, p),
        optax.losses.softmax_cross_entropy(z, one_hot),
    )
    return max_abs_diff(ours, reference)


@verify.check(
    "losses.softmax_cross_entropy.label_smoothing",
    reference="optax.losses.softmax_cross_entropy(optax.smooth_labels)",
    tol=1e-5,
    tol_x64=1e-12,
)
def _softmax_ce_smoothing():
    import optax

    from nndl_jax.losses import softmax_cross_entropy

    z, y, p = _logits(), _labels(), _probabilities()
    one_hot = jax.nn.one_hot(y, _K, dtype=z.dtype)
    ours = (
        softmax_cross_entropy(z, y, label_smoothing=_SMOOTHING),
        softmax_cross_entropy(z, p, label_smoothing=_SMOOTHING),
    )
    reference = (
        optax.losses.softmax_cross_entropy(z, optax.smooth_labels(one_hot, _SMOOTHING)),
        optax.losses.softmax_cross_entropy(z, optax.smooth_labels(p, _SMOOTHING)),
    )
    return max_abs_diff(ours, reference)


@verify.check(
    "losses.softmax_cross_entropy.extreme_logits",
    reference="optax.losses.softmax_cross_entropy (relative error)",
    tol=1e-6,
    tol_x64=1e-14,
)
def _softmax_ce_extreme():
    import optax

    from nndl_jax.losses import softmax_cross_entropy

    z, y = _extreme_logits(), _labels()
    smoothed = optax.smooth_labels(jax.nn.one_hot(y, _K, dtype=z.dtype), _SMOOTHING)
    ours = (softmax_cross_entropy(z, y), softmax_cross_entropy(z, y, label_smoothing=_SMOOTHING))
    reference = (
        optax.losses.softmax_cross_entropy_with_integer_labels(z, y),
        optax.losses.softmax_cross_entropy(z, smoothed),
    )
    return max(_relative_diff(a, b) for a, b in zip(ours, reference, strict=True))


@verify.check(
    "losses.softmax_cross_entropy.extreme_grad",
    reference="jax.grad(optax.losses.softmax_cross_entropy)",
    tol=1e-6,
    tol_x64=1e-14,
)
def _softmax_ce_extreme_grad():
    import optax

    from nndl_jax.losses import softmax_cross_entropy

    z, y = _extreme_logits(), _labels()
    smoothed = optax.smooth_labels(jax.nn.one_hot(y, _K, dtype=z.dtype), _SMOOTHING)
    ours = jax.grad(
        lambda v: softmax_cross_entropy(v, y, label_smoothing=_SMOOTHING, reduction="sum")
    )(z)
    reference = jax.grad(lambda v: jnp.sum(optax.losses.softmax_cross_entropy(v, smoothed)))(z)
    return _finite_diff(ours, reference)


@verify.check(
    "losses.softmax_cross_entropy.analytic_grad",
    reference="jax.grad(optax.losses.softmax_cross_entropy)",
    tol=1e-6,
    tol_x64=1e-14,
)
def _softmax_ce_analytic_grad():
    import optax

    from nndl_jax.losses import softmax_cross_entropy_grad

    y = _labels()
    smoothed = optax.smooth_labels(jax.nn.one_hot(y, _K, dtype=verify.float_dtype()), _SMOOTHING)
    worst = 0.0
    for z in (_logits(), _extreme_logits()):
        ours = softmax_cross_entropy_grad(z, y, label_smoothing=_SMOOTHING, reduction="mean")
        reference = jax.grad(lambda v: jnp.mean(optax.losses.softmax_cross_entropy(v, smoothed)))(z)
        worst = max(worst, _finite_diff(ours, reference))
    return worst


# --------------------------------------------------------------------------------------------
# binary cross-entropy


@verify.check(
    "losses.binary_cross_entropy.value",
    reference="optax.losses.sigmoid_binary_cross_entropy",
    tol=1e-5,
    tol_x64=1e-12,
)
def _bce_value():
    import optax

    from nndl_jax.losses import binary_cross_entropy

    z, p = _logits(), _probabilities()
    hard = (p > 0.1).astype(z.dtype)
    ours = (binary_cross_entropy(z, p), binary_cross_entropy(z, hard))
    reference = (
        optax.losses.sigmoid_binary_cross_entropy(z, p),
        optax.losses.sigmoid_binary_cross_entropy(z, hard),
    )
    return max_abs_diff(ours, reference)


@verify.check(
    "losses.binary_cross_entropy.extreme_logits",
    reference="optax.losses.sigmoid_binary_cross_entropy (relative error)",
    tol=1e-6,
    tol_x64=1e-14,
)
def _bce_extreme():
    import optax

    from nndl_jax.losses import binary_cross_entropy

    z, p = _extreme_logits(), _probabilities()
    hard = (p > 0.1).astype(z.dtype)
    return max(
        _relative_diff(binary_cross_entropy(z, y), optax.losses.sigmoid_binary_cross_entropy(z, y))
        for y in (p, hard)
    )


@verify.check(
    "losses.binary_cross_entropy.confident",
    reference="closed form log1p(exp(-|z|)) in float64 (elementwise relative error)",
    tol=1e-6,
    tol_x64=1e-14,
)
def _bce_confident():
    """Right answers with confident logits: the loss and gradient are tiny, not zero.

    For y = 1 and z = 16 the loss is log(1 + e⁻¹⁶) ≈ 1.1e-7; written as softplus(z) - y·z it
    rounds to 0 in float32. Checked elementwise, relative to the exact values, for both labels.
    """
    from nndl_jax.losses import binary_cross_entropy, binary_cross_entropy_grad

    magnitude = np.linspace(2.0, 60.0, 30)
    y = np.concatenate([np.ones(30), np.zeros(30)])  # y = 1 with z > 0, y = 0 with z < 0
    zd = jnp.asarray(np.concatenate([magnitude, -magnitude]), verify.float_dtype())
    yd = jnp.asarray(y, verify.float_dtype())
    # exact values at the logits as rounded to the working precision
    tail = np.exp(-np.abs(np.asarray(zd, np.float64)))
    exact_loss = np.log1p(tail)
    exact_grad = np.where(y == 1, -1.0, 1.0) * tail / (1.0 + tail)  # σ(z) - y
    ours_loss = np.asarray(binary_cross_entropy(zd, yd), np.float64)
    ours_grad = np.asarray(binary_cross_entropy_grad(zd, yd), np.float64)
    if not (np.all(np.isfinite(ours_loss)) and np.all(np.isfinite(ours_grad))):
        return math.inf
    return float(
        max(
            np.max(np.abs(ours_loss / exact_loss - 1.0)),
            np.max(np.abs(ours_grad / exact_grad - 1.0)),
        )
    )


@verify.check(
    "losses.binary_cross_entropy.grad",
    reference="jax.grad(optax.losses.sigmoid_binary_cross_entropy)",
    tol=1e-6,
    tol_x64=1e-14,
)
def _bce_grad():
    """Autodiff of ours and the analytic σ(z) - y, at moderate and extreme logits and at z = 0."""
    import optax

    from nndl_jax.losses import binary_cross_entropy, binary_cross_entropy_grad

    p = _probabilities()
    worst = 0.0
    for z in (_logits(), _extreme_logits(), jnp.zeros_like(p)):
        reference = jax.grad(lambda v: jnp.sum(optax.losses.sigmoid_binary_cross_entropy(v, p)))(z)
        autodiff = jax.grad(lambda v: binary_cross_entropy(v, p, reduction="sum"))(z)
        analytic = binary_cross_entropy_grad(z, p)
        worst = max(worst, _finite_diff((autodiff, analytic), (reference, reference)))
    return worst


# --------------------------------------------------------------------------------------------
# hinge losses


@verify.check("losses.hinge.value", reference="optax.losses.hinge_loss", tol=1e-6, tol_x64=1e-14)
def _hinge_value():
    import optax

    from nndl_jax.losses import hinge

    s = _logits(scale=1.0)
    y = 2 * jax.random.bernoulli(jax.random.PRNGKey(3), 0.5, s.shape).astype(s.dtype) - 1
    return max_abs_diff(hinge(s, y), optax.losses.hinge_loss(s, y))


@verify.check(
    "losses.multiclass_hinge.value",
    reference="optax.losses.multiclass_hinge_loss",
    tol=1e-6,
    tol_x64=1e-14,
)
def _multiclass_hinge_value():
    import optax

    from nndl_jax.losses import multiclass_hinge

    s, y = _logits(scale=1.0), _labels()
    return max_abs_diff(multiclass_hinge(s, y), optax.losses.multiclass_hinge_loss(s, y))


# --------------------------------------------------------------------------------------------
# KL divergence


@verify.check(
    "losses.kl_divergence.value", reference="optax.losses.kl_divergence", tol=1e-5, tol_x64=1e-12
)
def _kl_value():
    import optax

    from nndl_jax.losses import kl_divergence

    log_q, p = jax.nn.log_softmax(_logits()), _probabilities()
    return max_abs_diff(kl_divergence(log_q, p), optax.losses.kl_divergence(log_q, p))


@verify.check(
    "losses.kl_divergence_with_logits.extreme_logits",
    reference="optax.losses.kl_divergence(jax.nn.log_softmax) (relative error)",
    tol=1e-6,
    tol_x64=1e-14,
)
def _kl_logits_extreme():
    import optax

    from nndl_jax.losses import kl_divergence_with_logits

    p = _probabilities()
    worst = 0.0
    for z in (_logits(), _extreme_logits()):
        reference = optax.losses.kl_divergence(jax.nn.log_softmax(z), p)
        worst = max(worst, _relative_diff(kl_divergence_with_logits(z, p), reference))
    return worst


@verify.check(
    "losses.kl_divergence_with_logits.grad",
    reference="jax.grad(optax.losses.kl_divergence(jax.nn.log_softmax))",
    tol=1e-6,
    tol_x64=1e-14,
)
def _kl_logits_grad():
    import optax

    from nndl_jax.losses import kl_divergence_with_logits

    p = _probabilities()
    worst = 0.0
    for z in (_logits(), _extreme_logits()):
        ours = jax.grad(lambda v: kl_divergence_with_logits(v, p, reduction="sum"))(z)
        reference = jax.grad(
            lambda v: jnp.sum(optax.losses.kl_divergence(jax.nn.log_softmax(v), p))
        )(z)
        worst = max(worst, _finite_diff(ours, reference))
    return worst
