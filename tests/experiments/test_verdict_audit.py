"""Audit of the tour's computed sentences: each must stay true for numbers another seed, other
settings or a diverged run could produce (ties, reversed orders, NaN, a single run).

The sections themselves are slow, so the sentence builders are called with synthetic numbers.
"""

import math

import numpy as np

from nndl_jax.experiments import (
    initialization,
    minibatch,
    optimizers,
    regularization,
    unsupervised,
)

N = 64  # training-set size of the synthetic minibatch runs


def _run(k, lr, losses, *, diverged=False, n=N):
    losses = np.asarray(losses, float)
    return minibatch.Run(k, lr, losses, -(-n // k), 0.9, 0.001, diverged, "")


# ---------------------------------------------------------------- minibatch: fixed claims


def test_minibatch_text_has_no_fixed_verdicts():
    # "small batches win by far" and "the comparison turns around" used to be fixed text,
    # printed even when the numbers beside them said the opposite
    assert "win by far" not in minibatch._TEXT
    assert "turns around" not in minibatch._TEXT
    assert "{per_epoch}" in minibatch._TEXT and "{per_update}" in minibatch._TEXT


def test_per_update_does_not_turn_around_when_no_larger_batch_catches_up():
    # two epochs: K=32 never reaches what K=1 has after its first epoch (the test fixture's case)
    runs = {
        (1, 0.1): _run(1, 0.1, [2.3, 0.15, 0.08]),
        (32, 0.1): _run(32, 0.1, [2.3, 1.2, 0.7]),
    }
    text = minibatch._describe_per_update(runs, 0.1, N)
    assert "no larger batch catches up" in text
    assert "turns around" not in text


def test_per_update_says_more_updates_when_a_larger_batch_needs_more():
    # K=8 (8 updates per epoch) needs 16 epochs, 128 updates, to reach what K=1 reaches after 64
    runs = {
        (1, 0.1): _run(1, 0.1, [2.0, 0.5, 0.4]),
        (8, 0.1): _run(8, 0.1, [2.0, *np.linspace(1.9, 0.5, 16)]),
    }
    text = minibatch._describe_per_update(runs, 0.1, N)
    assert "K=8 needs 128 updates (2.0× more" in text and "× fewer" not in text
    assert "makes more progress per update" not in text
    assert "turns around" not in text
    assert "no larger batch needs even 5% fewer updates" in text


def test_per_update_bound_within_the_first_epoch_is_an_upper_bound():
    # N = 63: K=1 makes 63 updates per epoch, K=8 makes 8 and is below K=1's first-epoch loss
    # after its own first epoch: it needed at most 8 updates, one epoch of examples like K=1
    runs = {
        (1, 0.1): _run(1, 0.1, [2.0, 0.5, 0.3], n=63),
        (8, 0.1): _run(8, 0.1, [2.0, 0.4, 0.2], n=63),
    }
    text = minibatch._describe_per_update(runs, 0.1, 63)
    assert "K=8 needs at most 8 updates (at least 7.8× fewer" in text
    assert "less than the K-fold" not in text and "repays its cost" in text


def test_per_update_mixed_verdicts_name_the_batches():
    runs = {
        (1, 0.1): _run(1, 0.1, [2.0, 0.5, 0.2]),  # 64 updates per epoch reach 0.5
        (2, 0.1): _run(2, 0.1, [2.0, 0.5, 0.1]),  # 32 updates: 2× fewer for 2×, repays
        (8, 0.1): _run(8, 0.1, [2.0, 1.0, 0.5]),  # 16 updates: 4× fewer for 8×, does not
    }
    text = minibatch._describe_per_update(runs, 0.1, N)
    assert "here only K=2 repays its cost per update" in text


def test_per_epoch_follows_the_order_of_the_losses():
    monotone = {
        (1, 0.1): _run(1, 0.1, [2.3, 0.01]),
        (8, 0.1): _run(8, 0.1, [2.3, 0.1]),
        (64, 0.1): _run(64, 0.1, [2.3, 2.0]),
    }
    assert "small batches win by far" in minibatch._describe_per_epoch(monotone, 0.1, N)
    close = {key: _run(key[0], 0.1, [2.3, 0.5 + 0.01 * key[0]]) for key in monotone}
    text = minibatch._describe_per_epoch(close, 0.1, N)
    assert "smaller batches win" in text and "by far" not in text
    reversed_ = {key: _run(key[0], 0.1, [2.3, 1.0 / key[0]]) for key in monotone}
    text = minibatch._describe_per_epoch(reversed_, 0.1, N)
    assert "K=64 (full) ends lowest" in text and "win" not in text.replace("does not win", "")
    tie = {key: _run(key[0], 0.1, [2.3, 0.5]) for key in monotone}
    text = minibatch._describe_per_epoch(tie, 0.1, N)
    assert (
        "K=1 and K=8 and K=64 (full) tie for the lowest loss: no batch size wins outright" in text
    )
    assert "ends lowest" not in text


def test_per_epoch_with_diverged_small_batches():
    runs = {
        (1, 0.4): _run(1, 0.4, [2.3, math.nan], diverged=True),
        (8, 0.4): _run(8, 0.4, [2.3, 3.0], diverged=True),
        (32, 0.4): _run(32, 0.4, [2.3, 0.05]),
        (64, 0.4): _run(64, 0.4, [2.3, 1.0]),
    }
    text = minibatch._describe_per_epoch(runs, 0.4, N)
    assert "among the runs that did not diverge (K=1, K=8 did)" in text
    single = {(1, 0.4): runs[(1, 0.4)], (64, 0.4): runs[(64, 0.4)]}
    text = minibatch._describe_per_epoch(single, 0.4, N)
    assert "too few" in text and "win" not in text


def test_stability_lead_only_when_small_batches_are_the_ones_that_diverge():
    stable = [2.3, 0.5]
    runs = {(k, lr): _run(k, lr, stable) for k in (1, 8, 64) for lr in (0.1, 0.4)}
    runs[(64, 0.4)] = _run(64, 0.4, [2.3, math.nan], diverged=True)  # only the full batch
    text = minibatch._describe_stability(runs, N)
    assert "Small, noisy batches tolerate only small learning rates" not in text
    assert "K=64 (full) diverged at α = 0.4 (stable up to α = 0.1)" in text
    runs[(64, 0.4)] = _run(64, 0.4, stable)
    runs[(1, 0.1)] = _run(1, 0.1, [2.3, 2.5], diverged=True)  # diverged at the smaller rate only
    text = minibatch._describe_stability(runs, N)
    assert "stable up to" not in text and "K=1 diverged at α = 0.1 (stable at α = 0.4)" in text
    runs[(1, 0.1)] = _run(1, 0.1, stable)
    runs[(1, 0.4)] = _run(1, 0.4, [2.3, math.nan], diverged=True)
    text = minibatch._describe_stability(runs, N)
    assert text.startswith("Small, noisy batches tolerate only small learning rates: K=1")


def test_scaling_sentence_says_diverged_not_nan():
    diagonal = [(8, 0.1), (16, 0.2), (32, 0.4)]
    runs = {key: _run(key[0], key[1], [2.3, 0.2]) for key in diagonal}
    runs[(32, 0.4)] = _run(32, 0.4, [2.3, math.nan], diverged=True)
    runs[(32, 0.1)] = _run(32, 0.1, [2.3, math.nan], diverged=True)
    text = minibatch._describe_scaling(runs, diagonal)
    assert "nan" not in text.lower()
    assert "K = 32, α = 0.4: diverged" in text and "K = 32: diverged" in text
    assert "differ by" not in text  # no spread from a diverged run


# ---------------------------------------------------------------- initialization


def test_tiny_normal_is_judged_against_xavier_with_the_same_activation():
    text = initialization._tiny_normal_sentence(
        10, {"relu": 0.185, "tanh": 0.83}, {"relu": 0.97, "tanh": 0.85}, 0.1
    )
    # the tanh verdict is measured against Xavier with tanh, and the sentence shows that number
    assert "has caught up with tanh (0.830 test accuracy, against 0.850 for Xavier)" in text
    assert "has barely started with ReLU (0.185 test accuracy, against 0.970 for Xavier)" in text


def test_slow_start_when_the_reference_itself_failed():
    # Xavier stuck at chance: a tiny init at chance has barely started, one far above has not
    assert initialization._slow_start(0.11, 0.10, 0.12) == "has barely started"
    assert initialization._slow_start(0.50, 0.10, 0.12) == "has caught up"


# ---------------------------------------------------------------- regularization


def test_baseline_fit_says_memorizes_only_when_it_does():
    ok = {"train_accuracy": 1.0, "test_accuracy": 0.956, "gap": 0.044}
    assert "memorizes the subset: training accuracy 1.000" in regularization._baseline_fit(ok)
    short = {"train_accuracy": 0.845, "test_accuracy": 0.778, "gap": 0.067}
    text = regularization._baseline_fit(short)
    assert "does not memorize the subset" in text and "training accuracy 0.845" in text
    almost = {"train_accuracy": 0.995, "test_accuracy": 0.9, "gap": 0.095}
    assert "almost memorizes" in regularization._baseline_fit(almost)


def test_small_effects_note_needs_a_good_baseline():
    def summary(base_test, *deltas):
        entries = {"none": {"test_accuracy": base_test, "delta_test": 0.0}}
        entries.update({f"m{i}": {"delta_test": d} for i, d in enumerate(deltas)})
        return entries

    assert "already good" in regularization._small_effects_note(summary(0.95, 0.01, -0.02))
    # a poor baseline (a short run): the reason given would be false
    assert regularization._small_effects_note(summary(0.78, 0.01, -0.02)) == ""
    assert regularization._small_effects_note(summary(0.95, 0.01, 0.05)) == ""
    assert regularization._small_effects_note(summary(0.95)) == ""  # no method to compare


def test_per_class_count_is_the_subsets():
    assert regularization._per_class(200, (0, 1, 7), 10) == "20"
    # 155 of 1257 digits cannot give every class the same count
    assert regularization._per_class(155, (0,), 10) == "15 to 16"


def test_verdict_with_ties_and_single_seed():
    summary = {
        "none": {"delta_test": 0.0, "delta_threshold": 0.02},
        "l1": {"delta_test": 0.02, "delta_threshold": 0.02},  # exactly at the threshold
        "l2": {"delta_test": -0.02, "delta_threshold": 0.02},
    }
    one = regularization._verdict(summary, 1)
    assert "No method cleared the threshold in this run." in one
    assert "Within it: L1 penalty (+0.020, threshold 0.020), L2 penalty (-0.020" in one
    assert "Below it" not in one
    many = regularization._verdict(summary, 5)
    assert "No method clearly improved test accuracy." in many and "Clearly lowered" not in many


# ---------------------------------------------------------------- optimizers, unsupervised


def test_saddle_sentence_ties_and_never():
    entries = {
        "sgd": optimizers.Entry("sgd", "proportional", None),
        "adam": optimizers.Entry("adam", "adaptive", None),
    }
    tie = optimizers._saddle_sentence({"sgd": 3, "adam": 3}, entries)
    assert "do not all escape sooner" in tie
    never = optimizers._saddle_sentence({"sgd": None, "adam": None}, entries)
    assert "sgd never" in never and "adam never" in never and "do not all escape sooner" in never


def test_density_verdict_counts_zero_density_points():
    rows = [
        ["histogram (16 × 16 bins)", -0.944, 7],  # seed 7 of the tour: best on finite points only
        ["Gaussian KDE (h = 0.1)", -0.9545, 0],
        ["Gaussian mixture (k = 8, full)", -0.862, 0],
    ]
    text = unsupervised._density_verdict(rows, 400)
    assert "the Gaussian mixture (k = 8, full) has the highest" in text
    assert "gives 7 of the 400 test points zero density, so its held-out average is -∞" in text
    rows[2][1] = -0.99
    assert "the Gaussian KDE (h = 0.1) has the highest" in unsupervised._density_verdict(rows, 400)
    tie = unsupervised._density_verdict([["a", -0.9, 0], ["b", -0.9, 0]], 400)
    assert "ties for the highest" in tie
    none = unsupervised._density_verdict([["a", -0.9, 1], ["b", -0.8, 2]], 400)
    assert "every estimator gives some test point zero density" in none
    assert "their held-out averages are -∞" in none
