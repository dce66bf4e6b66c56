"""Checks for :mod:`nndl_jax.nn.initializers`.

* ``initializers.<name>.variance`` (property): on a dense and a conv kernel shape, the sample
  mean and variance against their theoretical values. The statistic is the larger of the two
  z-scores ``|estimate - theory| / standard error`` (standard errors estimated from the sample
  itself, so they hold for uniform and truncated distributions alike); it passes below 4.
* ``initializers.<name>.reference``: the same key through ``jax.nn.initializers``' twin. Both
  draw with the same ``jax.random`` sampler, so equal distributions show as equal numbers up to
  rounding; this covers the fans of conv shapes and the truncated-normal correction.
* closed forms: zeros/ones/constant exactly; orthogonal kernels satisfy ``W^T W = I`` (tall)
  or ``W W^T = I`` (wide); the truncated-normal correction constant against scipy.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import verify
from nndl_jax.nn import initializers as init

# A conv kernel (kh, kw, in, out): its fans exercise the receptive field, and a dense kernel is
# the special case kh = kw = 1. Large enough for tight statistics (73,728 entries). One shape
# everywhere, because each new shape costs a compilation of the sampler (one that
# jax.nn.initializers then shares with us).
_SHAPE = (3, 3, 64, 128)


def _z_score(w, mean: float, variance: float) -> float:
    """Largest z-score of the sample mean and the sample variance (about a known mean)."""
    w = np.asarray(w, dtype=np.float64).ravel()
    n = w.size
    squares = (w - mean) ** 2
    z_mean = abs(w.mean() - mean) / (w.std() / math.sqrt(n))
    z_var = abs(squares.mean() - variance) / (squares.std() / math.sqrt(n))
    return float(max(z_mean, z_var))


def _variance_check(fn, theory, seed: int) -> float:
    """``theory(shape) -> (mean, variance)``; the z-score of ``fn``'s samples.

    Each check draws with its own ``seed``, so the checks' statistics are independent.
    """
    mean, variance = theory(_SHAPE)
    return _z_score(fn(jax.random.key(seed), _SHAPE, verify.float_dtype()), mean, variance)


def _reference_check(ours, reference) -> float:
    dtype, key = verify.float_dtype(), jax.random.key(0)
    return verify.max_abs_diff(ours(key, _SHAPE, dtype), reference(key, _SHAPE, dtype))


def _fans(shape):
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# name -> (variance in terms of (fan_in, fan_out), jax.nn.initializers factory name)
_SCALED = {
    "lecun_uniform": (lambda i, o: 1.0 / i, "lecun_uniform"),
    "lecun_normal": (lambda i, o: 1.0 / i, "lecun_normal"),
    "xavier_uniform": (lambda i, o: 2.0 / (i + o), "glorot_uniform"),
    "xavier_normal": (lambda i, o: 2.0 / (i + o), "glorot_normal"),
    "he_uniform": (lambda i, o: 2.0 / i, "he_uniform"),
    "he_normal": (lambda i, o: 2.0 / i, "he_normal"),
}


def _scaled_variance(name: str) -> float:
    formula, _ = _SCALED[name]
    theory = lambda shape: (0.0, formula(*_fans(shape)))
    return _variance_check(getattr(init, name), theory, seed=list(_SCALED).index(name))


def _scaled_reference(name: str) -> float:
    _, jax_name = _SCALED[name]
    return _reference_check(getattr(init, name), getattr(jax.nn.initializers, jax_name)())


for _name, (_, _jax_name) in _SCALED.items():
    verify.check(
        f"initializers.{_name}.variance",
        reference="theory: mean 0, variance s/n (z-score)",
        tol=4.0,
        tier="property",
    )(functools.partial(_scaled_variance, _name))
    verify.check(
        f"initializers.{_name}.reference",
        reference=f"jax.nn.initializers.{_jax_name}",
        tol=1e-6,
        tol_x64=1e-12,
    )(functools.partial(_scaled_reference, _name))


# --- plain random ---------------------------------------------------------------------------


@verify.check(
    "initializers.uniform.variance",
    reference="theory: U(a, b) has mean (a+b)/2, variance (b-a)^2/12 (z-score)",
    tol=4.0,
    tier="property",
)
def _uniform_variance():
    symmetric = _variance_check(init.uniform(0.3), lambda shape: (0.0, 0.6**2 / 12), seed=6)
    shifted = _variance_check(init.uniform((1.0, 3.0)), lambda shape: (2.0, 4.0 / 12), seed=7)
    return max(symmetric, shifted)


@verify.check(
    "initializers.uniform.reference",
    reference="jax.nn.initializers.uniform(0.3) as uniform((0, 0.3))",
    tol=1e-6,
    tol_x64=1e-12,
)
def _uniform_reference():
    return _reference_check(init.uniform((0.0, 0.3)), jax.nn.initializers.uniform(0.3))


@verify.check(
    "initializers.normal.variance",
    reference="theory: mean 0, variance stddev^2 (z-score)",
    tol=4.0,
    tier="property",
)
def _normal_variance():
    return _variance_check(init.normal(0.3), lambda shape: (0.0, 0.09), seed=8)


@verify.check(
    "initializers.normal.reference", reference="jax.nn.initializers.normal", tol=1e-6, tol_x64=1e-12
)
def _normal_reference():
    return _reference_check(init.normal(0.3), jax.nn.initializers.normal(0.3))


@verify.check(
    "initializers.truncated_normal.stddev",
    reference="scipy.stats.truncnorm(-2, 2).std()",
    tol=1e-12,
    tier="closed form",
)
def _truncated_stddev():
    from scipy.stats import truncnorm

    return abs(init.TRUNCATED_NORMAL_STDDEV - float(truncnorm(-2.0, 2.0).std()))


# --- constants ------------------------------------------------------------------------------


@verify.check(
    "initializers.constant.exact",
    reference="closed form (zeros, ones, 0.25)",
    tol=0.0,
    tier="closed form",
)
def _constants():
    dtype, key = verify.float_dtype(), jax.random.key(0)
    errors = []
    for fn, value in ((init.zeros, 0.0), (init.ones, 1.0), (init.constant(0.25), 0.25)):
        for shape in ((7,), (3, 4), (2, 3, 4, 5)):
            w = fn(key, shape, dtype)
            if w.shape != shape or w.dtype != dtype:
                return math.inf
            errors.append(float(np.max(np.abs(np.asarray(w, np.float64) - value))))
    return max(errors)


# --- orthogonal -----------------------------------------------------------------------------


@verify.check(
    "initializers.orthogonal.orthonormal",
    reference="closed form W^T W = scale^2 I (tall), W W^T = scale^2 I (wide)",
    tol=2e-5,
    tol_x64=1e-12,
    tier="closed form",
)
def _orthonormal():
    dtype = verify.float_dtype()
    errors = []
    # the wide (128, 576) kernel draws the same (576, 128) matrix as the tall one: no new compile
    wide = (_SHAPE[-1], math.prod(_SHAPE[:-1]))
    for i, (shape, scale) in enumerate(((_SHAPE, 1.0), (_SHAPE, 2.0), (wide, 1.0))):
        w = init.orthogonal(scale)(jax.random.key(i), shape, dtype).reshape(-1, shape[-1])
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        errors.append(verify.max_abs_diff(gram, scale**2 * jnp.eye(gram.shape[0], dtype=dtype)))
    return max(errors)


@verify.check(
    "initializers.orthogonal.haar",
    reference="theory: Haar O(n) entries have mean 0, variance 1/n (z-score, diagonals)",
    tol=4.0,
    tier="property",
)
def _orthogonal_haar():
    # every entry of a uniformly distributed orthogonal matrix has mean 0 and variance 1/n;
    # the diagonal is where a QR without the sign correction is biased (diag(R) < 0 from a
    # Householder QR makes Q's diagonal mostly negative)
    n, draws = 8, 512
    keys = jax.random.split(jax.random.key(40), draws)
    q = jax.vmap(lambda k: init.orthogonal()(k, (n, n), verify.float_dtype()))(keys)
    return _z_score(jnp.diagonal(q, axis1=1, axis2=2), 0.0, 1.0 / n)


@verify.check(
    "initializers.orthogonal.reference",
    reference="jax.nn.initializers.orthogonal",
    tol=1e-5,
    tol_x64=1e-12,
)
def _orthogonal_reference():
    return _reference_check(init.orthogonal(), jax.nn.initializers.orthogonal())
