"""Unflatten against torch.nn.Unflatten: any dim, -1, tuples and lists; Flatten's inverse; refusals."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import Flatten
from scratchnet.nn.flatten import Unflatten


@st.composite
def configs(draw):
    """An input shape, a dim in it (maybe negative) and a factorisation of its size (maybe with one -1)."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    factors = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shape[dim] = int(np.prod(factors))
    if draw(st.booleans()):
        factors[draw(st.integers(0, len(factors) - 1))] = -1
    as_list = draw(st.booleans())
    return tuple(shape), dim, (factors if as_list else tuple(factors))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@examples(25)
@given(config=configs(), seed=st.integers(0, 2**16))
def test_unflatten_matches_torch(dtype, config, seed):
    shape, dim, sizes = config
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    scratch, twin = Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    report = check_module(scratch, twin, x, seed=seed)
    report.assert_passed()
    assert repr(scratch) == repr(twin)


@examples(15)
@given(config=configs())
def test_unflatten_undoes_flatten(config):
    shape, dim, _ = config
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    start = dim % len(shape)
    flat = Flatten(start, len(shape) - 1)(x)
    np.testing.assert_array_equal(Unflatten(start, shape[start:])(flat), x)


def test_unflatten_gradcheck():
    assert gradcheck(Unflatten(1, (2, -1)), np.random.default_rng(0).standard_normal((3, 6, 2))) == []


def test_zero_sizes_like_torch():
    x = np.zeros((2, 0, 3))
    check_module(Unflatten(1, (2, 0)), torch.nn.Unflatten(1, (2, 0)), x).assert_passed()
    check_module(Unflatten(1, (2, -1)), torch.nn.Unflatten(1, (2, -1)), x).assert_passed()


@pytest.mark.parametrize("dim,sizes,shape,match", [
    (1, (2, 4), (4, 6, 5), r"sizes \[2, 4\] don't multiply up to the size of dim 1 \(6\)"),
    (1, (), (4, 6, 5), "must be non-empty"),
    (3, (2, 3), (4, 6, 5), r"dim must be in \[-3, 2\]"),
    (-4, (2, 3), (4, 6, 5), r"dim must be in \[-3, 2\]"),
    (0, (1,), (), "a 0-d input has no dimension to unflatten"),
    (1, (-1, -1), (4, 6, 5), "at most one -1"),
    (1, (-2, -3), (4, 6, 5), "non-negative sizes"),
    (1, (0, -1), (4, 0, 5), r"cannot infer the -1 of \(0, -1\) from size 0"),
    (1, (4, -1), (4, 6, 5), r"cannot infer the -1 of \(4, -1\) from size 6"),
])
def test_bad_sizes_are_refused_as_torch_refuses_them(dim, sizes, shape, match):
    with pytest.raises((RuntimeError, IndexError)):
        torch.nn.Unflatten(dim, sizes)(torch.zeros(shape))
    with pytest.raises(ValueError, match=match):
        Unflatten(dim, sizes)(np.zeros(shape))


@pytest.mark.parametrize("sizes,match", [
    (6, "must be a tuple of ints, but found type int"),
    ((2.0, 3), "must be tuple of ints, but found element of type float at pos 0"),
    ((2, np.int64(3)), "must be tuple of ints, but found element of type int64 at pos 1"),
])
def test_unflattened_size_types_as_torch(sizes, match):
    with pytest.raises(TypeError, match=match):
        torch.nn.Unflatten(1, sizes)
    with pytest.raises(TypeError, match=match):
        Unflatten(1, sizes)


def test_refusals_torch_makes_later():
    """torch takes a bool size or a non-int dim at construction and refuses them at forward."""
    with pytest.raises(TypeError, match="found element of type bool at pos 0"):
        Unflatten(1, (True, 6))
    with pytest.raises(TypeError, match="Unflatten expected an int dim, got str"):
        Unflatten("1", (2, 3))(np.zeros((4, 6)))
    with pytest.raises(TypeError, match="Unflatten input must be a numpy.ndarray"):
        Unflatten(1, (2, 3))([[0.0] * 6])
