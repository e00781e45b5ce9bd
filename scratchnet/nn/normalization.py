r"""Normalisation layers, as ``torch.nn``'s: BatchNorm1d/2d, InstanceNorm1d/2d, GroupNorm and LayerNorm.

Every one of them standardises x over some axes, then (optionally) scales and shifts it:

    mu = mean(x),   var = mean((x - mu)^2)           (biased; means over the layer's axes)
    x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta

They differ only in which axes the statistics run over:

    BatchNorm     (N, C, *)   per channel, over the batch and the positions   axes (0, 2, 3, ...)
    InstanceNorm  (N, C, *)   per sample and channel, over the positions      axes (2, 3, ...)
    GroupNorm     (N, C, *)   per sample and group of C / G channels           axes (2,) of (N, G, C/G * ...)
    LayerNorm     (*, D...)   per sample, over the trailing normalized_shape   the last len(normalized_shape)

So the math is written once, in ``mean_and_var``, ``standardize`` and ``standardize_backward`` below;
each class says which axes it uses and what it does around them (running statistics, groups, the
per-channel or elementwise gamma and beta).
"""

import math
import warnings

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet.nn.backward_checks import check_grad_output
from scratchnet.nn.module import Module, Parameter


# -- the shared math ----------------------------------------------------------------------------


def _mean(a, axes):
    """mean(a) over ``axes`` (kept as size-1 dimensions); 0 for an empty slice, whose output is empty anyway."""
    count = math.prod(a.shape[axis] for axis in axes)
    return a.sum(axis=axes, keepdims=True) / max(count, 1)


def mean_and_var(x, axes):
    """mu = mean(x), var = mean((x - mu)^2) over ``axes`` (biased, as every normalisation layer divides by it)."""
    mu = _mean(x, axes)
    centered = x - mu
    return mu, _mean(centered * centered, axes)


def standardize(x, mu, var, eps):
    """x_hat = (x - mu) / sqrt(var + eps); returns x_hat and inv_std = 1 / sqrt(var + eps)."""
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - mu) * inv_std, inv_std


def standardize_backward(grad_x_hat, x_hat, inv_std, axes):
    r"""dL/dx when mu and var were x's own statistics over ``axes``, from g_hat = dL/dx_hat:

        dx = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(var + eps)

    Derivation, for one slice of D values: x_hat_j = (x_j - mu) r with r = (var + eps)^(-1/2),
    dmu/dx_i = 1/D and dr/dx_i = -r^3 (x_i - mu) / D = -r^2 x_hat_i / D, so
        dx_hat_j/dx_i = r (delta_ij - 1/D) - x_hat_j r x_hat_i / D,
    and dx_i = sum_j g_hat_j dx_hat_j/dx_i is the line above: the first term is the direct path,
    the second the path through mu, the third the path through var. (With fixed mu and var --
    running statistics -- only the direct path remains: dx = g_hat / sqrt(var + eps).)
    """
    mean_grad = _mean(grad_x_hat, axes)
    mean_grad_x_hat = _mean(grad_x_hat * x_hat, axes)
    return (grad_x_hat - mean_grad - x_hat * mean_grad_x_hat) * inv_std


