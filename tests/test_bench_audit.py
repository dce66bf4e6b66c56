"""Audit of the benchmark statistics: known times in, the reported numbers out.

Synthetic functions (sleeps, scripted timings) and tiny arrays only.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from nndl_jax.benchmarks import _harness, optim as bench_optim, training as bench_training
from nndl_jax.benchmarks._bandwidth import Triad

from nndl_jax import benchmarks


def test_compare_of_20ms_against_40ms_sleeps_reports_a_ratio_of_one_half():
    # sleeps long enough that a loaded machine's overshoot (a few ms) cannot move the ratio
    row = benchmarks.compare(
        lambda: time.sleep(0.020),
        lambda: time.sleep(0.040),
        (),
        peer_name="sleep 40 ms",
        repeats=5,
        number=2,
        warmup=1,
        jit=False,
    )
    assert 0.35 < row["ratio"] < 0.7, row["ratio"]
    # per call, not per `number` calls, and each sleep's full length: a harness that divided
    # by the wrong count or timed before the call finished would fall below the sleep
    assert 19.9 <= row["ours_min_ms"] <= row["ours_ms"] <= row["ours_max_ms"]
    assert 39.9 <= row["peer_min_ms"] <= row["peer_ms"] <= row["peer_max_ms"]


def test_compare_times_the_slow_second_element_of_a_tuple_output():
    x = jnp.ones((256, 256), jnp.float32) / 256

    def slow(a):
        b = a
        for _ in range(40):
            b = jnp.tanh(b @ a)
        return b

    row = benchmarks.compare(
        lambda a: (a + 1.0, slow(a)),
        lambda a: (a + 1.0, a + 2.0),
        (x,),
        peer_name="fast tuple",
        repeats=3,
        number=2,
        warmup=1,
    )
    assert row["ratio"] > 3, row  # forty matmuls against two elementwise ops


def test_compare_ratio_is_the_median_of_per_pair_ratios_and_min_max_are_right(monkeypatch):
    # scripted seconds per call, in the order the harness asks for them
    script = {"ours": [1.0, 2.0, 100.0], "peer": [2.0, 4.0, 1.0]}

    def fake_time_call(fn, args, number):
        return script[fn()].pop(0)

    monkeypatch.setattr(_harness, "_time_call", fake_time_call)
    row = benchmarks.compare(
        lambda: "ours", lambda: "peer", (), peer_name="p", repeats=3, warmup=0, jit=False
    )
    # per pair: 0.5, 0.5, 100 -> 0.5 (the ratio of the medians would be 2 / 2 = 1)
    assert row["ratio"] == 0.5
    assert (row["ours_min_ms"], row["ours_ms"], row["ours_max_ms"]) == (1e3, 2e3, 1e5)
    assert (row["peer_min_ms"], row["peer_ms"], row["peer_max_ms"]) == (1e3, 2e3, 4e3)


def test_compare_reports_flops_and_bytes_over_the_median_time(monkeypatch):
    monkeypatch.setattr(_harness, "_time_call", lambda fn, args, number: fn())
    row = benchmarks.compare(
        lambda: 0.5,
        lambda: 2.0,
        (),
        peer_name="p",
        repeats=1,
        warmup=0,
        jit=False,
        flops=1e9,
        bytes_moved=4e9,
    )
    assert row["ours_GFLOPps"] == 2.0 and row["peer_GFLOPps"] == 0.5
    assert row["ours_GBps"] == 8.0 and row["peer_GBps"] == 2.0


def test_compare_warmup_runs_are_not_timed():
    calls = []
    row = benchmarks.compare(
        lambda: calls.append("o") or time.sleep(0.05 if len(calls) == 1 else 0.001),
        lambda: None,
        (),
        peer_name="p",
        repeats=3,
        number=1,
        warmup=1,
        jit=False,
    )
    assert row["ours_max_ms"] < 40  # the slow first (warm-up) call is not in the statistics


def test_compare_donated_accepts_no_warmup():
    # warmup=0 used to divide the (empty) warm-up's time by zero steps
    step = lambda x, g: (x + g,)
    row = bench_optim.compare_donated(
        step,
        step,
        (jnp.zeros(8, jnp.float32),),
        (jnp.zeros(8, jnp.float32),),
        (jnp.ones(8, jnp.float32),),
        peer_name="same",
        timing=bench_optim.Timing(repeats=2, number=1, warmup=0),
    )
    assert row["repeats"] == 2 and 0 < row["ratio"] < np.inf


@pytest.mark.parametrize("timing", [(0, 1, 0), (1, 0, 0), (1, 1, -1)])
def test_compare_donated_rejects_empty_timings(timing):
    step = lambda x: (x + 1.0,)
    with pytest.raises(ValueError, match="repeats and number"):
        bench_optim.compare_donated(
            step,
            step,
            (jnp.zeros(4),),
            (jnp.zeros(4),),
            peer_name="p",
            timing=bench_optim.Timing(*timing),
        )


def test_compare_donated_per_pair_ratio_and_bandwidth_fraction(monkeypatch):
    # each side's step advances a fake clock by a scripted time (real sleeps overshoot under
    # load and made this flaky); the probe reports scripted times
    durations = {"ours": [0.0, 0.002, 0.004, 0.030], "peer": [0.0, 0.004, 0.008, 0.002]}
    clock = [0.0]
    monkeypatch.setattr(bench_optim.time, "perf_counter", lambda: clock[0])

    def sleeper(side):
        def step(x):
            clock[0] += durations[side].pop(0)
            return (x,)

        return step

    monkeypatch.setattr(bench_optim, "_compile_donated", lambda fn, carry, args: (fn, 0.0))
    stream = Triad(1 << 8)
    stream_times = [0.001, 0.002, 0.001]
    monkeypatch.setattr(stream, "time", lambda calls: stream_times.pop(0))
    row = bench_optim.compare_donated(
        sleeper("ours"),
        sleeper("peer"),
        (jnp.zeros(4),),
        (jnp.zeros(4),),
        peer_name="p",
        timing=bench_optim.Timing(repeats=3, number=1, warmup=1),
        bytes_moved=1e6,
        stream=stream,
    )
    # per pair 0.5, 0.5, 15 -> 0.5; the ratio of the medians would be 1
    assert row["ratio"] == pytest.approx(0.5), row
    # per round: (1e6 / t_ours) / (stream bytes / t_stream)
    rounds = zip([0.002, 0.004, 0.030], [0.001, 0.002, 0.001], strict=True)
    expected = np.median([1e6 / t / (stream.bytes_per_call / ts) for t, ts in rounds])
    np.testing.assert_allclose(row["ours_bw_fraction"], expected, rtol=1e-9)
    np.testing.assert_allclose(row["stream_GBps"], stream.bytes_per_call / 0.001 / 1e9)


def test_training_ratio_is_the_median_of_per_epoch_ratios(monkeypatch):
    # scripted seconds per epoch (the first, compile, epoch is dropped): per epoch the scanned
    # epoch is twice as fast as the numpy loop, but the ratio of the medians would say 25x slower
    script = {
        "numpy_loop": [9.0, 1.0, 2.0, 100.0],
        "jnp_loop": [9.0, 1.0, 1.0, 1.0],
        "scanned_epoch": [9.0, 0.5, 50.0, 50.0],
        "all_epochs": [9.0, 4.0],
    }

    def fake_timed(fn, *args):
        return jax.block_until_ready(fn(*args)), script[fn.__name__].pop(0)

    monkeypatch.setattr(bench_training, "_timed", fake_timed)
    monkeypatch.setattr(bench_training, "QUICK_EPOCHS", 4)
    monkeypatch.setattr(bench_training, "QUICK_RUNS", 1)
    rows = bench_training.digits_mlp_epoch(quick=True)
    by_peer = {(r["ours"], r["peer"]): r for r in rows}
    scan_numpy = by_peer[("scanned epoch", "numpy-gather loop")]
    assert scan_numpy["ratio"] == pytest.approx(0.5)
    assert scan_numpy["speedup"] == pytest.approx(2.0)
    assert scan_numpy["ours_ms"] == pytest.approx(50e3) and scan_numpy["peer_ms"] == 2e3
