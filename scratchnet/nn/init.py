r"""Initial values for parameters, ``torch.nn.init`` function for function.

Every function fills its ``tensor`` in place and returns it, as torch's do. ``tensor`` is a
scratchnet ``Parameter`` (its ``.data`` is filled; the same array object keeps its identity, so
an optimizer holding it sees the new values) or a NumPy array. Random values are drawn from
scratchnet's seeded generator (``scratchnet.manual_seed``), or from ``generator`` (a
``numpy.random.Generator``) when given, in float64 and then stored in the array's dtype.

Fans, for a weight of shape (out, in, *kernel) with receptive field k = prod(kernel) (1 for a
matrix): fan_in = in * k, fan_out = out * k. The weight is used as ``x W^T``, like Linear's.

    uniform_          U(a, b)
    normal_           N(mean, std^2)
    trunc_normal_     N(mean, std^2) restricted to [a, b]
    xavier_uniform_   U(-bound, bound),  bound = gain * sqrt(6 / (fan_in + fan_out))
    xavier_normal_    N(0, std^2),       std = gain * sqrt(2 / (fan_in + fan_out))
    kaiming_uniform_  U(-bound, bound),  bound = gain * sqrt(3 / fan),  fan = fan_in or fan_out (mode)
    kaiming_normal_   N(0, std^2),       std = gain / sqrt(fan)
    orthogonal_       gain * Q, Q (semi-)orthogonal: Q^T Q = I (rows >= cols) or Q Q^T = I
    sparse_           N(0, std^2), then ceil(sparsity * rows) entries of every column set to 0
    constant_, zeros_, ones_, eye_ (2-D identity), dirac_ (3/4/5-D convolution identity)

``calculate_gain(nonlinearity, param)`` is the factor that keeps the activations' variance
through ``nonlinearity``: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
sqrt(2 / (1 + negative_slope^2)) for leaky_relu, 3/4 for selu.
"""

import math
import warnings

import numpy as np

from scratchnet._random import default_generator
from scratchnet.nn.module import Parameter

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
    "uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal", "kaiming_uniform",
    "kaiming_normal", "orthogonal", "sparse",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


# -- the array behind a tensor, and the generator -----------------------------------------------------


def _array(tensor, random=False):
    """The ndarray that ``tensor`` (a Parameter or an ndarray) stores its values in; float for a random fill."""
    array = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"nn.init expected a scratchnet Parameter or a numpy.ndarray, got {type(tensor).__name__}")
    if random and array.dtype.kind != "f":
        raise TypeError(f"nn.init can only draw random values into a floating-point array, got dtype {array.dtype}")
    return array


def _generator(generator):
    if generator is None:
        return default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator or None, got {type(generator).__name__}")
    return generator


def _fill(tensor, values):
    """Store ``values`` in ``tensor``'s array, in place (cast to its dtype); returns ``tensor``."""
    _array(tensor)[...] = values
    return tensor


# -- gains and fans -------------------------------------------------------------------------------------


# Each nonlinearity's gain; leaky_relu's depends on its slope (see calculate_gain).
_GAINS = {
    **dict.fromkeys(_LINEAR_FNS, 1),
    "sigmoid": 1,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4,  # found empirically by torch (pytorch/pytorch#50664)
}


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (an ``nn.functional`` name); ``param`` is leaky_relu's slope."""
    if nonlinearity == "leaky_relu":
        return _leaky_relu_gain(param)
    if not isinstance(nonlinearity, str) or nonlinearity not in _GAINS:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")
    return _GAINS[nonlinearity]


