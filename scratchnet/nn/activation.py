"""Activations and softmax, each with its derivative beside it, named and defaulted as in ``torch.nn``.

For an element-wise y = f(x), backward is dL/dx = dL/dy * f'(x) = g f'(x). Shapes: any; y has x's shape.
Each forward keeps what its derivative needs (the input, the output, or a mask). At a kink, where
the two one-sided derivatives differ, each layer takes torch's choice (named in its docstring).

A 0-d input gives a 0-d ndarray output and gradient, as torch gives 0-d tensors; NumPy's ufuncs
turn a 0-d array into a scalar, hence the ``np.asarray`` around the returns that come from one.
``inplace=True`` is accepted where torch takes it, and computes out of place: the input is never
written (a deliberate difference from torch, whose in-place forms overwrite it).
"""

import math
import warnings

import numpy as np

from scratchnet._checks import check_float
from scratchnet._dtype import as_float_dtype
from scratchnet.nn import functional as F
from scratchnet.nn.module import Module, Parameter, read_only


def _inplace_repr(inplace, separator=", "):
    """torch names ``inplace`` in a repr only when it is True."""
    return f"{separator}inplace=True" if inplace else ""


class ReLU(Module):
    """y = max(x, 0);   dy/dx = 1 where x > 0, else 0 (torch's choice at x = 0)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "ReLU input")
        self._positive = x > 0
        return F.relu(x)

    def backward(self, grad_output):
        return np.asarray(grad_output * self._positive)

    def extra_repr(self):
        return _inplace_repr(self.inplace, "")


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x;   dy/dx = 1 if x > 0 else negative_slope."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "LeakyReLU input")
        self._positive = x > 0
        return F.leaky_relu(x, self.negative_slope)

    def backward(self, grad_output):
        return np.where(self._positive, grad_output, grad_output * self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_repr(self.inplace)}"


class ELU(Module):
    """y = x if x > 0 else alpha (exp(x) - 1);   dy/dx = 1 if x > 0 else alpha exp(x)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = float(alpha)
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "ELU input")
        self._x = x
        return F.elu(x, self.alpha)

    def backward(self, grad_output):
        x = self._x
        return np.where(x > 0, grad_output, grad_output * self.alpha * np.exp(np.minimum(x, 0)))

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_repr(self.inplace)}"


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
            return np.asarray(grad_output * (0.5 * (1 + tanh_u) + 0.5 * x * (1 - tanh_u * tanh_u) * du_dx))
        cdf = 0.5 * (1 + F.erf(x * F._SQRT_HALF))
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return np.asarray(grad_output * (cdf + x * pdf))

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """y = x sigmoid(x) (also called swish);   dy/dx = s (1 + x (1 - s)),  s = sigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "SiLU input")
        self._x, self._s = x, F.sigmoid(x)
        return np.asarray(x * self._s)

    def backward(self, grad_output):
        x, s = self._x, self._s
        return np.asarray(grad_output * s * (1 + x * (1 - s)))

    def extra_repr(self):
        return _inplace_repr(self.inplace, "")


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
        return np.asarray(grad_output * y * (1 - y))


class Tanh(Module):
    """y = tanh(x);   dy/dx = 1 - y^2."""

    def forward(self, x):
        check_float(x, "Tanh input")
        self._y = F.tanh(x)
        return read_only(self._y)

    def backward(self, grad_output):
        y = self._y
        return np.asarray(grad_output * (1 - y * y))


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
        return np.asarray(y * (grad_output - (grad_output * y).sum(axis=self._dim, keepdims=True)))

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
        return np.asarray(grad_output - np.exp(self._y) * np.sum(grad_output, axis=self._dim, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Module):
    """y = softmax(-x) along ``dim``;   dL/dx = -y * (g - sum_j g_j y_j)   (Softmax's rule, times d(-x)/dx = -1)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        check_float(x, "Softmin input")
        self._dim = F.softmax_dim(self.dim, x.ndim)
        self._y = F.softmin(x, self._dim)
        return read_only(self._y)

    def backward(self, grad_output):
        y = self._y
        return np.asarray(-y * (grad_output - (grad_output * y).sum(axis=self._dim, keepdims=True)))

    def extra_repr(self):
        return f"dim={self.dim}"


# -- piecewise-linear ------------------------------------------------------------------------------

class Hardtanh(Module):
    """y = min(max(x, min_val), max_val);   dy/dx = 1 where min_val < x < max_val, else 0 (torch's choice at both ends).

    ``min_value`` and ``max_value`` are torch's deprecated spellings of ``min_val`` and ``max_val``.
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`", FutureWarning, 2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`", FutureWarning, 2)
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(f"{type(self).__name__}: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = float(min_val)
        self.max_val = float(max_val)
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, f"{type(self).__name__} input")
        self._flat = (x <= self.min_val) | (x >= self.max_val)
        return F.hardtanh(x, self.min_val, self.max_val)

    def backward(self, grad_output):
        return np.where(self._flat, 0.0, grad_output)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_repr(self.inplace)}"


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6) = Hardtanh(0, 6);   dy/dx = 1 where 0 < x < 6, else 0 (torch's choice at 0 and 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace, "")


class Hardsigmoid(Module):
    """y = min(max(x + 3, 0), 6) / 6;   dy/dx = 1/6 where -3 < x < 3, else 0 (torch's choice at -3 and 3).

    torch's kernel writes 1/6 as the float32 constant 1.0f / 6.0f, also in float64 (a relative 3e-8 from 1/6);
    so does ONE_SIXTH here, so the gradients agree to the last digit.
    """

    ONE_SIXTH = float(np.float32(1) / np.float32(6))

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "Hardsigmoid input")
        self._x = x
        return F.hardsigmoid(x)

    def backward(self, grad_output):
        x = self._x
        return np.where((x > -3) & (x < 3), grad_output * self.ONE_SIXTH, 0.0)


class Hardswish(Module):
    """y = x min(max(x + 3, 0), 6) / 6;   dy/dx = 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3.

    At x = -3 (one-sided derivatives 0 and -1/2) and x = 3 (3/2 and 1) torch takes the outer piece, as here.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "Hardswish input")
        self._x = x
        return F.hardswish(x)

    def backward(self, grad_output):
        x = self._x
        return np.where(x <= -3, 0.0, np.where(x < 3, grad_output * (x / 3 + 0.5), grad_output))


class Threshold(Module):
    """y = x if x > threshold else value;   dy/dx = 1 where x > threshold, else 0."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = float(threshold)
        self.value = float(value)
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "Threshold input")
        self._replaced = x <= self.threshold
        return F.threshold(x, self.threshold, self.value)

    def backward(self, grad_output):
        return np.where(self._replaced, 0.0, grad_output)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}{_inplace_repr(self.inplace)}"


class Hardshrink(Module):
    """y = 0 where -lambd <= x <= lambd, else x;   dy/dx = 0 there (torch's choice at +-lambd), else 1."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = float(lambd)

    def forward(self, x):
        check_float(x, "Hardshrink input")
        self._zeroed = (x >= -self.lambd) & (x <= self.lambd)
        return F.hardshrink(x, self.lambd)

    def backward(self, grad_output):
        return np.where(self._zeroed, 0.0, grad_output)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Module):
    """y = x - lambd if x > lambd, x + lambd if x < -lambd, else 0;
    dy/dx = 0 where |x| <= lambd (torch's choice at +-lambd), else 1.

    lambd must be >= 0 (torch refuses a negative one when called; here at construction).
    """

    def __init__(self, lambd=0.5):
        super().__init__()
        F.check_softshrink_lambd(lambd)
        self.lambd = float(lambd)

    def forward(self, x):
        check_float(x, "Softshrink input")
        self._zeroed = (x >= -self.lambd) & (x <= self.lambd)
        return F.softshrink(x, self.lambd)

    def backward(self, grad_output):
        return np.where(self._zeroed, 0.0, grad_output)

    def extra_repr(self):
        return f"{self.lambd}"


class PReLU(Module):
    """y = x if x > 0 else a x, a = ``weight``: one slope, or one per channel (dim 1);
    dL/dx = g if x > 0 else a g (torch's choice at x = 0);   dL/da = sum of g * (0 if x > 0 else x)
    over every axis a is broadcast along.

    Shapes: x (*) with num_parameters = 1, else (N, C, *) with C = num_parameters; weight (num_parameters,),
    every entry ``init``.
    """

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, (int, np.integer)) or num_parameters < 0:
            raise ValueError(f"PReLU expected a non-negative integer num_parameters, got {num_parameters!r}")
        self.num_parameters = int(num_parameters)
        self.init = float(init)
        self.weight = Parameter(np.full(self.num_parameters, self.init, dtype=as_float_dtype(dtype)))

    def forward(self, x):
        check_float(x, "PReLU input", self.weight.dtype)
        F.check_prelu_input(x.shape, self.num_parameters)
        self._x, self._a = x, F.prelu_weight(self.weight.data, x.ndim)
        return np.where(x > 0, x, self._a * x)

    def backward(self, grad_output):
        x, a = self._x, self._a
        broadcast_axes = tuple(axis for axis in range(x.ndim) if a.shape[axis] == 1)
        da = np.where(x > 0, 0.0, grad_output * x).sum(axis=broadcast_axes)
        self.weight.accumulate_grad(np.reshape(da, self.weight.shape))
        return np.where(x > 0, grad_output, a * grad_output)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


