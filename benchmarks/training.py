"""Suite ``training``: one epoch on digits in four loop styles (``nndl-jax bench training``).

Case ``digits_mlp_epoch``: the MLP 64-128-10 (ReLU, He init) trained with Adam (learning rate
1e-3) on the digits training split (1,257 samples, min-max scaled) in minibatches of 32 -- 40
steps an epoch, the last one padded and masked. Four ways to run an epoch, all calling the same
step function (:func:`nndl_jax.train.epoch.make_train_step`) on the same batches with the same
keys, so they compute the same updates and reach the same test accuracy:

(a) ``numpy-gather loop``: a Python loop that gathers each batch on the host with NumPy
    indexing and calls the jitted step -- the fastest Python-loop style;
(b) ``jnp-gather loop``: the same loop gathering each batch with eager ``jnp`` indexing on the
    device (one small dispatched program per gather);
(c) ``scanned epoch`` (ours): :func:`~nndl_jax.train.epoch.make_epoch`, the shuffle, gathers,
    steps and metric sums of the epoch in one jitted ``lax.scan``;
(d) ``all epochs in one jit``: a ``lax.scan`` over the epochs of (c), one program per run.

The epoch's permutation and step keys are drawn before timing for (a) and (b) (which flatters
them slightly); (c) and (d) draw theirs inside the program. Epochs of (a), (b) and (c) run in
turn, rotating the order each epoch, each timed to ``block_until_ready``; the medians (with min
and max) over the epochs after the first (compile) one are reported, (d) as a whole run divided
by the number of epochs. Rows compare (c) and (d) with (a) and (b): ``ratio`` is ours/peer
(below 1: we are faster) -- the median of the per-epoch ratios for (c), whose epochs alternate
with the loops', and the ratio of the medians for (d), which runs apart --, ``speedup`` its
inverse, ``*_test_accuracy`` the accuracy each reached and ``accuracy_gap_points`` their
difference; the issue's target is a speedup of at least 2 over (a) at the same accuracy within
0.5 points.
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from nndl_jax.benchmarks._harness import case

HIDDEN = 128
BATCH = 32
LEARNING_RATE = 1e-3
FULL_EPOCHS, QUICK_EPOCHS = 20, 4
FULL_RUNS, QUICK_RUNS = 5, 2
TARGET_SPEEDUP = 2.0


def _setup():
    from nndl_jax import data, nn, optim
    from nndl_jax.nn.activation_layers import Activation
    from nndl_jax.train.epoch import TrainState, make_train_step
    from nndl_jax.train.loop import make_loss

    ds = data.load("digits", standardize="minmax")
    model = nn.serial(
        nn.Dense(HIDDEN, w_init="he_normal"), Activation("relu"), nn.Dense(10, w_init="he_normal")
    )
    _, params, model_state = model.init(jax.random.key(0), (-1, ds.num_features))
    optimizer = optim.adam(LEARNING_RATE)
    step = make_train_step(
        model.apply, loss_fn=make_loss("softmax_cross_entropy"), optimizer=optimizer,
        num_classes=ds.num_classes,
    )  # fmt: skip
    state = TrainState(params, model_state, optimizer.init(params))
    return ds, model, step, state


def _epoch_plan(key, n):
    """The permutation batches, masks and step keys the scanned epoch draws from ``key``."""
    from nndl_jax.data import minibatch_indices

    k_order, k_steps = jax.random.split(key)
    idx, mask = minibatch_indices(k_order, n, BATCH)
    return idx, mask, jax.random.split(k_steps, idx.shape[0])


def _timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def _summary(times: list[float]) -> dict[str, float]:
    return {
        "ms": 1e3 * statistics.median(times),
        "min_ms": 1e3 * min(times),
        "max_ms": 1e3 * max(times),
    }


@case("training", "digits_mlp_epoch")
def digits_mlp_epoch(quick: bool) -> list[dict]:
    from nndl_jax.train.epoch import make_epoch
    from nndl_jax.train.loop import evaluate

    epochs = QUICK_EPOCHS if quick else FULL_EPOCHS
    runs = QUICK_RUNS if quick else FULL_RUNS
    ds, model, step, state0 = _setup()
    x, y = ds.train.x, ds.train.y
    x_host, y_host = np.asarray(x), np.asarray(y)
    n = int(x.shape[0])
    key = jax.random.key(1)
    epoch_keys = [jax.random.fold_in(key, e) for e in range(epochs)]
    plans = [_epoch_plan(k, n) for k in epoch_keys]
    host_plans = [(np.asarray(i), np.asarray(m), k) for i, m, k in plans]

    jit_step = jax.jit(step)
    start = time.perf_counter()
    jit_step.lower(state0, x[:BATCH], y[:BATCH], plans[0][1][0], plans[0][2][0]).compile()
    compile_step = time.perf_counter() - start

    def numpy_loop(state, e):
        idx, mask, keys = host_plans[e]
        for i in range(idx.shape[0]):
            state, _ = jit_step(state, x_host[idx[i]], y_host[idx[i]], mask[i], keys[i])
        return state

    def jnp_loop(state, e):
        idx, mask, keys = plans[e]
        for i in range(idx.shape[0]):
            state, _ = jit_step(state, x[idx[i]], y[idx[i]], mask[i], keys[i])
        return state

    scanned = make_epoch(step, num_samples=n, batch_size=BATCH)
    start = time.perf_counter()
    scanned.lower(state0, epoch_keys[0], x, y).compile()
    compile_scan = time.perf_counter() - start

    def scanned_epoch(state, e):
        return scanned(state, epoch_keys[e], x, y)[0]

    plain_epoch = make_epoch(step, num_samples=n, batch_size=BATCH, jit=False)

    @jax.jit
    def all_epochs(state, keys, x, y):
        return jax.lax.scan(lambda s, k: (plain_epoch(s, k, x, y)[0], None), state, keys)[0]

    stacked_keys = jnp.stack(epoch_keys)
    start = time.perf_counter()
    all_epochs.lower(state0, stacked_keys, x, y).compile()
    compile_all = time.perf_counter() - start

    styles = {"numpy": numpy_loop, "jnp": jnp_loop, "scan": scanned_epoch}
    states = dict.fromkeys(styles, state0)
    times: dict[str, list[float]] = {name: [] for name in styles}
    names = list(styles)
    for e in range(epochs):
        order = names[e % 3 :] + names[: e % 3]
        for name in order:
            states[name], seconds = _timed(styles[name], states[name], e)
            if e > 0:  # the first epoch includes compiling (or dispatch warm-up)
                times[name].append(seconds)
    if epochs == 1:
        raise ValueError("the benchmark needs at least 2 epochs")
    all_state, all_times = None, []
    for _ in range(runs + 1):
        all_state, seconds = _timed(all_epochs, state0, stacked_keys, x, y)
        all_times.append(seconds / epochs)
    all_times = all_times[1:]  # the first run warms up

    def test_accuracy(state):
        scores = evaluate(model, state.params, state.model_state, ds.test, num_classes=10)
        return 100.0 * scores["accuracy"]

    accuracy = {name: test_accuracy(s) for name, s in states.items()}
    accuracy["all"] = test_accuracy(all_state)
    stats = {name: _summary(t) for name, t in times.items()}
    stats["all"] = _summary(all_times)
    labels = {
        "numpy": "numpy-gather loop",
        "jnp": "jnp-gather loop",
        "scan": "scanned epoch",
        "all": "all epochs in one jit",
    }
    compile_s = {"scan": compile_scan, "all": compile_all}
    compile_s["numpy"] = compile_s["jnp"] = compile_step

    rows = []
    for ours, peer in (("scan", "numpy"), ("scan", "jnp"), ("all", "numpy")):
        if ours in times and peer in times:
            # epochs of (a), (b) and (c) run in the same round: the median of per-round ratios
            pairs = zip(times[ours], times[peer], strict=True)
            ratio = statistics.median(a / b for a, b in pairs)
        else:  # (d) runs on its own, so there are no pairs: the ratio of the medians
            ratio = stats[ours]["ms"] / stats[peer]["ms"]
        gap = abs(accuracy[ours] - accuracy[peer])
        row = {
            "peer": labels[peer],
            "ours": labels[ours],
            "ours_ms": stats[ours]["ms"],
            "ours_min_ms": stats[ours]["min_ms"],
            "ours_max_ms": stats[ours]["max_ms"],
            "peer_ms": stats[peer]["ms"],
            "peer_min_ms": stats[peer]["min_ms"],
            "peer_max_ms": stats[peer]["max_ms"],
            "ratio": ratio,
            "speedup": 1.0 / ratio,
            "compile_ours_s": compile_s[ours],
            "compile_peer_s": compile_s[peer],
            "ours_test_accuracy": accuracy[ours],
            "peer_test_accuracy": accuracy[peer],
            "accuracy_gap_points": gap,
            "epochs": epochs,
            "steps_per_epoch": int(plans[0][0].shape[0]),
            "batch_size": BATCH,
        }
        if peer == "numpy":
            row["target"] = f"speedup >= {TARGET_SPEEDUP:g} at accuracy gap <= 0.5 points"
            row["target_met"] = bool(1.0 / ratio >= TARGET_SPEEDUP and gap <= 0.5)
        rows.append(row)
    return rows


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(digits_mlp_epoch(quick="--quick" in sys.argv), indent=2))
