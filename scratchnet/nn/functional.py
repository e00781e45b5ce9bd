"""Numerically stable functions that the layers and losses are built from.

Each is written so that large finite inputs (logits of +-1e4) give finite
results, as torch's kernels do:

- softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m),   m = max_j x_j
- log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)   (log-sum-exp)
- sigmoid(x)       = 1 / (1 + exp(-x)), evaluated through exp(-|x|), which never overflows
- log1p_exp(x)     = max(x, 0) + log1p(exp(-|x|))          (= log(1 + exp(x)), never overflows)
- log_sigmoid(x)   = -log1p_exp(-x) = min(x, 0) - log1p(exp(-|x|))
- softplus(x)      = log1p_exp(x)                          (with torch's beta and threshold)
- mish(x)          = x tanh(log1p_exp(x))
- erf(x)           W. J. Cody's rational Chebyshev approximations, float64-accurate

Every function keeps its input's dtype: constants are Python floats, which NumPy 2
treats as "weak" scalars (float32 stays float32). Every function returns an ndarray, a
0-d one for a 0-d input as torch returns a 0-d tensor: NumPy's ufuncs turn a 0-d array into
a scalar (np.tanh(np.array(0.5)) is an np.float64), hence the ``np.asarray`` on those returns.

``inplace`` is accepted wherever torch's function takes it and changes nothing: the result
is always a new array and the input is never written (a deliberate difference from torch).
"""

import math

import numpy as np

from scratchnet._checks import shape_str


def softmax_dim(dim, ndim):
    """The axis softmax reduces over: ``dim``, or torch's choice when it is None (a deprecated form).

    A 0-d input is its own one-element distribution: the axis is None (reduce over everything).
    """
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"dim {dim} is out of range for an input with {ndim} dimensions")
    return dim if ndim else None


def softmax(x, dim=None):
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) along ``dim``, m = max_j x_j.

    Equal to exp(x_i) / sum_j exp(x_j); the shift by m makes every exponent <= 0 (no overflow)
    and the largest term exactly 1 (the sum is never 0).
    """
    axis = softmax_dim(dim, x.ndim)
    exp = np.exp(x - x.max(axis=axis, keepdims=True))
    return np.asarray(exp / exp.sum(axis=axis, keepdims=True))


def log_softmax(x, dim=None):
    """log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m) along ``dim``, m = max_j x_j."""
    axis = softmax_dim(dim, x.ndim)
    shifted = x - x.max(axis=axis, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True)))


def softmin(x, dim=None):
    """softmin(x) = softmax(-x) along ``dim``: the smallest x_i gets the largest weight."""
    return softmax(-x, dim)


def sigmoid(x):
    # exp(-|x|) never overflows; then pick the algebraically equal branch per sign.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def log1p_exp(x):
    """log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): exp never sees a positive exponent."""
    return np.asarray(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


def log_sigmoid(x):
    """log(sigmoid(x)) = -log(1 + exp(-x)) = min(x, 0) - log1p(exp(-|x|)), finite for every finite x."""
    return np.asarray(np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))))


logsigmoid = log_sigmoid  # torch.nn.functional's name


def relu(x, inplace=False):
    return np.asarray(np.maximum(x, 0))


def tanh(x):
    return np.asarray(np.tanh(x))


def leaky_relu(x, negative_slope=0.01, inplace=False):
    return np.where(x > 0, x, x * negative_slope)


def elu(x, alpha=1.0, inplace=False):
    # expm1 is exact near 0 where exp(x) - 1 would cancel; the minimum keeps exp from overflowing on the unused branch.
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


# torch's SELU constants (Klambauer et al. 2017), as printed in torch.nn.SELU's documentation.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x, inplace=False):
    """scale * x if x > 0 else scale * alpha * (exp(x) - 1), with torch's alpha and scale."""
    return np.where(x > 0, _SELU_SCALE * x, _SELU_SCALE * _SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def celu(x, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    check_celu_alpha(alpha)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha))


def check_celu_alpha(alpha):
    if alpha == 0:
        raise ValueError("CELU alpha cannot be 0: the negative branch divides x by alpha")


