r"""Gradient clipping, as ``torch.nn.utils.clip_grad``: rescale or clamp every ``param.grad`` in place.

Call between ``backward`` and ``optimizer.step()``::

    model.backward(criterion.backward())
    total_norm = clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

Parameters without a gradient (``grad is None``) are skipped, as in torch. ``foreach`` is
accepted for torch's signature and ignored: there is one implementation here.
"""

import math
import types
import warnings

import numpy as np

from scratchnet._dtype import get_default_dtype
from scratchnet.nn.module import Parameter


def vector_norm(x, norm_type):
    r"""||x||_p over all elements, as ``torch.linalg.vector_norm``:

        p finite, p != 0:  (sum |x_i|^p)^(1/p)
        p = inf / -inf:    max |x_i| / min |x_i|
        p = 0:             the number of nonzero x_i

    Like torch, no warnings: a sum of squares past the dtype's range is inf (then the total norm
    is non-finite, which ``error_if_nonfinite`` reports), and for p < 0 a zero gives |0|^p = inf
    and the norm 0.
    """
    magnitude = np.abs(x)
    if norm_type == math.inf:
        return magnitude.max()
    if norm_type == -math.inf:
        return magnitude.min()
    if norm_type == 0:
        return np.array(np.count_nonzero(x), dtype=x.dtype)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        if norm_type == 2:
            return np.sqrt(np.sum(x * x))  # the common case, without a power
        return np.sum(magnitude ** norm_type) ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    r"""The p-norm of the per-array p-norms, as ``torch.nn.utils.get_total_norm``:

        total_norm = || (||g_1||_p, ||g_2||_p, ...) ||_p

    which for p != 0 equals the p-norm of all the arrays' elements seen as one vector (for p = 0
    torch's nesting counts the nonzero arrays). A 0-d array; 0.0 (default dtype) for no arrays.
    """
    arrays = [tensors] if isinstance(tensors, np.ndarray) else list(tensors)
    norm_type = float(norm_type)
    _check_norm_inputs(arrays, norm_type)
    if not arrays:
        return np.array(0.0, dtype=get_default_dtype())
    norms = np.stack([vector_norm(g, norm_type) for g in arrays])
    total_norm = np.asarray(vector_norm(norms, norm_type))
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot "
            "be clipped. To disable this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`")
    return total_norm


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    r"""Scale every gradient by the clip coefficient, in place, as ``torch.nn.utils.clip_grads_with_norm_``:

        clip_coef = min(max_norm / (total_norm + 1e-6), 1)         g <- g clip_coef

    The 1e-6 keeps the division finite for a zero norm; clamping at 1 means gradients are only
    ever scaled down. Like torch, every gradient is multiplied, by exactly 1.0 when not clipped.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    clip_coef = max_norm / (total_norm + 1e-6)
    clip_coef_clamped = np.minimum(clip_coef, 1.0)
    with np.errstate(invalid="ignore"):  # a non-finite norm gives inf * 0 = NaN, as in torch (no warning)
        for g in grads:
            g *= clip_coef_clamped


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    r"""Rescale the gradients so that their total p-norm is at most ``max_norm``; returns the norm before.

        total_norm = || (||g_1||_p, ||g_2||_p, ...) ||_p                (get_total_norm)
        g <- g min(max_norm / (total_norm + 1e-6), 1)                 (clip_grads_with_norm_)

    ``norm_type`` is p: a float, or ``inf`` for the largest |g|. With ``error_if_nonfinite`` a
    NaN or infinite total norm raises ``RuntimeError`` before any gradient changes; without it
    the gradients are scaled by the non-finite coefficient, as torch does.
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)  # a generator is read once, for both steps
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated name of ``clip_grad_norm_`` (with torch's ``FutureWarning``)."""
    warnings.warn("`scratchnet.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`scratchnet.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    r"""Clamp every gradient element into [-clip_value, clip_value], in place:  g <- min(max(g, -c), c)."""
    clip_value = float(clip_value)
    for param in _as_list(parameters):
        if param.grad is not None:
            param.grad[...] = np.clip(param.grad, -clip_value, clip_value)


def _as_list(parameters):
    """One Parameter or an iterable of them, as a list (torch also takes a single tensor)."""
    if isinstance(parameters, Parameter):
        return [parameters]
    parameters = list(parameters)
    for position, param in enumerate(parameters):
        if not isinstance(param, Parameter):
            raise TypeError(f"expected Parameters (e.g. model.parameters()), got {type(param).__name__} "
                            f"at position {position}")
    return parameters


def _check_norm_inputs(arrays, norm_type):
    """torch refuses the norms without an identity (inf, -inf, p < 0) of an empty array."""
    for array in arrays:
        if not isinstance(array, np.ndarray):
            raise TypeError(f"expected gradients as numpy.ndarray, got {type(array).__name__}")
        if array.size == 0 and (norm_type < 0 or math.isinf(norm_type)):
            raise ValueError(f"cannot compute the {norm_type} norm of an empty gradient (shape "
                             f"{array.shape}) because the operation does not have an identity")
