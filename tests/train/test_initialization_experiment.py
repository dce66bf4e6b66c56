"""hidden_unit_spread and the symmetric-weights experiment: the headline claims hold."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import train
from nndl_jax.experiments import Context
from nndl_jax.experiments.initialization import distinct_units, initialization


def test_spread_closed_form():
    # hidden layer 1: units (1, 3 | 0) and (2, 3 | 0.5): rows differ by 1, 0 and 0.5
    # hidden layer 2: units (1, -1 | 2) and (4, -1 | 2): rows differ by 3, 0, 0
    params = [
        {"w": jnp.array([[1.0, 2.0], [3.0, 3.0]]), "b": jnp.array([0.0, 0.5])},
        {"w": jnp.array([[1.0, 4.0], [-1.0, -1.0]]), "b": jnp.array([2.0, 2.0])},
        {"w": jnp.array([[5.0], [-7.0]]), "b": jnp.array([9.0])},  # output: excluded
    ]
    np.testing.assert_allclose(train.hidden_unit_spread(params, per_layer=True), [1.0, 3.0], atol=0)
    assert float(train.hidden_unit_spread(params)) == 3.0


def test_spread_of_initializations():
    key = jax.random.key(0)
    for init in ("zeros", "constant"):
        assert float(train.hidden_unit_spread(train.mlp_init(key, [8, 6, 6, 3], init))) == 0.0
    assert float(train.hidden_unit_spread(train.mlp_init(key, [8, 6, 6, 3], "he"))) > 0.1
    with pytest.raises(ValueError, match=r"hidden layer.*\(8, 3\)"):
        train.hidden_unit_spread(train.mlp_init(key, [8, 3]))


def test_distinct_units():
    w = np.array([[1.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    assert distinct_units(w, np.zeros(3)) == 2
    assert distinct_units(w, np.array([0.0, 1.0, 0.0])) == 3
    assert distinct_units(np.zeros((4, 5)), np.zeros(5)) == 1


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    return initialization(Context(tmp_path_factory.mktemp("tour"), quick=True, seed=0))


def test_zero_init_never_breaks_symmetry(section):
    m = section.metrics
    for activation in ("relu", "tanh"):
        assert m[f"{activation}/zeros/spread"] <= 1e-7
        # nothing below the output bias moves: every hidden gradient is exactly zero
        assert m[f"{activation}/zeros/hidden_change"] == 0.0
        # the output bias can only learn the class priors: a trivial classifier
        assert m[f"{activation}/zeros/test_accuracy"] <= 0.2
        assert m[f"{activation}/zeros/test_accuracy"] <= m["majority_class_accuracy"] + 0.05


def test_constant_init_moves_but_stays_symmetric(section):
    m = section.metrics
    for activation in ("relu", "tanh"):
        assert m[f"{activation}/constant 0.05/hidden_change"] > 0.01
        assert m[f"{activation}/constant 0.05/spread"] <= 1e-6
        assert m[f"{activation}/constant 0.05/test_accuracy"] < 0.5


def test_random_init_breaks_symmetry_and_learns(section):
    m = section.metrics
    for activation in ("relu", "tanh"):
        for init in ("xavier", "he"):
            assert m[f"{activation}/{init}/spread"] > 0.1
            assert m[f"{activation}/{init}/test_accuracy"] > 0.9


def test_section_has_table_figures_and_text(section):
    assert not section.error
    (table,) = section.tables
    assert len(table.rows) == 10 and "hidden-unit spread" in table.header
    assert len(section.figures) == 2 and all(p.stat().st_size > 0 for p in section.figures)
    assert "对称权重现象" in section.text and "{" not in section.text