def _as_channels(values, ndim):
    """A per-channel vector (C,) as (1, C, 1, ...), to broadcast over axis 1 of an ndim-D input."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _values_per_channel(x):
    """m = N * prod(*) for x (N, C, *): how many values BatchNorm averages per channel."""
    return x.shape[0] * math.prod(x.shape[2:])


def _is_count(value, minimum):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= minimum


class _ChannelAffine(Module):
    """The per-channel y = gamma x_hat + beta of BatchNorm, InstanceNorm and GroupNorm (gamma, beta: (C,)).

    Backward, sums over every axis but the channels' (1):
        dgamma = sum g x_hat,   dbeta = sum g,   and g_hat = dL/dx_hat = g gamma.
    """

    def _register_affine(self, num_channels, affine, bias, dtype):
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(np.zeros(num_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def _affine(self, x_hat):
        if self.weight is None:
            return x_hat
        y = x_hat * _as_channels(self.weight.data, x_hat.ndim)
        if self.bias is not None:
            y = y + _as_channels(self.bias.data, x_hat.ndim)
        return y

    def _affine_backward(self, grad_output, x_hat):
        """Accumulate dgamma, dbeta; return g_hat."""
        if self.weight is None:
            return grad_output
        not_channels = (0, *range(2, grad_output.ndim))
        self.weight.accumulate_grad((grad_output * x_hat).sum(axis=not_channels))  # dgamma = sum g x_hat
        if self.bias is not None:
            self.bias.accumulate_grad(grad_output.sum(axis=not_channels))          # dbeta = sum g
        return grad_output * _as_channels(self.weight.data, grad_output.ndim)      # g_hat = g gamma


class _NormBase(_ChannelAffine):
    """What BatchNorm and InstanceNorm share, as torch's ``_NormBase``: gamma, beta (C,) when ``affine``
    (beta only with ``bias``), and the buffers running_mean (zeros), running_var (ones) and the int64
    counter num_batches_tracked when ``track_running_stats``; absent ones are registered as None."""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype, bias):
        super().__init__()
        if not _is_count(num_features, 1):
            raise ValueError(f"{type(self).__name__} expected a positive integer num_features, got {num_features!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = as_float_dtype(dtype)
        self._register_affine(self.num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def _dtype(self):
        """The dtype inputs must have: the parameters' or the buffers' (None: any float dtype)."""
        if self.weight is not None:
            return self.weight.dtype
        return self.running_mean.dtype if self.running_mean is not None else None

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


# -- BatchNorm ----------------------------------------------------------------------------------


class _BatchNorm(_NormBase):
    r"""Normalise each channel over the batch and the positions, then scale and shift it.

    Shapes: x, y (N, C, *); weight gamma, bias beta, running_mean, running_var (C,);
    statistics are per channel c over its m = N * prod(*) values (axes 0, 2, 3, ...).

    Training (batch statistics):
        mu = mean(x),   var = mean((x - mu)^2)            (biased, used to normalise)
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta
        running_mean <- (1 - a) running_mean + a mu
        running_var  <- (1 - a) running_var  + a var m / (m - 1)       (unbiased, as torch)
        with a = momentum, or 1 / num_batches_tracked when momentum is None (cumulative average).
    Eval: the same with mu, var replaced by running_mean, running_var (no update); without
    running statistics (track_running_stats=False) the batch's are used in eval too.
    An empty batch (m = 0) gives an empty output; training on it counts a batch in
    num_batches_tracked but moves no statistic, as torch does.

    Backward, with g = dL/dy, sums over the m values of each channel:
        dbeta  = sum g,   dgamma = sum g x_hat,   g_hat = g gamma
        eval:  dx = g_hat / sqrt(var + eps)                             (mu, var are constants)
        train: dx = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(var + eps)
    The training formula adds the paths through mu and var, which depend on every x of the
    channel (derived in ``standardize_backward``).
    """

    _ndims = ()  # the input ranks a subclass accepts
    _form = ""   # how its message names them

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None,
                 *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)

    def _check(self, x, use_batch_stats):
        name, c = type(self).__name__, self.num_features
        check_float(x, f"{name} input", self._dtype())
        if x.ndim not in self._ndims:
            raise ValueError(f"{name}({c}) expected {self._form.format(c=c)}, got a {x.ndim}-D input "
                             f"{shape_str(x.shape)}")
        # without gamma, beta or running statistics num_features is unused: torch takes any C then
        if x.shape[1] != c and (self.affine or self.track_running_stats):
            raise ValueError(f"{name}({c}) expected {self._form.format(c=c)} with C = {c} channels at dim 1, "
                             f"got {shape_str(x.shape)}")
        if use_batch_stats and _values_per_channel(x) == 1:  # also in eval without running stats, as torch
            raise ValueError(f"{name} expected more than 1 value per channel when training, "
                             f"got input {shape_str(x.shape)}")
        if use_batch_stats and self.eps <= 0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {self.eps}")
        if self.eps < 0:
            raise ValueError(f"batch_norm eps must be non-negative, but got {self.eps}")

    def forward(self, x):
        use_batch_stats = self.training or not self.track_running_stats
        self._check(x, use_batch_stats)
        axes = (0, *range(2, x.ndim))  # every axis but the channels'
        if use_batch_stats:
            mu, var = mean_and_var(x, axes)
            if self.training and self.track_running_stats:
                self._update_running_stats(mu.ravel(), var.ravel(), count=_values_per_channel(x))
        else:
            mu, var = _as_channels(self.running_mean, x.ndim), _as_channels(self.running_var, x.ndim)
        x_hat, inv_std = standardize(x, mu, var, self.eps)
        self._x_hat, self._inv_std, self._axes = x_hat, inv_std, axes
        self._used_batch_stats, self._y_shape = use_batch_stats, x.shape
        return self._affine(x_hat)

    def _update_running_stats(self, mu, var, count):
        self.num_batches_tracked += 1  # in place: the 0-d int64 buffer
        if count == 0:
            return  # an empty batch: counted, nothing to average (torch)
        a = 1.0 / float(self.num_batches_tracked) if self.momentum is None else float(self.momentum)
        unbiased_var = var * (count / (count - 1))
        self.running_mean = (1.0 - a) * self.running_mean + a * mu
        self.running_var = (1.0 - a) * self.running_var + a * unbiased_var

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        grad_x_hat = self._affine_backward(grad_output, self._x_hat)
        if not self._used_batch_stats:
            return grad_x_hat * self._inv_std
        return standardize_backward(grad_x_hat, self._x_hat, self._inv_std, self._axes)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, as ``torch.nn.BatchNorm1d``: per
    channel over N (and L). The equations are ``_BatchNorm``'s."""

    _ndims, _form = (2, 3), "a 2-D or 3-D input (N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, as ``torch.nn.BatchNorm2d``: per channel over N, H and W.
    The equations are ``_BatchNorm``'s."""

    _ndims, _form = (4,), "a 4-D input (N, {c}, H, W)"


