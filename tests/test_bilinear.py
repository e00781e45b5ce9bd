"""Bilinear against torch.nn.Bilinear: y = x1^T A x2 + b for any leading dimensions, its four gradients,
torch's initialisation and refusals."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet
from hypothesis_profiles import examples
from parity import check_module
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import Linear
from scratchnet.nn.linear import Bilinear


def twins(in1, in2, out, dtype=np.float64, bias=True):
    return (Bilinear(in1, in2, out, bias=bias, dtype=dtype),
            torch.nn.Bilinear(in1, in2, out, bias=bias, dtype=torch_dtype(dtype)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@examples(30)
@given(batch=st.lists(st.integers(0, 4), max_size=2), in1=st.integers(1, 5), in2=st.integers(1, 5),
       out=st.integers(0, 4), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_bilinear_matches_torch(dtype, batch, in1, in2, out, bias, seed):
    """No, one or two leading dimensions (empty ones included) and every gradient: x1, x2, A, b."""
    rng = np.random.default_rng(seed)
    x1, x2 = (rng.standard_normal((*batch, n)).astype(dtype) for n in (in1, in2))
    report = check_module(*twins(in1, in2, out, dtype, bias), x1, x2, seed=seed)
    report.assert_passed()
    assert {"grad input[0]", "grad input[1]", "grad weight"} <= {d.name for d in report.diffs}


@examples(15)
@given(n=st.integers(1, 4), in1=st.integers(1, 5), out=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_bilinear_with_a_constant_second_input_is_linear(n, in1, out, seed):
    """x2 = 1 (in2 = 1): y_nk = sum_i x1_ni A_ki1 + b_k, a Linear with W = A[:, :, 0] -- outputs and gradients."""
    rng = np.random.default_rng(seed)
    bilinear, linear = Bilinear(in1, 1, out, dtype=np.float64), Linear(in1, out, dtype=np.float64)
    linear.weight.data[:] = bilinear.weight.data[:, :, 0]
    linear.bias.data[:] = bilinear.bias.data
    x1, g = rng.standard_normal((n, in1)), rng.standard_normal((n, out))
    np.testing.assert_allclose(bilinear(x1, np.ones((n, 1))), linear(x1), rtol=1e-13, atol=1e-14)
    dx1, _ = bilinear.backward(g)
    np.testing.assert_allclose(dx1, linear.backward(g), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(bilinear.weight.grad[:, :, 0], linear.weight.grad, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(bilinear.bias.grad, linear.bias.grad, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_gradcheck(shape, bias):
    scratchnet.manual_seed(0)
    rng = np.random.default_rng(0)
    layer = Bilinear(3, 2, 4, bias=bias, dtype=np.float64)
    assert gradcheck(layer, rng.standard_normal((*shape[:-1], 3)), rng.standard_normal((*shape[:-1], 2))) == []


def test_gradcheck_sees_each_input_gradient():
    """A backward that swaps in a wrong dx2 (x1's role and A's transposed) must fail the check."""
    layer = Bilinear(3, 3, 2, dtype=np.float64)
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    original = layer.backward

    def wrong_dx2(grad_output):
        dx1, _ = original(grad_output)
        return dx1, np.einsum("nk,ni,kji->nj", grad_output, x1, layer.weight.data)
    layer.backward = wrong_dx2
    assert gradcheck(layer, x1, x2) != []


def test_init_is_torch_uniform_bound_over_sqrt_in1():
    """A, b ~ U(-1/sqrt(in1), 1/sqrt(in1)): within the bound, filling it, variance bound^2 / 3."""
    scratchnet.manual_seed(0)
    layer = Bilinear(16, 5, 300, dtype=np.float64)
    bound = 1 / math.sqrt(16)
    w = layer.weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.var() - bound**2 / 3) < 0.02 * bound**2 / 3  # 24000 draws: relative error ~1%
    assert np.abs(layer.bias.data).max() <= bound
    twin = torch.nn.Bilinear(16, 5, 300)
    assert twin.weight.abs().max() <= bound and tuple(twin.weight.shape) == w.shape


def test_state_dict_dtype_and_repr_match_torch():
    for bias in (True, False):
        scratch, twin = twins(3, 4, 5, np.float32, bias)
        assert list(scratch.state_dict()) == list(twin.state_dict())
        assert all(v.dtype == np.float32 for v in scratch.state_dict().values())
        assert repr(scratch) == repr(twin)


# -- refusals ------------------------------------------------------------------------------------


def test_in1_features_must_be_positive_as_torch():
    with pytest.raises(ValueError, match=r"in1_features must be > 0, but got \(in1_features=0\)"):
        torch.nn.Bilinear(0, 4, 5)
    with pytest.raises(ValueError, match=r"in1_features must be > 0, but got \(in1_features=0\)"):
        Bilinear(0, 4, 5)


@pytest.mark.parametrize("args", [(3, -1, 4), (3, 4, -2), (3, 2.5, 4), (3, True, 4)])
def test_bad_sizes(args):
    with pytest.raises(ValueError, match="non-negative integer"):
        Bilinear(*args)


@pytest.mark.parametrize("shape1,shape2", [((2, 4), (2, 4)), ((3, 3), (2, 4)), ((1, 3), (2, 4)),
                                           ((), (2, 4)), ((2, 3), (4,)), ((2, 3), (2, 5))])
def test_bad_inputs_are_refused_as_torch(shape1, shape2):
    """No broadcasting of the leading dimensions: torch refuses (1, 3) with (2, 4) too."""
    scratch, twin = twins(3, 4, 5)
    with pytest.raises(RuntimeError):
        twin(torch.zeros(shape1, dtype=torch.float64), torch.zeros(shape2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"Bilinear\(in1_features=3, in2_features=4, out_features=5, bias=True\) "
                                         r"expected inputs of shapes \(N, 3\) and \(N, 4\)"):
        scratch(np.zeros(shape1), np.zeros(shape2))


def test_in2_features_zero_is_refused_at_forward_as_torch():
    scratch, twin = twins(3, 0, 2)
    with pytest.raises(RuntimeError):
        twin(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 0, dtype=torch.float64))
    with pytest.raises(ValueError, match="cannot run with in2_features=0"):
        scratch(np.zeros((2, 3)), np.zeros((2, 0)))


def test_dtypes_are_checked():
    layer = Bilinear(3, 4, 5, dtype=np.float64)
    with pytest.raises(TypeError, match="Bilinear input2 has dtype float32 but the parameters are float64"):
        layer(np.zeros((2, 3)), np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="Bilinear input1 must have dtype float32 or float64, got int64"):
        layer(np.zeros((2, 3), np.int64), np.zeros((2, 4)))
