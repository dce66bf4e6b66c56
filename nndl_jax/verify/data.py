"""Checks of ``nndl_jax.data``: splits, scaling, generators and minibatches.

Errors that are counts (rows missing from a split, wrong labels, repeated indices) are 0 when the
component is right; any miscount fails a check with tolerance 0.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from nndl_jax import verify

_SEED = 7


def _sklearn_xy(name):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    return np.asarray(bunch.data), np.asarray(bunch.target)


def _sorted_rows(x, y):
    """Rows of ``[x, y]`` in lexicographic order: a canonical form of a multiset of samples."""
    rows = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
    return rows[np.lexsort(rows.T[::-1])]


@verify.check(
    "data.load.partition", reference="sklearn.datasets.load_*", tol=0.0, tier="closed form"
)
def _load_partition():
    from nndl_jax import data

    dtype = verify.float_dtype()
    worst = 0.0
    for name in data.names():
        ds = data.load(name, seed=_SEED, standardize=False, dtype=dtype)
        x = np.concatenate([np.asarray(s.x) for s in ds.splits().values()])
        y = np.concatenate([np.asarray(s.y) for s in ds.splits().values()])
        x_ref, y_ref = _sklearn_xy(name)
        if x.shape != x_ref.shape:
            return math.inf
        # each original row (cast to our dtype) appears exactly once across the three splits
        ours, ref = _sorted_rows(x, y), _sorted_rows(x_ref.astype(dtype), y_ref)
        worst = max(worst, verify.max_abs_diff(ours, ref))
    return worst


@verify.check(
    "data.stratified_split.partition", reference="closed form", tol=0.0, tier="closed form"
)
def _split_partition():
    from nndl_jax import data

    labels = np.random.default_rng(0).integers(0, 5, size=203)
    misplaced = 0
    for fractions in [(0.0, 0.0), (0.15, 0.15), (0.0, 0.5), (0.3, 0.1)]:
        parts = data.stratified_split(
            labels, seed=_SEED, val_fraction=fractions[0], test_fraction=fractions[1]
        )
        seen = np.sort(np.concatenate(parts))
        misplaced += int(np.sum(seen != np.arange(labels.size))) if seen.size == labels.size else 1
    return float(misplaced)


@verify.check(
    "data.load.stratification", reference="proportional allocation", tol=1.0, tier="property"
)
def _load_stratification():
    """Largest |count of class c in a split - fraction * count of c| over sets, splits, classes."""
    from nndl_jax import data

    worst = 0.0
    for name in data.names():
        ds = data.load(name, seed=_SEED, val_fraction=0.2, test_fraction=0.1, standardize=False)
        total = np.bincount(_sklearn_xy(name)[1], minlength=ds.num_classes)
        for split, fraction in [(ds.val, 0.2), (ds.test, 0.1)]:
            counts = np.bincount(np.asarray(split.y), minlength=ds.num_classes)
            worst = max(worst, float(np.abs(counts - fraction * total).max()))
    return worst


@verify.check(
    "data.load.standardize",
    reference="numpy mean/std of the train split",
    tol=1e-5,
    tol_x64=1e-12,
    tier="closed form",
)
def _load_standardize():
    """Splits vs (raw - train mean) / train std from sklearn's rows; train mean 0, std 1."""
    from nndl_jax import data

    worst = 0.0
    for name in data.names():
        ds = data.load(name, seed=_SEED, standardize=True, dtype=verify.float_dtype())
        x_raw, y_raw = _sklearn_xy(name)
        parts = data.stratified_split(y_raw, seed=_SEED)  # load()'s default fractions
        mean, std = x_raw[parts[0]].mean(axis=0), x_raw[parts[0]].std(axis=0)
        varying = std > 0
        for split, idx in zip(ds.splits().values(), parts, strict=True):
            expected = (x_raw[idx] - mean) / np.where(varying, std, 1.0)
            worst = max(worst, verify.max_abs_diff(split.x, expected))
        z = np.asarray(ds.train.x, np.float64)
        worst = max(worst, float(np.abs(z.mean(axis=0)).max()))
        worst = max(worst, float(np.abs(z.std(axis=0)[varying] - 1.0).max()))
    return worst