def _leaky_relu_gain(param):
    """sqrt(2 / (1 + negative_slope^2)); the slope is 0.01 unless ``param`` (an int or a float, not a bool) says."""
    if param is None:
        negative_slope = 0.01
    elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
        negative_slope = param
    else:
        raise ValueError(f"negative_slope {param} not a valid number")
    return math.sqrt(2.0 / (1 + negative_slope ** 2))


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) = (in * k, out * k) for a weight of shape (out, in, *kernel), k = prod(kernel)."""
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field_size = math.prod(shape[2:])
    fan_in = shape[1] * receptive_field_size
    fan_out = shape[0] * receptive_field_size
    return fan_in, fan_out


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# -- plain distributions --------------------------------------------------------------------------------


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill ``tensor`` with U(a, b)."""
    array = _array(tensor, random=True)
    _check_uniform_bounds(a, b, array.dtype)
    return _fill(tensor, _generator(generator).uniform(a, b, size=array.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill ``tensor`` with N(mean, std^2)."""
    array = _array(tensor, random=True)
    _check_std(std)
    return _fill(tensor, _generator(generator).normal(mean, std, size=array.shape))


# torch's names for a dtype in its messages: (as in "for float", as in "numeric_limits<Float>")
_DTYPE_NAMES = {np.dtype(np.float16): ("c10::Half", "Half"), np.dtype(np.float32): ("float", "Float"),
                np.dtype(np.float64): ("double", "Double")}


def _check_uniform_bounds(a, b, dtype):
    """torch's uniform_ checks, in its order and with its messages (numbers printed as C++ prints them):
    a and b finite numbers of ``dtype`` (NaN and inf refused), a <= b, and b - a finite in ``dtype``."""
    name, limits_name = _DTYPE_NAMES.get(dtype, (str(dtype), str(dtype)))
    lowest, highest = float(np.finfo(dtype).min), float(np.finfo(dtype).max)
    for value, what in ((a, "from"), (b, "to")):
        if not lowest <= value <= highest:
            raise ValueError(f"{what} is out of bounds for {name}")
    if a > b:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found from={a:g} > to={b:g}")
    if not b - a <= highest:
        raise ValueError(f"uniform_ expects to-from <= std::numeric_limits<{limits_name}>::max(), but found "
                         f"to={b:g} and from={a:g} which result in to-from to exceed the limit")


def _check_std(std):
    """torch's normal_ check: std >= 0 (NaN refused; inf, like a NaN or infinite mean, is drawn with)."""
    if not std >= 0:
        raise ValueError(f"normal expects std >= 0.0, but found std {std:g}")


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    r"""Fill ``tensor`` with N(mean, std^2) restricted to [a, b]: density exp(-(x - mean)^2 / (2 std^2)) on [a, b].

    As torch: when the normal puts more than 0.3 of its mass in [a, b], values outside are redrawn
    until every one is inside; otherwise (a narrow or far interval) candidates x ~ U(a, b) are kept
    with probability exp(-(x - mean)^2 / (2 std^2)) / exp(-(m - mean)^2 / (2 std^2)), m the mode in [a, b].
    """
    array = _array(tensor, random=True)
    rng = _generator(generator)
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    mass = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    if mass > 0.3:
        values = rng.normal(mean, std, size=array.shape)
        outside = (values < a) | (values > b)
        while outside.any():
            values = np.where(outside, rng.normal(mean, std, size=array.shape), values)
            outside = (values < a) | (values > b)
    else:
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2

        def rejected(x):  # log U > log(density(x) / density(mode))
            return np.log(rng.uniform(size=array.shape)) > -0.5 * ((x - mean) / std) ** 2 - log_peak

        _check_uniform_bounds(a, b, array.dtype)  # torch draws with uniform_ here, which refuses NaN, inf, a > b
        values = rng.uniform(a, b, size=array.shape)
        pending = rejected(values)
        while pending.any():
            candidates = rng.uniform(a, b, size=array.shape)
            values = np.where(pending, candidates, values)
            pending = pending & rejected(candidates)
    return _fill(tensor, values)


def _norm_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


# -- constants and identities -----------------------------------------------------------------------------


def constant_(tensor, val):
    """Fill ``tensor`` with ``val``."""
    return _fill(tensor, val)


def ones_(tensor):
    """Fill ``tensor`` with 1."""
    return _fill(tensor, 1.0)


def zeros_(tensor):
    """Fill ``tensor`` with 0."""
    return _fill(tensor, 0.0)


def eye_(tensor):
    """Fill the 2-D ``tensor`` with the identity matrix (ones on the main diagonal of a rectangle)."""
    array = _array(tensor)
    if array.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*array.shape))


def dirac_(tensor, groups=1):
    """Fill the 3/4/5-D conv weight ``tensor`` (out, in, *kernel) with the Dirac delta: a conv that copies its input.

    Within each of ``groups`` blocks of out/groups output channels, output channel d of the block
    takes input channel d at the kernel's centre, for d < min(out/groups, in).
    """
    array = _array(tensor)
    if array.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if array.shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_grp = array.shape[0] // groups
    centre = tuple(size // 2 for size in array.shape[2:])
    values = np.zeros(array.shape)
    for g in range(groups):
        for d in range(min(out_chans_per_grp, array.shape[1])):
            values[(g * out_chans_per_grp + d, d) + centre] = 1
    return _fill(tensor, values)


# -- scaled by the fans ------------------------------------------------------------------------------------


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) = sqrt(3) * std."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # U(-bound, bound) has standard deviation bound / sqrt(3)
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(-bound, bound), bound = gain * sqrt(3 / fan); ``a`` is leaky_relu's negative slope."""
    if 0 in _array(tensor).shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, std^2), std = gain / sqrt(fan); ``a`` is leaky_relu's negative slope."""
    if 0 in _array(tensor).shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    """std = gain / sqrt(fan), with the fan ``mode`` names and the gain of ``nonlinearity`` (slope ``a``)."""
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


# -- structured --------------------------------------------------------------------------------------------


def orthogonal_(tensor, gain=1, generator=None):
    """gain * a (semi-)orthogonal Q, ``tensor`` viewed as (rows, cols) with its trailing dimensions flattened.

    Q comes from the QR decomposition of a standard normal matrix (of its transpose when rows < cols),
    its columns' signs fixed by diag(R) so that Q is uniformly (Haar) distributed.
    """
    array = _array(tensor, random=True)
    if array.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if array.size == 0:
        return tensor
    rows = array.shape[0]
    cols = array.size // rows
    flattened = _generator(generator).normal(0, 1, size=(rows, cols))
    if rows < cols:
        flattened = flattened.T
    q, r = np.linalg.qr(flattened)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(array.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill the 2-D ``tensor`` with N(0, std^2), then zero ceil(sparsity * rows) random entries of every column."""
    array = _array(tensor, random=True)
    if array.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rng = _generator(generator)
    rows, cols = array.shape
    num_zeros = math.ceil(sparsity * rows)  # a NaN sparsity is refused here, as in torch
    _check_std(std)
    values = rng.normal(0, std, size=(rows, cols))
    for col_idx in range(cols):
        zero_indices = rng.permutation(rows)[:num_zeros]
        values[zero_indices, col_idx] = 0
    return _fill(tensor, values)


# -- torch's deprecated names without the trailing underscore -----------------------------------------


def _make_deprecate(meth):
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.", FutureWarning,
                      stacklevel=2)
        return meth(*args, **kwargs)

    deprecated_init.__doc__ = f"{old_name}(...): deprecated in favor of ``{new_name}``."
    deprecated_init.__name__ = old_name
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
