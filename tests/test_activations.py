"""Activations: parity with torch.nn (float64 and float32, extreme inputs, kinks, 0-d inputs), gradient checks,
erf, and their properties."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hypothesis_profiles import examples
import scratchnet.nn.activation as A
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import functional as F

# (id, scratchnet module, torch twin): every activation with default and non-default arguments.
ACTIVATIONS = [
    ("ReLU", lambda: A.ReLU(), lambda: torch.nn.ReLU()),
    ("LeakyReLU", lambda: A.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    ("LeakyReLU(0.2)", lambda: A.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    ("ELU", lambda: A.ELU(), lambda: torch.nn.ELU()),
    ("ELU(0.5)", lambda: A.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    ("GELU", lambda: A.GELU(), lambda: torch.nn.GELU()),
    ("GELU(tanh)", lambda: A.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    ("SiLU", lambda: A.SiLU(), lambda: torch.nn.SiLU()),
    ("Softplus", lambda: A.Softplus(), lambda: torch.nn.Softplus()),
    ("Softplus(2,3)", lambda: A.Softplus(beta=2.0, threshold=3.0), lambda: torch.nn.Softplus(beta=2.0, threshold=3.0)),
    ("Sigmoid", lambda: A.Sigmoid(), lambda: torch.nn.Sigmoid()),
    ("Tanh", lambda: A.Tanh(), lambda: torch.nn.Tanh()),
    ("Softmax(1)", lambda: A.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    ("Softmax(0)", lambda: A.Softmax(dim=0), lambda: torch.nn.Softmax(dim=0)),
    ("LogSoftmax(1)", lambda: A.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1)),
    ("LogSoftmax(-1)", lambda: A.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
    ("Softmin(1)", lambda: A.Softmin(dim=1), lambda: torch.nn.Softmin(dim=1)),
    ("Softmin(0)", lambda: A.Softmin(dim=0), lambda: torch.nn.Softmin(dim=0)),
    ("Hardtanh", lambda: A.Hardtanh(), lambda: torch.nn.Hardtanh()),
    ("Hardtanh(-2,3)", lambda: A.Hardtanh(-2.0, 3.0), lambda: torch.nn.Hardtanh(-2.0, 3.0)),
    ("ReLU6", lambda: A.ReLU6(), lambda: torch.nn.ReLU6()),
    ("Hardsigmoid", lambda: A.Hardsigmoid(), lambda: torch.nn.Hardsigmoid()),
    ("Hardswish", lambda: A.Hardswish(), lambda: torch.nn.Hardswish()),
    ("Threshold(1,7)", lambda: A.Threshold(1.0, 7.0), lambda: torch.nn.Threshold(1.0, 7.0)),
    ("Hardshrink", lambda: A.Hardshrink(), lambda: torch.nn.Hardshrink()),
    ("Hardshrink(1.5)", lambda: A.Hardshrink(1.5), lambda: torch.nn.Hardshrink(1.5)),
    ("Softshrink", lambda: A.Softshrink(), lambda: torch.nn.Softshrink()),
    ("Softshrink(1.5)", lambda: A.Softshrink(1.5), lambda: torch.nn.Softshrink(1.5)),
    ("PReLU", lambda: A.PReLU(), lambda: torch.nn.PReLU()),
    ("PReLU(init=-0.3)", lambda: A.PReLU(init=-0.3), lambda: torch.nn.PReLU(init=-0.3)),
    ("SELU", lambda: A.SELU(), lambda: torch.nn.SELU()),
    ("CELU", lambda: A.CELU(), lambda: torch.nn.CELU()),
    ("CELU(0.5)", lambda: A.CELU(0.5), lambda: torch.nn.CELU(0.5)),
    ("CELU(2)", lambda: A.CELU(2.0), lambda: torch.nn.CELU(2.0)),
    ("Mish", lambda: A.Mish(), lambda: torch.nn.Mish()),
    ("LogSigmoid", lambda: A.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    ("Softsign", lambda: A.Softsign(), lambda: torch.nn.Softsign()),
    ("Tanhshrink", lambda: A.Tanhshrink(), lambda: torch.nn.Tanhshrink()),
    ("GLU", lambda: A.GLU(), lambda: torch.nn.GLU()),
    ("GLU(0)", lambda: A.GLU(dim=0), lambda: torch.nn.GLU(dim=0)),
]
IDS = [name for name, _, _ in ACTIVATIONS]
# Modules to which torch refuses a 0-d input (GLU halves a dimension; a 0-d input has no dim 1); all others take it.
NO_0D = {"GLU", "GLU(0)", "Softmax(1)", "LogSoftmax(1)", "Softmin(1)"}
# Every kink in the table: ReLU-like 0; shrink's +-0.5, +-1.5; Hardtanh's +-1, -2, 3; Hardsigmoid and Hardswish's
# +-3; ReLU6's 6; Threshold's 1; Softplus(2, 3)'s 1.5 and Softplus's 20 (where torch still takes the log1p branch).
KINKS = [-3.0, -2.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 3.0, 6.0, 20.0]


def _pair(make, make_torch, dtype):
    """The scratchnet module in ``dtype`` (PReLU holds a parameter) and its torch twin in the same dtype."""
    return make().to(dtype), make_torch().to(torch.float64 if dtype == np.float64 else torch.float32)


def _inputs(dtype, shape=(6, 4), scale=4.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _away_from_kinks(shape, seed):
    """Values k/4 + 0.123 on [-4, 4]: every kink above is a multiple of 1/4, so each value sits >= 0.12 from one."""
    u = np.random.default_rng(seed).uniform(-4, 4, shape)
    return np.round(u * 4) / 4 + 0.123


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_parity(name, make, make_torch, dtype):
    check_module(*_pair(make, make_torch, dtype), _inputs(dtype)).assert_passed()


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_parity_extreme_inputs_and_kinks(name, make, make_torch, dtype):
    """Large finite inputs stay finite and agree with torch (overflow-prone exp, tails of erf), and at every kink the
    gradient is torch's choice of one-sided derivative. Each row holds -x of the other, so +-kinks both appear."""
    row = np.array([800.0, 40.0, 10.0, 5.0, 2.5, 1e-8, *KINKS, 0.25])
    x = np.stack([row, -row]).astype(dtype)
    check_module(*_pair(make, make_torch, dtype), x).assert_passed()


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_parity_0d_input(name, make, make_torch, dtype):
    """A 0-d input gives a 0-d ndarray output and gradient (torch: 0-d tensors), on each side of a kink and on it."""
    if name in NO_0D:
        pytest.skip("torch refuses a 0-d input (test_glu_refuses_what_torch_refuses, test_softmax_of_a_0d_input...)")
    for value in (-2.5, 0.0, 0.7):
        scratch, twin = _pair(make, make_torch, dtype)
        x = np.array(value, dtype=dtype)
        check_module(scratch, twin, x, grad_output=np.array(0.6, dtype=dtype)).assert_passed()
        y = scratch(x)
        grad = scratch.backward(np.array(0.6, dtype=dtype))
        assert type(y) is np.ndarray and y.shape == () and y.dtype == dtype
        assert type(grad) is np.ndarray and grad.shape == () and grad.dtype == dtype


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_gradcheck(name, make, make_torch):
    assert gradcheck(make().double(), _away_from_kinks((4, 4), seed=1)) == []


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_gradcheck_0d(name, make, make_torch):
    if name in NO_0D:
        pytest.skip("torch refuses a 0-d input")
    for value in (-1.377, 0.623):
        assert gradcheck(make().double(), np.array(value)) == []


