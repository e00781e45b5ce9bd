"""The check every backward runs first: forward came before it, and grad_output has the output's shape.

A layer records ``self._output_shape = y.shape`` in forward; ``check_grad_output(self, grad_output)`` is
then the first line of its backward. (It could live on ``Module`` itself; it sits here so that only the
layers that call it depend on it.)
"""

import numpy as np

from scratchnet._checks import shape_str


def check_grad_output(module, grad_output):
    """Refuse a backward before any forward (RuntimeError) or a grad_output not of the output's shape
    (ValueError, naming both shapes): numpy would otherwise broadcast it into wrong gradients."""
    name = type(module).__name__
    expected = getattr(module, "_output_shape", None)
    if expected is None:
        raise RuntimeError(f"{name}.backward was called before forward: run forward first, backward uses what "
                           "forward saved")
    if not isinstance(grad_output, np.ndarray):
        raise TypeError(f"{name}.backward expected grad_output to be a numpy.ndarray, got {type(grad_output).__name__}")
    if grad_output.shape != expected:
        raise ValueError(f"{name}.backward expected grad_output of the output's shape {shape_str(expected)}, "
                         f"got {shape_str(grad_output.shape)}")
    return grad_output
