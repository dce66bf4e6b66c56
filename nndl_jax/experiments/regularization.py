r"""Tour section "regularization": each regularization method against none (book section 7.7).

A small, stratified subset of the digits' training split (200 images by default) is easy to
memorize: an MLP 64-256-256-10 (ReLU) reaches 100% training accuracy in a few dozen epochs.
The study trains it with Adam on that subset once without regularization and once with each
method of the notes, everything else equal:

* an L1 or L2 penalty ``λ l_p(θ)`` added to the mean loss (weights only, not biases);
* decoupled weight decay ``θ ← (1 - β) θ + u`` after each optimizer update ``u``;
* early stopping: stop when the validation error has not decreased for ``patience`` epochs and
  keep the parameters of the best epoch;
* dropout after each hidden layer;
* data augmentation inside the compiled epoch: random shifts and small rotations, or Gaussian
  pixel noise;
* label smoothing of the cross-entropy targets;
* a combination of the methods that helped in a pilot run.

Validation and test sets are the Dataset's own splits (the full ones, not subsets). Without
early stopping the parameters after the last epoch are evaluated, so that the unregularized
baseline is not quietly early-stopped by picking its best epoch. With several seeds, each seed
draws its own split, subset, initialization and minibatch order, and the table shows the mean
and standard deviation over seeds; "Δ test" is the mean paired difference to the baseline of the
same seed.

The hyperparameters (:data:`METHODS`) were chosen in a pilot run (4 seeds, 150 epochs, two or
three values per method) by mean *validation* accuracy; the test split played no part.

``examples/regularization_study.py`` runs the same code from the command line.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.experiments._registry import Context, Section, Table, experiment

#: Hidden widths of the MLP 64-256-256-10.
HIDDEN = (256, 256)
#: Training subset size.
TRAIN_SIZE = 200


@dataclass(frozen=True)
class Method:
    """One regularization setting of the study.

    Attributes:
      label: the method, as the table shows it.
      setting: its hyperparameters in words.
      fit_kwargs: keyword arguments of :func:`nndl_jax.train.loop.fit` (``l1``, ``l2``,
        ``weight_decay``, ``label_smoothing``, ``patience``).
      dropout: drop rate after each hidden layer (0: no dropout layer).
      augment: keyword arguments of :func:`nndl_jax.train.augment.image_augmenter`, or None.
    """

    label: str
    setting: str
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    dropout: float = 0.0
    augment: dict[str, Any] | None = None

    @property
    def early_stopping(self) -> bool:
        return self.fit_kwargs.get("patience") is not None


#: The methods of the study, by short name; "none" is the baseline every other is compared with.
METHODS: dict[str, Method] = {
    "none": Method("none", "-"),
    "l1": Method("L1 penalty", "λ₁ = 1e-4", {"l1": 1e-4}),
    "l2": Method("L2 penalty", "λ₂ = 1e-3", {"l2": 1e-3}),
    "weight_decay": Method("weight decay", "β = 3e-4 per step", {"weight_decay": 3e-4}),
    "early_stopping": Method("early stopping", "patience 20 epochs", {"patience": 20}),
    "dropout": Method("dropout", "rate 0.5", dropout=0.5),
    "augment_geometric": Method(
        "augmentation: geometry",
        "shift ±1 px, rotation ±10°",
        augment={"max_shift": 1, "max_rotation": 10.0},
    ),
    "augment_noise": Method(
        "augmentation: noise",
        "σ = 0.2 (pixels in [0, 1])",
        augment={"max_shift": 0, "max_rotation": 0.0, "noise_std": 0.2},
    ),
    "label_smoothing": Method("label smoothing", "ε = 0.2", {"label_smoothing": 0.2}),
    "combined": Method(
        "combined",
        "dropout 0.5, noise σ = 0.2, ε = 0.2, β = 3e-4, patience 20",
        {"label_smoothing": 0.2, "weight_decay": 3e-4, "patience": 20},
        dropout=0.5,
        augment={"max_shift": 0, "max_rotation": 0.0, "noise_std": 0.2},
    ),
}


class RunResult(NamedTuple):
    """One method trained with one seed.

    Attributes:
      train_accuracy, val_accuracy, test_accuracy: accuracies of the evaluated parameters (the
        last epoch's, or the best epoch's with early stopping) on the training subset and the
        Dataset's validation and test splits.
      epochs_run: epochs trained before stopping.
      best_epoch: the epoch of the lowest validation error.
      weight_norm: ``‖W‖₂`` over all weight matrices (biases excluded) of the evaluated params.
      val_accuracy_curve, val_loss_curve: validation accuracy and cross-entropy after each
        epoch, shape ``(epochs_run,)``.
    """

    train_accuracy: float
    val_accuracy: float
    test_accuracy: float
    epochs_run: int
    best_epoch: int
    weight_norm: float
    val_accuracy_curve: np.ndarray
    val_loss_curve: np.ndarray


def training_subset(split, size: int, *, seed: int = 0):
    """A stratified random subset of ``size`` samples of a split (classes in proportion).

    Args:
      split: a :class:`nndl_jax.data.Split`.
      size: the number of samples, ``0 < size < len(split)``.
      seed: seed of the draw.

    Returns:
      A :class:`~nndl_jax.data.Split` of ``size`` samples.
    """
    from nndl_jax import data

    n = int(split.y.shape[0])
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size < n:
        raise ValueError(f"size must be an integer in (0, {n}), got {size!r}")
    # the stratified "test" share of a split with test_fraction = size / n has exactly `size`
    # samples, each class within one sample of its proportion
    _, _, idx = data.stratified_split(
        np.asarray(split.y), seed=seed, val_fraction=0.0, test_fraction=size / n
    )
    return data.Split(split.x[idx], split.y[idx])


def _model(hidden: Sequence[int], dropout: float, num_classes: int):
    from nndl_jax import nn

    layers = []
    for width in hidden:
        layers += [nn.Dense(width), nn.Relu()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.serial(*layers, nn.Dense(num_classes))


def _accuracy(model, params, state, split) -> float:
    out, _ = model.apply(params, state, split.x, train=False)
    return float(jnp.mean(jnp.argmax(out, axis=-1) == split.y))


def _weight_norm(params) -> float:
    weights = [w for w in jax.tree.leaves(params) if jnp.ndim(w) >= 2]
    return float(jnp.sqrt(sum(jnp.sum(jnp.square(w)) for w in weights)))


def run_method(
    method: Method,
    dataset,
    train,
    *,
    epochs: int = 60,
    seed: int = 0,
    hidden: Sequence[int] = HIDDEN,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
) -> RunResult:
    """Train the MLP with one method on ``train`` and evaluate it.

    Args:
      method: the :class:`Method`.
      dataset: the ``data.load("digits", standardize="minmax")`` whose validation and test
        splits evaluate the model (and whose scaling the augmenter inverts).
      train: the training subset (a Split).
      epochs: the maximum number of epochs.
      seed: seeds the initialization, the minibatch order, dropout and augmentation.
      hidden: hidden widths.
      learning_rate, batch_size: of Adam.

    Returns:
      A :class:`RunResult`.
    """
    from nndl_jax.train.augment import image_augmenter
    from nndl_jax.train.loop import fit

    model = _model(hidden, method.dropout, dataset.num_classes)
    augment = None
    if method.augment is not None:
        augment = image_augmenter(
            dataset.image_shape, shift=dataset.shift, scale=dataset.scale, **method.augment
        )
    result = fit(
        model,
        (train, dataset.val),
        optimizer="adam",
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        augment=augment,
        seed=seed,
        num_classes=dataset.num_classes,
        progress=False,
        **method.fit_kwargs,
    )
    if result.stopped_reason == "non_finite":
        warnings.warn(f"{method.label}: {result.message}", RuntimeWarning, stacklevel=2)
    if method.early_stopping:
        params, state = result.params, result.state
    else:
        params, state = result.last_params, result.last_state
    return RunResult(
        train_accuracy=_accuracy(model, params, state, train),
        val_accuracy=_accuracy(model, params, state, dataset.val),
        test_accuracy=_accuracy(model, params, state, dataset.test),
        epochs_run=len(result.history),
        best_epoch=result.best_epoch,
        weight_norm=_weight_norm(params),
        val_accuracy_curve=np.array([r["val_accuracy"] for r in result.history]),
        val_loss_curve=np.array([r["val_loss"] for r in result.history]),
    )


def run_regularization_study(
    methods: Sequence[str] | None = None,
    *,
    seeds: Sequence[int] = (0,),
    epochs: int = 60,
    train_size: int = TRAIN_SIZE,
    hidden: Sequence[int] = HIDDEN,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
) -> dict[str, list[RunResult]]:
    """Every method of ``methods`` (names of :data:`METHODS`) with every seed.

    Each seed loads the digits with its own stratified split (scaled to [0, 1], which the
    augmenter needs: shifted strokes keep their meaning) and draws its own training subset;
    every method then trains with the same seed, hence the same initialization and minibatch
    order (except the models with dropout, whose extra layers shift the split of the key).

    Returns:
      ``{name: [RunResult per seed]}`` in the order of ``methods`` (all of :data:`METHODS` by
      default).
    """
    from nndl_jax import data
    from nndl_jax._validate import lookup

    names = list(METHODS) if methods is None else list(methods)
    chosen = {name: lookup("regularization method", name, METHODS) for name in names}
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    results: dict[str, list[RunResult]] = {name: [] for name in names}
    for seed in seeds:
        ds = data.load("digits", seed=seed, standardize="minmax")
        train = training_subset(ds.train, train_size, seed=seed)
        for name, method in chosen.items():
            results[name].append(
                run_method(
                    method,
                    ds,
                    train,
                    epochs=epochs,
                    seed=seed,
                    hidden=hidden,
                    learning_rate=learning_rate,
                    batch_size=batch_size,
                )
            )
    return results


def _stat(values: Sequence[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def _fmt(values: Sequence[float], digits: int = 3) -> str:
    mean, std = _stat(values)
    return f"{mean:.{digits}f}" if len(values) == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _fmt_delta(entry: dict[str, float], num_seeds: int) -> str:
    text = f"{entry['delta_test']:+.3f}"
    return text if num_seeds == 1 else f"{text} ± {entry['delta_test_std']:.3f}"


def _summary(results: dict[str, list[RunResult]]) -> dict[str, dict[str, float]]:
    """Mean over seeds of every number, and the paired difference to the baseline."""
    base = results.get("none")
    summary = {}
    for name, runs in results.items():
        entry = {
            key: _stat([getattr(r, key) for r in runs])[0]
            for key in (
                "train_accuracy",
                "val_accuracy",
                "test_accuracy",
                "epochs_run",
                "best_epoch",
                "weight_norm",
            )
        }
        entry["test_accuracy_std"] = _stat([r.test_accuracy for r in runs])[1]
        entry["gap"] = entry["train_accuracy"] - entry["test_accuracy"]
        if base is not None:
            deltas = [r.test_accuracy - b.test_accuracy for r, b in zip(runs, base, strict=True)]
            entry["delta_test"], entry["delta_test_std"] = _stat(deltas)
            # the standard error of the mean paired difference (sample std, ddof=1)
            entry["delta_test_se"] = (
                float(np.std(deltas, ddof=1) / math.sqrt(len(deltas))) if len(deltas) > 1 else 0.0
            )
        summary[name] = entry
    return summary


def _figure(results, summary, epochs: int):
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    # Paired differences to the baseline, not raw accuracies: the seeds' splits differ in
    # difficulty by more than the methods differ, and pairing cancels that.
    ax = axes[0]
    others = [n for n in names if n != "none"]
    pos = np.arange(len(others))[::-1]
    delta = np.array([summary[n]["delta_test"] for n in others])
    threshold = np.array([summary[n]["delta_threshold"] for n in others])
    colors = np.where(delta > threshold, "C2", np.where(delta < -threshold, "C3", "0.6"))
    ax.barh(pos, delta, xerr=threshold, color=colors, ecolor="k", capsize=3)
    ax.axvline(0.0, color="k", lw=1)
    ax.set_yticks(pos, [METHODS[n].label for n in others], fontsize=8)
    reach = float(np.max(np.abs(delta) + threshold, initial=0.01))
    ax.set(xlim=(-1.45 * reach, 1.45 * reach), xlabel="Δ test accuracy vs none")
    for y, name, d in zip(pos, others, delta, strict=True):
        ax.text(
            d + (0.05 if d >= 0 else -0.05) * reach,
            y + 0.3,
            f"{summary[name]['test_accuracy']:.3f}",
            ha="left" if d >= 0 else "right",
            fontsize=7,
        )
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(
        f"test accuracy against none ({summary['none']['test_accuracy']:.3f}); "
        "bars ± 2 standard errors",
        fontsize=10,
    )
    for i, name in enumerate(names):
        curves = results[name][0]
        color = f"C{i % 10}"
        style = {"color": color, "lw": 1.0, "label": METHODS[name].label}
        if name == "none":
            style.update(lw=2.0, color="k")
        x = np.arange(1, curves.val_loss_curve.size + 1)
        axes[1].plot(x, curves.val_loss_curve, **style)
        axes[2].plot(x, curves.val_accuracy_curve, **style)
    axes[1].set(xlabel="epoch", ylabel="validation cross-entropy", yscale="log", xlim=(0, epochs))
    axes[2].set(xlabel="epoch", ylabel="validation accuracy", xlim=(0, epochs))
    low = min(float(np.min(r[0].val_accuracy_curve[-1:])) for r in results.values())
    axes[2].set_ylim(max(0.0, low - 0.1), 1.0)
    axes[2].legend(fontsize=7, loc="lower right")
    for ax in axes[1:]:
        ax.grid(alpha=0.3, which="both")
    axes[1].set_title("validation loss, first seed", fontsize=10)
    axes[2].set_title("validation accuracy, first seed", fontsize=10)
    fig.tight_layout()
    return fig


_TEXT = """\
Setup: {train_size} digits drawn from the training split (stratified, {per_class} per class),
validation and test on the full splits of {n_val} and {n_test} digits; MLP {arch} (ReLU), Adam
α = {lr:g}, batch {batch}, {epochs} epochs, {seeds}. {baseline_fit} Its validation
cross-entropy (figure, middle; first seed) is lowest after epoch {loss_epoch} ({loss_min:.3f})
and ends at {loss_end:.3f}, while its validation
accuracy goes from {acc_at_min:.3f} to {acc_end:.3f}.{confidence_note}