def test_gradcheck_sees_a_wrong_kink_choice_only_at_the_kink():
    """Why parity runs at the kinks: away from them a module with the other one-sided derivative passes gradcheck
    (it is the same function), at them only the comparison with torch tells the two apart."""

    class OtherSideHardswish(A.Hardswish):
        def backward(self, grad_output):
            x = self._x
            return np.where(x < -3, 0.0, np.where(x <= 3, grad_output * (x / 3 + 0.5), grad_output))

    assert gradcheck(OtherSideHardswish(), _away_from_kinks((4, 4), seed=1)) == []
    x = np.array([[-3.0, 3.0]])
    assert not check_module(OtherSideHardswish(), torch.nn.Hardswish(), x).passed


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_keeps_float32(name, make, make_torch):
    module = make().float()
    y = module(_inputs(np.float32))
    assert y.dtype == np.float32
    assert module.backward(np.ones_like(y)).dtype == np.float32


def test_reprs_and_defaults_match_torch():
    assert A.LeakyReLU().negative_slope == torch.nn.LeakyReLU().negative_slope == 0.01
    assert A.ELU().alpha == torch.nn.ELU().alpha == 1.0
    assert A.GELU().approximate == torch.nn.GELU().approximate == "none"
    assert (A.Softplus().beta, A.Softplus().threshold) == (torch.nn.Softplus().beta, torch.nn.Softplus().threshold)
    for name, make, make_torch in ACTIVATIONS:
        assert repr(make()) == repr(make_torch()), name
    for name in ("ReLU", "LeakyReLU", "ELU", "SiLU", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "SELU", "CELU",
                 "Mish"):
        assert repr(getattr(A, name)(inplace=True)) == repr(getattr(torch.nn, name)(inplace=True)), name
    assert repr(A.Threshold(0.1, 20.0, inplace=True)) == repr(torch.nn.Threshold(0.1, 20.0, inplace=True))
    assert repr(A.PReLU(3)) == repr(torch.nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert isinstance(A.ReLU6(), A.Hardtanh) and isinstance(torch.nn.ReLU6(), torch.nn.Hardtanh)


# -- erf ------------------------------------------------------------------------------------------

def test_erf_matches_math_erf_on_a_dense_grid():
    x = np.concatenate([np.linspace(-8, 8, 20001), [0.0, -0.0, 1e-300, 0.46875, -0.46875, 4.0, -4.0, 30.0, -30.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(F.erf(x), expected, rtol=1e-15, atol=0)


@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-50, 50)))
@examples(50)
def test_erf_matches_math_erf(x):
    np.testing.assert_allclose(F.erf(x), [math.erf(v) for v in x], rtol=1e-15, atol=1e-300)


def test_erf_special_values_and_dtype():
    out = F.erf(np.array([np.inf, -np.inf, np.nan]))
    assert out[0] == 1.0 and out[1] == -1.0 and np.isnan(out[2])
    assert F.erf(np.array([0.5], dtype=np.float32)).dtype == np.float32


# -- properties -----------------------------------------------------------------------------------

finite = st.floats(-30, 30, allow_nan=False)


@given(hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-20, 20)))
@examples(30)
def test_gelu_tanh_within_1e3_of_exact(x):
    assert np.abs(F.gelu(x, "tanh") - F.gelu(x)).max() < 1e-3


