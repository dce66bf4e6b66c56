"""The minibatch study: its section, the gradient-noise measurement and the many-updates claim."""

import math

import numpy as np
import pytest

from nndl_jax import data
from nndl_jax.experiments import Context, minibatch as study


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", seed=0)


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    ctx = Context(tmp_path_factory.mktemp("tour"), quick=True, seed=0)
    return study.minibatch_section(
        ctx, batch_sizes=(1, 32, None), learning_rates=(0.025,), epochs=2
    )


def test_section_has_table_figures_and_sane_metrics(section):
    runs, noise = section.tables
    assert [row[0] for row in runs.rows] == ["K=1", "K=32", "K=1257 (full)"]
    assert all(len(row) == len(runs.header) for row in runs.rows)
    assert len(noise.rows) == 3
    assert len(section.figures) == 2 and all(p.stat().st_size > 0 for p in section.figures)
    assert "{" not in section.text  # every placeholder filled
    m = section.metrics
    for k in (1, 32, 1257):
        key = f"K={k}/lr=0.025"
        assert m[f"{key}/diverged"] == 0.0
        assert 0.0 <= m[f"{key}/val_accuracy"] <= 1.0
        assert math.isfinite(m[f"{key}/final_train_loss"]) and m[f"{key}/final_train_loss"] > 0


def test_small_batches_reach_lower_loss_per_epoch(section):
    # same α, same epochs, same initialization: ⌈N/K⌉ updates per epoch win over one update
    loss = {k: section.metrics[f"K={k}/lr=0.025/final_train_loss"] for k in (1, 32, 1257)}
    assert loss[1] < loss[32] < loss[1257]
    # full batch after 2 steps of α = 0.025 has barely moved from ln 10 ≈ 2.3
    assert loss[1257] > 1.5 and loss[32] < 1.0


def test_gradient_noise_matches_closed_form(digits):
    noise = study.gradient_noise(digits, (8, 32, None), draws=128)
    n = int(digits.train.x.shape[0])
    for k in (8, 32):
        measured, predicted = noise[k]
        np.testing.assert_allclose(measured, predicted, rtol=0.15, atol=0)
    # the error shrinks like 1/√K: a four times smaller batch, a twice larger error
    np.testing.assert_allclose(noise[8][1] / noise[32][1], 2.0, rtol=0.02, atol=0)
    # the full batch is the full gradient
    assert noise[n][0] < 1e-5 and noise[n][1] == 0.0


def test_large_rate_with_single_samples_diverges(digits):
    run = study.train_minibatch(digits, 1, 1.0, epochs=1)
    assert run.diverged and math.isnan(run.final_loss) and math.isnan(run.val_accuracy)
    assert run.updates_per_epoch == int(digits.train.x.shape[0])


def _fake_run(k, lr, losses, n=1257):
    return study.Run(k, lr, np.asarray(losses, float), -(-n // k), 0.9, 0.001, False)


def test_diagonal_and_interpolation_helpers():
    runs = {
        (k, lr): _fake_run(k, lr, [2.3, 1.0, 0.5])
        for k in (1, 8, 32, 128, 1257)
        for lr in (0.025, 0.1, 0.4)
    }
    # α/K = 0.025/8 is the longest constant-ratio set without K = 1 or the full batch
    assert study._diagonal(runs) == [(8, 0.025), (32, 0.1), (128, 0.4)]
    assert study._diagonal({(8, 0.1): runs[(8, 0.1)], (32, 0.1): runs[(32, 0.1)]}) == []
    run = _fake_run(8, 0.1, [2.3, 1.0, 0.25])  # 158 updates per epoch
    np.testing.assert_allclose(study._loss_after(run, 158), 1.0, rtol=1e-12, atol=0)
    # log-log interpolation halfway (geometrically) between 158 and 316 updates
    np.testing.assert_allclose(study._loss_after(run, 158 * 2**0.5), 0.5, rtol=1e-9, atol=0)
    assert study._loss_after(run, 100) is None and study._loss_after(run, 400) is None
