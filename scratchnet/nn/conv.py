r"""2-D convolution as im2col and one matrix product; its backward as two more products and a col2im.

The helpers below are shared with the pooling layers:

- ``pad_hw`` / ``crop_hw``: borders of zeros (or -inf) on and off.
- ``windows`` (im2col): every (kH, kW) patch of a padded (N, C, Hp, Wp) array, as a view
  (N, C, H_out, W_out, kH, kW) made by ``sliding_window_view`` (no copy).
- ``col2im``: the adjoint of ``windows``: adds each patch's gradient back onto the input
  positions the patch was read from.
- ``conv_output_size``, ``check_conv_input``, ``pair``: output size, input checks, arguments.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet.nn.linear import init_uniform
from scratchnet.nn.module import Module, Parameter


def pair(value, name, owner, minimum=1):
    """An int or a 2-sequence of ints (each >= ``minimum``) as an (h, w) tuple, as torch's ``_pair``."""
    def valid(v):
        return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= minimum

    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(valid(v) for v in values):
        raise ValueError(f"{owner} expected {name} to be an int >= {minimum} or a pair of them, got {value!r}")
    return tuple(int(v) for v in values)


def conv_output_size(size, kernel, stride, dilation, pad_before, pad_after):
    """floor((size + pads - dilation (kernel - 1) - 1) / stride) + 1, torch's formula."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def check_conv_input(x, owner, channels, kernel_size, stride, dilation, pads, dtype=None):
    """Check a (N, C, H, W) input (any C when ``channels`` is None); return (H_out, W_out).

    ``pads`` = (top, bottom, left, right).
    """
    check_float(x, f"{owner} input", dtype)
    if x.ndim != 4:
        expected = "(N, C, H, W)" if channels is None else f"(N, {channels}, H, W)"
        raise ValueError(f"{owner} expected a 4-D input {expected}, got shape {shape_str(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{owner} expected input with {channels} channels, shape (N, {channels}, H, W), got {shape_str(x.shape)}"
        )
    (kh, kw), (dh, dw), (top, bottom, left, right) = kernel_size, dilation, pads
    out = (conv_output_size(x.shape[2], kh, stride[0], dh, top, bottom),
           conv_output_size(x.shape[3], kw, stride[1], dw, left, right))
    if min(out) <= 0:
        padded = (x.shape[2] + top + bottom, x.shape[3] + left + right)
        dilated = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        raise ValueError(
            f"{owner} input {shape_str(x.shape)} padded to (H, W) = {shape_str(padded)} is smaller than the "
            f"dilated kernel {shape_str(dilated)}: the output size would be {shape_str(out)} <= 0"
        )
    return out


def pad_hw(x, pads, value=0.0):
    """x (N, C, H, W) with ``pads`` = (top, bottom, left, right) rows/columns of ``value`` added."""
    (n, c, h, w), (top, bottom, left, right) = x.shape, pads
    padded = np.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    padded[:, :, top:top + h, left:left + w] = x
    return padded


def crop_hw(x_padded, pads):
    """Undo ``pad_hw``: the (N, C, H, W) interior of a padded array."""
    top, bottom, left, right = pads
    h, w = x_padded.shape[2] - bottom, x_padded.shape[3] - right
    return x_padded[:, :, top:h, left:w]


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


class Conv2d(Module):
    r"""2-D cross-correlation over (N, C_in, H, W) images, as ``torch.nn.Conv2d``.

    Shapes: x (N, C_in, H, W), W (C_out, C_in/G, kH, kW), b (C_out,), y (N, C_out, H_out, W_out),
    with G groups, H_out = floor((H + pad_top + pad_bottom - d (kH - 1) - 1) / s) + 1 (W_out alike).

    Forward. Each output pixel is a dot product of the kernel with one input patch:

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
        dx       = col2im(dX_col)                        (N, C_in, H, W)

    col2im is the adjoint of im2col: an input pixel read by several patches receives the sum of
    their gradients.

    Init (torch's kaiming_uniform_(a=sqrt(5))): W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    fan_in = C_in/G kH kW. padding='same' (stride 1 only) pads d (k - 1) in total, the odd one
    on the bottom/right, as torch does; 'valid' means no padding.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        for name, value, least in (("in_channels", in_channels, 0), ("out_channels", out_channels, 0),
                                   ("groups", groups, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                kind = "positive" if least else "non-negative"
                raise ValueError(f"Conv2d expected a {kind} integer {name}, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
            )
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d supports padding_mode='zeros' only, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = pair(stride, "stride", "Conv2d")
        self.dilation = pair(dilation, "dilation", "Conv2d")
        self.padding_mode = padding_mode
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    f"Conv2d padding='same' is not supported for strided convolutions (stride={self.stride})"
                )
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", "Conv2d", minimum=0)
        self._pads = self._pad_amounts()

        dtype = as_float_dtype(dtype)
        kh, kw = self.kernel_size
        fan_in = in_channels // groups * kh * kw
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        self.weight = Parameter(init_uniform((out_channels, in_channels // groups, kh, kw), bound, dtype))
        if bias:
            self.bias = Parameter(init_uniform((out_channels,), bound, dtype))
        else:
            self.register_parameter("bias", None)

    def _pad_amounts(self):
        """(top, bottom, left, right); 'same' puts the odd row/column at the bottom/right like torch."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            (kh, kw), (dh, dw) = self.kernel_size, self.dilation
            total_h, total_w = dh * (kh - 1), dw * (kw - 1)
            return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def _check(self, x):
        """Validate x; return (H_out, W_out)."""
        name = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"
        return check_conv_input(x, name, self.in_channels, self.kernel_size, self.stride, self.dilation,
                                self._pads, self.weight.dtype)

    def forward(self, x):
        h_out, w_out = self._check(x)
        n, groups, c_out = x.shape[0], self.groups, self.out_channels
        x_pad = pad_hw(x, self._pads)                                           # (N, C_in, Hp, Wp)
        patches = windows(x_pad, self.kernel_size, self.stride, self.dilation)  # (N, C_in, H_out, W_out, kH, kW)
        patches = patches.transpose(0, 1, 4, 5, 2, 3)                           # (N, C_in, kH, kW, H_out, W_out)
        X_col = patches.reshape(n, groups, -1, h_out * w_out)                   # (N, G, K, P), im2col's one copy
        W_g = self.weight.data.reshape(groups, c_out // groups, -1)             # (G, C_out/G, K)
        Y = W_g @ X_col                                                         # Y_n = W_g X_col_n  (N, G, C_out/G, P)
        y = Y.reshape(n, c_out, h_out, w_out)
        if self.bias is not None:
            y += self.bias.data[:, None, None]                                  # + b
        self._X_col, self._padded_shape = X_col, x_pad.shape
        return y

    def backward(self, grad_output):
        n, c_out, h_out, w_out = grad_output.shape
        groups, X_col = self.groups, self._X_col
        g = grad_output.reshape(n, groups, c_out // groups, h_out * w_out)      # (N, G, C_out/G, P)
        W_g = self.weight.data.reshape(groups, c_out // groups, -1)             # (G, C_out/G, K)
        if self.bias is not None:
            db = grad_output.sum(axis=(0, 2, 3))                                # sum_{n, p} g  (C_out,)
            self.bias.accumulate_grad(db)
        dW_g = (g @ X_col.swapaxes(-1, -2)).sum(axis=0)                         # sum_n g_n X_col_n^T  (G, C_out/G, K)
        self.weight.accumulate_grad(dW_g.reshape(self.weight.shape))
        dX_col = W_g.swapaxes(-1, -2) @ g                                       # W_g^T g_n  (N, G, K, P)
        d_patches = dX_col.reshape(n, self.in_channels, *self.kernel_size, h_out, w_out)
        d_patches = d_patches.transpose(0, 1, 4, 5, 2, 3)                       # (N, C_in, H_out, W_out, kH, kW)
        dx_pad = col2im(d_patches, self._padded_shape, self.stride, self.dilation)  # (N, C_in, Hp, Wp)
        return crop_hw(dx_pad, self._pads)                                      # dx (N, C_in, H, W)

    def extra_repr(self):
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"]
        if self.padding not in ((0, 0), "valid"):
            parts.append(f"padding={self.padding!r}" if isinstance(self.padding, str) else f"padding={self.padding}")
        if self.dilation != (1, 1):
            parts.append(f"dilation={self.dilation}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)
