r"""Max and average pooling, and max unpooling, as ``torch.nn.MaxPool1d/2d``, ``AvgPool1d/2d``, ``MaxUnpool2d``.

Inputs are batched (N, C, H, W) or unbatched (C, H, W); the 1-D layers take (N, C, L) or (C, L)
and run as the 2-D ones on (N, C, 1, L) with a (1, k) kernel, as torch's own 1-D pooling does.

Every window reads the same patches as a convolution (``conv.windows``, a view
(N, C, H_out, W_out, kH, kW) of the padded input). Output size per axis, torch's rule:

    L_out = floor((L + 2 p - d (k - 1) - 1) / s) + 1              (ceil_mode=False)
    L_out = ceil((L + 2 p - d (k - 1) - 1) / s) + 1, less one if the last window would start
            at or past L + p, i.e. entirely in the right padding   (ceil_mode=True)

In ceil mode the last window may run past the padded input; it reads only what lies inside.
Padding may be at most half the kernel (p <= k // 2), as torch requires; only with dilation can a
window read padding alone (see ``_MaxPool``).
"""

import functools
import math

import numpy as np

from scratchnet._checks import check_array, check_float, shape_str
from scratchnet.nn.backward_checks import check_grad_output
from scratchnet.nn.conv import col2im, pair, windows
from scratchnet.nn.module import Module, read_only
from scratchnet.nn.padding import pad, pad_backward, padded_shape


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """L_out of one axis, torch's ``pooling_output_shape`` (see the module docstring)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window must start inside the input or its left padding
    return out


def offset_slabs(patches):
    """patches (N, C, H_out, W_out, kH, kW) as slabs (kH kW, N, C, H_out, W_out): slab k = patches[..., i, j].

    Speed only (a contiguous copy, offsets k in row-major order): NumPy's element-wise work over kH kW
    whole slabs is about 10x faster than over tiny trailing windows, without which the digits CNN's
    train step is some 30% slower (past its benchmark bound).
    """
    kh, kw = patches.shape[-2:]
    return np.ascontiguousarray(np.moveaxis(patches, (4, 5), (0, 1))).reshape(kh * kw, *patches.shape[:4])


def max_scan(slabs, k_first):
    """y, the max of each window, and k*, which of its entries torch's scan picks.

    slabs (K, ...): the K entries of each window in row-major order. torch scans a window entry by
    entry, taking x_k over the running max when x_k > max or x_k is NaN, starting from its first
    entry inside the input (``k_first``). So k* is the first maximum (ties go to the first),
    counted as the entries before it,

        k* = sum_k prod_{j <= k} [x_j != y],

    or the last NaN if the window holds one (y is then NaN), or k_first if every entry is -inf
    (which the -inf padding before k_first matches first).
    """
    y = slabs.max(axis=0)                                    # NaN where the window holds one
    k_star = np.zeros(y.shape, dtype=np.min_scalar_type(len(slabs)))  # uint8 below 256 entries: 2x faster
    none_yet = np.ones(y.shape, dtype=bool)                  # prod_{j <= k} [x_j != y]
    for x_k in slabs[:-1]:
        none_yet = none_yet & (x_k != y)
        k_star = k_star + none_yet
    if np.isnan(y).any():
        for k, x_k in enumerate(slabs):
            k_star = np.where(np.isnan(x_k), k, k_star)      # the last NaN
    return y, np.maximum(k_star, k_first)


@functools.lru_cache(maxsize=32)
def window_geometry(size, out, pad_before, kernel, stride, dilation):
    """Where the max-pool windows of an (H, W) plane lie, as flat indices into it:

    starts (H_out, W_out):   (h s - p) W + (w s - p), each window's top-left entry (maybe padding)
    offsets (kH kW,):        i d W + j d, entry k = (i, j) of a window from its top-left
    k_first (H_out, W_out):  the first entry of each window past the top/left padding
    reads (H_out, W_out):    whether that entry, so the window, reads the input (not padding only)

    These depend on the sizes alone, so they are cached per input shape (a third of a small forward).
    """
    per_axis = []
    for length, o, pad, k, s, d in zip(size, out, pad_before, kernel, stride, dilation):
        start = np.arange(o) * s - pad                                # h s - p
        i0 = np.maximum(0, -(start // d))                             # ceil((p - h s) / d), at least 0
        per_axis.append((start, i0, (i0 < k) & (start + i0 * d < length)))
    (top, i0, rows_read), (left, j0, cols_read) = per_axis
    width, (kh, kw), (dh, dw) = size[1], kernel, dilation
    starts = top[:, None] * width + left
    offsets = (np.arange(kh)[:, None] * dh * width + np.arange(kw) * dw).ravel()
    k_first = i0[:, None] * kw + j0
    geometry = starts, offsets, k_first, rows_read[:, None] & cols_read
    for array in geometry:
        array.flags.writeable = False  # shared by every call with these sizes
    return geometry


def scatter_add_planes(values, indices, plane_size, where=True):
    """out[n, c, indices[n, c, ...]] += values[n, c, ...] where ``where``: a (N, C, plane_size) array, 0 elsewhere."""
    n, c = values.shape[:2]
    positions = indices + plane_size * np.arange(n * c).reshape(n, c, *[1] * (indices.ndim - 2))  # in (N C plane)
    if not np.all(where):
        adds = np.broadcast_to(where, values.shape)
        positions, values = positions[adds], values[adds]
    out = np.zeros(n * c * plane_size, dtype=values.dtype)
    np.add.at(out, positions.ravel(), values.ravel())
    return out.reshape(n, c, plane_size)


def single(value, name, owner, minimum=1):
    """An int or a 1-sequence of ints (>= ``minimum``) as an int, as torch's ``_single``."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(values) != 1 or isinstance(values[0], bool) or not isinstance(values[0], (int, np.integer)) \
            or values[0] < minimum:
        raise ValueError(f"{owner} expected {name} to be an int >= {minimum} or a 1-tuple of one, got {value!r}")
    return int(values[0])


