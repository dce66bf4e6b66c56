"""Suite ``optim``: our optimizers against their optax twins (``nndl-jax bench optim``).

Every optimizer step runs on three float32 trees (issue 3): 4 leaves x 2^21 (large leaves,
memory bound), 200 leaves x 40,960 and 2,000 leaves x 512 (many small leaves, where the cost per
leaf dominates). A step is ``update`` followed by ``apply_updates``, jitted with the parameters
and the optimizer state donated, so it updates them in place as a training loop would; every
timed call feeds its outputs back as the next inputs, which keeps donation valid. Ours and optax
run alternately in one process (DESIGN.md, Benchmarks) and each row reports

* ``ours_ms``/``peer_ms``: median ms per step (with min and max), ``ratio``: the median of the
  per-pair ratios ours/optax (below 1: we are faster);
* ``compile_ours_s``/``compile_peer_s``: compile time, beside the step time;
* ``ours_GBps``/``peer_GBps``: effective bandwidth, counting the bytes a step must read and
  write: the parameters, the gradients and every moment read, the parameters and moments
  written (Adam: 4 reads and 3 writes of the parameter size);
* ``stream_GBps``: this machine's streaming bandwidth, measured by the triad probe of
  ``benchmarks/_bandwidth.py`` inside the same alternating loop (a triad timing beside every
  pair), and ``ours_bw_fraction``/``peer_bw_fraction``: the median over the pairs of each
  side's GB/s over the triad's GB/s of the same round, which cancels the load of a shared
  machine as the ratio does;
* ``target``/``target_met`` where the issue sets a target.

Cases beyond the per-optimizer ones: ``flatten_adam`` (``flatten(adam)`` against
``optax.flatten(optax.adam)`` on the pytrees) and ``raveled_adam`` (the training mode of
``nndl_jax.optim.flat_training`` against ``optax.adam`` on the 2,000-leaf tree, both for the
update alone and for a whole training step with its gradient).

Quick mode (tests, CI, development) uses small trees and few repeats; the full sizes take
minutes, mostly in compiling optax's per-leaf programs on 2,000 leaves. Run a subset with
``python -m nndl_jax.benchmarks.optim --only adam,raveled_adam --trees 2000x512``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from nndl_jax.benchmarks._bandwidth import FULL_SIZE, QUICK_SIZE, Triad
from nndl_jax.benchmarks._harness import case, environment, time_compile

#: (leaves, elements per leaf) of the issue's trees, and the quick-mode stand-ins.
FULL_TREES = ((4, 2**21), (200, 40_960), (2_000, 512))
QUICK_TREES = ((4, 2**16), (20, 4_096), (20, 512))
#: The tree of the raveled-training comparison (the issue's many-small-leaves case).
FULL_RAVEL_TREE = (2_000, 512)
QUICK_RAVEL_TREE = (100, 512)

LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class Timing:
    """How many timed pairs (``repeats``), steps per timing (``number``) and warm-up steps."""

    repeats: int
    number: int
    warmup: int


FULL_TIMING = Timing(repeats=25, number=5, warmup=3)
QUICK_TIMING = Timing(repeats=5, number=3, warmup=1)


# --------------------------------------------------------------------------------------------
# inputs


def make_tree(leaves: int, size: int, seed: int = 0) -> dict[str, jax.Array]:
    """A dict of ``leaves`` float32 vectors of ``size`` standard-normal entries, on the device.

    Drawn on the host in one call and split, because thousands of small device-side draws would
    take longer than the benchmark itself.
    """
    values = np.random.default_rng(seed).standard_normal(leaves * size, dtype=np.float32)
    width = len(str(leaves - 1))
    tree = {f"w{i:0{width}d}": values[i * size : (i + 1) * size] for i in range(leaves)}
    return jax.device_put(tree)


def copy_tree(tree):
    """Fresh device buffers with the same values, so that donating one copy leaves the other."""
    return jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), tree)


def tree_label(leaves: int, size: int) -> str:
    return f"{leaves}x{size}"


def state_bytes(state) -> int:
    """Bytes of the state's floating-point arrays (moments, traces); scalar counters excluded."""
    return sum(
        x.nbytes
        for x in jax.tree_util.tree_leaves(state)
        if jnp.issubdtype(x.dtype, jnp.floating) and x.ndim > 0
    )


def step_bytes(params, state) -> int:
    """Bytes an update step must move: read params, grads and state; write params and state."""
    param_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(params))
    return 3 * param_bytes + 2 * state_bytes(state)


# --------------------------------------------------------------------------------------------
# timing with donated buffers


