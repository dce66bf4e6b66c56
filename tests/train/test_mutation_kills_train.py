"""Tests added by mutation testing of fit, the epoch, history files and checkpoints.

Each compares the library with an independent reference: a NumPy minibatch-SGD loop following
the documented key derivation and masking, or a plain-Python early-stopping rule.
"""

import json
import math
import pathlib
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import data, nn
from nndl_jax.train import history as hist
from nndl_jax.train.checkpoint import Checkpointer
from nndl_jax.train.loop import fit


@pytest.fixture(scope="module")
def iris():
    return data.load("iris")  # 104 train, 23 val; 3 classes


def _linear_params(seed=3):
    rng = np.random.default_rng(seed)
    return {
        "b": jnp.asarray(rng.normal(size=3) * 0.1, jnp.float32),
        "w": jnp.asarray(rng.normal(size=(4, 3)) * 0.5, jnp.float32),
    }


def _reference_sgd(x, y, params, *, seed, epochs, batch_size, lr):
    """Minibatch SGD on a softmax-linear model, a Python loop over the documented epoch.

    Epoch e shuffles with ``permutation(split(fold_in(k_train, e))[0], n)`` where
    ``k_train = split(key(seed))[1]``; the last short batch averages over its real samples only.
    Returns the final (w, b) and per-epoch (train_loss, train_accuracy) of running predictions.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y)
    w = np.asarray(params["w"], np.float64).copy()
    b = np.asarray(params["b"], np.float64).copy()
    _, k_train = jax.random.split(jax.random.key(seed))
    n, records = len(y), []
    for e in range(1, epochs + 1):
        k_order, _ = jax.random.split(jax.random.fold_in(k_train, e))
        order = np.asarray(jax.random.permutation(k_order, n))
        loss_sum, correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            z = x[idx] @ w + b
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            loss_sum += float(-np.log(p[np.arange(len(idx)), y[idx]]).sum())
            correct += int((z.argmax(axis=1) == y[idx]).sum())
            g = p.copy()
            g[np.arange(len(idx)), y[idx]] -= 1.0
            w -= lr * x[idx].T @ g / len(idx)
            b -= lr * g.mean(axis=0)
        records.append((loss_sum / n, correct / n))
    return w, b, records


def test_fit_matches_a_python_minibatch_sgd_loop(iris):
    """Shuffle per epoch (fold_in of the epoch), padded last batch masked, sums over samples."""
    given = _linear_params()
    result = fit(nn.Dense(3), (iris.train, None), optimizer="sgd", learning_rate=0.3, epochs=3,
                 batch_size=16, params=given, seed=5,
                 progress=False)  # fmt: skip
    w, b, records = _reference_sgd(iris.train.x, iris.train.y, given, seed=5, epochs=3,
                                   batch_size=16, lr=0.3)  # fmt: skip
    np.testing.assert_allclose(result.params["w"], w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.params["b"], b, rtol=1e-4, atol=1e-5)
    for record, (loss, accuracy) in zip(result.history, records, strict=True):
        assert math.isclose(record["train_loss"], loss, rel_tol=1e-4)
        assert math.isclose(record["train_accuracy"], accuracy, abs_tol=1e-12)


def test_every_step_of_every_epoch_gets_a_fresh_key(iris):
    """The augmentation key differs between the steps of an epoch and between epochs."""
    seen = []

    def augment(key, x):
        jax.debug.callback(lambda k: seen.append(np.asarray(k).tobytes()), jax.random.key_data(key))
        return x

    fit(nn.Dense(3), (iris.train, None), optimizer="sgd", learning_rate=0.1, epochs=2,
        batch_size=16, augment=augment, progress=False)  # fmt: skip
    assert len(seen) == 2 * 7 and len(set(seen)) == 2 * 7


def _reference_stop(values, *, patience, min_delta=0.0, threshold=None, epochs):
    """The documented rule: improve iff v < best - min_delta; stop at threshold or patience."""
    best, best_epoch, wait = math.inf, 0, 0
    for e, v in enumerate(values, 1):
        if v < best - min_delta:
            best, best_epoch, wait = v, e, 0
        else:
            wait += 1
        if threshold is not None and v <= threshold:
            return e, best_epoch, "threshold"
        if patience is not None and wait >= patience:
            return e, best_epoch, "patience"
        if e >= epochs:
            return e, best_epoch, "max_epochs"
    return None


@pytest.mark.parametrize("monitor,min_delta", [("val_loss", 0.01), ("val_error", 0.0)])
def test_early_stopping_follows_the_validation_monitor(iris, monitor, min_delta):
    """Stop epoch, best epoch and returned params follow the rule on the val monitor."""
    result = fit(nn.Dense(3), iris, optimizer="sgd", learning_rate=0.5, epochs=40, batch_size=8,
                 patience=3, min_delta=min_delta, monitor=monitor, params=_linear_params(),
                 progress=False)  # fmt: skip
    values = list(hist.column(result.history, monitor))
    want = _reference_stop(values, patience=3, min_delta=min_delta, epochs=40)
    assert want == (len(result.history), result.best_epoch, result.stopped_reason)


def test_an_equal_validation_value_is_not_an_improvement(iris):
    """lr=0 keeps val constant: the first epoch stays best, stop after exactly patience more."""
    result = fit(nn.Dense(3), iris, optimizer="sgd", learning_rate=1e-30, epochs=20,
                 batch_size=104, patience=2, monitor="val_loss", params=_linear_params(),
                 progress=False)  # fmt: skip
    assert result.best_epoch == 1 and len(result.history) == 3
    assert result.stopped_reason == "patience"


def test_threshold_is_inclusive(iris):
    """Training stops when the val error equals the threshold (``<=``), via a NumPy error."""
    given = _linear_params()
    z = np.asarray(iris.val.x, np.float64) @ np.asarray(given["w"]) + np.asarray(given["b"])
    error = 1.0 - float(np.mean(z.argmax(axis=1) == np.asarray(iris.val.y)))
    result = fit(nn.Dense(3), iris, optimizer="sgd", learning_rate=1e-30, epochs=5,
                 batch_size=104, threshold=error, params=given, progress=False)  # fmt: skip
    assert result.history[0]["val_error"] == error
    assert result.stopped_reason == "threshold" and len(result.history) == 1


def test_resume_restores_the_patience_counter(iris, tmp_path):
    """An interrupted run with patience stops at the same epoch as an uninterrupted one."""
    settings = dict(optimizer="sgd", learning_rate=1e-30, batch_size=104, patience=3,
                    monitor="val_loss", params=_linear_params(), progress=False)  # fmt: skip
    fit(nn.Dense(3), iris, epochs=2, checkpoint_dir=tmp_path / "ck", **settings)
    resumed = fit(nn.Dense(3), iris, epochs=10, checkpoint_dir=tmp_path / "ck", resume=True,
                  **settings)  # fmt: skip
    want = _reference_stop([1.0] * 10, patience=3, epochs=10)  # constant values
    assert (len(resumed.history), resumed.best_epoch, resumed.stopped_reason) == want


def test_resume_drops_history_records_past_the_checkpoint(iris, tmp_path):
    """A run killed between writing history.json and its checkpoint repeats that epoch once."""
    settings = dict(optimizer="sgd", learning_rate=0.1, batch_size=26, progress=False,
                    params=_linear_params(), checkpoint_dir=tmp_path / "ck")  # fmt: skip
    fit(nn.Dense(3), iris, epochs=3, **settings)
    shutil.rmtree(tmp_path / "ck" / "3")  # the history holds epoch 3, the checkpoints do not
    assert len(hist.read_json(tmp_path / "ck" / "history.json")) == 3
    resumed = fit(nn.Dense(3), iris, epochs=3, resume=True, **settings)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]


def test_history_json_is_replaced_atomically(tmp_path, monkeypatch):
    """A write that fails half way leaves the previous history file intact."""
    path = tmp_path / "history.json"
    old = [{"epoch": 1, "train_loss": 0.5}]
    hist.write_json(old, path)
    real = pathlib.Path.write_text

    def half_then_fail(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", half_then_fail)
    with pytest.raises(OSError):
        hist.write_json(old + [{"epoch": 2, "train_loss": 0.25}], path)
    monkeypatch.undo()
    assert json.loads(path.read_text())["history"] == old


def test_checkpoint_keeps_numpy_float64_leaves(tmp_path):
    """A float64 NumPy leaf (the best value) comes back float64 and bit-exact, not float32."""
    value = np.asarray(0.1, np.float64)
    ckpt = Checkpointer(tmp_path / "ck")
    ckpt.save(1, {"best_value": value, "w": jnp.ones(2)})
    tree = ckpt.restore(1, {"best_value": np.asarray(0.0, np.float64), "w": jnp.zeros(2)})
    ckpt.close()
    assert np.asarray(tree["best_value"]).dtype == np.float64
    assert float(tree["best_value"]) == 0.1


def test_stratified_split_sizes_and_random_order_across_classes():
    """round(fraction * n) per held-out split, and no split is grouped by class."""
    labels = np.repeat(np.arange(3), 50)
    train, val, test = data.stratified_split(labels, seed=0, val_fraction=0.1,
                                             test_fraction=0.3)  # fmt: skip
    assert (len(train), len(val), len(test)) == (150 - 15 - 45, 15, 45)
    for idx in (train, val, test):
        assert np.any(np.diff(labels[idx]) < 0), labels[idx]  # not sorted by label


def test_padding_repeats_the_start_of_the_permutation():
    """Padded slots of the last batch repeat the epoch's first indices, as documented."""
    idx, mask = data.minibatch_indices(jax.random.key(4), 10, 4)
    flat, m = np.asarray(idx).ravel(), np.asarray(mask).ravel()
    assert sorted(flat[m]) == list(range(10)) and m.tolist() == [True] * 10 + [False] * 2
    np.testing.assert_array_equal(flat[10:], flat[:2])


def test_macro_scores_skip_classes_that_never_occur():
    """Macro P/R/F1 average over classes seen as label or prediction, like scikit-learn."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    y_true = np.array([0, 0, 1, 1, 1, 0])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    confusion = np.zeros((4, 4), int)  # classes 2 and 3 never occur
    np.add.at(confusion, (y_true, y_pred), 1)
    scores = hist.scores_from_confusion(confusion)
    for name, ref in [("precision", precision_score), ("recall", recall_score), ("f1", f1_score)]:
        want = ref(y_true, y_pred, average="macro", zero_division=0)
        assert math.isclose(scores[name], want, abs_tol=1e-12), name