def check_flag(value, name, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner} expected {name} to be a bool, got {value!r}")


class _Pool(Module):
    """What the pooling layers share: their arguments as (h, w) pairs, the input check, the padded windows.

    A 1-D layer is the 2-D one on (N, C, 1, L): kernel (1, k), stride (1, s), padding (0, p).
    """

    spatial_dims = 2

    def _setup(self, kernel_size, stride, padding, dilation, ceil_mode):
        """Check the arguments; keep their (h, w) pairs in ``_kernel``, ``_stride``, ``_padding``, ``_dilation``."""
        name = type(self).__name__
        check_flag(ceil_mode, "ceil_mode", name)
        if self.spatial_dims == 2:
            self._kernel = pair(kernel_size, "kernel_size", name)
            self._stride = self._kernel if stride is None else pair(stride, "stride", name)
            self._padding = pair(padding, "padding", name, minimum=0)
            self._dilation = pair(dilation, "dilation", name)
        else:
            self._kernel = (1, single(kernel_size, "kernel_size", name))
            self._stride = self._kernel if stride is None else (1, single(stride, "stride", name))
            self._padding = (0, single(padding, "padding", name, minimum=0))
            self._dilation = (1, single(dilation, "dilation", name))
        self._ceil_mode = bool(ceil_mode)
        if any(p > k // 2 for p, k in zip(self._padding, self._kernel)):
            given = (self.padding, self.kernel_size)
            raise ValueError(f"{name} padding should be at most half of the kernel size, got padding={given[0]} "
                             f"and kernel_size={given[1]}")

    def _check(self, x):
        """Check x; return it as (N, C, H, W) (a view) and (H_out, W_out)."""
        name = type(self).__name__
        check_float(x, f"{name} input")
        batched, unbatched = ("(N, C, H, W)", "(C, H, W)") if self.spatial_dims == 2 else ("(N, C, L)", "(C, L)")
        dims = self.spatial_dims
        if x.ndim not in (dims + 1, dims + 2) or 0 in x.shape[-dims - 1:]:
            raise ValueError(f"{name} expected a {dims + 2}-D input {batched} or a {dims + 1}-D unbatched input "
                             f"{unbatched}, with C and the sizes non-zero, got shape {shape_str(x.shape)}")
        n = x.shape[0] if x.ndim == dims + 2 else 1
        x4 = x.reshape(n, x.shape[-dims - 1], *([1] * (2 - dims)), *x.shape[-dims:])
        out = tuple(pool_output_size(size, k, s, p, d, self._ceil_mode) for size, k, s, p, d in
                    zip(x4.shape[2:], self._kernel, self._stride, self._padding, self._dilation))
        if min(out) <= 0:
            shown = out if dims == 2 else out[1:]
            raise ValueError(f"{name}({self.extra_repr()}) input {shape_str(x.shape)} is too small: "
                             f"the output size would be {shape_str(shown)} <= 0")
        return x4, out

    def _pads(self, x4, out):
        """(left, right, top, bottom), as ``padding.pad`` takes them: p on each side, and in ceil mode what the
        last window runs past that."""
        extra = [max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p)) for size, o, k, s, p, d in
                 zip(x4.shape[2:], out, self._kernel, self._stride, self._padding, self._dilation, strict=True)]
        (ph, pw) = self._padding
        return (pw, pw + extra[1], ph, ph + extra[0])

    def _unbatch(self, y4, x):
        """y4 (N, C, H_out, W_out) in the input's layout: without N for an unbatched x, without H for 1-D."""
        return y4.reshape(*x.shape[:-self.spatial_dims], *y4.shape[4 - self.spatial_dims:])


