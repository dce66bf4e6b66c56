"""Optimizers and transforms beside their optax twins, step by step.

Twin checks (``compare_with_optax``): 100 updates with fresh random gradients on a mixed pytree
(nested dict / list / tuple; leaf shapes ``()``, ``(7,)``, ``(3, 5)``, ``(2, 3, 4)``), ours and
optax's each in one ``lax.scan``, comparing the parameters after *every* step and the final
state fields (moments, traces, counts), mapped field by field where the layouts differ.
Digits checks: softmax regression on the standardized digits data, one epoch of 64-example
minibatches, ours beside optax, parameters compared after every step.

The error statistic is ``max |ours - optax| · atol / (atol + rtol |optax|)`` over all compared
numbers: it is at most ``atol`` exactly when ``|ours - optax| <= atol + rtol |optax|``
(``np.allclose``). In float32 ``rtol = 1e-5, atol = 1e-6``; under x64 both are ``1e-12``. The
registered tolerance is that ``atol``.

Where optax's defaults differ from ours, the twin is configured to compute our rule and the
reference column says how (``optax.rmsprop(eps_in_sqrt=False)``,
``optax.adagrad(initial_accumulator_value=0)``, ``optax.sgd(α(1-β), momentum=β)`` for the
notes' momentum).

Speed: compiling dominates, so all twin runs of one family are compiled together, in one
``jit``, the first time any of its checks runs in a given precision; the other checks of the
family then read their error from that run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax import verify
from nndl_jax.verify._registry import x64_enabled

STEPS = 100
TOL, TOL_X64 = 1e-6, 1e-12

StateMap = Callable[[Any, Any], tuple[Any, Any]]


def tolerances() -> tuple[float, float]:
    """``(rtol, atol)`` of the twin comparisons in the current precision."""
    return (TOL_X64, TOL_X64) if x64_enabled() else (1e-5, TOL)


def close_error(ours: Any, theirs: Any) -> float:
    """``max |a - b| · atol / (atol + rtol |b|)`` over two trees (NaN anywhere -> NaN).

    At most ``atol`` exactly when every pair satisfies ``|a - b| <= atol + rtol |b|``.
    """
    rtol, atol = tolerances()
    leaves_a, tree_a = jax.tree.flatten(ours)
    leaves_b, tree_b = jax.tree.flatten(theirs)
    if tree_a != tree_b:
        raise ValueError(f"structures differ: {tree_a} vs {tree_b}")
    worst = 0.0
    for a, b in zip(leaves_a, leaves_b, strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
        if a.size == 0:
            continue
        if np.isnan(a).any() or np.isnan(b).any():
            return float("nan")
        with np.errstate(invalid="ignore"):  # inf - inf; equal infinities are agreement
            diff = np.where(a == b, 0.0, np.abs(a - b))
            worst = max(worst, float(np.max(diff * atol / (atol + rtol * np.abs(b)))))
    return worst


def mixed_params(dtype: Any = None) -> dict:
    """The test tree: nested dict, list, tuple; leaf shapes (), (7,), (3, 5), (2, 3, 4)."""
    dtype = dtype or verify.float_dtype()
    rng = np.random.default_rng(0)

    def leaf(*shape):
        return jnp.asarray(rng.normal(size=shape), dtype)

    return {
        "dense": {"w": leaf(3, 5), "b": leaf(7)},
        "blocks": [leaf(2, 3, 4), {"gain": leaf()}],
        "pair": (leaf(7), leaf()),
    }


def random_grads(params: Any, steps: int = STEPS, seed: int = 1) -> Any:
    """``steps`` fresh normal gradients per leaf (stacked on axis 0), leaf ``i`` scaled 10^-(i%4).

    The scales (1, 0.1, 0.01, 0.001) give the adaptive methods different per-coordinate rates.
    They stay at most 1 so that ``atol = 1e-6`` is above float32's rounding of the values.
    """
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree.flatten(params)
    grads = [
        jnp.asarray(rng.normal(size=(steps, *np.shape(p))) * 10.0 ** -(i % 4), p.dtype)
        for i, p in enumerate(leaves)
    ]
    return treedef.unflatten(grads)


@dataclass(frozen=True)
class Twin:
    """One comparison: our transform, the optax twin computing the same rule, what to compare.

    Attributes:
      ours: our ``GradientTransformation``.
      theirs: the optax twin.
      state_map: ``(our_final_state, their_final_state) -> (a, b)``, two trees of one
        structure holding the state fields to compare, mapped explicitly.
      params: initial params (``mixed_params()`` when None).
      grads: per-step gradients stacked on axis 0 (``random_grads(params)`` when None).
    """

    ours: Any
    theirs: Any
    state_map: StateMap
    params: Any = None
    grads: Any = None


def _trajectory(opt, apply_updates, params, grads):
    def step(carry, g):
        p, s = carry
        u, s = opt.update(g, s, p)
        p = apply_updates(p, u)
        return (p, s), p

    (_, state), path = jax.lax.scan(step, (params, opt.init(params)), grads)
    return path, state


def compare_many(twins: dict[str, Twin]) -> dict[str, float]:
    """Run every twin (ours and optax's, each a ``lax.scan``) in one ``jit``; name -> error.

    The error of a twin is the largest ``close_error`` over the params after every step and
    the mapped final states.
    """
    import optax

    from nndl_jax import optim

    inputs = {}
    for name, twin in twins.items():
        params = mixed_params() if twin.params is None else twin.params
        grads = random_grads(params) if twin.grads is None else twin.grads
        inputs[name] = (params, grads)

    @jax.jit
    def run(inputs):
        return {
            name: (
                _trajectory(twins[name].ours, optim.apply_updates, *args),
                _trajectory(twins[name].theirs, optax.apply_updates, *args),
            )
            for name, args in inputs.items()
        }

    errors = {}
    for name, ((path_a, state_a), (path_b, state_b)) in run(inputs).items():
        fields_a, fields_b = twins[name].state_map(state_a, state_b)
        errors[name] = max(close_error(path_a, path_b), close_error(fields_a, fields_b))
    return errors


def compare_with_optax(
    ours,
    theirs,
    *,
    state_map: StateMap,
    steps: int = STEPS,
    params: Any = None,
    grads: Any = None,
) -> float:
    """Run ``ours`` beside its optax twin for ``steps`` updates; the largest ``close_error``.

    Args:
      ours: our ``GradientTransformation``.
      theirs: the optax twin, configured to compute the same rule.
      state_map: ``(our_final_state, their_final_state) -> (a, b)``, two trees of one
        structure holding the fields to compare (moments, traces, counts).
      steps: the number of updates, when ``grads`` is not given.
      params: the initial params (``mixed_params()`` by default).
      grads: per-step gradients stacked on axis 0 (``random_grads(params, steps)`` by default).

    Returns:
      The largest ``close_error`` over the params after every step and the mapped states.

    >>> import optax
    >>> from nndl_jax import optim
    >>> err = compare_with_optax(optim.adam(1e-2), optax.adam(1e-2),
    ...                          state_map=lambda a, b: (a[0].mu, b[0].mu), steps=10)
    """
    params = mixed_params() if params is None else params
    grads = random_grads(params, steps) if grads is None else grads
    return compare_many({"twin": Twin(ours, theirs, state_map, params, grads)})["twin"]


# ---------------------------------------------------------------- the registered twins

_TWINS: dict[str, Callable[[], Twin]] = {}


@functools.cache
def _twin_errors(x64: bool) -> dict[str, float]:
    del x64  # the cache key: inputs are built in the current precision
    return compare_many({name: build() for name, build in _TWINS.items()})


def twin(name: str, reference: str, tier: str = "reference"):
    """Register ``build() -> Twin`` as the check ``name``, run with all the others in one jit."""

    def register(build: Callable[[], Twin]) -> Callable[[], Twin]:
        _TWINS[name] = build

        def check() -> float:
            return _twin_errors(x64_enabled())[name]

        check.__qualname__ = f"twin:{name}"
        verify.check(name, reference=reference, tol=TOL, tol_x64=TOL_X64, tier=tier)(check)
        return build

    return register


def float_count(schedule: Callable) -> Callable:
    """``schedule`` called with the count as a float of the current precision.

    optax turns int32 counts into float32 even under x64, which would cap the comparison at
    float32 precision; our schedules compute in the default float dtype.
    """
    return lambda count: schedule(jnp.asarray(count, verify.float_dtype()))


def _fields(*names: str, link: int = 0) -> StateMap:
    """Compare the named fields of state ``link`` of both chains (same names in both)."""

    def mapping(a, b):
        return (
            tuple(getattr(a[link], n) for n in names),
            tuple(getattr(b[link], n) for n in names),
        )

    return mapping


def _no_state(a, b) -> tuple[Any, Any]:
    del a, b
    return (), ()


@twin("optim.sgd.twin", "optax.sgd")
def _sgd():
    import optax

    from nndl_jax import optim

    return Twin(optim.sgd(0.05), optax.sgd(0.05), _no_state)


@twin("optim.sgd.momentum.twin", "optax.sgd(momentum=β)")
def _sgd_momentum():
    import optax

    from nndl_jax import optim

    return Twin(optim.sgd(0.05, momentum=0.8), optax.sgd(0.05, momentum=0.8), _fields("trace"))


@twin("optim.sgd.nesterov.twin", "optax.sgd(momentum=β, nesterov=True)")
def _sgd_nesterov():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.sgd(0.05, momentum=0.8, nesterov=True),
        optax.sgd(0.05, momentum=0.8, nesterov=True),
        _fields("trace"),
    )


@twin("optim.sgd.schedule.twin", "optax.sgd(warmup_cosine_decay_schedule, momentum=β)")
def _sgd_schedule():
    import optax

    from nndl_jax import optim
    from nndl_jax.optim import schedules

    ours = schedules.warmup(schedules.cosine_decay(0.1, 70, alpha=0.1), 30, init_value=0.01)
    theirs = float_count(optax.warmup_cosine_decay_schedule(0.01, 0.1, 30, 100, end_value=0.01))

    def state_map(a, b):
        return (a[0].trace, a[1].count), (b[0].trace, b[1].count)

    return Twin(optim.sgd(ours, momentum=0.9), optax.sgd(theirs, momentum=0.9), state_map)


def _momentum_twin(nesterov: bool) -> Twin:
    import optax

    from nndl_jax import optim

    alpha, beta = 0.05, 0.8
    ours = optim.nesterov(alpha, beta) if nesterov else optim.momentum(alpha, beta)
    theirs = optax.sgd(alpha * (1 - beta), momentum=beta, nesterov=nesterov)

    def state_map(a, b):
        # our velocity is the moving average (1-β) Σ β^k g; optax's trace is Σ β^k g
        return a[0].velocity, jax.tree.map(lambda t: (1 - beta) * t, b[0].trace)

    return Twin(ours, theirs, state_map)


@twin("optim.momentum.twin", "optax.sgd(α(1-β), momentum=β)")
def _momentum():
    return _momentum_twin(nesterov=False)


@twin("optim.nesterov.twin", "optax.sgd(α(1-β), momentum=β, nesterov=True)")
def _nesterov():
    return _momentum_twin(nesterov=True)


@twin("optim.adagrad.twin", "optax.adagrad(initial_accumulator_value=0)")
def _adagrad():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.adagrad(0.1, eps=1e-6),
        optax.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-6),
        _fields("sum_of_squares"),
    )


@twin("optim.rmsprop.twin", "optax.rmsprop(eps_in_sqrt=False)")
def _rmsprop():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.rmsprop(0.01, decay=0.95, eps=1e-6),
        optax.rmsprop(0.01, decay=0.95, eps=1e-6, eps_in_sqrt=False),
        _fields("nu"),
    )


@twin("optim.rmsprop.eps_in_sqrt.twin", "optax.rmsprop(initial_scale=0.1)")
def _rmsprop_eps_in_sqrt():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.rmsprop(0.01, decay=0.9, eps=1e-4, eps_in_sqrt=True, initial_scale=0.1),
        optax.rmsprop(0.01, decay=0.9, eps=1e-4, eps_in_sqrt=True, initial_scale=0.1),
        _fields("nu"),
    )


@twin(
    "optim.rmsprop.centered_momentum.twin",
    "optax.rmsprop(eps_in_sqrt=False, centered=True, momentum=μ)",
)
def _rmsprop_centered_momentum():
    import optax

    from nndl_jax import optim

    alpha = 0.01

    def state_map(a, b):
        # optax scales by -α before its trace, so its trace is -α times our velocity
        ours = (a[0].nu, a[0].mu, jax.tree.map(lambda v: -alpha * v, a[1].trace))
        return ours, (b[0].nu, b[0].mu, b[2].trace)

    return Twin(
        optim.rmsprop(alpha, decay=0.9, eps=1e-6, centered=True, momentum=0.5),
        optax.rmsprop(alpha, decay=0.9, eps=1e-6, eps_in_sqrt=False, centered=True, momentum=0.5),
        state_map,
    )


@twin("optim.adadelta.twin", "optax.adadelta")
def _adadelta():
    import optax

    from nndl_jax import optim

    def state_map(a, b):
        # optax's chain starts with a (here empty) weight decay: its AdaDelta state is link 1
        return (a[0].avg_sq_grad, a[0].avg_sq_step), (b[1].e_g, b[1].e_x)

    return Twin(
        optim.adadelta(0.5, rho=0.9, eps=1e-6), optax.adadelta(0.5, rho=0.9, eps=1e-6), state_map
    )


@twin("optim.adam.twin", "optax.adam")
def _adam():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.adam(0.01, b1=0.8, b2=0.99, eps=1e-6),
        optax.adam(0.01, b1=0.8, b2=0.99, eps=1e-6),
        _fields("count", "mu", "nu"),
    )


@twin("optim.adam.schedule.twin", "optax.adam(exponential_decay(staircase=True), eps_root)")
def _adam_schedule():
    import optax

    from nndl_jax import optim
    from nndl_jax.optim import schedules

    def state_map(a, b):
        return (
            (a[0].count, a[0].mu, a[0].nu, a[1].count),
            (b[0].count, b[0].mu, b[0].nu, b[1].count),
        )

    return Twin(
        optim.adam(schedules.exponential_decay(0.02, 10, 0.8, staircase=True), eps_root=1e-8),
        optax.adam(
            float_count(optax.exponential_decay(0.02, 10, 0.8, staircase=True)), eps_root=1e-8
        ),
        state_map,
    )


@twin("optim.adamw.twin", "optax.adamw(mask=...)")
def _adamw():
    import optax

    from nndl_jax import optim

    def mask(params):
        # decay the matrices and tensors, not the vectors and scalars
        return jax.tree.map(lambda p: p.ndim >= 2, params)

    return Twin(
        optim.adamw(0.01, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.1, mask=mask),
        optax.adamw(0.01, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.1, mask=mask),
        _fields("count", "mu", "nu"),
    )


@twin("optim.nadam.twin", "optax.nadam")
def _nadam():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.nadam(0.01, b1=0.8, b2=0.99, eps=1e-6),
        optax.nadam(0.01, b1=0.8, b2=0.99, eps=1e-6),
        _fields("count", "mu", "nu"),
    )


@twin("optim.amsgrad.twin", "optax.amsgrad")
def _amsgrad():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.amsgrad(0.01, b1=0.8, b2=0.99, eps=1e-6),
        optax.amsgrad(0.01, b1=0.8, b2=0.99, eps=1e-6),
        _fields("count", "mu", "nu", "nu_max"),
    )


@twin("optim.clip_by_value.twin", "optax.chain(optax.clip, optax.sgd)")
def _clip_by_value():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.chain(optim.clip_by_value(0.5), optim.sgd(0.05)),
        optax.chain(optax.clip(0.5), optax.sgd(0.05)),
        _no_state,
    )


@twin("optim.clip_by_global_norm.twin", "optax.chain(optax.clip_by_global_norm, optax.adam)")
def _clip_by_global_norm():
    import optax

    from nndl_jax import optim

    def state_map(a, b):
        return (a[1][0].mu, a[1][0].nu), (b[1][0].mu, b[1][0].nu)

    # the gradients' global norm is about 5.6: most steps are clipped to 4, some are not
    return Twin(
        optim.chain(optim.clip_by_global_norm(4.0), optim.adam(0.01)),
        optax.chain(optax.clip_by_global_norm(4.0), optax.adam(0.01)),
        state_map,
    )


@twin("optim.clip_by_norm.twin", "optax.clip_by_global_norm on each leaf alone")
def _clip_by_norm():
    import optax

    from nndl_jax import optim

    def per_leaf_clip(max_norm):
        clip = optax.clip_by_global_norm(max_norm)

        def update(updates, state, params=None):
            del params
            return jax.tree.map(lambda u: clip.update(u, optax.EmptyState())[0], updates), state

        return optax.GradientTransformation(lambda params: optax.EmptyState(), update)

    # the (2,3,4) and (7,) leaves of scale 1 are clipped to norm 1.5, the small ones are not
    return Twin(
        optim.chain(optim.clip_by_norm(1.5), optim.sgd(0.05)),
        optax.chain(per_leaf_clip(1.5), optax.sgd(0.05)),
        _no_state,
    )


@twin("optim.skip_nonfinite.twin", "optax.apply_if_finite(optax.adam, max_consecutive_errors=∞)")
def _skip_nonfinite():
    import optax

    from nndl_jax import optim

    params = mixed_params()
    grads = random_grads(params)
    # a NaN in one leaf every 7th step, an -inf in another every 11th
    steps = np.arange(STEPS)
    w = grads["dense"]["w"]
    grads["dense"]["w"] = w.at[:, 1, 2].set(jnp.where(steps % 7 == 3, jnp.nan, w[:, 1, 2]))
    grads["pair"] = (grads["pair"][0], jnp.where(steps % 11 == 5, -jnp.inf, grads["pair"][1]))

    def state_map(a, b):
        inner_a, inner_b = a.inner_state[0], b.inner_state[0]
        return (
            (a.skipped, a.last_finite, inner_a.count, inner_a.mu, inner_a.nu),
            (b.total_notfinite, b.last_finite, inner_b.count, inner_b.mu, inner_b.nu),
        )

    return Twin(
        optim.skip_nonfinite(optim.adam(0.01)),
        optax.apply_if_finite(optax.adam(0.01), max_consecutive_errors=10**6),
        state_map,
        params,
        grads,
    )


@twin("optim.flatten.twin", "optax.flatten(optax.adam)")
def _flatten():
    import optax

    from nndl_jax import optim

    return Twin(
        optim.flatten(optim.adam(0.01, b1=0.8)),
        optax.flatten(optax.adam(0.01, b1=0.8)),
        _fields("count", "mu", "nu"),
    )


# ---------------------------------------------------------------- softmax regression on digits

DIGITS_REFERENCES = {
    "sgd": "optax.sgd(momentum=0.9)",
    "momentum": "optax.sgd(α(1-β), momentum=β)",
    "nesterov": "optax.sgd(α(1-β), momentum=β, nesterov=True)",
    "adagrad": "optax.adagrad(initial_accumulator_value=0)",
    "rmsprop": "optax.rmsprop(eps_in_sqrt=False)",
    "adadelta": "optax.adadelta",
    "adam": "optax.adam",
    "adamw": "optax.adamw",
    "nadam": "optax.nadam",
    "amsgrad": "optax.amsgrad",
}


def digits_pairs() -> dict[str, tuple[Any, Any]]:
    """name -> (our optimizer, its optax twin), with the digits run's hyperparameters."""
    import optax

    from nndl_jax import optim

    return {
        "sgd": (optim.sgd(0.1, momentum=0.9), optax.sgd(0.1, momentum=0.9)),
        "momentum": (optim.momentum(0.5, 0.9), optax.sgd(0.05, momentum=0.9)),
        "nesterov": (optim.nesterov(0.5, 0.9), optax.sgd(0.05, momentum=0.9, nesterov=True)),
        "adagrad": (optim.adagrad(0.1), optax.adagrad(0.1, initial_accumulator_value=0.0)),
        "rmsprop": (optim.rmsprop(0.01), optax.rmsprop(0.01, eps_in_sqrt=False)),
        "adadelta": (optim.adadelta(1.0), optax.adadelta(1.0)),
        "adam": (optim.adam(0.01), optax.adam(0.01)),
        "adamw": (optim.adamw(0.01, weight_decay=0.01), optax.adamw(0.01, weight_decay=0.01)),
        "nadam": (optim.nadam(0.01), optax.nadam(0.01)),
        "amsgrad": (optim.amsgrad(0.01), optax.amsgrad(0.01)),
    }


def digits_minibatches(dtype: Any, batch: int = 64) -> tuple[jax.Array, jax.Array]:
    """Standardized digits: inputs ``(n_batches, batch, 64)``, labels ``(n_batches, batch)``."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)  # constant pixels stay 0
    n = len(x) // batch * batch
    return (
        jnp.asarray(x[:n].reshape(-1, batch, x.shape[1]), dtype),
        jnp.asarray(y[:n].reshape(-1, batch)),
    )


def digits_errors(pairs: dict[str, tuple[Any, Any]]) -> dict[str, float]:
    """One epoch of softmax regression per pair, in one ``jit``; name -> ``close_error``.

    Every run starts from the same small random weights; the params after every step of ours
    and optax's are compared.
    """
    import optax

    from nndl_jax import optim

    dtype = verify.float_dtype()
    xb, yb = digits_minibatches(dtype)
    rng = np.random.default_rng(0)
    params = {
        "w": jnp.asarray(rng.normal(size=(xb.shape[-1], 10)) * 0.01, dtype),
        "b": jnp.zeros(10, dtype),
    }

    def loss(p, x, y):
        logp = jax.nn.log_softmax(x @ p["w"] + p["b"])
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def epoch(opt, apply_updates, params):
        def step(carry, batch):
            p, s = carry
            u, s = opt.update(jax.grad(loss)(p, *batch), s, p)
            p = apply_updates(p, u)
            return (p, s), p

        return jax.lax.scan(step, (params, opt.init(params)), (xb, yb))[1]

    @jax.jit
    def run(params):
        return {
            name: (
                epoch(ours, optim.apply_updates, params),
                epoch(theirs, optax.apply_updates, params),
            )
            for name, (ours, theirs) in pairs.items()
        }

    return {name: close_error(a, b) for name, (a, b) in run(params).items()}


@functools.cache
def _digits_errors(x64: bool) -> dict[str, float]:
    del x64  # the cache key
    return digits_errors(digits_pairs())


def _register_digits(name: str) -> None:
    def check() -> float:
        return _digits_errors(x64_enabled())[name]

    check.__qualname__ = f"digits:{name}"
    verify.check(
        f"optim.{name}.digits",
        reference=f"{DIGITS_REFERENCES[name]}, softmax regression on digits (1 epoch)",
        tol=TOL,
        tol_x64=TOL_X64,
    )(check)


for _name in DIGITS_REFERENCES:
    _register_digits(_name)
