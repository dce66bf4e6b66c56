"""Audit of nndl_jax.data against scikit-learn and against its own documentation.

Stratified splits are compared with ``train_test_split(stratify=...)`` and with each class's
proportional share; odd sizes must fail with an error naming the argument and its value.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nndl_jax import data

NAMES = ("breast_cancer", "digits", "iris", "wine")
FRACTIONS = [(0.15, 0.15), (0.1, 0.3), (0.25, 0.2), (0.0, 0.5), (0.33, 0.33), (0.05, 0.05)]


def _labels(name):
    return getattr(sklearn.datasets, f"load_{name}")().target


def _counts(labels, idx, k):
    return np.bincount(labels[idx], minlength=k)


# ---------------------------------------------------------------- stratified splits


@pytest.mark.parametrize("name", NAMES)
def test_every_split_within_one_sample_of_its_share(name):
    # The training set too: rounding the validation and the test share of each class on their
    # own used to round the same classes up twice (iris, seed 0: train 34/34/36 for 50/50/50).
    y = _labels(name)
    total = np.bincount(y)
    for seed in range(8):
        for vf, tf in FRACTIONS:
            parts = data.stratified_split(y, seed=seed, val_fraction=vf, test_fraction=tf)
            for idx in parts:
                share = len(idx) * total / len(y)
                assert np.abs(_counts(y, idx, len(total)) - share).max() < 1, (seed, vf, tf)
            # the documented guarantee for the held-out sets, against fraction * n_c
            for idx, fraction in zip(parts[1:], (vf, tf), strict=True):
                assert np.abs(_counts(y, idx, len(total)) - fraction * total).max() < 1


def test_default_iris_split_is_balanced():
    ds = data.load("iris")
    assert ds.train.x.shape == (104, 4) and ds.val.x.shape == ds.test.x.shape == (23, 4)
    for split in ds.splits().values():
        counts = np.bincount(np.asarray(split.y), minlength=3)
        assert counts.max() - counts.min() <= 1, counts


@pytest.mark.parametrize("name", NAMES)
def test_test_split_matches_sklearn_within_one_sample_per_class(name):
    y = _labels(name)
    k = y.max() + 1
    for seed in range(5):
        for tf in (0.15, 0.2, 0.3, 0.5):
            _, _, ours = data.stratified_split(y, seed=seed, val_fraction=0.0, test_fraction=tf)
            _, theirs = train_test_split(
                np.arange(len(y)), test_size=len(ours), stratify=y, random_state=seed
            )
            assert np.abs(_counts(y, ours, k) - _counts(y, theirs, k)).max() <= 1


def test_splits_partition_the_rows_for_every_seed():
    y = _labels("wine")
    for seed in range(40):
        train, val, test = data.stratified_split(y, seed=seed)
        everything = np.concatenate([train, val, test])
        np.testing.assert_array_equal(np.sort(everything), np.arange(len(y)))
        assert train.dtype == val.dtype == test.dtype == np.int64


def test_empty_labels_get_a_clear_error():
    with pytest.raises(ValueError, match="labels must hold at least one label, got an empty"):
        data.stratified_split(np.array([], dtype=np.int64))


def test_single_sample_and_single_class():
    np.testing.assert_array_equal(data.stratified_split(np.array([3]))[0], [0])
    train, val, test = data.stratified_split(np.zeros(20, int), val_fraction=0.2, test_fraction=0.3)
    assert (len(train), len(val), len(test)) == (10, 4, 6)


# ---------------------------------------------------------------- scaling


def test_standardization_uses_train_statistics_only():
    ds = data.load("breast_cancer", seed=2)
    y = _labels("breast_cancer")
    x = sklearn.datasets.load_breast_cancer().data
    train, _, test = data.stratified_split(y, seed=2)
    np.testing.assert_allclose(ds.shift, x[train].mean(0), rtol=1e-6)
    np.testing.assert_allclose(ds.test.x, StandardScaler().fit(x[train]).transform(x[test]),
                               atol=3e-5, rtol=0)  # fmt: skip
    assert np.abs(np.asarray(ds.test.x).mean(0)).max() > 0.01  # the test set is not re-centred
    np.testing.assert_allclose(np.asarray(ds.train.x).mean(0), 0.0, atol=1e-5)


@pytest.mark.parametrize("standardize", ["zscore", "minmax"])
def test_constant_train_features_stay_finite(standardize):
    for name in NAMES:
        ds = data.load(name, standardize=standardize)
        for split in ds.splits().values():
            assert np.isfinite(np.asarray(split.x)).all()
        assert ds.train.x.dtype == jnp.float32 and ds.train.y.dtype == jnp.int32


# ---------------------------------------------------------------- generators and batches


def test_adding_problem_target_is_exactly_the_sum_of_the_marked_values():
    for T in (2, 3, 50):
        x, y = data.adding_problem(jax.random.key(T), 400, T)
        values, markers = np.asarray(x[..., 0]), np.asarray(x[..., 1])
        rows = np.arange(400)
        first = np.argmax(markers[:, : T // 2], axis=1)
        second = T // 2 + np.argmax(markers[:, T // 2 :], axis=1)
        np.testing.assert_array_equal(y, values[rows, first] + values[rows, second])
        np.testing.assert_array_equal(markers.sum(1), 2)


def test_generators_vmap_over_keys_like_a_loop():
    keys = jax.random.split(jax.random.key(0), 3)
    for draw in (
        lambda k: data.two_moons(k, 7),
        lambda k: data.adding_problem(k, 3, 4),
        lambda k: data.digit_sum(k, 3, 4),
        lambda k: data.sinusoid_tasks(k, 2, 3),
        lambda k: data.minibatch_indices(k, 10, 4),
    ):
        batched = jax.vmap(draw)(keys)
        for i, key in enumerate(keys):
            jax.tree.map(
                lambda a, b, i=i: np.testing.assert_array_equal(a[i], b), batched, draw(key)
            )


def test_two_moons_balance_and_memory_task_labels():
    for n in (1, 2, 3, 10, 11):
        _, y = data.two_moons(jax.random.key(n), n)
        assert np.bincount(np.asarray(y), minlength=2).tolist() == [n // 2, n - n // 2]
    x, y = data.digit_sum(jax.random.key(5), 2000, 5)
    np.testing.assert_array_equal(y, np.asarray(x)[:, 0] + np.asarray(x)[:, 1])


def test_every_epoch_sees_every_example_once():
    for key in jax.random.split(jax.random.key(1), 5):
        idx, mask = data.minibatch_indices(key, 23, 5)
        np.testing.assert_array_equal(np.sort(np.asarray(idx)[np.asarray(mask)]), np.arange(23))
    a, _ = data.minibatch_indices(jax.random.key(1), 23, 5)
    b, _ = data.minibatch_indices(jax.random.key(2), 23, 5)
    assert not np.array_equal(a, b)


BIG = 2**31


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda k: data.two_moons(k, BIG), "n must be below 2\\*\\*31 .*got 2147483648"),
        (lambda k: data.two_moons(k, 10**12), "n must be below 2\\*\\*31 .*got 1000000000000"),
        (lambda k: data.adding_problem(k, 2, BIG), "T must be below 2\\*\\*31 .*got 2147483648"),
        (lambda k: data.adding_problem(k, BIG, 4), "n must be below 2\\*\\*31"),
        (lambda k: data.digit_sum(k, 10**13, 4), "n must be below 2\\*\\*31 .*got 10000000000000"),
        (lambda k: data.sinusoid_tasks(k, 2, BIG), "num_points must be below 2\\*\\*31"),
        (lambda k: data.minibatch_indices(k, BIG, 4), "n must be below 2\\*\\*31 .*got 2147483648"),
        (
            lambda k: data.minibatch_indices(k, BIG - 1, 2**30),
            "n=2147483647 in batches of batch_size=1073741824 pads the epoch to 2147483648",
        ),
    ],
)
def test_huge_sizes_name_the_argument(call, match):
    # they used to fail inside JAX with errors naming "maxval", "y" or nothing at all
    with pytest.raises(ValueError, match=match):
        call(jax.random.key(0))
