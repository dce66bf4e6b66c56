"""Tour section: every activation function and its derivative on [-5, 5] (book, section 4.1)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.experiments._registry import Context, Section, Table, experiment
from nndl_jax.nn import activations as act

_TEXT = """\
Each panel shows an activation f (solid) and its analytic derivative f' (dashed), the factor by
which backpropagation multiplies a gradient as it passes the unit. The derivatives are the
hand-written ones manual backpropagation uses; `nndl-jax verify` checks each against jax.grad.

Saturation. The logistic sigmoid's derivative is at most 1/4 (at 0), and tanh's at most 1; both
fall towards 0 as |x| grows (sigmoid'(5) is below 0.007). A gradient that passes many saturated
units is multiplied by many such factors: even in the best case ten sigmoid layers shrink it by
0.25^10, about 1e-6 — the vanishing-gradient problem of deep sigmoid networks. Their hard,
piecewise-linear versions have the same flat regions, with derivative exactly 0 there.

The ReLU family. ReLU's derivative is exactly 1 for x > 0, so gradients pass positive units
unchanged; but for x < 0 it is 0, and a unit whose input stays negative for every sample never
updates again (a "dead" ReLU). Leaky ReLU and PReLU keep a small slope for x < 0 (fixed or
learned), ELU saturates smoothly at -alpha, which pushes mean activations towards zero.

Smooth variants. Softplus log(1 + e^x) is a smooth ReLU whose derivative is the sigmoid. Swish
x·sigmoid(beta·x) and GELU x·Phi(x) are smooth and non-monotonic: slightly negative for small
negative x, with derivatives that dip below 0 and overshoot 1. GELU's tanh approximation is
indistinguishable at this scale. A maxout unit takes the maximum of several affine functions of
its input: here max(-x - 1, x/4, x - 2), a convex piecewise-linear function whose derivative is
the slope of the winning piece."""

_X_RANGE = 5.0


def _maxout_pieces(x):
    """Three affine pieces of a scalar input, stacked so maxout takes one unit from them."""
    return jnp.stack([-x - 1.0, 0.25 * x, x - 2.0], axis=-1)


def _maxout_unit(x):
    return act.maxout(_maxout_pieces(x), 3)[..., 0]


def _maxout_unit_grad(x):
    # chain rule: dy/dx = sum_j (dy/dpiece_j) (dpiece_j/dx), with maxout's VJP for dy/dpiece
    routed = act.maxout_grad(_maxout_pieces(x), jnp.ones(x.shape + (1,), x.dtype), 3)
    return routed @ jnp.array([-1.0, 0.25, 1.0], x.dtype)


def _panels():
    """(title, [(label, f, f')])"""
    p = functools.partial
    return [
        ("sigmoid", [("", act.sigmoid, act.sigmoid_grad)]),
        ("tanh", [("", act.tanh, act.tanh_grad)]),
        ("hard sigmoid (slope 1/4)", [("", act.hard_sigmoid, act.hard_sigmoid_grad)]),
        ("hard tanh", [("", act.hard_tanh, act.hard_tanh_grad)]),
        ("ReLU", [("", act.relu, act.relu_grad)]),
        (
            "leaky ReLU (slope 0.1)",
            [
                (
                    "",
                    p(act.leaky_relu, negative_slope=0.1),
                    p(act.leaky_relu_grad, negative_slope=0.1),
                )
            ],
        ),
        (
            "PReLU (alpha = 0.25)",
            [("", p(act.prelu, alpha=0.25), p(act.prelu_grad, alpha=0.25))],
        ),
        ("ELU (alpha = 1)", [("", act.elu, act.elu_grad)]),
        ("softplus", [("", act.softplus, act.softplus_grad)]),
        (
            "swish",
            [
                ("beta=1", act.swish, act.swish_grad),
                ("beta=4", p(act.swish, beta=4.0), p(act.swish_grad, beta=4.0)),
            ],
        ),
        (
            "GELU",
            [
                ("exact", act.gelu, act.gelu_grad),
                ("tanh", p(act.gelu, approximate=True), p(act.gelu_grad, approximate=True)),
            ],
        ),
        ("maxout of 3 pieces", [("", _maxout_unit, _maxout_unit_grad)]),
    ]


def _curves(x, panels):
    """For every curve: f(x), the analytic f'(x) and jax.grad's f'(x), as numpy arrays.

    All of them in one compiled program: compiling each small function apart would take most
    of this section's time.
    """

    def compute(x):
        return [
            [(f(x), f_grad(x), jax.vmap(jax.grad(f))(x)) for _, f, f_grad in curves]
            for _, curves in panels
        ]

    return jax.tree_util.tree_map(np.asarray, jax.jit(compute)(x))


def _figure(x, panels, curves):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 4, figsize=(13, 8.5), sharex=True)
    colors = ["C0", "C3"]
    for ax, (title, specs), values in zip(axes.ravel(), panels, curves, strict=True):
        for (label, _, _), (f, f_grad, _), color in zip(specs, values, colors, strict=False):
            suffix = f" ({label})" if label else ""
            ax.plot(x, f, color=color, lw=1.8, label=f"f{suffix}")
            ax.plot(x, f_grad, color=color, lw=1.3, ls="--", label=f"f'{suffix}")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.axvline(0, color="0.7", lw=0.6)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(-1.6, 3.1)
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("x")
    fig.suptitle("Activation functions (solid) and their derivatives (dashed)")
    fig.tight_layout()
    return fig


def _derivative_table(x, panels, curves) -> tuple[Table, dict]:
    at = {v: int(np.flatnonzero(x == v)[0]) for v in (-_X_RANGE, 0.0, _X_RANGE)}
    rows, gap = [], 0.0
    for (title, specs), values in zip(panels, curves, strict=True):
        for (label, _, _), (_, d, d_auto) in zip(specs, values, strict=True):
            name = f"{title} {label}".strip()
            zero_fraction = float(np.mean(np.abs(d) < 1e-3))
            row = [name, float(d[at[0.0]]), float(d.max())]
            rows.append(row + [float(d[at[-_X_RANGE]]), float(d[at[_X_RANGE]]), zero_fraction])
            gap = max(gap, float(np.max(np.abs(d - d_auto))))
    caption = (
        "Derivatives on [-5, 5]: where gradients pass (f' near 1) and where they vanish "
        "(last column: share of the interval where |f'| < 0.001)"
    )
    header = ["activation", "f'(0)", "max f'", "f'(-5)", "f'(5)", "|f'| < 1e-3"]
    by_name = {row[0]: row for row in rows}
    metrics = {
        "sigmoid_max_derivative": by_name["sigmoid"][2],
        "sigmoid_best_case_gain_10_layers": by_name["sigmoid"][2] ** 10,
        "tanh_derivative_at_5": by_name["tanh"][4],
        "relu_zero_gradient_fraction": by_name["ReLU"][5],
        # the hand-written derivatives against automatic differentiation, over every curve
        "max_abs_gap_analytic_vs_jax_grad": gap,
    }
    return Table(caption, header, rows), metrics


@experiment("activations", "Activation functions and their derivatives", order=20)
def activations(ctx: Context) -> Section:
    # dyadic points: exact in float32, with the kinks (0, +-1, +-2) and +-5 on the grid
    x = jnp.asarray(np.arange(-640, 641) / 128.0, jnp.float32)
    panels = _panels()
    curves = _curves(x, panels)
    x = np.asarray(x)
    table, metrics = _derivative_table(x, panels, curves)
    figure = ctx.savefig(_figure(x, panels, curves), "activations")
    return Section(
        "Activation functions and their derivatives",
        _TEXT,
        figures=[figure],
        tables=[table],
        metrics=metrics,
    )
