"""Floating-point dtypes: float32 by default, as in torch; float64 end to end on request."""

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype):
    """Set the dtype that new parameters get (float32 or float64), like ``torch.set_default_dtype``."""
    global _default_dtype
    _default_dtype = as_float_dtype(dtype)


def get_default_dtype():
    return _default_dtype


def as_float_dtype(dtype):
    """``dtype`` as a NumPy float32/float64 dtype; ``None`` means the default dtype."""
    if dtype is None:
        return _default_dtype
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"expected dtype float32 or float64, got {dtype!r}")
    return resolved
