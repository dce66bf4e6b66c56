"""The benchmark harness: compare() rows, alternation, compile times; donated timing; the probe.

Tiny functions and trees only: these tests check the machinery, not the speed.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from nndl_jax.benchmarks import optim as bench_optim
from nndl_jax.benchmarks._bandwidth import Triad, streaming_bandwidth

from nndl_jax import benchmarks

TIMING_KEYS = {
    "peer",
    "ours_ms",
    "ours_min_ms",
    "ours_max_ms",
    "peer_ms",
    "peer_min_ms",
    "peer_max_ms",
    "ratio",
    "compile_ours_s",
    "compile_peer_s",
    "repeats",
    "number",
}


def assert_sane_timing(row):
    assert TIMING_KEYS <= set(row)
    for side in ("ours", "peer"):
        lo, mid, hi = row[f"{side}_min_ms"], row[f"{side}_ms"], row[f"{side}_max_ms"]
        assert 0 < lo <= mid <= hi, (side, lo, mid, hi)
    assert 0 < row["ratio"] < np.inf


# ---------------------------------------------------------------------------- compare()


def test_compare_returns_a_sane_row_with_compile_times_and_bandwidth():
    x = jnp.ones(256, jnp.float32)
    row = benchmarks.compare(
        lambda a: a * 2.0,
        lambda a: a + a,
        (x,),
        peer_name="twice",
        repeats=3,
        number=2,
        warmup=1,
        bytes_moved=2 * x.nbytes,
        tree="256",
    )
    assert_sane_timing(row)
    assert row["peer"] == "twice" and row["tree"] == "256"
    assert row["repeats"] == 3 and row["number"] == 2
    assert row["compile_ours_s"] > 0 and row["compile_peer_s"] > 0
    # GB/s is bytes over the median time of each side
    np.testing.assert_allclose(
        row["ours_GBps"], 2 * x.nbytes / (row["ours_ms"] / 1e3) / 1e9, rtol=1e-9
    )
    np.testing.assert_allclose(
        row["peer_GBps"], 2 * x.nbytes / (row["peer_ms"] / 1e3) / 1e9, rtol=1e-9
    )


def test_compare_alternates_which_side_runs_first():
    calls = []
    ours = lambda: calls.append("ours")
    peer = lambda: calls.append("peer")
    row = benchmarks.compare(
        ours, peer, (), peer_name="p", repeats=4, number=2, warmup=1, jit=False
    )
    assert row["compile_ours_s"] is None and row["compile_peer_s"] is None
    timed = calls[2:]  # after one warm-up call of each
    assert calls[:2] == ["ours", "peer"]
    firsts = [timed[i * 4] for i in range(4)]  # each pair is 2 + 2 calls
    assert firsts == ["ours", "peer", "ours", "peer"]
    assert timed.count("ours") == timed.count("peer") == 8


def test_compare_reports_a_longer_compile_for_a_bigger_program():
    x = jnp.ones(32, jnp.float32)

    def big(a):
        # twenty reductions over distinct slices: twenty kernels for XLA to generate, against
        # one trivial program for the peer
        return sum(jnp.sum(jnp.sin(a[i : i + 3]) ** 2) for i in range(20))

    row = benchmarks.compare(big, lambda a: a, (x,), peer_name="id", repeats=1, number=1)
    assert row["compile_ours_s"] > row["compile_peer_s"]


# ------------------------------------------------------------------ donated timing (optim)


def test_compare_donated_carries_forward_and_consumes_the_donated_inputs():
    ours_carry = (jnp.zeros(64, jnp.float32), jnp.zeros((), jnp.int32))
    peer_carry = (jnp.zeros(64, jnp.float32), jnp.zeros((), jnp.int32))
    step = lambda x, n, g: (x + g, n + 1)
    row = bench_optim.compare_donated(
        step,
        step,
        ours_carry,
        peer_carry,
        (jnp.ones(64, jnp.float32),),
        peer_name="same",
        timing=bench_optim.Timing(repeats=3, number=2, warmup=1),
        bytes_moved=3 * 64 * 4,
        stream=Triad(1 << 10),
        extra_field=1,
    )
    assert_sane_timing(row)
    assert row["compile_ours_s"] > 0 and row["compile_peer_s"] > 0
    assert row["extra_field"] == 1 and row["bytes_per_step"] == 3 * 64 * 4
    assert row["stream_GBps"] > 0 and row["ours_bw_fraction"] > 0 and row["peer_bw_fraction"] > 0
    assert all(x.is_deleted() for x in (*ours_carry, *peer_carry))


def test_step_bytes_counts_adam_as_four_reads_and_three_writes():
    params = bench_optim.make_tree(3, 16)
    assert set(params) == {"w0", "w1", "w2"} and params["w0"].dtype == jnp.float32
    state = optax.adam(1e-3).init(params)
    assert bench_optim.step_bytes(params, state) == 7 * 3 * 16 * 4


def test_optim_suite_registers_every_case():
    names = {c.name for c in benchmarks.cases(["optim"])}
    assert names == set(bench_optim.CASES)


@pytest.fixture
def no_probe(monkeypatch):
    """A tiny triad instead of the probe's large buffers."""
    monkeypatch.setattr(bench_optim, "_probe", lambda quick: Triad(1 << 10))


def test_optimizer_case_rows_carry_targets(no_probe):
    rows = bench_optim.run_optimizer("adam", quick=True, trees=((2, 64), (4, 8)))
    assert [r["tree"] for r in rows] == ["2x64", "4x8"]
    for r in rows:
        assert_sane_timing(r)
        assert r["peer"] == "optax.adam" and r["optimizer"] == "adam"
        assert r["stream_GBps"] > 0 and isinstance(r["target_met"], bool)
        assert r["bytes_per_step"] == 7 * r["leaves"] * r["leaf_size"] * 4
    assert rows[0]["target"] == "ratio<=1.00 & ours_bw_fraction>=0.70"  # its large-leaf tree


def test_raveled_case_has_an_update_and_a_train_step_row(no_probe):
    rows = bench_optim.raveled_adam(quick=True, tree=(6, 8))
    assert [r["mode"] for r in rows] == ["update", "train step"]
    for r in rows:
        assert_sane_timing(r)
        np.testing.assert_allclose(r["speedup"], 1 / r["ratio"], rtol=1e-12)
    assert rows[0]["target"] == "speedup>=10 & compile_ours_s<1" and "target" not in rows[1]


# ------------------------------------------------------------------------------ the probe


def test_streaming_bandwidth_probe_reports_consistent_numbers():
    n = 1 << 12
    probe = streaming_bandwidth(n, repeats=3, number=2)
    assert probe["stream_bytes"] == 3 * n * 4 and probe["stream_n"] == n
    assert 0 < probe["stream_GBps"] <= probe["stream_best_GBps"]
    np.testing.assert_allclose(
        probe["stream_GBps"], probe["stream_bytes"] / (probe["stream_ms"] / 1e3) / 1e9, rtol=1e-9
    )


@pytest.mark.parametrize("n", [0, -4, 2.5, True])
def test_streaming_bandwidth_rejects_bad_sizes(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        streaming_bandwidth(n)


def test_triad_computes_a_plus_s_b():
    from nndl_jax.benchmarks._bandwidth import _triad

    a, b = jnp.arange(4.0), jnp.ones(4)
    np.testing.assert_allclose(jax.jit(_triad)(a, b), np.arange(4.0) + 1.5, rtol=0, atol=0)
