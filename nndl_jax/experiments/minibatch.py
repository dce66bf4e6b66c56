r"""Tour section "minibatch": batch size K and learning rate α of minibatch SGD (book 7.2.1).

Minibatch SGD updates ``θ ← θ - α g_B`` with the gradient of the mean loss on a batch ``B`` of
K samples,

.. math::
    g_B = \frac{1}{K} \sum_{n \in B} \nabla_θ L(y^{(n)}, f(x^{(n)}; θ)),

an unbiased estimate of the full gradient ``g``. Three factors decide how fast the training
loss falls: the batch size K (how good the estimate is, and how many updates one epoch makes:
``⌈N/K⌉``), the learning rate α (how far each update goes) and the gradient estimate itself.

:func:`run_minibatch_study` trains the same MLP from the same initialization on the digits with
plain SGD for every pair (K, α) through :func:`nndl_jax.train.loop.fit` (one compiled
``lax.scan`` per epoch), recording the exact training loss after every epoch.
:func:`gradient_noise` measures the error of ``g_B`` against ``g`` for each K at the
initialization, beside its closed form for sampling without replacement.

``examples/minibatch_study.py`` runs the same code from the command line.
"""

from __future__ import annotations

import math
import os
import platform
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from nndl_jax.experiments._registry import Context, Section, Table, experiment

#: Batch sizes of the study; ``None`` means the whole training set (full-batch gradient descent).
BATCH_SIZES: tuple[int | None, ...] = (1, 8, 32, 128, None)
#: Learning rates, a factor 4 apart like the batch sizes 8, 32, 128, so that the diagonal
#: (8, 0.025), (32, 0.1), (128, 0.4) keeps α/K constant (the linear scaling rule).
LEARNING_RATES: tuple[float, ...] = (0.025, 0.1, 0.4)
#: Hidden width of the MLP 64-HIDDEN-10 (ReLU).
HIDDEN = 128
#: Random batches per batch size when measuring the error of the minibatch gradient.
NOISE_DRAWS = 128


class Run(NamedTuple):
    """One (K, α) training run.

    Attributes:
      batch_size: K (the training set size for full batch).
      learning_rate: α.
      train_loss: mean cross-entropy over the whole training set at initialization and after
        each completed epoch, shape ``(epochs_run + 1,)``.
      updates_per_epoch: ``⌈N/K⌉``.
      val_accuracy: accuracy on the validation split with the last parameters (NaN if diverged).
      seconds_per_epoch: median wall time of an epoch after the first (which compiles),
        including the evaluation of the training loss; NaN with fewer than two epochs.
      diverged: the loss became non-finite, or ended above its initial value.
      message: why training stopped early (empty when it ran all epochs).
    """

    batch_size: int
    learning_rate: float
    train_loss: np.ndarray
    updates_per_epoch: int
    val_accuracy: float
    seconds_per_epoch: float
    diverged: bool
    message: str = ""

    @property
    def final_loss(self) -> float:
        return float(self.train_loss[-1]) if not self.diverged else math.nan


def _model(hidden: int):
    from nndl_jax import nn

    return nn.serial(nn.Dense(hidden), nn.Relu(), nn.Dense(10))


def _initial(model, seed: int, features: int):
    """The parameters every run of one seed starts from (and :func:`gradient_noise` measures at)."""
    k_init, _ = jax.random.split(jax.random.key(seed))
    _, params, state = model.init(k_init, (-1, features))
    return params, state


def _mean_loss(model, params, state, x, y) -> float:
    from nndl_jax import losses

    out, _ = model.apply(params, state, x, train=False)
    return float(jnp.mean(losses.softmax_cross_entropy(out, y)))


def _accuracy(model, params, state, x, y) -> float:
    out, _ = model.apply(params, state, x, train=False)
    return float(jnp.mean(jnp.argmax(out, axis=-1) == y))


