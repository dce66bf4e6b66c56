"""Tour section: parameter initialization and the symmetric-weights problem (book section 7.3).

An MLP on the digits is trained by minibatch SGD with the hand-written backpropagation of
:func:`nndl_jax.train.mlp_grads`, from five initializations of its weights (biases start at
zero): all zeros, one constant, a small normal, Xavier and He. After training we measure the
test accuracy and :func:`nndl_jax.train.hidden_unit_spread`, the largest difference between the
incoming weights of two units of a hidden layer (0 when every unit is a copy of the others).

:func:`train_from_init` runs one configuration; the whole training (every epoch, shuffling on
the device, minibatches with the last partial one masked) is one compiled ``lax.scan``, shared
by all initializations of the same architecture.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.experiments._registry import Context, Section, Table, experiment

# label -> keyword arguments of mlp_init
INITS: dict[str, dict[str, Any]] = {
    "zeros": {"init": "zeros"},
    "constant 0.05": {"init": "constant", "value": 0.05},
    "normal σ=0.01": {"init": "normal", "stddev": 0.01},
    "xavier": {"init": "xavier"},
    "he": {"init": "he"},
}
ACTIVATIONS = ("relu", "tanh")
SIZES = (64, 32, 32, 10)


class Run(NamedTuple):
    """One trained network.

    Attributes:
      params: the trained MLP params.
      val_accuracy: validation accuracy after each epoch, shape ``(epochs,)``.
      train_loss: mean training loss of each epoch, shape ``(epochs,)``.
      test_accuracy: accuracy on the test split after the last epoch.
      spread: :func:`~nndl_jax.train.hidden_unit_spread` of the trained params.
      distinct_units: the number of different units in each hidden layer.
      hidden_change: the largest change of a hidden-layer weight or bias during training.
    """

    params: list
    val_accuracy: np.ndarray
    train_loss: np.ndarray
    test_accuracy: float
    spread: float
    distinct_units: tuple[int, ...]
    hidden_change: float


def _accuracy(params, x, y, activation):
    from nndl_jax.train import mlp_forward

    logits, _ = mlp_forward(params, x, activation=activation)
    return jnp.mean(jnp.argmax(logits, axis=-1) == y)


@functools.cache
def _compiled_fit(activation: str, epochs: int, batch_size: int):
    """``fit(params, key, lr, train, val) -> (params, losses, val_acc)``, one jit per setting."""
    from nndl_jax import data
    from nndl_jax.train import mlp_grads

    def step(params, batch, lr):
        x, y, mask = batch
        loss, grads = mlp_grads(params, x, y, activation=activation, mask=mask)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss

    def epoch(carry, key, lr, train, val):
        params = carry
        xb, yb, mask = data.batches(key, train.x, train.y, batch_size)
        params, losses = jax.lax.scan(
            lambda p, b: step(p, b, lr), params, (xb, yb, mask.astype(train.x.dtype))
        )
        # every batch but the last is full, so the mean of batch means is the epoch mean
        # up to the last batch's weight; weight it by its real size
        sizes = jnp.sum(mask, axis=1)
        mean_loss = jnp.sum(losses * sizes) / jnp.sum(sizes)
        return params, (mean_loss, _accuracy(params, val.x, val.y, activation))

    @jax.jit
    def fit(params, key, lr, train, val):
        keys = jax.random.split(key, epochs)
        params, (losses, val_acc) = jax.lax.scan(
            lambda p, k: epoch(p, k, lr, train, val), params, keys
        )
        return params, losses, val_acc

    return fit


def distinct_units(w: np.ndarray, b: np.ndarray, *, rtol: float = 1e-5) -> int:
    """How many different columns (units) ``[w; b]`` has, up to ``rtol`` of its largest entry."""
    cols = np.concatenate([np.asarray(w), np.asarray(b)[None, :]], axis=0).T
    tol = rtol * max(float(np.abs(cols).max()), 1e-30)
    representatives: list[np.ndarray] = []
    for col in cols:
        if not any(np.abs(col - r).max() <= tol for r in representatives):
            representatives.append(col)
    return len(representatives)


def train_from_init(
    init: str = "he",
    *,
    activation: str = "relu",
    sizes: tuple[int, ...] = SIZES,
    epochs: int = 20,
    batch_size: int = 32,
    learning_rate: float = 0.1,
    seed: int = 0,
    dataset=None,
    **init_kwargs: Any,
) -> Run:
    """Train an MLP on the digits by minibatch SGD from the initialization ``init``.

    Args:
      init: a weight initializer of :func:`nndl_jax.train.mlp_init` (``"zeros"``,
        ``"constant"``, ``"normal"``, ``"xavier"``, ``"he"``, ...); biases start at zero.
      activation: the hidden activation.
      sizes: layer widths, input 64 and output 10 for the digits.
      epochs, batch_size, learning_rate: plain SGD, ``θ ← θ - lr ∇L`` on the mean loss of each
        minibatch of a reshuffled epoch.
      seed: seeds the initialization and the shuffling.
      dataset: a loaded ``data.load("digits")`` (loaded here when None).
      **init_kwargs: ``value`` (constant) or ``stddev`` (normal) for :func:`mlp_init`.

    Returns:
      A :class:`Run`.
    """
    from nndl_jax import data
    from nndl_jax.train import hidden_unit_spread, mlp_init

    ds = data.load("digits", seed=seed) if dataset is None else dataset
    k_init, k_fit = jax.random.split(jax.random.key(seed))
    start = mlp_init(k_init, sizes, init, **init_kwargs)
    fit = _compiled_fit(activation, epochs, batch_size)
    params, losses, val_acc = fit(start, k_fit, learning_rate, ds.train, ds.val)
    change = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), params[:-1], start[:-1])
    test_accuracy = float(_accuracy(params, ds.test.x, ds.test.y, activation))
    return Run(
        params=params,
        val_accuracy=np.asarray(val_acc),
        train_loss=np.asarray(losses),
        test_accuracy=test_accuracy,
        spread=float(hidden_unit_spread(params)),
        distinct_units=tuple(distinct_units(p["w"], p["b"]) for p in params[:-1]),
        hidden_change=max(jax.tree.leaves(change)),
    )


_TEXT = """\
Every hidden unit j of a layer computes f(a⁽ˡ⁻¹⁾ w_j + b_j) from the same inputs a⁽ˡ⁻¹⁾. If all
weights start equal (all zero, or all one constant), every unit of a layer has the same net input
and the same activation for every example, and its outgoing weights are equal too; so
backpropagation gives every unit the same error term δ_j = f′(z_j) · (δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾ᵀ)_j and the
same gradient a⁽ˡ⁻¹⁾ᵀ δ_j. The units move together and stay copies of one another however long
we train (对称权重现象, the symmetric-weights problem): a layer of {width} units behaves like a
layer of one.

