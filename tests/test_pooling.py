"""Max and average pooling (1-D and 2-D) and Flatten against torch: parity over every option, ties and NaN,
the divisors of clipped windows, gradient checks, properties and bad input."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import Flatten
from scratchnet.nn.module import Module
from scratchnet.nn.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d

DTYPES = [np.float64, np.float32]
POOLS = {"MaxPool2d": (MaxPool2d, torch.nn.MaxPool2d), "AvgPool2d": (AvgPool2d, torch.nn.AvgPool2d),
         "MaxPool1d": (MaxPool1d, torch.nn.MaxPool1d), "AvgPool1d": (AvgPool1d, torch.nn.AvgPool1d)}


class GradOfOutputOnly(Module):
    """A pool built with return_indices=True, whose backward takes dL/dy alone: check_module hands it
    (dL/dy, dL/d indices), and torch drops the second, as the indices have no gradient."""

    def __init__(self, pool):
        super().__init__()
        self.pool = pool

    def forward(self, x):
        return self.pool(x)

    def backward(self, grad_output):
        return self.pool.backward(grad_output[0])


def pair_of(draw, values):
    return (draw(values), draw(values))


@st.composite
def pool_configs(draw, name):
    """Keyword arguments of pool ``name`` over all its options, and an input shape it accepts (maybe unbatched)."""
    dims = 2 if name.endswith("2d") else 1
    axis = (lambda values: pair_of(draw, values)) if dims == 2 else (lambda values: (draw(values),))
    kernel = axis(st.integers(1, 4))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    kwargs = dict(kernel_size=kernel, stride=draw(st.one_of(st.none(), st.just(axis(st.integers(1, 4))))),
                  padding=padding, ceil_mode=draw(st.booleans()))
    dilation = (1,) * dims
    if name.startswith("Max"):
        dilation = axis(st.integers(1, 3))
        kwargs.update(dilation=dilation, return_indices=draw(st.booleans()))
    else:
        kwargs.update(count_include_pad=draw(st.booleans()))
        if dims == 2:
            kwargs.update(divisor_override=draw(st.sampled_from([None, None, 1, 3, -2])))
    size = [max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 5)) for k, p, d in zip(kernel, padding, dilation)]
    batch = (draw(st.integers(1, 3)),) if draw(st.booleans()) else ()
    return kwargs, (*batch, draw(st.integers(1, 3)), *size)


def reads_input_everywhere(name, config):
    """No window reads padding only (possible with dilation), where torch's backward writes out of bounds."""
    kwargs, shape = config
    pool = POOLS[name][0](**kwargs)
    pool(np.zeros(shape))
    return name.startswith("Avg") or bool(pool._reads_input.all())


def reading_configs(name):
    return pool_configs(name).filter(lambda config: reads_input_everywhere(name, config))