What each method does. L1 and L2 penalties pull the weights towards 0 (L1 by a constant amount,
L2 in proportion to their size); weight decay shrinks them by a fixed fraction per step,
decoupled from Adam's per-coordinate scaling (with Adam an L2 penalty is not the same thing: its
gradient gets rescaled like any other). The weight norm column shows the effect on the
parameters: ‖W‖ = {norm_none:.1f} without regularization, {norm_list}. Early stopping returns
the parameters of the epoch with the lowest validation error. Dropout trains a random thinned
network at every step. Augmentation trains on new, transformed images at every step. Label
smoothing replaces the one-hot targets by (1 - ε) one-hot + ε/K, which keeps the logits from
growing without bound (its plain validation cross-entropy therefore stays higher: its
predictions never become confident).

What the numbers show. A change of test accuracy counts as clear when it exceeds two standard
errors, {rule}. {verdict}

Caveats. Early stopping chose its epoch on the validation set, so its validation accuracy is
optimistic; compare methods on the test column. Each method has one setting, picked on
validation accuracy in a pilot run; a method that does not help here may help with another
strength, another optimizer, or a larger model.{small_note}{geometry_note}"""


def _per_class(train_size: int, seeds: Sequence[int], num_classes: int) -> str:
    """Training digits per class in the seeds' subsets, as the text says it: "20" or "19 to 21"."""
    from nndl_jax import data

    counts = [
        np.bincount(
            np.asarray(
                training_subset(data.load("digits", seed=seed).train, train_size, seed=seed).y
            ),
            minlength=num_classes,
        )
        for seed in seeds
    ]
    lo, hi = int(np.min(counts)), int(np.max(counts))
    return f"{lo}" if lo == hi else f"{lo} to {hi}"