# -- InstanceNorm -------------------------------------------------------------------------------


class _InstanceNorm(_NormBase):
    r"""Normalise each sample's channels on their own, over the positions; then scale and shift.

    Shapes: x, y (N, C, *) or unbatched (C, *) (run as a batch of one); gamma, beta,
    running_mean, running_var (C,); statistics are per (n, c) over its m = prod(*) values.

    With instance statistics (training, or eval without running statistics):
        mu_nc = mean(x_nc),   var_nc = mean((x_nc - mu_nc)^2)        (biased)
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta
        tracked, in training (momentum a; None means a = 0, no update -- torch passes 0):
        running_mean <- (1 - a) running_mean + a mean_n(mu_nc)
        running_var  <- (1 - a) running_var  + a mean_n(var_nc m / (m - 1))
        num_batches_tracked is never counted (torch's instance norm leaves it at 0).
    Eval with track_running_stats: mu, var are running_mean, running_var.

    Backward, with g = dL/dy:
        dbeta = sum g,   dgamma = sum g x_hat                   (over n and the positions)
        g_hat = g gamma
        instance statistics: dx = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(var + eps)
        running statistics:  dx = g_hat / sqrt(var + eps)
    the means running over each (n, c)'s positions (``standardize_backward``).
    """

    _spatial = 0  # how many position axes a subclass has
    _form = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, dtype=None,
                 *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)

    def _check(self, x, use_instance_stats):
        name, c = type(self).__name__, self.num_features
        check_float(x, f"{name} input", self._dtype())
        if x.ndim not in (self._spatial + 1, self._spatial + 2):
            raise ValueError(f"{name}({c}) expected {self._form.format(c=c)}, got a {x.ndim}-D input "
                             f"{shape_str(x.shape)}")
        channel_axis = x.ndim - self._spatial - 1
        if x.shape[channel_axis] != c:
            if self.affine or self.track_running_stats:
                raise ValueError(f"{name}({c}) expected input's size at dim={channel_axis} to match "
                                 f"num_features ({c}), but got: {x.shape[channel_axis]}.")
            warnings.warn(f"input's size at dim={channel_axis} does not match num_features. You can silence this "
                          "warning by not passing in num_features, which is not used because affine=False",
                          UserWarning, stacklevel=4)
        if self.affine and x.ndim == self._spatial + 2 and x.shape[0] == 0:
            raise ValueError(f"{name} with affine=True cannot take an empty batch (torch fails on it too), "
                             f"got input {shape_str(x.shape)}")
        if use_instance_stats and math.prod(x.shape[channel_axis + 1:]) == 1:
            raise ValueError(f"{name} expected more than 1 spatial element when training, "
                             f"got input {shape_str(x.shape)}")

    def forward(self, x):
        use_instance_stats = self.training or not self.track_running_stats
        self._check(x, use_instance_stats)
        self._y_shape = x.shape
        self._unbatched = x.ndim == self._spatial + 1
        if self._unbatched:
            x = x[None]
        axes = tuple(range(2, x.ndim))  # each (n, c)'s positions
        if use_instance_stats:
            mu, var = mean_and_var(x, axes)
            if self.training and self.track_running_stats:
                self._update_running_stats(mu, var, count=math.prod(x.shape[2:]))
        else:
            mu, var = _as_channels(self.running_mean, x.ndim), _as_channels(self.running_var, x.ndim)
        x_hat, inv_std = standardize(x, mu, var, self.eps)
        self._x_hat, self._inv_std, self._axes = x_hat, inv_std, axes
        self._used_instance_stats = use_instance_stats
        y = self._affine(x_hat)
        return y[0] if self._unbatched else y

    def _update_running_stats(self, mu, var, count):
        if count == 0 or mu.shape[0] == 0:
            # no values: nothing to average. torch agrees for count = 0; for an empty batch it
            # writes the mean of nothing (NaN) into the statistics, which this does not copy.
            return
        a = 0.0 if self.momentum is None else float(self.momentum)
        mean_mu = mu.mean(axis=0).ravel()                                 # mean_n(mu_nc), (C,)
        mean_unbiased_var = (var * (count / (count - 1))).mean(axis=0).ravel()
        self.running_mean = (1.0 - a) * self.running_mean + a * mean_mu
        self.running_var = (1.0 - a) * self.running_var + a * mean_unbiased_var

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        if self._unbatched:
            grad_output = grad_output[None]
        grad_x_hat = self._affine_backward(grad_output, self._x_hat)
        if self._used_instance_stats:
            dx = standardize_backward(grad_x_hat, self._x_hat, self._inv_std, self._axes)
        else:
            dx = grad_x_hat * self._inv_std
        return dx[0] if self._unbatched else dx


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) sequences, as ``torch.nn.InstanceNorm1d``:
    per sample and channel over L. The equations are ``_InstanceNorm``'s."""

    _spatial, _form = 1, "a 2-D or 3-D input ({c}, L) or (N, {c}, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W) images, as ``torch.nn.InstanceNorm2d``:
    per sample and channel over H and W. The equations are ``_InstanceNorm``'s."""

    _spatial, _form = 2, "a 3-D or 4-D input ({c}, H, W) or (N, {c}, H, W)"