def twins(name, **kwargs):
    scratch_cls, torch_cls = POOLS[name]
    scratch, twin = scratch_cls(**kwargs), torch_cls(**kwargs)
    return (GradOfOutputOnly(scratch) if kwargs.get("return_indices") else scratch), twin


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", POOLS)
@examples(25)
@given(data=st.data(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_pool_matches_torch(name, dtype, data, seed, ties):
    """Every option drawn, batched and unbatched; with ``ties`` the input holds integers 0..2, so most windows tie."""
    kwargs, shape = data.draw(reading_configs(name))
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    check_module(*twins(name, **kwargs), x, seed=seed).assert_passed()


# Axis length, kernel, stride, padding: last windows clipped by ceil mode past the padding, by the
# padding, by both, or not at all; a window starting in the right padding is dropped (6, 3, 3, 1).
GEOMETRIES = [(5, 2, 2, 0), (5, 3, 2, 1), (6, 3, 3, 1), (4, 2, 3, 1), (7, 3, 2, 1), (6, 4, 3, 2), (5, 1, 2, 0)]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_avg_pool_divisors_of_clipped_windows_match_torch(geometry):
    """Every combination of ceil_mode, count_include_pad and divisor_override, on ones (the divisors show)
    and on random values, rows and columns clipped differently."""
    length, k, s, p = geometry
    x = np.random.default_rng(0).standard_normal((2, 2, length, length + 1))
    for ceil_mode, include, override in itertools.product([False, True], [False, True], [None, 2]):
        kwargs = dict(kernel_size=(k, k), stride=(s, s + 1), padding=(p, p), ceil_mode=ceil_mode,
                      count_include_pad=include, divisor_override=override)
        for inputs in (np.ones_like(x), x):
            check_module(AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs), inputs).assert_passed()
        kwargs_1d = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode, count_include_pad=include)
        check_module(AvgPool1d(**kwargs_1d), torch.nn.AvgPool1d(**kwargs_1d), x[0]).assert_passed()


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("dilation", [1, 2])
def test_max_pool_ceil_mode_and_dilation_match_torch(geometry, dilation):
    length, k, s, p = geometry
    x = np.random.default_rng(1).standard_normal((2, 2, length + 2 * dilation, length + 3))
    for ceil_mode in (False, True):
        kwargs = dict(kernel_size=k, stride=s, padding=p, dilation=dilation, ceil_mode=ceil_mode, return_indices=True)
        check_module(*twins("MaxPool2d", **kwargs), x).assert_passed()
        check_module(*twins("MaxPool1d", **kwargs), x[0, 0]).assert_passed()


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=(3, 2), stride=(2, 1)),
                                    dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True)])
def test_max_pool_ties_go_to_the_first_maximum_like_torch(kwargs):
    """All-equal windows (overlapping too): torch routes each gradient to the window's first maximum."""
    x = np.ones((2, 3, 6, 6))
    x[:, :, ::2, 1::2] = 2.0  # some windows hold two equal maxima in different rows
    check_module(*twins("MaxPool2d", return_indices=True, **kwargs), x).assert_passed()


def test_max_pool_tie_in_every_window_picks_its_top_left():
    pool = MaxPool2d(2, return_indices=True)
    y, indices = pool(np.zeros((1, 1, 4, 4)))
    np.testing.assert_array_equal(indices[0, 0], [[0, 2], [8, 10]])
    routed = pool.backward(np.ones_like(y))
    np.testing.assert_array_equal(routed[0, 0], np.kron(np.ones((2, 2)), [[1, 0], [0, 0]]))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=(1, 4)), dict(kernel_size=(2, 3), stride=1, padding=1),
                                    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)])
def test_max_pool_nan_and_minus_inf_like_torch(kwargs):
    """A window holding NaN gives NaN and routes its gradient to its last NaN; an all -inf window (its
    padding too) routes to its first entry inside the input. Both as torch's scan does."""
    x = np.array([[1.0, np.nan, 3.0, np.nan, 0.0], [-np.inf] * 5, [2.0, 2.0, np.nan, -np.inf, 5.0],
                  [-np.inf] * 5, [-np.inf] * 5])[None, None]
    check_module(*twins("MaxPool2d", return_indices=True, **kwargs), x).assert_passed()
    check_module(*twins("MaxPool1d", return_indices=True, kernel_size=3, stride=1, padding=1), x[0, :, 0]
                 ).assert_passed()


def test_max_pool_window_of_padding_only_gives_minus_inf_and_passes_no_gradient():
    """Dilation 2 over a padded column of width 1 reads -1 and 1: padding only. torch gives -inf and the
    index 1 past the row (forward compared below); its backward then writes the gradient there, into
    the next row (or past the tensor: not compared). scratchnet's gradient for such a window is 0."""
    x = np.arange(3.0).reshape(1, 1, 3, 1)
    pool = MaxPool2d((1, 2), padding=(0, 1), dilation=(1, 2), return_indices=True)
    y, indices = pool(x)
    y_torch, indices_torch = torch.nn.MaxPool2d((1, 2), padding=(0, 1), dilation=(1, 2), return_indices=True)(
        torch.from_numpy(x))
    np.testing.assert_array_equal(y, y_torch.numpy())
    np.testing.assert_array_equal(indices, indices_torch.numpy())
    assert np.all(y == -np.inf) and np.all(pool.backward(np.ones_like(y)) == 0.0)


