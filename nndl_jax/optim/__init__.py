"""Hand-written optimizers, schedules and gradient transforms, verified against optax.

Every optimizer is an optax-compatible ``GradientTransformation(init, update)`` with
``update(grads, state, params=None) -> (updates, state)``; apply the result with
``apply_updates``. Public optimizers are chains of small transforms with the learning-rate
scaling last (``adam = chain(scale_by_adam(...), scale_by_learning_rate(α))``), so they compose
with each other and with optax's. The update rules are written from the book's formulas; optax
is only the reference that ``nndl_jax.verify`` compares them with, step by step.

Every ``learning_rate`` is a number or a schedule ``count -> rate`` (``nndl_jax.optim.schedules``);
the first update uses ``count = 0``, as in optax.

>>> import jax.numpy as jnp
>>> from nndl_jax import optim
>>> params = {"w": jnp.ones(3)}
>>> opt = optim.adam(1e-3)
>>> state = opt.init(params)
>>> updates, state = opt.update({"w": jnp.ones(3)}, state, params)
>>> params = optim.apply_updates(params, updates)
"""

from nndl_jax.optim import schedules as schedules
from nndl_jax.optim._adadelta import (
    AdadeltaState as AdadeltaState,
    adadelta as adadelta,
    scale_by_adadelta as scale_by_adadelta,
)
from nndl_jax.optim._adagrad import (
    AdagradState as AdagradState,
    adagrad as adagrad,
    scale_by_rss as scale_by_rss,
)
from nndl_jax.optim._adam import (
    AdamState as AdamState,
    adam as adam,
    nadam as nadam,
    scale_by_adam as scale_by_adam,
)
from nndl_jax.optim._adamw import adamw as adamw
from nndl_jax.optim._amsgrad import (
    AmsgradState as AmsgradState,
    amsgrad as amsgrad,
    scale_by_amsgrad as scale_by_amsgrad,
)
from nndl_jax.optim._base import (
    EmptyState as EmptyState,
    GradientTransformation as GradientTransformation,
    ScalarOrSchedule as ScalarOrSchedule,
    Schedule as Schedule,
    ScheduleState as ScheduleState,
)
from nndl_jax.optim._chain import apply_updates as apply_updates, chain as chain
from nndl_jax.optim._clipping import (
    clip_by_global_norm as clip_by_global_norm,
    clip_by_norm as clip_by_norm,
    clip_by_value as clip_by_value,
    l2_norm as l2_norm,
)
from nndl_jax.optim._flatten import flatten as flatten, ravel as ravel, unravel_like as unravel_like
from nndl_jax.optim._momentum import (
    MomentumState as MomentumState,
    momentum as momentum,
    nesterov as nesterov,
    scale_by_momentum as scale_by_momentum,
)
from nndl_jax.optim._rmsprop import (
    RMSPropState as RMSPropState,
    rmsprop as rmsprop,
    scale_by_rms as scale_by_rms,
)
from nndl_jax.optim._scale import (
    scale as scale,
    scale_by_learning_rate as scale_by_learning_rate,
    scale_by_schedule as scale_by_schedule,
)
from nndl_jax.optim._sgd import TraceState as TraceState, sgd as sgd, trace as trace
from nndl_jax.optim._skip_nonfinite import (
    SkipNonfiniteState as SkipNonfiniteState,
    skip_nonfinite as skip_nonfinite,
)
from nndl_jax.optim._weight_decay import add_decayed_weights as add_decayed_weights
from nndl_jax.optim.flat_training import (
    RavelTrainer as RavelTrainer,
    ravel_training as ravel_training,
)
