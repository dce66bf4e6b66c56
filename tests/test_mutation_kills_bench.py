"""Pins of the benchmark cases' like-for-like peers, byte counts and target rules."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from nndl_jax.benchmarks import optim as bench_optim, unsupervised as bench_unsup

import nndl_jax.optim as ours_optim


def _run(tx, apply, params, grads, steps=3):
    state = tx.init(params)
    for _ in range(steps):
        updates, state = tx.update(grads, state, params)
        params = apply(params, updates)
    return params


@pytest.mark.parametrize("scale", [1.0, 1e-6])
@pytest.mark.parametrize("name", bench_optim.OPTIMIZERS)
def test_each_optax_peer_takes_the_same_steps_as_ours(name, scale):
    """The peer is configured like ours: three steps land on the same parameters.

    Tiny gradients make eps (and where it sits) matter.
    """
    pair = bench_optim._pairs()[name]
    params = bench_optim.make_tree(3, 8, seed=0)
    grads = jax.tree_util.tree_map(lambda g: scale * g, bench_optim.make_tree(3, 8, seed=1))
    got = _run(pair.ours(), ours_optim.apply_updates, params, grads)
    want = _run(pair.peer(), optax.apply_updates, params, grads)
    # and the steps are not trivially equal: they moved the parameters
    step = {k: np.asarray(want[k]) - np.asarray(params[k]) for k in params}
    assert max(np.abs(d).max() for d in step.values()) > 0
    for k in params:
        got_step = np.asarray(got[k]) - np.asarray(params[k])
        np.testing.assert_allclose(got_step, step[k], rtol=2e-3, atol=1e-3 * np.abs(step[k]).max())


def test_peer_hyperparameters_match_the_issue():
    """Hyperparameters the comparisons hinge on (adagrad's accumulator, rmsprop's eps)."""
    pairs = bench_optim._pairs()
    params = {"w": jnp.ones(4)}
    acc = pairs["adagrad"].peer().init(params)
    assert float(jax.tree_util.tree_leaves(acc)[0].max()) == 0.0  # not optax's 0.1 default
    assert pairs["adam"].targeted and pairs["adagrad"].targeted and pairs["rmsprop"].targeted
    assert pairs["sgd_momentum"].targeted and not pairs["adamw"].targeted


@pytest.mark.parametrize(
    ("name", "moments"), [("sgd_momentum", 1), ("adagrad", 1), ("adam", 2), ("adadelta", 2)]
)
def test_bench_pair_counts_params_and_grads_read_params_written_and_moments(
    monkeypatch, name, moments
):
    """Bytes per step: read params, grads and each moment; write params and each moment."""
    seen = []
    monkeypatch.setattr(bench_optim, "compare_donated", lambda *a, **kw: seen.append(kw) or kw)
    pair = bench_optim._pairs()[name]
    bench_optim.bench_pair(
        pair.ours(), pair.peer(), [(3, 16)], peer_name="p", timing=bench_optim.QUICK_TIMING,
        stream=None,
    )  # fmt: skip
    param_bytes = 3 * 16 * 4
    assert seen[0]["bytes_moved"] == (3 + 2 * moments) * param_bytes


def test_compare_donated_bandwidth_uses_each_sides_median_and_the_same_rounds_stream(monkeypatch):
    """GB/s = bytes / that side's median time; fraction per round over that round's triad."""
    clock = [0.0]
    monkeypatch.setattr(bench_optim.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(bench_optim, "_compile_donated", lambda fn, carry, args: (fn, 0.0))
    script = {"ours": [9.0, 1.0, 2.0, 3.0], "peer": [9.0, 4.0, 8.0, 2.0]}

    def side(name):
        def step(x):
            clock[0] += script[name].pop(0)
            return (x,)

        return step

    stream = bench_optim.Triad(1 << 8)
    stream_s = [0.5, 3.0, 1.0]
    monkeypatch.setattr(stream, "time", lambda calls: stream_s.pop(0))
    row = bench_optim.compare_donated(
        side("ours"), side("peer"), (jnp.zeros(2),), (jnp.zeros(2),), peer_name="p",
        timing=bench_optim.Timing(repeats=3, number=1, warmup=1), bytes_moved=8e9,
        stream=stream,
    )  # fmt: skip
    assert row["ours_GBps"] == pytest.approx(8 / 2.0) and row["peer_GBps"] == pytest.approx(8 / 4)
    stream_gbps = [stream.bytes_per_call / t / 1e9 for t in (0.5, 3.0, 1.0)]
    assert row["stream_GBps"] == pytest.approx(stream.bytes_per_call / 1.0 / 1e9)
    ours_frac = np.median([8 / t / g for t, g in zip((1, 2, 3), stream_gbps, strict=True)])
    peer_frac = np.median([8 / t / g for t, g in zip((4, 8, 2), stream_gbps, strict=True)])
    assert row["ours_bw_fraction"] == pytest.approx(ours_frac)
    assert row["peer_bw_fraction"] == pytest.approx(peer_frac)
    assert row["ratio"] == pytest.approx(np.median([1 / 4, 2 / 8, 3 / 2]))


def _row(leaf_size, ratio, fraction=None):
    row = {"leaf_size": leaf_size, "ratio": ratio}
    if fraction is not None:
        row["ours_bw_fraction"] = fraction
    return row


def test_targets_ratio_at_most_one_and_adam_bandwidth_on_the_largest_leaves():
    """Documented rule: ratio <= 1; Adam's largest-leaf tree also needs >= 70% of stream."""
    rows = bench_optim._with_targets("adagrad", [_row(8, 1.0), _row(4, 1.01), _row(2, 0.5)])
    assert [r["target_met"] for r in rows] == [True, False, True]
    assert all(r["target"] == "ratio<=1.00" for r in rows)
    rows = bench_optim._with_targets(
        "adam", [_row(64, 0.9, 0.70), _row(8, 0.9, 0.1), _row(64, 0.9, 0.69)]
    )
    assert [r["target_met"] for r in rows] == [True, True, False]
    rows = bench_optim._with_targets("adam", [_row(64, 1.1, 0.9), _row(64, 0.9)])
    assert [r["target_met"] for r in rows] == [False, False]


