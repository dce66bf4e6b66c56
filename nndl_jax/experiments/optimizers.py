"""Tour section "optimizers": 2-D trajectories of every optimizer and their verification table.

Two surfaces show what the update rules do differently:

* an ill-conditioned bowl :math:`f(x, y) = 0.1 x^2 + 2 y^2`, whose curvature is 20 times larger
  along :math:`y` than along :math:`x`. A learning rate large enough to make progress along
  :math:`x` makes plain SGD overshoot along :math:`y`; momentum averages the oscillation away
  and accumulates the consistent :math:`x` direction; the adaptive methods (AdaGrad, RMSProp,
  AdaDelta, Adam and its variants) divide each coordinate by its own gradient scale, so both
  directions move at comparable speed.
* a saddle :math:`f(x, y) = x^2 - y^2`, started almost on its stable manifold
  (:math:`y_0 = 0.01`). The gradient along :math:`y` starts tiny, so methods whose step is
  proportional to the gradient creep away from the saddle geometrically, while per-coordinate
  normalisation turns the tiny gradient into a full-sized step and escapes at once.

Every optimizer runs with one set of hyperparameters on both surfaces (listed in the legend),
all in one compiled program. The verification table is ``nndl_jax.verify.run_checks("optim.*")``:
each optimizer, transform and schedule beside its optax twin (quick mode skips the one-epoch
digits runs, which repeat the twin checks on a real model).

``examples/optimizer_trajectories.py`` runs the same code from the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.experiments._registry import Context, Section, Table, experiment

#: Steps per trajectory.
STEPS = 40
#: ``|y|`` beyond which a saddle trajectory counts as escaped.
ESCAPE = 1.0


@dataclass(frozen=True)
class Surface:
    """A 2-D objective, the starting point and the window the plot shows."""

    name: str
    formula: str
    fn: Callable[[jax.Array], jax.Array]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def _bowl(p: jax.Array) -> jax.Array:
    return 0.1 * p[0] ** 2 + 2.0 * p[1] ** 2


def _saddle(p: jax.Array) -> jax.Array:
    return p[0] ** 2 - p[1] ** 2


SURFACES = (
    Surface("bowl", "f(x, y) = 0.1 x² + 2 y²", _bowl, (-5.0, -2.0), (-5.5, 2.0), (-2.5, 2.5)),
    Surface("saddle", "f(x, y) = x² − y²", _saddle, (-1.5, 0.01), (-2.0, 2.0), (-2.0, 2.0)),
)


@dataclass(frozen=True)
class Entry:
    """An optimizer of the tour: its legend label, family (plot panel) and transform."""

    label: str
    family: str
    transform: Any


def default_optimizers() -> dict[str, Entry]:
    """Every optimizer of ``nndl_jax.optim``, with rates chosen to show its character in 2-D."""
    from nndl_jax import optim

    sgd_family, adaptive = "SGD and momentum", "adaptive learning rates"
    return {
        "sgd": Entry("SGD α=0.4", sgd_family, optim.sgd(0.4)),
        "momentum": Entry("momentum α=0.4 β=0.5", sgd_family, optim.momentum(0.4, 0.5)),
        "nesterov": Entry("Nesterov α=0.4 β=0.5", sgd_family, optim.nesterov(0.4, 0.5)),
        "adagrad": Entry("AdaGrad α=1.5", adaptive, optim.adagrad(1.5)),
        "rmsprop": Entry("RMSProp α=0.3 ρ=0.9", adaptive, optim.rmsprop(0.3, decay=0.9)),
        "adadelta": Entry("AdaDelta ρ=0.9 ε=1e-2", adaptive, optim.adadelta(1.0, 0.9, eps=1e-2)),
        "adam": Entry("Adam α=0.5", adaptive, optim.adam(0.5)),
        "adamw": Entry("AdamW α=0.5 λ=0.1", adaptive, optim.adamw(0.5, weight_decay=0.1)),
        "nadam": Entry("NAdam α=0.5", adaptive, optim.nadam(0.5)),
        "amsgrad": Entry("AMSGrad α=0.5", adaptive, optim.amsgrad(0.5)),
    }


def trajectory(transform: Any, fn: Callable, start: jax.Array, steps: int) -> jax.Array:
    """The iterates of ``transform`` minimising ``fn`` from ``start``.

    Args:
      transform: a ``GradientTransformation``.
      fn: the objective, ``(2,) -> ()``.
      start: the first point, shape ``(2,)``.
      steps: number of updates.

    Returns:
      The points visited, shape ``(steps + 1, 2)``, ``start`` first.
    """
    from nndl_jax.optim import apply_updates

    def body(carry, _):
        p, state = carry
        updates, state = transform.update(jax.grad(fn)(p), state, p)
        p = apply_updates(p, updates)
        return (p, state), p

    _, path = jax.lax.scan(body, (start, transform.init(start)), None, length=steps)
    return jnp.concatenate([start[None], path])


def trajectories(
    optimizers: dict[str, Entry],
    surfaces: tuple[Surface, ...] = SURFACES,
    steps: int = STEPS,
) -> dict[str, dict[str, np.ndarray]]:
    """``{surface: {optimizer: path (steps + 1, 2)}}``, all computed in one ``jit``."""

    @jax.jit
    def run():
        return {
            s.name: {
                name: trajectory(e.transform, s.fn, jnp.asarray(s.start, jnp.float32), steps)
                for name, e in optimizers.items()
            }
            for s in surfaces
        }

    return jax.tree_util.tree_map(np.asarray, run())


def escape_step(path: np.ndarray, threshold: float = ESCAPE) -> int | None:
    """The first step at which ``|y|`` exceeds ``threshold``, or None if it never does."""
    beyond = np.flatnonzero(np.abs(path[:, 1]) > threshold)
    return int(beyond[0]) if beyond.size else None


def plot_trajectories(
    paths: dict[str, dict[str, np.ndarray]],
    optimizers: dict[str, Entry],
    surfaces: tuple[Surface, ...] = SURFACES,
):
    """One row per surface, one column per family: contours of f and each optimizer's path."""
    import matplotlib.pyplot as plt

    families = list(dict.fromkeys(e.family for e in optimizers.values()))
    rows, cols = len(surfaces), len(families)
    fig, axes = plt.subplots(rows, cols, figsize=(6.0 * cols, 4.6 * rows), squeeze=False)
    colors = plt.get_cmap("tab10")
    for row, s in enumerate(surfaces):
        xs, ys = np.linspace(*s.xlim, 200), np.linspace(*s.ylim, 200)
        gx, gy = np.meshgrid(xs, ys)
        values = np.asarray(jax.vmap(jax.vmap(s.fn))(jnp.stack([gx, gy], axis=-1)))
        for col, family in enumerate(families):
            ax = axes[row, col]
            ax.contour(gx, gy, values, levels=20, cmap="Greys", linewidths=0.6)
            for i, (name, e) in enumerate(optimizers.items()):
                if e.family != family:
                    continue
                path = paths[s.name][name]
                ax.plot(
                    path[:, 0], path[:, 1], "o-", ms=2.5, lw=1.2, color=colors(i), label=e.label
                )
            ax.plot(*s.start, "k*", ms=10)
            ax.plot(0.0, 0.0, "k+", ms=10)  # the minimum of the bowl, the saddle point
            ax.set_xlim(*s.xlim)
            ax.set_ylim(*s.ylim)
            ax.set_title(f"{s.formula} — {family}", fontsize=10)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def verification_table(*, quick: bool) -> tuple[Table, int, int]:
    """The optim checks of the verification registry as a table; also (passed, total)."""
    from nndl_jax import verify

    selected = [c for c in verify.checks("optim.*") if not (quick and c.name.endswith(".digits"))]
    results = [verify.run_one(c) for c in selected]
    rows = [
        [r.check.name, r.check.reference, r.error, r.tolerance, "ok" if r.passed else "FAIL"]
        for r in results
    ]
    dtype = "float64" if verify.x64_enabled() else "float32"
    table = Table(
        f"Optimizers, transforms and schedules against their references ({dtype})",
        ["component", "reference", "max abs error", "tolerance", "pass"],
        rows,
    )
    return table, sum(r.passed for r in results), len(results)


