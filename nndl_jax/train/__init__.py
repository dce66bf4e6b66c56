"""Training: manual backpropagation, initialization diagnostics, the training loop, checkpoints."""

from nndl_jax.train.backprop import (
    MLPCache as MLPCache,
    mlp_activations as mlp_activations,
    mlp_as_layer as mlp_as_layer,
    mlp_forward as mlp_forward,
    mlp_from_params as mlp_from_params,
    mlp_grad_fn as mlp_grad_fn,
    mlp_grads as mlp_grads,
    mlp_init as mlp_init,
    mlp_losses as mlp_losses,
)
from nndl_jax.train.initialization import hidden_unit_spread as hidden_unit_spread
