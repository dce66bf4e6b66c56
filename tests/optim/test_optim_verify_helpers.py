"""The twin comparison itself: its error statistic, and that it catches a wrong twin.

(Every registered ``optim.*`` check is run by ``tests/verify/test_registry.py``.)
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl_jax import optim, verify
from nndl_jax.verify import optim as verify_optim


def test_close_error_is_atol_exactly_at_the_allclose_boundary():
    rtol, atol = verify_optim.tolerances()
    assert (rtol, atol) == (1e-5, 1e-6)
    b = np.array([0.0, 1.0, -100.0])
    a = b + np.array([1e-6, 1e-6 + 1e-5, -(1e-6 + 1e-3)])  # each at its allclose limit
    assert verify_optim.close_error(a, b) == pytest.approx(atol, rel=1e-6)
    assert verify_optim.close_error(a * 1.01, b) > atol
    assert math.isnan(verify_optim.close_error([np.nan], [0.0]))
    assert verify_optim.close_error([np.inf], [np.inf]) == 0.0
    with pytest.raises(ValueError, match="structures differ"):
        verify_optim.close_error({"a": 1.0}, {"b": 1.0})


def test_the_mixed_tree_has_the_required_leaves():
    params = verify_optim.mixed_params()
    shapes = sorted(np.shape(x) for x in jax.tree.leaves(params))
    assert shapes == [(), (), (2, 3, 4), (3, 5), (7,), (7,)]
    assert set(params) == {"dense", "blocks", "pair"}
    assert isinstance(params["blocks"], list) and isinstance(params["pair"], tuple)


def _velocity_vs_trace(a, b):
    return a[0].velocity, b[0].trace


@pytest.mark.parametrize(
    "ours, theirs, state_map",
    [
        # the notes' momentum is not optax.sgd with the same rate
        (optim.momentum(0.05, 0.8), optax.sgd(0.05, momentum=0.8), _velocity_vs_trace),
        # optax's RMSProp default puts ε inside the root
        (
            optim.rmsprop(0.01, eps=1e-3),
            optax.rmsprop(0.01, eps=1e-3),
            lambda a, b: (a[0].nu, b[0].nu),
        ),
        # optax's AdaGrad default starts its accumulator at 0.1
        (
            optim.adagrad(0.1),
            optax.adagrad(0.1),
            lambda a, b: (a[0].sum_of_squares, b[0].sum_of_squares),
        ),
    ],
    ids=["momentum-form", "rmsprop-eps", "adagrad-initial"],
)
def test_a_wrong_twin_fails(ours, theirs, state_map):
    error = verify_optim.compare_with_optax(ours, theirs, state_map=state_map, steps=10)
    assert error > 100 * verify_optim.TOL


def test_a_right_twin_passes_with_explicit_inputs():
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)}
    grads = {"w": jnp.sin(jnp.arange(60.0)).reshape(10, 2, 3)}
    error = verify_optim.compare_with_optax(
        optim.adam(0.1),
        optax.adam(0.1),
        state_map=lambda a, b: ((a[0].count, a[0].mu, a[0].nu), (b[0].count, b[0].mu, b[0].nu)),
        params=params,
        grads=grads,
    )
    assert error <= verify_optim.TOL


def test_every_optimizer_and_schedule_is_registered():
    names = {c.name for c in verify.checks("optim.")}
    for optimizer in (
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adadelta",
        "adam",
        "adamw",
        "nadam",
        "amsgrad",
    ):
        assert f"optim.{optimizer}.twin" in names
        assert f"optim.{optimizer}.digits" in names
    for transform in (
        "clip_by_value",
        "clip_by_global_norm",
        "clip_by_norm",
        "skip_nonfinite",
        "flatten",
    ):
        assert f"optim.{transform}.twin" in names
    for schedule in (
        "constant",
        "piecewise_constant",
        "inverse_time_decay",
        "exponential_decay",
        "natural_exp_decay",
        "cosine_decay",
        "warmup",
        "triangular",
        "sgdr",
    ):
        assert f"optim.schedules.{schedule}" in names