def _baseline_fit(none: dict[str, float]) -> str:
    """How well the unregularized network fits its training subset, from its accuracies."""
    train, test = none["train_accuracy"], none["test_accuracy"]
    if train >= 0.9995:  # shown as 1.000
        fit = "memorizes the subset"
    elif train >= 0.99:
        fit = "almost memorizes the subset"
    else:
        fit = "does not memorize the subset in these epochs"
    return (
        f"Without regularization the network {fit}: training accuracy {train:.3f} against "
        f"{test:.3f} on the test set, a gap of {none['gap']:.3f}."
    )


def _small_effects_note(summary) -> str:
    """A reason for effects this small, when they are all small and the baseline is good."""
    others = [entry for name, entry in summary.items() if name != "none"]
    if others and all(abs(e["delta_test"]) < 0.03 for e in others):
        if summary["none"]["test_accuracy"] >= 0.9:
            return (
                " A likely reason for effects this small: on these small, centred images the "
                "baseline is already good, which leaves the regularizers little room."
            )
    return ""


def _verdict(summary, n_seeds: int) -> str:
    """Sort the methods by whether their Δ test clears their threshold, in words.

    With one seed the threshold covers only the sampling of the test split, not the variation
    from one training run to the next, so the words say "in this run", not "clearly".
    """
    helped, hurt, neutral = [], [], []
    for name, entry in summary.items():
        if name == "none":
            continue
        delta, threshold = entry["delta_test"], entry["delta_threshold"]
        phrase = f"{METHODS[name].label} ({delta:+.3f}, threshold {threshold:.3f})"
        if delta > threshold:
            helped.append(phrase)
        elif delta < -threshold:
            hurt.append(phrase)
        else:
            neutral.append(phrase)
    if n_seeds == 1:
        parts = [
            f"Above the threshold in this one run: {', '.join(helped)}."
            if helped
            else "No method cleared the threshold in this run."
        ]
        if neutral:
            parts.append(f"Within it: {', '.join(neutral)}.")
        if hurt:
            parts.append(f"Below it: {', '.join(hurt)}.")
        parts.append(
            "One seed cannot tell a method's effect from the run-to-run variation of training "
            "(initialization, batch order, split), which the threshold leaves out; several seeds "
            "(the full tour) can."
        )
        return " ".join(parts)
    parts = [
        f"Clearly improved test accuracy: {', '.join(helped)}."
        if helped
        else "No method clearly improved test accuracy."
    ]
    if neutral:
        parts.append(f"No clear effect: {', '.join(neutral)}.")
    if hurt:
        parts.append(f"Clearly lowered it: {', '.join(hurt)}.")
    return " ".join(parts)


