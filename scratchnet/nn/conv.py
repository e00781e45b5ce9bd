r"""2-D convolution as im2col and one matrix product; its backward as two more products and a col2im.

The helpers below are shared with the pooling layers:

- ``windows``: every (kH, kW) patch of a padded (N, C, H, W) array as a view
  (N, C, H_out, W_out, kH, kW), built with ``sliding_window_view`` (no copy).
- ``col2im``: the adjoint of ``windows``: adds per-patch gradients back onto the input
  positions the patches came from, one whole-array strided slice per kernel offset
  (kH kW vectorised additions, no element-wise scatter).
- ``conv_output_size``, ``check_conv_input``: the output size and the input checks.
- ``pad_hw``/``crop_hw``: zero (or -inf) borders on and off; ``reuse``: scratch buffers.
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


def pad_hw(x, pads, value=0.0, owner=None):
    """x (N, C, H, W) with ``pads`` = (top, bottom, left, right) rows/columns of ``value`` added.

    With ``owner`` the padded array is a scratch buffer cached on that module (see ``reuse``):
    its border is filled once and only the interior is rewritten on later calls.
    """
    if not any(pads):
        return x
    (n, c, h, w), (top, bottom, left, right) = x.shape, pads
    shape = (n, c, h + top + bottom, w + left + right)
    if owner is None:
        padded = np.full(shape, value, dtype=x.dtype)
    else:
        padded = reuse(owner, "_x_pad", shape, x.dtype, fill=value)
    padded[:, :, top:top + h, left:left + w] = x
    return padded


def windows(x_padded, kernel_size, stride, dilation):
    """The (N, C, H_out, W_out, kH, kW) view of every patch: [n, c, h, w, i, j] = x[n, c, h s + i d, w s + j d]."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    patches = sliding_window_view(x_padded, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    return patches[:, :, ::sh, ::sw, ::dh, ::dw]


def col2im(grad_patches, padded_shape, stride, dilation):
    """Adjoint of ``windows``: sum each patch gradient onto the input position it was read from.

    grad_patches (N, G, kH, kW, C/G, H_out, W_out) -> (N, C, Hp, Wp), channels in G groups.
    For a fixed kernel offset (i, j) the patches read x[:, :, i d + s h, j d + s w] -- distinct
    positions -- so one strided slice per offset takes all of them at once; offsets that
    overlap add up. (Kernel offsets come before channels so that each offset's gradients
    are long blocks in memory, which makes these additions several times faster.)
    """
    n, groups, kh, kw, group_channels, h_out, w_out = grad_patches.shape
    (sh, sw), (dh, dw) = stride, dilation
    grad = np.zeros(padded_shape, dtype=grad_patches.dtype)
    grad_groups = grad.reshape(n, groups, group_channels, *padded_shape[2:])  # a view of grad
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw)
            grad_groups[..., rows, cols] += grad_patches[:, :, i, j]
    return grad


def reuse(module, name, shape, dtype, fill=None):
    """A scratch array cached on ``module`` and reused while shape and dtype stay the same.

    Only for temporaries that are dead by the next forward (never for returned arrays):
    a fresh multi-megabyte array costs a page fault per 4 KiB on first touch. A new one
    is filled with ``fill`` when given.
    """
    array = module.__dict__.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = np.empty(shape, dtype=dtype) if fill is None else np.full(shape, fill, dtype=dtype)
        object.__setattr__(module, name, array)
    return array


def crop_hw(x_padded, pads):
    """Undo ``pad_hw``: the (N, C, H, W) interior of a padded array."""
    top, bottom, left, right = pads
    h, w = x_padded.shape[2] - bottom, x_padded.shape[3] - right
    return x_padded[:, :, top:h, left:w]


