"""Margin losses, as torch.nn's: SoftMarginLoss, HingeEmbeddingLoss, MarginRankingLoss, CosineEmbeddingLoss,
MultiMarginLoss.

Targets are labels (y = 1 or -1, or a class index for MultiMarginLoss), integer or of the input's
float dtype, and are data: ``backward`` gives dL/d(input), or (dL/d(input1), dL/d(input2)) for the
losses that compare two inputs. Shapes must match exactly (see scratchnet.nn.loss); like torch, a
label other than 1 and -1 is not refused, and counts as the formulas below say.
"""

import numpy as np

from scratchnet._checks import check_array, check_float, shape_str
from scratchnet.nn import functional as F
from scratchnet.nn.loss import _check_weight, _Loss

# torch's cosine_embedding_loss adds this to each squared norm (aten/src/ATen/native/Loss.cpp, EPSILON): 1e-12
# held as a float32 (9.99999996e-13), also for float64 inputs, as a zero vector's gradient shows.
_COSINE_EPS = float(np.float32(1e-12))


def _check_sign_target(inputs, target, shape, loss):
    """Float inputs of one dtype and ``shape``; a target of ``shape``, integer or of the inputs' dtype."""
    for position, x in enumerate(inputs):
        name = f"{loss} input{position + 1 if len(inputs) > 1 else ''}"
        check_float(x, name, inputs[0].dtype)
        if x.shape != inputs[0].shape:
            raise ValueError(f"{name} has shape {shape_str(x.shape)} but input1 has {shape_str(inputs[0].shape)}; "
                             f"the shapes must match exactly")
    check_array(target, f"{loss} target")
    if target.dtype.kind not in "iu":
        check_float(target, f"{loss} target", inputs[0].dtype)
    if target.shape != shape:
        raise ValueError(f"{loss} expected target of shape {shape_str(shape)} to match the input "
                         f"{shape_str(inputs[0].shape)}, got {shape_str(target.shape)}; the shapes must match exactly")
    if inputs[0].size == 0:
        raise ValueError(f"{loss} got an empty input of shape {shape_str(inputs[0].shape)}: "
                         f"expected at least one element")


class SoftMarginLoss(_Loss):
    r"""Logistic loss of a two-class margin, as ``torch.nn.SoftMarginLoss``.

    Shapes: input x (any shape); target y of the same shape, labels 1 or -1.

        l     = log(1 + exp(-y x))      (evaluated as log1p_exp, finite for any x)
        dl/dx = -y sigmoid(-y x)

    'mean' divides by the number of elements.
    """

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        _check_sign_target((input,), target, input.shape, "SoftMarginLoss")
        y = target.astype(input.dtype)  # integer labels in the input's dtype
        self._x, self._y = input, y
        return self._reduce(F.log1p_exp(-y * input), input.size)

    def backward(self, grad_output=1.0):
        x, y = self._x, self._y
        dl_dx = -y * F.sigmoid(-y * x)
        return dl_dx * self._grad_losses(grad_output, x.shape, x.size, x.dtype)


class HingeEmbeddingLoss(_Loss):
    r"""Hinge loss of distances x between pairs labelled similar (y = 1) or dissimilar (y = -1).

    As ``torch.nn.HingeEmbeddingLoss``.

    Shapes: input x (any shape), e.g. distances; target y of the same shape.

        l     = x                       if y = 1
              = max(0, margin - x)      if y = -1
        dl/dx = 1 if y = 1;  -1 if y = -1 and margin - x >= 0 (0 otherwise)

    As torch: a label y other than 1 and -1 gets both terms. 'mean' divides by the number of elements.
    """

    def __init__(self, margin=1.0, *, reduction="mean"):
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input, target):
        _check_sign_target((input,), target, input.shape, "HingeEmbeddingLoss")
        similar, dissimilar = target != -1, target != 1
        gap = self.margin - input  # margin - x
        self._similar, self._dissimilar, self._gap = similar, dissimilar, gap
        losses = np.where(similar, input, 0) + np.where(dissimilar, np.maximum(gap, 0), 0)
        return self._reduce(losses, input.size)

    def backward(self, grad_output=1.0):
        gap = self._gap
        dl_dx = (self._similar * 1.0 - (self._dissimilar & (gap >= 0))).astype(gap.dtype)
        return dl_dx * self._grad_losses(grad_output, gap.shape, gap.size, gap.dtype)

    def extra_repr(self):
        return f"margin={self.margin}, reduction={self.reduction!r}"


