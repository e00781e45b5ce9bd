"""Numerically stable functions that the layers and losses are built from.

Each is written so that large finite inputs (logits of +-1e4) give finite
results, as torch's kernels do:

- softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m),   m = max_j x_j
- log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)   (log-sum-exp)
- sigmoid(x)       = 1 / (1 + exp(-x)), evaluated through exp(-|x|), which never overflows
- log_sigmoid(x)   = min(x, 0) - log1p(exp(-|x|))
- softplus(x)      = max(x, 0) + log1p(exp(-|x|))          (= log(1 + exp(x)))
- erf(x)           W. J. Cody's rational Chebyshev approximations, float64-accurate

Every function keeps its input's dtype: constants are Python floats, which NumPy 2
treats as "weak" scalars (float32 stays float32).
"""

import math

import numpy as np


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
    return exp / exp.sum(axis=axis, keepdims=True)


def log_softmax(x, dim=None):
    """log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m) along ``dim``, m = max_j x_j."""
    axis = softmax_dim(dim, x.ndim)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def sigmoid(x):
    # exp(-|x|) never overflows; then pick the algebraically equal branch per sign.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite for every finite x."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def relu(x):
    return np.maximum(x, 0)


def tanh(x):
    return np.tanh(x)


def leaky_relu(x, negative_slope=0.01):
    return np.where(x > 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    # expm1 is exact near 0 where exp(x) - 1 would cancel; the minimum keeps exp from overflowing on the unused branch.
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def silu(x):
    return x * sigmoid(x)


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's linear regime)."""
    bx = x * beta
    stable = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return np.where(bx > threshold, x, stable)


_SQRT_HALF = math.sqrt(0.5)
_GELU_TANH_SCALE = math.sqrt(2 / math.pi)  # torch's kBeta = M_SQRT2 * M_2_SQRTPI * 0.5
_GELU_TANH_CUBIC = 0.044715  # torch's kKappa


def gelu(x, approximate="none"):
    """x Phi(x) with Phi the standard normal CDF; 'tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(_GELU_TANH_SCALE * (x + _GELU_TANH_CUBIC * x * x * x)))
    return 0.5 * x * (1 + erf(x * _SQRT_HALF))


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
