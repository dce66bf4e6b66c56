"""The verification registry: every component checked against an independent reference.

A check is a function that computes our result and the reference's on fixed inputs and returns
the error statistic (usually the maximum absolute difference). It registers with a tolerance for
float32 and one for float64; ``nndl-jax verify --x64`` runs the suite with ``jax_enable_x64``.

Checks live in the modules of this package, one per area (``verify/activations.py``, ...), and
import their references (optax, flax, scikit-learn) inside the check so that importing the
library stays fast. ``load_all()`` imports every such module.

>>> from nndl_jax import verify
>>> @verify.check("demo.square", reference="closed form", tol=0.0)
... def _square():
...     return abs(3.0 ** 2 - 9.0)
"""

from nndl_jax.verify._registry import (
    Check as Check,
    Result as Result,
    check as check,
    checks as checks,
    float_dtype as float_dtype,
    load_all as load_all,
    max_abs_diff as max_abs_diff,
    run_checks as run_checks,
    run_one as run_one,
    x64_enabled as x64_enabled,
)