class _MaxPool(_Pool):
    r"""y[n, c, h, w] = max_{i, j} x_pad[n, c, h s + i d, w s + j d], x padded with -inf (dilation d).

    Shapes: x (N, C, H, W) or (C, H, W) -> y (N, C, H_out, W_out) or (C, H_out, W_out).

    indices[n, c, h, w] = (h s - p) W + (w s - p) + (i* d W + j* d): where in its (H, W) plane the
    max was read, (i*, j*) the window entry torch's scan picks (``max_scan``): the first maximum
    in row-major order on ties; a window holding NaN gives NaN, from its last NaN.

    Backward: the whole gradient of each output goes to the input it was read from,

        dx[n, c, indices[n, c, h, w]] += g[n, c, h, w],

    so an input that is the max of several overlapping windows gets the sum of their gradients.

    With dilation a window can read padding only: y is then -inf, its index torch's (that of its
    first entry past the top/left padding, outside the input), and its gradient goes nowhere.
    (torch's backward writes it at that index, into another row, plane or past the tensor's end.)
    With return_indices=True, forward returns (y, indices) and backward still takes dL/dy alone
    (the indices are integers, with no gradient).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode
        check_flag(return_indices, "return_indices", type(self).__name__)
        self._setup(kernel_size, stride, padding, dilation, ceil_mode)

    def forward(self, x):
        x4, (h_out, w_out) = self._check(x)                           # (N, C, H, W)
        pads = self._pads(x4, (h_out, w_out))
        patches = windows(pad(x4, pads, value=-np.inf), self._kernel, self._stride, self._dilation)
        (left, _, top, _) = pads
        starts, offsets, k_first, self._reads_input = window_geometry(
            x4.shape[2:], (h_out, w_out), (top, left), self._kernel, self._stride, self._dilation)
        y, k_star = max_scan(offset_slabs(patches), k_first)
        indices = starts + np.take(offsets, k_star)                   # (h s - p) W + (w s - p) + (i* d W + j* d)
        self._indices, self._x_shape, self._x4_shape = indices, x.shape, x4.shape
        y, indices = self._unbatch(y, x), read_only(self._unbatch(indices, x))  # backward reads them again
        self._y_shape = y.shape
        return (y, indices) if self.return_indices else y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        g = grad_output.reshape(self._indices.shape)                  # (N, C, H_out, W_out)
        h, w = self._x4_shape[2:]
        dx = scatter_add_planes(g, self._indices, h * w, where=self._reads_input)  # dx[n, c, indices] += g
        return dx.reshape(self._x_shape)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPool):
    __doc__ = "2-D max pooling, as ``torch.nn.MaxPool2d``.\n\n    " + _MaxPool.__doc__
    spatial_dims = 2


class MaxPool1d(_MaxPool):
    """1-D max pooling, as ``torch.nn.MaxPool1d``: x (N, C, L) or (C, L), MaxPool2d's math over (1, k) windows.

    indices are positions along L, as torch's.
    """

    spatial_dims = 1


class _AvgPool(_Pool):
    r"""y[n, c, h, w] = (1 / D[h, w]) sum_{i, j} x_pad[n, c, h s + i, w s + j], x padded with zeros.

    Shapes: x (N, C, H, W) or (C, H, W) -> y (N, C, H_out, W_out) or (C, H_out, W_out).

    The divisor is torch's, D[h, w] = D_h[h] D_w[w], from each axis's window [start, start + k),
    start = h s - p (D_w alike):

        count_include_pad=True:    D_h = min(start + k, H + p) - start      the padding counts, what a
                                                                          ceil-mode window runs past it not
        count_include_pad=False:   D_h = min(start + k, H) - max(start, 0)  inputs only
        divisor_override=v:        D = v

    Backward: each output spreads its gradient evenly over its window,

        dx[n, c, h s + i, w s + j] += g[n, c, h, w] / D[h, w]    for every (i, j).
    """

    def _divisor(self, size, out):
        """D (H_out, W_out) = D_h D_w^T, or divisor_override (see the class docstring)."""
        if self._divisor_override is not None:
            return np.full(out, float(self._divisor_override))
        lengths = []
        for length, o, k, s, p in zip(size, out, self._kernel, self._stride, self._padding):
            start = np.arange(o) * s - p                              # h s - p
            if self._count_include_pad:
                lengths.append(np.minimum(start + k, length + p) - start)
            else:
                lengths.append(np.minimum(start + k, length) - np.maximum(start, 0))
        return np.outer(*lengths).astype(np.float64)

    def forward(self, x):
        x4, out = self._check(x)                                      # (N, C, H, W)
        pads = self._pads(x4, out)
        patches = windows(pad(x4, pads), self._kernel, self._stride, (1, 1))  # (N, C, H_out, W_out, kH, kW)
        D = self._divisor(x4.shape[2:], out).astype(x.dtype)          # (H_out, W_out)
        y = patches.sum(axis=(-2, -1)) / D
        self._D, self._applied_pads, self._x_shape, self._x4_shape = D, pads, x.shape, x4.shape
        y = self._unbatch(y, x)
        self._y_shape = y.shape
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        g = grad_output.reshape(*self._x4_shape[:2], *self._D.shape)  # (N, C, H_out, W_out)
        kh, kw = self._kernel
        share = g / self._D                                           # g / D, the same for every (i, j) of a window
        d_patches = np.broadcast_to(share[..., None, None], (*share.shape, kh, kw))
        dx_pad = col2im(d_patches, padded_shape(self._x4_shape, self._applied_pads), self._stride, (1, 1))
        return pad_backward(dx_pad, self._x4_shape, self._applied_pads).reshape(self._x_shape)  # the border dropped

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def check_divisor(divisor_override, name):
    if divisor_override is not None and (isinstance(divisor_override, bool) or
                                         not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0):
        raise ValueError(f"{name} expected divisor_override to be None or a non-zero int, got {divisor_override!r}")


class AvgPool2d(_AvgPool):
    __doc__ = "2-D average pooling, as ``torch.nn.AvgPool2d``.\n\n    " + _AvgPool.__doc__
    spatial_dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        check_flag(count_include_pad, "count_include_pad", "AvgPool2d")
        check_divisor(divisor_override, "AvgPool2d")
        self._setup(kernel_size, stride, padding, 1, ceil_mode)
        self._count_include_pad, self._divisor_override = bool(count_include_pad), divisor_override


class AvgPool1d(_AvgPool):
    """1-D average pooling, as ``torch.nn.AvgPool1d``: x (N, C, L) or (C, L), AvgPool2d's math over (1, k) windows.

    torch keeps kernel_size, stride and padding as 1-tuples here; so does this.
    """

    spatial_dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        name = "AvgPool1d"
        self.kernel_size = (single(kernel_size, "kernel_size", name),)
        self.stride = (single(stride if stride is not None else kernel_size, "stride", name),)
        self.padding = (single(padding, "padding", name, minimum=0),)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        check_flag(count_include_pad, "count_include_pad", name)
        self._setup(kernel_size, stride, padding, 1, ceil_mode)
        self._count_include_pad, self._divisor_override = bool(count_include_pad), None


class MaxUnpool2d(Module):
    r"""The partial inverse of MaxPool2d: each value goes back where its max was read, zeros elsewhere.

    Shapes: x, indices (N, C, H_in, W_in) or unbatched (C, H_in, W_in) -> y (N, C, H, W) or (C, H, W),
    with by default H = (H_in - 1) s - 2 p + k (W alike), or ``output_size`` (torch accepts any
    size within s of that default, given as (H, W) or (N, C, H, W)).

        y[n, c, indices[n, c, h, w]] = x[n, c, h, w]     over each (H, W) plane; 0 where no index points

    (On an index that repeats, the last write wins, as in torch's CPU loop.)

    Backward: each input reads one output position, so

        dx[n, c, h, w] = g[n, c, indices[n, c, h, w]]

    (also for a repeated index, as torch's backward gathers.)
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = "MaxUnpool2d"
        self.kernel_size = pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", name)
        self.padding = pair(padding, "padding", name, minimum=0)

    def _check(self, x, indices, output_size):
        """Check the inputs; return x and indices as (N, C, H_in, W_in) and the output's (H, W)."""
        check_float(x, "MaxUnpool2d input")
        check_array(indices, "MaxUnpool2d indices")
        if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
            raise ValueError("MaxUnpool2d expected a 4-D input (N, C, H, W) or a 3-D unbatched input (C, H, W), "
                             f"with C and the sizes non-zero, got shape {shape_str(x.shape)}")
        if indices.dtype != np.int64:
            raise TypeError(f"MaxUnpool2d indices must have dtype int64 (as MaxPool2d returns them), "
                            f"got {indices.dtype}")
        if indices.shape != x.shape:
            raise ValueError(f"MaxUnpool2d expected indices of the input's shape {shape_str(x.shape)}, "
                             f"got {shape_str(indices.shape)}")
        default = [(size - 1) * s - 2 * p + k for size, s, p, k in
                   zip(x.shape[-2:], self.stride, self.padding, self.kernel_size)]
        if output_size is None:
            size = default
        else:
            given_form = isinstance(output_size, (tuple, list)) and len(output_size) in (2, 4)
            size = list(output_size)[-2:] if given_form else []
            if not given_form or not all(isinstance(v, (int, np.integer)) for v in size):
                raise ValueError("MaxUnpool2d expected output_size to be 2 ints (H, W) or 4 (N, C, H, W), "
                                 f"got {output_size!r}")
            for d, (v, s) in enumerate(zip(size, self.stride)):
                if not default[d] - s < v < default[d] + s:
                    raise ValueError(f"MaxUnpool2d got output_size {tuple(output_size)}: dim {d} must be between "
                                     f"{default[d] - s} and {default[d] + s} (exclusive), "
                                     f"the default being {default[d]}")
        h, w = size
        if min(h, w) < 0:
            raise ValueError(f"MaxUnpool2d output size {(h, w)} would be negative (input {shape_str(x.shape)})")
        invalid = indices[(indices < 0) | (indices >= h * w)] if h * w > 0 else indices[:0]
        if invalid.size:
            bad = invalid[0]  # the first, as torch reports it
            raise ValueError(f"MaxUnpool2d found an invalid index {bad}: the output planes are {h}x{w}, "
                             f"so indices must lie in [0, {h * w})")
        lift = (lambda a: a[None]) if x.ndim == 3 else (lambda a: a)
        return lift(x), lift(indices), (int(h), int(w))

    def forward(self, x, indices, output_size=None):
        x4, indices4, (h, w) = self._check(x, indices, output_size)    # (N, C, H_in, W_in)
        n, c, h_in, w_in = x4.shape
        y = np.zeros((n, c, h * w), dtype=x.dtype)
        if h * w:
            positions, values = indices4.reshape(n, c, h_in * w_in), x4.reshape(n, c, h_in * w_in)
            np.put_along_axis(y, positions, values, axis=2)             # y[n, c, indices] = x
        self._indices, self._x_shape = indices4.reshape(n, c, h_in * w_in), x.shape
        y = y.reshape(*x.shape[:-2], h, w)
        self._y_shape = y.shape
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        n, c = self._indices.shape[:2]
        g = grad_output.reshape(n, c, math.prod(grad_output.shape[-2:]))  # (N, C, H W)
        if g.shape[2] == 0:
            return np.zeros(self._x_shape, dtype=grad_output.dtype)
        dx = np.take_along_axis(g, self._indices, axis=2)              # dx = g[n, c, indices]
        return dx.reshape(self._x_shape)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
