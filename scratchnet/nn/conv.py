r"""Convolution as im2col and one matrix product; its backward as two more products and a col2im.

``Conv2d`` and ``Conv1d`` (run as a Conv2d over images of height 1) share ``_ConvNd``, whose
docstring holds the equations that its ``forward`` and ``backward`` follow. They pad with
``scratchnet.nn.padding`` (every ``padding_mode``, forward and backward). The helpers below are
shared with the pooling layers:

- ``windows`` (im2col): every (kH, kW) patch of a padded (N, C, Hp, Wp) array, as a view
  (N, C, H_out, W_out, kH, kW) made by ``sliding_window_view`` (no copy).
- ``col2im``: the adjoint of ``windows``: adds each patch's gradient back onto the input
  positions the patch was read from.
- ``pair``: an int or a pair of ints as an (h, w) tuple, as torch's ``_pair``.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet.nn.backward_checks import check_grad_output
from scratchnet.nn.linear import init_uniform
from scratchnet.nn.module import Module, Parameter
from scratchnet.nn.padding import check_padding, pad, pad_backward, padded_shape


def ntuple(value, n, name, owner, minimum=1):
    """An int or an n-sequence of ints (each >= ``minimum``) as an n-tuple, as torch's ``_single`` / ``_pair``."""
    def valid(v):
        return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= minimum

    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(values) != n or not all(valid(v) for v in values):
        several = "a pair of them" if n == 2 else f"a {n}-tuple of them"
        raise ValueError(f"{owner} expected {name} to be an int >= {minimum} or {several}, got {value!r}")
    return tuple(int(v) for v in values)


def pair(value, name, owner, minimum=1):
    """An int or a 2-sequence of ints (each >= ``minimum``) as an (h, w) tuple, as torch's ``_pair``."""
    return ntuple(value, 2, name, owner, minimum)


