r"""One training epoch as one compiled program: shuffle, minibatches, updates and metric sums.

The notes' algorithm, for one pass over the training set: shuffle the samples, then for each
minibatch ``B`` of K samples (K = 1 is SGD) compute the gradient of the regularized objective

.. math::
    J_B(θ) = \frac{1}{|B|} \sum_{n \in B} L(y^{(n)}, f(x^{(n)}; θ)) + λ_1 l_1(θ) + λ_2 l_2(θ)

and update ``θ`` with the optimizer. :func:`make_epoch` returns a jitted ``epoch(state, key, x,
y)``: the permutation is drawn on the device (:func:`nndl_jax.data.minibatch_indices`) and the
minibatches are one ``lax.scan``. When K does not divide N the last batch is padded to K with
repeated samples and a mask marks the real ones; the loss of a batch is the masked mean
``Σ_n m_n L_n / Σ_n m_n``, so every sample counts exactly once per epoch and the padding counts
nowhere (``drop_last=True`` drops the leftover samples instead, a different subset each epoch).
Padding keeps one batch shape, so the step is compiled once.

Nothing in the epoch depends on Python values that change between epochs: the key is an
argument and the shapes are fixed, so every epoch reuses the program compiled for the first.

The epoch returns sums from which the training metrics follow: the summed data loss, the sample
count, the confusion matrix of the predictions made *during* training (running metrics, as
Keras reports them), and each step's objective so that a non-finite loss can be traced to its
step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nndl_jax.data import minibatch_indices, num_batches
from nndl_jax.metrics import confusion_matrix
from nndl_jax.optim import apply_updates
from nndl_jax.train import regularization

__all__ = [
    "TrainState",
    "EpochStats",
    "epoch_plan",
    "accepts_mask",
    "make_train_step",
    "make_epoch",
    "make_evaluate",
]

#: ``loss_fn(outputs, labels) -> per-example losses``, shape ``(batch,)``.
LossFn = Callable[[jax.Array, jax.Array], jax.Array]
#: ``grad_fn(params, x, y[, mask]) -> (mean loss, grads)`` (e.g. manual backpropagation).
GradFn = Callable[..., tuple[jax.Array, Any]]
#: ``augment(key, x) -> x`` (see :mod:`nndl_jax.train.augment`).
AugmentFn = Callable[[jax.Array, jax.Array], jax.Array]


class TrainState(NamedTuple):
    """What a training step changes: the parameters, the model state, the optimizer state."""

    params: Any
    model_state: Any
    opt_state: Any


class EpochStats(NamedTuple):
    """Sums over one epoch (or one evaluation).

    Attributes:
      loss_sum: ``Σ_n L(y_n, f(x_n))``, the data loss summed over the real samples seen
        (without the penalty), a float scalar.
      count: number of real samples, int32.
      confusion: ``(K, K)`` int32 confusion matrix of the predictions (rows true classes).
      step_losses: the objective ``J_B`` of every step, shape ``(num_steps,)`` (empty for an
        evaluation).
    """

    loss_sum: jax.Array
    count: jax.Array
    confusion: jax.Array
    step_losses: jax.Array


def epoch_plan(num_samples: int, batch_size: int, *, drop_last: bool = False) -> tuple[int, int]:
    """``(steps, padding)``: the minibatches of one epoch and the padded slots of the last one.

    Raises:
      ValueError: a non-positive size, or ``batch_size`` larger than the training set.
    """
    for name, value in (("num_samples", num_samples), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if batch_size > num_samples:
        raise ValueError(
            f"batch_size must be at most the number of training samples, got batch_size="
            f"{batch_size} > {num_samples} samples"
        )
    steps = num_batches(num_samples, batch_size, drop_last=drop_last)
    return steps, (0 if drop_last else steps * batch_size - num_samples)


def accepts_mask(grad_fn: Callable) -> bool:
    """Whether ``grad_fn`` takes a ``mask`` argument (per-example weights of a padded batch)."""
    try:
        parameters = inspect.signature(grad_fn).parameters
    except (TypeError, ValueError):
        return False
    return "mask" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    weights = mask.astype(values.dtype)
    return jnp.sum(weights * values) / jnp.maximum(jnp.sum(weights), 1)


def make_train_step(
    apply_fn: Callable[..., tuple[jax.Array, Any]],
    *,
    loss_fn: LossFn,
    optimizer,
    num_classes: int,
    l1: float = 0.0,
    l2: float = 0.0,
    penalty_mask: Any = None,
    weight_decay: float = 0.0,
    decay_mask: Any = None,
    augment: AugmentFn | None = None,
    grad_fn: GradFn | None = None,
) -> Callable[..., tuple[TrainState, EpochStats]]:
    """One minibatch update, ``step(state, x, y, mask, key) -> (state, stats)`` (pure).

    The step (1) augments ``x`` if asked, (2) computes the masked mean data loss
    ``Σ m_n L_n / Σ m_n`` and its gradient, by ``jax.value_and_grad`` of ``apply_fn`` in
    training mode or by ``grad_fn``, (3) adds the penalty's gradient ``λ₁ sign(θ) + λ₂ θ``
    (:func:`regularization.penalty_grad`), (4) asks the optimizer for the update, (5) subtracts
    the decoupled weight decay ``β θ`` (:func:`regularization.decay_weights`) and applies it.

    Args:
      apply_fn: a layer's ``apply(params, state, x, *, key, train) -> (outputs, state)``.
      loss_fn: per-example loss of the outputs ``(batch, K)`` and integer labels ``(batch,)``.
      optimizer: a ``GradientTransformation`` (ours or optax's).
      num_classes: K, for the confusion matrix.
      l1, l2: penalty coefficients; ``penalty_mask`` picks the penalized leaves.
      weight_decay: ``β`` of the decoupled decay per step; ``decay_mask`` picks the leaves.
      augment: ``augment(key, x) -> x`` applied to each training batch, or None.
      grad_fn: ``grad_fn(params, x, y, mask=mask) -> (mean loss, grads)`` replacing autodiff (a
        manual backpropagation). If it takes no ``mask`` (:func:`accepts_mask`) it is called as
        ``grad_fn(params, x, y)``, which is exact only for batches without padding. The
        predictions for the metrics then come from one extra forward pass in evaluation mode,
        and the model state is left unchanged.

    Returns:
      ``step``. ``mask`` is a bool ``(batch,)`` marking real samples; ``stats.step_losses`` is
      the objective ``J_B`` (data loss plus penalty), shape ``(1,)``.
    """
    penalized = bool(l1 or l2)
    grad_fn_masked = grad_fn is not None and accepts_mask(grad_fn)

    def step(state: TrainState, x, y, mask, key):
        k_augment, k_model = jax.random.split(key)
        if augment is not None:
            x = augment(k_augment, x)
        params = state.params
        if grad_fn is None:

            def objective(p):
                out, new_model_state = apply_fn(p, state.model_state, x, key=k_model, train=True)
                return _masked_mean(loss_fn(out, y), mask), (out, new_model_state)

            (data_loss, (out, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(
                params
            )
        else:
            if grad_fn_masked:
                data_loss, grads = grad_fn(params, x, y, mask=mask)
            else:
                data_loss, grads = grad_fn(params, x, y)
            out, _ = apply_fn(params, state.model_state, x, train=False)
            model_state = state.model_state
        objective_value = data_loss
        if penalized:
            extra = regularization.penalty_grad(params, l1=l1, l2=l2, mask=penalty_mask)
            grads = jax.tree.map(jnp.add, grads, extra)
            objective_value = data_loss + regularization.penalty(
                params, l1=l1, l2=l2, mask=penalty_mask
            )
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        if weight_decay:
            updates = regularization.decay_weights(updates, params, weight_decay, decay_mask)
        params = apply_updates(params, updates)
        count = jnp.sum(mask, dtype=jnp.int32)
        stats = EpochStats(
            loss_sum=data_loss * count,
            count=count,
            confusion=confusion_matrix(y, out, num_classes, mask=mask),
            step_losses=jnp.reshape(objective_value, (1,)),
        )
        return TrainState(params, model_state, opt_state), stats

    return step


def make_epoch(
    step: Callable[..., tuple[TrainState, EpochStats]],
    *,
    num_samples: int,
    batch_size: int,
    drop_last: bool = False,
    unroll: int = 1,
    jit: bool = True,
) -> Callable[[TrainState, jax.Array, jax.Array, jax.Array], tuple[TrainState, EpochStats]]:
    """One shuffled epoch of ``step``: ``epoch(state, key, x, y) -> (state, stats)``.

    Args:
      step: from :func:`make_train_step`.
      num_samples: N, the training set size (static; ``x`` and ``y`` must have N rows).
      batch_size: K, at most N.
      drop_last: drop the ``N mod K`` leftover samples instead of padding the last batch.
      unroll: scan unrolling (steps per loop iteration): a speed knob; more unrolling compiles
        longer.
      jit: return the function jitted (True) or plain, e.g. to wrap it first.

    Returns:
      ``epoch``. ``key`` is split into the shuffle's key and one key per step (for dropout and
      augmentation); ``stats.step_losses`` has one entry per step, in order.
    """
    steps, _ = epoch_plan(num_samples, batch_size, drop_last=drop_last)
    if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 1:
        raise ValueError(f"unroll must be a positive integer, got {unroll!r}")

    def epoch(state: TrainState, key, x, y):
        if x.shape[0] != num_samples or y.shape[0] != num_samples:
            raise ValueError(
                f"this epoch was built for {num_samples} samples, got x.shape={x.shape} and "
                f"y.shape={y.shape}"
            )
        k_order, k_steps = jax.random.split(key)
        idx, mask = minibatch_indices(k_order, num_samples, batch_size, drop_last=drop_last)
        keys = jax.random.split(k_steps, steps)

        def body(carry, inputs):
            state, sums = carry
            i, m, k = inputs
            state, stats = step(state, x[i], y[i], m, k)
            sums = EpochStats(
                sums.loss_sum + stats.loss_sum,
                sums.count + stats.count,
                sums.confusion + stats.confusion,
                (),
            )
            return (state, sums), stats.step_losses[0]

        # zero sums shaped like one step's stats (an abstract evaluation: nothing runs)
        proto = jax.eval_shape(step, state, x[idx[0]], y[idx[0]], mask[0], keys[0])[1]
        zero = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), proto._replace(step_losses=()))
        (state, sums), step_losses = jax.lax.scan(
            body, (state, zero), (idx, mask, keys), unroll=unroll
        )
        return state, sums._replace(step_losses=step_losses)

    return jax.jit(epoch) if jit else epoch


def make_evaluate(
    apply_fn: Callable[..., tuple[jax.Array, Any]], *, loss_fn: LossFn, num_classes: int
) -> Callable[[Any, Any, jax.Array, jax.Array], EpochStats]:
    """Jitted ``evaluate(params, model_state, x, y) -> EpochStats`` in evaluation mode.

    One forward pass over the whole of ``x`` (``train=False``: dropout off, running statistics
    used); the sums have the meaning of :class:`EpochStats`, with empty ``step_losses``.
    """

    @jax.jit
    def evaluate(params, model_state, x, y):
        out, _ = apply_fn(params, model_state, x, train=False)
        return EpochStats(
            loss_sum=jnp.sum(loss_fn(out, y)),
            count=jnp.asarray(y.shape[0], jnp.int32),
            confusion=confusion_matrix(y, out, num_classes),
            step_losses=jnp.zeros((0,), jnp.float32),
        )

    return evaluate
