r"""Adaptive pooling: the output size is given, the windows follow, as ``torch.nn.AdaptiveAvgPool1d/2d``
and ``AdaptiveMaxPool2d``.

Along an axis of length L pooled to L_out, window i covers [start_i, end_i), torch's rule:

    start_i = floor(i L / L_out),    end_i = ceil((i + 1) L / L_out)

so the windows tile the axis, neighbours overlap by at most one entry, and L_out = L gives
windows of one entry (the identity). ``output_size`` may be larger than L; for the 2-D layers a
``None`` entry keeps that axis's input size.
"""

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet.nn.backward_checks import check_grad_output
from scratchnet.nn.module import Module, read_only
from scratchnet.nn.pooling import check_flag, max_scan, scatter_add_planes


def adaptive_windows(size, out):
    """(start, end), each (out,): start_i = floor(i L / L_out), end_i = ceil((i + 1) L / L_out)."""
    i = np.arange(out)
    return (i * size) // out, -(-((i + 1) * size) // out)


def averaging_matrix(size, out, dtype):
    """A (L_out, L): A[i, l] = 1 / (end_i - start_i) for start_i <= l < end_i, else 0; row i averages window i."""
    start, end = adaptive_windows(size, out)
    l = np.arange(size)
    inside = (start[:, None] <= l) & (l < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def check_output_size(output_size, dims, owner):
    """torch's accepted forms: an int >= 0, or ``dims`` of them (None allowed in 2-D); as a tuple of ``dims``."""
    def valid(v, none_ok):
        return (v is None and none_ok) or (not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= 0)

    values = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * dims
    if len(values) != dims or not all(valid(v, dims == 2) for v in values):
        form = "an int >= 0 or a pair of them (None keeps the input's size)" if dims == 2 else "an int >= 0"
        raise ValueError(f"{owner} expected output_size to be {form}, got {output_size!r}")
    return values


def check_pool_input(x, dims, owner, empty_channels=False):
    """x (N, C, *spatial) or unbatched (C, *spatial), ``dims`` spatial axes: as (N, C, *spatial), a view.

    The spatial sizes must be non-zero, and C too unless ``empty_channels`` (torch's adaptive average
    pools take C = 0, its adaptive max pool does not).
    """
    check_float(x, f"{owner} input")
    batched, unbatched = ("(N, C, H, W)", "(C, H, W)") if dims == 2 else ("(N, C, L)", "(C, L)")
    nonzero = "the sizes" if empty_channels else "C and the sizes"
    if x.ndim not in (dims + 1, dims + 2) or 0 in x.shape[-dims - (not empty_channels):]:
        raise ValueError(f"{owner} expected a {dims + 2}-D input {batched} or a {dims + 1}-D unbatched input "
                         f"{unbatched}, with {nonzero} non-zero, got shape {shape_str(x.shape)}")
    return x if x.ndim == dims + 2 else x[None]


class AdaptiveAvgPool1d(Module):
    r"""Average over L_out windows of L (see the module docstring), as ``torch.nn.AdaptiveAvgPool1d``.

    Shapes: x (N, C, L) or (C, L) -> y (N, C, L_out) or (C, L_out). With A (L_out, L) the averaging
    matrix, A[i, l] = 1 / (end_i - start_i) on window i, pooling is linear:

        y = x A^T           backward:   dx = g A
    """

    def __init__(self, output_size):
        super().__init__()
        self._out = check_output_size(output_size, 1, "AdaptiveAvgPool1d")[0]
        self.output_size = output_size

    def forward(self, x):
        x3 = check_pool_input(x, 1, "AdaptiveAvgPool1d", empty_channels=True)              # (N, C, L)
        A = averaging_matrix(x3.shape[2], self._out, x.dtype)         # (L_out, L)
        y = x @ A.T
        self._A, self._y_shape = A, y.shape
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        return grad_output @ self._A                                  # dx = g A

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    r"""Average over H_out x W_out windows (see the module docstring), as ``torch.nn.AdaptiveAvgPool2d``.

    Shapes: x (N, C, H, W) or (C, H, W) -> y (N, C, H_out, W_out) or (C, H_out, W_out). The average
    over window (i, j) is a row average then a column average; with A_h (H_out, H) and A_w
    (W_out, W) the averaging matrices of the two axes:

        y = A_h x A_w^T     backward:   dx = A_h^T g A_w
    """

    def __init__(self, output_size):
        super().__init__()
        self._out = check_output_size(output_size, 2, "AdaptiveAvgPool2d")
        self.output_size = output_size

    def forward(self, x):
        x4 = check_pool_input(x, 2, "AdaptiveAvgPool2d", empty_channels=True)              # (N, C, H, W)
        h_out, w_out = (size if out is None else out for out, size in zip(self._out, x4.shape[2:]))
        A_h = averaging_matrix(x4.shape[2], h_out, x.dtype)           # (H_out, H)
        A_w = averaging_matrix(x4.shape[3], w_out, x.dtype)           # (W_out, W)
        y = A_h @ x @ A_w.T
        self._A_h, self._A_w, self._y_shape = A_h, A_w, y.shape
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        return self._A_h.T @ grad_output @ self._A_w                  # dx = A_h^T g A_w

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    r"""Max over H_out x W_out windows (see the module docstring), as ``torch.nn.AdaptiveMaxPool2d``.

    Shapes: x (N, C, H, W) or (C, H, W) -> y, indices (N, C, H_out, W_out) or (C, H_out, W_out).

        y[n, c, i, j] = max over rows [start_i, end_i) and columns [start_j, end_j) of x[n, c]

    indices[n, c, i, j] is where in its (H, W) plane the max was read, picked as MaxPool2d picks
    it (``max_scan``: the first maximum in row-major order on ties, the last NaN if any).

    Backward: dx[n, c, indices[n, c, i, j]] += g[n, c, i, j]. With return_indices=True forward
    returns (y, indices); backward still takes dL/dy alone. (One loop step per output position,
    each over all of N and C: the windows differ in size.)
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self._out = check_output_size(output_size, 2, "AdaptiveMaxPool2d")
        check_flag(return_indices, "return_indices", "AdaptiveMaxPool2d")
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        x4 = check_pool_input(x, 2, "AdaptiveMaxPool2d")              # (N, C, H, W)
        (n, c, height, width) = x4.shape
        h_out, w_out = (size if out is None else out for out, size in zip(self._out, x4.shape[2:]))
        y = np.empty((n, c, h_out, w_out), dtype=x.dtype)
        indices = np.empty((n, c, h_out, w_out), dtype=np.int64)
        for i, (top, bottom) in enumerate(zip(*adaptive_windows(height, h_out))):
            for j, (left, right) in enumerate(zip(*adaptive_windows(width, w_out))):
                window = x4[:, :, top:bottom, left:right]                         # (N, C, h, w)
                entries = window.transpose(2, 3, 0, 1).reshape((bottom - top) * (right - left), n, c)  # (h w, N, C)
                y[:, :, i, j], k_star = max_scan(entries, 0)
                row, col = np.divmod(k_star, right - left)
                indices[:, :, i, j] = (top + row) * width + left + col
        self._indices, self._x_shape = indices, x.shape
        unbatch = (lambda a: a[0]) if x.ndim == 3 else (lambda a: a)
        self._y_shape = unbatch(y).shape
        return (unbatch(y), read_only(unbatch(indices))) if self.return_indices else unbatch(y)  # backward reads them

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        g = grad_output.reshape(self._indices.shape)                              # (N, C, H_out, W_out)
        dx = scatter_add_planes(g, self._indices, self._x_shape[-2] * self._x_shape[-1])  # dx[n, c, indices] += g
        return dx.reshape(self._x_shape)

    def extra_repr(self):
        return f"output_size={self.output_size}"
