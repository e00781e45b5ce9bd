"""One check called first in a layer's backward: grad_output must be dL/d(the output of the last forward).

A layer's forward records its output's shape as ``self._y_shape``; ``check_grad_output`` refuses a
backward before any forward, and a gradient of another shape (a transposed one included), which a
reshape or a slice would otherwise accept silently. (A candidate for ``scratchnet.nn.module``.)
"""

import numpy as np

from scratchnet._checks import shape_str


def check_grad_output(module, grad_output):
    """Refuse a backward before forward (RuntimeError) or a grad_output not of the output's shape (ValueError)."""
    name = type(module).__name__
    expected = module.__dict__.get("_y_shape")
    if expected is None:
        raise RuntimeError(f"{name}.backward called before forward: call forward first, then backward "
                           f"with dL/d(its output)")
    if not isinstance(grad_output, np.ndarray):
        raise TypeError(f"{name}.backward expected grad_output to be a numpy.ndarray of shape "
                        f"{shape_str(expected)}, got {type(grad_output).__name__}")
    if grad_output.shape != tuple(expected):
        raise ValueError(f"{name}.backward expected grad_output of the output's shape {shape_str(expected)}, "
                         f"got {shape_str(grad_output.shape)}")
