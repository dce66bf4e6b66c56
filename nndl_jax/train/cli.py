"""``nndl-jax train mlp``: train a multilayer perceptron on a bundled data set and report it.

The defaults (two hidden ReLU layers of 256 and 128 units with Xavier-normal weights, dropout
0.2, label smoothing 0.1, decoupled weight decay 1e-4, Adam with learning rate 1e-3, minibatches
of 32, early stopping after 20 epochs without a lower validation loss) reach 97-98% test
accuracy on digits (97.4% with seed 0; 97.0-97.8% over seeds 0-6) in about 15 s on two shared
CPU cores, and 95.7% on iris, 96.3% on wine and 98.8% on breast_cancer. Every bundled data set
works, binary or multi-class.

Examples::

    nndl-jax train mlp --dataset digits
    nndl-jax train mlp --dataset iris --hidden 16 --epochs 300 --out runs/iris
    nndl-jax train mlp --dataset digits --out runs/d --resume      # continue an interrupted run
    nndl-jax train mlp --dataset breast_cancer --json              # machine-readable summary

With ``--out DIR`` the run writes ``DIR/history.json``, ``DIR/history.csv``, ``DIR/curves.png``,
``DIR/results.json``, a checkpoint per epoch under ``DIR/checkpoints`` and the settings it was
started with in ``DIR/config.json``: ``--resume`` refuses other settings (only ``--epochs``,
``--patience``, ``--min-delta`` and ``--threshold`` may change), since a run continued with
another optimizer, seed or model would be neither the old run nor a new one. Ctrl-C stops a run
with status 130; the same command with ``--resume`` continues it from the last completed epoch.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "build_mlp"]

_SCALINGS = ("auto", "zscore", "minmax", "none")
#: The augmentation flags' defaults: they are checked against, as they only apply with --augment.
_DEFAULTS = {"max_shift": 1, "max_rotation": 10.0, "noise": 0.0}

#: The settings that make a run what it is: ``--resume`` must be given the same ones.
_RUN_SETTINGS = (
    "dataset", "scaling", "split_seed", "hidden", "activation", "init", "dropout", "optimizer",
    "lr", "batch_size", "drop_last", "monitor", "l1", "l2", "weight_decay", "label_smoothing",
    "augment", "max_shift", "max_rotation", "noise", "seed",
)  # fmt: skip

#: The argument names of the library's messages, as the flags the user typed.
_FLAGS = {
    "epochs": "--epochs", "batch_size": "--batch-size", "patience": "--patience",
    "min_delta": "--min-delta", "threshold": "--threshold", "learning_rate": "--lr",
    "l1": "--l1", "l2": "--l2", "weight_decay": "--weight-decay",
    "label_smoothing": "--label-smoothing", "dropout": "--dropout", "hidden": "--hidden",
    "max_shift": "--max-shift", "max_rotation": "--max-rotation", "noise_std": "--noise",
    "unknown data set": "--dataset", "unknown optimizer": "--optimizer",
    "unknown activation": "--activation", "unknown initializer": "--init",
    "unknown scaling": "--scaling", "unknown monitor": "--monitor",
}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nndl-jax train",
        description="Train a model with the notes' algorithm (minibatch SGD, early stopping).",
    )
    sub = parser.add_subparsers(dest="model", required=True)
    p = sub.add_parser(
        "mlp",
        help="a multilayer perceptron on a bundled data set",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits", help="breast_cancer, digits, iris or wine")
    g.add_argument(
        "--scaling",
        default="auto",
        help="feature scaling: zscore, minmax, none, or auto (minmax for images, else zscore)",
    )
    g.add_argument("--split-seed", type=int, default=0, help="seed of the train/val/test split")
    g = p.add_argument_group("model")
    g.add_argument("--hidden", type=int, nargs="*", default=[256, 128], help="hidden layer widths")
    g.add_argument("--activation", default="relu", help="hidden activation (nn.activations)")
    g.add_argument("--init", default="xavier_normal", help="weight initializer (nn.initializers)")
    g.add_argument("--dropout", type=float, default=0.2, help="drop rate after each hidden layer")
    g = p.add_argument_group("optimization")
    g.add_argument("--optimizer", default="adam", help="sgd, momentum, adam, ...")
    g.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    g.add_argument("--batch-size", type=int, default=32, help="minibatch size (1 is SGD)")
    g.add_argument("--epochs", type=int, default=200, help="maximum number of epochs")
    g.add_argument("--drop-last", action="store_true", help="drop the last partial batch")
    g = p.add_argument_group("early stopping")
    g.add_argument("--patience", type=int, default=20, help="epochs without improvement")
    g.add_argument("--min-delta", type=float, default=0.0, help="smallest improvement")
    g.add_argument("--threshold", type=float, default=None, help="stop once at or below it")
    g.add_argument(
        "--monitor",
        default="val_loss",
        help="val_loss (a finer signal on small validation sets) or val_error (the notes')",
    )
    g = p.add_argument_group("regularization")
    g.add_argument("--l1", type=float, default=0.0, help="L1 penalty on the weights")
    g.add_argument("--l2", type=float, default=0.0, help="L2 penalty (λ/2 ||w||²) on the weights")
    g.add_argument("--weight-decay", type=float, default=1e-4, help="decoupled decay per step")
    g.add_argument("--label-smoothing", type=float, default=0.1, help="ε of the targets")
    g.add_argument("--augment", action="store_true", help="shift/rotate/noise images (digits)")
    g.add_argument(
        "--max-shift", type=int, default=_DEFAULTS["max_shift"], help="augmentation shift, pixels"
    )
    g.add_argument(
        "--max-rotation",
        type=float,
        default=_DEFAULTS["max_rotation"],
        help="augmentation angle, degrees",
    )
    g.add_argument("--noise", type=float, default=_DEFAULTS["noise"], help="augmentation noise std")
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling")
    g.add_argument("--out", metavar="DIR", help="write history, curves, results, checkpoints")
    g.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    g.add_argument("--json", action="store_true", help="print the results as JSON")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def build_mlp(hidden: list[int], num_classes: int, *, activation: str, init: str, dropout: float):
    """``Dense -> activation -> Dropout`` per hidden width, then a ``Dense`` of ``num_classes``.

    Names are resolved here, so an unknown activation or initializer fails at once.
    """
    from nndl_jax import nn
    from nndl_jax._validate import check_fraction
    from nndl_jax.nn.activation_layers import Activation

    dropout = check_fraction("dropout", dropout)
    layers = []
    for width in hidden:
        if width <= 0:
            raise ValueError(f"hidden widths must be positive integers, got {hidden}")
        layers += [nn.Dense(width, w_init=init), Activation(activation)]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Dense(num_classes, w_init=init))
    return nn.serial(*layers)


def _scaling(name: str, image_data: bool) -> str:
    from nndl_jax._validate import lookup

    lookup("scaling", name, {s: s for s in _SCALINGS})
    if name == "auto":
        return "minmax" if image_data else "zscore"
    return name


def _run(args, interrupt: _Interrupt | None = None) -> tuple[int, dict[str, Any]]:
    from nndl_jax import data
    from nndl_jax.train import history as hist
    from nndl_jax.train.loop import evaluate, fit, make_optimizer

    # names and ranges first: nothing below compiles before every argument has been checked
    optimizer = make_optimizer(args.optimizer, args.lr)
    if args.out == "":
        raise ValueError("--out must name a directory, got an empty string")
    if args.resume and not args.out:
        raise ValueError("--resume needs --out DIR, the folder of the run to continue")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out must be a directory, but {args.out!r} is a file")
    from nndl_jax._validate import check_seed

    check_seed("--seed", args.seed)
    if args.split_seed < 0:  # a NumPy seed: any size
        raise ValueError(f"--split-seed must be a non-negative integer, got {args.split_seed}")
    if not args.augment:
        given = [f"--{name.replace('_', '-')}" for name in ("max_shift", "max_rotation", "noise")
                 if getattr(args, name) != _DEFAULTS[name]]  # fmt: skip
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise ValueError(f"{', '.join(given)} {verb} only with --augment, which is not given")
    if args.out:
        _check_run_folder(args)
    ds = data.load(args.dataset, seed=args.split_seed, standardize=_scaling(args.scaling, True))
    scaling = _scaling(args.scaling, ds.image_shape is not None)
    if scaling != ds.scaling:
        ds = data.load(args.dataset, seed=args.split_seed, standardize=scaling)
    model = build_mlp(
        args.hidden,
        ds.num_classes,
        activation=args.activation,
        init=args.init,
        dropout=args.dropout,
    )
    augment = None
    if args.augment:
        if ds.image_shape is None:
            raise ValueError(
                f"--augment needs an image data set (digits); {args.dataset} has no image shape"
            )
        from nndl_jax.train.augment import image_augmenter

        augment = image_augmenter(
            ds.image_shape,
            max_shift=args.max_shift,
            max_rotation=args.max_rotation,
            noise_std=args.noise,
            shift=ds.shift,
            scale=ds.scale,
        )

    out = Path(args.out) if args.out else None
    widths = [ds.num_features, *args.hidden, ds.num_classes]
    config = {k: v for k, v in vars(args).items() if k not in ("json", "no_progress")}
    config["scaling"] = scaling
    start = time.perf_counter()
    stop = interrupt if interrupt is not None else _Interrupt(defer=out is not None)
    with stop:  # with checkpoints, Ctrl-C stops once the epoch under way is saved
        result = fit(
            model,
            ds,
            optimizer=optimizer,
            epochs=args.epochs,
            batch_size=args.batch_size,
            drop_last=args.drop_last,
            patience=args.patience,
            min_delta=args.min_delta,
            threshold=args.threshold,
            monitor=args.monitor,
            l1=args.l1,
            l2=args.l2,
            weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing,
            augment=augment,
            seed=args.seed,
            checkpoint_dir=None if out is None else out / "checkpoints",
            resume=args.resume,
            progress=not (args.no_progress or args.json),
            callback=_after_epoch(args, out, stop),
        )
    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {
        "dataset": args.dataset,
        "class_names": list(ds.class_names),
        "model": "MLP " + "-".join(str(w) for w in widths),
        "config": config,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_reason": result.stopped_reason,
        "message": result.message,
        "train_seconds": seconds,
    }
    for split in ("val", "test"):
        part = getattr(ds, split)
        if part.x.shape[0]:
            scores = evaluate(model, result.params, result.state, part, num_classes=ds.num_classes)
            scores["confusion"] = scores["confusion"].tolist()
            summary[split] = scores
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        hist.write_json(result.history, out / "history.json", best_epoch=result.best_epoch)
        hist.write_csv(result.history, out / "history.csv")
        if result.history:
            hist.plot_curves(
                result.history,
                out / "curves.png",
                best_epoch=result.best_epoch or None,
                title=f"{summary['model']} on {args.dataset}",
            )
        hist.atomic_write_text(out / "results.json", json.dumps(hist.jsonable(summary), indent=2))
    return (1 if result.stopped_reason == "non_finite" else 0), summary


class _Interrupt:
    """Ctrl-C during ``nndl-jax train``: a request to stop that cannot get lost.

    With checkpoints (``defer``), the first Ctrl-C only asks to stop, checked once the epoch
    under way is saved (interrupted in the middle of orbax's write, a run would leave a
    half-written step folder and a traceback); a second one stops at once. Without, it stops at
    once. Either way the request is also recorded: Python drops a KeyboardInterrupt raised while
    a garbage-collection callback runs (JAX has one), so the run checks the record after every
    epoch and when it ends, and exits with status 130 all the same.
    """

    def __init__(self, *, defer: bool):
        self.defer = defer
        self.requested = False
        self._previous = None
        self._depth = 0

    def __enter__(self):
        self._depth += 1
        if self._depth == 1 and threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:  # only where Ctrl-C would interrupt us
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        first = not self.requested
        self.requested = True
        if self.defer and first:
            print(
                "\nnndl-jax train: stopping after the checkpoint of the epoch under way "
                "(Ctrl-C again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
            return
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0 and self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False


def _after_epoch(args, out: Path | None, stop: _Interrupt):
    """The ``fit`` callback: record the settings (with ``--out``), honour a Ctrl-C."""
    write_config = _config_writer(args, out) if out is not None else None

    def after(record):
        if write_config is not None:
            write_config(record)
        if stop.requested:
            raise KeyboardInterrupt

    return after


def _settings(args) -> dict[str, Any]:
    return json.loads(json.dumps({k: getattr(args, k) for k in _RUN_SETTINGS}))


def _has_checkpoints(folder: Path) -> bool:
    return folder.is_dir() and any(p.name.isdigit() for p in folder.iterdir())


def _check_run_folder(args) -> None:
    """``--out``'s checkpoint folder can be one, and ``--resume`` keeps the run's settings."""
    out = Path(args.out)
    checkpoints = out / "checkpoints"
    if checkpoints.exists() and not checkpoints.is_dir():
        raise ValueError(
            f"--out {args.out!r} holds a file named 'checkpoints' where the run's checkpoint "
            f"folder goes; move it away or choose another --out"
        )
    config = out / "config.json"
    if not (args.resume and _has_checkpoints(checkpoints) and config.is_file()):
        return
    try:
        saved = json.loads(config.read_text())
    except ValueError as exc:
        raise ValueError(f"--resume: cannot read {str(config)!r}: {exc}") from None
    changed = [
        f"--{k.replace('_', '-')} {saved[k]!r} there, {v!r} here"
        for k, v in _settings(args).items()
        if k in saved and saved[k] != v
    ]
    if changed:
        raise ValueError(
            f"--resume: the run in {args.out!r} was started with other settings ("
            f"{'; '.join(changed)}); resume it with the same ones (only --epochs, --patience, "
            f"--min-delta and --threshold may change) or choose another --out"
        )


def _config_writer(args, out: Path):
    """A ``fit`` callback that records the run's settings once its first epoch is saved.

    A fresh run writes them (replacing those of a run whose checkpoints are gone); a resumed one
    only if the folder has none yet (a run of an older version), since it was checked against
    them.
    """
    resumed = args.resume and _has_checkpoints(out / "checkpoints")
    pending = [not (resumed and (out / "config.json").is_file())]

    from nndl_jax.train.history import atomic_write_text

    def write(record):
        if pending[0]:
            atomic_write_text(out / "config.json", json.dumps(_settings(args), indent=2))
            pending[0] = False

    return write


def _cli_message(exc: BaseException, args) -> str:
    """The library's message, led by the flag it is about (``learning_rate`` is ``--lr``)."""
    message = str(exc)
    if message.startswith("--"):
        return message
    if "pass resume=True" in message:
        return f"--out {getattr(args, 'out', None)!r}: {message} (on the command line: --resume)"
    for name, flag in _FLAGS.items():
        if message.startswith(name + " ") or message.startswith(name + ":"):
            return f"argument {flag}: {message}"
    if isinstance(exc, OSError) and getattr(args, "out", None):
        return f"--out {args.out!r} cannot be written: {message}"
    return message