@verify.check(
    "data.two_moons.geometry",
    reference="sklearn.datasets.make_moons(noise=0)",
    tol=1e-6,
    tol_x64=1e-12,
    tier="reference",
)
def _two_moons_geometry():
    """Distance from each noiseless point to the nearest of sklearn's points with the same label."""
    from sklearn.datasets import make_moons

    from nndl_jax import data

    n = 201
    x, y = data.two_moons(jax.random.key(_SEED), n, noise=0.0, dtype=verify.float_dtype())
    x_ref, y_ref = make_moons(n, noise=0.0, shuffle=False)
    x, y = np.asarray(x, np.float64), np.asarray(y)
    worst = 0.0
    for label in (0, 1):
        ours, ref = x[y == label], x_ref[y_ref == label]
        if len(ours) != len(ref):
            return math.inf
        dist = np.linalg.norm(ours[:, None, :] - ref[None, :, :], axis=-1).min(axis=1)
        worst = max(worst, float(dist.max()))
    return worst


@verify.check("data.adding_problem.target", reference="closed form", tol=0.0, tier="closed form")
def _adding_problem_target():
    """Target minus the sum of the two marked values, plus any misplaced marker."""
    from nndl_jax import data

    T = 9
    x, y = data.adding_problem(jax.random.key(_SEED), 256, T, dtype=verify.float_dtype())
    values, markers, y = np.asarray(x[..., 0]), np.asarray(x[..., 1]), np.asarray(y)
    bad_markers = (
        np.sum(~np.isin(markers, (0.0, 1.0)))
        + np.sum(markers[:, : T // 2].sum(axis=1) != 1)
        + np.sum(markers[:, T // 2 :].sum(axis=1) != 1)
    )
    first, second = np.argmax(markers[:, : T // 2], 1), T // 2 + np.argmax(markers[:, T // 2 :], 1)
    rows = np.arange(len(y))
    # the same two values added in the same dtype: agreement must be exact
    expected = values[rows, first] + values[rows, second]
    return float(bad_markers) + verify.max_abs_diff(y, expected)


@verify.check("data.digit_sum.label", reference="closed form", tol=0.0, tier="closed form")
def _digit_sum_label():
    """Label minus the sum of the first two digits, plus digits outside 0..9 and bad one-hots."""
    from nndl_jax import data

    key = jax.random.key(_SEED)
    digits, y = (np.asarray(a) for a in data.digit_sum(key, 512, 5))
    codes, y_hot = (np.asarray(a) for a in data.digit_sum(key, 512, 5, one_hot=True))
    out_of_range = np.sum((digits < 0) | (digits > 9))
    bad_codes = np.sum(codes != np.eye(10)[digits]) + np.sum(y_hot != y)
    return float(out_of_range + bad_codes) + verify.max_abs_diff(y, digits[:, 0] + digits[:, 1])


# float32 rounds x - phi (|x - phi| <= 8.2) and the product by A <= 5: error up to about
# 5 * 8.2 * 1.2e-7 = 4.9e-6 against the float64 truth
@verify.check(
    "data.sinusoid_tasks.target",
    reference="numpy A sin(x - phi)",
    tol=5e-6,
    tol_x64=1e-12,
    tier="closed form",
)
def _sinusoid_target():
    """Targets vs A sin(x - phi) in float64, plus parameters or inputs outside their ranges."""
    from nndl_jax import data

    tasks = data.sinusoid_tasks(jax.random.key(_SEED), 16, 10, dtype=verify.float_dtype())
    x, y, amp, phase = (np.asarray(a, np.float64) for a in tasks)
    outside = (
        np.sum((amp < 0.1) | (amp > 5.0))
        + np.sum((phase < 0) | (phase > np.pi))
        + np.sum((x < -5) | (x > 5))
    )
    expected = amp[:, None, None] * np.sin(x - phase[:, None, None])
    return float(outside) + verify.max_abs_diff(y, expected)


@verify.check(
    "data.minibatch_indices.permutation", reference="closed form", tol=0.0, tier="closed form"
)
def _minibatch_permutation():
    """Indices missing or repeated among the unmasked slots, over several (n, batch_size)."""
    from nndl_jax import data

    errors = 0
    for n, batch_size, drop_last in [(10, 3, False), (10, 3, True), (12, 4, False), (7, 7, False)]:
        idx, mask = data.minibatch_indices(
            jax.random.key(_SEED), n, batch_size, drop_last=drop_last
        )
        used = np.asarray(idx)[np.asarray(mask)]
        counts = np.bincount(used, minlength=n)
        if drop_last:
            errors += int(np.sum(counts > 1)) + abs(used.size - n // batch_size * batch_size)
        else:
            errors += int(np.sum(counts != 1))
        errors += int(np.sum((np.asarray(idx) < 0) | (np.asarray(idx) >= n)))
    return float(errors)
