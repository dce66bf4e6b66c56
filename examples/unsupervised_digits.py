"""PCA, linear and sparse coding, k-means and density estimation on small real data, as PNGs.

    python examples/unsupervised_digits.py --out reports/unsupervised --quick

Runs the parts of the tour section "unsupervised" (``nndl_jax/experiments/unsupervised.py``)
one by one: PCA of the 8 × 8 digits (2-D projection, explained variance, linear-coding error
curve), a learned sparse dictionary (atom grid, sparsity vs reconstruction), k-means centroids
as images, and histogram / KDE / Gaussian-mixture densities of two moons. Writes the PNGs to
``--out`` and prints each part's tables and numbers. Without ``--quick`` the dictionary is
trained longer on all digits and k-means uses more restarts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script that writes files never needs a window

from nndl_jax.experiments import Context, unsupervised as tour  # noqa: E402


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="reports/unsupervised", help="directory for the PNGs")
    parser.add_argument("--quick", action="store_true", help="short run (a few seconds)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, quick=args.quick, seed=args.seed)
    written = []
    for part in tour.PARTS:
        start = time.perf_counter()
        section = part(ctx)
        print(f"== {section.title} ({time.perf_counter() - start:.1f} s)")
        for table in section.tables:
            print(f"   {table.caption}")
            print("   " + " | ".join(str(h) for h in table.header))
            for row in table.rows:
                print(
                    "   " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row)
                )
        for name, value in section.metrics.items():
            shown = f"{value:.6g}" if isinstance(value, float) else str(value)
            print(f"   {name} = {shown}")
        for path in section.figures:
            print(f"   wrote {path}")
        written.extend(section.figures)
    return written


if __name__ == "__main__":
    main()