def _escapes_of(escapes: dict[str, int | None], optimizers: dict[str, Entry], family: int):
    """``[(name, escape step or None)]`` of the ``family``-th family, in table order."""
    families = list(dict.fromkeys(e.family for e in optimizers.values()))
    return [(n, escapes[n]) for n, e in optimizers.items() if e.family == families[family]]


def _listed(pairs) -> str:
    return ", ".join(f"{n} {'never' if k is None else k}" for n, k in pairs)


def _saddle_sentence(escapes, optimizers) -> str:
    """The saddle's result in words, from this run's escape steps (not from the family names)."""
    proportional = _escapes_of(escapes, optimizers, 0)
    adaptive = _escapes_of(escapes, optimizers, 1)
    never = STEPS + 1
    slowest_adaptive = max((never if k is None else k) for _, k in adaptive)
    fastest_proportional = min((never if k is None else k) for _, k in proportional)
    if slowest_adaptive < fastest_proportional:
        comparison = "every adaptive method escapes sooner than every gradient-proportional one"
    else:
        comparison = "the adaptive methods do not all escape sooner"
    return (
        f"steps proportional to the gradient grow only geometrically (first step with |y| > "
        f"{ESCAPE}: {_listed(proportional)}), while normalising each coordinate by its own "
        f"gradient size makes the step independent of the gradient's scale "
        f"({_listed(adaptive)}): {comparison}"
    )