def test_raveled_update_target_is_tenfold_speedup_and_sub_second_compile(monkeypatch):
    script = iter([(0.1, 0.5), (1.0, 0.5)])

    def fake(*args, **kw):
        ratio, compile_s = next(script)
        return {"ratio": ratio, "compile_ours_s": compile_s, **kw}

    monkeypatch.setattr(bench_optim, "compare_donated", fake)
    monkeypatch.setattr(bench_optim, "_probe", lambda quick: None)
    rows = bench_optim.raveled_adam(quick=True, tree=(3, 4))
    assert rows[0]["target_met"] is True and rows[0]["speedup"] == pytest.approx(10.0)
    # the peer's bytes: params, grads and two moments read; params and two moments written
    assert rows[0]["bytes_moved"] == 7 * 3 * 4 * 4
    script = iter([(0.11, 0.5), (1.0, 0.5), (0.05, 1.0), (1.0, 0.5)])
    assert bench_optim.raveled_adam(quick=True, tree=(3, 4))[0]["target_met"] is False
    assert bench_optim.raveled_adam(quick=True, tree=(3, 4))[0]["target_met"] is False


def test_flatten_adam_target_is_ratio_at_most_one(monkeypatch):
    ratios = iter([1.0, 1.2])
    monkeypatch.setattr(
        bench_optim,
        "bench_pair",
        lambda *a, **kw: [{"ratio": next(ratios)}, {"ratio": next(ratios)}],
    )
    monkeypatch.setattr(bench_optim, "_probe", lambda quick: None)
    rows = bench_optim.flatten_adam(quick=True)
    assert [r["target_met"] for r in rows] == [True, False]