def compare_donated(
    ours: Callable,
    peer: Callable,
    ours_carry: tuple,
    peer_carry: tuple,
    args: tuple = (),
    *,
    peer_args: tuple | None = None,
    peer_name: str,
    timing: Timing = QUICK_TIMING,
    bytes_moved: float | None = None,
    stream: Triad | None = None,
    **extra,
) -> dict:
    """Time ``carry = ours(*carry, *args)`` against the peer's, alternately, with donation.

    The carried arguments (parameters and optimizer state) are donated and every call's
    outputs are the next call's carry, so each side updates its own buffers in place. The
    row has the keys of :func:`nndl_jax.benchmarks.compare` (``ours_ms``, ``peer_ms`` with
    min and max, ``ratio`` as the median of per-pair ratios, ``compile_ours_s``,
    ``compile_peer_s``), and with ``bytes_moved`` the effective GB/s of both; with ``stream``
    also the streaming bandwidth, timed in every round, and the fraction of it each side
    reaches.

    Args:
      ours, peer: step functions ``f(*carry, *args) -> carry`` (a tuple like ``carry``).
      ours_carry, peer_carry: the initial carries; each side must own its buffers, since they
        are donated (see :func:`copy_tree`).
      args, peer_args: the arguments that are not donated (gradients, a batch); ``peer_args``
        defaults to ``args``.
      timing: repeats, steps per timing and warm-up steps.
      bytes_moved: bytes one step reads and writes.
      stream: the bandwidth probe, timed after each pair.
    """
    if min(timing.repeats, timing.number) < 1 or timing.warmup < 0:
        raise ValueError(f"repeats and number must be >= 1 and warmup >= 0, got {timing}")
    peer_args = args if peer_args is None else peer_args
    ours_c, compile_ours = _compile_donated(ours, ours_carry, args)
    peer_c, compile_peer = _compile_donated(peer, peer_carry, peer_args)
    carry = {"ours": tuple(ours_carry), "peer": tuple(peer_carry)}
    sides = {"ours": (ours_c, args), "peer": (peer_c, peer_args)}

    def run(side: str, steps: int) -> float:
        fn, fixed = sides[side]
        state = carry[side]
        start = time.perf_counter()
        for _ in range(steps):
            state = fn(*state, *fixed)
        jax.block_until_ready(state)
        carry[side] = state
        return (time.perf_counter() - start) / steps

    if timing.warmup:  # (no warm-up: nothing to run, and no time per step to divide by zero)
        run("ours", timing.warmup)
        run("peer", timing.warmup)
    times = {"ours": [], "peer": [], "stream": []}
    for r in range(timing.repeats):
        # swap the order every pair so that neither side always runs first
        for side in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
            times[side].append(run(side, timing.number))
        if stream is not None:
            times["stream"].append(stream.time(timing.number))
    ratios = [a / b for a, b in zip(times["ours"], times["peer"], strict=True)]
    t_ours, t_peer = statistics.median(times["ours"]), statistics.median(times["peer"])
    row = {
        "peer": peer_name,
        "ours_ms": 1e3 * t_ours,
        "ours_min_ms": 1e3 * min(times["ours"]),
        "ours_max_ms": 1e3 * max(times["ours"]),
        "peer_ms": 1e3 * t_peer,
        "peer_min_ms": 1e3 * min(times["peer"]),
        "peer_max_ms": 1e3 * max(times["peer"]),
        "ratio": statistics.median(ratios),
        "compile_ours_s": compile_ours,
        "compile_peer_s": compile_peer,
        "repeats": timing.repeats,
        "number": timing.number,
    }
    if bytes_moved:
        row["bytes_per_step"] = float(bytes_moved)
        row["ours_GBps"] = bytes_moved / t_ours / 1e9
        row["peer_GBps"] = bytes_moved / t_peer / 1e9
        if stream is not None:
            row["stream_GBps"] = stream.GBps(statistics.median(times["stream"]))
            for side in ("ours", "peer"):
                # per round: (bytes / t_side) / (stream bytes / t_stream)
                fractions = [
                    bytes_moved / t / stream.GBps(ts) / 1e9
                    for t, ts in zip(times[side], times["stream"], strict=True)
                ]
                row[f"{side}_bw_fraction"] = statistics.median(fractions)
    row.update(extra)
    return row


