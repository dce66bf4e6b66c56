r"""The training algorithm of the notes, with early stopping, checkpoints and resume.

The notes' algorithm (book section 4.4, algorithm 4.1; 2.3, minibatch SGD):

    input: a training set, a validation set, a learning rate α, regularization coefficients
    initialize θ at random
    repeat
        shuffle the training set
        for each minibatch of K samples (K = 1 is SGD):
            θ ← θ - α ∂/∂θ [ mean loss on the batch + λ l_p(θ) ]        (or another optimizer)
    until the validation error has not decreased for ``patience`` epochs, or is below a threshold
    output the θ with the lowest validation error

:func:`fit` runs it: each epoch is one compiled program (:mod:`nndl_jax.train.epoch`); after it
the parameters are evaluated on the validation set, the epoch's metrics go to the history and
a progress bar, and, with ``checkpoint_dir``, everything needed to continue is written
atomically. Early stopping keeps a copy of the best parameters and returns them.

Determinism. The run's key is split once into an initialization key and a training key; epoch
``e`` uses ``fold_in(training_key, e)`` (shuffle, dropout masks and augmentation all derive
from it). A resumed run therefore draws exactly what the uninterrupted one would have, and on
CPU ends with bitwise the same parameters.

Non-finite losses. Every step's objective comes back from the epoch; if one is NaN or infinite
(or the parameters are at the end of the epoch, or the validation loss or monitored value after
it), training stops with a warning naming the epoch, the epoch's update is discarded, and the
last good state (the last checkpoint) is kept; a NaN epoch is never taken as the best.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import losses as _losses, optim
from nndl_jax._validate import (
    all_finite,
    as_real,
    check_fraction,
    check_key,
    check_labels_in_range,
    check_non_negative,
    check_positive,
    check_positive_int,
    check_seed,
    is_traced,
    lookup,
    unknown_name,
)
from nndl_jax.nn._layer import Layer
from nndl_jax.train import history as _history
from nndl_jax.train.epoch import (
    TrainState,
    accepts_mask,
    epoch_plan,
    make_epoch,
    make_evaluate,
    make_train_step,
)

__all__ = [
    "FitResult",
    "fit",
    "evaluate",
    "make_optimizer",
    "optimizer_names",
    "make_loss",
    "loss_names",
    "MONITORS",
    "STOP_REASONS",
]

#: What early stopping watches: the validation error rate (the notes') or the validation loss.
MONITORS = ("val_error", "val_loss")
#: The values of :attr:`FitResult.stopped_reason`.
STOP_REASONS = ("max_epochs", "patience", "threshold", "non_finite")

_OPTIMIZERS: dict[str, Callable[[float], Any]] = {
    "sgd": lambda lr: optim.sgd(lr),
    "momentum": lambda lr: optim.sgd(lr, momentum=0.9),
    "nesterov": lambda lr: optim.sgd(lr, momentum=0.9, nesterov=True),
    "adagrad": lambda lr: optim.adagrad(lr),
    "rmsprop": lambda lr: optim.rmsprop(lr),
    "adadelta": lambda lr: optim.adadelta(lr),
    "adam": lambda lr: optim.adam(lr),
    "adamw": lambda lr: optim.adamw(lr),
    "nadam": lambda lr: optim.nadam(lr),
    "amsgrad": lambda lr: optim.amsgrad(lr),
}


def optimizer_names() -> list[str]:
    """The optimizer names :func:`make_optimizer` (and ``fit(optimizer=...)``) accept."""
    return sorted(_OPTIMIZERS)


def make_optimizer(name: str, learning_rate: float) -> Any:
    """Our optimizer ``name`` with default hyperparameters and the given learning rate.

    ``"momentum"`` and ``"nesterov"`` are SGD with heavy-ball momentum 0.9 (``optim.sgd``); the
    others are the functions of :mod:`nndl_jax.optim` of the same name.

    Raises:
      ValueError: an unknown name (listing the valid ones) or a learning rate that is not > 0.
    """
    factory = lookup("optimizer", name, _OPTIMIZERS)
    return factory(check_positive("learning_rate", learning_rate))


def loss_names() -> list[str]:
    """The loss names :func:`make_loss` accepts."""
    return ["cross_entropy", "mse", "softmax_cross_entropy"]


def make_loss(loss: str | Callable, *, label_smoothing: float = 0.0) -> Callable:
    """``loss_fn(outputs, labels) -> per-example loss`` for integer labels.

    * ``"softmax_cross_entropy"`` (alias ``"cross_entropy"``): ``-Σ_k y_k log softmax(z)_k``,
      with targets smoothed to ``y(1-ε) + ε/K`` for ``label_smoothing=ε``;
    * ``"mse"``: ``1/K ‖z - onehot(y)‖²``, the squared error averaged over the K outputs (the
      convention of :func:`nndl_jax.train.backprop.mlp_grads`).

    A callable is returned as is (it must take integer labels and return per-example losses).
    """
    eps = check_fraction("label_smoothing", label_smoothing)
    if callable(loss):
        if eps:
            raise ValueError("label_smoothing needs a named loss ('softmax_cross_entropy')")
        return loss
    if loss in ("softmax_cross_entropy", "cross_entropy"):
        return lambda z, y: _losses.softmax_cross_entropy(z, y, label_smoothing=eps)
    if loss == "mse":
        if eps:
            raise ValueError(
                f"label_smoothing applies to the cross-entropy, got loss='mse' with "
                f"label_smoothing={eps}"
            )

        def mse(z, y):
            targets = (y[..., None] == jnp.arange(z.shape[-1])).astype(z.dtype)
            return jnp.mean(_losses.squared_error(z, targets), axis=-1)

        return mse
    raise unknown_name("loss", loss, loss_names())


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
      params, state: the parameters and model state of the best epoch (lowest monitored
        validation value; the last epoch when there is no validation set).
      history: one record per epoch (see :mod:`nndl_jax.train.history`).
      best_epoch: the epoch ``params`` come from (0: the initial parameters).
      stopped_reason: one of :data:`STOP_REASONS`.
      message: a sentence saying why training stopped.
      last_params, last_state, opt_state: the state after the last good epoch, to continue.
    """

    params: Any
    state: Any
    history: list[dict[str, Any]]
    best_epoch: int
    stopped_reason: str
    message: str = ""
    last_params: Any = None
    last_state: Any = None
    opt_state: Any = None