class Conv2d(Module):
    r"""2-D cross-correlation over (N, C_in, H, W) images, as ``torch.nn.Conv2d``.

    Shapes: x (N, C_in, H, W), W (C_out, C_in/G, kH, kW), b (C_out,), y (N, C_out, H_out, W_out),
    with G groups, H_out = floor((H + pad_top + pad_bottom - d (kH - 1) - 1) / s) + 1 (W_out alike).

    Forward. Each output pixel is a dot product of the kernel with one input patch:

        y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, g(o) C_in/G + c, h s + i d, w s + j d]

    im2col copies every patch into a column: X_col (N, G, K, P) with K = kH kW C_in/G patch
    entries (ordered kernel row, kernel column, channel) and P = H_out W_out positions; with
    the kernels as rows of W_g (G, C_out/G, K) the whole layer is one (batched) matrix product:

        Y = W_g @ X_col + b                                 (N, G, C_out/G, P)

    Backward, with g = dL/dy reshaped like Y to (N, G, C_out/G, P):

        db    = sum_{n, h, w} g[n, :, h, w]                 (C_out,)
        dW_g  = sum_n g_n @ X_col_n^T                       (G, C_out/G, K)   -- the product rule on Y = W X_col
        dX_col = W_g^T @ g                                   (N, G, K, P)      -- dL/d(each patch entry)
        dx    = col2im(dX_col)                               (N, C_in, H, W)

    col2im is the adjoint of im2col: an input pixel read by several patches receives the sum of
    their gradients. It runs one vectorised strided slice per kernel offset (i, j), not a
    per-element scatter: for fixed (i, j) the patches read distinct pixels x_pad[.., i d + s h, j d + s w].
    (dx is also the full convolution of the zero-padded g with the flipped kernel, but that
    im2col of g is C_out/C_in times larger; measured slower here.)

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

    def _grouped_weight(self):
        """W (C_out, C_in/G, kH, kW) as W_g (G, C_out/G, K), K ordered (kH, kW, C_in/G) like X_col."""
        groups, (kh, kw) = self.groups, self.kernel_size
        w = self.weight.data.reshape(groups, self.out_channels // groups, self.in_channels // groups, kh, kw)
        return w.transpose(0, 1, 3, 4, 2).reshape(groups, self.out_channels // groups, -1)

    def forward(self, x):
        name = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"
        h_out, w_out = check_conv_input(x, name, self.in_channels, self.kernel_size, self.stride, self.dilation,
                                        self._pads, self.weight.dtype)
        n, groups, (kh, kw) = x.shape[0], self.groups, self.kernel_size
        x_pad = pad_hw(x, self._pads, owner=self)
        patches = windows(x_pad, self.kernel_size, self.stride, self.dilation)  # (N, C, H_out, W_out, kH, kW) view
        patches = patches.reshape(n, groups, -1, h_out, w_out, kh, kw).transpose(0, 1, 5, 6, 2, 3, 4)
        x_col = reuse(self, "_x_col", patches.shape, x.dtype)  # (N, G, kH, kW, C/G, H_out, W_out)
        np.copyto(x_col, patches)                              # im2col: the one copy of the patches
        x_col = x_col.reshape(n, groups, -1, h_out * w_out)    # X_col (N, G, K, P)
        self._padded_shape = x_pad.shape
        y = self._grouped_weight() @ x_col                     # Y = W_g @ X_col
        y = y.reshape(n, self.out_channels, h_out, w_out)
        if self.bias is not None:
            y += self.bias.data[:, None, None]
        return y

    def backward(self, grad_output):
        groups, (kh, kw) = self.groups, self.kernel_size
        n, _, h_out, w_out = grad_output.shape
        x_col = self._x_col.reshape(n, groups, -1, h_out * w_out)  # (N, G, K, P)
        g = grad_output.reshape(n, groups, self.out_channels // groups, h_out * w_out)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_output.sum(axis=(0, 2, 3)))  # db = sum over n, h, w
        # dW_g = sum_n g_n X_col_n^T, computed as its transpose sum_n X_col_n g_n^T (a faster product shape)
        grad_w = (x_col @ g.swapaxes(-1, -2)).sum(axis=0).swapaxes(-1, -2)
        grad_w = grad_w.reshape(groups, -1, kh, kw, self.in_channels // groups).transpose(0, 1, 4, 2, 3)
        self.weight.accumulate_grad(np.ascontiguousarray(grad_w).reshape(self.weight.shape))
        grad_col = self._grouped_weight().swapaxes(-1, -2) @ g  # dX_col = W_g^T g  (N, G, K, P)
        grad_col = grad_col.reshape(n, groups, kh, kw, -1, h_out, w_out)
        grad_x = col2im(grad_col, self._padded_shape, self.stride, self.dilation)
        return crop_hw(grad_x, self._pads)

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