def _compile_donated(fn: Callable, carry: tuple, args: tuple):
    donated = tuple(range(len(carry)))
    compiled, seconds = time_compile(jax.jit(fn, donate_argnums=donated), *carry, *args)

    def call(*inputs):
        # an optimizer whose state is empty returns carries that jit hands back unchanged;
        # keep the carry a tuple either way
        return tuple(compiled(*inputs))

    return call, seconds


# --------------------------------------------------------------------------------------------
# the optimizers and their optax twins


@dataclass(frozen=True)
class Pair:
    """An optimizer of ours and its optax twin, with the issue's target if it sets one."""

    name: str
    ours: Callable[[], object]
    peer: Callable[[], object]
    peer_name: str
    targeted: bool = False


def _ours(name: str):
    import nndl_jax.optim as optim

    try:
        return getattr(optim, name)
    except AttributeError:
        raise RuntimeError(f"nndl_jax.optim.{name} is not available in this checkout") from None


def _pairs() -> dict[str, Pair]:
    import optax

    lr, beta = LEARNING_RATE, 0.9
    pairs = [
        Pair(
            "sgd_momentum",
            lambda: _ours("sgd")(lr, momentum=beta),
            lambda: optax.sgd(lr, momentum=beta),
            "optax.sgd(momentum=0.9)",
            targeted=True,
        ),
        Pair(
            "momentum",
            lambda: _ours("momentum")(lr, beta=beta),
            lambda: optax.sgd(lr * (1 - beta), momentum=beta),
            "optax.sgd(lr*(1-b), momentum=b)",
        ),
        Pair(
            "nesterov",
            lambda: _ours("nesterov")(lr, beta=beta),
            lambda: optax.sgd(lr * (1 - beta), momentum=beta, nesterov=True),
            "optax.sgd(lr*(1-b), momentum=b, nesterov=True)",
        ),
        Pair(
            "adagrad",
            lambda: _ours("adagrad")(lr),
            lambda: optax.adagrad(lr, initial_accumulator_value=0.0, eps=1e-7),
            "optax.adagrad(initial_accumulator_value=0)",
            targeted=True,
        ),
        Pair(
            "rmsprop",
            lambda: _ours("rmsprop")(lr),
            lambda: optax.rmsprop(lr, decay=0.9, eps=1e-8, eps_in_sqrt=False),
            "optax.rmsprop(eps_in_sqrt=False)",
            targeted=True,
        ),
        Pair(
            "adadelta",
            lambda: _ours("adadelta")(1.0),
            lambda: optax.adadelta(1.0, rho=0.9, eps=1e-6),
            "optax.adadelta",
        ),
        Pair("adam", lambda: _ours("adam")(lr), lambda: optax.adam(lr), "optax.adam", True),
        Pair(
            "adamw",
            lambda: _ours("adamw")(lr, weight_decay=1e-4),
            lambda: optax.adamw(lr, weight_decay=1e-4),
            "optax.adamw",
        ),
        Pair("nadam", lambda: _ours("nadam")(lr), lambda: optax.nadam(lr), "optax.nadam"),
        Pair("amsgrad", lambda: _ours("amsgrad")(lr), lambda: optax.amsgrad(lr), "optax.amsgrad"),
    ]
    return {p.name: p for p in pairs}


OPTIMIZERS = (
    "sgd_momentum",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
    "nadam",
    "amsgrad",
)


def update_step(transform, apply_updates) -> Callable:
    """``(params, state, grads) -> (params, state)``: one update and its application."""

    def step(params, state, grads):
        updates, state = transform.update(grads, state, params)
        return apply_updates(params, updates), state

    return step


def _probe(quick: bool) -> Triad:
    return Triad(QUICK_SIZE if quick else FULL_SIZE)


def bench_pair(
    ours_tx,
    peer_tx,
    trees: Sequence[tuple[int, int]],
    *,
    peer_name: str,
    timing: Timing,
    stream: Triad | None,
    ours_apply: Callable | None = None,
    **extra,
) -> list[dict]:
    """One row per tree: ``ours_tx`` against ``peer_tx`` on the same params and gradients."""
    import optax

    ours_apply = ours_apply or _ours("apply_updates")
    rows = []
    for leaves, size in trees:
        params, grads = make_tree(leaves, size, seed=0), make_tree(leaves, size, seed=1)
        ours_params, peer_params = copy_tree(params), copy_tree(params)
        del params
        # fresh state buffers: an init that returns one zeros tree for several moments (as
        # amsgrad's may) would otherwise hand the same buffer to the step twice for donation
        ours_state = copy_tree(ours_tx.init(ours_params))
        peer_state = copy_tree(peer_tx.init(peer_params))
        moved = 3 * sum(x.nbytes for x in jax.tree_util.tree_leaves(grads)) + 2 * min(
            state_bytes(ours_state), state_bytes(peer_state)
        )
        rows.append(
            compare_donated(
                update_step(ours_tx, ours_apply),
                update_step(peer_tx, optax.apply_updates),
                (ours_params, ours_state),
                (peer_params, peer_state),
                (grads,),
                peer_name=peer_name,
                timing=timing,
                bytes_moved=moved,
                stream=stream,
                tree=tree_label(leaves, size),
                leaves=leaves,
                leaf_size=size,
                dtype="float32",
                **extra,
            )
        )
        del ours_params, ours_state, peer_params, peer_state, grads
    return rows


