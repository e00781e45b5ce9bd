"""Linear and the lecture's MLP against torch through the parity harness, and the gradient check."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet
import torchnet
from parity import check_module, transfer
from scratchnet import nn
from scratchnet.gradcheck import gradcheck


def torch_linear(in_features, out_features, bias, dtype):
    return torch.nn.Linear(in_features, out_features, bias=bias, dtype=transfer.torch_dtype(dtype))


@given(
    batch=st.integers(1, 9),
    in_features=st.integers(1, 12),
    out_features=st.integers(1, 12),
    bias=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_torch(batch, in_features, out_features, bias, dtype, seed):
    x = np.random.default_rng(seed).standard_normal((batch, in_features)).astype(dtype)
    report = check_module(nn.Linear(in_features, out_features, bias=bias, dtype=dtype),
                          torch_linear(in_features, out_features, bias, dtype), x)
    report.assert_passed()
    assert {d.name for d in report.diffs} >= {"output", "grad input[0]", "grad weight"}


def test_linear_accepts_extra_leading_dimensions_like_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    check_module(nn.Linear(5, 4, dtype=np.float64), torch_linear(5, 4, True, np.float64), x).assert_passed()


@given(
    batch=st.integers(1, 16),
    widths=st.tuples(st.integers(1, 10), st.integers(1, 16), st.integers(2, 5)),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_lecture_mlp_matches_torch_for_random_sizes(batch, widths, dtype, seed):
    input_dim, hidden_dim, output_dim = widths
    x = np.random.default_rng(seed).standard_normal((batch, input_dim)).astype(dtype)
    torch.manual_seed(seed)
    torch_model = torchnet.MLP(input_dim, hidden_dim, output_dim, dtype=transfer.torch_dtype(dtype))
    check_module(scratchnet.MLP(input_dim, hidden_dim, output_dim, dtype=dtype), torch_model, x).assert_passed()


@given(
    batch=st.integers(1, 8),
    input_dim=st.integers(1, 6),
    hidden=st.lists(st.integers(1, 9), min_size=0, max_size=4),
    output_dim=st.integers(1, 4),
    activation=st.sampled_from(scratchnet.models.ACTIVATIONS),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_mlp_of_any_depth_and_activation_matches_torch(batch, input_dim, hidden, output_dim, activation, dtype, seed):
    x = np.random.default_rng(seed).standard_normal((batch, input_dim)).astype(dtype)
    torch_model = torchnet.MLP(input_dim, hidden, output_dim, activation=activation, dtype=transfer.torch_dtype(dtype))
    scratch_model = scratchnet.MLP(input_dim, hidden, output_dim, activation=activation, dtype=dtype)
    assert list(scratch_model.state_dict()) == list(torch_model.state_dict())
    check_module(scratch_model, torch_model, x).assert_passed()


def test_harness_detects_a_wrong_gradient():
    """The harness must fail when backward is wrong; otherwise the parity tests prove nothing."""

    class BrokenLinear(nn.Linear):
        def backward(self, grad_output):
            grad_input = super().backward(grad_output)
            self.weight.grad *= 1 + 1e-6
            return grad_input

    x = np.random.default_rng(0).standard_normal((4, 3))
    report = check_module(BrokenLinear(3, 2, dtype=np.float64), torch_linear(3, 2, True, np.float64), x)
    assert not report.passed
    assert [d.name for d in report.failures] == ["grad weight"]
    with pytest.raises(AssertionError, match="grad weight"):
        report.assert_passed()


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(bias):
    scratchnet.manual_seed(1)
    x = np.random.default_rng(1).standard_normal((3, 4))
    assert gradcheck(nn.Linear(4, 5, bias=bias, dtype=np.float64), x) == []


def test_mlp_gradcheck():
    scratchnet.manual_seed(2)
    x = np.random.default_rng(2).standard_normal((4, 5))
    assert gradcheck(scratchnet.MLP(5, 6, 3, dtype=np.float64), x) == []


def test_gradcheck_detects_a_wrong_derivative():
    class WrongTanh(nn.Tanh):
        def backward(self, grad_output):
            return grad_output * (1 - self._y)  # forgot the square

    x = np.random.default_rng(3).standard_normal((2, 3))
    assert gradcheck(WrongTanh(), x) != []


@pytest.mark.parametrize(
    "x, error, match",
    [
        (np.zeros((4, 3), np.float32), ValueError, r"Linear\(20, 64\) expected input of shape \(N, 20\), got \(4, 3\)"),
        (np.zeros((4, 20), np.float64), TypeError, r"dtype float64 but the parameters are float32"),
        (np.zeros((4, 20), np.int64), TypeError, r"must have dtype float32 or float64, got int64"),
        ([[0.0] * 20], TypeError, r"must be a numpy.ndarray, got list"),
        (np.zeros((), np.float32), ValueError, r"expected input of shape \(N, 20\), got \(\)"),
    ],
)
def test_linear_rejects_bad_input_with_a_clear_message(x, error, match):
    with pytest.raises(error, match=match):
        nn.Linear(20, 64)(x)


def test_linear_rejects_bad_sizes():
    with pytest.raises(ValueError, match="non-negative integer in_features"):
        nn.Linear(-1, 3)


def test_harness_detects_a_silent_float64_promotion():
    """A float32 layer computing in float64 agrees in value but is still a parity failure."""

    class PromotingLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x).astype(np.float64)

    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    report = check_module(PromotingLinear(3, 2), torch_linear(3, 2, True, np.float32), x)
    assert not report.passed and report["output"].note == "dtype float64 vs torch float32"
