"""Input checks shared by every layer, loss and loop.

Each check raises before any state changes, with a message that names what was
given and what was expected, in the style of scikit-learn's ``check_X_y``.
They are cheap (dtype, ndim and shape look-ups) so layers can run them on every
call; the O(n) finiteness scan is done once per dataset by the training loop.
"""

import numpy as np

from scratchnet._dtype import FLOAT_DTYPES


def shape_str(shape):
    """``(4, 3)`` for a shape tuple, matching how torch prints sizes in errors."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_array(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    return x


def check_float(x, name, dtype=None):
    """``x`` is a float32/float64 ndarray, and of ``dtype`` when given (no silent casting)."""
    check_array(x, name)
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but the parameters are {dtype}; "
            f"convert it with x.astype(np.{dtype}) or the model with .{'double' if dtype == np.float64 else 'float'}()"
        )
    return x


def check_finite(x, name):
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return x


def check_dataset(X, y, name="X"):
    """A training or test set: non-empty float features, finite, one label per row."""
    check_float(X, name)
    check_array(y, "y")
    if X.ndim < 2:
        raise ValueError(f"{name} must have shape (N, features...), got {shape_str(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one sample, got shape {shape_str(X.shape)}")
    if y.shape[:1] != X.shape[:1]:
        raise ValueError(f"{name} has {X.shape[0]} samples but y has shape {shape_str(y.shape)}; expected ({X.shape[0]},)")
    check_finite(X, name)
    if y.dtype.kind == "f":
        check_finite(y, "y")
    return X, y
