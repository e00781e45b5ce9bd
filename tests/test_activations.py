"""Activations: parity with torch.nn (float64 and float32), gradient checks, erf, and their properties."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hypothesis_profiles import examples
import scratchnet.nn as snn
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import functional as F

# (id, scratchnet module, torch twin): every activation with default and non-default arguments.
ACTIVATIONS = [
    ("ReLU", lambda: snn.ReLU(), lambda: torch.nn.ReLU()),
    ("LeakyReLU", lambda: snn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    ("LeakyReLU(0.2)", lambda: snn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    ("ELU", lambda: snn.ELU(), lambda: torch.nn.ELU()),
    ("ELU(0.5)", lambda: snn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    ("GELU", lambda: snn.GELU(), lambda: torch.nn.GELU()),
    ("GELU(tanh)", lambda: snn.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    ("SiLU", lambda: snn.SiLU(), lambda: torch.nn.SiLU()),
    ("Softplus", lambda: snn.Softplus(), lambda: torch.nn.Softplus()),
    ("Softplus(2,3)", lambda: snn.Softplus(beta=2.0, threshold=3.0), lambda: torch.nn.Softplus(beta=2.0, threshold=3.0)),
    ("Sigmoid", lambda: snn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    ("Tanh", lambda: snn.Tanh(), lambda: torch.nn.Tanh()),
    ("Softmax(1)", lambda: snn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    ("Softmax(0)", lambda: snn.Softmax(dim=0), lambda: torch.nn.Softmax(dim=0)),
    ("LogSoftmax(1)", lambda: snn.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1)),
    ("LogSoftmax(-1)", lambda: snn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
]
IDS = [name for name, _, _ in ACTIVATIONS]


def _inputs(dtype, shape=(6, 5), scale=4.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_parity(name, make, make_torch, dtype):
    twin = make_torch().to(torch.float64 if dtype == np.float64 else torch.float32)
    check_module(make(), twin, _inputs(dtype)).assert_passed()


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_parity_extreme_inputs(name, make, make_torch):
    # Large finite inputs stay finite and agree with torch (overflow-prone exp, tails of erf), and inputs exactly
    # at Softplus's thresholds (20 for beta=1; 1.5 for beta=2, threshold=3), where torch still takes the log1p branch.
    x = np.array([[-800.0, -40.0, -1e-8, 0.0, 1e-8, 1.5, 20.0, 40.0, 800.0]])
    check_module(make(), make_torch().double(), x).assert_passed()


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_gradcheck(name, make, make_torch):
    # Inputs kept away from the kinks (ReLU's 0, Softplus(2, 3)'s threshold at 1.5) by construction.
    x = _inputs(np.float64, (4, 5), scale=1.0, seed=1)
    x = np.where(np.abs(x) < 0.05, 0.3, x)
    x = np.where(np.abs(x - 1.5) < 0.05, 1.2, x)
    assert gradcheck(make(), x) == []


@pytest.mark.parametrize("name,make,make_torch", ACTIVATIONS, ids=IDS)
def test_keeps_float32(name, make, make_torch):
    module = make()
    y = module(_inputs(np.float32))
    assert y.dtype == np.float32
    assert module.backward(np.ones_like(y)).dtype == np.float32


def test_reprs_and_defaults_match_torch():
    assert snn.LeakyReLU().negative_slope == torch.nn.LeakyReLU().negative_slope == 0.01
    assert snn.ELU().alpha == torch.nn.ELU().alpha == 1.0
    assert snn.GELU().approximate == torch.nn.GELU().approximate == "none"
    assert (snn.Softplus().beta, snn.Softplus().threshold) == (torch.nn.Softplus().beta, torch.nn.Softplus().threshold)
    assert repr(snn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"


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
    module = snn.Softplus(beta, threshold)
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
        snn.GELU(approximate="erf")
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        snn.Softmax(dim=2)(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        snn.ELU()([1.0, 2.0])
