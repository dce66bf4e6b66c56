"""Behaviour of nndl_jax.losses: errors, reductions, jit, dtypes, the registry.

Agreement with optax (values, label smoothing, extreme logits, gradients) is checked by the
verification registry (nndl_jax/verify/losses.py), which tests/verify runs; not repeated here.
"""

import doctest

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import losses

LOGITS = jnp.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0], [1.0, 1.0, 1.0], [-0.5, 0.2, 4.0]])
LABELS = jnp.array([0, 1, 2, 2])
PROBS = jax.nn.softmax(jnp.array([[1.0, 0.0, -1.0]] * 4))


def test_docstring_examples():
    assert doctest.testmod(losses).failed == 0


def test_cross_entropy_closed_form():
    # uniform logits over K classes: the loss is log K whatever the label
    z = jnp.zeros((2, 4))
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(z, jnp.array([0, 3])), np.log(4.0), atol=1e-6
    )
    # integer labels and their one-hot rows are the same targets
    one_hot = jax.nn.one_hot(LABELS, 3)
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(LOGITS, LABELS),
        losses.softmax_cross_entropy(LOGITS, one_hot),
        atol=1e-6,
    )


# --------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "fn",
    [
        losses.squared_error,
        losses.l2_loss,
        losses.binary_cross_entropy,
        losses.hinge,
        losses.kl_divergence,
        losses.squared_error_grad,
        losses.binary_cross_entropy_grad,
    ],
)
def test_elementwise_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        fn(jnp.ones((4, 3)), jnp.ones((4, 2)))


def test_cross_entropy_label_shapes():
    with pytest.raises(ValueError, match=r"logits.shape\[:-1\]=\(4,\).*labels.shape=\(3,\)"):
        losses.softmax_cross_entropy(LOGITS, LABELS[:3])
    with pytest.raises(ValueError, match=r"labels.shape=\(4, 2\).*logits.shape=\(4, 3\)"):
        losses.softmax_cross_entropy(LOGITS, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"scores.shape\[:-1\]"):
        losses.multiclass_hinge(LOGITS, LABELS[:3])
    with pytest.raises(ValueError, match="class axis"):
        losses.softmax_cross_entropy(jnp.float32(1.0), jnp.int32(0))


def test_cross_entropy_label_dtypes():
    with pytest.raises(TypeError, match="bool"):
        losses.softmax_cross_entropy(LOGITS, LABELS == 1)
    with pytest.raises(TypeError, match="integer"):
        losses.multiclass_hinge(LOGITS, LABELS.astype(jnp.float32))


def test_cross_entropy_num_classes_must_match():
    assert losses.softmax_cross_entropy(LOGITS, LABELS, num_classes=3).shape == (4,)
    with pytest.raises(ValueError, match=r"num_classes=5.*K=3"):
        losses.softmax_cross_entropy(LOGITS, LABELS, num_classes=5)


def test_labels_out_of_range_raise_outside_jit_and_give_nan_inside():
    bad = LABELS.at[1].set(3)
    with pytest.raises(ValueError, match=r"outside \[0, 3\).*\[3\]"):
        losses.softmax_cross_entropy(LOGITS, bad)
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        losses.multiclass_hinge(LOGITS, LABELS.at[0].set(-1))
    out = jax.jit(losses.softmax_cross_entropy)(LOGITS, bad.at[2].set(-1))
    assert np.isnan(out[1]) and np.isnan(out[2])
    np.testing.assert_allclose(
        out[::3], losses.softmax_cross_entropy(LOGITS, LABELS)[::3], atol=1e-6
    )


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan")])
def test_label_smoothing_range(eps):
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=eps)


def test_hinge_rejects_zero_one_labels():
    with pytest.raises(ValueError, match=r"-1 or \+1.*\[0\]"):
        losses.hinge(jnp.ones(3), jnp.array([0, 1, 1]))
    # under jit the values are unknown: no check, no error
    assert jax.jit(losses.hinge)(jnp.ones(3), jnp.array([-1, 1, 1])).shape == (3,)


