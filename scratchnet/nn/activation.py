"""Element-wise activations and softmax, each with its derivative beside it.

For an element-wise y = f(x), backward is dL/dx = dL/dy * f'(x).
"""

import numpy as np

from scratchnet._checks import check_float
from scratchnet.nn import functional as F
from scratchnet.nn.module import Module


class ReLU(Module):
    """y = max(x, 0);   dy/dx = 1 where x > 0, else 0 (torch's choice at x = 0)."""

    def forward(self, x):
        check_float(x, "ReLU input")
        self._positive = x > 0
        return F.relu(x)

    def backward(self, grad_output):
        return grad_output * self._positive


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)) (stable form);   dy/dx = y (1 - y)."""

    def forward(self, x):
        check_float(x, "Sigmoid input")
        self._y = F.sigmoid(x)
        return self._y

    def backward(self, grad_output):
        y = self._y
        return grad_output * y * (1 - y)


class Tanh(Module):
    """y = tanh(x);   dy/dx = 1 - y^2."""

    def forward(self, x):
        check_float(x, "Tanh input")
        self._y = np.tanh(x)
        return self._y

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
        return self._y

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
        return self._y

    def backward(self, grad_output):
        return grad_output - np.exp(self._y) * grad_output.sum(axis=self._dim, keepdims=True)

    def extra_repr(self):
        return f"dim={self.dim}"
