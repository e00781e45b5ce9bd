"""Dropout: randomly zero activations (Dropout) or whole channels (Dropout1d, Dropout2d) while training,
as ``torch.nn``'s."""

import warnings

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._random import default_generator
from scratchnet.nn.backward_checks import check_grad_output
from scratchnet.nn.module import Module


class _DropoutNd(Module):
    r"""What every dropout shares, as torch's ``_DropoutNd``: p, inplace, and the computation

        y = x * noise,   noise = mask / (1 - p),   mask ~ Bernoulli(1 - p)     (training, p > 0)
        dL/dx = dL/dy * noise
        y = x                                                       (eval, p = 0, or an empty x)

    with one mask entry per element (Dropout) or per channel (Dropout1d, Dropout2d), drawn from
    scratchnet's seeded generator. In torch's order: after the rank checks, eval, p = 0 or an empty x
    return x itself; p = 1 zeroes everything (no draw, so no rank needed); only then is a mask drawn.
    ``inplace=True`` writes y into x and returns x, as torch does; a read-only x (scratchnet makes an
    array read-only when the layer that produced it reads it again in backward, e.g. an RNN's output)
    is refused rather than overwritten, since writing into it would corrupt that layer's backward.
    p is kept as given (``Dropout(1)`` prints ``p=1``, as torch's). The last mask drawn is kept as
    ``self.mask`` (booleans of the noise's shape, True where kept; ``None`` until a forward drops).
    torch draws from its own generator, so parity tests run torch's side as ``x * mask / (1 - p)``.
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
        self.p, self.inplace = p, inplace  # p as given: the repr shows it as torch's does
        self.mask = None

    def _noise_shape(self, x):
        """Check x; return the shape of the noise (broadcast against x)."""
        raise NotImplementedError

    def _drops(self, x):
        """Whether forward changes x: training, p > 0 and x not empty (torch returns x itself otherwise)."""
        return self.training and self.p > 0 and x.size > 0

    def _check(self, x):
        """The subclass's checks (rank, dtype, torch's warnings); then refuse writing into a read-only x."""
        noise_shape = self._noise_shape(x)
        if self.inplace and self._drops(x) and not x.flags.writeable:
            raise ValueError(f"{type(self).__name__}(inplace=True) cannot write into a read-only input "
                             f"{shape_str(x.shape)} (a layer whose backward reads it again, such as an RNN "
                             "producing its output, made it read-only); use inplace=False or pass a copy")
        return noise_shape

    def forward(self, x):
        noise_shape = self._check(x)
        self._y_shape = x.shape
        if not self._drops(x):
            self._scale = None
            return x
        self._scale = dropout_noise(noise_shape, float(self.p), x.dtype)  # zeros when p = 1
        self.mask = self._scale != 0
        if self.inplace:
            x *= self._scale  # torch's inplace=True: the caller's array becomes y
            return x
        return x * self._scale

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        return grad_output if self._scale is None else grad_output * self._scale

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    r"""In training, keep each element with probability 1 - p and scale the kept ones by 1 / (1 - p):

        mask ~ Bernoulli(1 - p)       (one per element, x's shape)
        y    = x * mask / (1 - p)      so that E[y] = x, and at evaluation time y = x
        dL/dx = dL/dy * mask / (1 - p)

    The rest (p = 1, eval, ``inplace``, ``self.mask``) is ``_DropoutNd``'s.
    """

    def _noise_shape(self, x):
        check_float(x, "Dropout input")
        return x.shape


class Dropout1d(_DropoutNd):
    r"""Zero whole channels of (N, C, L) sequences, or of an unbatched (C, L) one:

        mask ~ Bernoulli(1 - p)       one per (n, c): shape (N, C, 1), or (C, 1) unbatched
        y    = x * mask / (1 - p),   dL/dx = dL/dy * mask / (1 - p)      (the mask broadcast over L)

    Other ranks are refused, in eval too (as torch). The rest is ``_DropoutNd``'s.
    """

    def _noise_shape(self, x):
        check_float(x, "Dropout1d input")
        if x.ndim not in (2, 3):
            raise ValueError(f"Dropout1d expected a 2-D or 3-D input (C, L) or (N, C, L), got {shape_str(x.shape)}; "
                             "it drops whole channels of inputs with one spatial dimension")
        return x.shape[:-1] + (1,)


class Dropout2d(_DropoutNd):
    r"""Zero whole channels of (N, C, H, W) images:

        mask ~ Bernoulli(1 - p)       one per (n, c): shape (N, C, 1, 1)
        y    = x * mask / (1 - p),   dL/dx = dL/dy * mask / (1 - p)      (the mask broadcast over H, W)

    As torch, other ranks are taken with a warning, the mask being (x.shape[0], x.shape[1], 1, ...):
    a 3-D input is read as (N, C, L), not as an unbatched (C, H, W) image (torch's historical
    behaviour); a 2-D one gets one mask entry per element; a 0-D or 1-D one is refused only when a
    mask would be drawn (training, 0 < p < 1, x not empty), as torch. The rest is ``_DropoutNd``'s.
    """

    def _noise_shape(self, x):
        check_float(x, "Dropout2d input")
        if x.ndim not in (3, 4):
            warnings.warn(
                f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated and will result in an "
                "error in a future release. To retain the behavior and silence this warning, please use dropout "
                "instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial "
                "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
                UserWarning, stacklevel=5)
        if x.ndim == 3:
            warnings.warn(
                "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
                "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
                "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
                "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
                "instead.", UserWarning, stacklevel=5)
        if x.ndim < 2 and self._drops(x) and self.p < 1:  # torch's order: p = 1 and empty x need no mask
            raise ValueError(f"Dropout2d expected an input with at least 2 dimensions (N, C, ...) to drop channels "
                             f"of, got {shape_str(x.shape)}")
        return x.shape[:2] + (1,) * (x.ndim - 2)


def dropout_noise(shape, p, dtype):
    """torch's dropout "noise": mask / (1 - p), mask ~ Bernoulli(1 - p) per element from scratchnet's
    generator, in ``dtype``; 0 everywhere when p = 1. Dropout, the recurrent layers and attention share it."""
    keep = default_generator().random(shape) < 1 - p
    return keep.astype(dtype) / (1 - p) if p < 1 else np.zeros(shape, dtype)
