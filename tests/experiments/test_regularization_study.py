"""The regularization study: its section, the subset, and claims that hold on any seed."""

import math

import numpy as np
import pytest

from nndl_jax import data
from nndl_jax.experiments import Context, regularization as study

EPOCHS = 80


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    ctx = Context(tmp_path_factory.mktemp("tour"), quick=True, seed=0)
    return study.regularization_section(
        ctx, methods=["none", "l2", "early_stopping"], epochs=EPOCHS
    )


def test_training_subset_is_stratified():
    ds = data.load("digits", seed=0)
    subset = study.training_subset(ds.train, 200, seed=3)
    assert subset.x.shape == (200, 64)
    np.testing.assert_array_equal(np.bincount(np.asarray(subset.y), minlength=10), 20)
    # rows are rows of the split, not copies of one another
    assert np.unique(np.asarray(subset.x), axis=0).shape[0] == 200
    with pytest.raises(ValueError, match="size must be an integer"):
        study.training_subset(ds.train, 0)


def test_section_has_table_figure_and_sane_metrics(section):
    (table,) = section.tables
    assert [row[0] for row in table.rows] == ["none", "L2 penalty", "early stopping"]
    assert all(len(row) == len(table.header) for row in table.rows)
    assert len(section.figures) == 1 and section.figures[0].stat().st_size > 0
    assert "{" not in section.text
    for name in ("none", "l2", "early_stopping"):
        for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
            value = section.metrics[f"{name}/{key}"]
            assert math.isfinite(value) and 0.0 <= value <= 1.0
        # without patience every epoch runs; patience 20 stops after at least 21 epochs
        expected = (21, EPOCHS) if name == "early_stopping" else (EPOCHS, EPOCHS)
        assert expected[0] <= section.metrics[f"{name}/epochs_run"] <= expected[1]
    assert 0 < section.metrics["binomial_standard_error"] < 0.05
    # one seed: every method is judged against the same binomial yardstick
    assert section.metrics["l2/delta_threshold"] == 2 * section.metrics["binomial_standard_error"]


def test_unregularized_network_memorizes_the_subset(section):
    m = section.metrics
    assert m["none/train_accuracy"] >= 0.99
    assert m["none/gap"] > 0.02  # 200 samples: the test set is clearly harder
    assert m["none/epochs_run"] == EPOCHS  # no early stopping without patience


def test_penalty_shrinks_weights_and_early_stopping_stops(section):
    m = section.metrics
    assert m["l2/weight_norm"] < 0.8 * m["none/weight_norm"]
    # the validation error stops improving long before 80 epochs on 200 samples
    assert m["early_stopping/epochs_run"] < EPOCHS


def test_bad_method_names():
    ctx = Context(None, quick=True)
    with pytest.raises(ValueError, match="must include the baseline"):
        study.regularization_section(ctx, methods=["l2"])
    with pytest.raises(ValueError, match="unknown regularization method 'l3'.*weight_decay"):
        study.run_regularization_study(["none", "l3"])
