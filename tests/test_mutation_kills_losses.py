"""Tests added by a mutation-testing audit of losses, metrics, validation and JSON helpers.

Each test pins a behaviour that a small source change left unnoticed. References are
independent: optax, scikit-learn, or closed forms written here with NumPy.
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from nndl_jax import _validate, losses, metrics
from nndl_jax._json import jsonable
from nndl_jax.train import augment, regularization


def test_num_classes_is_inferred_from_predictions_as_well():
    """Without num_classes, K = max over y_true *and* y_pred + 1: a class only predicted must
    not be refused as out of range (sklearn's label set, per-class and macro)."""
    y_true = np.array([0, 1, 1, 0, 1])
    y_pred = np.array([0, 2, 1, 1, 1])
    for ours, ref in (
        (metrics.precision, precision_score),
        (metrics.recall, recall_score),
        (metrics.f1, f1_score),
    ):
        per_class = ours(y_true, y_pred, average=None)
        want = ref(y_true, y_pred, labels=[0, 1, 2], average=None, zero_division=0)
        np.testing.assert_allclose(np.asarray(per_class), want, rtol=1e-6)
        macro = ours(y_true, y_pred, average="macro")
        want = ref(y_true, y_pred, average="macro", zero_division=0)
        np.testing.assert_allclose(float(macro), want, rtol=1e-6)
    assert metrics.confusion_matrix(y_true, y_pred).shape == (3, 3)


def test_label_smoothing_one_is_accepted_and_gives_the_uniform_law():
    """The message promises label_smoothing in [0, 1]: 1 itself is accepted (targets become
    1/K, as optax.smooth_labels) and anything above 1 is refused."""
    logits = jnp.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    one_hot = jnp.eye(3)[jnp.array([0, 2])]
    np.testing.assert_allclose(
        losses.smooth_labels(one_hot, 1.0), optax.smooth_labels(one_hot, 1.0)
    )
    want = optax.softmax_cross_entropy(logits, jnp.full((2, 3), 1.0 / 3.0))
    for labels in (one_hot, jnp.array([0, 2])):
        got = losses.softmax_cross_entropy(logits, labels, label_smoothing=1.0)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.softmax_cross_entropy(logits, one_hot, label_smoothing=1.0 + 1e-6)


def test_seed_boundary_matches_the_message():
    """check_seed accepts 2**32 - 1 and refuses 2**32 ('must be below 2**32')."""
    assert _validate.check_seed("seed", 2**32 - 1) == 2**32 - 1
    assert _validate.check_seed("seed", 0) == 0
    with pytest.raises(ValueError, match="below 2"):
        _validate.check_seed("seed", 2**32)


def test_non_negative_checks_refuse_infinity_and_accept_zero():
    """'a finite number >= 0': 0 is accepted, +inf refused (penalty coefficients, noise std)."""
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    assert float(regularization.penalty(params, l1=0.0, l2=0.0)) == 0.0
    x = jnp.ones((2, 3))
    np.testing.assert_array_equal(augment.add_noise(jax.random.key(0), x, 0.0), x)
    with pytest.raises(ValueError, match="finite"):
        regularization.penalty(params, l2=math.inf)
    with pytest.raises(ValueError, match="finite"):
        regularization.penalty_grad(params, l1=math.inf)
    with pytest.raises(ValueError, match="finite"):
        augment.add_noise(jax.random.key(0), x, math.inf)


def test_check_positive_boundary_is_exclusive():
    """'a finite number > 0': 0 is refused, the smallest positive float accepted."""
    assert _validate.check_positive("x", 5e-324) > 0
    for bad in (0.0, 0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="> 0"):
            _validate.check_positive("x", bad)


def test_jsonable_makes_strict_json_of_numpy_values():
    """NaN and ±Inf become null and NumPy scalars plain Python numbers, so strict json.dumps
    (allow_nan=False, no default=) succeeds and round-trips."""
    value = {
        "nan": np.float32("nan"),
        "inf": math.inf,
        "ninf": np.float64("-inf"),
        "i": np.int64(3),
        "flag": np.bool_(True),
        "arr": np.array([1.5, np.inf]),
        "jax": jnp.array([1, 2], jnp.int32),
    }
    out = jsonable(value)
    assert type(out["i"]) is int and type(out["flag"]) is bool
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == {
        "nan": None,
        "inf": None,
        "ninf": None,
        "i": 3,
        "flag": True,
        "arr": [1.5, None],
        "jax": [1, 2],
    }


@pytest.mark.parametrize("bad", [2.0, 0.5, 0.0, -3.0])
def test_hinge_refuses_labels_other_than_plus_minus_one(bad):
    """hinge labels must be exactly -1 or +1; 0, 0.5, 2 and -3 are refused outside jit."""
    scores = jnp.array([0.3, -0.2])
    with pytest.raises(ValueError, match="-1 or \\+1"):
        losses.hinge(scores, jnp.array([1.0, bad]))
    want = optax.losses.hinge_loss(scores, jnp.array([1.0, -1.0]))
    np.testing.assert_allclose(losses.hinge(scores, jnp.array([1.0, -1.0])), want)


def test_traced_label_smoothing_works_under_jit():
    """A label_smoothing traced by jit (no truth value) is applied, for integer and one-hot
    labels and the gradient: against optax with optax.smooth_labels targets."""
    logits = jnp.array([[1.0, -0.5, 2.0], [0.2, 0.1, -1.0]])
    idx = jnp.array([2, 0])
    one_hot = jax.nn.one_hot(idx, 3)
    eps = 0.2
    target = optax.smooth_labels(one_hot, eps)
    want = optax.softmax_cross_entropy(logits, target)
    want_grad = jax.grad(lambda z: optax.softmax_cross_entropy(z, target).sum())(logits)
    for labels in (idx, one_hot):
        got = jax.jit(lambda e, y: losses.softmax_cross_entropy(logits, y, label_smoothing=e))
        np.testing.assert_allclose(got(eps, labels), want, rtol=1e-5)
        grad = jax.jit(lambda e, y: losses.softmax_cross_entropy_grad(logits, y, label_smoothing=e))
        np.testing.assert_allclose(grad(eps, labels), want_grad, rtol=1e-5, atol=1e-7)


def test_degenerate_intervals_are_accepted_as_the_message_says():
    """sinusoid_tasks takes (low, high) with low <= high: equal ends give that constant."""
    from nndl_jax.data import sinusoid_tasks

    tasks = sinusoid_tasks(jax.random.key(0), 3, 4, amplitude=(2.0, 2.0), phase=(0.5, 0.5))
    np.testing.assert_array_equal(np.asarray(tasks.amplitude), np.full(3, 2.0, np.float32))
    x = np.asarray(tasks.x, np.float64)
    np.testing.assert_allclose(np.asarray(tasks.y), 2.0 * np.sin(x - 0.5), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="low <= high"):
        sinusoid_tasks(jax.random.key(0), 3, 4, amplitude=(2.0, 1.0))


def test_max_rotation_of_180_degrees_is_accepted():
    """'max_rotation must be in [0, 180] degrees': 180 is accepted, just above refused."""
    images = jnp.zeros((2, 5, 5)).at[:, 2, 2].set(1.0)
    out = augment.random_affine(jax.random.key(1), images, max_shift=0, max_rotation=180.0)
    assert out.shape == images.shape
    np.testing.assert_allclose(np.asarray(out)[:, 2, 2], 1.0, atol=1e-5)  # the centre is fixed
    with pytest.raises(ValueError, match=r"\[0, 180\]"):
        augment.random_affine(jax.random.key(1), images, max_shift=0, max_rotation=180.5)


def test_kl_divergence_with_logits_normalises_unnormalised_logits():
    """The logits are turned into log softmax first: shifted, unnormalised logits give
    KL(p || softmax(z)) as a NumPy closed form and optax.losses.kl_divergence of log_softmax."""
    logits = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 7.5]])
    targets = np.array([[0.2, 0.3, 0.5], [0.0, 0.4, 0.6]])
    q = np.exp(logits - logits.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    safe = np.where(targets > 0, targets, 1.0)
    want = np.sum(np.where(targets > 0, targets * np.log(safe / q), 0.0), axis=-1)
    got = losses.kl_divergence_with_logits(jnp.asarray(logits), jnp.asarray(targets))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    ref = optax.losses.kl_divergence(jax.nn.log_softmax(jnp.asarray(logits)), targets)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    mean = losses.kl_divergence_with_logits(logits, targets, reduction="mean")
    np.testing.assert_allclose(float(mean), want.mean(), rtol=1e-5)


@pytest.mark.parametrize("num_classes", [2, 4])
def test_num_classes_must_equal_the_class_axis(num_classes):
    """num_classes is a check that K == num_classes: smaller and larger values both raise."""
    logits = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match="does not match"):
        losses.softmax_cross_entropy(logits, jnp.array([0, 1]), num_classes=num_classes)
    want = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.array([0, 1]))
    got = losses.softmax_cross_entropy(logits, jnp.array([0, 1]), num_classes=3)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_binary_pos_label_must_not_be_a_bool():
    """pos_label must be an integer class label: True is refused, 1 gives sklearn's score."""
    y_true, y_pred = np.array([0, 1, 1, 0]), np.array([1, 1, 0, 0])
    with pytest.raises(ValueError, match="pos_label"):
        metrics.precision(y_true, y_pred, pos_label=True)
    want = precision_score(y_true, y_pred, pos_label=0, zero_division=0)
    np.testing.assert_allclose(float(metrics.precision(y_true, y_pred, pos_label=0)), want)
