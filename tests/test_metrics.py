"""Behaviour of nndl_jax.metrics: errors, jit with a static num_classes, scores, dtypes, and
property tests against sklearn.metrics on random label arrays.

Fixed-seed agreement with scikit-learn for every average is in the verification registry
(nndl_jax/verify/metrics.py), which tests/verify runs.
"""

import doctest
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn import metrics as sk

from nndl_jax import metrics

Y_TRUE = jnp.array([0, 1, 2, 2, 1, 0, 2, 1])
Y_PRED = jnp.array([0, 2, 2, 1, 1, 0, 2, 0])
SCORES = jax.nn.one_hot(Y_PRED, 3) + 0.01 * jnp.arange(3)  # argmax is Y_PRED
SCORE_FNS = [metrics.precision, metrics.recall, metrics.f1]


def test_docstring_examples():
    assert doctest.testmod(metrics).failed == 0


def test_book_formulas_by_hand():
    # class 0: TP 2, FP 1, FN 0; class 1: TP 1, FP 1, FN 2; class 2: TP 2, FP 1, FN 1
    np.testing.assert_allclose(metrics.accuracy(Y_TRUE, Y_PRED), 5 / 8, atol=1e-7)
    np.testing.assert_allclose(metrics.error_rate(Y_TRUE, Y_PRED), 3 / 8, atol=1e-7)
    p, r = np.array([2 / 3, 1 / 2, 2 / 3]), np.array([1.0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(metrics.precision(Y_TRUE, Y_PRED, average=None), p, atol=1e-7)
    np.testing.assert_allclose(metrics.recall(Y_TRUE, Y_PRED, average=None), r, atol=1e-7)
    np.testing.assert_allclose(
        metrics.f1(Y_TRUE, Y_PRED, average="macro"), np.mean(2 * p * r / (p + r)), atol=1e-7
    )
    chex.assert_trees_all_equal(
        metrics.confusion_matrix(Y_TRUE, Y_PRED),
        jnp.array([[2, 0, 0], [1, 1, 1], [0, 1, 2]], jnp.int32),
    )


def test_zero_division_gives_zero():
    y_true, y_pred = jnp.array([0, 0, 1, 1]), jnp.array([0, 0, 0, 0])  # class 1 never predicted
    assert metrics.precision(y_true, y_pred) == 0.0
    assert metrics.recall(y_true, y_pred) == 0.0
    assert metrics.f1(y_true, y_pred) == 0.0
    # a binary sample with only the negative class: every score of the positive class is 0/0
    zeros = jnp.zeros(4, jnp.int32)
    assert metrics.f1(zeros, zeros) == 0.0 and metrics.precision(zeros, zeros) == 0.0


# --------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "fn", [metrics.accuracy, metrics.error_rate, metrics.confusion_matrix, *SCORE_FNS]
)
def test_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"y_true.shape=\(8,\).*y_pred.shape=\(7,\)"):
        fn(Y_TRUE, Y_PRED[:7])
    with pytest.raises(ValueError, match=r"y_true.shape=\(8,\).*y_pred.shape=\(8, 3, 1\)"):
        fn(Y_TRUE, SCORES[..., None])


def test_labels_outside_range_are_reported():
    with pytest.raises(ValueError, match=r"y_true has labels outside \[0, 2\).*\[2, 2, 2\]"):
        metrics.confusion_matrix(Y_TRUE, Y_PRED % 2, num_classes=2)
    with pytest.raises(ValueError, match=r"y_pred has labels outside \[0, 3\).*\[-1\]"):
        metrics.f1(Y_TRUE, Y_PRED.at[0].set(-1), average="macro", num_classes=3)
    with pytest.raises(ValueError, match="labels must be >= 0"):
        metrics.f1(Y_TRUE, Y_PRED.at[0].set(-1), average="macro")


def test_binary_average_needs_two_classes():
    with pytest.raises(ValueError, match=r"average='binary'.*3 classes.*'macro'"):
        metrics.precision(Y_TRUE, Y_PRED)
    with pytest.raises(ValueError, match=r"average='binary'.*3 classes"):
        metrics.f1(Y_TRUE % 2, Y_PRED % 2, num_classes=3)
    with pytest.raises(ValueError, match="pos_label must be 0 or 1.*2"):
        metrics.recall(Y_TRUE % 2, Y_PRED % 2, pos_label=2)
    with pytest.raises(ValueError, match="pos_label must be an integer"):
        metrics.recall(Y_TRUE % 2, Y_PRED % 2, pos_label="yes")


def test_other_bad_arguments():
    with pytest.raises(ValueError, match=r"average must be one of.*'mean'"):
        metrics.f1(Y_TRUE, Y_PRED, average="mean")
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        metrics.confusion_matrix(Y_TRUE, Y_PRED, num_classes=0)
    with pytest.raises(ValueError, match=r"num_classes=4.*K=3"):
        metrics.f1(Y_TRUE, SCORES, average="macro", num_classes=4)
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy(jnp.zeros(0, jnp.int32), jnp.zeros(0, jnp.int32))
    with pytest.raises(ValueError, match="empty"):
        metrics.f1(jnp.zeros(0, jnp.int32), jnp.zeros(0, jnp.int32), average="macro")
    with pytest.raises(ValueError, match="integer class labels"):
        metrics.f1(Y_TRUE, Y_PRED + 0.5, average="macro")
    with pytest.raises(TypeError, match="complex"):
        metrics.accuracy(Y_TRUE.astype(jnp.complex64), Y_PRED)


# --------------------------------------------------------------------------------------------
# jit, scores, dtypes


