"""Activations: parity with torch.nn (float64 and float32, extreme inputs, kinks, 0-d inputs), gradient checks,
erf, and their properties."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hypothesis_profiles import examples
import scratchnet.nn.activation as A
from parity import check_module, tolerances
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
# All but those to which torch refuses a 0-d input (GLU halves a dimension; a 0-d input has no dim 1): see
# test_glu_refuses_what_torch_refuses and test_softmax_of_a_0d_input_is_a_one_element_distribution.
REFUSE_0D = {"GLU", "GLU(0)", "Softmax(1)", "LogSoftmax(1)", "Softmin(1)"}
TAKE_0D = [entry for entry in ACTIVATIONS if entry[0] not in REFUSE_0D]
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


@pytest.mark.parametrize("name,make,make_torch", TAKE_0D, ids=[entry[0] for entry in TAKE_0D])
def test_parity_0d_input(name, make, make_torch, dtype):
    """A 0-d input gives a 0-d ndarray output and gradient (torch: 0-d tensors), on each side of a kink and on it."""
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


@pytest.mark.parametrize("name,make,make_torch", TAKE_0D, ids=[entry[0] for entry in TAKE_0D])
def test_gradcheck_0d(name, make, make_torch):
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


# -- functional forms -----------------------------------------------------------------------------

# (name, keyword arguments): scratchnet.nn.functional.<name> against torch.nn.functional.<name>.
FUNCTIONALS = [
    ("relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 0.5}), ("silu", {}), ("gelu", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}), ("sigmoid", {}), ("tanh", {}), ("logsigmoid", {}),
    ("relu6", {}), ("hardtanh", {"min_val": -2.0, "max_val": 3.0}), ("hardsigmoid", {}), ("hardswish", {}),
    ("mish", {}), ("selu", {}), ("celu", {"alpha": 0.5}), ("softsign", {}), ("tanhshrink", {}),
    ("softshrink", {"lambd": 1.5}), ("hardshrink", {"lambd": 1.5}), ("threshold", {"threshold": 1.0, "value": -3.0}),
    ("softmin", {"dim": 1}), ("softmax", {"dim": 0}), ("log_softmax", {"dim": 1}), ("glu", {"dim": 0}),
]


@pytest.mark.parametrize("name,kwargs", FUNCTIONALS, ids=[name for name, _ in FUNCTIONALS])
def test_functional_matches_torch(name, kwargs, dtype):
    row = np.array([800.0, -40.0, 2.5, -1e-8, *KINKS, 0.25, -5.0])
    x = np.stack([row, -row, row / 3, -row / 7]).astype(dtype)
    expected = getattr(torch.nn.functional, name)(torch.tensor(x), **kwargs).numpy()
    y = getattr(F, name)(x, **kwargs)
    assert y.dtype == dtype
    tolerance = tolerances.for_dtype(tolerances.MODULE, dtype)  # check_module's, for one function
    np.testing.assert_allclose(y, expected, rtol=tolerance.rtol, atol=tolerance.atol)
    if name != "glu":
        x0 = np.array(-0.75, dtype=dtype)
        dim_kwargs = {**kwargs, "dim": 0} if "dim" in kwargs else kwargs
        y0 = getattr(F, name)(x0, **dim_kwargs)
        assert type(y0) is np.ndarray and y0.shape == () and y0.dtype == dtype
        expected0 = getattr(torch.nn.functional, name)(torch.tensor(x0), **dim_kwargs).numpy()
        np.testing.assert_allclose(y0, expected0, rtol=tolerance.rtol, atol=tolerance.atol)


def test_functional_prelu_matches_torch():
    x = _inputs(np.float64, (3, 4, 2))
    for weight in (np.array([0.3]), np.array([0.1, -0.2, 0.5, 2.0]), np.array(0.3)):
        expected = torch.nn.functional.prelu(torch.tensor(x), torch.tensor(weight)).numpy()
        np.testing.assert_array_equal(F.prelu(x, weight), expected)
    np.testing.assert_array_equal(F.prelu(np.array(-2.0), np.array([0.3])), -0.6)


@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "ELU", "SiLU", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish",
                                  "SELU", "CELU", "Mish"])
def test_inplace_is_accepted_and_computes_out_of_place(name):
    """A deliberate difference: torch's inplace=True overwrites the input; here the input is never written."""
    x = _inputs(np.float64)
    before = x.copy()
    y = getattr(A, name)(inplace=True)(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(y, getattr(torch.nn, name)()(torch.tensor(before)).numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(F.threshold(x, 0.5, 2.0, inplace=True), np.where(x <= 0.5, 2.0, x))
    np.testing.assert_array_equal(x, before)


def test_hardtanh_deprecated_keywords_warn_like_torch():
    for make in (A.Hardtanh, torch.nn.Hardtanh):
        with pytest.warns(FutureWarning, match="`min_value` is deprecated and renamed to `min_val`"):
            module = make(min_value=-2.0)
        with pytest.warns(FutureWarning, match="`max_value` is deprecated and renamed to `max_val`"):
            module = make(max_value=4.0)
        assert (module.min_val, module.max_val) == (-1.0, 4.0)


# -- PReLU --------------------------------------------------------------------------------------

def _prelu_pair(num_parameters, dtype, seed=3):
    """PReLU(num_parameters) and its twin with the same random slopes, of both signs (torch's init is constant)."""
    twin = torch.nn.PReLU(num_parameters).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(np.random.default_rng(seed).uniform(-1, 1, num_parameters)))
    return A.PReLU(num_parameters, dtype=dtype), twin


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (2, 3, 4, 2)], ids=["(N,C)", "(N,C,L)", "(N,C,H,W)"])
def test_prelu_per_channel_parity(shape, dtype):
    x = _inputs(dtype, shape)
    x[0, 0, ...] = 0.0  # torch's choice at 0: slope a for the input, 0 for the weight's gradient
    check_module(*_prelu_pair(3, dtype), x).assert_passed()