Measured on the digits: MLP {arch}, minibatch SGD with the hand-written backpropagation, batch
{batch}, learning rate {lr}, {epochs} epochs, biases initialized to zero. The spread is the
largest difference between the incoming weights (and biases) of two units of one hidden layer,
over all hidden layers; "distinct units" counts the different units of each hidden layer.

Zeros: every hidden activation is f(0) = 0 and every outgoing weight 0, so every error term
below the output and every weight gradient is exactly 0, with ReLU and with tanh alike: no
hidden weight moves (largest change {zero_moved:.1e}), and in the output layer only the bias
learns, the class priors. The network gives every input the same class: test accuracy
{zero_acc}, against {majority:.3f} for always answering the most frequent training class.
Spread {zero_spread:.1e}.

Constant ({const}): the units do move (hidden weights change by up to {const_moved:.2f}) but
stay identical: spread {const_spread:.1e}, {const_distinct} distinct unit(s) per hidden layer.
The network is in effect one unit wide and reaches only {const_acc} test accuracy (ReLU;
{const_tanh} with tanh).

Random initializations break the symmetry: Xavier {xavier_acc} and He {he_acc} test accuracy
(ReLU), with spreads of order 1. A small normal (σ = 0.01) breaks it too, but each layer scales
the signal by about σ·√n ≈ {shrink:.2f}, so the output and the gradients of the lower layers start
tiny. {tiny_normal}
Xavier and He choose the variance so that the signal keeps its size from layer to layer.

