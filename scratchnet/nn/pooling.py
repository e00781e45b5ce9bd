r"""Max and average pooling over (N, C, H, W) windows, as ``torch.nn.MaxPool2d`` / ``AvgPool2d``.

Both read the same patches as a convolution (``conv.windows``), laid out as one slab per
window offset so that the max or sum over each window is a few whole-array operations,
and route gradients back with the same ``col2im``: one strided slice per window offset.
"""

import numpy as np

from scratchnet.nn.conv import check_conv_input, col2im, crop_hw, pad_hw, pair, windows
from scratchnet.nn.module import Module


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

    def _window_slabs(self, x, pad_value):
        """x's windows as one (N, C, H_out, W_out) slab per window offset: (kH kW, N, C, H_out, W_out).

        Offset-major, so that the max/sum over a window is an element-wise operation between
        kH kW whole slabs (fast), not a reduction over many tiny windows (slow in NumPy).
        """
        name = f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"
        check_conv_input(x, name, None, self.kernel_size, self.stride, (1, 1), self._pads)
        x_pad = pad_hw(x, self._pads, pad_value, owner=self)
        self._padded_shape = x_pad.shape
        patches = windows(x_pad, self.kernel_size, self.stride, (1, 1))  # (N, C, H_out, W_out, kH, kW) view
        slabs = np.ascontiguousarray(patches.transpose(4, 5, 0, 1, 2, 3))
        return slabs.reshape(-1, *patches.shape[:4])

    def _route_back(self, grad_slabs):
        """Sum per-offset gradients (kH kW, N, C, H_out, W_out) onto the input: col2im, then unpad."""
        (kh, kw), (_, n, c, h_out, w_out) = self.kernel_size, grad_slabs.shape
        # col2im takes (N, G, kH, kW, C/G, H_out, W_out): here G = C groups of one channel (a view)
        grad_patches = grad_slabs.reshape(kh, kw, n, c, 1, h_out, w_out).transpose(2, 3, 0, 1, 4, 5, 6)
        return crop_hw(col2im(grad_patches, self._padded_shape, self.stride, (1, 1)), self._pads)

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
        slabs = self._window_slabs(x, -np.inf)  # (kH kW, N, C, H_out, W_out)
        y = slabs.max(axis=0)
        # chosen[k] marks the windows whose max is at offset k: the first equal one (row-major), like torch
        chosen = slabs == y
        taken = chosen[0].copy()
        for offset in range(1, len(chosen)):
            chosen[offset] &= ~taken
            taken |= chosen[offset]
        self._chosen = chosen
        return y

    def backward(self, grad_output):
        return self._route_back(self._chosen * grad_output)


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
        slabs = self._window_slabs(x, 0.0)  # (kH kW, N, C, H_out, W_out)
        return slabs.sum(axis=0) / float(len(slabs))

    def backward(self, grad_output):
        kh, kw = self.kernel_size
        share = grad_output / float(kh * kw)
        return self._route_back(np.broadcast_to(share, (kh * kw, *share.shape)))
