"""Adaptive pooling against torch: parity over random shapes and output sizes (None entries, larger than
the input, batched and unbatched), ties and NaN, gradient checks, properties and bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from test_pooling import GradOfOutputOnly  # a pool whose backward takes dL/dy alone
from scratchnet.nn.pooling import AvgPool1d, AvgPool2d
from scratchnet.nn.pooling_adaptive import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, adaptive_windows

DTYPES = [np.float64, np.float32]
POOLS = {"AdaptiveAvgPool1d": (AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool1d),
         "AdaptiveAvgPool2d": (AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d),
         "AdaptiveMaxPool2d": (AdaptiveMaxPool2d, torch.nn.AdaptiveMaxPool2d)}


def twins(name, output_size, return_indices=False):
    scratch_cls, torch_cls = POOLS[name]
    if return_indices:
        return GradOfOutputOnly(scratch_cls(output_size, True)), torch_cls(output_size, True)
    return scratch_cls(output_size), torch_cls(output_size)


@st.composite
def adaptive_configs(draw, name):
    """(output_size, return_indices, input shape): sizes 1..9, outputs 1..10 (so some exceed the input)."""
    dims = 1 if name.endswith("1d") else 2
    spatial = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    if dims == 1:
        output_size = draw(st.integers(1, 10))
    else:
        output_size = draw(st.one_of(st.integers(1, 10), st.tuples(*[st.one_of(st.none(), st.integers(1, 10))] * 2)))
    batch = (draw(st.integers(1, 3)),) if draw(st.booleans()) else ()
    return_indices = name == "AdaptiveMaxPool2d" and draw(st.booleans())
    return output_size, return_indices, (*batch, draw(st.integers(1, 3)), *spatial)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", POOLS)
@examples(25)
@given(data=st.data(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_adaptive_pool_matches_torch(name, dtype, data, seed, ties):
    output_size, return_indices, shape = data.draw(adaptive_configs(name))
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    check_module(*twins(name, output_size, return_indices), x, seed=seed).assert_passed()


def test_adaptive_max_pool_ties_nan_and_minus_inf_like_torch():
    """Windows (1, 2) of 5 columns: [0, 3) and [2, 5), sharing column 2. Ties go to the first maximum,
    NaN to the last NaN (its gradient too), an all -inf window to its first entry."""
    x = np.array([[1.0, np.nan, 3.0, np.nan, 2.0], [4.0, 4.0, 1.0, 4.0, 4.0], [-np.inf] * 5,
                  [np.nan, 0.0, np.nan, -np.inf, np.nan]])[None, None]
    for output_size in [(1, 2), (2, 2), (4, 3), (3, None)]:
        check_module(*twins("AdaptiveMaxPool2d", output_size, True), x).assert_passed()


def test_adaptive_windows_follow_torchs_rule():
    start, end = adaptive_windows(10, 4)
    np.testing.assert_array_equal(start, [0, 2, 5, 7])  # floor(i 10 / 4)
    np.testing.assert_array_equal(end, [3, 5, 8, 10])  # ceil((i + 1) 10 / 4)


CHECKED = [("AdaptiveAvgPool1d", 3, (2, 3, 7)), ("AdaptiveAvgPool1d", 9, (3, 4)),
           ("AdaptiveAvgPool2d", (3, None), (2, 2, 5, 4)), ("AdaptiveAvgPool2d", 4, (2, 3, 5)),
           ("AdaptiveMaxPool2d", (2, 3), (2, 2, 5, 7)), ("AdaptiveMaxPool2d", 6, (2, 5, 4))]


@pytest.mark.parametrize("name, output_size, shape", CHECKED, ids=[str(c) for c in CHECKED])
def test_adaptive_pool_gradcheck(name, output_size, shape):
    # distinct values 0.1 apart: a nudge of 1e-6 never changes which input is the max
    x = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape) * 0.1
    assert gradcheck(POOLS[name][0](output_size), x) == []


@pytest.mark.parametrize("name", POOLS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_adaptive_pools_keep_dtype(name, dtype):
    pool = POOLS[name][0](2)
    y = pool(np.zeros((1, 2, 5) if name.endswith("1d") else (1, 2, 5, 5), dtype=dtype))
    assert y.dtype == dtype and pool.backward(np.ones_like(y)).dtype == dtype


def test_adaptive_max_pool_indices_are_int64_where_the_max_was_read():
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5))
    y, indices = AdaptiveMaxPool2d((3, 2), return_indices=True)(x)
    assert indices.dtype == np.int64 and indices.shape == y.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(6, -1), indices.reshape(6, -1), axis=1),
                                  y.reshape(6, -1))


# -- properties -------------------------------------------------------------------------------


@examples(25)
@given(data=st.data(), name=st.sampled_from(list(POOLS)), seed=st.integers(0, 2**16))
def test_adaptive_pool_to_the_input_size_is_the_identity(data, name, seed):
    _, _, shape = data.draw(adaptive_configs(name))
    x = np.random.default_rng(seed).standard_normal(shape)
    spatial = shape[-1:] if name.endswith("1d") else shape[-2:]
    pool = POOLS[name][0](spatial[0] if name.endswith("1d") else (None, spatial[1]) if seed % 2 else spatial)
    np.testing.assert_array_equal(pool(x), x)
    np.testing.assert_array_equal(pool.backward(x), x)


@examples(25)
@given(out=st.tuples(st.integers(1, 4), st.integers(1, 4)), factor=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       seed=st.integers(0, 2**16))
def test_adaptive_avg_pool_of_a_multiple_is_avg_pool(out, factor, seed):
    """With H = H_out f the windows are the non-overlapping f-blocks: AvgPool2d(kernel f, stride f) exactly."""
    shape = (2, 2, out[0] * factor[0], out[1] * factor[1])
    x = np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_allclose(AdaptiveAvgPool2d(out)(x), AvgPool2d(factor)(x), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(AdaptiveAvgPool1d(out[1])(x[0]), AvgPool1d(factor[1])(x[0]), rtol=1e-13, atol=1e-14)


@examples(25)
@given(data=st.data(), name=st.sampled_from(list(POOLS)), value=st.floats(-100, 100))
def test_adaptive_pool_of_a_constant_is_that_constant(data, name, value):
    output_size, _, shape = data.draw(adaptive_configs(name))
    np.testing.assert_allclose(POOLS[name][0](output_size)(np.full(shape, value)), value, rtol=1e-14, atol=1e-13)


# -- refusals and attributes --------------------------------------------------------------------


@pytest.mark.parametrize("name", POOLS)
def test_adaptive_pool_bad_input(name):
    pool, twin = POOLS[name][0](2), POOLS[name][1](2)
    expected = (r"expected a 4-D input \(N, C, H, W\) or a 3-D unbatched input \(C, H, W\)" if name.endswith("2d")
                else r"expected a 3-D input \(N, C, L\) or a 2-D unbatched input \(C, L\)")
    bad = [(8,), (1, 1, 1, 1, 8), (1, 8, 0)] + ([(1, 0, 8, 8)] if name == "AdaptiveMaxPool2d" else [])
    for shape in bad:
        with pytest.raises(ValueError, match=f"^{name} " + expected):
            pool(np.zeros(shape))
        with pytest.raises((RuntimeError, ValueError)):  # torch too
            twin(torch.zeros(shape))
    if name.startswith("AdaptiveAvg"):  # torch's adaptive average pools take an empty channel axis
        shape = (1, 0, 8) if name.endswith("1d") else (1, 0, 8, 8)
        assert pool(np.zeros(shape)).shape == tuple(twin(torch.zeros(shape)).shape)
    with pytest.raises(TypeError, match=f"^{name} input must have dtype float32 or float64, got int64"):
        pool(np.zeros((1, 1, 4, 4), dtype=np.int64))


@pytest.mark.parametrize("name", POOLS)
def test_adaptive_pool_bad_output_size(name):
    cls = POOLS[name][0]
    for bad in [-1, (2, -1), 2.0, True, (2, 2, 2)]:
        with pytest.raises(ValueError, match=f"^{name} expected output_size to be an int >= 0"):
            cls(bad)
    if name.endswith("1d"):
        with pytest.raises(ValueError, match="expected output_size to be an int >= 0, got None"):
            cls(None)


def test_adaptive_pool_to_size_zero_is_empty_like_torch():
    x = np.zeros((2, 3, 4, 5))
    assert AdaptiveAvgPool2d((0, 2))(x).shape == torch.nn.AdaptiveAvgPool2d((0, 2))(torch.zeros(2, 3, 4, 5)).shape
    assert AdaptiveMaxPool2d(0)(x).shape == (2, 3, 0, 0)
    assert AdaptiveAvgPool1d(0)(x[0]).shape == (3, 4, 0)


@pytest.mark.parametrize("name, args", [("AdaptiveAvgPool1d", (3,)), ("AdaptiveAvgPool2d", ((3, None),)),
                                        ("AdaptiveAvgPool2d", (4,)), ("AdaptiveMaxPool2d", ((2, 3), True)),
                                        ("AdaptiveMaxPool2d", ([None, 3],))])
def test_adaptive_pool_reprs_and_attributes_mirror_torch(name, args):
    scratch, twin = POOLS[name][0](*args), POOLS[name][1](*args)
    assert repr(scratch) == repr(twin)
    assert scratch.output_size == twin.output_size
    assert getattr(scratch, "return_indices", None) == getattr(twin, "return_indices", None)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", POOLS)
def test_an_empty_batch_matches_torch(name, dtype):
    """N = 0 gives an empty output of torch's shape and an empty dx."""
    scratch, twin = twins(name, 3)
    x = np.zeros((0, 2, 5, 6)[:4 if name.endswith("2d") else 3], dtype=dtype)
    assert scratch(x).shape == tuple(twin(torch.tensor(x)).shape) == (0, 2, 3, 3)[:x.ndim]
    check_module(scratch, twin, x).assert_passed()


@pytest.mark.parametrize("name", POOLS)
def test_backward_refuses_a_grad_output_not_of_the_outputs_shape(name):
    pool = POOLS[name][0](3 if name.endswith("1d") else (2, 3))
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward: call forward first"):
        pool.backward(np.zeros((2, 3, 2, 3)))
    x = np.zeros((2, 3, 4, 6)[:4 if name.endswith("2d") else 3])
    y = pool(x)                                             # (2, 3, 2, 3) or (2, 3, 3): never square at the end
    for g in [y.swapaxes(-2, -1) if y.shape[-1] != y.shape[-2] else y[:, :1], y[None], y[..., :-1], y.reshape(-1)]:
        with pytest.raises(ValueError, match=rf"{name}.backward expected grad_output of the output's shape "
                                             rf"\({', '.join(map(str, y.shape))}\), got"):
            pool.backward(np.ascontiguousarray(g))
    assert pool.backward(np.ones_like(y)).shape == x.shape
