r"""Padding the last two axes (H, W), as torch's ``F.pad(x, (left, right, top, bottom), mode)``.

Every mode is linear in x, so its backward is the adjoint of its forward. Along one axis of
size n, padded position p reads the input coordinate t = p - before (t < 0: left of the input,
t >= n: right of it):

- ``constant``: x[t] for 0 <= t < n, else ``value``. A negative amount crops instead of padding.
  Forward places the kept block of x inside a field of ``value``; backward reads that block of
  the gradient back (the padded positions do not depend on x: their gradient is dropped).
- ``reflect``, ``replicate``, ``circular``: x[source(t)] with source from ``SOURCE``. Forward
  gathers, x_pad[.., p, q] = x[.., rows[p], cols[q]]; backward scatter-adds, each input pixel
  receiving the sum of the gradients of every padded pixel that copied it:

      dx[.., i, j] = sum_{p: rows[p] = i} sum_{q: cols[q] = j} g[.., p, q]

The layers ``ConstantPad2d`` and ``ZeroPad2d`` and ``Conv1d``/``Conv2d``'s ``padding_mode``
all go through ``pad`` / ``pad_backward``; ``check_padding`` holds torch's refusals.
"""

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet.nn.backward_checks import check_grad_output
from scratchnet.nn.module import Module

# The input coordinate a padded coordinate t copies, for an axis of size n.
SOURCE = {
    "reflect": lambda t, n: np.where(t < 0, -t, np.where(t > n - 1, 2 * (n - 1) - t, t)),  # mirror, edge once
    "replicate": lambda t, n: np.clip(t, 0, n - 1),                                         # repeat the edge
    "circular": lambda t, n: t % n,                                                          # wrap around
}
MODES = ("constant", *SOURCE)


def _axis_pads(padding):
    """torch's (left, right, top, bottom) as ((top, bottom), (left, right)), in the order of the axes H, W."""
    left, right, top, bottom = padding
    return (top, bottom), (left, right)


def padded_shape(shape, padding):
    """(*, H, W) -> (*, H + top + bottom, W + left + right)."""
    (top, bottom), (left, right) = _axis_pads(padding)
    return (*shape[:-2], shape[-2] + top + bottom, shape[-1] + left + right)


def check_padding(shape, padding, mode, owner, axes=("H", "W")):
    """Refuse what torch's ``F.pad`` refuses for an input (*, H, W); ``padding`` (left, right, top, bottom).

    ``axes`` names the last two axes in the messages. Negative padding (cropping) is accepted for
    ``constant`` only: torch's other modes crop by rules of their own (reflect (-3, 1) on a size-2
    axis gives an empty one) that no layer here needs, as Conv1d/Conv2d refuse negative padding.
    """
    for axis, n, (before, after) in zip(axes, shape[-2:], _axis_pads(padding)):
        if mode == "constant" and n + min(before, 0) + min(after, 0) < 0:
            raise ValueError(
                f"{owner} padding {padding} crops {-min(before, 0) - min(after, 0)} from {axis} = {n}: "
                f"negative padding can crop at most the whole axis"
            )
        if mode != "constant" and min(before, after) < 0:
            raise ValueError(f"{owner} padding_mode={mode!r} needs non-negative padding, got {padding}")
        if mode == "reflect" and max(before, after) >= n:
            raise ValueError(
                f"{owner} padding_mode='reflect' needs each padding smaller than the size it pads: got "
                f"({before}, {after}) for {axis} = {n}"
            )
        if mode == "circular" and max(before, after) > n:
            raise ValueError(
                f"{owner} padding_mode='circular' needs each padding at most the size it pads (it would wrap "
                f"around more than once): got ({before}, {after}) for {axis} = {n}"
            )
        if mode == "replicate" and n == 0:
            raise ValueError(f"{owner} padding_mode='replicate' needs a non-empty {axis}, got {axis} = 0")


def _kept_and_placed(n, before, after):
    """Constant mode along one axis: the slice of x that is kept, and the slice of x_pad it lands in."""
    start, stop = max(-before, 0), n - max(-after, 0)        # negative padding crops x
    placed_start = max(before, 0)
    return slice(start, stop), slice(placed_start, placed_start + stop - start)