class MarginRankingLoss(_Loss):
    r"""Ranking hinge: y = 1 says x1 should rank above x2, y = -1 below, as ``torch.nn.MarginRankingLoss``.

    Shapes: input1 x1, input2 x2 and target y, all of one shape (e.g. (N,)).

        l      = max(0, -y (x1 - x2) + margin)
        dl/dx1 = -y [l's argument >= 0],   dl/dx2 = y [l's argument >= 0]

    backward returns (dL/dx1, dL/dx2). 'mean' divides by the number of elements.
    """

    def __init__(self, margin=0.0, *, reduction="mean"):
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1, input2, target):
        _check_sign_target((input1, input2), target, input1.shape, "MarginRankingLoss")
        y = target.astype(input1.dtype)  # integer labels in the inputs' dtype
        z = -y * (input1 - input2) + self.margin  # l's argument
        self._z, self._y = z, y
        return self._reduce(np.maximum(z, 0), z.size)

    def backward(self, grad_output=1.0):
        z = self._z
        dl_dx1 = (-self._y * (z >= 0)).astype(z.dtype)
        grad_losses = self._grad_losses(grad_output, z.shape, z.size, z.dtype)
        return dl_dx1 * grad_losses, -dl_dx1 * grad_losses

    def extra_repr(self):
        return f"margin={self.margin}, reduction={self.reduction!r}"


class CosineEmbeddingLoss(_Loss):
    r"""Cosine loss of pairs labelled similar (y = 1) or dissimilar (y = -1), as ``torch.nn.CosineEmbeddingLoss``.

    Shapes: input1 x1 and input2 x2 (N, D) with target y (N,), or (D,) with a 0-d y (one pair).

        m1 = |x1|^2 + eps,  m2 = |x2|^2 + eps    (eps = 1e-12 as a float32, as torch)
        cos = x1 . x2 / sqrt(m1 m2)
        l   = 1 - cos                  if y = 1
            = max(0, cos - margin)     if y = -1      (0 for any other label, as torch)

        dcos/dx1 = x2 / sqrt(m1 m2) - cos x1 / m1,   dcos/dx2 = x1 / sqrt(m1 m2) - cos x2 / m2
        dl/dcos  = -1 if y = 1;  1 if y = -1 and cos - margin >= 0;  0 otherwise

    backward returns (dL/dx1, dL/dx2). 'mean' divides by N.
    """

    def __init__(self, margin=0.0, *, reduction="mean"):
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1, input2, target):
        if not (isinstance(input1, np.ndarray) and input1.ndim in (1, 2)):
            raise ValueError(f"CosineEmbeddingLoss expected inputs of shape (N, D) or (D,), got "
                             f"{shape_str(np.shape(input1))}")
        _check_sign_target((input1, input2), target, input1.shape[:-1], "CosineEmbeddingLoss")
        x1, x2 = input1, input2
        m1, m2 = (x1 * x1).sum(axis=-1) + _COSINE_EPS, (x2 * x2).sum(axis=-1) + _COSINE_EPS
        norms = np.sqrt(m1 * m2)
        cos = (x1 * x2).sum(axis=-1) / norms
        similar, dissimilar = target == 1, target == -1
        losses = np.where(similar, 1 - cos, 0) + np.where(dissimilar, np.maximum(cos - self.margin, 0), 0)
        self._x1, self._x2, self._m1, self._m2, self._norms, self._cos = x1, x2, m1, m2, norms, cos
        self._similar, self._dissimilar = similar, dissimilar
        return self._reduce(np.asarray(losses), cos.size)

    def backward(self, grad_output=1.0):
        x1, x2, m1, m2, norms, cos = self._x1, self._x2, self._m1, self._m2, self._norms, self._cos
        dl_dcos = (-1.0 * self._similar + (self._dissimilar & (cos - self.margin >= 0))).astype(x1.dtype)
        grad_losses = self._grad_losses(grad_output, np.shape(cos), np.size(cos), x1.dtype)
        g = (dl_dcos * grad_losses)[..., None]  # dL/dcos, one per pair
        dcos_dx1 = x2 / norms[..., None] - (cos / m1)[..., None] * x1
        dcos_dx2 = x1 / norms[..., None] - (cos / m2)[..., None] * x2
        return g * dcos_dx1, g * dcos_dx2

    def extra_repr(self):
        return f"margin={self.margin}, reduction={self.reduction!r}"