def test_overlapping_max_windows_add_up():
    """An input that is the max of several windows gets the sum of their gradients."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    pool = MaxPool2d(2, stride=1)
    pool(x)
    grad = pool.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert grad[0, 0, 1, 1] == 10.0 and grad.sum() == 10.0


def test_avg_pool_counts_padding_like_torch():
    x = np.ones((1, 1, 2, 2))
    np.testing.assert_allclose(AvgPool2d(3, stride=1, padding=1)(x)[0, 0], np.full((2, 2), 4 / 9))
    np.testing.assert_allclose(AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x)[0, 0], np.ones((2, 2)))


CHECKED = [("MaxPool2d", dict(kernel_size=2)), ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1)),
           ("MaxPool2d", dict(kernel_size=(2, 3), stride=1, dilation=(2, 1), ceil_mode=True)),
           ("AvgPool2d", dict(kernel_size=2)), ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
           ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
           ("AvgPool2d", dict(kernel_size=(2, 3), stride=1, divisor_override=5)),
           ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
           ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False))]


@pytest.mark.parametrize("name, kwargs", CHECKED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CHECKED)])
def test_pool_gradcheck(name, kwargs):
    # distinct values 0.1 apart: a nudge of 1e-6 never changes which input is the max
    x = np.random.default_rng(0).permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) * 0.1
    x = x if name.endswith("2d") else x.reshape(2, 2, 25)
    assert gradcheck(POOLS[name][0](**kwargs), x) == []
    assert gradcheck(POOLS[name][0](**kwargs), x[0]) == []  # unbatched


def test_gradcheck_fails_on_a_wrong_max_pool_backward():
    class HalfGradient(MaxPool2d):
        def backward(self, grad_output):
            return super().backward(grad_output) / 2

    x = np.random.default_rng(0).permutation(16).reshape(1, 1, 4, 4) * 0.1
    assert gradcheck(HalfGradient(2), x) != []


@pytest.mark.parametrize("name", POOLS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_pools_keep_dtype(name, dtype):
    shape = (1, 1, 4, 4) if name.endswith("2d") else (1, 1, 4)
    pool = POOLS[name][0](2)
    y = pool(np.zeros(shape, dtype=dtype))
    assert y.dtype == dtype and pool.backward(np.ones_like(y)).dtype == dtype


@pytest.mark.parametrize("name", ["MaxPool2d", "MaxPool1d"])
def test_max_pool_indices_are_int64_flat_in_their_plane(name):
    shape = (2, 3, 5, 6) if name == "MaxPool2d" else (2, 3, 7)
    x = np.random.default_rng(0).standard_normal(shape)
    y, indices = POOLS[name][0](2, return_indices=True)(x)
    assert indices.dtype == np.int64 and indices.shape == y.shape
    planes = x.reshape(6, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, indices.reshape(6, -1), axis=1), y.reshape(6, -1))
    with pytest.raises(ValueError, match="read-only"):  # backward routes the gradient through them
        indices += 1


# -- properties -------------------------------------------------------------------------------


@examples(20)
@given(data=st.data(), name=st.sampled_from(list(POOLS)), value=st.floats(-100, 100))
def test_pool_of_a_constant_is_that_constant_away_from_padding(data, name, value):
    """Counting only inputs (count_include_pad=False), every window averages copies of one value, clipped
    windows too; with the padding counted, windows that read no padding still do. Max pooling: everywhere."""
    kwargs, shape = data.draw(reading_configs(name))
    kwargs.pop("return_indices", None)
    kwargs.pop("divisor_override", None)
    if name.startswith("Avg"):
        kwargs["count_include_pad"] = False
    x = np.full(shape, value)
    np.testing.assert_allclose(POOLS[name][0](**kwargs)(x), value, rtol=1e-14, atol=1e-13)
    if name.startswith("Avg"):
        kwargs.update(count_include_pad=True, padding=0, ceil_mode=False)
        if all(k <= size for k, size in zip(kwargs["kernel_size"], shape[-len(kwargs["kernel_size"]):])):
            np.testing.assert_allclose(POOLS[name][0](**kwargs)(x), value, rtol=1e-14, atol=1e-13)


@examples(20)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_max_pool_output_is_the_max_of_what_its_window_reads(data, seed):
    """y equals x at the indices, and every input in a window's reach is at most y (brute force over offsets)."""
    kwargs, shape = data.draw(reading_configs("MaxPool2d"))
    kwargs["return_indices"] = True
    x = np.random.default_rng(seed).standard_normal(shape)
    pool = MaxPool2d(**kwargs)
    y, indices = pool(x)
    planes, h, w = x.reshape(-1, *shape[-2:]), *shape[-2:]
    read = np.take_along_axis(planes.reshape(len(planes), -1), indices.reshape(len(planes), -1), axis=1)
    np.testing.assert_array_equal(read, y.reshape(len(planes), -1))
    (kh, kw), (sh, sw) = pool._kernel, pool._stride
    (ph, pw), (dh, dw) = pool._padding, pool._dilation
    y4 = y.reshape(len(planes), *y.shape[-2:])
    for i, j in itertools.product(range(kh), range(kw)):
        for oh, ow in itertools.product(range(y4.shape[1]), range(y4.shape[2])):
            r, c = oh * sh - ph + i * dh, ow * sw - pw + j * dw
            if 0 <= r < h and 0 <= c < w:
                assert np.all(planes[:, r, c] <= y4[:, oh, ow])