def _with_targets(name: str, rows: list[dict]) -> list[dict]:
    """Mark each row with the issue's target for this optimizer and whether it is met.

    Adam on the tree of the largest leaves must also reach 70% of the streaming bandwidth.
    """
    largest = max(row["leaf_size"] for row in rows)
    for row in rows:
        targets = ["ratio<=1.00"]
        met = row["ratio"] <= 1.0
        if name == "adam" and row["leaf_size"] == largest:
            targets.append("ours_bw_fraction>=0.70")
            met = met and row.get("ours_bw_fraction", 0.0) >= 0.70
        row["target"] = " & ".join(targets)
        row["target_met"] = bool(met)
    return rows


def run_optimizer(name: str, quick: bool, trees: Sequence[tuple[int, int]] | None = None):
    """Rows of one optimizer against its twin (all three trees unless ``trees`` is given)."""
    pair = _pairs()[name]
    trees = (QUICK_TREES if quick else FULL_TREES) if trees is None else trees
    rows = bench_pair(
        pair.ours(),
        pair.peer(),
        trees,
        peer_name=pair.peer_name,
        timing=QUICK_TIMING if quick else FULL_TIMING,
        stream=_probe(quick),
        optimizer=name,
    )
    return _with_targets(name, rows) if pair.targeted else rows


def _register(name: str) -> None:
    case("optim", name)(lambda quick: run_optimizer(name, quick))


for _name in OPTIMIZERS:
    _register(_name)


# --------------------------------------------------------------------------------------------
# flatten(adam) and the raveled training mode


@case("optim", "flatten_adam")
def flatten_adam(quick: bool, trees: Sequence[tuple[int, int]] | None = None) -> list[dict]:
    """``flatten(adam)`` against ``optax.flatten(optax.adam)``, both on the pytrees."""
    import optax

    trees = (QUICK_TREES if quick else FULL_TREES) if trees is None else trees
    rows = bench_pair(
        _ours("flatten")(_ours("adam")(LEARNING_RATE)),
        optax.flatten(optax.adam(LEARNING_RATE)),
        trees,
        peer_name="optax.flatten(optax.adam)",
        timing=QUICK_TIMING if quick else FULL_TIMING,
        stream=_probe(quick),
        optimizer="flatten(adam)",
    )
    for row in rows:
        row["target"], row["target_met"] = "ratio<=1.00", bool(row["ratio"] <= 1.0)
    return rows


def _quadratic_loss(params, scale):
    """``scale/2 * sum ||w||^2`` over every leaf: touches each parameter, costs one pass."""
    return 0.5 * scale * sum(jnp.vdot(w, w) for w in jax.tree_util.tree_leaves(params))