class MultiMarginLoss(_Loss):
    r"""Multi-class hinge loss of scores against class labels, as ``torch.nn.MultiMarginLoss``.

    Shapes: input x (N, C) scores with target y (N,) labels in [0, C), or x (C,) with a 0-d y;
    weight w (C,) or None (all ones); p is 1 or 2.

        z_ni  = margin - x[n, y_n] + x[n, i]                                   for each i != y_n
        l_n   = w[y_n] sum_{i != y_n} max(0, z_ni)^p / C
        dl_n/dx[n, i]   = w[y_n] p max(0, z_ni)^(p - 1) [z_ni > 0] / C          for i != y_n
        dl_n/dx[n, y_n] = -sum_{i != y_n} dl_n/dx[n, i]

    'mean' divides by N (not by the weights).
    """

    def __init__(self, p=1, margin=1.0, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        if p != 1 and p != 2:
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got p={p!r}")
        if weight is not None and _check_weight(weight, "weight", "MultiMarginLoss").ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got {weight.ndim}D instead")
        self.p, self.margin = int(p), float(margin)
        self.register_buffer("weight", weight)

    def forward(self, input, target):
        self._check(input, target)
        x = np.atleast_2d(input)  # (N, C); one unbatched sample is one row
        n, num_classes = x.shape
        rows, y = np.arange(n), target.reshape(-1)
        w = self.weight[y] if self.weight is not None else np.ones(n, dtype=x.dtype)  # w[y_n]
        z = self.margin - x[rows, y][:, None] + x  # z_ni
        others = np.ones_like(x, dtype=bool)
        others[rows, y] = False  # i != y_n
        active = others & (z > 0)
        h = np.where(active, z, 0)  # max(0, z_ni), 0 at i = y_n
        losses = w * (h ** self.p).sum(axis=1) / num_classes  # l_n
        self._h, self._active, self._w, self._y, self._input_shape = h, active, w, y, input.shape
        return self._reduce(losses.reshape(target.shape), n)

    def backward(self, grad_output=1.0):
        h, w, y = self._h, self._w, self._y
        n, num_classes = h.shape
        dl_dx = w[:, None] * np.where(self._active, self.p * h ** (self.p - 1), 0) / num_classes  # i != y_n
        dl_dx[np.arange(n), y] = -dl_dx.sum(axis=1)  # i = y_n
        grad_losses = self._grad_losses(grad_output, self._input_shape[:-1], n, h.dtype)
        return (dl_dx * grad_losses.reshape(-1, 1)).reshape(self._input_shape)

    def _check(self, input, target):
        loss = "MultiMarginLoss"
        check_float(input, f"{loss} input")
        check_array(target, f"{loss} target")
        if input.ndim not in (1, 2) or input.shape[-1] == 0 or input.size == 0:
            raise ValueError(f"{loss} expected input of shape (N, C) or (C,) with N, C >= 1, "
                             f"got {shape_str(input.shape)}")
        if target.dtype.kind not in "iu":
            raise TypeError(f"{loss} target must hold integer class labels (dtype int64), got dtype {target.dtype}")
        if target.shape != input.shape[:-1]:
            raise ValueError(f"{loss} expected target of shape {shape_str(input.shape[:-1])} to match input "
                             f"{shape_str(input.shape)}, got {shape_str(target.shape)}")
        num_classes = input.shape[-1]
        if not ((target >= 0) & (target < num_classes)).all():
            bad = target[(target < 0) | (target >= num_classes)].reshape(-1)[0]
            raise ValueError(f"{loss} target out of range: got label {bad}, expected labels 0..{num_classes - 1}")
        if self.weight is not None:
            check_float(self.weight, f"{loss} weight", input.dtype)
            if self.weight.shape != (num_classes,):
                raise ValueError(f"{loss} inconsistent weight size: expected ({num_classes},), got "
                                 f"{shape_str(self.weight.shape)}")

    def extra_repr(self):
        return f"p={self.p}, margin={self.margin}, reduction={self.reduction!r}"
