"""The ``nndl-jax`` command: ``info``, ``verify``, ``bench``, ``train`` and ``tour``."""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from pathlib import Path

from nndl_jax._json import jsonable
from nndl_jax.experiments._registry import format_table


def _cmd_info(args) -> int:
    import platform

    import jax

    import nndl_jax

    print(f"nndl-jax   {nndl_jax.__version__}")
    print(f"python     {platform.python_version()} ({platform.machine()})")
    for name in ("jax", "jaxlib", "optax", "flax", "chex", "numpy", "sklearn", "matplotlib"):
        try:
            module = __import__(name)
            print(f"{name:<10} {module.__version__}")
        except ImportError:
            print(f"{name:<10} not installed")
    print(f"backend    {jax.default_backend()}")
    for d in jax.devices():
        print(f"device     {d.id}: {d.platform} {getattr(d, 'device_kind', '')}")
    print(f"x64        {jax.config.jax_enable_x64}")
    return 0


def _cmd_verify(args) -> int:
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    from nndl_jax import verify

    if args.json and not _writable_file("--json", args.json):
        return 2
    selected = verify.checks(args.only)
    if not selected:
        print(f"no verification check matches {args.only!r}", file=sys.stderr)
        return 2
    if args.list:
        for c in selected:
            print(f"{c.name}  ({c.tier}; vs {c.reference})")
        if args.json:
            listing = [{"name": c.name, "tier": c.tier, "reference": c.reference} for c in selected]
            Path(args.json).write_text(json.dumps({"checks": listing}, indent=2))
        return 0
    start = time.perf_counter()
    results = []
    # GPUs and TPUs may run float32 matmuls in reduced precision (TF32, bf16 passes) by default,
    # which a 1e-5 comparison would take for a wrong formula; --matmul-precision default runs
    # the checks under the platform's own setting instead.
    precision = None if args.matmul_precision == "default" else args.matmul_precision
    for c in selected:
        with jax.default_matmul_precision(precision):
            results.append(verify.run_one(c))
        if args.verbose:
            r = results[-1]
            print(f"{'ok' if r.passed else 'FAIL':<4} {c.name}  {r.error:.3g} <= {r.tolerance:.1g}")
    header = ["component", "reference", "max abs error", "tolerance", "pass"]
    rows = [
        [r.check.name, r.check.reference, f"{r.error:.3g}", f"{r.tolerance:.1g}",
         "ok" if r.passed else "FAIL"]
        for r in results
    ]  # fmt: skip
    print(format_table(header, rows))
    failed = [r for r in results if not r.passed]
    dtype = "float64" if args.x64 else "float32"
    print(
        f"\n{len(results) - len(failed)}/{len(results)} checks passed ({dtype}, matmul "
        f"precision {args.matmul_precision}, {jax.default_backend()}, "
        f"{time.perf_counter() - start:.1f} s)"
    )
    for r in failed:
        if r.message:
            print(f"\n{r.check.name}: {r.message}", file=sys.stderr)
    if args.json:
        records = [
            {"component": r.check.name, "reference": r.check.reference, "tier": r.check.tier,
             "error": r.error, "tolerance": r.tolerance, "passed": r.passed, "seconds": r.seconds,
             "message": r.message or None}
            for r in results
        ]  # fmt: skip
        summary = {
            "dtype": dtype,
            "matmul_precision": args.matmul_precision,
            "backend": jax.default_backend(),
            "checks": records,
        }
        Path(args.json).write_text(json.dumps(jsonable(summary), indent=2))
    return 1 if failed else 0


_BENCH_COLUMNS = (
    "suite",
    "case",
    "peer",
    "ours_ms",
    "peer_ms",
    "ratio",
    "compile_ours_s",
    "compile_peer_s",
)


def _writable_file(option: str, path: str) -> bool:
    """Check an output file's path before the work that fills it; create its folder."""
    target = Path(path)
    if target.is_dir():
        print(f"{option} must name a file, but {path!r} is a folder", file=sys.stderr)
        return False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"{option}: cannot create the folder of {path!r}: {exc}", file=sys.stderr)
        return False
    existed = target.exists()
    try:  # a read-only folder or file must fail now, not after minutes of work
        with open(target, "a"):
            pass
    except OSError as exc:
        print(f"{option}: cannot write {path!r}: {exc}", file=sys.stderr)
        return False
    if not existed:  # the probe's empty file, not a symbolic link that led to it
        target.resolve().unlink(missing_ok=True)
    return True


