"""Inputs met by probing from outside: int64 labels JAX would wrap, masked padding slots,
overflowing swish derivatives, 0-d array hyperparameters, a -inf logit under full smoothing."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion

from nndl_jax import losses, metrics
from nndl_jax.nn import activations as A
from nndl_jax.train import backprop, regularization

BIG = np.array([0, 2**32 + 1], np.int64)  # without x64, jnp.asarray makes this [0, 1]


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.accuracy(np.array([0, 1]), BIG),
        lambda: metrics.confusion_matrix(BIG, np.array([0, 1]), 2),
        lambda: metrics.f1(np.array([0, 1]), BIG, num_classes=2),
        lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), BIG),
        lambda: losses.multiclass_hinge(jnp.zeros((2, 3)), BIG),
    ],
)
def test_int64_labels_beyond_int32_are_refused_not_wrapped(call):
    # the wrapping happens without x64 only; pin that mode whatever the session's default
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match=r"outside the int32 range .* e\.g\. \[4294967297\]"):
            call()


def test_backprop_refuses_wrapped_labels():
    with jax.enable_x64(False):
        params = backprop.mlp_init(jax.random.key(0), [3, 4, 2])
        with pytest.raises(ValueError, match="outside the int32 range"):
            backprop.mlp_grads(params, jnp.ones((2, 3)), BIG)


def test_with_x64_the_labels_keep_their_values():
    with jax.enable_x64(True):
        from nndl_jax._validate import as_label_array

        np.testing.assert_array_equal(as_label_array("y", BIG), BIG)


def test_confusion_matrix_ignores_masked_slots_when_checking_and_counting_classes():
    y_true, y_pred = np.array([0, 1, -1, 9]), np.array([0, 1, 0, 7])
    mask = np.array([True, True, False, False])
    ref = sk_confusion(y_true[mask], y_pred[mask], labels=[0, 1])
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, 2, mask=mask), ref)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, mask=mask), ref)
    with pytest.raises(ValueError, match=r"y_true has labels outside \[0, 2\)"):
        metrics.confusion_matrix(y_true, y_pred, 2, mask=np.array([True, True, True, False]))


@pytest.mark.parametrize("dtype, x", [(jnp.float16, 1e4), (jnp.float32, 3e38)])
def test_swish_grad_is_finite_where_beta_x_overflows(dtype, x):
    xs = jnp.array([x, -x], dtype)
    want = jax.vmap(jax.grad(lambda t: A.swish(t, 10.0)))(xs)
    got = A.swish_grad(xs, beta=10.0)
    np.testing.assert_array_equal(np.asarray(got, np.float32), [1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(want, np.float32))
    assert got.dtype == dtype


@pytest.mark.parametrize("slope", [jnp.array(-1.0), jnp.array(0.0), np.array(np.inf)])
def test_hard_sigmoid_checks_a_0d_array_slope(slope):
    for fn in (A.hard_sigmoid, A.hard_sigmoid_grad):
        with pytest.raises(ValueError, match="slope must be a finite number > 0"):
            fn(jnp.array([-1.0, 0.0, 1.0]), slope)


def test_hard_sigmoid_takes_a_positive_0d_array_slope():
    x = jnp.array([-4.0, 0.5, 4.0])
    np.testing.assert_allclose(A.hard_sigmoid(x, jnp.array(0.25)), A.hard_sigmoid(x, 0.25))


@pytest.mark.parametrize("rate", [2.0, -0.5, 1.0, float("nan")])
def test_decay_weights_refuses_a_rate_outside_0_1(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        regularization.decay_weights({"w": jnp.zeros(2)}, {"w": jnp.ones(2)}, rate)


def test_full_smoothing_with_the_label_on_a_minus_inf_logit_is_inf_like_optax():
    z = jnp.array([[0.0, -jnp.inf, 1.0]])
    ref = optax.softmax_cross_entropy(
        z, optax.smooth_labels(jax.nn.one_hot(jnp.array([1]), 3), 1.0)
    )
    got = losses.softmax_cross_entropy(z, jnp.array([1]), label_smoothing=1.0)
    assert float(ref[0]) == float(got[0]) == np.inf
    # below ε = 1 the label's -inf logit still dominates
    assert float(losses.softmax_cross_entropy(z, jnp.array([1]), label_smoothing=0.5)[0]) == np.inf


def test_numpy_float64_hyperparameters_keep_the_input_dtype():
    x = jnp.array([-1.0, 2.0], jnp.float32)
    for fn, arg in [
        (A.leaky_relu, np.float64(0.1)),
        (A.leaky_relu_grad, np.float64(0.1)),
        (A.elu, np.float64(0.5)),
        (A.elu_grad, np.float64(0.5)),
        (A.swish, np.float64(2.0)),
        (A.swish_grad, np.float64(2.0)),
    ]:
        assert fn(x, arg).dtype == jnp.float32, fn.__name__


def test_the_smoothing_derivative_at_one_matches_the_one_hot_path_and_optax():
    z, y = jnp.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]), jnp.array([0, 2])

    def ours(eps):
        return losses.softmax_cross_entropy(z, y, label_smoothing=eps, reduction="sum")

    def ref(eps):
        return jnp.sum(
            optax.softmax_cross_entropy(z, optax.smooth_labels(jax.nn.one_hot(y, 3), eps))
        )

    for eps in (0.3, 1.0):
        np.testing.assert_allclose(jax.grad(ours)(eps), jax.grad(ref)(eps), rtol=1e-5)


def test_a_traced_dropout_train_flag_is_a_clear_type_error():
    from nndl_jax.nn.dropout import Dropout, dropout

    key, x = jax.random.key(0), jnp.ones(3)
    with pytest.raises(TypeError, match="train must be a Python bool, static under jit"):
        jax.jit(lambda t: dropout(x, 0.3, key=key, train=t))(True)
    layer = Dropout(0.3)
    with pytest.raises(TypeError, match="train must be a Python bool"):
        jax.jit(lambda t: layer.apply({}, {}, x, key=key, train=t))(True)
