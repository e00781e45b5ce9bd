"""Activations and softmax, each with its derivative beside it, named and defaulted as in ``torch.nn``.

For an element-wise y = f(x), backward is dL/dx = dL/dy * f'(x). Shapes: any; y has x's shape.
Each forward keeps what its derivative needs (the input, the output, or a mask).
"""

import math

import numpy as np

from scratchnet._checks import check_float
from scratchnet.nn import functional as F
from scratchnet.nn.module import Module, read_only


class ReLU(Module):
    """y = max(x, 0);   dy/dx = 1 where x > 0, else 0 (torch's choice at x = 0)."""

    def forward(self, x):
        check_float(x, "ReLU input")
        self._positive = x > 0
        return F.relu(x)

    def backward(self, grad_output):
        return grad_output * self._positive


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x;   dy/dx = 1 if x > 0 else negative_slope."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        check_float(x, "LeakyReLU input")
        self._positive = x > 0
        return F.leaky_relu(x, self.negative_slope)

    def backward(self, grad_output):
        return np.where(self._positive, grad_output, grad_output * self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """y = x if x > 0 else alpha (exp(x) - 1);   dy/dx = 1 if x > 0 else alpha exp(x)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        check_float(x, "ELU input")
        self._x = x
        return F.elu(x, self.alpha)

    def backward(self, grad_output):
        x = self._x
        return np.where(x > 0, grad_output, grad_output * self.alpha * np.exp(np.minimum(x, 0)))

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Module):
    r"""Gaussian error linear unit, y = x Phi(x), Phi the standard normal CDF.

    'none' (exact):  Phi(x) = (1 + erf(x / sqrt 2)) / 2
                     dy/dx  = Phi(x) + x phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    'tanh':          y      = x/2 (1 + tanh(u)),   u = sqrt(2/pi) (x + 0.044715 x^3)
                     dy/dx  = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        check_float(x, "GELU input")
        self._x = x
        return F.gelu(x, self.approximate)

    def backward(self, grad_output):
        x = self._x
        if self.approximate == "tanh":
            tanh_u = np.tanh(F._GELU_TANH_SCALE * (x + F._GELU_TANH_CUBIC * x * x * x))
            du_dx = F._GELU_TANH_SCALE * (1 + 3 * F._GELU_TANH_CUBIC * x * x)
            return grad_output * (0.5 * (1 + tanh_u) + 0.5 * x * (1 - tanh_u * tanh_u) * du_dx)
        cdf = 0.5 * (1 + F.erf(x * F._SQRT_HALF))
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return grad_output * (cdf + x * pdf)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """y = x sigmoid(x) (also called swish);   dy/dx = s (1 + x (1 - s)),  s = sigmoid(x)."""

    def forward(self, x):
        check_float(x, "SiLU input")
        self._x, self._s = x, F.sigmoid(x)
        return x * self._s

    def backward(self, grad_output):
        x, s = self._x, self._s
        return grad_output * s * (1 + x * (1 - s))


class Softplus(Module):
    """y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold (torch's linear regime).

    dy/dx = sigmoid(beta x), and 1 where beta x > threshold. Computed as
    max(bx, 0) + log1p(exp(-|bx|)), which stays finite where exp(bx) alone would overflow.
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, x):
        check_float(x, "Softplus input")
        self._x = x
        return F.softplus(x, self.beta, self.threshold)

    def backward(self, grad_output):
        bx = self._x * self.beta
        return np.where(bx > self.threshold, grad_output, grad_output * F.sigmoid(bx))

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)) (stable form);   dy/dx = y (1 - y)."""

    def forward(self, x):
        check_float(x, "Sigmoid input")
        self._y = F.sigmoid(x)
        return read_only(self._y)

    def backward(self, grad_output):
        y = self._y
        return grad_output * y * (1 - y)


class Tanh(Module):
    """y = tanh(x);   dy/dx = 1 - y^2."""

    def forward(self, x):
        check_float(x, "Tanh input")
        self._y = np.tanh(x)
        return read_only(self._y)

    def backward(self, grad_output):
        y = self._y
        return grad_output * (1 - y * y)


class Softmax(Module):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``dim``;   dL/dx = y * (g - sum_j g_j y_j)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        check_float(x, "Softmax input")
        self._dim = F.softmax_dim(self.dim, x.ndim)
        self._y = F.softmax(x, self._dim)
        return read_only(self._y)

    def backward(self, grad_output):
        y = self._y
        return y * (grad_output - (grad_output * y).sum(axis=self._dim, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y_i = x_i - log sum_j exp(x_j) along ``dim``;   dL/dx = g - softmax(x) * sum_j g_j."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        check_float(x, "LogSoftmax input")
        self._dim = F.softmax_dim(self.dim, x.ndim)
        self._y = F.log_softmax(x, self._dim)
        return read_only(self._y)

    def backward(self, grad_output):
        return grad_output - np.exp(self._y) * grad_output.sum(axis=self._dim, keepdims=True)

    def extra_repr(self):
        return f"dim={self.dim}"