def _sources(n, before, after, mode):
    """The input coordinate each of the before + n + after padded positions copies."""
    t = np.arange(-before, n + after)
    return SOURCE[mode](t, n)


def pad(x, padding, mode="constant", value=0.0):
    """x (*, H, W) -> x_pad (*, H + top + bottom, W + left + right); ``padding`` (left, right, top, bottom)."""
    (top, bottom), (left, right) = _axis_pads(padding)
    h, w = x.shape[-2:]
    if mode == "constant":
        (kept_h, placed_h), (kept_w, placed_w) = _kept_and_placed(h, top, bottom), _kept_and_placed(w, left, right)
        x_pad = np.full(padded_shape(x.shape, padding), value, dtype=x.dtype)
        x_pad[..., placed_h, placed_w] = x[..., kept_h, kept_w]
        return x_pad
    rows, cols = _sources(h, top, bottom, mode), _sources(w, left, right, mode)
    return x[..., rows, :][..., cols]                        # x_pad[.., p, q] = x[.., rows[p], cols[q]]


def pad_backward(grad, input_shape, padding, mode="constant"):
    """Adjoint of ``pad``: g (*, Hp, Wp) -> dx ``input_shape`` (*, H, W)."""
    (top, bottom), (left, right) = _axis_pads(padding)
    h, w = input_shape[-2:]
    dx = np.zeros(input_shape, dtype=grad.dtype)
    if mode == "constant":
        (kept_h, placed_h), (kept_w, placed_w) = _kept_and_placed(h, top, bottom), _kept_and_placed(w, left, right)
        dx[..., kept_h, kept_w] = grad[..., placed_h, placed_w]
        return dx
    rows, cols = _sources(h, top, bottom, mode), _sources(w, left, right, mode)
    d_rows = np.zeros((*input_shape[:-1], grad.shape[-1]), dtype=grad.dtype)   # (*, H, Wp)
    np.add.at(d_rows, (..., rows, slice(None)), grad)        # sum over the rows p that copied row i
    np.add.at(dx, (..., cols), d_rows)                       # then over the columns q that copied column j
    return dx


def as_padding_4(padding, owner):
    """An int (every side) or a 4-sequence of ints (left, right, top, bottom), as torch's ``_quadruple``."""
    def is_int(v):
        return not isinstance(v, bool) and isinstance(v, (int, np.integer))

    values = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * 4
    if len(values) != 4 or not all(is_int(v) for v in values):
        raise ValueError(f"{owner} expected padding to be an int or a 4-tuple (left, right, top, bottom) of ints, "
                         f"got {padding!r}")
    return tuple(int(v) for v in values)


class ConstantPad2d(Module):
    r"""Pads the last two axes with ``value``, as ``torch.nn.ConstantPad2d``.

    Shapes: x (*, H, W) (torch documents (N, C, H, W) and (C, H, W)) -> y (*, H_out, W_out),
    H_out = H + top + bottom, W_out = W + left + right; ``padding`` is an int or
    (left, right, top, bottom). A negative amount crops that side, as torch allows.

        y[.., top + i, left + j] = x[.., i, j],   y = value elsewhere

    Backward: dx[.., i, j] = g[.., top + i, left + j] (the padding does not depend on x;
    a cropped pixel's gradient is 0).
    """

    def __init__(self, padding, value):
        super().__init__()
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{type(self).__name__} expected a real number value, got {value!r}")
        self.padding = as_padding_4(padding, type(self).__name__)
        self.value = value

    def _check(self, x):
        owner = f"{type(self).__name__}({self.padding})"
        check_float(x, f"{owner} input")
        if x.ndim < 2:
            raise ValueError(
                f"{owner} expected an input (*, H, W) of at least 2 dimensions, got shape {shape_str(x.shape)}"
            )
        check_padding(x.shape, self.padding, "constant", owner)

    def forward(self, x):
        self._check(x)
        y = pad(x, self.padding, "constant", self.value)
        self._input_shape, self._y_shape = x.shape, y.shape
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        return pad_backward(grad_output, self._input_shape, self.padding, "constant")

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two axes with zeros, as ``torch.nn.ZeroPad2d``: ``ConstantPad2d(padding, 0.0)``."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"
