"""Tour section: the data sets and synthetic tasks the later experiments train on."""

from __future__ import annotations

import jax
import numpy as np

from nndl_jax.experiments._registry import Context, Section, Table, experiment

_TEXT = """\
Four small classification sets ship with scikit-learn, so the tour needs no download:
handwritten digits (8x8 images, 10 classes), iris (3 species from 4 measurements),
breast cancer (malignant or benign from 30 cell-nucleus features) and wine (3 cultivars from 13
chemical measurements). `nndl_jax.data.load` splits each into train / validation / test sets,
stratified by class and fixed by the seed, and standardizes with the training split's mean and
standard deviation only, so that nothing about the held-out samples leaks into training.

Four tasks are generated on the device from a PRNG key: *two moons*, two interleaved half circles
that no linear classifier separates; the *adding problem* (Hochreiter & Schmidhuber, 1997), where
a recurrent network must add the two values marked in a long sequence (always answering 1 scores
a mean squared error of 1/6); the book's *digit-sum memory task*, where the label is the sum of the
first two of T digits and the later digits are distractors; and the *sinusoid regression tasks*
of MAML (Finn et al., 2017), one amplitude and phase per task. Minibatches are cut on the device
too: one random permutation per epoch, equal batches, the last one padded and masked."""


def _table(datasets, seed: int) -> Table:
    rows = []
    for ds in datasets:
        y = np.concatenate([np.asarray(s.y) for s in ds.splits().values()])
        counts = np.bincount(y, minlength=ds.num_classes)
        sizes = [int(s.y.shape[0]) for s in ds.splits().values()]
        balance = "/".join(str(c) for c in counts)
        rows.append([ds.name, len(y), ds.num_features, ds.num_classes, *sizes, balance])
    header = ["data set", "samples", "features", "classes", "train", "val", "test", "per class"]
    return Table(f"Bundled data sets (split seed {seed}, 15% validation, 15% test)", header, rows)


def _digits_figure(ds, per_class: int = 3):
    import matplotlib.pyplot as plt

    images = np.asarray(ds.unscale(ds.train.x)).reshape(-1, *ds.image_shape)
    labels = np.asarray(ds.train.y)
    fig, axes = plt.subplots(per_class, ds.num_classes, figsize=(8, 0.9 * per_class + 0.5))
    # one column per class: the first few training images with that label
    for c in range(ds.num_classes):
        for row, i in enumerate(np.flatnonzero(labels == c)[:per_class]):
            ax = axes[row, c]
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=16)
            ax.set_title(str(labels[i]), fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("digits: 8x8 training images and their labels")
    return fig


def _tasks_figure(key):
    import matplotlib.pyplot as plt

    from nndl_jax import data

    k_moons, k_add, k_sin = jax.random.split(key, 3)
    fig, (ax_moons, ax_add, ax_sin) = plt.subplots(1, 3, figsize=(13, 3.6))

    x, y = (np.asarray(a) for a in data.two_moons(k_moons, 400, noise=0.1))
    for label, color in ((0, "tab:blue"), (1, "tab:orange")):
        ax_moons.scatter(*x[y == label].T, s=8, color=color, label=f"class {label}")
    ax_moons.set(
        title="two moons (n=400, noise=0.1)", aspect="equal", xlabel="$x_1$", ylabel="$x_2$"
    )
    ax_moons.legend(fontsize=8)

    T = 50
    x, y = (np.asarray(a) for a in data.adding_problem(k_add, 1, T))
    steps = np.arange(T)
    ax_add.plot(steps, x[0, :, 0], color="tab:gray", lw=1, label="value $v_t$")
    marked = x[0, :, 1] == 1
    ax_add.scatter(steps[marked], x[0, marked, 0], color="tab:red", zorder=3, label="marked")
    ax_add.axvline(T // 2 - 0.5, color="k", ls=":", lw=1, label="T/2: one mark on each side")
    ax_add.set(
        title=f"adding problem (T={T}): target = {y[0]:.3f}", xlabel="step t", ylabel="value $v_t$"
    )
    ax_add.legend(fontsize=8)

    tasks = data.sinusoid_tasks(k_sin, 4, 10)
    grid = np.linspace(-5, 5, 200)
    for i in range(4):
        amp, phase = float(tasks.amplitude[i]), float(tasks.phase[i])
        line = ax_sin.plot(grid, np.asarray(data.sinusoid(grid, amp, phase)), lw=1)[0]
        ax_sin.scatter(
            np.asarray(tasks.x[i, :, 0]), np.asarray(tasks.y[i, :, 0]), s=10, color=line.get_color()
        )
    ax_sin.set(title="sinusoid tasks: 10 points each", xlabel="x", ylabel="y = A sin(x - φ)")
    fig.tight_layout()
    return fig


@experiment("datasets", "Data sets and synthetic tasks", order=10)
def datasets(ctx: Context) -> Section:
    from nndl_jax import data

    loaded = [data.load(name, seed=ctx.seed) for name in data.names()]
    table = _table(loaded, ctx.seed)
    digits = next(ds for ds in loaded if ds.name == "digits")
    key = jax.random.key(ctx.seed)
    k_tasks, k_sum = jax.random.split(key)

    sequences, sums = (np.asarray(a) for a in data.digit_sum(k_sum, 3, 8))
    examples = Table(
        "Digit-sum memory task (T=8): the label is the sum of the first two digits",
        ["digits", "label"],
        [[" ".join(map(str, seq)), int(s)] for seq, s in zip(sequences, sums, strict=True)],
    )
    figures = [
        ctx.savefig(_digits_figure(digits), "datasets_digits"),
        ctx.savefig(_tasks_figure(k_tasks), "datasets_tasks"),
    ]
    metrics = {
        f"{ds.name}_{split}": int(s.y.shape[0]) for ds in loaded for split, s in ds.splits().items()
    }
    return Section(
        "Data sets and synthetic tasks",
        _TEXT,
        figures=figures,
        tables=[table, examples],
        metrics=metrics,
    )
