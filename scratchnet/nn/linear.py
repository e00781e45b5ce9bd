"""Linear (fully connected) layer: the lecture's ``z = W x + b``, for a batch of rows ``Z = X W^T + b``."""

import math

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet._random import default_generator
from scratchnet.nn.module import Module, Parameter


def init_uniform(shape, bound, dtype):
    """Draw U(-bound, bound) from scratchnet's seeded generator (in float64, then cast)."""
    return default_generator().uniform(-bound, bound, size=shape).astype(dtype)


class Linear(Module):
    r"""Applies ``z = x W^T + b`` to the last dimension of ``x``.

    Shapes: x (N, in_features) (or (*, in_features)), W (out_features, in_features),
    b (out_features,), z (N, out_features).

    Init (torch's default): W, b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Backward, with g = dL/dz of shape (N, out_features):
        dW = g^T x        (out, in)   -- each weight's gradient sums over the batch
        db = sum_n g_n    (out,)    = 1^T g
        dx = g W          (N, in)
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Linear expected a non-negative integer {name}, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = as_float_dtype(dtype)
        bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = Parameter(init_uniform((out_features, in_features), bound, dtype))
        if bias:
            self.bias = Parameter(init_uniform((out_features,), bound, dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        check_float(x, "Linear input", self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expected input of shape "
                f"(N, {self.in_features}), got {shape_str(x.shape)}"
            )
        self._x = x
        z = x @ self.weight.data.T
        if self.bias is not None:
            z += self.bias.data
        return z

    def backward(self, grad_output):
        x = self._x
        rows = math.prod(x.shape[:-1])  # the batch (and any leading dimensions); -1 cannot infer it for a 0-wide layer
        x2d = x.reshape(rows, self.in_features)
        g2d = grad_output.reshape(rows, self.out_features)
        self.weight.accumulate_grad(g2d.T @ x2d)  # dW = g^T x
        if self.bias is not None:
            # db = sum over the batch of g, written as 1^T g: a BLAS matrix-vector product,
            # several times faster than g.sum(axis=0) for the tall-thin g of a training batch.
            ones = np.ones(g2d.shape[0], dtype=g2d.dtype)
            self.bias.accumulate_grad(ones @ g2d)
        return grad_output @ self.weight.data  # dx = g W

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged; backward passes the gradient through."""

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output
