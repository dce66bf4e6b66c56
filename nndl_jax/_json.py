"""JSON that strict parsers accept: NumPy and JAX values as Python numbers, NaN and Inf as null."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays and JAX arrays made Python numbers and lists, and
    non-finite floats made None.

    ``json.dumps`` writes NaN as a bare ``NaN``, which is not JSON; reports and results files
    pass through here first.
    """
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if hasattr(value, "__array__") and hasattr(value, "dtype"):  # a JAX array left on device
        return jsonable(np.asarray(value))
    return value
