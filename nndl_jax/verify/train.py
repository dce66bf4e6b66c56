"""Checks of :mod:`nndl_jax.train`: penalties, weight decay, the compiled epoch, augmentation, fit.

Regularized steps (``train.l2.sgd``, ``train.l1.sgd``, ``train.weight_decay.adam``): five steps
of :func:`~nndl_jax.train.epoch.make_train_step` (the step :func:`~nndl_jax.train.fit` runs) on
a tiny tanh network, beside five steps of an optax twin on ``jax.grad`` of the mean
``optax.softmax_cross_entropy_with_integer_labels``, the parameters compared after *every* step.
The penalties cover the weights only (leaves with two or more axes), as ours do by default; the
twin gets the same mask. The error is normwise relative: ``max |ours - ref| / max |ref|`` over
all steps and leaves.

Epoch (``train.epoch.*``): a padded batch whose mask hides the padding gives the update of plain
gradient descent on the real rows alone; a scanned epoch gives what a Python loop of the same
jitted step gives on the same batches and keys.

``train.augment.affine``: rotations and shifts about the image centre beside
``scipy.ndimage.affine_transform`` (bilinear, zero fill), absolute error in pixel units on
images with values in ``[0, 16)``.

``train.penalty_grad``: the analytic gradient of the penalty beside its closed form
``λ₁ sign(θ) + λ₂ θ`` on the penalized leaves and 0 elsewhere (``sign(0) = 0``: a weight is set
to exactly 0), for L1, L2, both, and the default, all-leaves and prefix masks.

``train.fit.early_stopping``: a run with ``patience`` and ``min_delta`` stops where the notes'
rule, replayed on its own validation history, says it must, and returns the parameters of the
best epoch: bitwise those fit evaluated after that epoch (recorded by a ``jax.debug.callback``
in the model's evaluation mode), not the last epoch's.

Speed: compiling dominates, so each check compiles its runs (ours and the reference) together
in one ``jit`` where it can; the four regularization checks share one compilation (run the
first time any of them runs in a given precision), and the two epoch checks one compiled step.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from nndl_jax.verify._registry import check, float_dtype, max_abs_diff

_N, _D, _H, _K = 8, 4, 3, 2  # samples, inputs, hidden units, classes
_STEPS = 5


# ---- a tiny network, its data, and a step of ours beside an optax twin


def _params(dtype, seed=0):
    """Parameters shaped like ``nn.serial(Dense, Tanh, Dense)``'s: the middle layer is empty.

    Drawn with NumPy (eager ``jax.random`` calls would each compile for their shape)."""
    rng = np.random.default_rng(seed)
    shapes = [{"w": (_D, _H), "b": (_H,)}, {}, {"w": (_H, _K), "b": (_K,)}]
    return [{k: jnp.asarray(rng.normal(0.0, 1.0, s), dtype) for k, s in layer.items()}
            for layer in shapes]  # fmt: skip


def _apply(params, state, x, *, key=None, train=False):
    h = jnp.tanh(x @ params[0]["w"] + params[0]["b"])
    return h @ params[2]["w"] + params[2]["b"], state


def _data(dtype, n=_N, seed=7):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(0.0, 1.0, (n, _D)), dtype)
    return x, jnp.asarray(rng.integers(0, _K, n), jnp.int32)


def _weights(params):
    """The mask of the penalized leaves: the weights (two or more axes), not the biases."""
    return jax.tree.map(lambda a: a.ndim >= 2, params)


def _reference_loss(params, x, y):
    import optax

    logits = _apply(params, {}, x)[0]
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def _relative_error(ours, ref) -> float:
    """``max |ours - ref| / max |ref|`` over all leaves of two pytrees."""
    scale = max(float(np.max(np.abs(np.asarray(r, np.float64)))) for r in jax.tree.leaves(ref))
    return max_abs_diff(ours, ref) / max(scale, np.finfo(np.float64).tiny)


def _twin_run(optimizer, twin, extra_loss=None, **step_options):
    """``run(params, x, y) -> (ours, ref)``: the parameters after each of ``_STEPS`` steps of
    our regularized step and of ``twin`` on ``jax.grad`` of the reference loss (plus
    ``extra_loss``), the full batch every step."""
    import optax

    from nndl_jax.train.epoch import TrainState, make_train_step
    from nndl_jax.train.loop import make_loss

    step = make_train_step(
        _apply,
        loss_fn=make_loss("softmax_cross_entropy"),
        optimizer=optimizer,
        num_classes=_K,
        **step_options,
    )

    def reference_objective(p, x, y):
        value = _reference_loss(p, x, y)
        return value if extra_loss is None else value + extra_loss(p)

    def run(params, x, y):
        mask = jnp.ones(x.shape[0], bool)

        def ours_body(state, _):
            state, _ = step(state, x, y, mask, jax.random.key(0))
            return state, state.params

        def twin_body(carry, _):
            p, s = carry
            updates, s = twin.update(jax.grad(reference_objective)(p, x, y), s, p)
            p = optax.apply_updates(p, updates)
            return (p, s), p

        state = TrainState(params, {}, optimizer.init(params))
        _, ours = jax.lax.scan(ours_body, state, None, length=_STEPS)
        _, ref = jax.lax.scan(twin_body, (params, twin.init(params)), None, length=_STEPS)
        return ours, ref

    return run


# (λ₁, λ₂, mask, which leaves the mask penalizes: (layer index, leaf) -> bool); the params are
# [{"w", "b"}, {}, {"w", "b"}] and the default mask takes the leaves with two or more axes
_PENALTY_CASES = [
    (0.1, 0.0, None, lambda i, a: a.ndim >= 2),
    (0.0, 0.5, None, lambda i, a: a.ndim >= 2),
    (0.2, 0.3, True, lambda i, a: True),
    (0.3, 0.7, [True, False, False], lambda i, a: i == 0),
]


def _penalty_grad_closed_form(params, l1, l2, penalized):
    """d/dθ of λ₁‖θ‖₁ + λ₂/2‖θ‖² on the penalized leaves: λ₁ sign(θ) + λ₂ θ, else 0."""
    return [
        {k: l1 * jnp.sign(a) + l2 * a if penalized(i, a) else jnp.zeros_like(a)
         for k, a in layer.items()}
        for i, layer in enumerate(params)
    ]  # fmt: skip


@functools.cache
def _regularization_errors(dtype_name: str) -> dict[str, float]:
    """The errors of the four regularization checks, computed together in one ``jit`` (one
    compilation instead of four) the first time any of them runs in a given precision."""
    import optax

    from nndl_jax import optim
    from nndl_jax.train import regularization as reg

    # L2: λ/2 ‖w‖² adds λw to the gradient, SGD with coupled weight decay λ on the weights
    lr, lam2 = 0.1, 0.05
    l2 = _twin_run(optim.sgd(lr), optax.chain(optax.add_decayed_weights(lam2, _weights),
                                              optax.sgd(lr)), l2=lam2)  # fmt: skip

    # L1: autodiff of λ Σ|w|; random weights are never exactly 0, where |w| has no derivative
    lam1 = 0.01

    def l1_term(p):
        return lam1 * (jnp.sum(jnp.abs(p[0]["w"])) + jnp.sum(jnp.abs(p[2]["w"])))

    l1 = _twin_run(optim.sgd(lr), optax.sgd(lr), l1_term, l1=lam1)

    # θ ← θ + u - βθ after Adam is AdamW's -α λ θ with λ = β / α
    lr_adam, beta = 0.01, 0.002
    adamw = optax.adamw(lr_adam, weight_decay=beta / lr_adam, mask=_weights)
    adam = _twin_run(optim.adam(lr_adam), adamw, weight_decay=beta)

    def penalty_pairs(p):
        pairs = []
        for l1_, l2_, mask, penalized in _PENALTY_CASES:
            ours = reg.penalty_grad(p, l1=l1_, l2=l2_, mask=mask)
            pairs.append((ours, _penalty_grad_closed_form(p, l1_, l2_, penalized)))
        return pairs

    @jax.jit
    def run_all(params, x, y, penalized):
        twins = {"l2": l2(params, x, y), "l1": l1(params, x, y), "adam": adam(params, x, y)}
        return twins, penalty_pairs(penalized)

    dtype = jnp.dtype(dtype_name)
    penalized = _params(dtype, seed=3)
    penalized[0]["w"] = penalized[0]["w"].at[0, 0].set(0.0)  # the L1 subgradient at 0 is 0
    twins, pairs = run_all(_params(dtype), *_data(dtype), penalized)
    errors = {name: _relative_error(*paths) for name, paths in twins.items()}
    errors["penalty_grad"] = max(_relative_error(ours, ref) for ours, ref in pairs)
    return errors


def _regularization_error(name: str) -> float:
    return _regularization_errors(jnp.dtype(float_dtype()).name)[name]


@check("train.l2.sgd", reference="optax.add_decayed_weights(λ, weights) + optax.sgd",
       tol=1e-6, tol_x64=1e-12)  # fmt: skip
def _l2_sgd():
    return _regularization_error("l2")


@check("train.l1.sgd", reference="jax.grad of loss + λ Σ|w| (weights), optax.sgd",
       tol=1e-6, tol_x64=1e-12)  # fmt: skip
def _l1_sgd():
    return _regularization_error("l1")


@check("train.weight_decay.adam", reference="optax.adamw(α, weight_decay=β/α, mask=weights)",
       tol=1e-6, tol_x64=1e-12)  # fmt: skip
def _weight_decay_adam():
    return _regularization_error("adam")


@check("train.penalty_grad", reference="closed form λ₁ sign(θ) + λ₂ θ on the penalized leaves",
       tol=1e-6, tol_x64=1e-14)  # fmt: skip
def _penalty_grad():
    return _regularization_error("penalty_grad")


# ---- the compiled epoch

_EPOCH_N, _BATCH, _LR = 50, 8, 0.3  # 7 batches, the last padded with 6 repeats


@functools.cache
def _sgd_step():
    """``(step, jitted step, optimizer)``: plain SGD on the cross-entropy, built once so that
    both epoch checks run the same compiled step (batches of ``_BATCH`` rows)."""
    from nndl_jax import optim
    from nndl_jax.train.epoch import make_train_step
    from nndl_jax.train.loop import make_loss

    optimizer = optim.sgd(_LR)
    step = make_train_step(_apply, loss_fn=make_loss("softmax_cross_entropy"),
                           optimizer=optimizer, num_classes=_K)  # fmt: skip
    return step, jax.jit(step), optimizer


@check("train.epoch.masked_batch", reference="jax.grad on the real rows only (optax CE)",
       tol=1e-6, tol_x64=1e-12)  # fmt: skip
def _masked_batch():
    # 3 real rows and 5 masked repeats: the update and the loss are those of the 3 rows alone
    from nndl_jax.train.epoch import TrainState

    dtype = float_dtype()
    _, jstep, optimizer = _sgd_step()
    real = 3
    x, y = _data(dtype)
    params = _params(dtype)
    # a batch of _BATCH rows, the shape the epoch's steps have (their compiled step is reused)
    padded_x = jnp.concatenate([x[:real], x[: _BATCH - real]])
    padded_y = jnp.concatenate([y[:real], y[: _BATCH - real]])
    mask = jnp.arange(_BATCH) < real
    new, stats = jstep(
        TrainState(params, {}, optimizer.init(params)), padded_x, padded_y, mask, jax.random.key(0)
    )

    @jax.jit
    def reference(params, x, y):
        value, grads = jax.value_and_grad(_reference_loss)(params, x, y)
        return jax.tree.map(lambda p, g: p - _LR * g, params, grads), value

    ref, value = reference(params, x[:real], y[:real])
    ours = new.params
    if int(stats.count) != real or int(stats.confusion.sum()) != real:
        raise AssertionError(
            f"the padding was counted: count {int(stats.count)}, confusion total "
            f"{int(stats.confusion.sum())}, expected {real}"
        )
    if any(leaf.dtype != dtype for leaf in jax.tree.leaves(ours)):
        raise AssertionError(f"the step changed the parameters' dtype from {dtype}")
    loss_error = abs(float(stats.loss_sum) / real - float(value)) / abs(float(value))
    return max(_relative_error(ours, ref), loss_error)


@check("train.epoch.scan_equals_loop", reference="Python loop of the jitted step",
       tol=1e-6, tol_x64=1e-12)  # fmt: skip
def _scan_equals_loop():
    from nndl_jax import data
    from nndl_jax.train.epoch import TrainState, make_epoch

    dtype = float_dtype()
    step, jstep, optimizer = _sgd_step()
    x, y = _data(dtype, n=_EPOCH_N, seed=0)
    params = _params(dtype, seed=1)
    key = jax.random.key(5)
    epoch = make_epoch(step, num_samples=_EPOCH_N, batch_size=_BATCH)
    scanned, stats = epoch(TrainState(params, {}, optimizer.init(params)), key, x, y)

    # the same batches and step keys, one jitted step at a time from Python
    @jax.jit
    def plan(key):
        k_order, k_steps = jax.random.split(key)
        idx, mask = data.minibatch_indices(k_order, _EPOCH_N, _BATCH)
        keys = jax.random.split(k_steps, idx.shape[0])
        # one output per step: slicing eagerly would compile a slice per array
        return [(x[i], y[i], m, k) for i, m, k in zip(idx, mask, keys, strict=True)]

    state, losses, count = TrainState(params, {}, optimizer.init(params)), [], 0
    for batch in plan(key):
        state, s = jstep(state, *batch)
        losses.append(float(s.step_losses[0]))
        count += int(s.count)
    if int(stats.count) != _EPOCH_N or count != _EPOCH_N:
        raise AssertionError(f"counted {int(stats.count)} and {count} samples, not {_EPOCH_N}")
    return max(
        _relative_error(scanned.params, state.params),
        _relative_error(stats.step_losses, np.asarray(losses)),
    )


# ---- augmentation


@check("train.augment.affine",
       reference="scipy.ndimage.affine_transform(order=1, mode='grid-constant')",
       tol=1e-5, tol_x64=1e-12)  # fmt: skip
def _augment_affine():
    import scipy.ndimage

    from nndl_jax.train import augment

    h, w = 8, 6
    dtype = float_dtype()
    image = jnp.asarray(np.random.default_rng(0).uniform(0, 16, (h, w)), dtype)
    transform = jax.jit(augment.transform_image)
    c = np.array([(h - 1) / 2, (w - 1) / 2])
    worst = 0.0
    for degrees, shift in [(10.0, (0.0, 0.0)), (-7.0, (1.0, -1.0)), (25.0, (0.5, 0.3))]:
        theta = np.deg2rad(degrees)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        t = np.asarray(shift)
        # output[o] = input[M o + offset] with M = R^T and offset = c - R^T (c + t)
        ref = scipy.ndimage.affine_transform(
            np.asarray(image, np.float64), rot.T, offset=c - rot.T @ (c + t), order=1,
            mode="grid-constant", cval=0.0,
        )  # fmt: skip
        ours = transform(image, jnp.asarray(theta, dtype), jnp.asarray(t, dtype))
        worst = max(worst, max_abs_diff(ours, ref))
    return worst


# ---- fit: early stopping


def _stop_rule(values, patience, min_delta):
    """The notes' rule replayed on a validation history: ``(stop epoch, best epoch)``."""
    best, best_epoch, wait = math.inf, 0, 0
    for epoch, value in enumerate(values, 1):
        if value < best - min_delta:
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
        if wait >= patience:
            return epoch, best_epoch
    return None, best_epoch


