"""Tests added by a mutation-testing audit of the ``nndl_jax.optim`` plumbing.

Each test pins a behaviour that a small source change (a mutant) altered without any other test
noticing. References: ``jax.tree_util`` structures, optax, or the documented contract.
"""

import jax
import jax.numpy as jnp
import optax
import pytest

from nndl_jax import optim

PARAMS = {"a": jnp.ones(2, jnp.float32), "b": jnp.ones(3, jnp.float32)}
# same number of leaves (and shapes) as PARAMS, different keys: another tree structure
RENAMED = {"a": jnp.ones(2, jnp.float32), "c": jnp.ones(3, jnp.float32)}


def _calls():
    sgd, adam = optim.sgd(0.1), optim.adam(0.1)
    return {
        "apply_updates": lambda: optim.apply_updates(PARAMS, RENAMED),
        "sgd": lambda: sgd.update(RENAMED, sgd.init(PARAMS), PARAMS),
        "adam_state": lambda: adam.update(RENAMED, adam.init(PARAMS)),
    }


@pytest.mark.parametrize("name", ["apply_updates", "sgd", "adam_state"])
def test_same_leaf_count_but_another_structure_is_a_type_error(name):
    """Trees with equal leaf counts but different keys differ (jax.tree_util), so TypeError."""
    assert jax.tree.structure(PARAMS) != jax.tree.structure(RENAMED)
    with pytest.raises(TypeError, match="same tree structure") as info:
        _calls()[name]()
    assert str(jax.tree.structure(RENAMED)) in str(info.value)


def test_skipped_update_has_the_wrapped_transforms_output_dtype():
    """A skip returns zeros in the dtype ``transform`` returns (documented), not the input's."""
    to_f32 = optax.stateless(lambda u, p: jax.tree.map(lambda x: x.astype(jnp.float32), u))
    opt = optim.skip_nonfinite(to_f32)
    params = jnp.ones(3, jnp.bfloat16)
    state = opt.init(params)
    for g in (jnp.ones(3, jnp.bfloat16), jnp.array([1, jnp.nan, 1], jnp.bfloat16)):
        out, state = opt.update(g, state, params)
        assert out.dtype == jnp.float32
    assert int(state.skipped) == 1 and not bool(state.last_finite)
