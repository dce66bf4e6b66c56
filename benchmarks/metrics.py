"""Suite ``metrics``: our metrics and losses beside scikit-learn's and optax's (``nndl-jax bench
metrics``).

Cases:

* ``f1_macro``: macro F1 of 100,000 labels over 10 classes. Ours is jitted with a static
  ``num_classes`` (one scatter-add confusion matrix, then per-class scores); the peer is
  ``sklearn.metrics.f1_score(average="macro")`` on the same labels as NumPy arrays on the host,
  which is what a user would call instead. Host code cannot be jitted, so we compile ours here
  (its compile time is reported in ``compile_ours_s``) and time both with ``jit=False``.
* ``softmax_cross_entropy``: the mean loss and its gradient (``jax.value_and_grad``) on
  ``(4096, 1000)`` float32 logits with integer labels, against
  ``optax.losses.softmax_cross_entropy_with_integer_labels``; both jitted by the harness.

Each row also reports ``max_abs_diff`` between our result and the peer's. Quick mode keeps the
sizes and takes fewer repeats.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from nndl_jax.benchmarks._harness import case, compare, time_compile

F1_SIZE, F1_CLASSES = 100_000, 10
CE_SHAPE = (4096, 1000)


def _timing(quick: bool) -> dict:
    return {"repeats": 5, "number": 3, "warmup": 1} if quick else {"repeats": 15, "number": 5}


@case("metrics", "f1_macro")
def f1_macro(quick: bool) -> list[dict]:
    from sklearn.metrics import f1_score

    from nndl_jax.metrics import f1

    rng = np.random.default_rng(0)
    y_true_np = rng.integers(0, F1_CLASSES, F1_SIZE)
    # about 70% right, the errors spread uniformly: every cell of the matrix is populated
    y_pred_np = np.where(rng.random(F1_SIZE) < 0.7, y_true_np, rng.integers(0, F1_CLASSES, F1_SIZE))
    args = (jnp.asarray(y_true_np), jnp.asarray(y_pred_np))
    ours, compile_s = time_compile(
        jax.jit(partial(f1, average="macro", num_classes=F1_CLASSES)), *args
    )
    peer = partial(f1_score, average="macro", zero_division=0)
    row = compare(
        ours,
        peer,
        args,
        peer_args=(y_true_np, y_pred_np),
        peer_name="sklearn.metrics.f1_score(average='macro')",
        jit=False,
        n=F1_SIZE,
        num_classes=F1_CLASSES,
        max_abs_diff=float(abs(float(ours(*args)) - peer(y_true_np, y_pred_np))),
        **_timing(quick),
    )
    row["compile_ours_s"] = compile_s
    return [row]


@case("metrics", "softmax_cross_entropy")
def softmax_cross_entropy(quick: bool) -> list[dict]:
    import optax

    from nndl_jax.losses import softmax_cross_entropy as ours_loss

    key_logits, key_labels = jax.random.split(jax.random.PRNGKey(0))
    logits = 3.0 * jax.random.normal(key_logits, CE_SHAPE, jnp.float32)
    labels = jax.random.randint(key_labels, CE_SHAPE[:1], 0, CE_SHAPE[1])
    jax.block_until_ready((logits, labels))

    ours = jax.value_and_grad(lambda z, y: ours_loss(z, y, reduction="mean"))
    peer = jax.value_and_grad(
        lambda z, y: jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(z, y))
    )
    n, k = CE_SHAPE
    row = compare(
        ours,
        peer,
        (logits, labels),
        peer_name="optax.losses.softmax_cross_entropy_with_integer_labels",
        shape=list(CE_SHAPE),
        dtype="float32",
        what="value_and_grad of the mean loss",
        # the least traffic possible: read the logits once, write the gradient once
        bytes_moved=2 * n * k * 4,
        **_timing(quick),
    )
    # after the timed runs, so that compare() measured the compile times from a cold cache
    (v_ours, g_ours), (v_peer, g_peer) = (
        jax.jit(ours)(logits, labels),
        jax.jit(peer)(logits, labels),
    )
    row["max_abs_diff"] = max(
        float(jnp.abs(v_ours - v_peer)), float(jnp.max(jnp.abs(g_ours - g_peer)))
    )
    return [row]
