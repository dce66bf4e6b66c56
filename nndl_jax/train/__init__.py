"""Training: manual backpropagation, initialization diagnostics, the training loop, checkpoints."""

from nndl_jax.train import (
    augment as augment,
    history as history,
    regularization as regularization,
)
from nndl_jax.train.augment import image_augmenter as image_augmenter
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
from nndl_jax.train.epoch import (
    EpochStats as EpochStats,
    TrainState as TrainState,
    make_epoch as make_epoch,
    make_evaluate as make_evaluate,
    make_train_step as make_train_step,
)
from nndl_jax.train.initialization import hidden_unit_spread as hidden_unit_spread
from nndl_jax.train.loop import (
    FitResult as FitResult,
    evaluate as evaluate,
    fit as fit,
    make_optimizer as make_optimizer,
    optimizer_names as optimizer_names,
)
from nndl_jax.train.regularization import penalty as penalty, penalty_grad as penalty_grad
