r"""How far apart the hidden units of an MLP are: the measure of the symmetric-weights problem.

If every weight of the network starts equal (all zero, or one constant, as ``mlp_init`` with
``init="zeros"`` or ``"constant"``), every hidden unit of a layer computes the same value for
every input, and, since the units also send equal weights to the next layer, backpropagation
gives each the same error term and the same gradient: the units move together and stay copies of
one another, however long we train (book section 7.3, 对称权重现象). Equal incoming weights alone
are not enough: random outgoing weights ``W^{(l+1)}_{j,:}`` give the units different error terms
and pull them apart after one step. :func:`hidden_unit_spread` measures it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nndl_jax.train.backprop import Params, _param_sizes

__all__ = ["hidden_unit_spread"]


def hidden_unit_spread(params: Params, *, per_layer: bool = False) -> jax.Array:
    r"""The largest difference between the incoming weights of two units of a hidden layer.

    Hidden unit ``j`` of layer ``l`` is the column :math:`(W^{(l)}_{:,j}, b^{(l)}_j)` of the
    ``(d_{l-1} + 1, d_l)`` matrix that stacks :math:`W^{(l)}` over :math:`b^{(l)}`. The spread
    of the layer is

    .. math::

        s^{(l)} = \max_{j, k} \max_i \big|W^{(l)}_{ij} - W^{(l)}_{ik}\big|
                = \max_i \big(\max_j W^{(l)}_{ij} - \min_j W^{(l)}_{ij}\big),

    0 exactly when all units of the layer are identical. The output layer is excluded: its
    units are the classes, which differ through their targets even when the hidden units do not.

    Args:
      params: MLP params (see :func:`nndl_jax.train.mlp_init`) with at least one hidden layer.
      per_layer: return one spread per hidden layer instead of the largest.

    Returns:
      A scalar, or shape ``(L - 1,)`` with ``per_layer=True``.

    Raises:
      ValueError: for params without a hidden layer.
    """
    sizes = _param_sizes(params)
    if len(sizes) < 3:
        raise ValueError(
            f"hidden_unit_spread needs an MLP with a hidden layer, got layer widths {sizes}"
        )
    spreads = []
    for layer in params[:-1]:
        incoming = jnp.concatenate([layer["w"], layer["b"][None, :]], axis=0)
        spreads.append(jnp.max(jnp.max(incoming, axis=1) - jnp.min(incoming, axis=1)))
    spreads = jnp.stack(spreads)
    return spreads if per_layer else jnp.max(spreads)
