"""Dropout: randomly zero activations while training, as ``torch.nn.Dropout``."""

import numpy as np

from scratchnet._checks import check_float
from scratchnet._random import default_generator
from scratchnet.nn.module import Module


class Dropout(Module):
    r"""In training, keep each element with probability 1 - p and scale the kept ones by 1 / (1 - p):

        mask ~ Bernoulli(1 - p)       (drawn from scratchnet's seeded generator, one per element)
        y    = x * mask / (1 - p)      so that E[y] = x, and at evaluation time y = x
        dL/dx = dL/dy * mask / (1 - p)

    p = 1 zeroes everything (as torch does). In eval mode (``.eval()``) the layer is the identity.

    The last mask drawn is kept as ``self.mask`` (a boolean array of x's shape, True where kept;
    ``None`` before the first training forward). torch draws from its own generator, so parity
    tests run torch's side as ``x * mask / (1 - p)`` with this same mask.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
        self.p = float(p)
        self.mask = None

    def forward(self, x):
        check_float(x, "Dropout input")
        if not self.training or self.p == 0:
            self._scale = None
            return x
        self._scale = dropout_noise(x.shape, self.p, x.dtype)
        self.mask = self._scale != 0
        return x * self._scale

    def backward(self, grad_output):
        return grad_output if self._scale is None else grad_output * self._scale

    def extra_repr(self):
        return f"p={self.p}"


def dropout_noise(shape, p, dtype):
    """torch's dropout "noise": mask / (1 - p), mask ~ Bernoulli(1 - p) per element from scratchnet's
    generator, in ``dtype``; 0 everywhere when p = 1. Dropout, the recurrent layers and attention share it."""
    keep = default_generator().random(shape) < 1 - p
    return keep.astype(dtype) / (1 - p) if p < 1 else np.zeros(shape, dtype)
