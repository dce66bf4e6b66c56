"""The compiled epoch: same result as a step-by-step loop, masks, sums, no recompilation."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion

from nndl_jax import data, nn, optim
from nndl_jax.nn.activation_layers import Activation
from nndl_jax.train import backprop
from nndl_jax.train.epoch import (
    TrainState,
    accepts_mask,
    epoch_plan,
    make_epoch,
    make_evaluate,
    make_train_step,
)
from nndl_jax.train.history import summarize
from nndl_jax.train.loop import make_loss

N, D, K, BATCH = 50, 5, 3, 8  # 7 batches, the last padded with 6 repeats


LR = 0.3


@pytest.fixture(scope="module")
def problem():
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (N, D))
    y = jax.random.randint(ky, (N,), 0, K)
    model = nn.serial(nn.Dense(6), Activation("tanh"), nn.Dense(K))
    _, params, state = model.init(jax.random.key(1), (-1, D))
    return x, y, model, params, state


@pytest.fixture(scope="module")
def sgd_step(problem):
    """Plain SGD on the cross-entropy: one step function, jitted once for the module."""
    _, _, model, _, _ = problem
    step = make_train_step(model.apply, loss_fn=make_loss("cross_entropy"),
                           optimizer=optim.sgd(LR), num_classes=K)  # fmt: skip
    return step, jax.jit(step)


def _state(params, model_state, opt):
    return TrainState(params, model_state, opt.init(params))


def test_epoch_plan():
    assert epoch_plan(50, 8) == (7, 6)
    assert epoch_plan(50, 8, drop_last=True) == (6, 0)
    assert epoch_plan(48, 8) == (6, 0)
    assert epoch_plan(5, 1) == (5, 0)
    with pytest.raises(ValueError, match="batch_size must be at most the number of training"):
        epoch_plan(5, 6)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        epoch_plan(5, 0)


def test_scanned_epoch_equals_a_python_loop_of_steps(problem, sgd_step):
    x, y, _, params, mstate = problem
    step, jstep = sgd_step
    epoch = make_epoch(step, num_samples=N, batch_size=BATCH)
    key = jax.random.key(5)
    scanned, stats = epoch(_state(params, mstate, optim.sgd(LR)), key, x, y)

    # the reference: the same batches, one jitted step at a time from Python
    k_order, k_steps = jax.random.split(key)
    idx, mask = data.minibatch_indices(k_order, N, BATCH)
    keys = jax.random.split(k_steps, idx.shape[0])
    state, losses = _state(params, mstate, optim.sgd(LR)), []
    for i in range(idx.shape[0]):
        state, s = jstep(state, x[idx[i]], y[idx[i]], mask[i], keys[i])
        losses.append(float(s.step_losses[0]))
    chex.assert_trees_all_close(scanned.params, state.params, atol=1e-6)
    np.testing.assert_allclose(stats.step_losses, losses, atol=1e-6)
    assert int(stats.count) == N and int(stats.confusion.sum()) == N


def _padded_step_error(problem, jstep, dtype):
    """Our step on a batch of 3 real rows + 5 masked repeats against plain gradient descent on
    the real rows alone (jax.grad of optax's cross-entropy); returns the largest difference."""
    x, y, model, params, mstate = problem
    x = x.astype(dtype)
    params = jax.tree.map(lambda a: a.astype(dtype), params)
    real = 3
    padded_x = jnp.concatenate([x[:real], x[:5]])
    padded_y = jnp.concatenate([y[:real], y[:5]])
    mask = jnp.arange(BATCH) < real
    state = _state(params, mstate, optim.sgd(LR))
    new, stats = jstep(state, padded_x, padded_y, mask, jax.random.key(0))

    @jax.jit
    def reference(p):
        loss = lambda q: optax.softmax_cross_entropy_with_integer_labels(
            model.apply(q, mstate, x[:real])[0], y[:real]
        ).mean()
        value, grads = jax.value_and_grad(loss)(p)
        return value, jax.tree.map(lambda a, g: a - LR * g, p, grads)

    value, ref = reference(params)
    assert int(stats.count) == real and int(stats.confusion.sum()) == real
    assert all(leaf.dtype == dtype for leaf in jax.tree.leaves(new.params))
    diffs = [np.max(np.abs(a - b)) for a, b in zip(jax.tree.leaves(new.params),
                                                   jax.tree.leaves(ref), strict=True)]  # fmt: skip
    return max(*diffs, float(abs(stats.loss_sum / real - value)))


def test_padded_batch_update_equals_the_update_on_real_samples_only(problem, sgd_step):
    assert _padded_step_error(problem, sgd_step[1], jnp.float32) <= 1e-6


def test_padded_batch_update_in_float64(problem, sgd_step):
    with jax.enable_x64(True):
        assert _padded_step_error(problem, jax.jit(sgd_step[0]), jnp.float64) <= 1e-12


def test_running_metrics_with_frozen_params_match_sklearn_and_optax(problem):
    """With a zero learning rate the running metrics are the model's; drop_last counts 48."""
    x, y, model, params, mstate = problem
    opt = optim.sgd(0.0)
    step = make_train_step(model.apply, loss_fn=make_loss("cross_entropy"), optimizer=opt,
                           num_classes=K)  # fmt: skip
    epoch = make_epoch(step, num_samples=N, batch_size=BATCH, drop_last=True)
    key = jax.random.key(3)
    _, stats = epoch(_state(params, mstate, opt), key, x, y)
    used = np.asarray(data.minibatch_indices(jax.random.split(key)[0], N, BATCH,
                                             drop_last=True)[0]).ravel()  # fmt: skip
    assert int(stats.count) == 48 and stats.step_losses.shape == (6,) and len(set(used)) == 48
    evaluate = make_evaluate(model.apply, loss_fn=make_loss("cross_entropy"), num_classes=K)
    logits = model.apply(params, mstate, x)[0]
    pred = np.asarray(jnp.argmax(logits, -1))
    np.testing.assert_array_equal(
        stats.confusion, sk_confusion(y[used], pred[used], labels=range(K))
    )
    per_example = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    np.testing.assert_allclose(stats.loss_sum / 48, per_example[used].mean(), atol=1e-6)
    ev = evaluate(params, mstate, x, y)
    np.testing.assert_array_equal(ev.confusion, sk_confusion(y, pred, labels=range(K)))
    scores = summarize(ev.loss_sum, ev.count, ev.confusion)
    np.testing.assert_allclose(scores["loss"], per_example.mean(), atol=1e-6)


def test_no_recompilation_between_epochs(problem, sgd_step):
    x, y, _, params, mstate = problem
    step, _ = sgd_step
    plain = make_epoch(step, num_samples=N, batch_size=BATCH, jit=False)
    epoch = jax.jit(chex.assert_max_traces(plain, n=1))
    state = _state(params, mstate, optim.sgd(LR))
    for e in range(4):  # a new key and new state every epoch: still one trace
        state, _ = epoch(state, jax.random.fold_in(jax.random.key(0), e), x, y)
    with pytest.raises(ValueError, match=r"built for 50 samples, got x.shape=\(40, 5\)"):
        plain(state, jax.random.key(0), x[:40], y[:40])
    with pytest.raises(ValueError, match="unroll must be a positive integer"):
        make_epoch(step, num_samples=N, batch_size=BATCH, unroll=0)


def test_manual_backprop_grad_fn_gives_the_autodiff_step_on_a_padded_batch(problem):
    x, y, _, _, _ = problem
    layer = backprop.mlp_as_layer([D, 6, K], "tanh")
    _, params, mstate = layer.init(jax.random.key(1), (-1, D))
    grad_fn = backprop.mlp_grad_fn(activation="tanh")
    assert accepts_mask(grad_fn) and not accepts_mask(lambda p, x, y: None)
    opt = optim.momentum(0.1)
    mask = jnp.arange(BATCH) < 5
    results = []
    for fn in (None, grad_fn):
        step = make_train_step(
            layer.apply, loss_fn=make_loss("cross_entropy"), optimizer=opt, num_classes=K,
            grad_fn=fn, l2=1e-2,
        )  # fmt: skip
        state = _state(params, mstate, opt)
        results.append(jax.jit(step)(state, x[:BATCH], y[:BATCH], mask, jax.random.key(4)))
    (auto, auto_stats), (manual, manual_stats) = results
    chex.assert_trees_all_close(auto.params, manual.params, atol=1e-6)
    chex.assert_trees_all_close(auto.opt_state, manual.opt_state, atol=1e-6)
    np.testing.assert_allclose(auto_stats.step_losses, manual_stats.step_losses, atol=1e-6)
    np.testing.assert_array_equal(auto_stats.confusion, manual_stats.confusion)


def test_dropout_model_draws_new_masks_for_new_keys(problem):
    x, y, _, _, _ = problem
    model = nn.serial(nn.Dense(6), nn.Dropout(0.5), nn.Dense(K))
    _, params, mstate = model.init(jax.random.key(1), (-1, D))
    opt = optim.sgd(0.1)
    step = make_train_step(model.apply, loss_fn=make_loss("cross_entropy"), optimizer=opt,
                           num_classes=K)  # fmt: skip
    epoch = make_epoch(step, num_samples=N, batch_size=N)  # one full batch: order irrelevant
    a = epoch(_state(params, mstate, opt), jax.random.key(0), x, y)[1].step_losses
    b = epoch(_state(params, mstate, opt), jax.random.key(1), x, y)[1].step_losses
    c = epoch(_state(params, mstate, opt), jax.random.key(0), x, y)[1].step_losses
    assert float(a[0]) != float(b[0])  # different dropout masks
    np.testing.assert_array_equal(a, c)  # same key, same masks
