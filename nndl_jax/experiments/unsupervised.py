"""Tour section: unsupervised learning I — PCA, linear and sparse coding, k-means, densities.

The notes' three unsupervised problems on small real data: feature learning (PCA, linear coding,
sparse coding on 8 × 8 digits), clustering (k-means on the same digits) and density estimation
(histogram, Gaussian KDE and a Gaussian mixture on the two-moons data). Each part is a function
of the context, so ``examples/unsupervised_digits.py`` can run them one by one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.experiments._registry import Context, Section, Table, experiment

_TEXT = """\
PCA. The 64 pixels of a digit are strongly correlated, so a few directions carry most of the
variance: the first two components already separate several classes (0, 3, 4 and 6 form
clouds of their own), and the cumulative explained-variance curve shows how many components
each share of the variance needs. The components are the top eigenvectors of the covariance
matrix, the solution of the notes' constrained maximisation of wᵀΣw.

Linear coding. With an orthonormal basis A from PCA, the code z = Aᵀ(x − x̄) and the
reconstruction x̂ = x̄ + Az are exact with all 64 atoms; with m atoms the mean squared error is
the sum of the discarded eigenvalues, the curve shown (and checked by `nndl-jax verify`).

Sparse coding. An overcomplete dictionary learned by the notes' alternation (codes by FISTA with
the atoms fixed, atoms by a constrained least-squares step with the codes fixed) has atoms that
look like parts and outlines of particular digits, signed because the data are centred, rather
than PCA's smooth global patterns (after the short quick-mode training they are still noisy).
The table compares, at the same number of active coefficients per digit, the reconstruction
error of sparse codes with that of PCA: a sparse code chooses *which* atoms to use for each
digit, PCA always uses the same ones.

k-means. Ten centroids of the raw digits, each titled with the majority class of its cluster
and that class's share. Clusters and classes agree only partly, because some digits are closer
in pixel space to other classes than to their own variants; the numbers of this run follow.