def windows(x_padded, kernel_size, stride, dilation):
    """im2col as a view: patches[n, c, h, w, i, j] = x_pad[n, c, h s + i d, w s + j d].

    x_padded (N, C, Hp, Wp) -> patches (N, C, H_out, W_out, kH, kW).
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    dilated = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    patches = sliding_window_view(x_padded, dilated, axis=(2, 3))  # every dilated window, stride 1
    return patches[:, :, ::sh, ::sw, ::dh, ::dw]


def col2im(d_patches, padded_shape, stride, dilation):
    """Adjoint of ``windows``: dx_pad[n, c, h s + i d, w s + j d] += d_patches[n, c, h, w, i, j].

    d_patches (N, C, H_out, W_out, kH, kW) -> dx_pad ``padded_shape`` (N, C, Hp, Wp).
    An input read by several patches receives the sum of their gradients. For one kernel
    offset (i, j) the patches read distinct inputs, so each offset is one strided slice.
    """
    *_, h_out, w_out, kh, kw = d_patches.shape
    (sh, sw), (dh, dw) = stride, dilation
    dx_pad = np.zeros(padded_shape, dtype=d_patches.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw)
            dx_pad[:, :, rows, cols] += d_patches[..., i, j]
    return dx_pad



def conv_output_size(size, kernel, stride, dilation, pad_before, pad_after):
    """floor((size + pads - dilation (kernel - 1) - 1) / stride) + 1, torch's formula."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    r"""What Conv2d and Conv1d share: the 2-D cross-correlation below, run by im2col.

    Shapes: x (N, C_in, H, W), W (C_out, C_in/G, kH, kW), b (C_out,), y (N, C_out, H_out, W_out),
    with G groups, H_out = floor((H + pad_top + pad_bottom - d (kH - 1) - 1) / s) + 1 (W_out alike).
    An unbatched x (C_in, H, W) is a batch of one: y (C_out, H_out, W_out). Conv1d is this on
    images of height 1 with (1, k) kernels: x (N, C_in, L) is read as (N, C_in, 1, L).

    Forward. x is first padded to x_pad by ``padding_mode`` (``scratchnet.nn.padding``: zeros,
    or copies of x's own pixels for reflect / replicate / circular). Each output pixel is a dot
    product of the kernel with one patch of x_pad:

        y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, g(o) C_in/G + c, h s + i d, w s + j d]

    im2col lays every patch out as a column: X_col (N, G, K, P), with K = C_in/G kH kW patch
    entries, ordered (channel, kernel row, kernel column) as W's are so that W_g and dW are plain
    reshapes, and P = H_out W_out positions. With each kernel a row of W_g (G, C_out/G, K), the
    whole layer is one matrix product per image n and group:

        Y_n = W_g X_col_n + b                            (G, C_out/G, P),  y = Y reshaped

    Backward, with g = dL/dy reshaped like Y. Y_n is linear in W_g, X_col_n and b, so as for Linear:

        db       = sum_{n, p} g_n[:, p]                  (C_out,)           b is added at every n, p
        dW_g     = sum_n g_n X_col_n^T                   (G, C_out/G, K)    W_g is shared by every n
        dX_col_n = W_g^T g_n                             (N, G, K, P)
        dx_pad   = col2im(dX_col)                        (N, C_in, Hp, Wp)
        dx       = pad_backward(dx_pad)                  (N, C_in, H, W)

    col2im is the adjoint of im2col: an input pixel read by several patches receives the sum of
    their gradients; pad_backward is the adjoint of the padding: zeros drop the border's gradient,
    the other modes add it onto the pixels the border copied.

    Init (torch's kaiming_uniform_(a=sqrt(5))): W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    fan_in = C_in/G kH kW. padding: an int, a pair, 'valid' (none) or 'same' (stride 1 only),
    which pads d (k - 1) in total, the odd one on the bottom/right, as torch does.
    """

    _axes = ()  # names of the spatial axes: ("L",) or ("H", "W")

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, dtype):
        super().__init__()
        name, dims = type(self).__name__, len(self._axes)
        for arg, value, least in (("in_channels", in_channels, 0), ("out_channels", out_channels, 0),
                                  ("groups", groups, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                kind = "positive" if least else "non-negative"
                raise ValueError(f"{name} expected a {kind} integer {arg}, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name} groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
            )
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name} padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        kernel_size = ntuple(kernel_size, dims, "kernel_size", name)
        stride = ntuple(stride, dims, "stride", name)
        dilation = ntuple(dilation, dims, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name} padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and stride != (1,) * dims:
                raise ValueError(f"{name} padding='same' is not supported for strided convolutions (stride={stride})")
        else:
            padding = ntuple(padding, dims, "padding", name, minimum=0)

        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = self._reversed_padding()
        # the 2-D problem both layers run: a leading height axis of 1 for Conv1d, unpadded
        lift = (1,) * (2 - dims)
        self._kernel_2d, self._stride_2d, self._dilation_2d = lift + kernel_size, lift + stride, lift + dilation
        self._pads_2d = self._reversed_padding_repeated_twice + (0, 0) * (2 - dims)  # (left, right, top, bottom)
        self._pad_mode = "constant" if padding_mode == "zeros" else padding_mode

        dtype = as_float_dtype(dtype)
        fan_in = in_channels // groups * math.prod(kernel_size)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        self.weight = Parameter(init_uniform((out_channels, in_channels // groups, *kernel_size), bound, dtype))
        if bias:
            self.bias = Parameter(init_uniform((out_channels,), bound, dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        self._check(x)
        G, C_out = self.groups, self.out_channels
        K = self.in_channels // G * math.prod(self.kernel_size)                # C_in/G kH kW
        x_2d = self._as_batched_2d(x)                                           # (N, C_in, H, W), H = 1 for 1-D
        x_pad = pad(x_2d, self._pads_2d, self._pad_mode)                        # (N, C_in, Hp, Wp)
        patches = windows(x_pad, self._kernel_2d, self._stride_2d, self._dilation_2d)  # (N, C_in, H_out, W_out, kH, kW)
        n, _, h_out, w_out = patches.shape[:4]
        patches = patches.transpose(0, 1, 4, 5, 2, 3)                           # (N, C_in, kH, kW, H_out, W_out)
        X_col = patches.reshape(n, G, K, h_out * w_out)                         # (N, G, K, P), im2col's one copy
        W_g = self.weight.data.reshape(G, C_out // G, K)                        # (G, C_out/G, K)
        Y = W_g @ X_col                                                         # Y_n = W_g X_col_n  (N, G, C_out/G, P)
        y = Y.reshape(n, C_out, h_out, w_out)
        if self.bias is not None:
            y += self.bias.data[:, None, None]                                  # + b
        y = self._restore_layout(y, batched=x.ndim == len(self._axes) + 2)
        self._X_col, self._x_shape, self._x_2d_shape, self._x_pad_shape = X_col, x.shape, x_2d.shape, x_pad.shape
        self._y_shape = y.shape
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        G, C_out, X_col = self.groups, self.out_channels, self._X_col
        n, _, K, P = X_col.shape
        g = self._as_batched_2d(grad_output)                                    # (N, C_out, H_out, W_out)
        h_out, w_out = g.shape[2:]
        g = g.reshape(n, G, C_out // G, P)                                      # (N, G, C_out/G, P)
        W_g = self.weight.data.reshape(G, C_out // G, K)                        # (G, C_out/G, K)
        if self.bias is not None:
            db = g.sum(axis=(0, 3)).reshape(C_out)                              # sum_{n, p} g  (C_out,)
            self.bias.accumulate_grad(db)
        dW_g = (g @ X_col.swapaxes(-1, -2)).sum(axis=0)                         # sum_n g_n X_col_n^T  (G, C_out/G, K)
        self.weight.accumulate_grad(dW_g.reshape(self.weight.shape))
        dX_col = W_g.swapaxes(-1, -2) @ g                                       # W_g^T g_n  (N, G, K, P)
        d_patches = dX_col.reshape(n, self.in_channels, *self._kernel_2d, h_out, w_out)
        d_patches = d_patches.transpose(0, 1, 4, 5, 2, 3)                       # (N, C_in, H_out, W_out, kH, kW)
        dx_pad = col2im(d_patches, self._x_pad_shape, self._stride_2d, self._dilation_2d)  # (N, C_in, Hp, Wp)
        dx_2d = pad_backward(dx_pad, self._x_2d_shape, self._pads_2d, self._pad_mode)  # (N, C_in, H, W)
        return dx_2d.reshape(self._x_shape)                                     # dx, in x's layout

    # -- the layout around the math: 1-D and unbatched inputs as (N, C, H, W) and back ---------------

    def _as_batched_2d(self, a):
        """a (N, C, *spatial) or unbatched (C, *spatial) as (N, C, H, W), a view: N = 1 unbatched, H = 1 in 1-D."""
        dims = len(self._axes)
        n = a.shape[0] if a.ndim == dims + 2 else 1
        return a.reshape(n, a.shape[-dims - 1], *(1,) * (2 - dims), *a.shape[-dims:])

    def _restore_layout(self, a_2d, batched):
        """Undo ``_as_batched_2d``: (N, C, H, W) -> (N, C, *spatial), or (C, *spatial) when not ``batched``."""
        dims = len(self._axes)
        leading = a_2d.shape[:2] if batched else a_2d.shape[1:2]
        return a_2d.reshape(*leading, *a_2d.shape[4 - dims:])

    # -- arguments and refusals -------------------------------------------------------------------

    def _reversed_padding(self):
        """torch's ``_reversed_padding_repeated_twice``: the sides in ``F.pad``'s order, last axis first.

        (left, right) for Conv1d, (left, right, top, bottom) for Conv2d. 'same' pads d (k - 1) in
        total on each axis, the odd one after (bottom/right), as torch does; 'valid' pads nothing.
        """
        if isinstance(self.padding, str) and self.padding == "valid":
            per_axis = [(0, 0) for _ in self._axes]
        elif isinstance(self.padding, str):  # 'same'
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation, strict=True)]
            per_axis = [(total // 2, total - total // 2) for total in totals]
        else:
            per_axis = [(p, p) for p in self.padding]
        return tuple(side for before_after in reversed(per_axis) for side in before_after)

    def _check(self, x):
        """Refuse what torch refuses: dtype, shape, empty sizes, no output channels, the padding mode's
        limits, an output size <= 0."""
        dims, axes = len(self._axes), ", ".join(self._axes)
        owner = f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"
        check_float(x, f"{owner} input", self.weight.dtype)
        if x.ndim not in (dims + 1, dims + 2) or x.shape[-dims - 1] != self.in_channels:
            c = self.in_channels
            raise ValueError(f"{owner} expected input of shape (N, {c}, {axes}) or ({c}, {axes}), "
                             f"got {shape_str(x.shape)}")
        if 0 in x.shape[-dims:]:
            raise ValueError(f"{owner} takes an empty batch (N = 0) or C_in = 0, as torch does, but not an empty "
                             f"({axes}): got input shape {shape_str(x.shape)}")
        if self.out_channels == 0:
            raise ValueError(f"{owner} cannot run without output channels: torch expects the weight to be at "
                             f"least 1 at dimension 0, got weight of size {shape_str(self.weight.shape)}")
        lifted = (1,) * (2 - dims) + x.shape[-dims:]
        check_padding(lifted, self._pads_2d, self._pad_mode, owner, axes=("H", "L") if dims == 1 else ("H", "W"))
        left, right, top, bottom = self._pads_2d
        out_2d = tuple(conv_output_size(size, k, s, d, before, after) for size, k, s, d, (before, after) in
                       zip(lifted, self._kernel_2d, self._stride_2d, self._dilation_2d, ((top, bottom), (left, right)),
                           strict=True))
        out = out_2d[-dims:]
        if min(out) <= 0:
            padded = padded_shape(lifted, self._pads_2d)[-dims:]
            dilated = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation, strict=True))
            raise ValueError(
                f"{owner} input {shape_str(x.shape)} padded to ({axes}) = {shape_str(padded)} is smaller than the "
                f"dilated kernel {shape_str(dilated)}: the output size would be {shape_str(out)} <= 0"
            )

    def extra_repr(self):
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"]
        if isinstance(self.padding, str):                                       # torch prints 'same' as same
            parts.append(f"padding={self.padding}")
        elif any(self.padding):
            parts.append(f"padding={self.padding}")
        if self.dilation != (1,) * len(self.dilation):
            parts.append(f"dilation={self.dilation}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        if self.padding_mode != "zeros":
            parts.append(f"padding_mode={self.padding_mode}")
        return ", ".join(parts)


class Conv2d(_ConvNd):
    __doc__ = "2-D cross-correlation over (N, C_in, H, W) or (C_in, H, W) images, as ``torch.nn.Conv2d``.\n\n    " \
        + _ConvNd.__doc__.split("\n", 2)[2].lstrip()

    _axes = ("H", "W")

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype)


class Conv1d(_ConvNd):
    r"""1-D cross-correlation over (N, C_in, L) or (C_in, L) sequences, as ``torch.nn.Conv1d``.

    Shapes: x (N, C_in, L), W (C_out, C_in/G, k), b (C_out,), y (N, C_out, L_out),
    L_out = floor((L + pad_left + pad_right - d (k - 1) - 1) / s) + 1; unbatched x (C_in, L) -> y (C_out, L_out).

        y[n, o, l] = b[o] + sum_{c, i} W[o, c, i] x_pad[n, g(o) C_in/G + c, l s + i d]

    which is Conv2d's equation on images of height 1 with (1, k) kernels, and is computed as such:
    the same im2col, forward, backward and ``padding_mode``s (see ``_ConvNd``). Same arguments, init
    (fan_in = C_in/G k) and refusals as Conv2d, with ints or 1-tuples.
    """

    # One im2col for both layers: Conv1d lifts x to (N, C_in, 1, L), so its math is Conv2d's, read with H = 1.
    _axes = ("L",)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype)