# -- GroupNorm ----------------------------------------------------------------------------------


class GroupNorm(_ChannelAffine):
    r"""Split the C channels into G groups of C / G and normalise each sample's group; then a per-channel affine.

    Shapes: x, y (N, C, *); gamma, beta (C,). x is viewed as groups (N, G, C/G * prod(*)) and each
    of the N G rows is standardised on its own; no running statistics, training and eval agree.

        mu_ng = mean(x_ng),   var_ng = mean((x_ng - mu_ng)^2)        (biased, over the row)
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma_c x_hat + beta_c

    Backward, with g = dL/dy:
        dbeta = sum g,   dgamma = sum g x_hat                         (over n and the positions)
        g_hat = g gamma,   dx = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(var + eps)
    the means running over each row (``standardize_backward``).

    G = 1 is a LayerNorm over (C, *) with per-channel gamma; G = C is InstanceNorm with affine.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None, *, bias=True):
        super().__init__()
        if not _is_count(num_groups, 1) or not _is_count(num_channels, 1):
            raise ValueError(f"GroupNorm expected positive integers num_groups and num_channels, "
                             f"got {num_groups!r} and {num_channels!r}")
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), affine
        self._register_affine(self.num_channels, affine, bias, as_float_dtype(dtype))

    def _check(self, x):
        check_float(x, "GroupNorm input", self.weight.dtype if self.weight is not None else None)
        G, C = self.num_groups, self.num_channels
        if x.ndim < 2:
            raise ValueError(f"GroupNorm({G}, {C}) expected an input (N, C, *) with at least 2 dimensions, "
                             f"got a {x.ndim}-D input {shape_str(x.shape)}")
        # without gamma and beta num_channels is unused: torch takes any C that G divides
        if (x.shape[1] != C) if self.affine else (x.shape[1] % G != 0):
            expected = f"C = {C}" if self.affine else f"C divisible by {G}"
            raise ValueError(f"GroupNorm({G}, {C}) expected an input (N, C, *) with {expected}, "
                             f"got {shape_str(x.shape)}")
        if x.size // G == 1:  # one value in the only group of the only sample (torch's test, in eval too)
            raise ValueError(f"GroupNorm expected more than 1 value per channel when training, "
                             f"got input {shape_str(x.shape)}")

    def forward(self, x):
        self._check(x)
        N, C, G = x.shape[0], x.shape[1], self.num_groups
        rows = x.reshape(N, G, C // G * math.prod(x.shape[2:]))    # (N, G, C/G * prod(*))
        mu, var = mean_and_var(rows, (2,))
        rows_hat, inv_std = standardize(rows, mu, var, self.eps)
        x_hat = rows_hat.reshape(x.shape)
        self._x_hat, self._rows_hat, self._inv_std = x_hat, rows_hat, inv_std
        self._y_shape = x.shape
        return self._affine(x_hat)

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        grad_x_hat = self._affine_backward(grad_output, self._x_hat)
        grad_rows_hat = grad_x_hat.reshape(self._rows_hat.shape)
        return standardize_backward(grad_rows_hat, self._rows_hat, self._inv_std, (2,)).reshape(grad_output.shape)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


# -- LayerNorm ----------------------------------------------------------------------------------


class LayerNorm(Module):
    r"""Normalise each sample over its trailing ``normalized_shape`` dimensions, then scale and shift.

    Shapes: x, y (*, *normalized_shape); weight gamma, bias beta (normalized_shape). A "row" is
    the D = prod(normalized_shape) values of one sample; mu, var are per row (shape (*, 1, ...)).
    Unlike BatchNorm there are no running statistics: training and eval compute the same thing.

        mu = mean(x),   var = mean((x - mu)^2)                    (biased, over the row)
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta

    Backward, with g = dL/dy; the parameter sums run over every row, the means over one row:
        dbeta  = sum g,   dgamma = sum g x_hat
        g_hat = g gamma                                           (dL/dx_hat)
        dx = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(var + eps)
    (derived in ``standardize_backward``: the direct path, the path through mu, the path through var).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps, self.elementwise_affine = float(eps), elementwise_affine
        dtype = as_float_dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def _check(self, x):
        check_float(x, "LayerNorm input", self.weight.dtype if self.weight is not None else None)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            expected = "(*, " + ", ".join(str(s) for s in self.normalized_shape) + ")"
            raise ValueError(f"LayerNorm({self.normalized_shape}) expected an input of shape {expected}, "
                             f"got {shape_str(x.shape)}")

    def forward(self, x):
        self._check(x)
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))  # the row's dimensions
        mu, var = mean_and_var(x, axes)
        x_hat, inv_std = standardize(x, mu, var, self.eps)
        self._x_hat, self._inv_std, self._axes = x_hat, inv_std, axes
        self._y_shape = x.shape
        if self.weight is None:
            return x_hat
        y = x_hat * self.weight.data
        if self.bias is not None:
            y = y + self.bias.data
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)
        x_hat, inv_std, axes = self._x_hat, self._inv_std, self._axes
        batch_axes = tuple(range(grad_output.ndim - len(axes)))  # the parameters' sums run over these
        if self.weight is None:
            grad_x_hat = grad_output
        else:
            self.weight.accumulate_grad((grad_output * x_hat).sum(axis=batch_axes))  # dgamma = sum g x_hat
            if self.bias is not None:
                self.bias.accumulate_grad(grad_output.sum(axis=batch_axes))          # dbeta = sum g
            grad_x_hat = grad_output * self.weight.data                              # g_hat = g gamma
        return standardize_backward(grad_x_hat, x_hat, inv_std, axes)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


def _as_shape(normalized_shape):
    """``normalized_shape`` as a tuple of positive ints (torch accepts an int or a sequence)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"LayerNorm expected normalized_shape to be a positive integer or a non-empty tuple "
                         f"of them (the trailing dimensions to normalise), got {normalized_shape!r}")
    return tuple(int(s) for s in shape)