Density estimation on two moons. A histogram is blocky and wastes most cells in two dimensions,
a Gaussian KDE is smooth but keeps all the data, a Gaussian mixture summarises the data in a few
components. The held-out average log-likelihood says which generalises best."""


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data.astype(np.float32), digits.target


def pca_digits(ctx: Context) -> Section:
    """PCA projection, explained variance and linear-coding error curve on digits."""
    import matplotlib.pyplot as plt

    from nndl_jax.unsupervised import linear_coding, pca

    X, y = _digits()
    full = pca.fit(X, X.shape[1])
    Z = np.asarray(pca.transform(pca.fit(X, 2), X))
    ratio = np.cumsum(np.asarray(full.explained_variance_ratio))
    A, mean = linear_coding.basis_from_pca(full)
    curve = np.asarray(linear_coding.error_curve(X, A, mean))

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    points = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=6, alpha=0.8)
    for digit in range(10):
        cx, cy = np.median(Z[y == digit], axis=0)
        ax.text(cx, cy, str(digit), fontsize=14, weight="bold", ha="center", va="center")
    fig.colorbar(points, ax=ax, label="class")
    ax.set(xlabel="component 1", ylabel="component 2", title="Digits projected on 2 components")
    projection = ctx.savefig(fig, "unsupervised_pca_projection")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    ks = np.arange(1, X.shape[1] + 1)
    left.plot(ks, ratio, marker=".")
    for share in (0.8, 0.9, 0.95):
        left.axhline(share, color="grey", lw=0.5)
    left.set(
        xlabel="components k",
        ylabel="cumulative explained variance",
        ylim=(0, 1.02),
        title="Explained variance",
    )
    right.plot(np.arange(len(curve)), curve, marker=".")
    right.set(
        xlabel="atoms m (PCA basis)",
        ylabel="mean squared reconstruction error",
        title="Linear coding: error vs number of atoms",
        yscale="symlog",
    )
    curves = ctx.savefig(fig, "unsupervised_pca_variance")

    needed = {
        f"k_for_{int(s * 100)}pct_variance": int(np.searchsorted(ratio, s) + 1)
        for s in (0.8, 0.9, 0.95)
    }
    table = Table(
        "Linear coding of digits with the first m PCA atoms",
        ["m", "explained variance", "mean squared error", "relative error"],
        [
            [m, float(ratio[m - 1]), float(curve[m]), float(curve[m] / curve[0])]
            for m in (2, 5, 10, 20, 40, 64)
        ],
    )
    return Section(
        "PCA and linear coding",
        figures=[projection, curves],
        tables=[table],
        metrics={
            "explained_variance_ratio_2": float(ratio[1]),
            **needed,
            "full_rank_error": float(curve[-1]),
        },
    )


def sparse_dictionary(ctx: Context) -> Section:
    """Dictionary learning on digits: atom grid and a sparsity/reconstruction table."""
    import matplotlib.pyplot as plt

    from nndl_jax.unsupervised import linear_coding, pca, sparse_coding

    X, _ = _digits()
    X = X / 16.0
    X = X - X.mean(axis=0)
    if ctx.quick:
        X = X[:600]
    n_atoms, lam = 100, 0.1
    result = sparse_coding.learn(
        jax.random.key(ctx.seed),
        X,
        n_atoms,
        lam=lam,
        reg=1e-3,
        n_iter=8 if ctx.quick else 30,
        encode_iter=200 if ctx.quick else 500,
    )
    atoms = np.asarray(result.atoms)

    fig, axes = plt.subplots(10, 10, figsize=(7, 7))
    for j, ax in enumerate(axes.flat):
        atom = atoms[:, j].reshape(8, 8)
        limit = np.abs(atom).max() or 1.0
        ax.imshow(atom, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.axis("off")
    fig.suptitle(f"{n_atoms} learned atoms (λ = {lam}), red positive, blue negative")
    grid = ctx.savefig(fig, "unsupervised_dictionary_atoms")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(1, len(result.history) + 1), np.asarray(result.history), marker=".")
    ax.set(
        xlabel="round (codes, then atoms)",
        ylabel="objective per digit",
        title="Alternating minimisation",
    )
    history = ctx.savefig(fig, "unsupervised_dictionary_history")

    model = pca.fit(X, X.shape[1])
    basis, mean = linear_coding.basis_from_pca(model)
    pca_curve = np.asarray(linear_coding.error_curve(X, basis, mean))
    energy = float(np.mean(np.sum(X**2, axis=1)))
    rows = []
    for value in (0.02, 0.05, 0.1, 0.2, 0.4):
        Z = sparse_coding.encode(X, result.atoms, lam=value, max_iter=2000)
        active = float(jnp.mean(jnp.sum(Z != 0, axis=1)))
        error = float(jnp.mean(jnp.sum((X - Z @ result.atoms.T) ** 2, axis=1)))
        rows.append([value, active, error / energy, float(pca_curve[int(round(active))]) / energy])
    table = Table(
        "Sparse codes vs PCA at the same number of active coefficients (digits, relative MSE)",
        ["λ", "mean active atoms", "sparse coding error", "PCA error (same count)"],
        rows,
    )
    return Section(
        "Sparse coding",
        figures=[grid, history],
        tables=[table],
        metrics={
            "dictionary_final_objective": float(result.history[-1]),
            "active_atoms_at_lambda_0.1": rows[2][1],
        },
    )


def kmeans_digits(ctx: Context) -> Section:
    """k-means with k = 10 on digits; centroids shown as 8 × 8 images."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import adjusted_rand_score

    from nndl_jax.unsupervised import kmeans

    X, y = _digits()
    model = kmeans.fit(jax.random.key(ctx.seed), X, 10, n_init=4 if ctx.quick else 10)
    labels = np.asarray(model.labels)
    centroids = np.asarray(model.centroids)
    # Order the clusters by the class most of their members belong to.
    majority = np.array([np.bincount(y[labels == j], minlength=10).argmax() for j in range(10)])
    order = np.argsort(majority, kind="stable")

    fig, axes = plt.subplots(1, 10, figsize=(11, 1.6))
    for ax, j in zip(axes, order, strict=True):
        ax.imshow(centroids[j].reshape(8, 8), cmap="gray_r")
        purity = np.mean(y[labels == j] == majority[j])
        ax.set_title(f"{majority[j]} ({purity:.0%})", fontsize=9)
        ax.axis("off")
    fig.suptitle("k-means centroids (majority class and its share of the cluster)", y=1.08)
    path = ctx.savefig(fig, "unsupervised_kmeans_centroids")
    ari = float(adjusted_rand_score(y, labels))
    counts = np.stack([np.bincount(y[labels == j], minlength=10) for j in range(10)])
    worst = int(np.argmin(counts.max(axis=1) / np.maximum(counts.sum(axis=1), 1)))
    first, second = np.argsort(counts[worst])[::-1][:2]
    missing = sorted(set(range(10)) - set(majority.tolist()))
    coverage = (
        "every class is the majority of one cluster"
        if not missing
        else f"{10 - len(missing)} of the 10 classes are the majority of some cluster (none for "
        f"{', '.join(map(str, missing))}: those digits are spread over clusters led by others)"
    )
    text = (
        f"k-means, in this run: {coverage}; the least pure cluster holds "
        f"{counts[worst, first]} {first}s and {counts[worst, second]} {second}s of its "
        f"{counts[worst].sum()} digits. Adjusted "
        f"Rand index between clusters and classes: {ari:.2f} (1 is perfect agreement, 0 chance)."
    )
    return Section(
        "k-means",
        text=text,
        figures=[path],
        metrics={
            "kmeans_inertia": float(model.inertia),
            "kmeans_adjusted_rand": ari,
            "kmeans_iterations": int(model.n_iter),
        },
    )