# -- refusals and attributes --------------------------------------------------------------------


@pytest.mark.parametrize("name", POOLS)
def test_pool_bad_input(name):
    pool = POOLS[name][0](3)
    expected = (r"expected a 4-D input \(N, C, H, W\) or a 3-D unbatched input \(C, H, W\)" if name.endswith("2d")
                else r"expected a 3-D input \(N, C, L\) or a 2-D unbatched input \(C, L\)")
    for shape in [(8,), (1, 1, 1, 1, 8), (1, 0, 8, 8)]:
        with pytest.raises(ValueError, match=expected + rf", with C and the sizes non-zero, got shape "
                                                        rf"\({', '.join(map(str, shape))},?\)"):
            pool(np.zeros(shape))
    small = (1, 2, 2, 5) if name.endswith("2d") else (1, 2, 2)
    with pytest.raises(ValueError, match=rf"{name}\(kernel_size=.*\) input \({', '.join(map(str, small))}\) is too "
                                         r"small: the output size would be \(0,.*\) <= 0"):
        pool(np.zeros(small))
    with pytest.raises(TypeError, match="must have dtype float32 or float64, got int64"):
        pool(np.zeros((1, 1, 4, 4), dtype=np.int64))


@pytest.mark.parametrize("name", POOLS)
def test_pool_bad_arguments_are_refused_like_torch(name):
    cls, torch_cls = POOLS[name]
    kernel = (3, 3) if name.endswith("2d") else 3
    with pytest.raises(ValueError, match=rf"^{name} padding should be at most half of the kernel size, got "
                                         r"padding=\(?2,?\)? and kernel_size=\(?3,?\)?$"):
        cls(3, padding=2)
    with pytest.raises(RuntimeError, match="pad(ding)? should be"):  # torch refuses it too, at its first forward
        torch_cls(3, padding=2)(torch.zeros((1, 1, 8, 8) if name.endswith("2d") else (1, 1, 8)))
    with pytest.raises(ValueError, match=r"expected stride to be an int >= 1"):
        cls(kernel, stride=0)
    with pytest.raises(ValueError, match=r"expected kernel_size to be an int >= 1"):
        cls(0)
    with pytest.raises(TypeError, match=r"expected ceil_mode to be a bool, got 'yes'"):
        cls(2, ceil_mode="yes")


