"""MaxPool2d, AvgPool2d and Flatten against torch: parity, ties, gradient checks, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import AvgPool2d, Flatten, MaxPool2d

DTYPES = [np.float64, np.float32]
POOLS = {"MaxPool2d": (MaxPool2d, torch.nn.MaxPool2d), "AvgPool2d": (AvgPool2d, torch.nn.AvgPool2d)}


@st.composite
def pool_configs(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 5), st.integers(1, 5))))  # None: the kernel size
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    size = [max(1, k - 2 * p) + draw(st.integers(0, 5)) for k, p in zip(kernel, padding)]
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *size)
    return dict(kernel_size=kernel, stride=stride, padding=padding), shape


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", POOLS)
@examples(50)
@given(config=pool_configs(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_pool_matches_torch(name, dtype, config, seed, ties):
    """Random configurations; with ``ties`` the input holds integers 0..2, so most windows tie."""
    kwargs, shape = config
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    scratch_cls, torch_cls = POOLS[name]
    check_module(scratch_cls(**kwargs), torch_cls(**kwargs), x, seed=seed).assert_passed()


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=(3, 2), stride=(2, 1))])
def test_max_pool_ties_go_to_the_first_maximum_like_torch(kwargs):
    """All-equal windows (overlapping too): torch routes each gradient to the window's first element."""
    x = np.ones((2, 3, 6, 6))
    x[:, :, ::2, 1::2] = 2.0  # some windows hold two equal maxima in different rows
    check_module(MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), x).assert_passed()


def test_max_pool_tie_in_every_window_picks_its_top_left():
    pool = MaxPool2d(2)
    y = pool(np.zeros((1, 1, 4, 4)))
    routed = pool.backward(np.ones_like(y))
    np.testing.assert_array_equal(routed[0, 0], np.kron(np.ones((2, 2)), [[1, 0], [0, 0]]))


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
    y = AvgPool2d(3, stride=1, padding=1)(x)
    np.testing.assert_allclose(y[0, 0], np.full((2, 2), 4 / 9))


@pytest.mark.parametrize("name", POOLS)
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(2, 3), stride=1)])
def test_pool_gradcheck(name, kwargs):
    # distinct values 0.1 apart: a nudge of 1e-6 never changes which input is the max
    x = np.random.default_rng(0).permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) * 0.1
    assert gradcheck(POOLS[name][0](**kwargs), x) == []


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_pools_keep_dtype(dtype):
    x = np.zeros((1, 1, 4, 4), dtype=dtype)
    for pool in (MaxPool2d(2), AvgPool2d(2)):
        y = pool(x)
        assert y.dtype == dtype and pool.backward(np.ones_like(y)).dtype == dtype


@pytest.mark.parametrize("name", POOLS)
def test_pool_bad_input(name):
    pool = POOLS[name][0](3)
    with pytest.raises(ValueError, match=r"expected a 4-D input \(N, C, H, W\), got shape \(3, 8, 8\)"):
        pool(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"input \(1, 2, 2, 5\) padded to \(H, W\) = \(2, 5\) is smaller than the "
                                         r"dilated kernel \(3, 3\): the output size would be \(0, 1\) <= 0"):
        pool(np.zeros((1, 2, 2, 5)))
    with pytest.raises(TypeError, match="must have dtype float32 or float64, got int64"):
        pool(np.zeros((1, 1, 4, 4), dtype=np.int64))


@pytest.mark.parametrize("name", POOLS)
def test_pool_bad_arguments(name):
    cls = POOLS[name][0]
    with pytest.raises(ValueError, match=r"padding should be at most half of the kernel size, got padding=\(2, 2\) "
                                         r"and kernel_size=\(3, 3\)"):
        cls(3, padding=2)
    with pytest.raises(ValueError, match=r"supports ceil_mode=False only \(torch's default\), got ceil_mode=True"):
        cls(2, ceil_mode=True)
    with pytest.raises(ValueError, match=r"stride to be an int >= 1"):
        cls(2, stride=0)


def test_unsupported_pool_options_are_named():
    with pytest.raises(ValueError, match="MaxPool2d supports dilation=1 only"):
        MaxPool2d(2, dilation=2)
    with pytest.raises(ValueError, match="AvgPool2d supports count_include_pad=True only"):
        AvgPool2d(2, count_include_pad=False)


def test_pool_attributes_mirror_torch():
    scratch, twin = MaxPool2d(3, padding=1), torch.nn.MaxPool2d(3, padding=1)
    assert scratch.kernel_size == (3, 3) and twin.kernel_size == 3  # torch keeps the int; both mean 3x3
    assert scratch.stride == (3, 3) and twin.stride == 3


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
