"""Flatten and Unflatten: merge dimensions into one, or split one into several, as ``torch.nn``'s."""

import numpy as np

from scratchnet._checks import check_array, shape_str
from scratchnet.nn.backward_checks import check_grad_output
from scratchnet.nn.module import Module


class _Reshape(Module):
    """A layer that only reshapes: y = x.reshape(shape);   backward: dx = g.reshape(x.shape)."""

    def _reshape(self, x, shape):
        self._input_shape = x.shape
        y = x.reshape(shape)
        self._y_shape = y.shape
        return y

    def backward(self, grad_output):
        check_grad_output(self, grad_output)  # a reshape would take any grad of the right size
        return grad_output.reshape(self._input_shape)


class Flatten(_Reshape):
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
        return self._reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(_Reshape):
    """y = x.reshape(x.shape[:dim] + unflattened_size + x.shape[dim + 1:]);   backward: dx = g.reshape(x.shape).

    Flatten's inverse for one dimension: Unflatten(1, (C, H, W)) takes (N, C H W) back to
    (N, C, H, W). One entry of ``unflattened_size`` may be -1, inferred from the others; the
    product must equal x.shape[dim]. ``unflattened_size`` is a tuple or list of ints, kept as given
    (the repr shows which, as torch's).
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, "
                            f"but found type {type(unflattened_size).__name__}")
        for position, size in enumerate(unflattened_size):
            if isinstance(size, bool) or not isinstance(size, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type "
                                f"{type(size).__name__} at pos {position}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def _sizes(self, x):
        """Check x; return the concrete sizes that replace x.shape[dim] (-1 resolved)."""
        check_array(x, "Unflatten input")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int):
            raise TypeError(f"Unflatten expected an int dim, got {type(self.dim).__name__}")
        where = f"{self} on an input of shape {shape_str(x.shape)}"
        if x.ndim == 0:
            raise ValueError(f"{where}: a 0-d input has no dimension to unflatten")
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{where}: dim must be in [{-x.ndim}, {x.ndim - 1}]")
        sizes, length = tuple(self.unflattened_size), x.shape[self.dim]
        known = [s for s in sizes if s != -1]
        if not sizes or len(sizes) - len(known) > 1 or any(s < 0 for s in known):
            raise ValueError(f"{where}: unflattened_size must be non-empty, of non-negative sizes with at most one -1")
        product = int(np.prod(known))
        if len(known) < len(sizes):  # one -1: inferred, when the others leave one answer
            if product == 0 or length % product:
                raise ValueError(f"{where}: cannot infer the -1 of {sizes} from size {length}")
            return tuple(length // product if s == -1 else s for s in sizes)
        if product != length:
            raise ValueError(f"{where}: sizes {list(sizes)} don't multiply up to the size of dim {self.dim} ({length})")
        return sizes

    def forward(self, x):
        sizes = self._sizes(x)
        dim = self.dim % x.ndim
        return self._reshape(x, x.shape[:dim] + sizes + x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