def test_quick_and_full_sizes_are_the_issue_ones(monkeypatch):
    """Full runs use the issue's trees and timing; quick ones never leak into them."""
    seen = []
    monkeypatch.setattr(bench_optim, "bench_pair", lambda *a, **kw: seen.append((a, kw)) or [])
    monkeypatch.setattr(bench_optim, "_probe", lambda quick: quick)
    bench_optim.run_optimizer("adamw", quick=False)
    bench_optim.run_optimizer("adamw", quick=True)
    (a_full, kw_full), (a_quick, kw_quick) = seen
    assert tuple(a_full[2]) == ((4, 2**21), (200, 40_960), (2_000, 512))
    assert kw_full["timing"] == bench_optim.FULL_TIMING and kw_full["stream"] is False
    assert kw_quick["timing"] == bench_optim.QUICK_TIMING and kw_quick["stream"] is True
    assert bench_optim.FULL_RAVEL_TREE == (2_000, 512)
    monkeypatch.undo()
    sizes = []
    monkeypatch.setattr(bench_optim, "Triad", lambda n: sizes.append(n))
    bench_optim._probe(False), bench_optim._probe(True)
    assert sizes == [2**25, 2**23]


def test_step_runs_with_params_and_state_donated(monkeypatch):
    """The jitted step donates every carried buffer (params and optimizer state)."""
    calls = []
    real_jit = jax.jit
    monkeypatch.setattr(
        bench_optim.jax, "jit", lambda fn, **kw: calls.append(kw) or real_jit(fn, **kw)
    )
    carry = (jnp.ones(4), jnp.zeros(4), jnp.zeros(4))
    bench_optim._compile_donated(lambda a, b, c, g: (a + g, b, c), carry, (jnp.ones(4),))
    assert tuple(calls[0]["donate_argnums"]) == (0, 1, 2)


# --------------------------------------------------------------------------- unsupervised


@pytest.fixture
def captured(monkeypatch):
    """compare() replaced by a recorder returning its keyword fields as the row."""
    seen = []

    def fake(ours, peer, args, *, peer_args, **kw):
        seen.append((ours, args, peer, peer_args))
        return dict(kw)

    monkeypatch.setattr(bench_unsup, "compare", fake)
    return seen


def test_kmeans_peer_is_one_kmeanspp_start_like_ours(monkeypatch, captured):
    from sklearn.cluster import KMeans

    from nndl_jax.unsupervised import kmeans

    monkeypatch.setattr(bench_unsup, "_blobs", lambda n, d, k, seed=0: _small_blobs(k, seed))
    one_input = bench_unsup._inputs
    monkeypatch.setattr(bench_unsup, "_inputs", lambda X: one_input(X)[1:])
    (row,) = bench_unsup.kmeans_fit(quick=True)
    ours, args, peer, peer_args = captured[0]
    est = peer(*peer_args)
    assert isinstance(est, KMeans) and est.n_init == 1 and est.init == "k-means++"
    assert est.max_iter == _default(kmeans.fit, "max_iter")
    assert est.tol == _default(kmeans.fit, "tol")
    # each side's objective is its own fit's inertia, and the relative gap is ours/peer - 1
    assert row["objective_ours"] == pytest.approx(float(ours(*args).inertia), rel=1e-6)
    assert row["objective_peer"] == pytest.approx(est.inertia_, rel=1e-12)
    rel = row["objective_ours"] / row["objective_peer"] - 1.0
    assert row["objective_rel_diff"] == pytest.approx(rel)


def test_gmm_rows_report_each_sides_average_log_likelihood(monkeypatch, captured):
    from sklearn.mixture import GaussianMixture

    from nndl_jax.unsupervised import gmm

    X = _small_blobs(2, 0)
    monkeypatch.setattr(bench_unsup, "_inputs", lambda X: [("float64", X, X)])
    key = jax.random.key(0)
    rows = bench_unsup._gmm_rows(
        X, lambda X: gmm.fit(key, X, 2), lambda X: GaussianMixture(2, random_state=0).fit(X),
        "p", True,
    )  # fmt: skip
    for row, (ours, args, peer, peer_args) in zip(rows, captured, strict=True):
        want_ours = float(gmm.log_likelihood(ours(*args), args[0]))
        want_peer = float(peer(*peer_args).score(peer_args[0]))
        assert row["objective_ours"] == pytest.approx(want_ours, rel=1e-5)
        assert row["objective_peer"] == pytest.approx(want_peer, rel=1e-9)
        assert row["objective_diff"] == pytest.approx(want_ours - want_peer, abs=1e-4)
        assert want_ours != pytest.approx(want_peer, abs=1e-3)  # the sign is visible