def _as_xy(name: str, split: Any) -> tuple[jax.Array, jax.Array] | None:
    if split is None:
        return None
    try:
        x, y = split
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a Split or an (x, y) pair, got {type(split).__name__}"
        ) from None
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name} needs x of shape (n, ...) and labels y of shape (n,), got "
            f"x.shape={x.shape} and y.shape={y.shape}"
        )
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"{name} labels must be integers, got dtype {y.dtype}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} features must be floating point, got dtype {x.dtype}")
    return x, y


def _split_data(data: Any, num_classes: int | None):
    """``(train, val or None, num_classes)`` from a Dataset or a ``(train, val)`` pair."""
    if hasattr(data, "train") and hasattr(data, "val") and hasattr(data, "num_classes"):
        train, val = data.train, data.val
        num_classes = data.num_classes if num_classes is None else num_classes
    else:
        try:
            train, val = data
        except (TypeError, ValueError):
            raise TypeError(
                f"data must be a Dataset (nndl_jax.data.load) or a (train, val) pair of "
                f"Splits or (x, y) pairs, got {type(data).__name__}"
            ) from None
    train, val = _as_xy("train", train), _as_xy("val", val)
    if train[0].shape[0] == 0:
        raise ValueError("the training set is empty")
    if val is not None and val[0].shape[0] == 0:
        val = None
    if val is not None and val[0].shape[1:] != train[0].shape[1:]:
        raise ValueError(
            f"train and val features differ in shape: {train[0].shape} and {val[0].shape}"
        )
    labels = [np.asarray(train[1])] + ([np.asarray(val[1])] if val is not None else [])
    low = min(int(v.min()) for v in labels)
    high = max(int(v.max()) for v in labels)
    if num_classes is None:
        num_classes = high + 1
    num_classes = check_positive_int("num_classes", num_classes)
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"labels must lie in [0, num_classes={num_classes}), got labels from {low} to {high}"
        )
    return train, val, num_classes


