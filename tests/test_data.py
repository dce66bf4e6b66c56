"""nndl_jax.data: bundled data sets, generators and on-device minibatches.

References: scikit-learn's loaders and scalers (StandardScaler, MinMaxScaler, make_moons), NumPy
recomputations of every target, and counting arguments for permutations.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.datasets
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from nndl_jax import data

NAMES = ("breast_cancer", "digits", "iris", "wine")
SHAPES = {"breast_cancer": (569, 30, 2), "digits": (1797, 64, 10), "iris": (150, 4, 3),
          "wine": (178, 13, 3)}  # fmt: skip


def sklearn_xy(name):
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    return np.asarray(bunch.data), np.asarray(bunch.target)


def sorted_rows(x, y):
    rows = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
    return rows[np.lexsort(rows.T[::-1])]


# ---------------------------------------------------------------- load


def test_names():
    assert data.names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_load_shapes_dtypes_and_partition(name):
    n, d, k = SHAPES[name]
    ds = data.load(name, standardize=False)
    assert (ds.name, ds.num_classes, ds.num_features) == (name, k, d)
    assert len(ds.feature_names) == d and len(ds.class_names) == k
    assert ds.image_shape == ((8, 8) if name == "digits" else None)
    sizes = [s.x.shape[0] for s in ds.splits().values()]
    assert sum(sizes) == n
    assert sizes[1] == sizes[2] == int(np.floor(0.15 * n + 0.5))
    for split in ds.splits().values():
        assert split.x.dtype == jnp.float32 and split.y.dtype == jnp.int32
        assert split.x.shape[1:] == (d,) and split.y.shape == split.x.shape[:1]
    x = np.concatenate([s.x for s in ds.splits().values()])
    y = np.concatenate([s.y for s in ds.splits().values()])
    x_ref, y_ref = sklearn_xy(name)
    np.testing.assert_array_equal(sorted_rows(x, y), sorted_rows(x_ref.astype(np.float32), y_ref))


@pytest.mark.parametrize("name", NAMES)
def test_zscore_matches_standard_scaler_fit_on_train(name):
    x_ref, y_ref = sklearn_xy(name)
    train, val, test = data.stratified_split(y_ref, seed=3)
    scaler = StandardScaler().fit(x_ref[train])
    ds = data.load(name, seed=3)
    assert ds.scaling == "zscore"
    for split, idx in zip(ds.splits().values(), (train, val, test), strict=True):
        np.testing.assert_allclose(split.x, scaler.transform(x_ref[idx]), atol=2e-5, rtol=0)
        np.testing.assert_array_equal(split.y, y_ref[idx])
    assert np.isfinite(np.asarray(ds.train.x)).all()
    np.testing.assert_allclose(ds.unscale(ds.test.x), x_ref[test], atol=1e-3, rtol=1e-6)


def test_constant_features_are_centred_not_divided():
    ds = data.load("digits")
    x_ref, y_ref = sklearn_xy("digits")
    constant = np.ptp(x_ref[data.stratified_split(y_ref)[0]], axis=0) == 0
    assert constant.any()  # the corner pixels are always blank
    np.testing.assert_array_equal(np.asarray(ds.scale)[constant], 1.0)
    np.testing.assert_array_equal(np.asarray(ds.train.x)[:, constant], 0.0)
    assert np.isfinite(np.asarray(ds.val.x)).all()


def test_minmax_digits_is_pixels_over_16():
    x_ref, y_ref = sklearn_xy("digits")
    ds = data.load("digits", seed=1, standardize="minmax")
    _, _, test = data.stratified_split(y_ref, seed=1)
    np.testing.assert_allclose(ds.test.x, x_ref[test] / 16.0, atol=1e-7, rtol=0)
    assert float(ds.train.x.min()) == 0.0 and float(ds.train.x.max()) == 1.0


def test_minmax_other_sets_match_minmax_scaler_fit_on_train():
    x_ref, y_ref = sklearn_xy("wine")
    train, val, _ = data.stratified_split(y_ref, seed=2)
    scaler = MinMaxScaler().fit(x_ref[train])
    ds = data.load("wine", seed=2, standardize="minmax")
    np.testing.assert_allclose(ds.train.x, scaler.transform(x_ref[train]), atol=1e-6, rtol=0)
    np.testing.assert_allclose(ds.val.x, scaler.transform(x_ref[val]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("standardize", [False, None, "none"])
def test_no_scaling_gives_raw_values(standardize):
    x_ref, y_ref = sklearn_xy("iris")
    train = data.stratified_split(y_ref, seed=0)[0]
    ds = data.load("iris", standardize=standardize)
    np.testing.assert_allclose(ds.train.x, x_ref[train], atol=1e-6, rtol=0)


def test_stratified_within_one_sample_of_proportional():
    ds = data.load("wine", seed=5, val_fraction=0.25, test_fraction=0.2, standardize=False)
    total = np.bincount(sklearn_xy("wine")[1])
    for split, fraction in [(ds.val, 0.25), (ds.test, 0.2)]:
        counts = np.bincount(np.asarray(split.y), minlength=3)
        assert np.abs(counts - fraction * total).max() < 1.0


def test_deterministic_in_seed():
    a, b, c = data.load("iris", seed=4), data.load("iris", seed=4), data.load("iris", seed=5)
    chex.assert_trees_all_equal(a.test, b.test)
    assert not np.array_equal(a.test.x, c.test.x)


def test_zero_fractions_give_empty_splits():
    ds = data.load("iris", val_fraction=0.0, test_fraction=0.0)
    assert ds.train.x.shape == (150, 4)
    assert ds.val.x.shape == (0, 4) and ds.val.y.shape == (0,)
    assert ds.test.x.shape == (0, 4)


def test_dataset_is_a_pytree_through_jit():
    ds = data.load("iris")
    assert len(jax.tree_util.tree_leaves(ds)) == 8  # 3 splits x (x, y), shift, scale
    total = jax.jit(lambda d: d.train.x.sum() + d.val.y.sum())(ds)
    np.testing.assert_allclose(total, ds.train.x.sum() + ds.val.y.sum(), atol=1e-4, rtol=0)
    assert "iris" in repr(ds) and "(104, 4)" in repr(ds)


def test_float64_under_x64():
    with jax.enable_x64(True):
        ds = data.load("breast_cancer", dtype=jnp.float64)
        assert ds.train.x.dtype == jnp.float64 and ds.train.y.dtype == jnp.int32
        z = np.asarray(ds.train.x)
        np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12, rtol=0)
        np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-12, rtol=0)


def test_load_errors():
    with pytest.raises(ValueError, match=r"unknown data set 'mnist'.*breast_cancer, digits, iris"):
        data.load("mnist")
    for kwargs, match in [
        ({"val_fraction": -0.1}, r"val_fraction must be in \[0, 1\), got -0.1"),
        ({"test_fraction": 1.0}, r"test_fraction must be in \[0, 1\), got 1.0"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "val_fraction \\+ test_fraction must be < 1"),
        ({"standardize": "robust"}, "unknown standardize mode 'robust'.*minmax"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
    ]:
        with pytest.raises(ValueError, match=match):
            data.load("iris", **kwargs)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        data.load("iris", dtype=jnp.int32)


def test_every_class_needs_a_training_sample():
    labels = np.array([0] * 9 + [1])
    with pytest.raises(ValueError, match="class 1 has 1 samples.*at least one training sample"):
        data.stratified_split(labels, val_fraction=0.6, test_fraction=0.3)
    with pytest.raises(ValueError, match="1-D integer array"):
        data.stratified_split(np.array([0.5, 1.5]))


# ---------------------------------------------------------------- generators


def test_two_moons_noiseless_points_are_sklearns():
    x, y = data.two_moons(jax.random.key(0), 101, noise=0.0)
    assert x.shape == (101, 2) and x.dtype == jnp.float32 and y.dtype == jnp.int32
    x_ref, y_ref = sklearn.datasets.make_moons(101, noise=0.0, shuffle=False)
    x = np.asarray(x)
    for label in (0, 1):
        # on each moon the first coordinate is strictly monotone in the angle: a robust order
        ours, ref = x[np.asarray(y) == label], x_ref[y_ref == label]
        ours, ref = ours[np.argsort(ours[:, 0])], ref[np.argsort(ref[:, 0])]
        np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_two_moons_noise_has_the_requested_std():
    key = jax.random.key(1)
    clean, y0 = data.two_moons(key, 2000, noise=0.0)
    noisy, y1 = data.two_moons(key, 2000, noise=0.2)
    np.testing.assert_array_equal(y0, y1)  # same key: same order, only the noise differs
    # 4000 Gaussian coordinates: the sample std is within 3 * 0.2 / sqrt(8000) of 0.2
    assert abs(float(jnp.std(noisy - clean)) - 0.2) < 0.007
    assert not np.array_equal(y0, data.two_moons(jax.random.key(2), 2000, noise=0.0)[1])


def test_adding_problem_structure_and_target():
    T = 7
    x, y = data.adding_problem(jax.random.key(0), 500, T)
    assert x.shape == (500, T, 2) and y.shape == (500,) and x.dtype == jnp.float32
    values, markers = np.asarray(x[..., 0]), np.asarray(x[..., 1])
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers[:, : T // 2].sum(1), 1)
    np.testing.assert_array_equal(markers[:, T // 2 :].sum(1), 1)
    assert values.min() >= 0.0 and values.max() < 1.0
    np.testing.assert_allclose(y, (values * markers).sum(1), atol=1e-6, rtol=0)


def test_adding_problem_target_statistics():
    # y = u + v with u, v ~ U(0, 1): mean 1, variance 1/6 (the constant predictor's MSE)
    _, y = data.adding_problem(jax.random.key(3), 6000, 10)
    assert abs(float(y.mean()) - 1.0) < 3 * np.sqrt(1 / 6 / 6000)
    assert abs(float(y.var()) - 1 / 6) < 0.012


def test_digit_sum():
    x, y = data.digit_sum(jax.random.key(0), 300, 6)
    assert x.shape == (300, 6) and x.dtype == jnp.int32 and y.dtype == jnp.int32
    x, y = np.asarray(x), np.asarray(y)
    assert x.min() == 0 and x.max() == 9
    np.testing.assert_array_equal(y, x[:, 0] + x[:, 1])
    assert y.max() < data.DIGIT_SUM_NUM_CLASSES == 19
    codes, y_hot = data.digit_sum(jax.random.key(0), 300, 6, one_hot=True, dtype=jnp.float32)
    np.testing.assert_array_equal(codes, np.eye(10, dtype=np.float32)[x])
    np.testing.assert_array_equal(y_hot, y)


def test_sinusoid_tasks():
    tasks = data.sinusoid_tasks(jax.random.key(0), 5, 12, amplitude=(1.0, 2.0), x_range=(0, 1))
    chex.assert_shape([tasks.x, tasks.y], (5, 12, 1))
    chex.assert_shape([tasks.amplitude, tasks.phase], (5,))
    x, y, amp, phase = (np.asarray(a, np.float64) for a in tasks)
    assert ((amp >= 1) & (amp <= 2)).all() and ((phase >= 0) & (phase <= np.pi)).all()
    assert ((x >= 0) & (x <= 1)).all()
    np.testing.assert_allclose(y, amp[:, None, None] * np.sin(x - phase[:, None, None]),
                               atol=2e-6, rtol=0)  # fmt: skip


def test_generator_errors():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="T must be >= 2"):
        data.digit_sum(key, 4, 1)
    with pytest.raises(ValueError, match="T must be >= 2"):
        data.adding_problem(key, 4, 1)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        data.two_moons(key, 0)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0, got -0.1"):
        data.two_moons(key, 10, noise=-0.1)
    with pytest.raises(ValueError, match=r"amplitude must be finite with low <= high"):
        data.sinusoid_tasks(key, 2, 3, amplitude=(5.0, 0.1))
    with pytest.raises(ValueError, match=r"x_range must be a pair \(low, high\)"):
        data.sinusoid_tasks(key, 2, 3, x_range=5.0)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        data.adding_problem(key, 4, 4, dtype=jnp.int32)


def test_generators_jit_without_retracing_for_new_keys():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def draw(key):
        k = jax.random.split(key, 4)
        return (data.two_moons(k[0], 8), data.adding_problem(k[1], 3, 6),
                data.digit_sum(k[2], 3, 5), data.sinusoid_tasks(k[3], 2, 4))  # fmt: skip

    a, b = draw(jax.random.key(0)), draw(jax.random.key(1))
    eager = data.adding_problem(jax.random.split(jax.random.key(0), 4)[1], 3, 6)
    chex.assert_trees_all_close(a[1], eager, atol=1e-6)
    assert not np.array_equal(a[2][0], b[2][0])


# ---------------------------------------------------------------- minibatches


@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (7, 7), (5, 1)])
def test_minibatch_indices_cover_every_sample_once(n, batch_size):
    idx, mask = data.minibatch_indices(jax.random.key(0), n, batch_size)
    nb = -(-n // batch_size)
    assert idx.shape == mask.shape == (nb, batch_size) and data.num_batches(n, batch_size) == nb
    assert idx.dtype == jnp.int32 and mask.dtype == jnp.bool_
    np.testing.assert_array_equal(np.sort(np.asarray(idx)[np.asarray(mask)]), np.arange(n))
    assert int(mask.sum()) == n and bool(mask[:-1].all())  # only the last batch is padded
    assert ((np.asarray(idx) >= 0) & (np.asarray(idx) < n)).all()  # padding gathers safely


def test_minibatch_indices_drop_last():
    idx, mask = data.minibatch_indices(jax.random.key(0), 10, 3, drop_last=True)
    assert idx.shape == (3, 3) and bool(mask.all())
    assert len(np.unique(np.asarray(idx))) == 9


def test_minibatch_indices_jit_new_key_no_retrace():
    @functools.partial(jax.jit, static_argnames=("n", "batch_size"))
    @chex.assert_max_traces(n=1)
    def epoch(key, n, batch_size):
        return data.minibatch_indices(key, n, batch_size)

    first, _ = epoch(jax.random.key(0), n=10, batch_size=4)
    second, _ = epoch(jax.random.key(1), n=10, batch_size=4)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, data.minibatch_indices(jax.random.key(0), 10, 4)[0])


def test_batches_keep_pairs_and_masked_scan_sees_every_sample():
    x = jnp.arange(22.0).reshape(11, 2)
    y = 10 * jnp.arange(11)

    @jax.jit
    def masked_totals(key):
        xb, yb, mask = data.batches(key, x, y, 4)

        def step(carry, batch):
            xs, ys, m = batch
            return carry + jnp.stack([jnp.sum(m[:, None] * xs), jnp.sum(m * ys)]), None

        totals, _ = jax.lax.scan(step, jnp.zeros(2), (xb, yb, mask))
        return totals, xb, yb, mask

    totals, xb, yb, mask = masked_totals(jax.random.key(0))
    assert xb.shape == (3, 4, 2) and yb.shape == (3, 4) and mask.shape == (3, 4)
    np.testing.assert_allclose(totals, [x.sum(), y.sum()], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(yb, 10 * (xb[..., 0] // 2))  # rows travel with their labels


def test_batches_accept_pytrees_and_no_labels():
    x = {"a": jnp.arange(6), "b": jnp.ones((6, 3))}
    xb, yb, mask = data.batches(jax.random.key(0), x, None, 3, drop_last=True)
    assert yb is None and xb["a"].shape == (2, 3) and xb["b"].shape == (2, 3, 3)
    np.testing.assert_array_equal(np.sort(np.asarray(xb["a"]).ravel()), np.arange(6))


def test_shuffle():
    a, b = jnp.arange(9), jnp.arange(9.0) * 2
    sa, sb = data.shuffle(jax.random.key(0), a, b)
    np.testing.assert_array_equal(sb, 2 * sa)
    np.testing.assert_array_equal(np.sort(np.asarray(sa)), np.arange(9))
    assert not np.array_equal(sa, a)
    (single,) = jax.jit(data.shuffle)(jax.random.key(0), a)
    np.testing.assert_array_equal(single, sa)


def test_batching_errors():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="batch_size must be <= n .*got 11 > 10"):
        data.minibatch_indices(key, 10, 11)
    with pytest.raises(ValueError, match="batch_size must be <= n"):
        data.batches(key, jnp.zeros((4, 2)), jnp.zeros(4), 5)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        data.num_batches(10, 0)
    with pytest.raises(ValueError, match="leading .* axis, got shapes"):
        data.shuffle(key, jnp.zeros(3), jnp.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        data.shuffle(key)
    assert data.num_batches(10, 3) == 4 and data.num_batches(10, 3, drop_last=True) == 3