The first figure shows the validation accuracy of every run after each epoch; the second the
incoming weights of the first 8 units of the first hidden layer as 8x8 images after training:
blank for the zero start, identical images for the constant start, varied strokes for He."""


def _slow_start(accuracy: float, chance: float, reference: float) -> str:
    """How far a run from a tiny initialization got, judged against chance and Xavier."""
    if accuracy < chance + 0.1:
        return "has barely started"
    if accuracy < reference - 0.05:
        return "lags behind"
    return "has caught up"


def _tiny_normal_sentence(epochs: int, normal: dict, xavier: dict, chance: float) -> str:
    """How far the σ = 0.01 runs got, each judged against Xavier with the same activation.

    Args:
      epochs: epochs trained.
      normal, xavier: test accuracy by activation (``"relu"``, ``"tanh"``).
      chance: accuracy of always answering the most frequent training class.
    """
    parts = [
        f"{_slow_start(normal[a], chance, xavier[a])} with {name} ({normal[a]:.3f} test accuracy, "
        f"against {xavier[a]:.3f} for Xavier)"
        for a, name in (("relu", "ReLU"), ("tanh", "tanh"))
    ]
    return f"After {epochs} epochs training {parts[0]} and {parts[1]}."


def _fmt(rows, activation, init) -> str:
    return f"{rows[(activation, init)].test_accuracy:.3f}"


def _curves_figure(runs, epochs):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ACTIVATIONS), figsize=(11, 3.6), sharey=True)
    for ax, activation in zip(axes, ACTIVATIONS, strict=True):
        for label in INITS:
            run = runs[(activation, label)]
            ax.plot(np.arange(1, epochs + 1), run.val_accuracy, label=label, marker=".", ms=3)
        ax.set(title=f"{activation}", xlabel="epoch", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy")
    axes[0].legend(fontsize=8, loc="center right")
    fig.suptitle("digits: validation accuracy by initialization")
    fig.tight_layout()
    return fig


def _weights_figure(runs, labels, units: int = 8):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(labels), units, figsize=(units * 0.9, len(labels) * 1.05))
    for row, label in enumerate(labels):
        w = np.asarray(runs[("relu", label)].params[0]["w"])
        scale = max(float(np.abs(w).max()), 1e-12)
        for j in range(units):
            ax = axes[row, j]
            ax.imshow(w[:, j].reshape(8, 8), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("incoming weights of hidden units 1-8 (relu, after training)", fontsize=9)
    return fig


@experiment("initialization", "Initialization and the symmetric-weights problem", order=45)
def initialization(ctx: Context) -> Section:
    from nndl_jax import data

    epochs = 10 if ctx.quick else 40
    batch_size, lr = 32, 0.1
    ds = data.load("digits", seed=ctx.seed)
    runs = {}
    for activation in ACTIVATIONS:
        for label, kwargs in INITS.items():
            runs[(activation, label)] = train_from_init(
                activation=activation,
                sizes=SIZES,
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=lr,
                seed=ctx.seed,
                dataset=ds,
                **kwargs,
            )
    counts = np.bincount(np.asarray(ds.train.y), minlength=ds.num_classes)
    majority = float(np.mean(np.asarray(ds.test.y) == int(np.argmax(counts))))

    rows = []
    for (activation, label), run in runs.items():
        rows.append(
            [
                activation,
                label,
                f"{run.test_accuracy:.3f}",
                f"{run.spread:.2e}",
                "/".join(f"{d}" for d in run.distinct_units),
                f"{run.hidden_change:.2e}",
                f"{run.train_loss[-1]:.3f}",
            ]
        )
    table = Table(
        f"Digits, MLP {'-'.join(map(str, SIZES))}, SGD lr={lr}, batch {batch_size}, "
        f"{epochs} epochs (trivial classifier: {majority:.3f})",
        [
            "activation",
            "init",
            "test accuracy",
            "hidden-unit spread",
            "distinct units",
            "hidden weights moved",
            "train loss",
        ],
        rows,
    )
    text = _TEXT.format(
        width=SIZES[1],
        arch="-".join(map(str, SIZES)),
        batch=batch_size,
        lr=lr,
        epochs=epochs,
        zero_acc=_fmt(runs, "relu", "zeros"),
        majority=majority,
        zero_spread=runs[("relu", "zeros")].spread,
        const_spread=runs[("relu", "constant 0.05")].spread,
        const_distinct=max(runs[("relu", "constant 0.05")].distinct_units),
        const_acc=_fmt(runs, "relu", "constant 0.05"),
        const_tanh=_fmt(runs, "tanh", "constant 0.05"),
        const_moved=runs[("relu", "constant 0.05")].hidden_change,
        zero_moved=max(runs[(a, "zeros")].hidden_change for a in ACTIVATIONS),
        const=INITS["constant 0.05"]["value"],
        shrink=0.01 * np.sqrt(SIZES[1]),
        xavier_acc=_fmt(runs, "relu", "xavier"),
        he_acc=_fmt(runs, "relu", "he"),
        tiny_normal=_tiny_normal_sentence(
            epochs,
            {a: runs[(a, "normal σ=0.01")].test_accuracy for a in ACTIVATIONS},
            {a: runs[(a, "xavier")].test_accuracy for a in ACTIVATIONS},
            majority,
        ),
    )
    figures = [
        ctx.savefig(_curves_figure(runs, epochs), "initialization_curves"),
        ctx.savefig(
            _weights_figure(runs, ["zeros", "constant 0.05", "he"]), "initialization_weights"
        ),
    ]
    metrics = {"majority_class_accuracy": majority}
    for (activation, label), run in runs.items():
        key = f"{activation}/{label}"
        metrics[f"{key}/test_accuracy"] = run.test_accuracy
        metrics[f"{key}/spread"] = run.spread
        metrics[f"{key}/hidden_change"] = run.hidden_change
    return Section(
        "Initialization and the symmetric-weights problem",
        text,
        figures=figures,
        tables=[table],
        metrics=metrics,
    )