def train_minibatch(
    dataset,
    batch_size: int | None,
    learning_rate: float,
    *,
    epochs: int = 10,
    seed: int = 0,
    hidden: int = HIDDEN,
) -> Run:
    """Train the MLP 64-``hidden``-10 by plain minibatch SGD and record the training loss.

    Every call with the same ``seed`` starts from the same parameters, so runs differ only in
    K, α and the order of the minibatches.

    Args:
      dataset: a loaded ``data.load("digits")``.
      batch_size: K, or None for the whole training set.
      learning_rate: α of ``θ ← θ - α g_B``.
      epochs: passes over the training set.
      seed: seeds the initialization and the shuffling.
      hidden: width of the hidden layer.

    Returns:
      A :class:`Run`.
    """
    from nndl_jax.train.loop import fit

    x, y = dataset.train
    n = int(x.shape[0])
    k = n if batch_size is None else int(batch_size)
    model = _model(hidden)
    params, state = _initial(model, seed, x.shape[1])
    initial = _mean_loss(model, params, state, x, y)
    with warnings.catch_warnings():
        # a diverging run is a result of this study, reported in the table, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        # The training set is passed as the "validation" set too: fit then evaluates the exact
        # training loss after every epoch (its own train_loss is the running mean over the
        # epoch's updates, half an epoch behind). Nothing is monitored, so no choice depends
        # on it, and the parameters used below are the last ones.
        result = fit(
            model,
            (dataset.train, dataset.train),
            optimizer="sgd",
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=k,
            key=jax.random.split(jax.random.key(seed))[1],  # the other half of _initial's
            params=params,
            model_state=state,
            progress=False,
        )
    history = result.history
    curve = np.array([initial] + [record["val_loss"] for record in history])
    diverged = result.stopped_reason == "non_finite" or not curve[-1] <= curve[0]
    val_accuracy = math.nan
    if not diverged:
        val_accuracy = _accuracy(model, result.last_params, result.last_state, *dataset.val)
    seconds = [record["seconds"] for record in history[1:]]
    return Run(
        batch_size=k,
        learning_rate=float(learning_rate),
        train_loss=curve,
        updates_per_epoch=-(-n // k),
        val_accuracy=val_accuracy,
        seconds_per_epoch=float(np.median(seconds)) if seconds else math.nan,
        diverged=bool(diverged),
        message=result.message if result.stopped_reason != "max_epochs" else "",
    )


def run_minibatch_study(
    dataset=None,
    *,
    batch_sizes: Sequence[int | None] = BATCH_SIZES,
    learning_rates: Sequence[float] = LEARNING_RATES,
    epochs: int = 10,
    seed: int = 0,
    hidden: int = HIDDEN,
) -> dict[tuple[int, float], Run]:
    """:func:`train_minibatch` for every pair of ``batch_sizes`` and ``learning_rates``.

    Returns:
      ``{(K, α): Run}`` in the order learning rate, then batch size; a full batch is keyed by
      the training set size.
    """
    from nndl_jax import data

    ds = data.load("digits", seed=seed) if dataset is None else dataset
    runs = {}
    for lr in learning_rates:
        for k in batch_sizes:
            run = train_minibatch(ds, k, lr, epochs=epochs, seed=seed, hidden=hidden)
            runs[(run.batch_size, run.learning_rate)] = run
    return runs


def gradient_noise(
    dataset,
    batch_sizes: Sequence[int | None] = BATCH_SIZES,
    *,
    draws: int = NOISE_DRAWS,
    seed: int = 0,
    hidden: int = HIDDEN,
) -> dict[int, tuple[float, float]]:
    r"""Relative error of the minibatch gradient at the initialization, measured and predicted.

    With per-example gradients ``g_n``, their mean ``g`` and their spread
    ``σ² = 1/N Σ_n ‖g_n - g‖²``, a batch of K samples drawn without replacement gives

    .. math::
        E ‖g_B - g‖² = \frac{σ²}{K} \frac{N - K}{N - 1},

    so the error falls like ``1/√K`` and vanishes for the full batch.

    Returns:
      ``{K: (measured, predicted)}`` of ``sqrt(E‖g_B - g‖²) / ‖g‖``; the measurement averages
      ``draws`` random batches.
    """
    from nndl_jax import losses

    x, y = dataset.train
    n = int(x.shape[0])
    sizes = [n if k is None else int(k) for k in batch_sizes]
    model = _model(hidden)
    params, state = _initial(model, seed, x.shape[1])

    def example_grad(x1, y1):
        def loss(p):
            out, _ = model.apply(p, state, x1[None], train=False)
            return losses.softmax_cross_entropy(out, y1[None])[0]

        flat, _ = ravel_pytree(jax.grad(loss)(params))
        return flat

    @jax.jit
    def statistics(x, y, key):
        per_example = jax.vmap(example_grad)(x, y)  # (N, number of parameters)
        mean = jnp.mean(per_example, axis=0)
        spread = jnp.mean(jnp.sum((per_example - mean) ** 2, axis=1))
        # each draw ranks the examples in a random order; its batch of K is the ranks below K
        ranks = jnp.argsort(jnp.argsort(jax.random.uniform(key, (draws, n)), axis=1), axis=1)
        measured = []
        for k in sizes:
            # a (draws, N) selection matrix times the gradients: no (draws, K, P) gather
            batch_means = ((ranks < k).astype(per_example.dtype) @ per_example) / k
            measured.append(jnp.mean(jnp.sum((batch_means - mean) ** 2, axis=1)))
        return spread, jnp.sum(mean**2), jnp.stack(measured)

    spread, norm2, measured = jax.device_get(statistics(x, y, jax.random.key(seed + 1)))
    noise = {}
    for k, m in zip(sizes, measured, strict=True):
        predicted = spread / k * (n - k) / (n - 1)
        noise[k] = (math.sqrt(m / norm2), math.sqrt(predicted / norm2))
    return noise


def _machine() -> str:
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"a {os.cpu_count()}-core {platform.machine()} CPU"
    return f"one {getattr(device, 'device_kind', device.platform)}"


def _label(k: int, n: int) -> str:
    return f"K={k} (full)" if k == n else f"K={k}"


def _curves_figure(runs: dict[tuple[int, float], Run], n: int, hidden: int):
    import matplotlib.pyplot as plt

    lrs = sorted({lr for _, lr in runs})
    ks = sorted({k for k, _ in runs})
    fig, axes = plt.subplots(2, len(lrs), figsize=(4.2 * len(lrs), 7), squeeze=False)
    colors = {k: f"C{i}" for i, k in enumerate(ks)}
    finite_losses = np.concatenate([r.train_loss[np.isfinite(r.train_loss)] for r in runs.values()])
    bottom_limit = max(1e-6, 0.5 * float(finite_losses.min()))
    for col, lr in enumerate(lrs):
        top, bottom = axes[0, col], axes[1, col]
        for k in ks:
            run = runs.get((k, lr))
            if run is None:
                continue
            epochs = np.arange(run.train_loss.size)
            finite = np.isfinite(run.train_loss)
            style = {"color": colors[k], "label": _label(k, n), "marker": ".", "ms": 3}
            if run.diverged:
                style.update(ls=":", label=f"{_label(k, n)}, diverged")
            top.plot(epochs[finite], run.train_loss[finite], **style)
            # epoch 0 (no update yet) cannot sit on a log axis of updates
            bottom.plot(
                epochs[1:][finite[1:]] * run.updates_per_epoch,
                run.train_loss[1:][finite[1:]],
                **style,
            )
        top.set(title=f"α = {lr:g}", xlabel=f"epoch (N = {n} examples each)")
        bottom.set(xlabel="updates", xscale="log")
        for ax in (top, bottom):
            ax.set(yscale="log", ylim=(bottom_limit, 20))
            ax.grid(alpha=0.3, which="both")
        top.legend(fontsize=7)  # in every column: diverged runs differ from column to column
        if col == 0:
            top.set_ylabel("training loss (cross-entropy)")
            bottom.set_ylabel("training loss (cross-entropy)")
    fig.suptitle(f"digits, MLP 64-{hidden}-10, plain SGD: training loss for batch size K, rate α")
    fig.tight_layout()
    return fig


def _noise_and_scaling_figure(noise, runs, diagonal, n: int):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, 2 if diagonal else 1, figsize=(10 if diagonal else 5, 3.8), squeeze=False
    )
    ax = axes[0, 0]
    ks = np.array([k for k in noise if k < n])
    ax.loglog(ks, [noise[k][0] for k in ks], "o", label=f"measured ({NOISE_DRAWS} batches)")
    ax.loglog(ks, [noise[k][1] for k in ks], "-", color="0.4",
              label="closed form √(σ²/K · (N−K)/(N−1)) / ‖g‖")  # fmt: skip
    ax.set(
        xlabel="batch size K",
        ylabel="‖g_B − g‖ / ‖g‖ (rms)",
        title="error of the minibatch gradient at init",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if diagonal:
        ax = axes[0, 1]
        for k, lr in diagonal:
            run = runs[(k, lr)]
            ax.plot(
                np.arange(run.train_loss.size),
                run.train_loss,
                marker=".",
                ms=3,
                label=f"K={k}, α={lr:g}",
            )
        ax.set(
            yscale="log",
            xlabel="epoch",
            ylabel="training loss",
            title="linear scaling rule: α/K constant",
        )
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _diagonal(runs) -> list[tuple[int, float]]:
    """The longest set of runs with the same α/K (at least 3, none of them full batch)."""
    groups: dict[float, list[tuple[int, float]]] = {}
    n = max(k for k, _ in runs)
    for k, lr in runs:
        if k < n and k > 1:
            groups.setdefault(round(lr / k, 12), []).append((k, lr))
    best = max(groups.values(), key=len, default=[])
    return sorted(best) if len(best) >= 3 else []


_TEXT = """\
The notes name three factors of minibatch SGD: the batch size K, the learning rate α and the
gradient estimate. One epoch over N = {n} digits makes ⌈N/K⌉ updates, from {max_updates} for
K = {k_min} to {min_updates} for K = {k_max}; each update follows g_B, the mean gradient of K
samples, an unbiased estimate of the full gradient g.

Gradient estimate. At the initialization, the error of g_B falls like 1/√K, as the closed form
for sampling without replacement says (second figure, left; second table; each measurement
averages {draws} random batches, and the largest relative difference from the closed form is
{noise_dev}): relative to ‖g‖ its rms is {noise_small} for K = {k_small} and {noise_mid} for
K = {k_mid}. The gradient of a single example points far from the full one.

Same number of epochs, same α. {epochs} epochs from the same initialization (first figure, top
row; first table). At α = {lr_ref:g} the final training loss is {ref_losses}: {per_epoch}
Per update (bottom row), {per_update}

Stability. {stability}

Linear scaling rule (Goyal et al., 2017): when K is multiplied by k, multiply α by k, so that one
step of kα on kK samples stands in for k steps of α on K samples; the loss per epoch then stays
about the same. {scaling} Goyal et al. also report where the approximation fails: very large
batches, and the first epochs of training (hence their warm-up).

Wall time per epoch (median after the compiling first epoch, including the evaluation of the
training loss; measured on {machine}, so only the order of magnitude counts): {timing}."""


def _describe_stability(runs, n) -> str:
    lrs = sorted({lr for _, lr in runs})
    ks = sorted({k for k, _ in runs})
    parts = []
    for k in ks:
        stable = [lr for lr in lrs if (k, lr) in runs and not runs[(k, lr)].diverged]
        unstable = [lr for lr in lrs if (k, lr) in runs and runs[(k, lr)].diverged]
        if unstable:
            if not stable:
                largest = "no stable α here"
            elif max(stable) < min(unstable):
                largest = f"stable up to α = {max(stable):g}"
            else:
                largest = f"stable at α = {', '.join(f'{lr:g}' for lr in stable)}"
            parts.append(
                f"{_label(k, n)} diverged at α = {', '.join(f'{lr:g}' for lr in unstable)} "
                f"({largest})"
            )
    if not parts:
        return "No run diverged at the learning rates tried."
    # the general claim only where this run shows it: at every α, the batches that diverged
    # are smaller than those that did not
    small_first = all(
        max(unstable) < min(stable)
        for lr in lrs
        if (unstable := [k for k in ks if (k, lr) in runs and runs[(k, lr)].diverged])
        and (stable := [k for k in ks if (k, lr) in runs and not runs[(k, lr)].diverged])
    )
    lead = (
        "Small, noisy batches tolerate only small learning rates"
        if small_first
        else ("Some runs diverged, not only the smallest batches")
    )
    return f"{lead}: {'; '.join(parts)}."


def _loss_text(loss: float) -> str:
    """A final training loss in words: "diverged" for the NaN of a diverged run."""
    return f"{loss:.3g}" if math.isfinite(loss) else "diverged"


def _describe_scaling(runs, diagonal) -> str:
    if not diagonal:
        return "(Not measured in this run: it needs three batch sizes with α/K constant.)"
    finals = [runs[key].final_loss for key in diagonal]
    listed = ", ".join(
        f"K = {k}, α = {lr:g}: {_loss_text(loss)}"
        for (k, lr), loss in zip(diagonal, finals, strict=True)
    )
    text = f"Along α/K = {diagonal[0][1] / diagonal[0][0]:g} the final training losses are {listed}"
    k0, lr0 = diagonal[0]
    same_lr = [
        f"K = {k}: {_loss_text(runs[(k, lr0)].final_loss)}"
        for k, _ in diagonal[1:]
        if (k, lr0) in runs
    ]
    if same_lr:
        text += f", against {', '.join(same_lr)} when α stays at {lr0:g} (the value for K = {k0})"
    if all(math.isfinite(f) for f in finals) and min(finals) > 0:
        spread = max(finals) / min(finals) - 1
        text += f"; along the diagonal they differ by {100 * spread:.0f}%"
    return text + "."


def _loss_after(run: Run, updates: float) -> float | None:
    """The training loss after ``updates`` updates, interpolated on log-log axes (None outside)."""
    counts = np.arange(1, run.train_loss.size) * run.updates_per_epoch
    loss = run.train_loss[1:]
    if run.diverged or not counts.size or not counts[0] <= updates <= counts[-1]:
        return None
    return float(np.exp(np.interp(np.log(updates), np.log(counts), np.log(loss))))


def _updates_to_reach(run: Run, loss: float) -> float | None:
    """Updates the run needs to bring its training loss down to ``loss`` (None if it never does)."""
    counts = np.arange(1, run.train_loss.size) * run.updates_per_epoch
    best = np.minimum.accumulate(run.train_loss[1:])  # the best so far: monotone, invertible
    if run.diverged or not counts.size or not best[-1] <= loss:
        return None
    if loss >= best[0]:
        return float(counts[0])
    # log-log interpolation of updates against the (decreasing) loss
    return float(np.exp(np.interp(-np.log(loss), -np.log(best), np.log(counts))))


def _describe_per_epoch(runs, lr, n) -> str:
    """Which batch size ends lowest after the same number of epochs at rate ``lr``, in words."""
    ks = sorted(k for k, rate in runs if rate == lr)
    stable = [k for k in ks if not runs[(k, lr)].diverged]
    diverged = [_label(k, n) for k in ks if runs[(k, lr)].diverged]
    among = f"among the runs that did not diverge ({', '.join(diverged)} did), " if diverged else ""
    if len(stable) < 2:
        return "per epoch, too few runs at this rate stayed stable to compare."
    finals = [runs[(k, lr)].final_loss for k in stable]
    if all(np.diff(finals) > 0):
        if finals[-1] >= 10 * finals[0]:
            claim = "small batches win by far, because they make many more updates"
        else:
            claim = "smaller batches win, because they make more updates"
        return f"per epoch, {among}{claim} from the same examples."
    lowest = [k for k, loss in zip(stable, finals, strict=True) if loss == min(finals)]
    if len(lowest) > 1:
        tied = " and ".join(_label(k, n) for k in lowest)
        return f"per epoch, {among}{tied} tie for the lowest loss: no batch size wins outright."
    best = lowest[0]
    if best == stable[0]:
        return (
            f"per epoch, {among}the smallest batch ends lowest, though not every smaller batch "
            "beats every larger one."
        )
    return f"per epoch, {among}{_label(best, n)} ends lowest: here the smallest batch does not win."


#: A larger batch counts as ahead per update when it needs this factor fewer updates.
_AHEAD = 1.05


def _describe_per_update(runs, lr, n) -> str:
    """How many updates each batch size needs to reach what the smallest batch reaches first."""
    ks = sorted(k for k, rate in runs if rate == lr and not runs[(k, rate)].diverged)
    if len(ks) < 2:
        return "there are too few stable runs at this rate to compare."
    small = runs[(ks[0], lr)]
    updates = small.updates_per_epoch  # one epoch of the smallest batch
    target = _loss_after(small, updates)
    parts, reached = [], []
    for k in ks[1:]:
        needed = _updates_to_reach(runs[(k, lr)], target)
        if needed is None:
            parts.append(f"{_label(k, n)} does not get there in these epochs")
            continue
        gain = updates / needed
        # below the target after its first epoch already: it got there somewhere within that
        # epoch, so `needed` is an upper bound, and one epoch of examples sufficed, as for the
        # smallest batch: it repays its cost
        at_most = bool(target > runs[(k, lr)].train_loss[1])
        reached.append((k, gain, at_most))
        if gain > _AHEAD:
            shown = math.floor(10 * gain) / 10 if at_most else gain  # a lower bound: round down
            ratio = f"{'at least ' * at_most}{shown:.1f}× fewer"
        elif gain < 1 / _AHEAD:
            ratio = f"{1 / gain:.1f}× more"
        else:
            ratio = "about as many"
        parts.append(
            f"{_label(k, n)} needs {'at most ' * at_most}{needed:.0f} updates ({ratio}, for "
            f"{k / ks[0]:g}× the examples per update)"
        )
    ahead = [k for k, gain, _ in reached if gain > _AHEAD]
    repays = [k for k, gain, at_most in reached if gain * ks[0] >= k or at_most]
    if not reached:
        verdict = "no larger batch catches up within these epochs."
    elif not ahead:
        verdict = "no larger batch needs even 5% fewer updates here, let alone repays its cost."
    elif len(repays) == len(reached):
        verdict = "here a larger batch repays its cost per update."
    elif repays:
        names = ", ".join(_label(k, n) for k in repays)
        its = "repays its" if len(repays) == 1 else "repay their"
        verdict = f"here only {names} {its} cost per update."
    elif len(ahead) == len(reached):
        verdict = (
            "a larger batch makes more progress per update, but less than the K-fold gradient "
            "evaluations it costs."
        )
    else:
        names = ", ".join(_label(k, n) for k in ahead)
        verdict = (
            f"only {names} {'makes' if len(ahead) == 1 else 'make'} more progress per update, "
            "and less than the K-fold gradient evaluations it costs."
        )
    # "turns around" only when the smallest batch won per epoch and a larger one wins per update
    turns = ahead and all(small.final_loss < runs[(k, lr)].final_loss for k in ks[1:])
    lead = "the comparison turns around: " if turns else ""
    return (
        f"{lead}to reach the loss {target:.3g} that {_label(ks[0], n)} has after {updates} "
        f"updates at α = {lr:g}, {'; '.join(parts)}. So {verdict}"
    )


def minibatch_section(
    ctx: Context,
    *,
    batch_sizes: Sequence[int | None] = BATCH_SIZES,
    learning_rates: Sequence[float] = LEARNING_RATES,
    epochs: int = 10,
    hidden: int = HIDDEN,
) -> Section:
    """Run the study and build its report section (the registered experiment picks the sizes).

    Args:
      ctx: the tour context (output folder, seed).
      batch_sizes: values of K (None: full batch).
      learning_rates: values of α; the reference for the text is the smallest.
      epochs: epochs per run.
      hidden: hidden width.
    """
    from nndl_jax import data

    ds = data.load("digits", seed=ctx.seed)
    n = int(ds.train.x.shape[0])
    runs = run_minibatch_study(
        ds,
        batch_sizes=batch_sizes,
        learning_rates=learning_rates,
        epochs=epochs,
        seed=ctx.seed,
        hidden=hidden,
    )
    noise = gradient_noise(ds, batch_sizes, seed=ctx.seed, hidden=hidden)
    diagonal = _diagonal(runs)

    rows = []
    for (k, lr), run in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
        rows.append(
            [
                _label(k, n),
                lr,
                run.updates_per_epoch,
                "diverged" if run.diverged else f"{run.final_loss:.4f}",
                "-" if run.diverged else f"{run.val_accuracy:.3f}",
                f"{1e3 * run.seconds_per_epoch:.1f}",
            ]
        )
    table = Table(
        f"Digits (N = {n} training samples), MLP 64-{hidden}-10 ReLU, plain SGD from one "
        f"initialization, {epochs} epochs",
        ["batch size", "α", "updates/epoch", "final train loss", "val accuracy", "ms/epoch"],
        rows,
    )
    noise_table = Table(
        "Relative error of the minibatch gradient at initialization",
        ["batch size", "measured", "closed form"],
        [[_label(k, n), f"{m:.3f}", f"{p:.3f}"] for k, (m, p) in noise.items()],
    )

    ks = sorted({k for k, _ in runs})
    lr_ref = min(lr for _, lr in runs)
    ref_losses = ", ".join(
        f"{'diverged' if run.diverged else f'{run.final_loss:.3g}'} ({_label(k, n)})"
        for k in ks
        if (run := runs.get((k, lr_ref))) is not None
    )
    small = [k for k in noise if k < n]
    timing = ", ".join(
        f"{_label(k, n)} {1e3 * run.seconds_per_epoch:.1f} ms"
        for k in ks
        if (run := runs.get((k, lr_ref))) is not None and math.isfinite(run.seconds_per_epoch)
    )
    updates = {k: -(-n // k) for k in ks}
    text = _TEXT.format(
        n=n,
        k_min=_label(ks[0], n).removeprefix("K="),
        k_max=_label(ks[-1], n).removeprefix("K="),
        max_updates=updates[ks[0]],
        min_updates=updates[ks[-1]],
        noise_small=f"{noise[small[0]][0]:.2f}" if small else "-",
        k_small=small[0] if small else "-",
        noise_mid=f"{noise[small[-1]][0]:.2f}" if small else "-",
        k_mid=small[-1] if small else "-",
        epochs=epochs,
        lr_ref=lr_ref,
        ref_losses=ref_losses,
        per_epoch=_describe_per_epoch(runs, lr_ref, n),
        per_update=_describe_per_update(runs, lr_ref, n),
        draws=NOISE_DRAWS,
        noise_dev=f"{100 * max(abs(m / p - 1) for m, p in noise.values() if p > 0):.0f}%"
        if any(p > 0 for _, p in noise.values())
        else "-",
        machine=_machine(),
        stability=_describe_stability(runs, n),
        scaling=_describe_scaling(runs, diagonal),
        timing=timing or "not measured (fewer than two epochs)",
    )
    figures = [
        ctx.savefig(_curves_figure(runs, n, hidden), "minibatch_curves"),
        ctx.savefig(_noise_and_scaling_figure(noise, runs, diagonal, n), "minibatch_noise"),
    ]
    metrics: dict[str, float] = {"train_size": n}
    for (k, lr), run in runs.items():
        key = f"K={k}/lr={lr:g}"
        metrics[f"{key}/final_train_loss"] = run.final_loss
        metrics[f"{key}/val_accuracy"] = run.val_accuracy
        metrics[f"{key}/seconds_per_epoch"] = run.seconds_per_epoch
        metrics[f"{key}/diverged"] = float(run.diverged)
    for k, (measured, predicted) in noise.items():
        metrics[f"K={k}/gradient_error"] = measured
        metrics[f"K={k}/gradient_error_closed_form"] = predicted
    return Section(
        "Minibatch size and learning rate",
        text,
        figures=figures,
        tables=[table, noise_table],
        metrics=metrics,
    )


def settings(quick: bool) -> dict[str, Any]:
    """The keyword arguments of :func:`minibatch_section` for the quick or full tour."""
    if quick:
        return {"epochs": 8, "learning_rates": LEARNING_RATES}
    return {"epochs": 40, "learning_rates": (*LEARNING_RATES, 1.6)}


@experiment("minibatch", "Minibatch size and learning rate", order=55)
def minibatch(ctx: Context) -> Section:
    return minibatch_section(ctx, **settings(ctx.quick))
