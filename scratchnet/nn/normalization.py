r"""Batch normalisation over the channels of (N, C, H, W) images, as ``torch.nn.BatchNorm2d``."""

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet.nn.module import Module, Parameter


class BatchNorm2d(Module):
    r"""Normalise each channel over the batch and the image, then scale and shift it.

    Shapes: x, y (N, C, H, W); weight gamma, bias beta, running_mean, running_var (C,);
    statistics are per channel c over its m = N H W values.

    Training (batch statistics):
        mu = mean(x),   var = mean((x - mu)^2)            (biased, used to normalise)
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta
        running_mean <- (1 - a) running_mean + a mu
        running_var  <- (1 - a) running_var  + a var m / (m - 1)       (unbiased, as torch)
        with a = momentum, or 1 / num_batches_tracked when momentum is None (cumulative average).
    Eval: the same with mu, var replaced by running_mean, running_var (no update); without
    running statistics (track_running_stats=False) the batch's are used in eval too.

    Backward, with g = dL/dy, sums over the m values of each channel:
        dbeta  = sum g,   dgamma = sum g x_hat
        eval:  dx = g gamma / sqrt(var + eps)                        (mu, var are constants)
        train: dx = gamma / (m sqrt(var + eps)) (m g - sum g - x_hat sum g x_hat)
    The training formula adds the paths through mu and var: both depend on every x of the channel.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"BatchNorm2d expected a positive integer num_features, got {num_features!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = as_float_dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def _check(self, x):
        dtype = self.weight.dtype if self.affine else (self.running_mean.dtype if self.track_running_stats else None)
        check_float(x, "BatchNorm2d input", dtype)
        if x.ndim != 4 or x.shape[1] != self.num_features:
            c = self.num_features
            raise ValueError(f"BatchNorm2d({c}) expected a 4-D input (N, {c}, H, W), got {shape_str(x.shape)}")

    def forward(self, x):
        self._check(x)
        use_batch_stats = self.training or not self.track_running_stats
        count = x.shape[0] * x.shape[2] * x.shape[3]  # m, values per channel
        if use_batch_stats:
            if count <= 1:  # also without running stats in eval, where torch normalises by the batch too
                raise ValueError(
                    f"BatchNorm2d expected more than 1 value per channel when training, got input {shape_str(x.shape)}"
                )
            mean = x.mean(axis=(0, 2, 3))
            centered = x - mean[:, None, None]
            var = (centered * centered).mean(axis=(0, 2, 3))  # biased
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, count)
        else:
            mean, var = self.running_mean, self.running_var
            centered = x - mean[:, None, None]
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = centered * inv_std[:, None, None]
        self._x_hat, self._inv_std, self._used_batch_stats = x_hat, inv_std, use_batch_stats
        if not self.affine:
            return x_hat
        return x_hat * self.weight.data[:, None, None] + self.bias.data[:, None, None]

    def _update_running_stats(self, mean, var, count):
        self.num_batches_tracked += 1  # in place: the 0-d int64 buffer
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else float(self.momentum)
        unbiased_var = var * (count / (count - 1))
        self.running_mean *= 1.0 - factor
        self.running_mean += factor * mean
        self.running_var *= 1.0 - factor
        self.running_var += factor * unbiased_var

    def backward(self, grad_output):
        x_hat, inv_std = self._x_hat, self._inv_std
        if self.affine:
            self.weight.accumulate_grad((grad_output * x_hat).sum(axis=(0, 2, 3)))  # dgamma = sum g x_hat
            self.bias.accumulate_grad(grad_output.sum(axis=(0, 2, 3)))              # dbeta = sum g
            grad_x_hat = grad_output * self.weight.data[:, None, None]
        else:
            grad_x_hat = grad_output
        if not self._used_batch_stats:
            return grad_x_hat * inv_std[:, None, None]
        count = x_hat.shape[0] * x_hat.shape[2] * x_hat.shape[3]
        sum_grad = grad_x_hat.sum(axis=(0, 2, 3))[:, None, None]
        sum_grad_x_hat = (grad_x_hat * x_hat).sum(axis=(0, 2, 3))[:, None, None]
        return (inv_std / count)[:, None, None] * (count * grad_x_hat - sum_grad - x_hat * sum_grad_x_hat)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


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
    Derivation: x_hat_j = (x_j - mu) r with r = (var + eps)^(-1/2), dmu/dx_i = 1/D and
    dr/dx_i = -r^3 (x_i - mu) / D = -r^2 x_hat_i / D, so
        dx_hat_j/dx_i = r (delta_ij - 1/D) - x_hat_j r x_hat_i / D,
    and dx_i = sum_j g_hat_j dx_hat_j/dx_i is the line above: the first term is the direct
    path, the second the path through mu, the third the path through var.
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
        mu = x.mean(axis=axes, keepdims=True)
        centered = x - mu
        var = (centered * centered).mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = centered * inv_std
        self._x_hat, self._inv_std, self._axes = x_hat, inv_std, axes
        if self.weight is None:
            return x_hat
        y = x_hat * self.weight.data
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_output):
        x_hat, inv_std, axes = self._x_hat, self._inv_std, self._axes
        batch_axes = tuple(range(grad_output.ndim - len(axes)))  # the parameters' sums run over these
        if self.weight is None:
            grad_x_hat = grad_output
        else:
            self.weight.accumulate_grad((grad_output * x_hat).sum(axis=batch_axes))  # dgamma = sum g x_hat
            if self.bias is not None:
                self.bias.accumulate_grad(grad_output.sum(axis=batch_axes))          # dbeta = sum g
            grad_x_hat = grad_output * self.weight.data                              # g_hat = g gamma
        mean_grad = grad_x_hat.mean(axis=axes, keepdims=True)
        mean_grad_x_hat = (grad_x_hat * x_hat).mean(axis=axes, keepdims=True)
        return (grad_x_hat - mean_grad - x_hat * mean_grad_x_hat) * inv_std

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
