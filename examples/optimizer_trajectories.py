"""Trajectories of every optimizer on an ill-conditioned bowl and on a saddle, as a PNG.

    python examples/optimizer_trajectories.py --out reports/ --steps 40

Runs the code of the tour section "optimizers" (``nndl_jax/experiments/optimizers.py``):
f(x, y) = 0.1 x² + 2 y² and f(x, y) = x² − y², each optimizer of ``nndl_jax.optim`` with the
hyperparameters shown in the legend. Writes ``<out>/optimizer_trajectories.png`` and prints, for
each optimizer, f on the bowl after the last step and the step at which it leaves the saddle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script that writes a file never needs a window

from nndl_jax.experiments import optimizers as tour  # noqa: E402


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", default="reports", help="directory for the PNG (default: reports/)"
    )
    parser.add_argument("--steps", type=int, default=tour.STEPS, help="updates per trajectory")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")

    optimizers = tour.default_optimizers()
    paths = tour.trajectories(optimizers, steps=args.steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "optimizer_trajectories.png"
    fig = tour.plot_trajectories(paths, optimizers)
    fig.savefig(path, dpi=110, bbox_inches="tight")

    bowl, saddle = tour.SURFACES
    print(f"{'optimizer':<10} {'hyperparameters':<24} {'bowl: final f':>14} {'saddle: escape':>15}")
    for name, entry in optimizers.items():
        final = float(bowl.fn(paths[bowl.name][name][-1]))
        escape = tour.escape_step(paths[saddle.name][name])
        print(f"{name:<10} {entry.label:<24} {final:>14.3g} {str(escape or '-'):>15}")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
