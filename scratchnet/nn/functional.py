"""Numerically stable functions that the layers and losses are built from.

Each is written so that large finite inputs (logits of +-1e4) give finite
results, as torch's kernels do:

- softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m),   m = max_j x_j
- log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m)   (log-sum-exp)
- sigmoid(x)       = exp(-softplus(-x)) = 1 / (1 + exp(-x)), evaluated without overflow
"""

import numpy as np


def softmax_dim(dim, ndim):
    """torch's choice when ``dim`` is None (a deprecated form it still accepts)."""
    if dim is None:
        return 0 if ndim in (0, 1, 3) else 1
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"dim {dim} is out of range for an input with {ndim} dimensions")
    return dim


def softmax(x, dim=None):
    dim = softmax_dim(dim, x.ndim)
    shifted = x - x.max(axis=dim, keepdims=True)
    exp = np.exp(shifted)
    exp /= exp.sum(axis=dim, keepdims=True)
    return exp


def log_softmax(x, dim=None):
    dim = softmax_dim(dim, x.ndim)
    shifted = x - x.max(axis=dim, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return shifted


def sigmoid(x):
    # exp(-|x|) never overflows; then pick the algebraically equal branch per sign.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def relu(x):
    return np.maximum(x, 0)


def tanh(x):
    return np.tanh(x)
