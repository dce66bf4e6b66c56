"""Checks for :mod:`nndl_jax.nn.activations`.

For every activation three checks run on a grid of inputs that spans [-10, 10], the kinks and
the extremes ``±1e4``:

* ``activations.<name>.forward``: our values against ``jax.nn`` (or a closed form where jax has
  no such function);
* ``activations.<name>.derivative``: our analytic derivative against ``jax.grad`` (vmapped) of
  the reference function *and* of our own forward function (the larger error is reported), so
  manual and automatic backpropagation agree, kinks included;
* ``activations.<name>.finite``: the number of non-finite values among the forward values, the
  analytic derivative and ``jax.grad`` of our forward at ``|x| = 1e4`` (must be 0).

Where an activation has a hyperparameter, the checks cover the default and a second value.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import verify
from nndl_jax.nn import activations as act

_EXTREMES = (-1e4, -1e3, -100.0, -30.0, 30.0, 100.0, 1e3, 1e4)
_KINKS = (-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)


def _grid() -> jax.Array:
    dtype = verify.float_dtype()
    # a dyadic step keeps the grid exact in every float dtype, so points meant to sit at a kink
    # are at it and no point lands a rounding error away from one (where f' is ambiguous)
    dense = np.arange(-640, 641) / 64.0
    return jnp.asarray(np.concatenate([dense, _EXTREMES, _KINKS]), dtype)


def _derivative(f):
    """Elementwise derivative of a scalar function via ``jax.grad``, vmapped over an array."""
    return jax.jit(jax.vmap(jax.grad(f)))


# name -> (reference description, variants); a variant is (ours, ours_grad, reference)
def _variants():
    nn = jax.nn
    p = functools.partial
    return {
        "identity": ("closed form x", [(act.identity, act.identity_grad, lambda x: x)]),
        "sigmoid": ("jax.nn.sigmoid", [(act.sigmoid, act.sigmoid_grad, nn.sigmoid)]),
        "tanh": (
            "closed form 2*jax.nn.sigmoid(2x)-1",
            [(act.tanh, act.tanh_grad, lambda x: 2.0 * nn.sigmoid(2.0 * x) - 1.0)],
        ),
        "hard_sigmoid": (
            "jax.nn.hard_sigmoid (slope=1/6; slope=1/4 as jax.nn.hard_sigmoid(1.5x))",
            [
                (
                    p(act.hard_sigmoid, slope=1 / 6),
                    p(act.hard_sigmoid_grad, slope=1 / 6),
                    nn.hard_sigmoid,
                ),
                (act.hard_sigmoid, act.hard_sigmoid_grad, lambda x: nn.hard_sigmoid(1.5 * x)),
            ],
        ),
        "hard_tanh": ("jax.nn.hard_tanh", [(act.hard_tanh, act.hard_tanh_grad, nn.hard_tanh)]),
        "relu": ("jax.nn.relu", [(act.relu, act.relu_grad, nn.relu)]),
        "leaky_relu": (
            "jax.nn.leaky_relu (slopes 0.01, 0.2)",
            [
                (act.leaky_relu, act.leaky_relu_grad, nn.leaky_relu),
                (
                    p(act.leaky_relu, negative_slope=0.2),
                    p(act.leaky_relu_grad, negative_slope=0.2),
                    p(nn.leaky_relu, negative_slope=0.2),
                ),
            ],
        ),
        "elu": (
            "jax.nn.elu (alpha 1, 0.5)",
            [
                (act.elu, act.elu_grad, nn.elu),
                (p(act.elu, alpha=0.5), p(act.elu_grad, alpha=0.5), p(nn.elu, alpha=0.5)),
            ],
        ),
        "softplus": ("jax.nn.softplus", [(act.softplus, act.softplus_grad, nn.softplus)]),
        "swish": (
            "jax.nn.swish (beta=1); x*jax.nn.sigmoid(1.7x)",
            [
                (act.swish, act.swish_grad, nn.swish),
                (
                    p(act.swish, beta=1.7),
                    p(act.swish_grad, beta=1.7),
                    lambda x: x * nn.sigmoid(1.7 * x),
                ),
            ],
        ),
        "silu": ("jax.nn.silu", [(act.silu, act.silu_grad, nn.silu)]),
        "gelu": (
            "jax.nn.gelu(approximate=False)",
            [(act.gelu, act.gelu_grad, p(nn.gelu, approximate=False))],
        ),
        "gelu_tanh": (
            "jax.nn.gelu(approximate=True)",
            [
                (
                    p(act.gelu, approximate=True),
                    p(act.gelu_grad, approximate=True),
                    p(nn.gelu, approximate=True),
                )
            ],
        ),
    }


def _forward_error(name: str) -> float:
    x = _grid()
    _, variants = _variants()[name]
    return max(verify.max_abs_diff(jax.jit(ours)(x), jax.jit(ref)(x)) for ours, _, ref in variants)


def _derivative_error(name: str) -> float:
    x = _grid()
    _, variants = _variants()[name]
    errors = []
    for ours, ours_grad, ref in variants:
        analytic = jax.jit(ours_grad)(x)
        errors.append(verify.max_abs_diff(analytic, _derivative(ref)(x)))
        errors.append(verify.max_abs_diff(analytic, _derivative(ours)(x)))
    return max(errors)


def _nonfinite(*arrays) -> int:
    return int(sum(np.size(a) - np.count_nonzero(np.isfinite(np.asarray(a))) for a in arrays))


def _finite_count(name: str) -> float:
    x = jnp.asarray([-1e4, 1e4], verify.float_dtype())
    _, variants = _variants()[name]
    return float(
        sum(
            _nonfinite(ours(x), ours_grad(x), _derivative(ours)(x))
            for ours, ours_grad, _ in variants
        )
    )


def _register(name: str, reference: str) -> None:
    verify.check(f"activations.{name}.forward", reference=reference, tol=1e-6, tol_x64=1e-13)(
        functools.partial(_forward_error, name)
    )
    verify.check(
        f"activations.{name}.derivative",
        reference=f"jax.grad of {reference.split(' (')[0]} and of ours",
        tol=5e-6,
        tol_x64=1e-13,
    )(functools.partial(_derivative_error, name))
    verify.check(
        f"activations.{name}.finite",
        reference="finite at |x|=1e4 (count of non-finite)",
        tol=0.0,
        tier="property",
    )(functools.partial(_finite_count, name))


for _name, (_reference, _) in _variants().items():
    _register(_name, _reference)


# --- prelu: a parameter broadcast per feature -----------------------------------------------


def _prelu_inputs():
    dtype = verify.float_dtype()
    rng = np.random.default_rng(0)
    x = np.concatenate([5.0 * rng.standard_normal((64, 3)), [[0.0, 0.0, 0.0], [-1e4, 1e4, 0.0]]])
    x = jnp.asarray(x, dtype)
    alpha = jnp.asarray([0.25, 0.0, 1.5], dtype)
    return x, alpha


def _leaky_per_element(fn, x, alpha):
    """``fn(x_i, alpha_i)`` for every element, ``alpha`` broadcast to ``x`` first."""
    slopes = jnp.broadcast_to(alpha, x.shape).ravel()
    return jax.jit(jax.vmap(fn))(x.ravel(), slopes).reshape(x.shape)


@verify.check(
    "activations.prelu.forward",
    reference="jax.nn.leaky_relu per feature",
    tol=1e-6,
    tol_x64=1e-13,
)
def _prelu_forward():
    x, alpha = _prelu_inputs()
    return verify.max_abs_diff(act.prelu(x, alpha), _leaky_per_element(jax.nn.leaky_relu, x, alpha))


@verify.check(
    "activations.prelu.derivative",
    reference="jax.grad of jax.nn.leaky_relu wrt x and slope",
    tol=1e-6,
    tol_x64=1e-13,
)
def _prelu_derivative():
    x, alpha = _prelu_inputs()
    grad_x = _leaky_per_element(jax.grad(jax.nn.leaky_relu, argnums=0), x, alpha)
    grad_alpha = _leaky_per_element(jax.grad(jax.nn.leaky_relu, argnums=1), x, alpha)
    return max(
        verify.max_abs_diff(act.prelu_grad(x, alpha), grad_x),
        verify.max_abs_diff(act.prelu_grad_alpha(x, alpha), grad_alpha),
    )


@verify.check(
    "activations.prelu.finite",
    reference="finite at |x|=1e4 (count of non-finite)",
    tol=0.0,
    tier="property",
)
def _prelu_finite():
    x, alpha = _prelu_inputs()
    return float(
        _nonfinite(act.prelu(x, alpha), act.prelu_grad(x, alpha), act.prelu_grad_alpha(x, alpha))
    )


# --- maxout: a reduction over groups of features --------------------------------------------


def _maxout_inputs():
    dtype = verify.float_dtype()
    x = jnp.asarray(3.0 * np.random.default_rng(1).standard_normal((8, 12)), dtype)
    # rows with exact ties (first, last, two or all three pieces) and extremes: the gradient
    # must split evenly among tied maxima
    special = jnp.asarray(
        [
            [1.0, 1.0, 0.0, 2.0, 2.0, 2.0, -1e4, 1e4, 5.0, 0.0, 0.0, 0.0],
            [-1.0, 3.0, 3.0, 1e4, -2.0, 1e4, -1e4, -1e4, -1e4, 7.0, 0.0, 7.0],
        ],
        dtype,
    )
    return jnp.concatenate([x, special]), 3


@verify.check(
    "activations.maxout.forward",
    reference="closed form: elementwise max of strided slices",
    tol=0.0,
    tier="closed form",
)
def _maxout_forward():
    x, p = _maxout_inputs()
    expected = functools.reduce(jnp.maximum, [x[:, j::p] for j in range(p)])
    return max(
        verify.max_abs_diff(act.maxout(x, p), expected),
        verify.max_abs_diff(act.maxout(x.T, p, axis=0), expected.T),
    )


@verify.check(
    "activations.maxout.derivative",
    reference="jax.vjp of jnp.max over (units, pieces) groups (splits ties evenly)",
    tol=1e-6,
    tol_x64=1e-13,
)
def _maxout_derivative():
    # the reference is written here, independently of act.maxout: consecutive features form a
    # group, so (batch, units * p) reshapes to (batch, units, p); jnp.max's vjp shares the
    # gradient evenly among tied maxima, the rule maxout_grad documents. Both our analytic
    # gradient and jax.vjp of our forward must match it (the larger error is reported).
    x, p = _maxout_inputs()
    units = x.shape[1] // p
    g = jnp.asarray(np.random.default_rng(2).standard_normal((x.shape[0], units)), x.dtype)

    def vjp(f, v, cotangent):
        return jax.vjp(f, v)[1](cotangent)[0]

    expected = vjp(lambda v: jnp.max(v.reshape(v.shape[0], units, p), axis=-1), x, g)
    return max(
        verify.max_abs_diff(act.maxout_grad(x, g, p), expected),
        verify.max_abs_diff(act.maxout_grad(x.T, g.T, p, axis=0), expected.T),
        verify.max_abs_diff(vjp(lambda v: act.maxout(v, p), x, g), expected),
    )