def test_unsupervised_full_runs_use_the_documented_sizes(monkeypatch):
    """Full runs: 20,000 samples for k-means and GMM (quick sizes must not leak in)."""
    seen = []

    def stop(n, d, k, seed=0):
        seen.append((n, d, k))
        raise StopIteration

    monkeypatch.setattr(bench_unsup, "_blobs", stop)
    for fn in (bench_unsup.kmeans_fit, bench_unsup.gmm_em, bench_unsup.gmm_fit):
        for quick in (False, True):
            with pytest.raises(StopIteration):
                fn(quick=quick)
    assert seen == [(20000, 64, 10), (4000, 64, 10)] * 3


def test_kde_peer_is_the_exact_gaussian_density(monkeypatch, captured):
    """sklearn's KDE as configured equals log mean N(x; x_i, h^2 I) computed directly."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(0)
    small = rng.normal(size=(300, 8))
    monkeypatch.setattr(bench_unsup, "_inputs", lambda X: [("float64", small, small)])
    (row,) = bench_unsup.kde_score(quick=True)
    ours, args, peer, peer_args = captured[0]
    h = row["bandwidth"]
    d2 = ((small[:, None, :] - small[None, :, :]) ** 2).sum(-1)
    want = logsumexp(-d2 / (2 * h * h), axis=1) - np.log(len(small)) - 4 * np.log(2 * np.pi * h * h)
    np.testing.assert_allclose(peer(*peer_args), want, rtol=1e-10)
    assert row["objective_peer"] == pytest.approx(want.mean(), rel=1e-10)
    assert row["objective_ours"] == pytest.approx(float(np.mean(ours(*args))), rel=1e-6)


def test_gmm_peers_use_our_tolerances_and_covariance(monkeypatch):
    from nndl_jax.unsupervised import gmm

    seen = []
    monkeypatch.setattr(bench_unsup, "_blobs", lambda n, d, k, seed=0: _small_blobs(k, seed))
    monkeypatch.setattr(bench_unsup, "_gmm_rows", lambda X, ours, peer, *a: seen.append((X, peer)))
    bench_unsup.gmm_em(quick=True), bench_unsup.gmm_fit(quick=True)
    for X, peer in seen:
        est = peer(X)
        assert est.covariance_type == "full" and est.n_init == 1
        assert est.tol == _default(gmm.em, "tol") and est.max_iter == _default(gmm.em, "max_iter")
        assert est.reg_covar == _default(gmm.em, "reg_covar")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pca_and_sparse_coding_rows_take_each_objective_from_its_own_side(monkeypatch, captured):
    small = np.random.default_rng(0).normal(size=(80, 40))
    inputs = bench_unsup._inputs
    monkeypatch.setattr(bench_unsup, "_inputs", lambda X: [("float64", small, small)])
    rows = bench_unsup.pca_fit(quick=True)
    monkeypatch.setattr(bench_unsup, "_inputs", inputs)
    for row, (ours, args, peer, peer_args) in zip(rows, captured, strict=True):
        want_ours = float(np.sum(ours(*args).explained_variance))
        want_peer = float(np.sum(peer(*peer_args).explained_variance_))
        assert row["objective_ours"] == pytest.approx(want_ours, rel=1e-6)
        assert row["objective_peer"] == pytest.approx(want_peer, rel=1e-12)
        assert row["objective_rel_diff"] == pytest.approx(want_ours / want_peer - 1.0, abs=1e-9)
    captured.clear()
    (row,) = bench_unsup.sparse_coding_encode(quick=True)
    ours, (X, A), peer, peer_args = captured[0]
    Z = np.asarray(peer(*peer_args), np.float64)
    lam = row["lam"]
    want_peer = 0.5 * np.sum((X - Z @ A.T) ** 2) + lam * np.abs(Z).sum()
    assert row["objective_peer"] == pytest.approx(want_peer, rel=1e-10)


def _small_blobs(k, seed):
    from sklearn.datasets import make_blobs

    return make_blobs(120, 3, centers=k, cluster_std=4.0, random_state=seed)[0]


def _default(fn, name):
    import inspect

    return inspect.signature(fn).parameters[name].default


def test_backprop_flops_count_forward_weight_grads_and_errors_above_the_first_layer():
    """2 N d_in d_out per matmul: once forward, twice backward, no error term below layer 1."""
    from nndl_jax.benchmarks.backprop import _flops

    n, mm = 256, [64 * 128, 128 * 128, 128 * 10]
    want = 2 * n * (sum(mm) + sum(mm) + sum(mm[1:]))
    assert _flops((64, 128, 128, 10), n) == want


def test_triad_donates_its_output_buffer_and_moves_three_arrays():
    triad = bench_optim.Triad(1 << 10)
    before = triad._a
    triad.time(1)
    assert before.is_deleted() and triad.bytes_per_call == 3 * (1 << 10) * 4


# --------------------------------------------------------------------------- sparse coding alpha


def test_sparse_coding_peer_solves_our_lasso_with_sklearns_alpha_scaling(monkeypatch, captured):
    """sparse_encode(lasso_cd) divides alpha by n_features and fits Lasso, whose objective is
    1/(2 n_samples)|x - Az|^2 + alpha' |z|_1 with n_samples = n_features of x. So alpha = lam
    minimises (1/d)(1/2|x - Az|^2 + lam|z|_1): our problem. Checked on the call the case makes
    and, independently, by the optimality (KKT) conditions of our problem at the peer's codes.
    """
    import sklearn.decomposition
    from sklearn.decomposition import sparse_encode

    from nndl_jax.unsupervised import sparse_coding

    calls, inside_case = [], [True]

    def record(X, D, **kw):
        calls.append(kw)
        if inside_case[0]:  # not solved during the case: only its arguments matter there
            return np.zeros((X.shape[0], D.shape[0]))
        return sparse_encode(X, D, **kw)

    def fake_encode(X, A, *, lam, tol, max_iter, return_n_iter=False):
        Z = np.zeros((X.shape[0], A.shape[1]))
        return (Z, 0) if return_n_iter else Z

    monkeypatch.setattr(sklearn.decomposition, "sparse_encode", record)
    monkeypatch.setattr(sparse_coding, "encode", fake_encode)
    (row,) = bench_unsup.sparse_coding_encode(quick=True)
    lam = row["lam"]
    assert lam == 0.1  # the documented lambda
    assert calls and all(kw["algorithm"] == "lasso_cd" for kw in calls)
    assert all(kw["alpha"] == lam for kw in calls)
    # the case's peer, now solving with the real sparse_encode, on a small problem: the KKT
    # conditions of 1/2|x - Az|^2 + lam|z|_1 are A^T(x - Az) = lam sign(z) on the support and
    # |A^T(x - Az)| <= lam off it
    inside_case[0] = False
    ours, args, peer, peer_args = captured[0]
    rng = np.random.default_rng(3)
    A = rng.normal(size=(16, 24))
    A /= np.linalg.norm(A, axis=0)
    X = rng.normal(size=(5, 16))
    Z = np.asarray(peer(X, A), np.float64)
    corr = (X - Z @ A.T) @ A
    on = np.abs(Z) > 1e-10
    assert on.any() and (~on).any()
    np.testing.assert_allclose(corr[on], lam * np.sign(Z[on]), atol=1e-6)
    assert np.all(np.abs(corr[~on]) <= lam + 1e-6)


# --------------------------------------------------------------------------- byte counts, peers


def test_cross_entropy_bytes_read_the_logits_once_and_write_the_gradient_once(monkeypatch):
    """Least traffic of value_and_grad: n k float32 logits read, n k float32 gradient written."""
    from nndl_jax.benchmarks import metrics as bench_metrics

    seen = []
    monkeypatch.setattr(bench_metrics, "compare", lambda *a, **kw: seen.append(kw) or dict(kw))
    monkeypatch.setattr(bench_metrics, "CE_SHAPE", (6, 5))
    bench_metrics.softmax_cross_entropy(quick=True)
    assert seen[0]["bytes_moved"] == (6 * 5 * 4) + (6 * 5 * 4)


def test_activation_bytes_read_x_once_and_write_one_array(monkeypatch):
    """Each call reads N float32 inputs and writes N float32 outputs: 2 * N * 4 bytes."""
    from nndl_jax.benchmarks import activations as bench_act

    seen = []
    monkeypatch.setattr(bench_act, "compare", lambda *a, **kw: seen.append(kw) or dict(kw))
    monkeypatch.setattr(bench_act, "N", 16)
    rows = bench_act.activations(quick=True)
    assert len(rows) == 12 and len(seen) == 12
    assert all(kw["bytes_moved"] == 16 * 4 + 16 * 4 and kw["n"] == 16 for kw in seen)


def test_f1_peer_is_the_macro_average_of_per_class_f1(monkeypatch):
    """Macro F1: the unweighted mean over classes of 2 tp / (2 tp + fp + fn)."""
    from nndl_jax.benchmarks import metrics as bench_metrics

    seen = []

    def fake(ours, peer, args, *, peer_args, **kw):
        seen.append((peer, peer_args))
        return dict(kw)

    monkeypatch.setattr(bench_metrics, "compare", fake)
    monkeypatch.setattr(bench_metrics, "F1_SIZE", 300)
    bench_metrics.f1_macro(quick=True)
    peer, (y_true, y_pred) = seen[0]
    k = bench_metrics.F1_CLASSES
    per_class = []
    for c in range(k):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        per_class.append(2 * tp / (2 * tp + fp + fn))
    want = np.mean(per_class)
    assert want != pytest.approx(np.mean(y_true == y_pred), abs=1e-6)  # micro F1 differs
    assert peer(y_true, y_pred) == pytest.approx(want, rel=1e-12)


# --------------------------------------------------------------------------- training


@pytest.fixture
def fake_training(monkeypatch):
    """digits_mlp_epoch with a counter for a model, scripted accuracies and per-call seconds.

    ``set(seconds, accuracy)``: seconds maps each style's function name to the durations its
    timed calls return, in order; accuracy maps style -> test accuracy in points.
    """
    import collections
    import types

    from nndl_jax.benchmarks import training as bench_training

    import nndl_jax.train.epoch
    import nndl_jax.train.loop

    n = 2 * bench_training.BATCH
    split = types.SimpleNamespace(x=jnp.zeros((n, 2)), y=jnp.zeros(n, jnp.int32))
    ds = types.SimpleNamespace(train=split, test=split)
    State = collections.namedtuple("State", "params model_state")
    state0 = State(jnp.float32(0.0), jnp.float32(0.0))
    step = lambda s, xb, yb, mask, key: (State(s.params + 1.0, s.model_state), None)
    monkeypatch.setattr(bench_training, "_setup", lambda: (ds, None, step, state0))

    def plan(key, n):
        idx = np.arange(n).reshape(2, -1)
        return idx, np.ones(idx.shape, bool), jax.random.split(key, 2)

    def make_epoch(step, *, num_samples, batch_size, jit=True):
        epoch = lambda s, k, x, y: (State(s.params + 1.0, s.model_state), None)
        return jax.jit(epoch) if jit else epoch

    monkeypatch.setattr(bench_training, "_epoch_plan", plan)
    monkeypatch.setattr(nndl_jax.train.epoch, "make_epoch", make_epoch)
    script = {}

    def timed(fn, *args):
        return jax.block_until_ready(fn(*args)), script["seconds"][fn.__name__].pop(0)

    monkeypatch.setattr(bench_training, "_timed", timed)
    order = ["numpy", "jnp", "scan", "all"]  # the order the case evaluates the states in
    evaluated = []

    def evaluate(model, params, model_state, test, num_classes):
        name = order[len(evaluated)]
        evaluated.append(name)
        return {"accuracy": script["accuracy"][name] / 100.0}

    monkeypatch.setattr(nndl_jax.train.loop, "evaluate", evaluate)

    def run(seconds, accuracy):
        script.update(seconds=seconds, accuracy=accuracy)
        evaluated.clear()
        rows = bench_training.digits_mlp_epoch(quick=True)
        assert all(not s for s in seconds.values())  # every scripted call was made
        return {(r["ours"], r["peer"]): r for r in rows}

    return run


def test_training_rows_drop_warmups_and_target_needs_speed_and_accuracy(fake_training):
    """Target: speedup >= 2 over the numpy loop AND |accuracy gap| <= 0.5 points. The first
    (compile) epoch of each loop style and the first (compile) run of all-epochs are dropped.
    """
    epochs = 4  # QUICK_EPOCHS; 2 QUICK_RUNS of all-epochs after one warm-up run
    seconds = {
        "numpy_loop": [9.0, 1.0, 2.0, 4.0],
        "jnp_loop": [9.0, 2.0, 2.0, 2.0],
        "scanned_epoch": [9.0, 0.5, 0.5, 1.0],
        "all_epochs": [epochs * 50.0, epochs * 1.0, epochs * 2.0],
    }
    accuracy = {"numpy": 90.0, "jnp": 90.0, "scan": 89.0, "all": 90.25}
    rows = fake_training(seconds, accuracy)
    scan = rows[("scanned epoch", "numpy-gather loop")]
    all_ = rows[("all epochs in one jit", "numpy-gather loop")]
    # scan: per-round ratios 0.5, 0.25, 0.25 -> 0.25, speedup 4, but 1 point below the loop
    assert scan["ratio"] == pytest.approx(0.25) and scan["speedup"] == pytest.approx(4.0)
    assert scan["accuracy_gap_points"] == pytest.approx(1.0)
    assert scan["target_met"] is False
    assert scan["peer_ms"] == pytest.approx(2000.0) and scan["peer_max_ms"] == 4000.0
    # all epochs: runs 1 s and 2 s per epoch (the 50 s warm-up dropped) -> 1.5 s median
    assert all_["ours_ms"] == pytest.approx(1500.0)
    assert all_["ours_min_ms"] == pytest.approx(1000.0)
    assert all_["ours_max_ms"] == pytest.approx(2000.0)
    # ratio of medians 1.5 / 2 -> speedup 4/3 < 2 at a 0.25-point gap: not met
    assert all_["speedup"] == pytest.approx(2.0 / 1.5) and all_["target_met"] is False
    assert "target_met" not in rows[("scanned epoch", "jnp-gather loop")]


def test_training_target_met_at_speedup_two_within_half_a_point(fake_training):
    seconds = {
        "numpy_loop": [9.0, 2.0, 2.0, 2.0],
        "jnp_loop": [9.0, 2.0, 2.0, 2.0],
        "scanned_epoch": [9.0, 1.0, 1.0, 1.0],
        "all_epochs": [4 * 9.0, 4 * 0.5, 4 * 0.5],
    }
    accuracy = {"numpy": 90.0, "jnp": 90.0, "scan": 89.5, "all": 90.5}
    rows = fake_training(seconds, accuracy)
    scan = rows[("scanned epoch", "numpy-gather loop")]
    all_ = rows[("all epochs in one jit", "numpy-gather loop")]
    assert scan["speedup"] == pytest.approx(2.0) and scan["accuracy_gap_points"] == 0.5
    assert all_["speedup"] == pytest.approx(4.0) and all_["accuracy_gap_points"] == 0.5
    assert scan["target_met"] is True and all_["target_met"] is True