# -- smooth ----------------------------------------------------------------------------------------

class SELU(Module):
    """y = scale x if x > 0 else scale alpha (exp(x) - 1);   dy/dx = scale if x > 0 else scale alpha exp(x).

    alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946 (torch's constants);
    at x = 0, torch's choice is the exponential piece, scale alpha.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "SELU input")
        self._x = x
        return F.selu(x)

    def backward(self, grad_output):
        x = self._x
        return np.where(x > 0, grad_output * F._SELU_SCALE,
                        grad_output * F._SELU_SCALE * F._SELU_ALPHA * np.exp(np.minimum(x, 0)))

    def extra_repr(self):
        return _inplace_repr(self.inplace, "")


class CELU(Module):
    """y = x if x > 0 else alpha (exp(x / alpha) - 1);   dy/dx = 1 if x > 0 else exp(x / alpha) (both 1 at 0).

    alpha must not be 0 (torch refuses it when called; here at construction).
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        F.check_celu_alpha(alpha)
        self.alpha = float(alpha)
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "CELU input")
        self._x = x
        return F.celu(x, self.alpha)

    def backward(self, grad_output):
        x = self._x
        return np.where(x > 0, grad_output, grad_output * np.exp(np.minimum(x, 0) / self.alpha))

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_repr(self.inplace)}"