@experiment(
    "optimizers", "Optimizers: trajectories in 2-D and verification against optax", order=30
)
def optimizers_section(ctx: Context) -> Section:
    optimizers = default_optimizers()
    paths = trajectories(optimizers)
    figure = ctx.savefig(plot_trajectories(paths, optimizers), "optimizer_trajectories")
    bowl, saddle = SURFACES
    final = {n: float(bowl.fn(jnp.asarray(p[-1]))) for n, p in paths[bowl.name].items()}
    escapes = {n: escape_step(p) for n, p in paths[saddle.name].items()}
    summary = Table(
        f"After {STEPS} steps: f on the bowl (minimum 0) and the first step with |y| > {ESCAPE} "
        "on the saddle",
        ["optimizer", "hyperparameters", "bowl: final f", "saddle: escape step"],
        [
            [n, optimizers[n].label, final[n], "-" if escapes[n] is None else escapes[n]]
            for n in optimizers
        ],
    )
    checks, passed, total = verification_table(quick=ctx.quick)
    quick_note = " Quick mode omits the one-epoch digits runs; the full tour has them." * ctx.quick
    text = (
        f"Each optimizer of nndl_jax.optim takes {STEPS} steps from the star on two surfaces: "
        f"the ill-conditioned bowl {bowl.formula} (curvature 20 times larger along y) and the "
        f"saddle {saddle.formula}, started at y = {saddle.start[1]}, just off the line y = 0 "
        "along which it attracts. On the bowl, plain SGD overshoots along the steep y direction "
        "while crawling along x; momentum averages the oscillation away; the adaptive methods "
        "rescale each coordinate by its own gradient size. On the saddle the y gradient starts "
        f"tiny: {_saddle_sentence(escapes, optimizers)}."
        "\n\n"
        f"Verification: {passed} of {total} checks pass. A twin check runs our optimizer beside "
        "its optax twin for 100 steps of random gradients on a mixed pytree and compares the "
        "parameters after every step and the final state; a schedule check compares the rates."
        f"{quick_note}"
    )
    return Section(
        "Optimizers: trajectories in 2-D and verification against optax",
        text,
        figures=[figure],
        tables=[summary, checks],
        metrics={
            "bowl_final_f": final,
            "saddle_escape_step": escapes,
            "checks_passed": passed,
            "checks_total": total,
        },
    )
