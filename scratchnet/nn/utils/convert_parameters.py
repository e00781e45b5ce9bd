r"""All parameters as one vector and back, as ``torch.nn.utils.convert_parameters``.

    parameters_to_vector:  [W_1 (shape s_1), W_2 (shape s_2), ...]  ->  v = concat(W_1.ravel(), W_2.ravel(), ...)
    vector_to_parameters:  W_i <- v[o_i : o_i + n_i].reshape(s_i),   o_i = n_1 + ... + n_{i-1},  n_i = size of W_i

Useful for methods that see a model as one point in R^n (line searches, evolution strategies,
flat-gradient checks). As in torch, ``parameters_to_vector`` returns a new array (a copy), while
``vector_to_parameters`` makes each parameter's data a *view* of ``vec``: it takes vec's dtype,
and later writes into ``vec`` show in the parameters. A ``vec`` longer than the parameters
need is accepted (the rest is unused), as torch does.
"""

import numpy as np

from scratchnet.nn.utils.clip_grad import _as_list


def parameters_to_vector(parameters):
    """The parameters' values, flattened and concatenated in order: a new 1-D array (dtypes promoted)."""
    parameters = _as_list(parameters)
    _check_some(parameters)
    return np.concatenate([param.data.reshape(-1) for param in parameters])


def vector_to_parameters(vec, parameters):
    """Make each parameter's data the next slice of ``vec``, reshaped to its shape (a view of vec)."""
    parameters = _as_list(parameters)
    _check_vector(vec, parameters)
    offset = 0
    for param in parameters:
        size = param.data.size
        param.data = vec[offset:offset + size].reshape(param.data.shape)
        offset += size


def _check_some(parameters):
    if not parameters:
        raise ValueError("parameters_to_vector expected a non-empty iterable of Parameters")


def _check_vector(vec, parameters):
    """vec: a 1-D float array with at least as many entries as the parameters hold, checked before any change."""
    if not isinstance(vec, np.ndarray):
        raise TypeError(f"expected numpy.ndarray, but got: {type(vec).__name__}")
    if vec.dtype not in (np.float32, np.float64):
        raise TypeError(f"expected a float32 or float64 vector (a Parameter's dtype), got {vec.dtype}")
    if vec.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got shape {vec.shape}")
    needed = sum(param.data.size for param in parameters)
    if vec.size < needed:
        raise ValueError(f"the parameters hold {needed} values, but the vector has only {vec.size}")
