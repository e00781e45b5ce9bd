r"""Embedding: a lookup table of learned vectors, one row per token id, as ``torch.nn.Embedding``."""

import numpy as np

from scratchnet._checks import check_array, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet._random import default_generator
from scratchnet.nn.module import Module, Parameter


class Embedding(Module):
    r"""Look up row ``idx`` of the table W for each index:  y[..., :] = W[idx[...], :].

    Shapes: idx (*) integer indices in [0, num_embeddings); W (num_embeddings, embedding_dim);
    y (*, embedding_dim).

    Init (torch's): W ~ N(0, 1), and the row ``padding_idx`` (if given) set to zeros.

    The lookup is a product with one-hot rows, y = onehot(idx) W, so with g = dL/dy of
    shape (*, embedding_dim) the gradient is
        dW = onehot(idx)^T g,   i.e.  dW[v] = sum of g[n] over the positions n with idx[n] = v
    a scatter-add: rows never used get zero, a row used k times gets the sum of its k gradients.
        dW[padding_idx] = 0     (torch's convention, not the derivative: the padding row is never trained)
    The indices are integers: nothing flows back to them, so ``backward`` returns an empty
    tuple (one gradient per input that requires one, and none does).
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, dtype=None):
        super().__init__()
        _check_arguments(num_embeddings, embedding_dim, padding_idx, max_norm, scale_grad_by_freq, sparse)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings  # torch stores a negative padding_idx counted from the end
        self.padding_idx = None if padding_idx is None else int(padding_idx)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dtype = as_float_dtype(dtype)
        weight = default_generator().standard_normal((self.num_embeddings, self.embedding_dim)).astype(dtype)
        if self.padding_idx is not None:
            weight[self.padding_idx] = 0
        self.weight = Parameter(weight)

    def _check(self, idx):
        check_array(idx, "Embedding input")
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding expected integer indices (an int64 or int32 array of any shape), "
                            f"got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = int(idx.min() if idx.min() < 0 else idx.max())
            raise IndexError(f"Embedding({self.num_embeddings}, {self.embedding_dim}) expected indices in "
                             f"[0, {self.num_embeddings}), got {bad} in an input of shape {shape_str(idx.shape)}")

    def forward(self, idx):
        self._check(idx)
        self._idx = idx
        return np.take(self.weight.data, idx, axis=0)  # y = W[idx], always a copy (a 0-d idx would give a view)

    def backward(self, grad_output):
        idx, D = self._idx, self.embedding_dim
        dW = np.zeros_like(self.weight.data)
        np.add.at(dW, idx.reshape(-1), grad_output.reshape(-1, D))  # dW[v] += g[n] for each n with idx[n] = v
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0
        self.weight.accumulate_grad(dW)
        return ()  # integer indices take no gradient

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text


def _check_arguments(num_embeddings, embedding_dim, padding_idx, max_norm, scale_grad_by_freq, sparse):
    for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"Embedding expected a non-negative integer {name}, got {value!r}")
    if padding_idx is not None and (isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer))
                                    or not -num_embeddings <= padding_idx < num_embeddings):
        raise ValueError(f"Embedding expected padding_idx to be None or an integer in "
                         f"[-{num_embeddings}, {num_embeddings}) (within num_embeddings), got {padding_idx!r}")
    unsupported = [name for name, value, default in (("max_norm", max_norm, None),
                                                     ("scale_grad_by_freq", scale_grad_by_freq, False),
                                                     ("sparse", sparse, False)) if value != default]
    if unsupported:
        raise NotImplementedError(f"Embedding does not implement {', '.join(unsupported)} "
                                  "(torch's max_norm renormalisation, frequency scaling and sparse gradients); "
                                  "leave them at their defaults")