def _density_verdict(rows, n_test: int) -> str:
    """Which estimator generalises best, counting a test point of zero density as log 0 = -inf.

    Args:
      rows: ``[name, mean log-likelihood of the finite points, points with zero density]``.
      n_test: number of held-out points.
    """
    held_out = [-np.inf if zeros else mean for _, mean, zeros in rows]
    if all(v == -np.inf for v in held_out):
        text = "every estimator gives some test point zero density"
    else:
        best = int(np.argmax(held_out))
        others = [v for i, v in enumerate(held_out) if i != best]
        verb = "ties for" if held_out[best] in others else "has"
        text = (
            f"the {rows[best][0]} {verb} the highest held-out average log-likelihood "
            f"({held_out[best]:.3f} per point)"
        )
    empty = [f"the {name} gives {zeros} of the {n_test} test points zero density"
             for name, _, zeros in rows if zeros]  # fmt: skip
    if empty:
        its = "its held-out average is" if len(empty) == 1 else "their held-out averages are"
        text += f"; {', and '.join(empty)}, so {its} -∞ (the table averages the other points only)"
    return f"Density estimation, in this run: {text}."


def densities_2d(ctx: Context) -> Section:
    """Histogram, Gaussian KDE and GMM densities of two moons, with held-out likelihoods."""
    import matplotlib.pyplot as plt
    from sklearn.datasets import make_moons

    from nndl_jax.unsupervised import gmm, histogram, kde

    data, _ = make_moons(1200, noise=0.08, random_state=ctx.seed)
    data = data.astype(np.float32)
    train, test = data[:800], data[800:]
    lo, hi = data.min(0) - 0.4, data.max(0) + 0.4
    xs, ys = np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 90)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)

    hist = histogram.fit(train, 16, range=np.stack([lo, hi], axis=1))
    bandwidth = 0.1
    mixture = gmm.fit(jax.random.key(ctx.seed), train, 8)
    estimators = [
        ("histogram (16 × 16 bins)", lambda Q: histogram.score_samples(hist, Q)),
        (f"Gaussian KDE (h = {bandwidth})", lambda Q: kde.score_samples(train, Q, bandwidth)),
        ("Gaussian mixture (k = 8, full)", lambda Q: gmm.score_samples(mixture, Q)),
    ]

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    rows = []
    for ax, (name, score) in zip(axes, estimators, strict=True):
        # Grid and test points in one call: one compilation per estimator.
        scores = np.asarray(score(np.concatenate([grid, test])), np.float64)
        held_out = scores[len(grid) :]
        density = np.exp(scores[: len(grid)]).reshape(len(ys), len(xs))
        filled = ax.contourf(xs, ys, density, levels=20, cmap="viridis")
        fig.colorbar(filled, ax=ax, label="density p(x)", format="%.2f")
        ax.scatter(train[:, 0], train[:, 1], s=1, c="white", alpha=0.4)
        ax.set(title=name, xlabel="$x_1$", ylabel="$x_2$")
        # A test point in an empty histogram cell has log-density -inf: report how many.
        finite = np.isfinite(held_out)
        rows.append([name, float(np.mean(held_out[finite])), int(np.sum(~finite))])
    density_path = ctx.savefig(fig, "unsupervised_densities")
    table = Table(
        "Held-out average log-likelihood on two moons (400 test points)",
        ["estimator", "average log-likelihood (finite points)", "points with zero density"],
        rows,
    )
    return Section(
        "Density estimation",
        text=_density_verdict(rows, len(test)),
        figures=[density_path],
        tables=[table],
        metrics={
            f"heldout_loglik_{key}": row[1]
            for key, row in zip(("histogram", "kde", "gmm"), rows, strict=True)
        },
    )


PARTS = (pca_digits, sparse_dictionary, kmeans_digits, densities_2d)


@experiment("unsupervised", "Unsupervised learning I: PCA, coding, clustering, density", order=60)
def unsupervised(ctx: Context) -> Section:
    """All four parts as one report section."""
    section = Section("Unsupervised learning I: PCA, coding, clustering, density", text=_TEXT)
    for part in PARTS:
        result = part(ctx)
        if result.text:
            section.text += "\n\n" + result.text
        section.figures.extend(result.figures)
        section.tables.extend(result.tables)
        section.metrics.update(result.metrics)
    return section