def test_bad_reduction():
    with pytest.raises(ValueError, match=r"reduction must be one of.*'avg'"):
        losses.squared_error(jnp.ones(2), jnp.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        losses.softmax_cross_entropy_grad(LOGITS, LABELS, reduction="none")


# --------------------------------------------------------------------------------------------
# reductions, gradients, jit, dtypes


@pytest.mark.parametrize(
    "fn,target",
    [
        (losses.squared_error, PROBS),
        (losses.softmax_cross_entropy, LABELS),
        (losses.binary_cross_entropy, PROBS),
        (losses.multiclass_hinge, LABELS),
        (losses.kl_divergence_with_logits, PROBS),
    ],
)
def test_reductions(fn, target):
    per = fn(LOGITS, target)
    np.testing.assert_allclose(fn(LOGITS, target, reduction="mean"), jnp.mean(per), atol=1e-6)
    np.testing.assert_allclose(fn(LOGITS, target, reduction="sum"), jnp.sum(per), atol=1e-5)
    assert fn(LOGITS, target, reduction="mean").shape == ()


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize(
    "loss,grad,target",
    [
        (losses.softmax_cross_entropy, losses.softmax_cross_entropy_grad, LABELS),
        (losses.squared_error, losses.squared_error_grad, PROBS),
        (losses.binary_cross_entropy, losses.binary_cross_entropy_grad, PROBS),
    ],
)
def test_analytic_gradients_match_autodiff_of_our_losses(loss, grad, target, reduction):
    chex.assert_trees_all_close(
        grad(LOGITS, target, reduction=reduction),
        jax.grad(lambda z: loss(z, target, reduction=reduction))(LOGITS),
        atol=1e-6,
    )


def test_analytic_cross_entropy_gradient_with_smoothing():
    smoothed = lambda z: losses.softmax_cross_entropy(
        z, LABELS, label_smoothing=0.2, reduction="mean"
    )
    chex.assert_trees_all_close(
        losses.softmax_cross_entropy_grad(LOGITS, LABELS, label_smoothing=0.2, reduction="mean"),
        jax.grad(smoothed)(LOGITS),
        atol=1e-6,
    )


def test_unnormalised_targets_gradient():
    # the gradient is softmax(z) * sum(y) - y, not softmax(z) - y, when y does not sum to one
    y = 2.0 * PROBS
    chex.assert_trees_all_close(
        losses.softmax_cross_entropy_grad(LOGITS, y),
        jax.grad(lambda z: losses.softmax_cross_entropy(z, y, reduction="sum"))(LOGITS),
        atol=1e-6,
    )


def test_extreme_logits_stay_finite_for_every_logit_loss():
    z = jnp.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]])
    y = jnp.array([1, 0, 2])
    cases = [
        (losses.softmax_cross_entropy, y),
        (losses.multiclass_hinge, y),
        (losses.binary_cross_entropy, jnp.ones_like(z) * 0.3),
        (losses.kl_divergence_with_logits, jnp.full_like(z, 1 / 3)),
    ]
    for fn, target in cases:
        loss = lambda v, fn=fn, t=target: fn(v, t, reduction="sum")
        value, grad = jax.jit(jax.value_and_grad(loss))(z)
        assert np.isfinite(value) and np.all(np.isfinite(grad)), fn.__name__


def test_jit_matches_eager():
    jitted = jax.jit(losses.softmax_cross_entropy, static_argnames=("label_smoothing", "reduction"))
    np.testing.assert_allclose(
        jitted(LOGITS, LABELS, label_smoothing=0.1, reduction="mean"),
        losses.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=0.1, reduction="mean"),
        atol=1e-6,
    )


def test_dtypes():
    assert losses.softmax_cross_entropy(LOGITS, LABELS).dtype == jnp.float32
    # integer predictions are promoted to the default float; bfloat16 logits keep their dtype
    assert losses.squared_error(jnp.array([1, 2]), jnp.array([0, 0])).dtype == jnp.float32
    assert losses.softmax_cross_entropy(LOGITS.astype(jnp.bfloat16), LABELS).dtype == jnp.bfloat16
    assert (
        losses.binary_cross_entropy(LOGITS.astype(jnp.bfloat16), PROBS > 0.3).dtype == jnp.bfloat16
    )
    with jax.enable_x64(True):
        z = jnp.asarray(np.asarray(LOGITS), jnp.float64)
        assert losses.softmax_cross_entropy(z, LABELS).dtype == jnp.float64
        assert losses.softmax_cross_entropy_grad(z, LABELS).dtype == jnp.float64


# --------------------------------------------------------------------------------------------
# registry


def test_registry():
    assert losses.get("mse") is losses.squared_error
    assert losses.get("softmax_cross_entropy") is losses.softmax_cross_entropy
    assert losses.get(losses.hinge) is losses.hinge
    assert "binary_cross_entropy" in losses.names() and losses.names() == sorted(losses.names())
    with pytest.raises(ValueError, match=r"unknown loss 'msee'.*mse.*softmax_cross_entropy"):
        losses.get("msee")


def test_binary_cross_entropy_keeps_the_small_loss_of_a_confident_right_answer():
    # y = 1 with z >> 0: the exact loss is log1p(exp(-z)) and the gradient -σ(-z). Written as
    # softplus(z) - y z the loss rounded to 0 (float32, z = 16) or to the spacing at z
    # (bfloat16, z = 4: 0.031 for 0.018); optax.losses.sigmoid_binary_cross_entropy keeps it.
    z = jnp.array([4.0, 10.0, 16.0, 20.0, -4.0, -16.0])
    y = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    z64, y64 = np.asarray(z, np.float64), np.asarray(y, np.float64)
    exact = np.log1p(np.exp(-np.abs(z64)))
    exact_grad = 1.0 / (1.0 + np.exp(-z64)) - y64
    for dtype, rtol in ((jnp.float32, 1e-6), (jnp.bfloat16, 1e-2)):
        zd, yd = z.astype(dtype), y.astype(dtype)
        value = losses.binary_cross_entropy(zd, yd)
        assert value.dtype == dtype
        np.testing.assert_allclose(np.asarray(value, np.float64), exact, rtol=rtol)
        analytic = losses.binary_cross_entropy_grad(zd, yd)
        autodiff = jax.grad(lambda v, yd=yd: losses.binary_cross_entropy(v, yd, reduction="sum"))
        for grad in (analytic, autodiff(zd)):
            np.testing.assert_allclose(np.asarray(grad, np.float64), exact_grad, rtol=rtol)
    # second derivative σ(z)σ(-z), also at the kink of |z| (z = 0) and for soft labels
    zs = jnp.array([-30.0, -2.0, 0.0, 2.0, 30.0])
    hess = jax.vmap(jax.grad(jax.grad(lambda v: losses.binary_cross_entropy(v, jnp.float32(0.3)))))
    np.testing.assert_allclose(
        hess(zs), jax.nn.sigmoid(zs) * jax.nn.sigmoid(-zs), rtol=1e-5, atol=1e-30
    )