@check("train.fit.early_stopping",
       reference="the stopping rule on the history; the params evaluated at the best epoch",
       tol=0.0, tier="closed form")  # fmt: skip
def _early_stopping():
    from nndl_jax import nn
    from nndl_jax.train.loop import fit

    dtype = float_dtype()
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (24, _D))
    y = (x[:, 0] + 0.5 * rng.normal(0, 1, 24) > 0).astype(np.int32)
    train = (jnp.asarray(x[:16], dtype), jnp.asarray(y[:16]))
    val = (jnp.asarray(x[16:], dtype), jnp.asarray(y[16:]))

    # a dense layer that records the parameters fit evaluates on the validation set after
    # every epoch (the only calls in evaluation mode), from inside the compiled evaluation
    dense, evaluated = nn.Dense(_K), []

    def apply(params, state, x, *, key=None, train=False):
        if not train:
            record = lambda p: evaluated.append(jax.tree.map(np.array, p))  # noqa: E731
            jax.debug.callback(record, params)
        return dense.apply(params, state, x, key=key, train=train)

    patience, min_delta = 2, 0.01
    # a large rate: the validation loss falls, then rises and stalls (best epoch 2 of 4 here)
    result = fit(nn.Layer(dense.init, apply), (train, val), optimizer="sgd", learning_rate=2.0,
                 batch_size=4, monitor="val_loss", epochs=30, patience=patience,
                 min_delta=min_delta, seed=0, progress=False)  # fmt: skip
    values = [record["val_loss"] for record in result.history]
    stop, best = _stop_rule(values, patience, min_delta)
    if result.stopped_reason != "patience" or stop != len(values) or best != result.best_epoch:
        raise AssertionError(
            f"fit stopped after epoch {len(values)} ({result.stopped_reason}) with best epoch "
            f"{result.best_epoch}; the rule on its history says stop {stop}, best {best}"
        )
    if len(evaluated) != len(values):
        raise AssertionError(f"{len(evaluated)} evaluations recorded for {len(values)} epochs")
    return max_abs_diff(result.params, evaluated[best - 1])
