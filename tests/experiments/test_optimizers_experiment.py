"""The optimizers tour section: SGD trajectories in closed form, the section and its table.

The verification table of the section runs the ``optim.*`` checks of the registry, whose twin
family alone takes longer than a test should; ``tests/verify`` runs them all. Here the registry
is replaced by two cheap real schedule checks and two stand-ins (a digits check, which quick
mode leaves out, and a failing check, which the count must see).
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from nndl_jax import optim, verify
from nndl_jax.experiments import Context, optimizers as tour

REAL = ["optim.schedules.constant", "optim.schedules.inverse_time_decay"]


def _bowl_closed_form(alpha, start, steps):
    """Gradient descent on 0.1 x² + 2 y²: x_t = (1 - 0.2α)^t x_0, y_t = (1 - 4α)^t y_0."""
    t = np.arange(steps + 1)
    return np.stack([(1 - 0.2 * alpha) ** t * start[0], (1 - 4 * alpha) ** t * start[1]], -1)


@pytest.mark.parametrize("alpha", [0.1, 0.4])
def test_sgd_trajectory_on_the_bowl_is_the_closed_form(alpha):
    start = (-5.0, -2.0)
    path = tour.trajectory(optim.sgd(alpha), tour._bowl, jnp.asarray(start), tour.STEPS)
    assert path.shape == (tour.STEPS + 1, 2)
    np.testing.assert_allclose(path, _bowl_closed_form(alpha, start, tour.STEPS), rtol=0, atol=1e-5)


def test_the_tours_sgd_paths_are_the_closed_forms():
    """The paths the section plots: SGD α = 0.4 on the bowl and on the saddle x² - y², where
    x_t = (1 - 2α)^t x_0 and y_t = (1 + 2α)^t y_0 grows until it escapes."""
    entry = tour.default_optimizers()["sgd"]
    alpha = 0.4
    assert entry.label == f"SGD α={alpha}"
    paths = tour.trajectories({"sgd": entry})
    bowl, saddle = tour.SURFACES
    np.testing.assert_allclose(
        paths["bowl"]["sgd"], _bowl_closed_form(alpha, bowl.start, tour.STEPS), rtol=0, atol=1e-5
    )
    t = np.arange(tour.STEPS + 1)
    x0, y0 = saddle.start
    expected = np.stack([(1 - 2 * alpha) ** t * x0, (1 + 2 * alpha) ** t * y0], -1)
    # y grows to 1.8^40 y_0 ≈ 1.6e8: relative accuracy of 40 float32 roundings
    np.testing.assert_allclose(paths["saddle"]["sgd"], expected, rtol=1e-5, atol=1e-6)
    # |y_t| = 0.01 · 1.8^t first exceeds 1 at t = ⌈ln 100 / ln 1.8⌉ = 8
    want = math.ceil(math.log(tour.ESCAPE / y0) / math.log(1 + 2 * alpha))
    assert tour.escape_step(paths["saddle"]["sgd"]) == want == 8
    assert tour.escape_step(expected[:want]) is None  # never beyond the threshold


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    real = [c for c in verify.checks("optim.schedules.*") if c.name in REAL]
    assert [c.name for c in real] == REAL
    stand_ins = [
        verify.Check("optim.stand_in.digits", "nothing", lambda: 0.0, 1.0, 1.0, "reference"),
        verify.Check("optim.stand_in.failing", "nothing", lambda: 2.0, 1.0, 1.0, "reference"),
    ]
    asked = []

    def checks(pattern=None):
        asked.append(pattern)
        return real + stand_ins

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(verify, "checks", checks)
        ctx = Context(tmp_path_factory.mktemp("tour"), quick=True, seed=0)
        result = tour.optimizers_section(ctx)
    assert asked == ["optim.*"]
    return result


def test_section_has_the_figure_the_summary_and_the_verification_table(section):
    assert len(section.figures) == 1
    assert section.figures[0].name == "optimizer_trajectories.png"
    assert section.figures[0].stat().st_size > 0
    summary, table = section.tables
    names = list(tour.default_optimizers())
    assert [row[0] for row in summary.rows] == names
    assert all(len(row) == len(summary.header) for row in summary.rows)
    assert table.header == ["component", "reference", "max abs error", "tolerance", "pass"]
    # quick mode leaves the digits check out; the failing one is counted as failing
    assert [row[0] for row in table.rows] == [*REAL, "optim.stand_in.failing"]
    assert [row[-1] for row in table.rows] == ["ok", "ok", "FAIL"]
    assert section.metrics["checks_passed"] == 2 and section.metrics["checks_total"] == 3
    assert "2 of 3 checks pass" in section.text and "Quick mode omits" in section.text
    assert "{" not in section.text


def test_section_metrics_follow_the_closed_form(section):
    alpha, steps = 0.4, tour.STEPS
    bowl, _ = tour.SURFACES
    x, y = (1 - 0.2 * alpha) ** steps * bowl.start[0], (1 - 4 * alpha) ** steps * bowl.start[1]
    final = section.metrics["bowl_final_f"]
    np.testing.assert_allclose(final["sgd"], 0.1 * x**2 + 2 * y**2, rtol=1e-4)
    assert section.metrics["saddle_escape_step"]["sgd"] == 8
    assert set(final) == set(tour.default_optimizers())
    assert all(math.isfinite(v) and v >= 0 for v in final.values())
    # the adaptive methods escape the saddle sooner than plain SGD
    escapes = section.metrics["saddle_escape_step"]
    assert escapes["adam"] is not None and escapes["adam"] < escapes["sgd"]
