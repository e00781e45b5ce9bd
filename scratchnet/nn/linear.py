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


class Bilinear(Module):
    r"""Applies ``y_k = x1^T A_k x2 + b_k`` to the last dimensions of ``x1`` and ``x2``.

    Shapes: x1 (N, in1_features), x2 (N, in2_features) (or both (*, in) with the same *, or unbatched
    (in,)), A = weight (out_features, in1_features, in2_features), b (out_features,), y (N, out_features):

        y_nk = sum_ij x1_ni A_kij x2_nj + b_k

    Init (torch's): A, b ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)).

    Backward, with g = dL/dy (N, out_features), each line the derivative of y_nk in one factor:
        dA_kij = sum_n g_nk x1_ni x2_nj
        db_k   = sum_n g_nk
        dx1_ni = sum_kj g_nk A_kij x2_nj
        dx2_nj = sum_ki g_nk x1_ni A_kij
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, dtype=None):
        super().__init__()
        for name, value in (("in2_features", in2_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Bilinear expected a non-negative integer {name}, got {value!r}")
        if isinstance(in1_features, bool) or not isinstance(in1_features, (int, np.integer)) or in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features={in1_features!r})")
        self.in1_features, self.in2_features = int(in1_features), int(in2_features)
        self.out_features = int(out_features)
        dtype = as_float_dtype(dtype)
        bound = 1 / math.sqrt(self.in1_features)
        self.weight = Parameter(init_uniform((self.out_features, self.in1_features, self.in2_features), bound, dtype))
        if bias:
            self.bias = Parameter(init_uniform((self.out_features,), bound, dtype))
        else:
            self.register_parameter("bias", None)

    def _check(self, x1, x2):
        check_float(x1, "Bilinear input1", self.weight.dtype)
        check_float(x2, "Bilinear input2", self.weight.dtype)
        expected = f"(N, {self.in1_features}) and (N, {self.in2_features})"
        if (x1.ndim == 0 or x1.shape[:-1] != x2.shape[:-1] or x1.shape[-1] != self.in1_features
                or x2.shape[-1] != self.in2_features):
            raise ValueError(f"{self} expected inputs of shapes {expected} (the same leading dimensions), "
                             f"got {shape_str(x1.shape)} and {shape_str(x2.shape)}")
        if self.in2_features == 0:  # torch cannot run it either
            raise ValueError(f"{self} cannot run with in2_features=0")

    def forward(self, input1, input2):
        x1, x2 = input1, input2  # torch's argument names
        self._check(x1, x2)
        self._x1, self._x2 = x1, x2
        y = np.einsum("...i,kij,...j->...k", x1, self.weight.data, x2)  # y_nk = sum_ij x1_ni A_kij x2_nj
        if self.bias is not None:
            y = y + self.bias.data
        return y

    def backward(self, grad_output):
        x1, x2, A, g = self._x1, self._x2, self.weight.data, grad_output
        rows = math.prod(g.shape[:-1])  # n runs over the batch (and any leading dimensions)
        g_n, x1_n, x2_n = (a.reshape(rows, a.shape[-1]) for a in (g, x1, x2))
        self.weight.accumulate_grad(np.einsum("nk,ni,nj->kij", g_n, x1_n, x2_n))  # dA_kij = sum_n g_nk x1_ni x2_nj
        if self.bias is not None:
            self.bias.accumulate_grad(g_n.sum(axis=0))                           # db_k = sum_n g_nk
        dx1 = np.einsum("...k,kij,...j->...i", g, A, x2)  # dx1_ni = sum_kj g_nk A_kij x2_nj
        dx2 = np.einsum("...k,...i,kij->...j", g, x1, A)  # dx2_nj = sum_ki g_nk x1_ni A_kij
        return dx1, dx2

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
