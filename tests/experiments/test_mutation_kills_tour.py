"""Pins of the tour's verdict rules, report numbers, CLI wiring and bench harness.

Each test restates the documented rule and checks the code's sentence or number against it on
small hand-built inputs, so that an inverted comparison or a swapped quantity cannot pass.
"""

import json
import math

import numpy as np
import pytest

from nndl_jax.experiments import initialization, minibatch, optimizers, regularization

N = 64  # training-set size of the synthetic minibatch runs


def _run(k, lr, losses, *, diverged=False, n=N):
    losses = np.asarray(losses, float)
    return minibatch.Run(k, lr, losses, -(-n // k), 0.9, 0.001, diverged, "")


# ------------------------------------------------------------------ initialization


def test_slow_start_thresholds():
    """'barely started' below chance + 0.1; 'lags behind' below Xavier − 0.05; else caught up."""
    assert initialization._slow_start(0.25, 0.10, 0.90) == "lags behind"  # 0.15 above chance
    assert initialization._slow_start(0.19, 0.10, 0.90) == "has barely started"
    assert initialization._slow_start(0.87, 0.10, 0.90) == "has caught up"  # within 0.05
    assert initialization._slow_start(0.84, 0.10, 0.90) == "lags behind"


# ------------------------------------------------------------------ optimizers


def _entries():
    return {
        "sgd": optimizers.Entry("sgd", "proportional", None),
        "momentum": optimizers.Entry("momentum", "proportional", None),
        "adam": optimizers.Entry("adam", "adaptive", None),
        "rmsprop": optimizers.Entry("rmsprop", "adaptive", None),
    }


def test_saddle_sentence_compares_slowest_adaptive_with_fastest_proportional():
    """'Every adaptive escapes sooner' needs max(adaptive steps) < min(proportional steps)."""
    entries = _entries()
    # adam (5) beats everyone but rmsprop (50) is slower than sgd (30): not every adaptive wins
    mixed = optimizers._saddle_sentence({"sgd": 30, "momentum": 100, "adam": 5, "rmsprop": 50},
                                        entries)  # fmt: skip
    assert "do not all escape sooner" in mixed
    assert "every adaptive method escapes sooner" not in mixed
    # both adaptive (5, 20) before both proportional (30, 100)
    clear = optimizers._saddle_sentence({"sgd": 30, "momentum": 100, "adam": 5, "rmsprop": 20},
                                        entries)  # fmt: skip
    assert "every adaptive method escapes sooner than every gradient-proportional one" in clear


# ------------------------------------------------------------------ regularization


def test_baseline_fit_thresholds():
    """'memorizes' only at train accuracy >= 0.9995 (shown as 1.000), 'almost' from 0.99."""

    def fit(train):
        return regularization._baseline_fit(
            {"train_accuracy": train, "test_accuracy": 0.9, "gap": train - 0.9}
        )

    assert "network almost memorizes" in fit(0.9993)
    assert "does not memorize" in fit(0.97)
    assert "network memorizes" in fit(0.9996)


def _summary_entry(delta, test=0.95):
    return {"delta_test": delta, "test_accuracy": test}


def test_small_effects_note_needs_all_effects_small_in_absolute_value():
    """The note needs every |Δ test| < 0.03 and a baseline test accuracy >= 0.9."""
    big_drop = {"none": _summary_entry(0.0), "l2": _summary_entry(-0.05)}
    assert regularization._small_effects_note(big_drop) == ""
    weak_baseline = {"none": _summary_entry(0.0, test=0.85), "l2": _summary_entry(0.01)}
    assert regularization._small_effects_note(weak_baseline) == ""
    small = {"none": _summary_entry(0.0, test=0.92), "l2": _summary_entry(-0.02)}
    assert "effects this small" in regularization._small_effects_note(small)


def _rr(train, val, test, epochs=10, norm=1.0):
    return regularization.RunResult(
        train, val, test, epochs, epochs, norm, np.zeros(epochs), np.zeros(epochs)
    )


def _results():
    return {
        "none": [_rr(1.0, 0.80, 0.70), _rr(0.90, 0.60, 0.72), _rr(0.95, 0.85, 0.77)],
        "l2": [_rr(0.80, 0.70, 0.75), _rr(0.70, 0.91, 0.74), _rr(0.60, 0.62, 0.90)],
    }


def test_summary_uses_means_gap_and_paired_test_differences():
    """Means over seeds; gap = train − test; Δ test paired per seed on test accuracy."""
    results = _results()
    summary = regularization._summary(results)
    for name, runs in results.items():
        train = np.mean([r.train_accuracy for r in runs])
        test = np.array([r.test_accuracy for r in runs])
        entry = summary[name]
        assert entry["train_accuracy"] == pytest.approx(train)
        assert entry["test_accuracy"] == pytest.approx(test.mean())
        assert entry["test_accuracy_std"] == pytest.approx(np.std(test))
        assert entry["gap"] == pytest.approx(train - test.mean())
        base = np.array([r.test_accuracy for r in results["none"]])
        deltas = test - base
        assert entry["delta_test"] == pytest.approx(deltas.mean())
        assert entry["delta_test_std"] == pytest.approx(np.std(deltas))
        if name != "none":  # sample std (ddof=1) over √n: the standard error of the mean
            se = np.std(deltas, ddof=1) / math.sqrt(len(deltas))
            assert entry["delta_test_se"] == pytest.approx(se)


def test_fmt_delta_shows_the_std_of_the_paired_differences():
    """The table's 'Δ test' cell with several seeds is mean ± std of the paired differences."""
    entry = {"delta_test": 0.05, "delta_test_std": 0.02, "delta_test_se": 0.0115}
    assert regularization._fmt_delta(entry, 3) == "+0.050 ± 0.020"
    assert regularization._fmt_delta(entry, 1) == "+0.050"


# ------------------------------------------------------------------ minibatch


def test_per_update_gain_within_five_percent_is_about_as_many():
    """A larger batch is 'ahead' only when it needs 5% fewer updates (here ~2.4% fewer)."""
    # K=1 reaches 0.5 after its 64 updates; K=2 (32 updates/epoch) crosses 0.5 between 32 and
    # 64 updates: on log-log axes at 32·2^(log(1/0.5)/log(1/0.488)) ≈ 62.5 updates
    runs = {
        (1, 0.1): _run(1, 0.1, [2.0, 0.5, 0.3]),
        (2, 0.1): _run(2, 0.1, [2.0, 1.0, 0.488]),
    }
    # so K=2 needs 64 / 62.5 = 1.024x fewer updates than K=1: ahead, but by less than 5%
    text = minibatch._describe_per_update(runs, 0.1, N)
    assert "about as many" in text and "× fewer" not in text
    assert "no larger batch needs even 5% fewer updates" in text


def test_per_update_turns_around_only_if_every_larger_batch_ended_higher():
    """'turns around' needs the smallest batch to end lowest per epoch: here K=4 ends lower."""
    runs = {
        (1, 0.1): _run(1, 0.1, [2.0, 0.5, 0.45]),
        (2, 0.1): _run(2, 0.1, [2.0, 0.4, 0.46]),  # ahead per update, ends above K=1
        (4, 0.1): _run(4, 0.1, [2.0, 0.9, 0.8, 0.3]),  # ends below K=1
    }
    text = minibatch._describe_per_update(runs, 0.1, N)
    assert "turns around" not in text


def test_stability_says_stable_up_to_only_below_every_diverged_rate():
    """'stable up to α' needs every stable α below every diverged one; else list them."""
    runs = {
        (1, 0.1): _run(1, 0.1, [2.0, 1.0]),
        (1, 0.2): _run(1, 0.2, [2.0, np.nan], diverged=True),
        (1, 0.3): _run(1, 0.3, [2.0, 1.0]),
        (1, 0.4): _run(1, 0.4, [2.0, np.nan], diverged=True),
    }
    text = minibatch._describe_stability(runs, N)
    assert "stable at α = 0.1, 0.3" in text
    assert "stable up to" not in text


def test_stability_general_claim_needs_diverged_batches_all_smaller():
    """'Small batches tolerate only small α' only if at each α every diverged K < every stable K."""
    runs = {
        (1, 0.4): _run(1, 0.4, [2.0, np.nan], diverged=True),
        (8, 0.4): _run(8, 0.4, [2.0, 1.0]),
        (16, 0.4): _run(16, 0.4, [2.0, np.nan], diverged=True),
    }
    text = minibatch._describe_stability(runs, N)
    assert text.startswith("Some runs diverged, not only the smallest batches")


def test_scaling_spread_is_max_over_min():
    """Along the diagonal the losses 'differ by' max/min − 1 (here 2.0/0.5 − 1 = 300%)."""
    diagonal = [(2, 0.2), (4, 0.4), (8, 0.8)]
    runs = {
        (2, 0.2): _run(2, 0.2, [2.3, 1.0]),
        (4, 0.4): _run(4, 0.4, [2.3, 0.5]),
        (8, 0.8): _run(8, 0.8, [2.3, 2.0]),
    }
    assert "differ by 300%" in minibatch._describe_scaling(runs, diagonal)


def test_diagonal_needs_three_runs():
    """The scaling diagonal is at least 3 runs with the same α/K; two are not enough."""
    runs = {
        (2, 0.2): _run(2, 0.2, [2.3, 1.0]),
        (4, 0.4): _run(4, 0.4, [2.3, 1.0]),
        (64, 0.1): _run(64, 0.1, [2.3, 1.0]),
    }
    assert minibatch._diagonal(runs) == []
    runs[(8, 0.8)] = _run(8, 0.8, [2.3, 1.0])
    assert minibatch._diagonal(runs) == [(2, 0.2), (4, 0.4), (8, 0.8)]


def test_loss_after_interpolates_on_log_log_axes():
    """Between two epochs the loss follows a power law in the update count."""
    run = _run(1, 0.1, [2.0, 1.0, 0.25])  # 64 updates per epoch: 1.0 at 64, 0.25 at 128
    expected = 1.0 * (96 / 64) ** (math.log(0.25) / math.log(2))  # 1.5^-2 = 0.444
    assert minibatch._loss_after(run, 96) == pytest.approx(expected)


# ------------------------------------------------------------------ nndl-jax tour / verify / bench


def _patch_tour(monkeypatch, tmp_path, *, error="", raises=None):
    import nndl_jax.experiments as exps
    from nndl_jax.experiments._registry import Section

    calls = []

    def fake_run_tour(out, **kwargs):
        calls.append(kwargs)
        if raises is not None:
            raise raises
        return tmp_path / "index.html", [Section("fake", error=error)]

    monkeypatch.setattr(exps, "run_tour", fake_run_tour)
    monkeypatch.setattr(exps, "experiments", lambda pattern=None: [])
    return calls


def test_tour_passes_seed_and_quick_and_exits_by_outcome(monkeypatch, tmp_path):
    """--seed reaches run_tour, --full means quick=False; a failed section exits 1, none 0."""
    from nndl_jax import cli

    calls = _patch_tour(monkeypatch, tmp_path)
    assert cli.main(["tour", "--out", str(tmp_path), "--seed", "7"]) == 0
    assert calls[-1]["seed"] == 7 and calls[-1]["quick"] is True
    assert cli.main(["tour", "--out", str(tmp_path), "--full", "--only", "pca"]) == 0
    assert calls[-1]["quick"] is False and calls[-1]["pattern"] == "pca"
    _patch_tour(monkeypatch, tmp_path, error="RuntimeError: boom")
    assert cli.main(["tour", "--out", str(tmp_path)]) == 1


def test_tour_ctrl_c_exits_130(monkeypatch, tmp_path):
    """Ctrl-C during the tour is exit status 130, the shell's convention for SIGINT."""
    from nndl_jax import cli

    _patch_tour(monkeypatch, tmp_path, raises=KeyboardInterrupt())
    assert cli.main(["tour", "--out", str(tmp_path)]) == 130


def test_verify_exits_1_on_a_failing_check_and_runs_at_highest_precision(monkeypatch, capsys):
    """A failed check: status 1 and a FAIL row; checks run under 'highest' matmul precision."""
    import jax

    from nndl_jax import cli, verify
    from nndl_jax.verify._registry import Result

    seen = []

    def failing(c):
        seen.append(jax.config.jax_default_matmul_precision)
        return Result(c, 1.0, 1e-5, False, 0.0, "")

    monkeypatch.setattr(verify, "run_one", failing)
    name = verify.checks()[0].name
    assert cli.main(["verify", "--only", name]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert seen and all(p == "highest" for p in seen)
    seen.clear()
    assert cli.main(["verify", "--only", name, "--matmul-precision", "default"]) == 1
    assert seen and all(p is None for p in seen)


def test_verify_x64_runs_the_checks_in_float64(monkeypatch, capsys):
    """--x64 enables jax_enable_x64 before the checks run, and the summary says float64."""
    import jax

    from nndl_jax import cli, verify
    from nndl_jax.verify._registry import Result

    seen = []

    def passing(c):
        seen.append(bool(jax.config.jax_enable_x64))
        return Result(c, 0.0, 1e-5, True, 0.0, "")

    monkeypatch.setattr(verify, "run_one", passing)
    before = bool(jax.config.jax_enable_x64)
    try:
        assert cli.main(["verify", "--only", verify.checks()[0].name, "--x64"]) == 0
    finally:
        jax.config.update("jax_enable_x64", before)
    assert seen == [True]
    assert "float64" in capsys.readouterr().out


def test_bench_forwards_quick_and_exits_1_when_a_case_fails(monkeypatch):
    """--quick reaches each case (absent: quick=False); a case that raises makes the status 1."""
    from nndl_jax.benchmarks._harness import Case

    from nndl_jax import benchmarks, cli

    quick = []

    def ok(quick_flag=None, **kw):
        quick.append(kw.get("quick", quick_flag))
        return [{"peer": "p", "ours_ms": 1.0, "peer_ms": 2.0, "ratio": 0.5}]

    def broken(**kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(benchmarks, "environment", lambda: {})
    monkeypatch.setattr(benchmarks, "cases", lambda s=None: [Case("s", "ok", ok)])
    assert cli.main(["bench"]) == 0 and quick == [False]
    assert cli.main(["bench", "--quick"]) == 0 and quick == [False, True]
    monkeypatch.setattr(
        benchmarks, "cases", lambda s=None: [Case("s", "ok", ok), Case("s", "bad", broken)]
    )
    assert cli.main(["bench"]) == 1


# ------------------------------------------------------------------ nndl-jax train


def _patch_train(monkeypatch):
    """Record what reaches the optimizer, the data set, the model and fit; fit then 'Ctrl-C's."""
    from nndl_jax import data
    from nndl_jax.train import cli as train_cli, loop

    seen = {}
    real_opt, real_load, real_mlp = loop.make_optimizer, data.load, train_cli.build_mlp

    def make_optimizer(name, lr):
        seen["optimizer"] = (name, lr)
        return real_opt(name, lr)

    def load(name, seed=0, **kw):
        seen.setdefault("split_seeds", []).append(seed)
        return real_load(name, seed=seed, **kw)

    def build_mlp(*a, **kw):
        seen["dropout"] = kw.get("dropout")
        return real_mlp(*a, **kw)

    def fit(model, ds, **kw):
        seen["fit"] = kw
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "make_optimizer", make_optimizer)
    monkeypatch.setattr(loop, "fit", fit)
    monkeypatch.setattr(data, "load", load)
    monkeypatch.setattr(train_cli, "build_mlp", build_mlp)
    return seen


def test_train_flags_reach_their_parameters_and_ctrl_c_is_130(monkeypatch):
    """Each flag goes to the parameter of the same name; Ctrl-C is exit status 130."""
    from nndl_jax.train import cli as train_cli

    seen = _patch_train(monkeypatch)
    argv = ["mlp", "--dataset", "iris", "--optimizer", "sgd", "--lr", "0.05",
            "--batch-size", "7", "--epochs", "9", "--patience", "4", "--min-delta", "0.01",
            "--threshold", "0.2", "--drop-last", "--l1", "1e-5", "--l2", "2e-4",
            "--weight-decay", "0.003", "--label-smoothing", "0.05", "--seed", "11",
            "--split-seed", "3", "--dropout", "0.3", "--no-progress"]  # fmt: skip
    assert train_cli.main(argv) == 130
    fit = seen["fit"]
    assert seen["optimizer"] == ("sgd", 0.05)
    assert seen["split_seeds"] and set(seen["split_seeds"]) == {3}  # every load of the data
    assert seen["dropout"] == 0.3
    expected = {"batch_size": 7, "epochs": 9, "patience": 4, "min_delta": 0.01,
                "threshold": 0.2, "drop_last": True, "l1": 1e-5, "l2": 2e-4,
                "weight_decay": 0.003, "label_smoothing": 0.05, "seed": 11}  # fmt: skip
    assert {k: fit[k] for k in expected} == expected


def test_train_rejects_a_negative_split_seed(monkeypatch, capsys):
    """--split-seed must be a non-negative integer: -1 is a usage error (status 2) naming it."""
    from nndl_jax.train import cli as train_cli

    seen = _patch_train(monkeypatch)
    assert train_cli.main(["mlp", "--dataset", "iris", "--split-seed", "-1"]) == 2
    assert "fit" not in seen and "split_seeds" not in seen  # refused before loading the data
    assert "--split-seed" in capsys.readouterr().err


def test_train_exits_1_when_the_loss_becomes_non_finite(capsys):
    """Exit status 1 when training stops on a non-finite loss (here SGD with α = 1e30)."""
    from nndl_jax.train import cli as train_cli

    argv = ["mlp", "--dataset", "iris", "--lr", "1e30", "--optimizer", "sgd", "--epochs", "3",
            "--hidden", "8", "--no-progress", "--label-smoothing", "0", "--weight-decay", "0",
            "--json"]  # fmt: skip
    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        assert train_cli.main(argv) == 1
    assert json.loads(capsys.readouterr().out)["stopped_reason"] == "non_finite"


@pytest.mark.parametrize(("flag", "value"), [("--lr", "0.01"), ("--seed", "5")])
def test_resume_refuses_changed_run_settings(monkeypatch, tmp_path, flag, value):
    """--resume of a saved run with another --lr or --seed is refused (status 2), not trained."""
    from nndl_jax.train import cli as train_cli

    seen = _patch_train(monkeypatch)
    out = tmp_path / "run"
    (out / "checkpoints" / "3").mkdir(parents=True)
    base = ["mlp", "--dataset", "iris", "--out", str(out), "--no-progress", "--resume"]
    args = train_cli.build_parser().parse_args(base)
    (out / "config.json").write_text(json.dumps({k: getattr(args, k) for k in
                                                 train_cli._RUN_SETTINGS}))  # fmt: skip
    assert train_cli.main([*base, flag, value]) == 2
    assert "fit" not in seen
    assert train_cli.main(base) == 130  # the same settings: resumed (fit reached)


# ------------------------------------------------------------------ bench harness


def _scripted_compare(monkeypatch, ours_times, peer_times, **kwargs):
    from nndl_jax.benchmarks import _harness

    order, direct = [], []
    times = {"ours": iter(ours_times), "peer": iter(peer_times)}

    def ours():
        direct.append("ours")

    def peer():
        direct.append("peer")

    def fake_time_call(fn, args, number):
        name = "ours" if fn is ours else "peer"
        order.append(name)
        return next(times[name])

    monkeypatch.setattr(_harness, "_time_call", fake_time_call)
    row = _harness.compare(ours, peer, (), peer_name="p", jit=False,
                           repeats=len(ours_times), **kwargs)  # fmt: skip
    return row, order, direct


def test_compare_reports_medians_and_median_ratio_ours_over_peer(monkeypatch):
    """ours_ms/peer_ms are medians (ms), min/max too; ratio = median of per-pair ours/peer."""
    ours_t, peer_t = [1.0, 2.0, 3.0, 10.0, 4.0], [2.0, 2.0, 2.0, 2.0, 2.0]
    row, _, _ = _scripted_compare(monkeypatch, ours_t, peer_t, number=1, warmup=0)
    assert row["ours_ms"] == pytest.approx(1e3 * np.median(ours_t))  # mean would be 4000
    assert row["peer_ms"] == pytest.approx(1e3 * np.median(peer_t))
    assert row["ours_min_ms"] == pytest.approx(1e3) and row["ours_max_ms"] == pytest.approx(1e4)
    ratios = np.array(ours_t) / np.array(peer_t)
    assert row["ratio"] == pytest.approx(np.median(ratios))  # 1.5; mean 2.0; peer/ours 0.667


def test_compare_alternates_order_and_warms_up(monkeypatch):
    """Pairs alternate who runs first; warm-up calls each side `warmup` times, untimed."""
    row, order, direct = _scripted_compare(monkeypatch, [1.0] * 4, [1.0] * 4, number=1, warmup=2)
    pairs = [tuple(order[i : i + 2]) for i in range(0, 8, 2)]
    assert pairs == [("ours", "peer"), ("peer", "ours")] * 2
    assert direct.count("ours") == 2 and direct.count("peer") == 2


def test_time_call_is_per_call_and_waits_for_the_result(monkeypatch):
    """_time_call divides by `number` and blocks on the last output before stopping the clock."""
    import time

    import jax
    from nndl_jax.benchmarks import _harness

    blocked = []
    monkeypatch.setattr(jax, "block_until_ready", lambda x: blocked.append(x) or x)
    t = _harness._time_call(lambda: time.sleep(0.01) or "out", (), 5)
    assert 0.009 < t < 0.03
    assert blocked == ["out"]


@pytest.mark.parametrize("kwargs", [{"repeats": 0}, {"number": 0}, {"warmup": -1}])
def test_compare_rejects_empty_timings(kwargs):
    """repeats and number must be >= 1 and warmup >= 0."""
    from nndl_jax.benchmarks import _harness

    with pytest.raises(ValueError):
        _harness.compare(lambda: 0, lambda: 0, (), peer_name="p", jit=False, **kwargs)


def test_compare_throughput_uses_each_sides_median(monkeypatch):
    """GB/s and GFLOP/s are per call: bytes (flops) / that side's median seconds / 1e9."""
    ours_t, peer_t = [1.0, 2.0, 4.0], [8.0, 8.0, 16.0]
    row, _, _ = _scripted_compare(
        monkeypatch, ours_t, peer_t, number=1, warmup=0, bytes_moved=4e9, flops=8e9
    )
    assert row["ours_GBps"] == pytest.approx(4e9 / np.median(ours_t) / 1e9)
    assert row["peer_GBps"] == pytest.approx(4e9 / np.median(peer_t) / 1e9)
    assert row["ours_GFLOPps"] == pytest.approx(8e9 / np.median(ours_t) / 1e9)
    assert row["peer_GFLOPps"] == pytest.approx(8e9 / np.median(peer_t) / 1e9)


# ------------------------------------------------------------------ run_tour


def test_run_tour_propagates_seed_and_records_a_failing_section(monkeypatch, tmp_path):
    """Every experiment gets the tour's seed and quick flag; one that raises is recorded as
    failed (its error in results.json and the page) without stopping the others."""
    from nndl_jax.experiments import _registry
    from nndl_jax.experiments._registry import Experiment, Section

    _registry.load_all()
    seen = []

    def good(ctx):
        seen.append((ctx.seed, ctx.quick))
        return Section("good", text="fine", metrics={"seed": ctx.seed})

    def bad(ctx):
        raise RuntimeError("boom")

    fakes = {
        "good": Experiment("good", "Good", 1, good),
        "zz_bad": Experiment("zz_bad", "Bad", 0, bad),  # first by order, last by name
    }
    monkeypatch.setattr(_registry, "_EXPERIMENTS", fakes)
    html, sections = _registry.run_tour(tmp_path, quick=False, seed=9)
    assert seen == [(9, False)]
    assert [s.title for s in sections] == ["Bad", "good"]  # lower order first
    assert "RuntimeError: boom" in sections[0].error and not sections[1].error
    results = json.loads((tmp_path / "results.json").read_text())
    assert "boom" in results["Bad"]["error"] and results["good"]["metrics"] == {"seed": 9}
    page = html.read_text()
    assert "seed 9" in page and "full run" in page and "1 failed" in page