def test_jit_with_static_num_classes_matches_eager_and_does_not_retrace():
    f1 = jax.jit(
        chex.assert_max_traces(metrics.f1, n=1), static_argnames=("average", "num_classes")
    )
    for seed in range(3):  # new values, same shapes: one trace
        y_true = jax.random.randint(jax.random.PRNGKey(seed), (8,), 0, 3)
        ours = f1(y_true, Y_PRED, average="macro", num_classes=3)
        np.testing.assert_allclose(ours, metrics.f1(y_true, Y_PRED, average="macro"), atol=1e-7)
    cm = jax.jit(metrics.confusion_matrix, static_argnums=2)(Y_TRUE, SCORES, 3)
    chex.assert_trees_all_equal(cm, metrics.confusion_matrix(Y_TRUE, Y_PRED, 3))
    accuracy = jax.jit(metrics.accuracy)(Y_TRUE, SCORES)
    np.testing.assert_allclose(accuracy, 5 / 8, atol=1e-7)


def test_jit_without_num_classes_says_to_pass_it():
    with pytest.raises(ValueError, match="num_classes must be given under jit"):
        jax.jit(lambda t, p: metrics.f1(t, p, average="macro"))(Y_TRUE, Y_PRED)


def test_under_jit_out_of_range_labels_are_dropped():
    bad = Y_PRED.at[0].set(5).at[1].set(-1)
    cm = jax.jit(metrics.confusion_matrix, static_argnums=2)(Y_TRUE, bad, 3)
    assert int(cm.sum()) == 6
    chex.assert_trees_all_equal(cm, metrics.confusion_matrix(Y_TRUE[2:], Y_PRED[2:], 3))


def test_scores_are_argmaxed():
    for fn in SCORE_FNS:
        np.testing.assert_allclose(
            fn(Y_TRUE, SCORES, average="macro"), fn(Y_TRUE, Y_PRED, average="macro"), atol=1e-7
        )
    np.testing.assert_allclose(metrics.accuracy(Y_TRUE, SCORES), 5 / 8, atol=1e-7)
    # binary logits of shape (n, 2)
    y = jnp.array([0, 1, 1, 0])
    logits = jnp.array([[2.0, -1.0], [0.0, 3.0], [1.0, 0.0], [0.5, 0.4]])
    np.testing.assert_allclose(metrics.recall(y, logits), 0.5, atol=1e-7)


def test_label_encodings_and_shapes():
    # bools, whole-number floats and numpy arrays are labels; any shape counts every entry
    t, p = np.array([True, False, True, True]), np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(metrics.f1(t, p), sk.f1_score(t, p.astype(bool)), atol=1e-7)
    grid_true, grid_pred = Y_TRUE.reshape(2, 4), Y_PRED.reshape(2, 4)
    chex.assert_trees_all_equal(
        metrics.confusion_matrix(grid_true, grid_pred), metrics.confusion_matrix(Y_TRUE, Y_PRED)
    )


def test_dtypes():
    assert metrics.f1(Y_TRUE, Y_PRED, average="macro").dtype == jnp.float32
    assert metrics.accuracy(Y_TRUE, Y_PRED).dtype == jnp.float32
    assert metrics.confusion_matrix(Y_TRUE, Y_PRED).dtype == jnp.int32
    assert metrics.recall(Y_TRUE, Y_PRED, average=None).shape == (3,)
    with jax.enable_x64(True):
        assert metrics.f1(np.asarray(Y_TRUE), np.asarray(Y_PRED), average="micro").dtype == (
            jnp.float64
        )


# --------------------------------------------------------------------------------------------
# properties against scikit-learn on random labels

# a few fixed lengths so that the compiled kernels are reused across examples
_labels = st.integers(2, 4).flatmap(
    lambda k: st.sampled_from([5, 24]).flatmap(
        lambda n: st.tuples(
            st.just(k),
            st.lists(st.integers(0, k - 1), min_size=n, max_size=n),
            st.lists(st.integers(0, k - 1), min_size=n, max_size=n),
        )
    )
)


@settings(max_examples=25, deadline=None)
@given(_labels, st.sampled_from(["binary", "macro", "micro", "weighted"]), st.integers(0, 1))
def test_scores_match_sklearn(labels, average, pos_label):
    k, y_true, y_pred = labels
    y_true, y_pred = np.array(y_true), np.array(y_pred)
    if average == "binary" and max(y_true.max(), y_pred.max()) > 1:
        average = "macro"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that pos_label is unused off "binary"
        for ours, reference in [
            (metrics.precision, sk.precision_score),
            (metrics.recall, sk.recall_score),
            (metrics.f1, sk.f1_score),
        ]:
            expected = reference(
                y_true, y_pred, average=average, pos_label=pos_label, zero_division=0
            )
            got = ours(y_true, y_pred, average=average, pos_label=pos_label)
            np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=f"{ours.__name__}")
    np.testing.assert_allclose(
        metrics.accuracy(y_true, y_pred), sk.accuracy_score(y_true, y_pred), atol=1e-6
    )


@settings(max_examples=25, deadline=None)
@given(_labels)
def test_confusion_matrix_matches_sklearn(labels):
    k, y_true, y_pred = labels
    ours = metrics.confusion_matrix(np.array(y_true), np.array(y_pred), num_classes=k)
    np.testing.assert_array_equal(ours, sk.confusion_matrix(y_true, y_pred, labels=range(k)))


def test_confusion_matrix_mask_counts_only_the_masked_in_examples():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    mask = rng.random(50) < 0.6
    ours = metrics.confusion_matrix(y, p, 4, mask=mask)
    np.testing.assert_array_equal(ours, sk.confusion_matrix(y[mask], p[mask], labels=range(4)))
    message = r"mask must have the shape of y_true \(50,\), got \(49,\)"
    with pytest.raises(ValueError, match=message):
        metrics.confusion_matrix(y, p, 4, mask=mask[:49])