def silu(x, inplace=False):
    return np.asarray(x * sigmoid(x))


def mish(x, inplace=False):
    """x tanh(softplus(x)), softplus(x) = log(1 + exp(x)) without a threshold (torch's mish)."""
    return np.asarray(x * np.tanh(log1p_exp(x)))


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's linear regime)."""
    bx = x * beta
    return np.where(bx > threshold, x, log1p_exp(bx) / beta)


def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(x, min_val), max_val): x clipped to [min_val, max_val] (NaN stays NaN)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, max_val={max_val}")
    return np.asarray(np.clip(x, min_val, max_val))


def relu6(x, inplace=False):
    """min(max(x, 0), 6) = hardtanh(x, 0, 6)."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x, inplace=False):
    """min(max(x + 3, 0), 6) / 6: 0 below -3, 1 above 3, the line x/6 + 1/2 between (torch's kernel order)."""
    return np.asarray(np.clip(x + 3, 0.0, 6.0) / 6)


def hardswish(x, inplace=False):
    """x min(max(x + 3, 0), 6) / 6 = x hardsigmoid(x) (torch's kernel order)."""
    return np.asarray(x * np.clip(x + 3, 0.0, 6.0) / 6)


def softsign(x):
    """x / (1 + |x|)."""
    return np.asarray(x / (np.abs(x) + 1))


def tanhshrink(x):
    """x - tanh(x)."""
    return np.asarray(x - np.tanh(x))


def threshold(x, threshold, value, inplace=False):
    """value where x <= threshold, else x (a NaN x stays NaN, as in torch's kernel)."""
    return np.where(x <= threshold, value, x)


def hardshrink(x, lambd=0.5):
    """0 where -lambd <= x <= lambd, else x."""
    return np.where((x >= -lambd) & (x <= lambd), 0.0, x)


def softshrink(x, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (0 * x there, so NaN stays NaN)."""
    check_softshrink_lambd(lambd)
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0 * x))


def check_softshrink_lambd(lambd):
    if not lambd >= 0:
        raise ValueError(f"Softshrink lambd must be >= 0, got {lambd}")


def prelu_weight(weight, ndim):
    """PReLU's weight shaped to broadcast against an ``ndim``-dimensional input, as torch does.

    One weight broadcasts everywhere; C weights sit along dim 1 (the channels), so the input
    needs at least 2 dimensions with shape[1] == C. Returns the weight reshaped to ``ndim`` axes.
    """
    if weight.ndim > 1:
        raise ValueError(f"prelu expected a scalar or 1-d weight (num_parameters,), got {shape_str(weight.shape)}")
    return weight.reshape((1, weight.size) + (1,) * (ndim - 2) if ndim >= 2 else (1,) * ndim)


def check_prelu_input(shape, num_parameters):
    """torch's refusals: C > 1 weights need a channel dim 1 of size C (a 0-d input has none)."""
    if num_parameters == 1:
        return
    if len(shape) == 0:
        raise ValueError(f"PReLU with num_parameters={num_parameters} got a 0-d input, which has no channel dimension")
    channels = shape[1] if len(shape) >= 2 else 1
    if channels != num_parameters:
        raise ValueError(
            f"PReLU has num_parameters={num_parameters} but the input's channel dimension (dim 1) has size "
            f"{channels}: expected input of shape (N, {num_parameters}, *), got {shape_str(shape)}"
        )


def prelu(x, weight):
    """x if x > 0 else w x, with w one weight, or one per channel (dim 1) of x."""
    check_prelu_input(x.shape, weight.size)
    w = prelu_weight(weight, x.ndim)
    return np.where(x > 0, x, w * x)


def glu_axis(shape, dim):
    """The axis GLU halves: ``dim`` normalised, after torch's refusals (0-d input, odd size)."""
    if len(shape) == 0:
        raise ValueError("GLU does not support 0-d inputs: it halves a dimension, whose size must be even")
    if not -len(shape) <= dim < len(shape):
        raise ValueError(f"GLU dim {dim} is out of range for an input with {len(shape)} dimensions")
    axis = dim % len(shape)
    if shape[axis] % 2:
        raise ValueError(f"GLU halves dimension {dim}, whose size must be even, got size {shape[axis]} "
                         f"in an input of shape {shape_str(shape)}")
    return axis


def glu(x, dim=-1):
    """a * sigmoid(b), where a and b are the first and second halves of x along ``dim``."""
    a, b = np.split(x, 2, axis=glu_axis(x.shape, dim))
    return np.asarray(a * sigmoid(b))


_SQRT_HALF = math.sqrt(0.5)
_GELU_TANH_SCALE = math.sqrt(2 / math.pi)  # torch's kBeta = M_SQRT2 * M_2_SQRTPI * 0.5
_GELU_TANH_CUBIC = 0.044715  # torch's kKappa


def gelu(x, approximate="none"):
    """x Phi(x) with Phi the standard normal CDF; 'tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "tanh":
        return np.asarray(0.5 * x * (1 + np.tanh(_GELU_TANH_SCALE * (x + _GELU_TANH_CUBIC * x * x * x))))
    return np.asarray(0.5 * x * (1 + erf(x * _SQRT_HALF)))


# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969),
# as in his SPECFUN routine CALERF: relative error below ~1e-16 on each interval.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
          1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
          8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
          2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
          3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
          6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
          2.33520497626869185e-3)
_ONE_OVER_SQRT_PI = 5.6418958354775628695e-1


def _rational(t, num, den, n):
    """Cody's Horner scheme: (((num[-1] t + num[0]) t + ... ) + num[n]) / ((t + den[0]) t + ... + den[n])."""
    top, bottom = num[-1] * t, t
    for i in range(n):
        top = (top + num[i]) * t
        bottom = (bottom + den[i]) * t
    return (top + num[n]) / (bottom + den[n])


def _exp_minus_square(y):
    # exp(-y^2) with y = y_hi + (y - y_hi) split at 1/16, so y_hi^2 is exact and no digits are lost.
    y_hi = np.trunc(16 * y) / 16
    return np.exp(-y_hi * y_hi) * np.exp(-(y - y_hi) * (y + y_hi))


def erf(x):
    """The error function, vectorised, accurate to ~1 ulp in float64 (W. J. Cody's CALERF).

    |x| <= 0.46875:      erf(x)  = x R1(x^2)
    0.46875 < |x| <= 4:  erfc(y) = exp(-y^2) R2(y)
    |x| > 4:             erfc(y) = exp(-y^2) / y (1/sqrt(pi) - R3(1/y^2) / y^2)
    where R1, R2, R3 are rational functions; erf(x) = sign(x) (1 - erfc(|x|)).
    Computed in float64 and returned in ``x``'s dtype.
    """
    x64 = np.asarray(x, dtype=np.float64)
    y = np.abs(x64)
    near = y <= 0.46875
    middle = (y > 0.46875) & (y <= 4.0)
    far = y > 4.0
    out = np.empty_like(x64)

    y_near = y[near]
    out[near] = x64[near] * _rational(y_near * y_near, _ERF_A, _ERF_B, 3)

    y_mid = y[middle]
    erfc_mid = _exp_minus_square(y_mid) * _rational(y_mid, _ERF_C, _ERF_D, 7)
    out[middle] = np.copysign(1.0 - erfc_mid, x64[middle])

    y_far = np.minimum(y[far], 27.0)  # erfc(27) underflows to 0 in float64: erf is exactly +-1 beyond
    inv_sq = 1.0 / (y_far * y_far)
    erfc_far = _exp_minus_square(y_far) * (_ONE_OVER_SQRT_PI - inv_sq * _rational(inv_sq, _ERF_P, _ERF_Q, 4)) / y_far
    out[far] = np.copysign(1.0 - erfc_far, x64[far])
    out[np.isnan(x64)] = np.nan
    return out.astype(np.asarray(x).dtype, copy=False) if np.asarray(x).dtype.kind == "f" else out


# torch.nn.functional.scaled_dot_product_attention, whose math and backward live in attention.py.
from scratchnet.nn.attention import scaled_dot_product_attention  # noqa: E402
