r"""Max and average pooling over (N, C, H, W) windows, as ``torch.nn.MaxPool2d`` / ``AvgPool2d``.

Both read the same patches as a convolution (``conv.windows``, a view: no copy) and
route gradients back with the same ``col2im``: one strided slice per window offset.
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

    def _patches(self, x, pad_value):
        """The (N, C, H_out, W_out, kH, kW) windows of x padded with ``pad_value``."""
        name = f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"
        check_conv_input(x, name, None, self.kernel_size, self.stride, (1, 1), self._pads)
        x_pad = pad_hw(x, self._pads, pad_value, owner=self)
        self._padded_shape = x_pad.shape
        return windows(x_pad, self.kernel_size, self.stride, (1, 1))

    def _route_back(self, grad_patches):
        """Sum per-window gradients (N, C, kH, kW, H_out, W_out) onto the input: col2im, then unpad."""
        grad = col2im(grad_patches[:, :, :, :, None], self._padded_shape, self.stride, (1, 1))
        return crop_hw(grad, self._pads)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""y[n, c, h, w] = max_{i, j} x_pad[n, c, h s + i, w s + j], x padded with -inf.

    Shapes: x (N, C, H, W) -> y (N, C, H_out, W_out), H_out = floor((H + 2 p - k) / s) + 1.

    Backward: the whole gradient of each output goes to the one input that was the max,

        dx[n, c, h s + i*, w s + j*] += g[n, c, h, w],   (i*, j*) = argmax of the window,

    the first maximum in row-major order on ties, as torch picks it (``argmax`` does the same).
    Overlapping windows (stride < kernel) add up where they choose the same input.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, dilation=(dilation, 1),
                         return_indices=(return_indices, False), ceil_mode=(ceil_mode, False))

    def forward(self, x):
        patches = self._patches(x, -np.inf)
        n, c, h_out, w_out, kh, kw = patches.shape
        flat = patches.reshape(n, c, h_out, w_out, kh * kw)     # a copy: one row per window
        self._argmax = flat.argmax(axis=-1)                      # index of the first maximum, (N, C, H_out, W_out)
        return np.take_along_axis(flat, self._argmax[..., None], axis=-1)[..., 0]

    def backward(self, grad_output):
        kh, kw = self.kernel_size
        offsets = np.arange(kh * kw).reshape(kh, kw, 1, 1)
        chosen = self._argmax[:, :, None, None] == offsets        # (N, C, kH, kW, H_out, W_out) one-hot
        return self._route_back(chosen * grad_output[:, :, None, None])


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
        patches = self._patches(x, 0.0)
        kh, kw = self.kernel_size
        return patches.sum(axis=(-2, -1)) / float(kh * kw)

    def backward(self, grad_output):
        kh, kw = self.kernel_size
        share = grad_output / float(kh * kw)
        n, c, h_out, w_out = share.shape
        return self._route_back(np.broadcast_to(share[:, :, None, None], (n, c, kh, kw, h_out, w_out)))
