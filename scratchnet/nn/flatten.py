"""Flatten: merge dimensions ``start_dim..end_dim`` into one, as ``torch.nn.Flatten``."""

from scratchnet._checks import check_array, shape_str
from scratchnet.nn.module import Module


class Flatten(Module):
    """y = x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:]);   backward: dx = g.reshape(x.shape).

    The default start_dim=1 keeps the batch: (N, C, H, W) -> (N, C H W), the bridge from
    convolutional features to a Linear head.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        check_array(x, "Flatten input")
        ndim = max(x.ndim, 1)  # torch treats a 0-d tensor like a 1-d one here
        start, end = (d + ndim if d < 0 else d for d in (self.start_dim, self.end_dim))
        if not (0 <= start < ndim and 0 <= end < ndim) or start > end:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) does not fit an input of shape "
                f"{shape_str(x.shape)} ({x.ndim} dimensions)"
            )
        self._input_shape = x.shape
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])

    def backward(self, grad_output):
        return grad_output.reshape(self._input_shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