def _cmd_bench(args) -> int:
    import traceback

    from nndl_jax import benchmarks

    try:
        cases = benchmarks.cases(args.suites)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.case:
        cases = [c for c in cases if fnmatch.fnmatch(c.name, args.case) or args.case in c.name]
        if not cases:
            print(f"no benchmark case matches {args.case!r}", file=sys.stderr)
            return 2
    if args.list:
        for c in cases:
            print(f"{c.suite}  {c.name}")
        return 0
    if args.out and not _writable_file("--out", args.out):
        return 2
    env = benchmarks.environment()
    print("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    all_rows, failed = [], []
    for c in cases:
        print(f"\n[{c.suite}] {c.name} ...", flush=True)
        try:
            rows = [{"suite": c.suite, "case": c.name, **row} for row in c.fn(quick=args.quick)]
        except Exception as exc:  # one broken case must not lose the others' rows
            failed.append(f"{c.suite}/{c.name}")
            all_rows.append(
                {"suite": c.suite, "case": c.name, "error": f"{type(exc).__name__}: {exc}"}
            )
            print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exc()
            continue
        all_rows.extend(rows)
        extra = sorted(
            {k for row in rows for k in row}
            - set(_BENCH_COLUMNS)
            - {"ours_min_ms", "ours_max_ms", "peer_min_ms", "peer_max_ms", "repeats", "number"}
        )
        header = [*_BENCH_COLUMNS[2:], *extra]
        table = [[_fmt(row.get(k)) for k in header] for row in rows]
        print(format_table(header, table))
    if args.out:
        report = {"environment": env, "quick": args.quick, "rows": all_rows}
        Path(args.out).write_text(json.dumps(jsonable(report), indent=2, default=str))
        print(f"\nwrote {args.out}")
    if failed:
        print(f"\n{len(failed)} case(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _cmd_tour(args) -> int:
    from tqdm import tqdm

    from nndl_jax._validate import check_seed
    from nndl_jax.experiments import experiments, run_tour

    try:
        check_seed("--seed", args.seed)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    selected = experiments(args.only)
    bars = []  # made by the first section: no bar before the arguments are checked
    started = []

    def progress(exp):
        if not bars:
            bars.append(tqdm(total=len(selected), desc="tour", unit="section"))
        if started:  # the previous section has finished
            bars[0].update(1)
        started.append(exp.name)
        bars[0].set_postfix_str(exp.name)

    start = time.perf_counter()
    try:
        html, sections = run_tour(
            args.out, pattern=args.only, quick=not args.full, seed=args.seed, progress=progress
        )
    except (ValueError, OSError) as exc:
        for bar in bars:
            bar.close()
        if isinstance(exc, OSError):
            print(f"--out: cannot write the report to {args.out!r}: {exc}", file=sys.stderr)
        else:
            print(exc, file=sys.stderr)
        return 2
    for bar in bars:
        bar.update(1)
        bar.close()
    for s in sections:
        status = "FAILED" if s.error else "ok"
        print(f"  {status:<6} {s.seconds:6.1f} s  {s.title}")
        if s.error:
            print("         " + s.error.splitlines()[0], file=sys.stderr)
    failed = sum(bool(s.error) for s in sections)
    print(f"report: {html.resolve()}  ({time.perf_counter() - start:.1f} s, {failed} failed)")
    return 1 if failed else 0


def _cmd_train(args) -> int:
    return _train(args.train_args)


def _train(argv: list[str]) -> int:
    from nndl_jax.train import cli as train_cli

    return train_cli.main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nndl-jax",
        description="Neural Networks and Deep Learning, in verified JAX.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="backend, devices and versions").set_defaults(fn=_cmd_info)

    p = sub.add_parser("verify", help="check every component against its reference")
    p.add_argument("--only", metavar="PATTERN", help="glob or substring of check names")
    p.add_argument("--x64", action="store_true", help="run in float64 (jax_enable_x64)")
    p.add_argument(
        "--matmul-precision",
        choices=("highest", "high", "default"),
        default="highest",
        help="float32 matmul precision the checks run under (default: highest, full float32 "
        "even where the accelerator defaults to TF32 or bfloat16 passes)",
    )
    p.add_argument("--list", action="store_true", help="list the checks without running them")
    p.add_argument(
        "--json", metavar="FILE", help="also write the results (with --list: the list) as JSON"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print each row as it finishes")
    p.set_defaults(fn=_cmd_verify)

    p = sub.add_parser("bench", help="benchmarks against optax, flax and scikit-learn")
    p.add_argument("suites", nargs="*", help="suites to run (default: all); see --list")
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    p.add_argument("--out", metavar="FILE.json", help="write the results as JSON")
    p.add_argument("--case", metavar="PATTERN", help="only the cases matching this glob/substring")
    p.add_argument("--list", action="store_true", help="list the suites and their cases")
    p.set_defaults(fn=_cmd_bench)

    p = sub.add_parser("tour", help="run the book's experiments and write a report with plots")
    p.add_argument(
        "--out", metavar="DIR", default="reports/tour", help="report folder (default: reports/tour)"
    )
    p.add_argument("--only", metavar="PATTERN", help="glob or substring of experiment names")
    p.add_argument("--full", action="store_true", help="full-length runs instead of the quick tour")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of every experiment, in [0, 2**32) (default: 0)"
    )
    p.set_defaults(fn=_cmd_tour)

    p = sub.add_parser("train", help="train a model (see 'nndl-jax train --help')", add_help=False)
    p.add_argument("train_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:
        # forwarded whole: argparse's REMAINDER would swallow neither "--help" nor other options
        return _train(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:  # Ctrl-C: a user's decision, not a crash to show a traceback of
        print(f"\nnndl-jax {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
