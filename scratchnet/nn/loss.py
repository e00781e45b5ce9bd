"""Losses: ``loss = criterion(input, target)``, then ``criterion.backward()`` gives dL/d(input).

A loss is the start of backpropagation: its ``backward(grad_output=1.0)`` returns
the gradient with respect to its first argument (the logits or predictions),
which is passed to ``model.backward``.
"""

import numpy as np

from scratchnet._checks import check_array, check_float, check_labels, shape_str
from scratchnet.nn import functional as F
from scratchnet.nn.module import Module

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _reduce(self, per_sample):
        if self.reduction == "mean":
            return per_sample.mean(dtype=per_sample.dtype)
        if self.reduction == "sum":
            return per_sample.sum(dtype=per_sample.dtype)
        return per_sample

    def _reduce_backward(self, grad_output, count, dtype):
        """dL/d(per-sample loss): grad_output / N for 'mean', grad_output otherwise."""
        grad = np.asarray(grad_output, dtype=dtype)
        if self.reduction == "mean":
            return grad / dtype.type(count) if count else grad
        return grad

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    r"""Cross-entropy of logits against integer class labels, as ``torch.nn.CrossEntropyLoss``.

    Shapes: input (N, C) logits, target (N,) integers in [0, C).

        log p = log_softmax(x)                   (log-sum-exp, stable for large logits)
        l_n   = -log p[n, y_n]
        L     = mean_n l_n   ('mean'),  sum_n l_n ('sum'),  l ('none')

    Backward: dL/dx[n] = (softmax(x[n]) - onehot(y_n)) * dL/dl_n, with dL/dl_n = 1/N for 'mean'.
    """

    def forward(self, input, target):
        check_float(input, "CrossEntropyLoss input")
        if input.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expected input logits of shape (N, C), got {shape_str(input.shape)}")
        check_array(target, "CrossEntropyLoss target")
        if target.shape != input.shape[:1]:
            raise ValueError(
                f"CrossEntropyLoss expected target of shape ({input.shape[0]},) to match input {shape_str(input.shape)}, "
                f"got {shape_str(target.shape)}"
            )
        if input.shape[0] == 0:
            raise ValueError("CrossEntropyLoss got an empty batch: expected input of shape (N, C) with N >= 1")
        check_labels(target, "CrossEntropyLoss target", num_classes=input.shape[1])
        log_p = F.log_softmax(input, dim=1)
        self._log_p, self._target = log_p, target
        return self._reduce(-log_p[np.arange(target.shape[0]), target])

    def backward(self, grad_output=1.0):
        log_p, target = self._log_p, self._target
        n = target.shape[0]
        grad_per_sample = self._reduce_backward(grad_output, n, log_p.dtype)
        grad = np.exp(log_p)  # softmax
        grad[np.arange(n), target] -= 1
        grad *= grad_per_sample[:, None] if grad_per_sample.ndim else grad_per_sample
        return grad