def _report(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['dataset']}: {summary['model']}",
        f"stopped: {summary['stopped_reason']} ({summary['message']}) after "
        f"{summary['epochs_run']} epochs in {summary['train_seconds']:.1f} s; "
        f"parameters of epoch {summary['best_epoch']}",
    ]
    for split in ("val", "test"):
        if split in summary:
            s = summary[split]
            lines.append(
                f"{split:<4} accuracy {s['accuracy']:.4f}  error rate {s['error']:.4f}  "
                f"macro precision {s['precision']:.4f}  recall {s['recall']:.4f}  "
                f"F1 {s['f1']:.4f}  loss {s['loss']:.4f}"
            )
    if "test" in summary:
        confusion = summary["test"]["confusion"]
        # whole class names: cut to the counts' width, wine's class_0..class_2 all read "cl"
        labels = [str(c) for c in summary["class_names"]]
        label_w = max(len(c) for c in labels)
        width = max(max(len(str(v)) for row in confusion for v in row), label_w) + 1
        lines.append("test confusion matrix (rows: true class, columns: predicted):")
        lines.append(" " * (label_w + 1) + "".join(c.rjust(width) for c in labels))
        for name, row in zip(labels, confusion, strict=True):
            lines.append(name.rjust(label_w) + " " + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nndl-jax train``; returns the exit status.

    0: trained; 1: stopped on a non-finite loss; 2: bad arguments (the message says which);
    130: interrupted (Ctrl-C).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or argparse's own usage errors
        return int(exc.code or 0)
    interrupt = _Interrupt(defer=bool(args.out))
    try:
        with interrupt:
            status, summary = _run(args, interrupt)
            if interrupt.requested:  # a Ctrl-C whose KeyboardInterrupt Python dropped
                raise KeyboardInterrupt
    except (ValueError, TypeError, OSError) as exc:  # OSError: --out cannot be written
        print(f"nndl-jax train: error: {_cli_message(exc, args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the checkpoints of the finished epochs are complete
        hint = ""
        if args.out and _has_checkpoints(Path(args.out) / "checkpoints"):
            hint = "; the same command with --resume continues from the last completed epoch"
        print(f"\nnndl-jax train: interrupted{hint}", file=sys.stderr)
        return 130
    if args.json:
        from nndl_jax.train.history import jsonable

        print(json.dumps(jsonable(summary), indent=2))
    else:
        print(_report(summary))
    return status


if __name__ == "__main__":
    sys.exit(main())
