"""Pins of the tour's numbers: loss bookkeeping, escape rule, PCA table, report cells.

Each test recomputes the number from its documented definition (NumPy, scikit-learn or a
closed form) on small inputs, so that an off-by-one index or a swapped quantity cannot pass.
"""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import data
from nndl_jax.experiments import (
    _report,
    initialization,
    minibatch,
    optimizers,
    regularization,
    unsupervised,
)
from nndl_jax.experiments._registry import Context, Section, Table


def _split(n, seed=0, d=64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return data.Split(jnp.asarray(x), jnp.asarray(rng.integers(0, 10, n), jnp.int32))


def test_escape_step_needs_y_strictly_beyond_the_threshold():
    """'First step with |y| > 1': |y| = 1 exactly has not escaped; |y| = 1.5 at step 2 has."""
    path = np.array([[0.0, 0.01], [0.0, -1.0], [0.0, -1.5], [0.0, 3.0]])
    assert optimizers.escape_step(path) == 2
    assert optimizers.escape_step(path[:2]) is None


def test_bowl_and_saddle_are_the_documented_functions():
    """f = 0.1x² + 2y² and x² − y²: values and jax.grad match the closed forms."""
    p = jnp.array([1.5, -0.5])
    assert float(optimizers._bowl(p)) == pytest.approx(0.1 * 1.5**2 + 2 * 0.25)
    np.testing.assert_allclose(jax.grad(optimizers._bowl)(p), [0.2 * 1.5, 4 * -0.5], rtol=1e-6)
    np.testing.assert_allclose(jax.grad(optimizers._saddle)(p), [3.0, 1.0], rtol=1e-6)
    bowl, saddle = optimizers.SURFACES
    assert bowl.start == (-5.0, -2.0) and saddle.start[1] == 0.01


def test_trajectory_has_steps_plus_one_points_start_first():
    """`steps` updates give steps + 1 points; SGD on the bowl is x ← (1 − 0.2α)x, y ← (1 − 4α)y."""
    from nndl_jax import optim

    start = jnp.array([-5.0, -2.0])
    path = np.asarray(optimizers.trajectory(optim.sgd(0.1), optimizers._bowl, start, 3))
    t = np.arange(4)[:, None]
    want = np.array([-5.0, -2.0]) * np.array([0.98, 0.6]) ** t
    np.testing.assert_allclose(path, want, rtol=1e-5)


def test_initialization_epoch_loss_is_the_mean_over_examples():
    """With lr = 0 the epoch loss is the mean loss over all n examples, the short batch
    weighted by its real size (n = 10, batch 4: sizes 4, 4, 2)."""
    from nndl_jax.train import mlp_forward, mlp_init

    train, val = _split(10), _split(6, seed=1)
    params = mlp_init(jax.random.key(0), (64, 8, 10), "he")
    fit = initialization._compiled_fit("relu", 2, 4)
    _, losses, val_acc = fit(params, jax.random.key(1), 0.0, train, val)
    logits, _ = mlp_forward(params, train.x, activation="relu")
    logp = np.asarray(jax.nn.log_softmax(logits))
    want = -np.mean(logp[np.arange(10), np.asarray(train.y)])
    np.testing.assert_allclose(np.asarray(losses), [want, want], rtol=1e-5)
    vlogits, _ = mlp_forward(params, val.x, activation="relu")
    acc = np.mean(np.argmax(np.asarray(vlogits), -1) == np.asarray(val.y))
    np.testing.assert_allclose(np.asarray(val_acc), [acc, acc])


def test_minibatch_run_counts_ceil_updates_and_starts_at_the_initial_loss():
    """updates/epoch = ⌈n/K⌉ (n = 10, K = 4: 3); the curve has epochs + 1 points, the
    initial loss first; with α = 1e-30 every point is the initial loss."""
    ds = types.SimpleNamespace(train=_split(10), val=_split(6, seed=1))
    run = minibatch.train_minibatch(ds, 4, 1e-30, epochs=2, hidden=8)
    assert run.updates_per_epoch == 3 and run.batch_size == 4
    assert run.train_loss.shape == (3,)
    np.testing.assert_allclose(run.train_loss, run.train_loss[0], rtol=1e-6)
    full = minibatch.train_minibatch(ds, None, 1e-30, epochs=1, hidden=8)
    assert full.batch_size == 10 and full.updates_per_epoch == 1


def test_weight_norm_is_the_frobenius_norm_of_the_weight_matrices_only():
    """‖W‖ over the 2-D leaves; biases (1-D) are not penalised and not counted."""
    params = {"a": {"w": jnp.full((2, 3), 2.0), "b": jnp.full((3,), 5.0)}, "c": jnp.ones((4, 1))}
    assert regularization._weight_norm(params) == pytest.approx(np.sqrt(6 * 4.0 + 4 * 1.0))


def test_fmt_shows_mean_and_population_std_over_seeds():
    """'mean ± std' with several seeds, the mean alone with one."""
    assert regularization._fmt([0.5, 0.7]) == "0.600 ± 0.100"
    assert regularization._fmt([0.8125]) == "0.812"


@pytest.fixture(scope="module")
def pca_section(tmp_path_factory):
    return unsupervised.pca_digits(Context(tmp_path_factory.mktemp("pca"), quick=True, seed=0))


def test_pca_table_matches_sklearn_explained_variance(pca_section):
    """Row m: cumulative explained variance of m components, the MSE with m atoms (sum of the
    discarded eigenvalues, ddof = 0) and that MSE over the MSE with none."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    X = load_digits().data.astype(np.float64)
    ratio = np.cumsum(PCA().fit(X).explained_variance_ratio_)
    eig = np.sort(np.linalg.eigvalsh(np.cov(X.T, ddof=0)))[::-1]
    (table,) = pca_section.tables
    assert table.header == ["m", "explained variance", "mean squared error", "relative error"]
    for m, share, mse, rel in table.rows:
        assert share == pytest.approx(ratio[m - 1], abs=1e-4)
        assert mse == pytest.approx(eig[m:].sum(), rel=1e-3, abs=1e-2)
        assert rel == pytest.approx(eig[m:].sum() / eig.sum(), abs=1e-4)
    metrics = pca_section.metrics
    assert metrics["explained_variance_ratio_2"] == pytest.approx(ratio[1], abs=1e-4)
    for share in (80, 90, 95):  # the smallest k whose cumulative share reaches the target
        assert metrics[f"k_for_{share}pct_variance"] == int(np.argmax(ratio >= share / 100) + 1)


def test_report_cell_rounding_and_header_pairing(tmp_path):
    """Floats to 4 significant digits (scientific from 1e4); header i heads column i."""
    assert _report._cell(0.123456) == "0.1235"
    assert _report._cell(12345.0) == "1.234e+04"
    assert _report._cell(9999.0) == "9999"
    assert _report._cell("a<b") == "a&lt;b"
    table = Table("t", ["name", "value"], [["x", 0.5], ["y", 2]])
    html = _report._section_html(1, Section("s", "p1\n\np2", tables=[table]))
    assert "<tr><th>name</th><th>value</th></tr>" in html
    assert "<tr><td>x</td><td>0.5</td></tr><tr><td>y</td><td>2</td></tr>" in html
    assert "<p>p1</p>" in html and "<p>p2</p>" in html


def test_activation_derivative_table_columns_match_their_headers():
    """f'(0), max f', f'(−5), f'(5) of sigmoid and tanh from the closed forms; ReLU's share of
    |f'| < 1e-3 is the share of x ≤ 0 (or x < 0); the hand-written f' equals jax.grad's."""
    from nndl_jax.experiments import activations

    x = np.arange(-640, 641) / 128.0
    panels = activations._panels()
    curves = activations._curves(jnp.asarray(x, jnp.float32), panels)
    table, metrics = activations._derivative_table(x, panels, curves)
    assert table.header == ["activation", "f'(0)", "max f'", "f'(-5)", "f'(5)", "|f'| < 1e-3"]
    rows = {row[0]: row[1:] for row in table.rows}
    s5 = 1 / (1 + np.exp(-5.0))
    np.testing.assert_allclose(rows["sigmoid"][:4], [0.25, 0.25, s5 * (1 - s5), s5 * (1 - s5)],
                               rtol=1e-4)  # fmt: skip
    t5 = 1 - np.tanh(5.0) ** 2
    np.testing.assert_allclose(rows["tanh"][:4], [1.0, 1.0, t5, t5], rtol=1e-3)
    assert rows["ReLU"][4] in (np.mean(x <= 0), np.mean(x < 0))
    assert metrics["sigmoid_best_case_gain_10_layers"] == pytest.approx(0.25**10, rel=1e-5)
    assert metrics["tanh_derivative_at_5"] == pytest.approx(t5, rel=1e-3)
    assert metrics["max_abs_gap_analytic_vs_jax_grad"] < 1e-5
    maxout = rows["maxout of 3 pieces"]  # max(−x − 1, x/4, x − 2): slopes −1, 1/4, 1
    assert maxout[:4] == pytest.approx([0.25, 1.0, -1.0, 1.0])
    assert maxout[4] == 0.0  # |f'| is 1/4 or 1 everywhere, never below 1e-3


def test_dataset_table_counts_samples_splits_and_classes():
    """Samples = sum of the split sizes; 'per class' counts every split's labels."""
    from nndl_jax.experiments import datasets

    def split(labels):
        return data.Split(np.zeros((len(labels), 2), np.float32), np.array(labels, np.int32))

    splits = {"train": split([0, 0, 1, 2]), "val": split([2]), "test": split([1, 2])}
    ds = types.SimpleNamespace(name="toy", num_features=2, num_classes=4, splits=lambda: splits)
    table = datasets._table([ds], 0)
    assert table.header[:7] == ["data set", "samples", "features", "classes", "train", "val",
                                "test"]  # fmt: skip
    assert table.rows == [["toy", 7, 2, 4, 4, 1, 2, "2/2/3/0"]]