def test_prelu_per_channel_gradcheck():
    module = A.PReLU(3, dtype=np.float64)
    module.weight.data[:] = [0.1, -0.4, 1.3]
    assert gradcheck(module, _away_from_kinks((2, 3, 2, 2), seed=4)) == []


@given(st.integers(1, 3), st.integers(1, 4), st.lists(st.integers(1, 3), max_size=2), st.integers(0, 2**16))
@examples(20)
def test_prelu_per_channel_is_one_prelu_per_channel(n, channels, rest, seed):
    """PReLU(C) on channel c is PReLU(1) with slope weight[c], in output, input gradient and slope gradient."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, channels, *rest))
    g = rng.standard_normal(x.shape)
    module = A.PReLU(channels, dtype=np.float64)
    module.weight.data[:] = rng.uniform(-1, 1, channels)
    y, dx = module(x), module.backward(g)
    for c in range(channels):
        single = A.PReLU(1, init=module.weight.data[c], dtype=np.float64)
        np.testing.assert_array_equal(single(x[:, c]), y[:, c])
        np.testing.assert_array_equal(single.backward(g[:, c]), dx[:, c])
        np.testing.assert_allclose(single.weight.grad, module.weight.grad[c:c + 1], rtol=1e-12, atol=1e-14)


def test_prelu_state_dict_init_and_accumulation_match_torch():
    module, twin = A.PReLU(4, init=0.1), torch.nn.PReLU(4, init=0.1)
    assert list(module.state_dict()) == list(twin.state_dict()) == ["weight"]
    assert module.weight.dtype == np.float32 and twin.weight.dtype == torch.float32
    np.testing.assert_array_equal(module.weight.data, twin.weight.detach().numpy())
    x = _inputs(np.float32, (3, 4))
    for _ in range(2):  # a second backward adds to .grad, as torch accumulates
        module(x)
        module.backward(np.ones_like(x))
        twin(torch.tensor(x)).sum().backward()
    np.testing.assert_allclose(module.weight.grad, twin.weight.grad.numpy(), rtol=1e-6)


# -- GLU ----------------------------------------------------------------------------------------

@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.data())
@examples(25)
def test_glu_halves_its_dim_into_a_gate(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape = list(shape)
    shape[dim] *= 2
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    module = A.GLU(dim)
    y = module(x)
    a, b = np.split(x, 2, axis=dim)
    assert y.shape == a.shape and y.shape[dim] == x.shape[dim] // 2
    np.testing.assert_array_equal(y, a * F.sigmoid(b))
    assert module.backward(np.ones_like(y)).shape == x.shape


def test_glu_refuses_what_torch_refuses():
    cases = [(np.zeros(3), -1, "must be even, got size 3"), (np.zeros((2, 5)), 1, "must be even, got size 5"),
             (np.array(1.0), -1, "does not support 0-d inputs"), (np.zeros((2, 2)), 2, "dim 2 is out of range")]
    for x, dim, message in cases:
        with pytest.raises(ValueError, match=message):
            A.GLU(dim)(x)
        with pytest.raises(ValueError, match=message):
            F.glu(x, dim)
        with pytest.raises((RuntimeError, IndexError)):
            torch.nn.GLU(dim)(torch.tensor(x))


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


@given(st.floats(0.5, 4.0), st.floats(1.0, 30.0),
       hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(0, 100)))
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


# Identities between the activations, each from its definition (not from our own output).
IDENTITIES = {
    "hardswish = x hardsigmoid": lambda x: (F.hardswish(x), x * F.hardsigmoid(x)),
    "relu6 = min(relu, 6)": lambda x: (F.relu6(x), np.minimum(F.relu(x), 6)),
    "selu = scale elu(alpha)": lambda x: (F.selu(x), 1.0507009873554804934193349852946
                                          * F.elu(x, 1.6732632423543772848170429916717)),
    "celu(x, a) = a celu(x / a, 1)": lambda x: (F.celu(x, 2.5), 2.5 * F.celu(x / 2.5)),
    "celu(x, 1) = elu(x, 1)": lambda x: (F.celu(x), F.elu(x)),
    "tanhshrink + tanh = x": lambda x: (F.tanhshrink(x) + np.tanh(x), x),
    "softshrink = x - clip(x)": lambda x: (F.softshrink(x, 0.7), x - np.clip(x, -0.7, 0.7)),
    "hardshrink = x where |x| > lambd": lambda x: (F.hardshrink(x, 0.7), x * (np.abs(x) > 0.7)),
    "logsigmoid = log sigmoid": lambda x: (F.logsigmoid(x), np.log(1 / (1 + np.exp(-x)))),
    "softsign in (-1, 1), odd": lambda x: (F.softsign(x), -F.softsign(-x)),
    "mish = x tanh log(1 + e^x)": lambda x: (F.mish(x), x * np.tanh(np.log1p(np.exp(x)))),
    "hardtanh = clip": lambda x: (F.hardtanh(x, -0.5, 2.0), np.minimum(np.maximum(x, -0.5), 2.0)),
    "threshold(0, 0) = relu": lambda x: (F.threshold(x, 0.0, 0.0), F.relu(x)),
}


@pytest.mark.parametrize("identity", IDENTITIES)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5), elements=st.floats(-30, 30)))
@examples(15)
def test_activation_identities(identity, x):
    mine, expected = IDENTITIES[identity](x)
    np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-14)


ELEMENTWISE = [(name, make) for name, make, _ in ACTIVATIONS
               if not name.startswith(("Softmax", "LogSoftmax", "Softmin", "GLU"))]


@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), hnp.array_shapes(min_dims=0, max_dims=4, max_side=4),
                  elements=st.floats(-1e4, 1e4, width=32)),
       st.sampled_from(ELEMENTWISE))
@examples(60)
def test_elementwise_keeps_shape_dtype_and_finiteness(x, entry):
    name, make = entry
    module = make().to(x.dtype)
    y = module(x)
    grad = module.backward(np.ones_like(x))
    for array in (y, grad):
        assert type(array) is np.ndarray and array.shape == x.shape and array.dtype == x.dtype, name
    assert np.isfinite(y).all() and np.isfinite(grad).all(), name


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite), st.integers(0, 1))
@examples(25)
def test_softmin_is_softmax_of_minus_x(x, dim):
    softmin, softmax = A.Softmin(dim), A.Softmax(dim)
    np.testing.assert_array_equal(softmin(x), softmax(-x))
    g = np.random.default_rng(0).standard_normal(x.shape)
    np.testing.assert_allclose(softmin.backward(g), -softmax.backward(g), rtol=1e-12, atol=1e-15)


def test_stable_at_huge_inputs():
    x = np.array([-1e4, 1e4])
    np.testing.assert_array_equal(F.logsigmoid(x), [-1e4, 0.0])
    np.testing.assert_array_equal(F.mish(x), [-0.0, 1e4])
    np.testing.assert_allclose(F.selu(x), [-1.0507009873554804934193349852946 * 1.6732632423543772848170429916717,
                                           1.0507009873554804934193349852946e4], rtol=1e-15)
    x = np.array([[-1e4, 1e4], [1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise"):  # no overflow or NaN on the way, not even in an unused branch
        for name, make, _ in ACTIVATIONS:
            module = make().double()
            assert np.isfinite(module(x)).all(), name
            assert np.isfinite(module.backward(np.ones_like(module(x)))).all(), name


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


def test_refusals_match_torch():
    """Each argument torch refuses gets one clear ValueError here (torch raises AssertionError or RuntimeError,
    some only when called; scratchnet refuses at construction)."""
    with pytest.raises(ValueError, match=r"max_val \(1.0\) must be greater than min_val \(1.0\)"):
        A.Hardtanh(1.0, 1.0)
    with pytest.raises(AssertionError, match="must be greater than min_val"):
        torch.nn.Hardtanh(1.0, 1.0)
    with pytest.raises(ValueError, match="must be greater than min_val"):
        A.Hardtanh(2.0, -1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(np.zeros(2), 2.0, 1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        torch.nn.functional.hardtanh(torch.zeros(2), 2.0, 1.0)
    for lambd in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="Softshrink lambd must be >= 0"):
            A.Softshrink(lambd)
        with pytest.raises(RuntimeError, match="lambda must be in range"):
            torch.nn.Softshrink(lambd)(torch.zeros(2))
    with pytest.raises(ValueError, match="CELU alpha cannot be 0"):
        A.CELU(0.0)
    with pytest.raises(ValueError, match="CELU alpha cannot be 0"):
        F.celu(np.zeros(2), 0.0)
    with pytest.raises(RuntimeError, match="alpha cannot be 0"):
        torch.nn.CELU(0.0)(torch.zeros(2))


def test_accepted_where_torch_accepts():
    # Hardshrink takes a negative lambd (then nothing is zeroed), CELU a negative alpha, PReLU zero parameters.
    x = _inputs(np.float64, (3, 4), scale=1.0)
    check_module(A.Hardshrink(-1.0), torch.nn.Hardshrink(-1.0), x).assert_passed()
    check_module(A.CELU(-2.0), torch.nn.CELU(-2.0), x).assert_passed()
    check_module(A.PReLU(0).double(), torch.nn.PReLU(0).double(), np.zeros((2, 0))).assert_passed()


def test_prelu_refuses_what_torch_refuses():
    cases = [((3,), r"channel dimension \(dim 1\) has size 1"),
             ((2, 4), r"has size 4: expected input of shape \(N, 3, \*\)"),
             ((), "0-d input, which has no channel dimension")]
    for shape, message in cases:
        with pytest.raises(ValueError, match=message):
            A.PReLU(3, dtype=np.float64)(np.zeros(shape))
        with pytest.raises(ValueError, match=message):
            F.prelu(np.zeros(shape), np.ones(3))
        with pytest.raises(RuntimeError):
            torch.nn.PReLU(3).double()(torch.zeros(shape, dtype=torch.float64))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="non-negative integer num_parameters"):
            A.PReLU(bad)
    with pytest.raises(TypeError, match="PReLU input has dtype float64 but the parameters are float32"):
        A.PReLU()(np.zeros(3))
    with pytest.raises(ValueError, match="scalar or 1-d weight"):
        F.prelu(np.zeros((2, 2)), np.ones((2, 1)))
