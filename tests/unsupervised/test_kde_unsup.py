"""Gaussian KDE: one-point closed form, a direct NumPy sum, blocks, normalisation, errors."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from nndl_jax.unsupervised import kde

RNG = np.random.default_rng(5)
TRAIN = RNG.normal(size=(50, 3))
QUERY = RNG.normal(size=(17, 3)) * 1.5


def test_single_point_is_a_gaussian():
    got = kde.score_samples(TRAIN[:1], QUERY, 0.7)
    np.testing.assert_allclose(
        got, multivariate_normal(TRAIN[0], 0.49 * np.eye(3)).logpdf(QUERY), atol=1e-5
    )


def test_matches_direct_sum_and_is_block_independent():
    h = 0.6
    d2 = ((QUERY[:, None] - TRAIN[None]) ** 2).sum(-1)
    direct = logsumexp(-d2 / (2 * h * h), axis=1) - np.log(50) - 1.5 * np.log(2 * np.pi * h * h)
    np.testing.assert_allclose(kde.score_samples(TRAIN, QUERY, h), direct, atol=1e-5)
    np.testing.assert_allclose(kde.score_samples(TRAIN, QUERY, h, block_size=4), direct, atol=1e-5)


def test_integrates_to_one_in_one_dimension():
    grid = np.linspace(-10, 10, 4001)[:, None]
    density = np.exp(np.asarray(kde.score_samples(TRAIN[:, :1], grid, 0.3), np.float64))
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=1e-4)


def test_far_points_get_finite_log_density():
    assert np.isfinite(kde.score_samples(TRAIN, jnp.full((1, 3), 100.0), 0.1)).all()


def test_bandwidth_rules():
    assert kde.bandwidth_rule("scott", 50, 3) == pytest.approx(50 ** (-1 / 7))
    assert kde.bandwidth_rule("silverman", 50, 3) == pytest.approx((50 * 5 / 4) ** (-1 / 7))
    np.testing.assert_allclose(
        kde.score_samples(TRAIN, QUERY, "scott"),
        kde.score_samples(TRAIN, QUERY, 50 ** (-1 / 7)),
        atol=1e-6,
    )


def test_errors():
    with pytest.raises(ValueError, match="bandwidth must be a finite number > 0"):
        kde.score_samples(TRAIN, QUERY, 0.0)
    with pytest.raises(ValueError, match="bandwidth must be a positive number or one of"):
        kde.score_samples(TRAIN, QUERY, "wide")
    with pytest.raises(ValueError, match="same number of features"):
        kde.score_samples(TRAIN, QUERY[:, :2], 1.0)
    bad = np.array(QUERY)
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite.*\(2, 2\)"):
        kde.score_samples(TRAIN, bad, 1.0)