def _check_finite_option(name: str, value: Any) -> float | None:
    if value is None:
        return None
    number = as_real(value)
    if number is None or is_traced(number) or not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number or None, got {value!r}")
    return number


def _check_params_like(params: Any, like: Any, name: str = "params") -> None:
    if jax.tree.structure(params) != jax.tree.structure(like):
        raise TypeError(
            f"{name} must have the structure of the model's {name}: got "
            f"{jax.tree.structure(params)}, expected {jax.tree.structure(like)}"
        )
    for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(like), strict=True):
        if jnp.shape(got) != jnp.shape(want):
            raise ValueError(
                f"{name} do not match the model: a leaf has shape {jnp.shape(got)} where the "
                f"model has {jnp.shape(want)}"
            )


def fit(
    model: Layer,
    data: Any,
    *,
    optimizer: str | Any = "adam",
    learning_rate: float = 1e-3,
    loss: str | Callable = "softmax_cross_entropy",
    epochs: int = 100,
    batch_size: int = 32,
    drop_last: bool = False,
    patience: int | None = None,
    min_delta: float = 0.0,
    threshold: float | None = None,
    monitor: str = "val_error",
    l1: float = 0.0,
    l2: float = 0.0,
    penalty_mask: Any = None,
    weight_decay: float = 0.0,
    decay_mask: Any = None,
    label_smoothing: float = 0.0,
    augment: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
    seed: int = 0,
    key: jax.Array | None = None,
    params: Any = None,
    model_state: Any = None,
    num_classes: int | None = None,
    grad_fn: Callable | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
    unroll: int = 1,
) -> FitResult:
    """Train ``model`` by minibatch gradient descent with early stopping (the notes' algorithm).

    Objective, minimized over θ by the optimizer one minibatch B at a time:

    .. math::
        \\frac{1}{|B|} \\sum_{n \\in B} L(y^{(n)}, f(x^{(n)}; θ)) + λ_1 \\|θ\\|_1
        + \\frac{λ_2}{2} \\|θ\\|_2^2

    (penalties on the weights only by default), plus the decoupled weight decay
    ``θ ← θ - β θ`` after each update. Early stopping watches ``monitor`` on the validation set
    after every epoch: an epoch *improves* when the value is below ``best - min_delta``;
    training stops after ``patience`` epochs in a row without improvement, or as soon as the
    value is ``<= threshold``; the returned ``params`` are those of the best epoch.

    The compiled epoch is cached: a later ``fit`` of the same model object with the same loss,
    optimizer (a name and rate, or the same transform object), settings and data shapes reuses
    it instead of compiling again (fits with ``penalty_mask`` or ``decay_mask`` are not cached).
    A loss or augmentation is keyed by identity, so a callable must not change its behaviour
    between fits.

    Args:
      model: a :class:`~nndl_jax.nn.Layer` producing one score per class, ``(batch, K)``.
      data: a :class:`~nndl_jax.data.Dataset` (its train and val splits are used), or a pair
        ``(train, val)`` of Splits / ``(x, y)`` pairs; ``val`` may be None (no early stopping).
      optimizer: a name of :func:`optimizer_names` (with ``learning_rate``) or any
        ``GradientTransformation``.
      learning_rate: for a named optimizer.
      loss: ``"softmax_cross_entropy"``, ``"mse"`` or ``loss_fn(outputs, labels) -> (batch,)``.
      epochs: the maximum number of epochs, > 0.
      batch_size: K, 1 <= K <= number of training samples (K = 1 is SGD, K = N full batch).
      drop_last: drop the ``N mod K`` leftover samples of each epoch instead of using them as a
        last smaller batch.
      patience: stop after this many epochs (> 0) without improvement; None never stops early.
      min_delta: the smallest decrease that counts as an improvement (>= 0).
      threshold: stop once the monitored value is at or below it; None disables it.
      monitor: ``"val_error"`` (the notes') or ``"val_loss"``.
      l1, l2: coefficients λ₁, λ₂ >= 0 of the penalties (:mod:`~nndl_jax.train.regularization`);
        ``penalty_mask`` selects the penalized leaves (weights only by default).
      weight_decay: β in [0, 1), the decoupled decay per step; ``decay_mask`` as above.
      label_smoothing: ε in [0, 1) for the cross-entropy. Validation and test losses are the
        plain cross-entropy.
      augment: ``augment(key, x) -> x`` applied to every training batch inside the compiled
        epoch (:func:`~nndl_jax.train.augment.image_augmenter`).
      seed, key: the run's randomness: ``key`` if given, else ``jax.random.key(seed)``.
      params, model_state: initial values instead of the model's random initialization (e.g.
        pretrained parameters); they must match the model's structure and shapes.
      num_classes: K; taken from the Dataset, else ``max label + 1``.
      grad_fn: ``grad_fn(params, x, y, mask=None) -> (mean loss, grads)`` replacing autodiff,
        e.g. :func:`nndl_jax.train.backprop.mlp_grad_fn` for manual backpropagation; ``mask``
        (per-example weights) is passed when the last batch is padded, and a ``grad_fn``
        without it needs a batch size that divides the training set (or ``drop_last``).
      checkpoint_dir: write a checkpoint after every epoch there (and ``history.json``).
      resume: continue from the newest checkpoint in ``checkpoint_dir`` (a fresh start if there
        is none), with the checkpoint's key (``seed`` and ``key`` are then ignored) and its
        early-stopping state; pass the same model, optimizer and data as the saved run. Without
        it, a ``checkpoint_dir`` that already holds checkpoints is an error.
      progress: show a tqdm progress bar with the epoch's metrics.
      callback: called with each epoch's record after it is saved.
      unroll: scan unrolling of the epoch (a speed knob; see :func:`~.epoch.make_epoch`).

    Returns:
      A :class:`FitResult`.

    Raises:
      ValueError, TypeError: bad arguments, before anything is compiled.

    >>> from nndl_jax import data, nn  # doctest: +SKIP
    >>> ds = data.load("digits")  # doctest: +SKIP
    >>> model = nn.serial(nn.Dense(128), nn.Relu(), nn.Dense(10))  # doctest: +SKIP
    >>> result = fit(model, ds, epochs=50, patience=5)  # doctest: +SKIP
    """
    # ---- arguments, all checked before anything is traced
    if not isinstance(model, Layer):
        raise TypeError(f"model must be an nndl_jax.nn.Layer, got {type(model).__name__}")
    (x_train, y_train), val, num_classes = _split_data(data, num_classes)
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    _, padding = epoch_plan(int(x_train.shape[0]), batch_size, drop_last=drop_last)
    unroll = check_positive_int("unroll", unroll)
    if patience is not None:
        patience = check_positive_int("patience", patience)
    min_delta = check_non_negative("min_delta", min_delta)
    threshold = _check_finite_option("threshold", threshold)
    if monitor not in MONITORS:
        raise unknown_name("monitor", monitor, MONITORS)
    if val is None and (patience is not None or threshold is not None):
        raise ValueError(
            "early stopping (patience or threshold) needs a validation set; data has none"
        )
    l1 = check_non_negative("l1", l1)
    l2 = check_non_negative("l2", l2)
    weight_decay = check_fraction("weight_decay", weight_decay)
    label_smoothing = check_fraction("label_smoothing", label_smoothing)
    if isinstance(optimizer, str):
        optimizer = _named_optimizer(optimizer, check_positive("learning_rate", learning_rate))
    elif not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(
            f"optimizer must be a name ({', '.join(optimizer_names())}) or a "
            f"GradientTransformation, got {type(optimizer).__name__}"
        )
    if isinstance(loss, str):
        loss_fn = _named_loss(loss, label_smoothing)
    else:
        loss_fn = make_loss(loss, label_smoothing=label_smoothing)
    if grad_fn is not None and not callable(grad_fn):
        raise TypeError(f"grad_fn must be callable, got {type(grad_fn).__name__}")
    if grad_fn is not None and padding and not accepts_mask(grad_fn):
        raise ValueError(
            f"grad_fn takes no mask, but batch_size={batch_size} leaves a last batch padded "
            f"with {padding} repeated samples; give grad_fn a mask=None argument (per-example "
            f"weights), pass drop_last=True, or pick a batch size that divides "
            f"{x_train.shape[0]}"
        )
    if grad_fn is not None and label_smoothing:
        raise ValueError("label_smoothing cannot be applied with grad_fn (it owns the loss)")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable augment(key, x) -> x, got {augment!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    check_seed("seed", seed)
    checkpointer = None
    if checkpoint_dir is not None:
        from nndl_jax.train.checkpoint import Checkpointer

        checkpointer = Checkpointer(checkpoint_dir)
        if not resume and checkpointer.latest_step() is not None:
            latest = checkpointer.latest_step()
            checkpointer.close()
            raise ValueError(
                f"checkpoint_dir {str(checkpointer.directory)!r} already holds checkpoints (latest "
                f"epoch {latest}); pass resume=True to continue that run or choose an empty "
                f"directory"
            )
    elif resume:
        raise ValueError("resume=True needs a checkpoint_dir to resume from")

    # ---- initial state
    if key is not None:
        check_key(key)
    key = jax.random.key(seed) if key is None else key
    k_init, k_train = jax.random.split(key)
    _, init_params, init_state = model.init(k_init, (-1, *x_train.shape[1:]))
    if params is not None:
        _check_params_like(params, init_params)
        init_params = params
    if model_state is not None:
        _check_params_like(model_state, init_state, "model_state")
        init_state = model_state
    state = TrainState(init_params, init_state, optimizer.init(init_params))
    best = {"params": init_params, "model_state": init_state}
    run = {"epoch": 0, "best_epoch": 0, "best_value": math.inf, "wait": 0}
    history: list[dict[str, Any]] = []

    if checkpointer is not None and resume:
        try:
            restored = _restore(checkpointer, state, best, k_train)
        except ValueError:
            checkpointer.close()
            raise
        if restored is not None:
            state, best, k_train, run = restored
            history_path = checkpointer.directory / "history.json"
            if history_path.exists():
                history = _history.read_json(history_path)[: run["epoch"]]

    # ---- the compiled pieces
    epoch_config = {
        "apply_fn": model.apply,
        "loss_fn": loss_fn,
        "optimizer": optimizer,
        "num_classes": num_classes,
        "l1": l1,
        "l2": l2,
        "weight_decay": weight_decay,
        "augment": augment,
        "grad_fn": grad_fn,
        "num_samples": int(x_train.shape[0]),
        "batch_size": batch_size,
        "drop_last": drop_last,
        "unroll": unroll,
    }
    if penalty_mask is None and decay_mask is None and _hashable(epoch_config):
        # the same model, loss and settings as an earlier fit: reuse its compiled epoch
        epoch_fn = _cached_epoch(**epoch_config)
    else:
        epoch_fn = _build_epoch(**epoch_config, penalty_mask=penalty_mask, decay_mask=decay_mask)
    evaluate_fn = _evaluator_for(model.apply, loss, num_classes)

    reason, message = _stop_reason(run, epochs, patience, threshold, monitor, history)
    bar = _progress_bar(progress, epochs, run["epoch"])
    try:
        while reason is None:
            epoch = run["epoch"] + 1
            start = time.perf_counter()
            new_state, stats = epoch_fn(state, jax.random.fold_in(k_train, epoch), x_train, y_train)
            step_losses = np.asarray(stats.step_losses)
            bad = np.flatnonzero(~np.isfinite(step_losses))
            if bad.size or not bool(all_finite(new_state.params)):
                steps = step_losses.size
                if bad.size:
                    at = int(bad[0]) + 1
                    what = f"loss at epoch {epoch}, step {at} of {steps} ({step_losses[at - 1]})"
                else:  # the last update overflowed; the next step's loss would be NaN
                    what = f"parameters at epoch {epoch}, step {steps} of {steps}"
                reason = "non_finite"
                message = (
                    f"non-finite {what}; stopped and kept the parameters of epoch {epoch - 1}, "
                    f"the last good one"
                )
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                break
            record = {"epoch": epoch}
            record.update(_prefixed("train", stats))
            if val is not None:
                scores = evaluate_fn(new_state.params, new_state.model_state, *val)
                record.update(_prefixed("val", scores))
                bad_val = [k for k in ("val_loss", monitor) if not math.isfinite(record[k])]
                if bad_val:  # the outputs overflow on the validation set: training diverged
                    reason = "non_finite"
                    message = (
                        f"non-finite {bad_val[0]} ({record[bad_val[0]]}) at epoch {epoch}; "
                        f"stopped and kept the parameters of epoch {epoch - 1}, the last good one"
                    )
                    warnings.warn(message, RuntimeWarning, stacklevel=2)
                    break
            state = new_state
            record["seconds"] = time.perf_counter() - start
            history.append(record)

            value = record.get(monitor, math.nan)
            run = dict(run, epoch=epoch)
            if val is None or value < run["best_value"] - min_delta:
                best = {"params": state.params, "model_state": state.model_state}
                run.update(best_epoch=epoch, best_value=float(value), wait=0)
            else:
                run["wait"] += 1
            if checkpointer is not None:
                _history.write_json(history, checkpointer.directory / "history.json")
                _save(checkpointer, state, best, k_train, run)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(_postfix(record))
            if callback is not None:
                callback(record)
            reason, message = _stop_reason(run, epochs, patience, threshold, monitor, history)
    finally:
        if bar is not None:
            bar.close()
        if checkpointer is not None:
            checkpointer.close()
    return FitResult(
        params=best["params"],
        state=best["model_state"],
        history=history,
        best_epoch=run["best_epoch"],
        stopped_reason=reason,
        message=message,
        last_params=state.params,
        last_state=state.model_state,
        opt_state=state.opt_state,
    )


def _prefixed(split: str, stats) -> dict[str, float]:
    scores = _history.summarize(stats.loss_sum, stats.count, stats.confusion)
    return {f"{split}_{k}": v for k, v in scores.items()}


def _stop_reason(run, epochs, patience, threshold, monitor, history):
    """``(reason, message)`` if training should stop after the epochs run so far, else Nones."""
    if run["epoch"] == 0:
        return None, ""
    value = history[-1].get(monitor, math.nan) if history else math.nan
    if threshold is not None and value <= threshold:
        return "threshold", (
            f"{monitor} {value:.4g} <= threshold {threshold:g} at epoch {run['epoch']}"
        )
    if patience is not None and run["wait"] >= patience:
        return "patience", (
            f"{monitor} did not improve for {patience} epochs; best {run['best_value']:.4g} at "
            f"epoch {run['best_epoch']}"
        )
    if run["epoch"] >= epochs:
        return "max_epochs", f"reached epochs={epochs}"
    return None, ""


def _progress_bar(progress: bool, epochs: int, done: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, initial=done, desc="train", unit="epoch", dynamic_ncols=True)


def _postfix(record: dict[str, Any]) -> str:
    parts = [f"loss={record['train_loss']:.4f}", f"acc={record['train_accuracy']:.4f}"]
    if "val_loss" in record:
        parts += [
            f"val_loss={record['val_loss']:.4f}",
            f"val_acc={record['val_accuracy']:.4f}",
            f"val_err={record['val_error']:.4f}",
            f"val_P={record['val_precision']:.3f}",
            f"val_R={record['val_recall']:.3f}",
            f"val_F1={record['val_f1']:.3f}",
        ]
    return " ".join(parts)


def _checkpoint_tree(state: TrainState, best, key, run) -> dict[str, Any]:
    return {
        "params": state.params,
        "model_state": state.model_state,
        "opt_state": state.opt_state,
        "best_params": best["params"],
        "best_model_state": best["model_state"],
        "key": key,
        "epoch": np.asarray(run["epoch"], np.int32),
        "best_epoch": np.asarray(run["best_epoch"], np.int32),
        "best_value": np.asarray(run["best_value"], np.float64),
        "wait": np.asarray(run["wait"], np.int32),
    }


def _save(checkpointer, state, best, key, run) -> None:
    checkpointer.save(run["epoch"], _checkpoint_tree(state, best, key, run))


def _restore(checkpointer, state, best, key):
    like = _checkpoint_tree(state, best, key, {"epoch": 0, "best_epoch": 0, "best_value": 0.0,
                                               "wait": 0})  # fmt: skip
    step = checkpointer.latest_step()
    if step is None:
        return None
    try:
        tree = checkpointer.restore(step, like)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(
            f"the checkpoint of epoch {step} in {str(checkpointer.directory)!r} does not match "
            f"this run (a different model, optimizer or parameter shapes?): {err}"
        ) from err
    restored = TrainState(tree["params"], tree["model_state"], tree["opt_state"])
    best = {"params": tree["best_params"], "model_state": tree["best_model_state"]}
    run = {
        "epoch": int(tree["epoch"]),
        "best_epoch": int(tree["best_epoch"]),
        "best_value": float(tree["best_value"]),
        "wait": int(tree["wait"]),
    }
    return restored, best, tree["key"], run


def _build_epoch(
    *, apply_fn, loss_fn, optimizer, num_classes, l1, l2, weight_decay, augment, grad_fn,
    num_samples, batch_size, drop_last, unroll, penalty_mask=None, decay_mask=None,
):  # fmt: skip
    """The jitted epoch of :func:`fit` (see :func:`make_train_step` and :func:`make_epoch`)."""
    step = make_train_step(
        apply_fn,
        loss_fn=loss_fn,
        optimizer=optimizer,
        num_classes=num_classes,
        l1=l1,
        l2=l2,
        penalty_mask=penalty_mask,
        weight_decay=weight_decay,
        decay_mask=decay_mask,
        augment=augment,
        grad_fn=grad_fn,
    )
    return make_epoch(
        step, num_samples=num_samples, batch_size=batch_size, drop_last=drop_last, unroll=unroll
    )


# Repeated fits (seeds, learning-rate sweeps over the same model) would otherwise trace and
# compile the same epoch again, about 2 s each on a CPU. The key holds functions by identity:
# the same model object, loss and optimizer (named ones are cached below, so "adam" at the same
# rate is the same object). Masks are pytrees, not hashable: fits with masks are not cached.
_cached_epoch = functools.lru_cache(maxsize=8)(_build_epoch)


@functools.lru_cache(maxsize=32)
def _named_optimizer(name: str, learning_rate: float):
    return make_optimizer(name, learning_rate)


@functools.lru_cache(maxsize=32)
def _named_loss(name: str, label_smoothing: float):
    return make_loss(name, label_smoothing=label_smoothing)


def _hashable(config: dict[str, Any]) -> bool:
    try:
        hash(tuple(config.values()))
    except TypeError:
        return False
    return True


@functools.lru_cache(maxsize=16)
def _evaluator(apply_fn, loss, num_classes):
    """One jitted evaluation per model, loss and K, so that repeated evaluations compile once.

    Validation and test losses are the plain loss (no label smoothing).
    """
    return make_evaluate(apply_fn, loss_fn=make_loss(loss), num_classes=num_classes)


def _evaluator_for(apply_fn, loss, num_classes):
    """The cached evaluator, or a fresh one for a loss that cannot be a cache key."""
    if _hashable({"apply_fn": apply_fn, "loss": loss}):
        return _evaluator(apply_fn, loss, num_classes)
    return make_evaluate(apply_fn, loss_fn=make_loss(loss), num_classes=num_classes)


def evaluate(
    model: Layer,
    params: Any,
    model_state: Any,
    split: Any,
    *,
    num_classes: int,
    loss: str | Callable = "softmax_cross_entropy",
) -> dict[str, Any]:
    """Loss and scores of a model on one split, in evaluation mode.

    Returns:
      ``{"loss", "accuracy", "error", "precision", "recall", "f1"}`` (macro averages, Python
      floats) and ``"confusion"``, the ``(K, K)`` confusion matrix as a NumPy int array.
    """
    x, y = _as_xy("split", split)
    num_classes = check_positive_int("num_classes", num_classes)
    check_labels_in_range("split labels", y, num_classes)
    stats = _evaluator_for(model.apply, loss, num_classes)(params, model_state, x, y)
    result: dict[str, Any] = _history.summarize(stats.loss_sum, stats.count, stats.confusion)
    result["confusion"] = np.asarray(stats.confusion)
    return result
