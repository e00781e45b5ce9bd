r"""Max and average pooling over (N, C, H, W) windows, as ``torch.nn.MaxPool2d`` / ``AvgPool2d``.

Both read the same patches as a convolution (``conv.windows``, a view
(N, C, H_out, W_out, kH, kW)), reduce each window to one number, and send gradients
back to the inputs each window read with the same ``col2im``. MaxPool2d reduces
offset-major slabs instead of the windows themselves, for speed (``offset_slabs``).
"""

import numpy as np

from scratchnet.nn.conv import check_conv_input, col2im, crop_hw, pad_hw, pair, windows
from scratchnet.nn.module import Module


def offset_slabs(patches):
    """patches (N, C, H_out, W_out, kH, kW) as slabs (kH kW, N, C, H_out, W_out): slab k = patches[..., i, j].

    Speed only (a contiguous copy, offsets k in row-major order): NumPy's max over kH kW whole
    slabs is about 10x faster than ``patches.max(axis=(-2, -1))`` over tiny trailing windows,
    without which the digits CNN's train step is some 30% slower (past its benchmark bound).
    """
    kh, kw = patches.shape[-2:]
    return np.ascontiguousarray(np.moveaxis(patches, (4, 5), (0, 1))).reshape(kh * kw, *patches.shape[:4])


def from_offset_slabs(slabs, kernel_size):
    """Undo ``offset_slabs``: (kH kW, N, C, H_out, W_out) -> a (N, C, H_out, W_out, kH, kW) view."""
    return np.moveaxis(slabs.reshape(*kernel_size, *slabs.shape[1:]), (0, 1), (4, 5))


def first_true(mask):
    """``mask`` (K, ...) with only the first True along axis 0 kept (torch's choice among tied maxima)."""
    first = mask.copy()
    seen = first[0].copy()
    for k in range(1, len(first)):
        first[k] &= ~seen
        seen |= first[k]
    return first


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, **unsupported):
        super().__init__()
        name = type(self).__name__
        for option, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(f"{name} supports {option}={default!r} only (torch's default), got {option}={value!r}")
        self.kernel_size = pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", name)
        self.padding = pair(padding, "padding", name, minimum=0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"{name} padding should be at most half of the kernel size, got padding={self.padding} "
                f"and kernel_size={self.kernel_size}"
            )
        ph, pw = self.padding
        self._pads = (ph, ph, pw, pw)

    def _patches(self, x, pad_value):
        """Check x, pad it with ``pad_value``; return its windows (N, C, H_out, W_out, kH, kW), a view."""
        name = f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"
        check_conv_input(x, name, None, self.kernel_size, self.stride, (1, 1), self._pads)
        x_pad = pad_hw(x, self._pads, pad_value)
        self._padded_shape = x_pad.shape
        return windows(x_pad, self.kernel_size, self.stride, (1, 1))

    def _to_input(self, d_patches):
        """dx from per-window gradients (N, C, H_out, W_out, kH, kW): col2im, then unpad."""
        dx_pad = col2im(d_patches, self._padded_shape, self.stride, (1, 1))
        return crop_hw(dx_pad, self._pads)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""y[n, c, h, w] = max_{i, j} x_pad[n, c, h s + i, w s + j], x padded with -inf.

    Shapes: x (N, C, H, W) -> y (N, C, H_out, W_out), H_out = floor((H + 2 p - k) / s) + 1.

    Backward: the whole gradient of each output goes to the one input that was the max,

        dx[n, c, h s + i*, w s + j*] += g[n, c, h, w],   (i*, j*) = argmax of the window,

    the first maximum in row-major order of the window on ties, as torch picks it. Overlapping
    windows (stride < kernel) add up where they choose the same input. (A NaN in a window makes
    its output NaN, as in torch; its gradient is then dropped, where torch routes it to the NaN.)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, dilation=(dilation, 1),
                         return_indices=(return_indices, False), ceil_mode=(ceil_mode, False))

    def forward(self, x):
        patches = self._patches(x, -np.inf)           # (N, C, H_out, W_out, kH, kW)
        slabs = offset_slabs(patches)                 # (kH kW, N, C, H_out, W_out)
        y = slabs.max(axis=0)                         # y = max_{i, j} patches[..., i, j]
        self._is_argmax = first_true(slabs == y)      # 1 at (i*, j*) of each window, 0 elsewhere
        return y

    def backward(self, grad_output):
        d_slabs = self._is_argmax * grad_output       # g at (i*, j*), 0 elsewhere  (kH kW, N, C, H_out, W_out)
        return self._to_input(from_offset_slabs(d_slabs, self.kernel_size))


class AvgPool2d(_Pool2d):
    r"""y[n, c, h, w] = (1 / (kH kW)) sum_{i, j} x_pad[n, c, h s + i, w s + j], x padded with zeros.

    torch's defaults: padded zeros count in the average (count_include_pad=True), floor output size.

    Backward: each output spreads its gradient evenly over its window,

        dx[n, c, h s + i, w s + j] += g[n, c, h, w] / (kH kW)    for every (i, j).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode=(ceil_mode, False),
                         count_include_pad=(count_include_pad, True), divisor_override=(divisor_override, None))

    def forward(self, x):
        patches = self._patches(x, 0.0)               # (N, C, H_out, W_out, kH, kW)
        return patches.mean(axis=(-2, -1))

    def backward(self, grad_output):
        kh, kw = self.kernel_size
        share = grad_output / float(kh * kw)          # g / (kH kW), the same for every (i, j) of a window
        d_patches = np.broadcast_to(share[..., None, None], (*share.shape, kh, kw))  # (N, C, H_out, W_out, kH, kW)
        return self._to_input(d_patches)