def test_pool_option_refusals():
    with pytest.raises(ValueError, match=r"AvgPool2d expected divisor_override to be None or a non-zero int, got 0"):
        AvgPool2d(2, divisor_override=0)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        torch.nn.AvgPool2d(2, divisor_override=0)(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"MaxPool2d expected dilation to be an int >= 1"):
        MaxPool2d(2, dilation=0)
    with pytest.raises(TypeError, match=r"MaxPool1d expected return_indices to be a bool"):
        MaxPool1d(2, return_indices=None)
    with pytest.raises(ValueError, match=r"MaxPool1d expected kernel_size to be an int >= 1 or a 1-tuple"):
        MaxPool1d((2, 2))


REPRS = [(name, args) for name in POOLS for args in [(2,), (3, 2, 1)]] + [
    ("MaxPool2d", ((2, 3), None, (1, 0), 2, True, True)), ("AvgPool2d", ((2, 3), 1, 1, True, False, 3)),
    ("MaxPool1d", (4, 3, 2, 2, False, True)), ("AvgPool1d", ((3,), (2,), (1,), True, False))]


@pytest.mark.parametrize("name, args", REPRS, ids=str)
def test_pool_reprs_and_attributes_mirror_torch(name, args):
    """Arguments kept as given, as torch keeps them (ints stay ints, AvgPool1d's become 1-tuples)."""
    scratch, twin = POOLS[name][0](*args), POOLS[name][1](*args)
    assert repr(scratch) == repr(twin)
    for attribute in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices",
                      "count_include_pad", "divisor_override"):
        assert getattr(scratch, attribute, None) == getattr(twin, attribute, None), attribute


# -- Flatten ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("start_dim, end_dim", [(1, -1), (0, -1), (1, 2), (2, 3), (-3, -2), (3, 3)])
def test_flatten_matches_torch(dtype, start_dim, end_dim):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(dtype)
    check_module(Flatten(start_dim, end_dim), torch.nn.Flatten(start_dim, end_dim), x).assert_passed()


def test_flatten_bad_dims():
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=2, end_dim=1\) does not fit an input of shape "
                                         r"\(2, 3, 4\)"):
        Flatten(2, 1)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1, end_dim=-1\) does not fit an input of shape \(5,\)"):
        Flatten()(np.zeros(5))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", POOLS)
def test_an_empty_batch_matches_torch(name, dtype):
    """N = 0 gives an empty output of torch's shape and an empty dx."""
    scratch_cls, torch_cls = POOLS[name]
    scratch, twin = scratch_cls(3, stride=2, padding=1), torch_cls(3, stride=2, padding=1)
    x = np.zeros((0, 2, 5, 6)[:4 if name.endswith("2d") else 3], dtype=dtype)
    assert scratch(x).shape == tuple(twin(torch.tensor(x)).shape) == (0, 2, 3, 3)[:x.ndim]
    check_module(scratch, twin, x).assert_passed()


@pytest.mark.parametrize("name", POOLS)
def test_backward_refuses_a_grad_output_not_of_the_outputs_shape(name):
    pool = POOLS[name][0](2)
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward: call forward first"):
        pool.backward(np.zeros((2, 3, 2, 3)))
    x = np.zeros((2, 3, 4, 6)[:4 if name.endswith("2d") else 3])
    y = pool(x)                                             # (2, 3, 2, 3) or (2, 3, 3): never square at the end
    for g in [y.swapaxes(-1, -2), y[None], y[..., :-1], y.reshape(-1)]:  # transposed, extra axis, short, flat
        with pytest.raises(ValueError, match=rf"{name}.backward expected grad_output of the output's shape "
                                             rf"\({', '.join(map(str, y.shape))}\), got"):
            pool.backward(np.ascontiguousarray(g))
    assert pool.backward(np.ones_like(y)).shape == x.shape