@case("optim", "raveled_adam")
def raveled_adam(quick: bool, tree: tuple[int, int] | None = None) -> list[dict]:
    """The raveled training mode against ``optax.adam`` on the tree of many small leaves.

    Two rows: ``update`` times the optimizer step alone (ours on the flat buffer with flat
    gradients, optax on the tree with tree gradients); ``train step`` adds the gradient of a
    quadratic loss (ours with respect to the flat vector through ``unravel``, optax with
    respect to the tree). Target (issue 3), on the update row: ours at least 10x faster,
    compiling in under 1 s. The train-step row has no target: its compile time is dominated by
    the per-leaf forward and backward passes, which any training loop over this tree pays.
    """
    import optax

    from nndl_jax.optim.flat_training import ravel_training

    leaves, size = (QUICK_RAVEL_TREE if quick else FULL_RAVEL_TREE) if tree is None else tree
    timing = QUICK_TIMING if quick else FULL_TIMING
    stream = _probe(quick)
    params, grads = make_tree(leaves, size, seed=0), make_tree(leaves, size, seed=1)
    peer_tx = optax.adam(LEARNING_RATE)
    trainer = ravel_training(_quadratic_loss, params, _ours("adam")(LEARNING_RATE))
    flat_grads = trainer.ravel(grads)

    def peer_train_step(params, state, scale):
        grads = jax.grad(_quadratic_loss)(params, scale)
        return update_step(peer_tx, optax.apply_updates)(params, state, grads)

    def ours_train_step(flat, state, scale):
        flat, state, _ = trainer.step(flat, state, scale)
        return flat, state

    scale = jnp.asarray(1.0, jnp.float32)
    modes = (
        ("update", trainer.update, update_step(peer_tx, optax.apply_updates), flat_grads, grads),
        ("train step", ours_train_step, peer_train_step, scale, scale),
    )
    rows = []
    for mode, ours, peer, ours_arg, peer_arg in modes:
        flat, ours_state = trainer.init(params)
        peer_params = copy_tree(params)
        peer_state = copy_tree(peer_tx.init(peer_params))
        row = compare_donated(
            ours,
            peer,
            (flat, ours_state),
            (peer_params, peer_state),
            (ours_arg,),
            peer_args=(peer_arg,),
            peer_name="optax.adam",
            timing=timing,
            bytes_moved=step_bytes(peer_params, peer_state),
            stream=stream,
            optimizer="ravel_training(adam)",
            mode=mode,
            tree=tree_label(leaves, size),
            leaves=leaves,
            leaf_size=size,
            dtype="float32",
        )
        row["speedup"] = 1.0 / row["ratio"]
        if mode == "update":  # the target is per update; the train step is context
            row["target"] = "speedup>=10 & compile_ours_s<1"
            row["target_met"] = bool(row["speedup"] >= 10 and row["compile_ours_s"] < 1.0)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# command line: a subset of cases and trees


CASES = (*OPTIMIZERS, "flatten_adam", "raveled_adam")


def run(only: Sequence[str] = CASES, *, quick: bool, trees=None) -> list[dict]:
    """Run the named cases; ``trees`` (a list of ``(leaves, size)``) overrides the sizes."""
    unknown = sorted(set(only) - set(CASES))
    if unknown:
        raise ValueError(f"unknown optim case(s) {unknown}; expected some of: {', '.join(CASES)}")
    rows = []
    for name in only:
        print(f"[optim] {name} ...", flush=True)
        if name == "flatten_adam":
            new = flatten_adam(quick, trees)
        elif name == "raveled_adam":
            new = [r for t in (trees or [None]) for r in raveled_adam(quick, t)]
        else:
            new = run_optimizer(name, quick, trees)
        for row in new:
            print("   " + _summary(row), flush=True)
        rows.extend({"suite": "optim", "case": name, **row} for row in new)
    return rows


def _summary(row: dict) -> str:
    parts = [
        f"{row.get('tree', '')} {row.get('mode', '')}".strip(),
        f"ours {row['ours_ms']:.3g} ms",
        f"optax {row['peer_ms']:.3g} ms",
        f"ratio {row['ratio']:.3g}",
        f"compile {row['compile_ours_s']:.3g}/{row['compile_peer_s']:.3g} s",
    ]
    if "ours_GBps" in row:
        parts.append(f"{row['ours_GBps']:.3g}/{row['peer_GBps']:.3g} GB/s")
    if "ours_bw_fraction" in row:
        parts.append(f"bw {row['ours_bw_fraction']:.2f}/{row['peer_bw_fraction']:.2f}")
    if "target_met" in row:
        parts.append(f"{row['target']}: {'met' if row['target_met'] else 'MISSED'}")
    return ", ".join(parts)


def _parse_tree(text: str) -> tuple[int, int]:
    try:
        leaves, size = (int(t) for t in text.lower().split("x"))
    except ValueError:
        leaves = size = 0
    if leaves < 1 or size < 1:
        message = f"a tree is LEAVESxSIZE with both > 0, e.g. 2000x512; got {text!r}"
        raise argparse.ArgumentTypeError(message)
    return leaves, size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small trees, few repeats")
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument(
        "--trees", type=_parse_tree, nargs="+", help="override the trees, e.g. 2000x512 4x2097152"
    )
    parser.add_argument("--out", help="write the rows and the environment as JSON here")
    args = parser.parse_args(argv)
    unknown = [c for c in args.only.split(",") if c and c not in CASES]
    if unknown:
        parser.error(f"--only: unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    rows = run([c for c in args.only.split(",") if c], quick=args.quick, trees=args.trees)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"environment": environment(), "quick": args.quick, "rows": rows}
        out.write_text(json.dumps(payload, indent=2, default=str))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