def regularization_section(
    ctx: Context,
    *,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    epochs: int = 60,
    train_size: int = TRAIN_SIZE,
    hidden: Sequence[int] = HIDDEN,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
) -> Section:
    """Run the study and build its report section (the registered experiment picks the sizes).

    Args:
      ctx: the tour context (output folder, seed).
      methods: names of :data:`METHODS`; all by default. Must include ``"none"``.
      seeds: the seeds to average over; ``(ctx.seed,)`` by default.
      epochs, train_size, hidden, learning_rate, batch_size: see
        :func:`run_regularization_study`.
    """
    names = list(METHODS) if methods is None else list(methods)
    if "none" not in names:
        raise ValueError(f"methods must include the baseline 'none', got {names}")
    names = ["none"] + [n for n in names if n != "none"]
    seeds = (ctx.seed,) if seeds is None else tuple(seeds)
    results = run_regularization_study(
        names,
        seeds=seeds,
        epochs=epochs,
        train_size=train_size,
        hidden=hidden,
        learning_rate=learning_rate,
        batch_size=batch_size,
    )
    summary = _summary(results)
    none = summary["none"]

    from nndl_jax import data

    ds = data.load("digits", seed=seeds[0], standardize="minmax")
    n_test, n_val = int(ds.test.y.shape[0]), int(ds.val.y.shape[0])
    # With one seed the only yardstick is the binomial standard error of an accuracy on the
    # test split; with several, each method's paired differences to the baseline give their own
    # standard error, free of the split-to-split variation that pairing cancels.
    p = min(max(none["test_accuracy"], 0.5), 0.99)
    binomial_se = math.sqrt(p * (1 - p) / n_test)
    for entry in summary.values():
        se = binomial_se if len(seeds) == 1 else entry["delta_test_se"]
        entry["delta_threshold"] = 2 * se
    if len(seeds) == 1:
        rule = (
            f"here two binomial standard errors of an accuracy of {p:.2f} on {n_test} test "
            f"digits, {2 * binomial_se:.3f} (with one seed, only large effects are visible)"
        )
    else:
        rule = (
            f"here 2·std/√{len(seeds)} of the paired differences to the baseline over the "
            f"{len(seeds)} seeds, for each method its own"
        )

    rows = []
    for name in names:
        runs, entry = results[name], summary[name]
        rows.append(
            [
                METHODS[name].label,
                METHODS[name].setting,
                _fmt([r.train_accuracy for r in runs]),
                _fmt([r.val_accuracy for r in runs]),
                _fmt([r.test_accuracy for r in runs]),
                f"{entry['gap']:.3f}",
                "-" if name == "none" else _fmt_delta(entry, len(seeds)),
                _fmt([r.epochs_run for r in runs], 0),
                f"{entry['weight_norm']:.1f}",
            ]
        )
    arch = "-".join(str(w) for w in (ds.num_features, *hidden, ds.num_classes))
    seed_text = f"{len(seeds)} seeds, mean ± std" if len(seeds) > 1 else "1 seed"
    table = Table(
        f"Digits, {train_size} training samples, MLP {arch}, Adam, {epochs} epochs at most, "
        f"{seed_text}",
        [
            "method",
            "setting",
            "train acc",
            "val acc",
            "test acc",
            "gap (train - test)",
            "Δ test vs none",
            "epochs run",
            "‖W‖",
        ],
        rows,
    )
    shrinkers = [n for n in ("l1", "l2", "weight_decay") if n in summary]
    norm_list = (
        ", ".join(f"{summary[n]['weight_norm']:.1f} with {METHODS[n].label}" for n in shrinkers)
        or "(no penalty in this run)"
    )
    geometry = summary.get("augment_geometric")
    geometry_note = ""
    if geometry is not None and geometry["delta_test"] < -geometry["delta_threshold"]:
        geometry_note = (
            " Shifts and rotations lowered accuracy. A likely reason: the digits of this data "
            "set are centred and size-normalized, so a shift by one pixel (an eighth of the "
            "image) produces training images unlike any test image, and an MLP has no built-in "
            "translation invariance to benefit from them."
        )
    curves = results["none"][0]
    at_min = int(np.argmin(curves.val_loss_curve))
    loss_min, loss_end = curves.val_loss_curve[at_min], curves.val_loss_curve[-1]
    acc_at_min, acc_end = curves.val_accuracy_curve[at_min], curves.val_accuracy_curve[-1]
    confidence_note = ""
    if loss_end > 1.1 * loss_min and abs(acc_end - acc_at_min) < 0.02:
        confidence_note = (
            " A rising loss at a steady accuracy means growing confidence, in the wrong answers "
            "too: the network overfits in probability before it does in accuracy."
        )
    text = _TEXT.format(
        small_note=_small_effects_note(summary),
        baseline_fit=_baseline_fit(none),
        loss_epoch=at_min + 1,
        loss_min=loss_min,
        loss_end=loss_end,
        acc_at_min=acc_at_min,
        acc_end=acc_end,
        confidence_note=confidence_note,
        train_size=train_size,
        per_class=_per_class(train_size, seeds, ds.num_classes),
        n_val=n_val,
        n_test=n_test,
        arch=arch,
        lr=learning_rate,
        batch=batch_size,
        epochs=epochs,
        seeds=f"{len(seeds)} seeds (mean ± std over seeds)" if len(seeds) > 1 else "1 seed",
        norm_none=none["weight_norm"],
        norm_list=norm_list,
        rule=rule,
        verdict=_verdict(summary, len(seeds)),
        geometry_note=geometry_note,
    )
    figure = ctx.savefig(_figure(results, summary, epochs), "regularization")
    metrics: dict[str, float] = {"binomial_standard_error": binomial_se}
    for name, entry in summary.items():
        for key in ("train_accuracy", "val_accuracy", "test_accuracy", "gap", "epochs_run"):
            metrics[f"{name}/{key}"] = entry[key]
        metrics[f"{name}/weight_norm"] = entry["weight_norm"]
        if name != "none":
            metrics[f"{name}/delta_test"] = entry["delta_test"]
            metrics[f"{name}/delta_threshold"] = entry["delta_threshold"]
    return Section(
        "Regularization on a small training set",
        text,
        figures=[figure],
        tables=[table],
        metrics=metrics,
    )


def settings(quick: bool, seed: int = 0) -> dict[str, Any]:
    """The keyword arguments of :func:`regularization_section` for the quick or full tour."""
    if quick:
        return {"epochs": 100, "seeds": (seed,)}
    return {"epochs": 150, "seeds": tuple(seed + i for i in range(5))}


@experiment("regularization", "Regularization on a small training set", order=50)
def regularization(ctx: Context) -> Section:
    return regularization_section(ctx, **settings(ctx.quick, ctx.seed))