class Mish(Module):
    """y = x tanh(softplus(x));   dy/dx = t + x s (1 - t^2),  t = tanh(softplus(x)), s = sigmoid(x) = softplus'(x).

    softplus(x) = log(1 + exp(x)) is computed as max(x, 0) + log1p(exp(-|x|)), finite for every finite x.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        check_float(x, "Mish input")
        self._x, self._t = x, np.tanh(F.log1p_exp(x))
        return np.asarray(x * self._t)

    def backward(self, grad_output):
        x, t = self._x, self._t
        return np.asarray(grad_output * (t + x * F.sigmoid(x) * (1 - t * t)))

    def extra_repr(self):
        return _inplace_repr(self.inplace, "")


class LogSigmoid(Module):
    """y = log sigmoid(x) = -log(1 + exp(-x));   dy/dx = 1 - sigmoid(x) = sigmoid(-x)."""

    def forward(self, x):
        check_float(x, "LogSigmoid input")
        self._x = x
        return F.log_sigmoid(x)

    def backward(self, grad_output):
        return np.asarray(grad_output * F.sigmoid(-self._x))


class Softsign(Module):
    """y = x / (1 + |x|);   dy/dx = 1 / (1 + |x|)^2."""

    def forward(self, x):
        check_float(x, "Softsign input")
        self._x = x
        return F.softsign(x)

    def backward(self, grad_output):
        one_plus_abs = 1 + np.abs(self._x)
        return np.asarray(grad_output / (one_plus_abs * one_plus_abs))


class Tanhshrink(Module):
    """y = x - tanh(x);   dy/dx = 1 - (1 - tanh^2 x) = tanh^2 x."""

    def forward(self, x):
        check_float(x, "Tanhshrink input")
        self._t = np.tanh(x)
        return np.asarray(x - self._t)

    def backward(self, grad_output):
        t = self._t
        return np.asarray(grad_output * t * t)


class GLU(Module):
    """y = a * s with a, b the first and second halves of x along ``dim``, s = sigmoid(b);
    dL/da = g s,   dL/db = g a s (1 - s),   dL/dx = [dL/da, dL/db] joined along ``dim``.

    Shapes: x (*, 2H, *) -> y (*, H, *), halving dimension ``dim`` (whose size must be even).
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        check_float(x, "GLU input")
        self._axis = F.glu_axis(x.shape, self.dim)
        a, b = np.split(x, 2, axis=self._axis)
        self._a, self._s = a, F.sigmoid(b)
        return np.asarray(a * self._s)

    def backward(self, grad_output):
        a, s = self._a, self._s
        grad_a = grad_output * s
        grad_b = grad_output * a * s * (1 - s)
        return np.concatenate([grad_a, grad_b], axis=self._axis)

    def extra_repr(self):
        return f"dim={self.dim}"
