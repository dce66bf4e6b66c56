"""Data: scikit-learn's bundled data sets, synthetic tasks, and on-device minibatches.

* :func:`load` ``("digits" | "iris" | "breast_cancer" | "wine")`` returns a :class:`Dataset`
  with stratified train/validation/test :class:`Split` s, scaled with training statistics.
* Generators, pure functions of a PRNG key: :func:`two_moons`, :func:`adding_problem`,
  :func:`digit_sum` (the book's memory task), :func:`sinusoid_tasks` (MAML's regression tasks).
* :func:`minibatch_indices`, :func:`batches` and :func:`shuffle` cut an epoch into equal,
  masked batches inside ``jit`` so that a ``lax.scan`` trains a whole epoch in one program.

>>> import jax
>>> from nndl_jax import data
>>> ds = data.load("digits", standardize="minmax")
>>> xb, yb, mask = data.batches(jax.random.key(0), ds.train.x, ds.train.y, 128)
"""

from nndl_jax.data._batching import (
    batches as batches,
    minibatch_indices as minibatch_indices,
    num_batches as num_batches,
    shuffle as shuffle,
)
from nndl_jax.data._bundled import (
    Dataset as Dataset,
    Split as Split,
    load as load,
    names as names,
    stratified_split as stratified_split,
)
from nndl_jax.data._synthetic import (
    DIGIT_SUM_NUM_CLASSES as DIGIT_SUM_NUM_CLASSES,
    SinusoidTasks as SinusoidTasks,
    adding_problem as adding_problem,
    digit_sum as digit_sum,
    sinusoid as sinusoid,
    sinusoid_tasks as sinusoid_tasks,
    two_moons as two_moons,
)
