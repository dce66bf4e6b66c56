"""Training loss of minibatch SGD for batch sizes K and learning rates α, as PNGs and tables.

    python examples/minibatch_study.py --out reports/            # quick: 8 epochs
    python examples/minibatch_study.py --out reports/ --full     # 40 epochs, one more α

Runs the code of the tour section "minibatch" (``nndl_jax/experiments/minibatch.py``): an MLP
64-128-10 trained on the digits by plain SGD from one initialization for K in {1, 8, 32, 128,
full} and α in {0.025, 0.1, 0.4} (and 1.6 with --full). Writes ``<out>/minibatch_curves.png``
(training loss per epoch and per update), ``<out>/minibatch_noise.png`` (error of the
minibatch gradient against K; the linear scaling rule) and ``<out>/minibatch.csv``, and prints
the tables and the text.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script that writes a file never needs a window

from nndl_jax.experiments import Context, minibatch as study  # noqa: E402


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", default="reports", help="directory for the PNGs and CSV (default: reports/)"
    )
    parser.add_argument(
        "--full", action="store_true", help="40 epochs and α up to 1.6 instead of 8 epochs"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, init and order")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive integer, got {args.epochs}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, quick=not args.full, seed=args.seed)
    kwargs = study.settings(quick=not args.full)
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    section = study.minibatch_section(ctx, **kwargs)

    path = out / "minibatch.csv"
    runs, noise = section.tables
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([runs.header, *runs.rows])
    for table in section.tables:
        print(table.as_text(), end="\n\n")
    print(section.text)
    for figure in section.figures:
        print(f"wrote {figure}")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
