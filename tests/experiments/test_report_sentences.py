"""The report's verdicts follow the numbers they are given, whichever way those fall."""

import numpy as np

from nndl_jax.experiments import initialization, minibatch, optimizers, regularization


def _run(k, losses, n=64):
    return minibatch.Run(k, 0.1, np.asarray(losses, float), -(-n // k), 0.9, 0.01, False, "")


def test_per_update_comparison_is_computed():
    # K=1 makes 64 updates per epoch, K=8 makes 8: losses after each epoch (index 0: init)
    runs = {(1, 0.1): _run(1, [2.0, 0.5, 0.2]), (8, 0.1): _run(8, [2.0, 1.0, 0.5, 0.25, 0.12])}
    text = minibatch._describe_per_update(runs, 0.1, 64)
    # K=8 reaches K=1's 0.5 (after 64 updates) at its second epoch: 16 updates, 4x fewer
    assert "K=8 needs 16 updates (4.0× fewer, for 8× the examples per update)" in text
    assert "less than the K-fold gradient evaluations it costs" in text
    # a larger batch that is worth more than K times per update is said so
    runs[(2, 0.1)] = _run(2, [2.0, 0.5, 0.1])  # 32 updates per epoch reach 0.5: 2x fewer
    runs[(8, 0.1)] = _run(8, [2.0, 0.5, 0.1])  # 8 updates reach 0.5: 8x fewer for 8x the cost
    assert "repays its cost" in minibatch._describe_per_update(runs, 0.1, 64)
    slow = {(1, 0.1): _run(1, [2.0, 0.5, 0.2]), (8, 0.1): _run(8, [2.0, 1.9, 1.8])}
    assert "no larger batch catches up" in minibatch._describe_per_update(slow, 0.1, 64)


def test_slow_start_verdict():
    assert initialization._slow_start(0.15, 0.10, 0.95) == "has barely started"
    assert initialization._slow_start(0.60, 0.10, 0.95) == "lags behind"
    assert initialization._slow_start(0.93, 0.10, 0.95) == "has caught up"


def test_saddle_sentence_follows_the_escape_steps():
    entries = {
        "sgd": optimizers.Entry("sgd", "proportional", None),
        "adam": optimizers.Entry("adam", "adaptive", None),
    }
    fast = optimizers._saddle_sentence({"sgd": 9, "adam": 2}, entries)
    assert "sgd 9" in fast and "adam 2" in fast and "every adaptive method escapes sooner" in fast
    slow = optimizers._saddle_sentence({"sgd": 9, "adam": None}, entries)
    assert "adam never" in slow and "do not all escape sooner" in slow


def test_one_seed_never_says_clearly():
    summary = {
        "none": {"delta_test": 0.0, "delta_threshold": 0.02},
        "l2": {"delta_test": 0.05, "delta_threshold": 0.02},
    }
    one = regularization._verdict(summary, 1)
    assert "Above the threshold in this one run" in one and "clearly" not in one.lower()
    assert "Clearly improved test accuracy" in regularization._verdict(summary, 5)
