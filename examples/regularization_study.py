"""Each regularization method against none on a 200-digit training set, as a PNG and a table.

    python examples/regularization_study.py --out reports/            # quick: 1 seed, 100 epochs
    python examples/regularization_study.py --out reports/ --full     # 5 seeds, 150 epochs

Runs the code of the tour section "regularization" (``nndl_jax/experiments/regularization.py``):
an MLP 64-256-256-10 trained with Adam on a stratified subset of the digits, once without
regularization and once with each of L1, L2, weight decay, early stopping, dropout, two kinds of
data augmentation, label smoothing and a combination. Writes ``<out>/regularization.png`` and
``<out>/regularization.csv`` and prints the table (train, validation and test accuracy, the
train-test gap, the change against no regularization, epochs run, weight norm) and the text.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script that writes a file never needs a window

from nndl_jax.experiments import Context, regularization as study  # noqa: E402


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", default="reports", help="directory for the PNG and CSV (default: reports/)"
    )
    parser.add_argument(
        "--full", action="store_true", help="5 seeds and 150 epochs instead of 1 seed, 100"
    )
    parser.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(study.METHODS),
        help="run only these methods (the baseline 'none' is always included)",
    )
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive integer, got {args.epochs}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, quick=not args.full, seed=args.seed)
    kwargs = study.settings(quick=not args.full, seed=args.seed)
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.methods is not None:
        kwargs["methods"] = ["none", *args.methods]
    section = study.regularization_section(ctx, **kwargs)

    (table,) = section.tables
    path = out / "regularization.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([table.header, *table.rows])
    print(table.as_text(), end="\n\n")
    print(section.text)
    for figure in section.figures:
        print(f"wrote {figure}")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