@given(st.floats(0.5, 4.0), st.floats(1.0, 30.0), hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(0, 100)))
@examples(30)
def test_softplus_is_the_identity_above_its_threshold(beta, threshold, offset):
    x = threshold / beta + 1e-6 + offset  # beta x > threshold
    module = A.Softplus(beta, threshold)
    np.testing.assert_array_equal(module(x), x)
    g = np.linspace(-1, 1, x.size)
    np.testing.assert_array_equal(module.backward(g), g)
    np.testing.assert_array_equal(torch.nn.Softplus(beta, threshold)(torch.tensor(x)).numpy(), x)


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite), st.floats(-1e3, 1e3))
@examples(30)
def test_softmax_rows_sum_to_one_and_ignore_a_shift(x, shift):
    y = F.softmax(x, dim=1)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(F.softmax(x + shift, dim=1), y, rtol=1e-9, atol=1e-15)


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite))
@examples(30)
def test_log_softmax_is_log_of_softmax(x):
    p = F.softmax(x, dim=1)
    finite_log = p > 1e-300
    np.testing.assert_allclose(F.log_softmax(x, dim=1)[finite_log], np.log(p[finite_log]), rtol=1e-12, atol=1e-12)


def test_softmax_of_extreme_logits_is_finite():
    x = np.array([[1e4, -1e4, 0.0]])
    assert np.isfinite(F.log_softmax(x, 1)).all()
    np.testing.assert_array_equal(F.softmax(x, 1), [[1.0, 0.0, 0.0]])


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")  # dim=None: torch's deprecated choice, dim 0 here
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_along_any_axis_of_a_3d_input_matches_torch(name, dim):
    x = _inputs(np.float64, (3, 4, 5), seed=2)
    expected = getattr(torch.nn, {"softmax": "Softmax", "log_softmax": "LogSoftmax"}[name])(dim)(torch.tensor(x))
    np.testing.assert_allclose(getattr(F, name)(x, dim), expected.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name, expected", [("softmax", 1.0), ("log_softmax", 0.0)])
def test_softmax_of_a_0d_input_is_a_one_element_distribution(name, expected):
    """As torch: a 0-d input along dim 0 (or -1, or None) gives probability 1 (log-probability 0)."""
    for dim in (None, 0, -1):
        assert getattr(F, name)(np.array(3.5), dim) == expected
        assert getattr(torch, name)(torch.tensor(3.5), 0 if dim is None else dim).item() == expected
    with pytest.raises(ValueError, match="dim 1 is out of range for an input with 0 dimensions"):
        getattr(F, name)(np.array(3.5), 1)


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_integer_input_is_rejected(name, make, make_torch):
    with pytest.raises(TypeError, match="must have dtype float32 or float64, got int64"):
        make()(np.arange(6).reshape(2, 3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        A.GELU(approximate="erf")
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        A.Softmax(dim=2)(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        A.ELU()([1.0, 2.0])
