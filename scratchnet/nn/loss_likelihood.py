"""Likelihood losses: KLDivLoss, PoissonNLLLoss, GaussianNLLLoss, as torch.nn's.

The target is data: ``backward`` gives dL/d(input) (and dL/d(var) for GaussianNLLLoss, whose
variance is a model output). Shapes of input and target must match exactly (see scratchnet.nn.loss).
"""

import math

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet.nn.loss import _check_float_target, _Loss

_HINT = "convert it with target.astype(np.{dtype})"


class KLDivLoss(_Loss):
    r"""Kullback-Leibler divergence of a target distribution from log-probabilities, as ``torch.nn.KLDivLoss``.

    Shapes: input x (any shape, e.g. (N, C)) log-probabilities; target of the same shape and dtype,
    probabilities t (or log-probabilities s = log t with ``log_target=True``).

        l     = t (log t - x)      (= xlogy(t, t) - t x, 0 where t = 0)
              = e^s (s - x)        with log_target
        dl/dx = -t                 (-e^s with log_target)

    reduction: 'mean' divides sum(l) by the number of elements (torch warns that this is not the KL
    divergence), 'batchmean' by the batch size N = x.shape[0] (the KL divergence per sample; 1 for a
    0-d input), 'sum' and 'none' as every loss.
    """

    def __init__(self, *, reduction="mean", log_target=False):
        super().__init__(reduction, reductions=("none", "batchmean", "sum", "mean"))
        self.log_target = bool(log_target)

    def forward(self, input, target):
        _check_float_target(input, target, "KLDivLoss", _HINT)
        if self.log_target:
            losses = np.exp(target) * (target - input)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = -inf, replaced: 0 log 0 = 0
                t_log_t = np.where(target == 0, 0, target * np.log(target))
            losses = t_log_t - target * input
        self._y = target
        self._denominator = self._batch_size(input) if self.reduction == "batchmean" else input.size
        return self._reduce(losses, self._denominator)

    def backward(self, grad_output=1.0):
        dl_dx = -np.exp(self._y) if self.log_target else -self._y
        return dl_dx * self._grad_losses(grad_output, dl_dx.shape, self._denominator, dl_dx.dtype)

    @staticmethod
    def _batch_size(input):
        return input.shape[0] if input.ndim else 1

    def extra_repr(self):
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class PoissonNLLLoss(_Loss):
    r"""Negative log-likelihood of counts under a Poisson distribution, as ``torch.nn.PoissonNLLLoss``.

    Shapes: input x (any shape), the rate's log (``log_input=True``) or the rate itself; target t
    (counts) of the same shape and dtype.

        l     = e^x - t x                 dl/dx = e^x - t                 (log_input=True)
        l     = x - t log(x + eps)        dl/dx = 1 - t / (x + eps)       (log_input=False)

    ``full`` adds Stirling's approximation of log(t!), t log t - t + log(2 pi t) / 2, where t > 1
    (nothing where t <= 1); it does not depend on x. 'mean' divides by the number of elements.
    """

    def __init__(self, log_input=True, full=False, *, eps=1e-8, reduction="mean"):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = bool(log_input), bool(full), float(eps)

    def forward(self, log_input, target):
        input = log_input  # torch's name for the first argument, whatever the log_input flag says
        _check_float_target(input, target, "PoissonNLLLoss", _HINT)
        if self.log_input:
            losses = np.exp(input) - target * input
        else:
            losses = input - target * np.log(input + self.eps)
        if self.full:
            with np.errstate(divide="ignore", invalid="ignore"):  # log of t <= 1 is not used
                stirling = target * np.log(target) - target + 0.5 * np.log(2 * math.pi * target)
            losses = losses + np.where(target > 1, stirling, 0)
        self._x, self._y = input, target
        return self._reduce(losses, input.size)

    def backward(self, grad_output=1.0):
        x, y = self._x, self._y
        dl_dx = np.exp(x) - y if self.log_input else 1 - y / (x + self.eps)
        return dl_dx * self._grad_losses(grad_output, dl_dx.shape, dl_dx.size, dl_dx.dtype)

    def extra_repr(self):
        return f"log_input={self.log_input}, full={self.full}, eps={self.eps}, reduction={self.reduction!r}"


class GaussianNLLLoss(_Loss):
    r"""Negative log-likelihood of a target under a Gaussian of predicted mean and variance.

    As ``torch.nn.GaussianNLLLoss``.

    Shapes: input mu (N, *) means; target y of the same shape and dtype; var, one of
        mu's shape (one variance per value), mu's shape with one axis of size 1 (shared along it),
        mu's shape without its last axis (shared along the last axis), or a Python float (no gradient).
    Every var >= 0; it is clamped at eps (v = max(var, eps)) for stability, as torch does.

        l       = (log v + (mu - y)^2 / v) / 2      (+ log(2 pi) / 2 with ``full``)
        dl/dmu  = (mu - y) / v
        dl/dvar = (1 / v - (mu - y)^2 / v^2) / 2,   summed over the axes var is shared along

    torch clamps without recording the clamp, so a var below eps still gets dl/dvar at v = eps;
    so does this. 'mean' divides by the number of elements of mu.
    """

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        self.full, self.eps = bool(full), float(eps)

    def forward(self, input, target, var):
        var_b = self._check(input, target, var)  # var broadcastable against input
        v = np.maximum(var_b, self.eps)
        d = input - target
        losses = 0.5 * (np.log(v) + d * d / v)
        if self.full:
            losses = losses + 0.5 * math.log(2 * math.pi)
        self._d, self._v, self._var = d, v, var
        return self._reduce(losses, input.size)

    def backward(self, grad_output=1.0):
        d, v = self._d, self._v
        grad_losses = self._grad_losses(grad_output, d.shape, d.size, d.dtype)
        dmu = d / v * grad_losses
        if not isinstance(self._var, np.ndarray):
            return dmu
        dvar = 0.5 * (1 / v - d * d / (v * v)) * grad_losses
        dvar = dvar.sum(axis=tuple(np.nonzero(np.array(v.shape) != np.array(d.shape))[0]), keepdims=True)
        return dmu, dvar.reshape(self._var.shape)

    def _check(self, input, target, var):
        """One error for every input torch refuses; returns var shaped to broadcast against input."""
        loss = "GaussianNLLLoss"
        _check_float_target(input, target, loss, _HINT)
        if isinstance(var, float):
            if var < 0:
                raise ValueError(f"{loss} var has negative entry/entries: got {var}")
            return np.full_like(input, var)
        if not isinstance(var, np.ndarray):
            raise TypeError(f"{loss} var must be a numpy.ndarray or a Python float, got {type(var).__name__}")
        check_float(var, f"{loss} var", input.dtype)
        if (var < 0).any():
            raise ValueError(f"{loss} var has negative entry/entries (first {var[var < 0][0]}); variances are >= 0")
        if var.shape == input.shape:
            return var
        if var.shape == input.shape[:-1]:
            return var[..., None]
        mismatched = [v for i, v in zip(input.shape, var.shape) if i != v] if var.ndim == input.ndim else None
        if mismatched is None or sum(mismatched) != 1:
            raise ValueError(
                f"{loss} var is of incorrect size: got {shape_str(var.shape)} for input {shape_str(input.shape)}; "
                f"expected {shape_str(input.shape)}, {shape_str(input.shape[:-1])}, or the input's shape with one "
                f"axis of size 1")
        return var

    def extra_repr(self):
        return f"full={self.full}, eps={self.eps}, reduction={self.reduction!r}"
