"""fit: the notes' algorithm with early stopping, reporting, bad input; history files."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from nndl_jax import data, losses, nn, optim
from nndl_jax.nn.activation_layers import Activation
from nndl_jax.train import backprop, history as hist
from nndl_jax.train.loop import evaluate, fit, make_optimizer, optimizer_names


@pytest.fixture(scope="module")
def iris():
    return data.load("iris")  # 104 train, 23 val, 23 test; 3 classes


def _model():
    return nn.serial(nn.Dense(8), Activation("tanh"), nn.Dense(3))


class CountingLoss:
    """A per-example cross-entropy that counts how often JAX traces it."""

    def __init__(self):
        self.traces = 0

    def __call__(self, logits, labels):
        self.traces += 1
        return losses.softmax_cross_entropy(logits, labels)


@pytest.fixture(scope="module")
def trained(iris):
    loss = CountingLoss()
    traces = []
    result = fit(
        _model(), iris, optimizer="adam", learning_rate=0.05, loss=loss, epochs=25,
        batch_size=16, progress=False, callback=lambda record: traces.append(loss.traces),
    )  # fmt: skip
    return result, traces


def test_fit_learns_and_returns_the_best_epoch(iris, trained):
    result, _ = trained
    history = result.history
    assert len(history) == 25 and result.stopped_reason == "max_epochs"
    assert [r["epoch"] for r in history] == list(range(1, 26))
    val_error = hist.column(history, "val_error")
    assert result.best_epoch == int(np.argmin(val_error)) + 1  # the first of the best
    best = history[result.best_epoch - 1]
    # the returned params are the best epoch's: evaluating them reproduces its record
    scores = evaluate(_model(), result.params, result.state, iris.val, num_classes=3)
    assert math.isclose(scores["error"], best["val_error"], abs_tol=1e-12)
    assert math.isclose(scores["loss"], best["val_loss"], abs_tol=1e-5)
    assert best["val_accuracy"] >= 0.85 and history[-1]["train_loss"] < history[0]["train_loss"]
    want = {"epoch", "seconds"} | {f"{s}_{m}" for s in ("train", "val") for m in hist.SCORES}
    assert set(best) == want


def test_epochs_reuse_one_compiled_program(trained):
    _, traces = trained
    assert traces[0] > 0 and len(set(traces)) == 1, traces  # no tracing after the first epoch


def test_a_second_fit_reuses_the_compiled_epoch(iris):
    model, loss = _model(), CountingLoss()
    settings = dict(optimizer="sgd", learning_rate=0.1, loss=loss, epochs=2, batch_size=16,
                    progress=False)  # fmt: skip
    first = fit(model, iris, seed=1, **settings)
    traced = loss.traces
    second = fit(model, iris, seed=2, **settings)  # another seed: same program
    assert traced > 0 and loss.traces == traced
    assert not np.allclose(first.history[-1]["train_loss"], second.history[-1]["train_loss"])
    fit(model, iris, seed=1, **{**settings, "batch_size": 8})  # another batch size: a new one
    assert loss.traces > traced
    again = fit(model, iris, seed=1, **settings)  # and the cached run is still the same run
    assert again.history[-1]["train_loss"] == first.history[-1]["train_loss"]


def test_evaluate_matches_sklearn(iris, trained):
    result, _ = trained
    scores = evaluate(_model(), result.params, result.state, iris.test, num_classes=3)
    logits = _model().apply(result.params, result.state, iris.test.x)[0]
    pred, y = np.asarray(jnp.argmax(logits, -1)), np.asarray(iris.test.y)
    assert math.isclose(scores["accuracy"], float(np.mean(pred == y)), abs_tol=1e-12)
    for name, ref in [("precision", precision_score), ("recall", recall_score), ("f1", f1_score)]:
        assert math.isclose(scores[name], ref(y, pred, average="macro", zero_division=0),
                            abs_tol=1e-12)  # fmt: skip
    assert scores["confusion"].sum() == 23


def test_patience_stops_after_epochs_without_improvement(iris, capsys):
    # with min_delta=1 no later epoch improves on the first: stop after 1 + patience epochs
    result = fit(_model(), iris, optimizer="sgd", learning_rate=0.1, epochs=50, batch_size=26,
                 patience=2, min_delta=1.0, progress=True)  # fmt: skip
    assert result.stopped_reason == "patience" and len(result.history) == 3
    assert result.best_epoch == 1 and "did not improve for 2 epochs" in result.message
    assert "val_err=" in capsys.readouterr().err  # the progress bar shows the metrics


def test_threshold_stops_at_once(iris):
    result = fit(_model(), iris, optimizer="sgd", learning_rate=0.1, epochs=50, batch_size=26,
                 threshold=5.0, monitor="val_loss", progress=False)  # fmt: skip
    assert result.stopped_reason == "threshold" and len(result.history) == 1
    assert result.message.startswith("val_loss")


def test_without_validation_the_last_epoch_is_returned(iris):
    train = (iris.train.x[:40], iris.train.y[:40])
    sgd_zero = optim.sgd(0.0)  # parameters stay at their given values
    _, given, _ = _model().init(jax.random.key(9), (-1, 4))
    result = fit(_model(), (train, None), optimizer=sgd_zero, epochs=2, batch_size=40,
                 params=given, progress=False)  # fmt: skip
    assert result.best_epoch == 2 and "val_loss" not in result.history[0]
    for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(given), strict=True):
        np.testing.assert_array_equal(a, b)  # pretrained initialization is used as given


def test_manual_backprop_drives_fit(iris):
    layer = backprop.mlp_as_layer([4, 8, 3], "tanh")
    grad_fn = backprop.mlp_grad_fn(activation="tanh")
    # 104 samples in batches of 16: the last is padded, so grad_fn receives the mask
    result = fit(layer, iris, optimizer="adam", learning_rate=0.05, epochs=15, batch_size=16,
                 grad_fn=grad_fn, progress=False)  # fmt: skip
    assert result.history[-1]["val_accuracy"] >= 0.85
    with pytest.raises(ValueError, match="grad_fn takes no mask, but batch_size=16"):
        fit(layer, iris, grad_fn=lambda p, x, y: grad_fn(p, x, y), batch_size=16)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs must be a positive integer, got 0"),
        ({"epochs": -3}, ValueError, "epochs must be a positive integer, got -3"),
        ({"patience": 0}, ValueError, "patience must be a positive integer, got 0"),
        (
            {"batch_size": 105},
            ValueError,
            "batch_size must be at most the number of training samples, got batch_size=105 > 104",
        ),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
        (
            {"optimizer": "adamx"},
            ValueError,
            "unknown optimizer 'adamx'; expected one of: adadelta, adagrad, adam, adamw",
        ),
        ({"optimizer": 3}, TypeError, "optimizer must be a name"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be a finite number > 0"),
        ({"monitor": "val_acc"}, ValueError, "unknown monitor 'val_acc'; expected one of"),
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'; expected one of"),
        ({"l1": -1.0}, ValueError, "l1 must be a finite number >= 0, got -1.0"),
        ({"l2": float("nan")}, ValueError, "l2 must be a finite number >= 0"),
        ({"weight_decay": 1.0}, ValueError, r"weight_decay must be in \[0, 1\), got 1.0"),
        ({"label_smoothing": 1.0}, ValueError, r"label_smoothing must be in \[0, 1\)"),
        ({"loss": "mse", "label_smoothing": 0.1}, ValueError, "label_smoothing applies to"),
        ({"min_delta": -0.1}, ValueError, "min_delta must be a finite number >= 0"),
        ({"threshold": float("nan")}, ValueError, "threshold must be a finite number or None"),
        ({"resume": True}, ValueError, "resume=True needs a checkpoint_dir"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        # key(2**32) is key(0): a silent rerun of seed 0; 2**63 overflowed with a traceback
        ({"seed": 2**32}, ValueError, r"seed must be below 2\*\*32"),
        ({"seed": 2**63}, ValueError, r"seed must be below 2\*\*32"),
        ({"augment": 3}, TypeError, "augment must be callable"),
        ({"params": [{}]}, TypeError, "params must have the structure of the model's params"),
    ],
)
def test_bad_input_fails_before_anything_is_traced(iris, kwargs, error, match):
    loss = CountingLoss()
    kwargs = {"loss": loss, **kwargs}
    with pytest.raises(error, match=match):
        fit(_model(), iris, progress=False, **kwargs)
    assert loss.traces == 0


def test_bad_data_and_model(iris):
    with pytest.raises(TypeError, match="model must be an nndl_jax.nn.Layer"):
        fit(lambda x: x, iris)
    with pytest.raises(TypeError, match="data must be a Dataset"):
        fit(_model(), 3)
    with pytest.raises(ValueError, match="early stopping .* needs a validation set"):
        fit(_model(), (iris.train, None), patience=3)
    with pytest.raises(TypeError, match="labels must be integers"):
        fit(_model(), ((iris.train.x, iris.train.x[:, 0]), None))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=2\)"):
        fit(_model(), iris, num_classes=2)


def test_optimizer_names_build_our_optimizers():
    assert {"sgd", "momentum", "adam", "adamw", "rmsprop"} <= set(optimizer_names())
    params = {"w": jnp.ones(2)}
    for name in optimizer_names():
        opt = make_optimizer(name, 0.1)
        updates, _ = opt.update({"w": jnp.ones(2)}, opt.init(params), params)
        assert updates["w"].shape == (2,)


# ---- history records and files


def test_scores_from_confusion_match_sklearn_macro():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 60)
    pred = np.where(rng.random(60) < 0.6, y, rng.integers(0, 3, 60))  # class 3 never predicted
    y[y == 2] = 1  # class 2 never occurs as a label, but is predicted
    confusion = np.zeros((5, 5), int)  # class 4: absent from both, does not count
    np.add.at(confusion, (y, pred), 1)
    scores = hist.scores_from_confusion(confusion)
    assert math.isclose(scores["accuracy"], float(np.mean(y == pred)), abs_tol=1e-12)
    assert math.isclose(scores["error"], float(np.mean(y != pred)), abs_tol=1e-12)
    for name, ref in [("precision", precision_score), ("recall", recall_score), ("f1", f1_score)]:
        assert math.isclose(scores[name], ref(y, pred, average="macro", zero_division=0),
                            abs_tol=1e-12)  # fmt: skip
    assert all(math.isnan(v) for v in hist.scores_from_confusion(np.zeros((2, 2))).values())
    with pytest.raises(ValueError, match="square"):
        hist.scores_from_confusion(np.zeros((2, 3)))


def test_history_json_csv_and_plot(tmp_path):
    records = [
        {"epoch": 1, "train_loss": 1.0, "train_error": 0.5, "val_loss": 1.2, "val_error": 0.6},
        {"epoch": 2, "train_loss": 0.5, "train_error": 0.2, "val_loss": math.nan,
         "val_error": 0.3},
    ]  # fmt: skip
    path = hist.write_json(records, tmp_path / "h.json", best_epoch=1)
    assert json.loads(path.read_text())["best_epoch"] == 1  # strict JSON: NaN written as null
    back = hist.read_json(path)
    assert back[0] == records[0] and math.isnan(back[1]["val_loss"])
    csv_path = hist.write_csv(records, tmp_path / "h.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "epoch,train_loss,train_error,val_loss,val_error" and len(lines) == 3
    png = hist.plot_curves(records, tmp_path / "curves.png", metrics=("loss", "error"),
                           best_epoch=1)  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="metrics must be a non-empty subset"):
        hist.plot_curves(records, metrics=("acc",))


def _nan_on_validation_after(steps: int) -> nn.Layer:
    """A dense layer whose evaluation-mode outputs are NaN once it has taken ``steps`` steps."""
    dense = nn.Dense(2)

    def init(key, shape):
        out, params, _ = dense.init(key, shape)
        return out, params, {"steps": jnp.zeros((), jnp.int32)}

    def apply(params, state, x, *, key=None, train=False):
        y, _ = dense.apply(params, {}, x)
        if train:
            return y, {"steps": state["steps"] + 1}
        return jnp.where(state["steps"] > steps, jnp.nan, y), state

    return nn.Layer(init, apply)


@pytest.mark.parametrize("monitor", ["val_loss", "val_error"])
def test_a_non_finite_validation_loss_stops_and_keeps_the_last_good_epoch(monitor):
    # training stays finite while the model's outputs on the validation set are NaN from epoch
    # 2 on: stop there with a warning, as for a non-finite training loss, rather than train on
    # (and, with val_loss, return the initial parameters as "best" without a word)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = _nan_on_validation_after(2)  # 2 steps per epoch
    with pytest.warns(RuntimeWarning, match="non-finite val_loss .* at epoch 2"):
        result = fit(
            model,
            ((x, y), (x[:4], y[:4])),
            epochs=5,
            batch_size=10,
            monitor=monitor,
            progress=False,
        )
    assert result.stopped_reason == "non_finite"
    assert len(result.history) == 1 and result.best_epoch == 1
    assert math.isfinite(result.history[0]["val_loss"])
    assert int(result.last_state["steps"]) == 2  # the state of epoch 1, not the diverged one
