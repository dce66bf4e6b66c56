r"""Training that keeps the parameters raveled: one flat buffer across all steps.

An optimizer applied to a pytree of many small leaves does its elementwise work once per leaf.
Under ``jit`` that is a few short loops per leaf, each too short to approach the memory
bandwidth, in a program whose size and compile time grow with the number of leaves. On a tree
of 2,000 leaves of 512 floats (measured on a 2-core CPU, ``benchmarks/optim.py``, case
``raveled_adam``), ``optax.adam`` takes about 35 ms per step and about 10 s to compile; the
same Adam on the same numbers held in one vector takes under 1 ms and compiles in under 0.1 s.
``flatten(transform)`` ravels and unravels the tree inside every update, which saves the
optimizer's per-leaf work but still pays for the copies; this module removes them by never
leaving the flat form.

The parameters live in one 1-D buffer ``flat`` of length ``P`` (the total number of parameter
elements) and the optimizer state is the transform's state over that vector. A step is

.. math::

    g_t = \nabla_{\theta} L(\mathrm{unravel}(\theta_{t-1}), \mathcal{B}_t), \quad
    (u_t, s_t) = \mathrm{update}(g_t, s_{t-1}, \theta_{t-1}), \quad
    \theta_t = \theta_{t-1} + u_t,

with :math:`\theta \in \mathbb{R}^P`: the forward pass sees the parameters as the usual pytree
(``unravel`` slices each leaf out of the buffer and reshapes it), and the gradient is taken with
respect to the flat vector, so it arrives already raveled (the transpose of the slicing is a
concatenation, which XLA fuses into the backward pass). ``step`` is jitted with ``flat`` and
the optimizer state donated, so each update overwrites its inputs in place.

Semantics differ from the per-leaf optimizer only where a transform looks at leaves: a
per-leaf rule such as ``clip_by_norm`` sees one leaf, the whole vector, and a weight-decay
``mask`` shaped like the params tree no longer matches and raises a TypeError (only a single
boolean fits). Elementwise rules (SGD, momentum, RMSProp, AdaGrad, Adam, ...) and global ones
(``clip_by_global_norm``) give the same numbers as on the tree.

The buffer's dtype is the common dtype of the leaves (float32 for float32 parameters, float64
under ``jax_enable_x64`` for float64 ones); ``unravel`` casts each view back to its leaf's dtype.
A leaf narrower than the buffer (bfloat16 among float32 leaves) is trained as on the tree: its
update and its new value are rounded to its own dtype at every step, so its segment of the
buffer always holds a value of that dtype and steps too small for that dtype are lost, as they
are on the tree (one masked pass over the buffer per narrower dtype, whatever the leaf count).

A callable weight-decay ``mask`` (``adamw(mask=fn)``) is called with the flat vector, one leaf,
so ``fn`` sees no tree: a rule such as ``lambda p: tree_map(lambda x: x.ndim > 1, p)`` returns
``False`` and silently decays nothing. Train with a mask on the tree instead (per-leaf
optimizer), or fold the decay into ``loss_fn``.

Compile time. The update compiles to one loop whatever the number of leaves. The forward and
backward passes still touch every leaf, and on XLA:CPU every slice of the buffer (each at its
own offset) becomes a kernel of its own, while the identical per-leaf kernels of a program over
a pytree are generated once and reused. A whole training step over thousands of tiny leaves
therefore compiles *slower* than the same step on the pytree (2,000 leaves x 512: tens of
seconds against about half as many), although it runs several times faster. For models of tens
or hundreds of leaves this does not matter; for thousands, stack same-shaped leaves into one
array (a ``vmap``/``scan`` over layers) so that there are fewer of them.

Example:

>>> import jax.numpy as jnp
>>> from nndl_jax import optim
>>> from nndl_jax.optim.flat_training import ravel_training
>>> params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
>>> def loss_fn(params, batch):
...     x, y = batch
...     return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)
>>> trainer = ravel_training(loss_fn, params, optim.adam(1e-2))
>>> flat, opt_state = trainer.init(params)      # flat.shape == (8,)
>>> batch = (jnp.ones((4, 3)), jnp.zeros((4, 2)))
>>> flat, opt_state, loss = trainer.step(flat, opt_state, batch)  # donates flat, opt_state
>>> batches = (jnp.ones((10, 4, 3)), jnp.zeros((10, 4, 2)))      # 10 steps in one scan
>>> flat, opt_state, losses = trainer.epoch(flat, opt_state, batches)
>>> losses.shape, trainer.unravel(flat)["w"].shape
((10,), (3, 2))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

Params = Any
Batch = Any
OptState = Any


class RavelTrainer(NamedTuple):
    """The functions of the raveled training mode (see :func:`ravel_training`).

    Attributes:
      init: ``init(params) -> (flat, opt_state)``: ravel ``params`` (shaped like the template)
        into a fresh buffer of shape ``(size,)`` and initialise the optimizer over it.
      step: ``step(flat, opt_state, batch) -> (flat, opt_state, value)``: one training step;
        ``value`` is what ``loss_fn`` returned (the loss, or ``(loss, aux)`` with ``has_aux``),
        evaluated at the parameters before the update. Jitted; ``flat`` and ``opt_state`` are
        donated (unless ``donate=False``), so pass the returned ones to the next call.
      epoch: ``epoch(flat, opt_state, batches) -> (flat, opt_state, values)``: ``step`` over the
        leading axis of every leaf of ``batches`` inside one ``lax.scan``; ``values`` stacks the
        per-step values. Jitted and donated like ``step``.
      update: ``update(flat, opt_state, grads) -> (flat, opt_state)``: the optimizer step alone,
        for gradients computed elsewhere (``grads`` of shape ``(size,)``, e.g. from
        ``jax.grad`` with respect to the flat vector). Jitted and donated like ``step``.
      ravel: ``ravel(params) -> flat``: a tree shaped like the template to a flat vector.
      unravel: ``unravel(flat) -> params``: the flat vector back to the tree (views cast to each
        leaf's dtype). ``flat`` must have shape ``(size,)``; with a single-dtype template it may
        have another dtype (the moments of a bfloat16 buffer) and the views keep it.
      size: ``P``, the number of parameter elements.
      dtype: the dtype of the flat buffer.
    """

    init: Callable[[Params], tuple[jax.Array, OptState]]
    step: Callable[[jax.Array, OptState, Batch], tuple[jax.Array, OptState, Any]]
    epoch: Callable[[jax.Array, OptState, Batch], tuple[jax.Array, OptState, Any]]
    update: Callable[[jax.Array, OptState, jax.Array], tuple[jax.Array, OptState]]
    ravel: Callable[[Params], jax.Array]
    unravel: Callable[[jax.Array], Params]
    size: int
    dtype: Any


def ravel_training(
    loss_fn: Callable[[Params, Batch], Any],
    params: Params,
    transform: Any,
    *,
    has_aux: bool = False,
    donate: bool = True,
) -> RavelTrainer:
    """Build a training loop whose parameters stay raveled in one buffer across steps.

    Args:
      loss_fn: ``loss_fn(params, batch) -> loss`` (a scalar), or ``-> (loss, aux)`` with
        ``has_aux=True``; ``params`` is a tree with the template's structure.
      params: the template: a pytree of floating-point arrays whose structure, shapes and dtypes
        every raveled buffer follows. Its values are not kept; pass it (or any tree like it) to
        ``init``.
      transform: an optax-compatible ``GradientTransformation`` (ours from ``nndl_jax.optim`` or
        optax's), applied to the flat vector: ``update(grads, state, params=flat)``.
      has_aux: whether ``loss_fn`` returns ``(loss, aux)``.
      donate: donate ``flat`` and the optimizer state to ``step``, ``epoch`` and ``update`` so
        they are updated in place; after a call the arrays passed in are no longer usable.

    Returns:
      A :class:`RavelTrainer`.

    Raises:
      TypeError: ``loss_fn`` is not callable, or ``transform`` lacks ``init``/``update``.
      ValueError: ``params`` has no leaves, or a leaf that is not a floating-point array.

    The returned functions raise too: ``init``/``ravel`` a TypeError for a tree of another
    structure and a ValueError for a leaf of another shape; ``step``/``epoch``/``update`` a
    ValueError for a flat vector of another shape or dtype; ``unravel`` a ValueError for a flat
    vector of another shape (or, with a mixed-dtype template, another dtype).
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}: {loss_fn!r}")
    if not (
        callable(getattr(transform, "init", None)) and callable(getattr(transform, "update", None))
    ):
        raise TypeError(
            "transform must be a GradientTransformation with init and update, got "
            f"{type(transform).__name__}: {transform!r}"
        )
    leaves_with_path = jax.tree_util.tree_leaves_with_path(params)
    if not leaves_with_path:
        raise ValueError(
            f"params must hold at least one array, got a tree with no leaves: {params!r}"
        )
    for path, leaf in leaves_with_path:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            hint = (
                "complex parameters are not supported in the raveled mode; use "
                "flatten(transform) on the tree"
                if jnp.issubdtype(dtype, jnp.complexfloating)
                else "keep integer or boolean data out of the trained parameters"
            )
            raise ValueError(
                f"params leaf {jax.tree_util.keystr(path)} must be a floating-point array, got "
                f"dtype {dtype}; {hint}"
            )
    template, unravel = ravel_pytree(params)
    size, dtype = int(template.shape[0]), template.dtype
    treedef = jax.tree_util.tree_structure(params)
    shapes = [(jax.tree_util.keystr(p), jnp.shape(x)) for p, x in leaves_with_path]
    del template  # only its shape and dtype are kept, not the values
    # the segments of the leaves narrower than the buffer: leaf dtype -> mask over the buffer
    narrower: dict[Any, np.ndarray] = {}
    offset = 0
    for _, leaf in leaves_with_path:
        n, leaf_dtype = int(np.size(leaf)), jnp.result_type(leaf)
        if leaf_dtype != dtype:
            narrower.setdefault(leaf_dtype, np.zeros(size, bool))[offset : offset + n] = True
        offset += n

    def round_to_leaves(x: jax.Array) -> jax.Array:
        """Round each narrower leaf's segment to its leaf's dtype (one pass per dtype)."""
        for leaf_dtype, where in narrower.items():
            # the barrier keeps XLA from folding the round trip into nothing (it may, with
            # excess precision allowed, as on GPU)
            narrow = jax.lax.optimization_barrier(x.astype(leaf_dtype))
            x = jnp.where(where, narrow.astype(x.dtype), x)
        return x

    def ravel(tree: Params) -> jax.Array:
        if jax.tree_util.tree_structure(tree) != treedef:
            raise TypeError(
                "params must have the template's tree structure; expected "
                f"{treedef}, got {jax.tree_util.tree_structure(tree)}"
            )
        for (path, want), leaf in zip(shapes, jax.tree_util.tree_leaves(tree), strict=True):
            if jnp.shape(leaf) != want:
                raise ValueError(
                    f"params leaf {path} must have the template's shape {want}, "
                    f"got {jnp.shape(leaf)}"
                )
            if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
                # ravel_pytree would promote it to the buffer's dtype without a word
                raise ValueError(
                    f"params leaf {path} must be a floating-point array, as in the template, "
                    f"got dtype {jnp.result_type(leaf)}"
                )
        flat, _ = ravel_pytree(tree)
        if flat.dtype != dtype:
            raise ValueError(f"params must ravel to the template's dtype {dtype}, got {flat.dtype}")
        return round_to_leaves(flat)

    def checked_unravel(flat: jax.Array) -> Params:
        # a mixed-dtype template's unravel takes only the buffer's dtype (ravel_pytree's rule)
        _check_flat("flat", flat, size, dtype if narrower else None)
        return unravel(flat)

    def init(tree: Params) -> tuple[jax.Array, OptState]:
        flat = ravel(tree)
        # a fresh buffer: ravelling a single 1-D leaf can return the caller's own array, and
        # donating it to ``step`` would delete the caller's parameters
        flat = jnp.array(flat, copy=True)
        # and fresh state buffers, for the same reason: an init may return one zeros array for
        # several moments, which cannot be donated twice in one call
        state = jax.tree_util.tree_map(_fresh, transform.init(flat))
        return flat, state

    def apply(flat, opt_state, grads):
        updates, opt_state = transform.update(grads, opt_state, flat)
        if narrower:  # as apply_updates on the tree: a narrow leaf's update in its own dtype
            updates = round_to_leaves(jnp.asarray(updates).astype(flat.dtype))
        # an update in a wider dtype (float32 steps for bfloat16 params) must not widen params,
        # and a leaf narrower than the buffer keeps a value of its own dtype
        return round_to_leaves((flat + updates).astype(flat.dtype)), opt_state

    def objective(flat, batch):
        return loss_fn(unravel(flat), batch)

    value_and_grad = jax.value_and_grad(objective, has_aux=has_aux)

    def step(flat, opt_state, batch):
        _check_flat("flat", flat, size, dtype)
        value, grads = value_and_grad(flat, batch)
        flat, opt_state = apply(flat, opt_state, grads)
        return flat, opt_state, value

    def epoch(flat, opt_state, batches):
        _check_flat("flat", flat, size, dtype)

        def body(carry, batch):
            flat, opt_state, value = step(*carry, batch)
            return (flat, opt_state), value

        (flat, opt_state), values = jax.lax.scan(body, (flat, opt_state), batches)
        return flat, opt_state, values

    def update(flat, opt_state, grads):
        _check_flat("flat", flat, size, dtype)
        _check_flat("grads", grads, size, None)
        return apply(flat, opt_state, grads)

    donated = (0, 1) if donate else ()
    return RavelTrainer(
        init=init,
        step=jax.jit(step, donate_argnums=donated),
        epoch=jax.jit(epoch, donate_argnums=donated),
        update=jax.jit(update, donate_argnums=donated),
        ravel=ravel,
        unravel=checked_unravel,
        size=size,
        dtype=dtype,
    )


def _fresh(x: Any) -> Any:
    return jnp.array(x, copy=True) if isinstance(x, jax.Array) else x


def _check_flat(name: str, flat: Any, size: int, dtype: Any) -> None:
    """Shapes and dtypes are static under jit, so this check costs nothing per step."""
    shape = getattr(flat, "shape", None)
    if shape != (size,):
        raise ValueError(
            f"{name} must be a flat vector of shape ({size},) matching the template, got shape "
            f"{shape}; build it with trainer.init(params) or trainer.ravel(params)"
        )
    if dtype is not None and flat.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype} (the template's), got {flat.dtype}")
