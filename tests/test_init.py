"""scratchnet.nn.init against torch.nn.init: gains and fans exactly, distributions by Kolmogorov-Smirnov,
orthogonality, sparsity, the deterministic fills exactly, in-place semantics, seeding and refusals.

The statistical tests run at fixed seeds, so they are deterministic. Each draws 60,000 values on both
sides and compares them with a two-sample KS test against torch's own function (and, where the law is
closed-form, a one-sample KS test against it): a correct distribution must give p > P_ACCEPT, and the
same test against torch's distribution with one parameter off by 10% or more (a wrong std, bound, gain,
fan or nonlinearity) must give p < P_ACCEPT -- the negative control showing the test can tell them apart.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from hypothesis_profiles import examples

import scratchnet
from scratchnet.nn import init
from scratchnet.nn.module import Parameter

P_ACCEPT = 1e-3  # a correct law fails 1 time in 1000 seeds; a law 10% off fails to be rejected far more rarely
SHAPE = (300, 200)  # 60,000 values per side


def torch_error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 -- whatever torch raises is the expectation
        return type(error), str(error)
    raise AssertionError("torch accepted it")


# -- gains and fans ------------------------------------------------------------------------------------

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_gain_equals_torchs(nonlinearity):
    mine, theirs = init.calculate_gain(nonlinearity), torch.nn.init.calculate_gain(nonlinearity)
    assert mine == theirs and type(mine) is type(theirs)  # torch's linear gains are the int 1


@pytest.mark.parametrize("param", [None, 0, 0.2, 1, 3, -0.5, 1e-8])
def test_leaky_relu_gain_equals_torchs(param):
    assert init.calculate_gain("leaky_relu", param) == torch.nn.init.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize("nonlinearity, param", [("gelu", None), ("ReLU", None), ("leaky_relu", True),
                                                 ("leaky_relu", "0.1"), ("leaky_relu", np.float32(0.1)),
                                                 (None, None), (1, None), (["relu"], None)])
def test_gain_refusals_equal_torchs(nonlinearity, param):
    kind, message = torch_error(lambda: torch.nn.init.calculate_gain(nonlinearity, param))
    with pytest.raises(kind) as raised:
        init.calculate_gain(nonlinearity, param)
    assert str(raised.value) == message


@examples(25)
@given(shape=st.lists(st.integers(0, 6), min_size=2, max_size=5))
def test_fans_equal_torchs(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(np.empty(shape)) == expected
    assert init._calculate_fan_in_and_fan_out(Parameter(np.empty(shape))) == expected
    for mode in ("fan_in", "fan_out", "FAN_OUT"):
        assert init._calculate_correct_fan(np.empty(shape), mode) == torch.nn.init._calculate_correct_fan(
            torch.empty(shape), mode)


@pytest.mark.parametrize("call, torch_call", [
    (lambda: init._calculate_fan_in_and_fan_out(np.empty(5)),
     lambda: torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(5))),
    (lambda: init.xavier_uniform_(np.empty(())), lambda: torch.nn.init.xavier_uniform_(torch.empty(()))),
    (lambda: init.kaiming_normal_(np.empty((3, 4)), mode="fan_avg"),
     lambda: torch.nn.init.kaiming_normal_(torch.empty(3, 4), mode="fan_avg")),
    (lambda: init.kaiming_uniform_(np.empty((3, 4)), nonlinearity="gelu"),
     lambda: torch.nn.init.kaiming_uniform_(torch.empty(3, 4), nonlinearity="gelu")),
    (lambda: init.eye_(np.empty((2, 2, 2))), lambda: torch.nn.init.eye_(torch.empty(2, 2, 2))),
    (lambda: init.dirac_(np.empty((4, 4))), lambda: torch.nn.init.dirac_(torch.empty(4, 4))),
    (lambda: init.dirac_(np.empty((4, 4, 3)), groups=3), lambda: torch.nn.init.dirac_(torch.empty(4, 4, 3), 3)),
    (lambda: init.orthogonal_(np.empty(4)), lambda: torch.nn.init.orthogonal_(torch.empty(4))),
    (lambda: init.sparse_(np.empty((2, 3, 4)), 0.1), lambda: torch.nn.init.sparse_(torch.empty(2, 3, 4), 0.1)),
    (lambda: init.xavier_normal_(np.empty((0, 0))), lambda: torch.nn.init.xavier_normal_(torch.empty(0, 0))),
])
def test_refusals_equal_torchs(call, torch_call):
    kind, message = torch_error(torch_call)
    with pytest.raises(kind) as raised:
        call()
    assert str(raised.value) == message


NAN, INF = float("nan"), float("inf")
# (function, positional args after the tensor, keyword args): NaN, inf and out-of-range numbers.
NON_FINITE_CALLS = [
    ("normal_", (), {"std": NAN}), ("normal_", (), {"std": -1}), ("normal_", (), {"std": -0.5}),
    ("normal_", (), {"std": INF}), ("normal_", (), {"mean": NAN}), ("normal_", (), {"mean": INF}),
    ("uniform_", (), {"a": NAN}), ("uniform_", (), {"b": NAN}), ("uniform_", (), {"a": -INF}),
    ("uniform_", (), {"b": INF}), ("uniform_", (), {"a": -1e308, "b": 1e308}), ("uniform_", (), {"a": -1e39}),
    ("uniform_", (), {"a": -3e38, "b": 3e38}), ("uniform_", (), {"a": -4e4, "b": 4e4}),
    ("uniform_", (), {"a": 2.5, "b": 1}),
    ("trunc_normal_", (), {"a": NAN}), ("trunc_normal_", (), {"b": NAN}), ("trunc_normal_", (), {"a": 2, "b": 1}),
    ("trunc_normal_", (), {"a": -INF}), ("trunc_normal_", (), {"b": INF}),
    ("trunc_normal_", (), {"a": -INF, "b": INF}),
    ("trunc_normal_", (), {"a": -INF, "b": -1e300}), ("trunc_normal_", (), {"std": NAN}),
    ("trunc_normal_", (), {"std": 0}), ("trunc_normal_", (), {"std": -1}), ("trunc_normal_", (), {"mean": NAN}),
    ("xavier_uniform_", (), {"gain": NAN}), ("xavier_uniform_", (), {"gain": INF}),
    ("xavier_uniform_", (), {"gain": -1}),
    ("xavier_normal_", (), {"gain": NAN}), ("xavier_normal_", (), {"gain": -1}), ("xavier_normal_", (), {"gain": INF}),
    ("kaiming_uniform_", (), {"a": NAN}), ("kaiming_normal_", (), {"a": NAN}), ("kaiming_normal_", (), {"a": INF}),
    ("sparse_", (NAN,), {}), ("sparse_", (2.0,), {}), ("sparse_", (-1.0,), {}), ("sparse_", (0.5,), {"std": NAN}),
    ("sparse_", (0.5,), {"std": -1}), ("orthogonal_", (), {"gain": NAN}),
]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name, args, kwargs", NON_FINITE_CALLS, ids=[f"{n}{a}{k}" for n, a, k in NON_FINITE_CALLS])
def test_non_finite_and_out_of_range_arguments_as_torch(name, args, kwargs, dtype):
    """torch is the oracle: where it refuses, the same message (its RuntimeErrors as ValueErrors) before
    anything is filled; where it accepts (a NaN mean, an infinite std...), no error here either."""
    array = np.full((4, 3), 0.5, dtype)
    warnings.simplefilter("ignore")  # trunc_normal_'s far-mean warning; pytest restores the filters
    try:
        getattr(torch.nn.init, name)(torch.empty(4, 3, dtype=getattr(torch, dtype)), *args, **kwargs)
    except NotImplementedError:  # torch's CPU QR has no float16 kernel: nothing to compare
        assert (name, dtype) == ("orthogonal_", "float16")
    except Exception as error:  # noqa: BLE001 -- whatever torch raises is the expectation
        kind = ValueError if isinstance(error, RuntimeError) else type(error)
        with pytest.raises(kind) as raised:
            getattr(init, name)(array, *args, **kwargs)
        assert str(raised.value) == str(error)
        np.testing.assert_array_equal(array, 0.5)  # refused before anything changed
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            getattr(init, name)(array, *args, **kwargs)


def test_refusals_torch_raises_as_runtime_errors_are_value_errors_with_its_message():
    with pytest.raises(ValueError, match=r"uniform_ expects to return a \[from, to\) range, but found from=1 > to=0"):
        init.uniform_(np.empty(3), 1, 0)
    with pytest.raises(ValueError, match="normal expects std >= 0.0, but found std -1"):
        init.normal_(np.empty(3), 0, -1)
    with pytest.raises(TypeError, match="floating-point array, got dtype int64"):
        init.uniform_(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="Parameter or a numpy.ndarray, got list"):
        init.zeros_([0.0, 1.0])
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator"):
        init.normal_(np.empty(3), generator=np.random.RandomState(0))


# -- distributions -----------------------------------------------------------------------------------------

# (id, scratchnet call, torch call, torch call with one parameter 10% off, closed-form law or None)
gain_tanh = 5.0 / 3
xavier_bound = gain_tanh * math.sqrt(6 / (200 + 300))
DISTRIBUTIONS = [
    ("uniform", lambda w: init.uniform_(w, -0.5, 2.0), lambda w: torch.nn.init.uniform_(w, -0.5, 2.0),
     lambda w: torch.nn.init.uniform_(w, -0.5, 2.25), stats.uniform(-0.5, 2.5)),
    ("normal", lambda w: init.normal_(w, 1.0, 0.5), lambda w: torch.nn.init.normal_(w, 1.0, 0.5),
     lambda w: torch.nn.init.normal_(w, 1.0, 0.55), stats.norm(1.0, 0.5)),
    ("trunc_normal", lambda w: init.trunc_normal_(w), lambda w: torch.nn.init.trunc_normal_(w),
     lambda w: torch.nn.init.trunc_normal_(w, std=1.1), stats.truncnorm(-2, 2)),
    ("trunc_normal-shifted", lambda w: init.trunc_normal_(w, 1.0, 0.5, 0.0, 1.5),
     lambda w: torch.nn.init.trunc_normal_(w, 1.0, 0.5, 0.0, 1.5),
     lambda w: torch.nn.init.trunc_normal_(w, 1.0, 0.55, 0.0, 1.5), stats.truncnorm(-2, 1, loc=1.0, scale=0.5)),
    # mass in [2, 3] is 0.021 < 0.3: the uniform-proposal rejection branch
    ("trunc_normal-tail", lambda w: init.trunc_normal_(w, 0.0, 1.0, 2.0, 3.0),
     lambda w: torch.nn.init.trunc_normal_(w, 0.0, 1.0, 2.0, 3.0),
     lambda w: torch.nn.init.trunc_normal_(w, 0.0, 1.1, 2.0, 3.0), stats.truncnorm(2, 3)),
    ("xavier_uniform", lambda w: init.xavier_uniform_(w, gain_tanh),
     lambda w: torch.nn.init.xavier_uniform_(w, gain_tanh),
     lambda w: torch.nn.init.xavier_uniform_(w, 1.1 * gain_tanh), stats.uniform(-xavier_bound, 2 * xavier_bound)),
    ("xavier_normal", lambda w: init.xavier_normal_(w), lambda w: torch.nn.init.xavier_normal_(w),
     lambda w: torch.nn.init.xavier_normal_(w, 1.1), stats.norm(0, math.sqrt(2 / 500))),
    ("kaiming_uniform-leaky", lambda w: init.kaiming_uniform_(w, a=0.2),
     lambda w: torch.nn.init.kaiming_uniform_(w, a=0.2),
     lambda w: torch.nn.init.kaiming_uniform_(w, a=0.2, mode="fan_out"),  # fan 300 instead of 200: bound 18% off
     stats.uniform(-math.sqrt(2 / 1.04 * 3 / 200), 2 * math.sqrt(2 / 1.04 * 3 / 200))),
    ("kaiming_uniform-fan_out-relu", lambda w: init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu"),
     lambda w: torch.nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu"),
     lambda w: torch.nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="leaky_relu", a=0.5),
     stats.uniform(-math.sqrt(6 / 300), 2 * math.sqrt(6 / 300))),
    ("kaiming_normal", lambda w: init.kaiming_normal_(w), lambda w: torch.nn.init.kaiming_normal_(w),
     lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="selu"), stats.norm(0, math.sqrt(2 / 200))),
    ("kaiming_normal-fan_out-tanh", lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="tanh"),
     lambda w: torch.nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="tanh"),
     lambda w: torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="tanh"),
     stats.norm(0, gain_tanh / math.sqrt(300))),
    ("orthogonal", lambda w: init.orthogonal_(w, 2.0), lambda w: torch.nn.init.orthogonal_(w, 2.0),
     lambda w: torch.nn.init.orthogonal_(w, 2.2), None),
    ("sparse", lambda w: init.sparse_(w, 0.25, 0.1), lambda w: torch.nn.init.sparse_(w, 0.25, 0.1),
     lambda w: torch.nn.init.sparse_(w, 0.25, 0.11), None),
]


@pytest.mark.parametrize("name, fill, fill_torch, fill_torch_wrong, law", DISTRIBUTIONS,
                         ids=[case[0] for case in DISTRIBUTIONS])
def test_distribution_matches_torchs(name, fill, fill_torch, fill_torch_wrong, law):
    scratchnet.manual_seed(0)
    torch.manual_seed(0)
    ours = fill(np.empty(SHAPE)).ravel()
    theirs = fill_torch(torch.empty(SHAPE, dtype=torch.float64)).numpy().ravel()
    wrong = fill_torch_wrong(torch.empty(SHAPE, dtype=torch.float64)).numpy().ravel()
    assert stats.ks_2samp(ours, theirs).pvalue > P_ACCEPT
    assert stats.ks_2samp(ours, wrong).pvalue < P_ACCEPT  # the negative control: a 10%-off law is told apart
    if law is not None:
        assert stats.kstest(ours, law.cdf).pvalue > P_ACCEPT
        assert stats.kstest(wrong, law.cdf).pvalue < P_ACCEPT


def test_the_ks_test_rejects_a_uniform_for_a_normal_of_the_same_std():
    """A law of the right mean and variance but the wrong shape is told apart too."""
    scratchnet.manual_seed(0)
    std = math.sqrt(2 / 500)
    uniform = init.uniform_(np.empty(SHAPE), -math.sqrt(3) * std, math.sqrt(3) * std).ravel()
    assert stats.kstest(uniform, stats.norm(0, std).cdf).pvalue < P_ACCEPT


# -- structure ---------------------------------------------------------------------------------------------


@examples(25)
@given(shape=st.lists(st.integers(1, 7), min_size=2, max_size=4), gain=st.floats(0.1, 3), seed=st.integers(0, 99))
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain, seed):
    w = init.orthogonal_(np.empty(shape), gain, generator=np.random.default_rng(seed))
    q = w.reshape(shape[0], -1) / gain
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T  # Q^T Q = I (tall) or Q Q^T = I (wide)
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)


@examples(25)
@given(rows=st.integers(1, 30), cols=st.integers(1, 10), sparsity=st.floats(0, 1), seed=st.integers(0, 99))
def test_sparse_zeros_exactly_ceil_sparsity_rows_of_every_column(rows, cols, sparsity, seed):
    w = init.sparse_(np.empty((rows, cols)), sparsity, generator=np.random.default_rng(seed))
    expected = math.ceil(sparsity * rows)
    assert ((w == 0).sum(axis=0) == expected).all()  # the normal draws are never exactly 0
    assert torch.nn.init.sparse_(torch.empty(rows, cols), sparsity).eq(0).sum(0).eq(expected).all()


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (0, 4)])
def test_eye_equals_torchs(shape):
    np.testing.assert_array_equal(init.eye_(np.full(shape, 7.0)), torch.nn.init.eye_(torch.empty(shape)).numpy())


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 2, 3, 3), 1), ((6, 4, 3, 2), 2), ((4, 3, 2, 3, 5), 1),
                                           ((6, 1, 5, 5), 3), ((2, 6, 4, 4), 2)])
def test_dirac_equals_torchs(shape, groups):
    ours = init.dirac_(np.full(shape, 7.0), groups)
    np.testing.assert_array_equal(ours, torch.nn.init.dirac_(torch.empty(shape), groups).numpy())


@pytest.mark.parametrize("fill, value", [(lambda w: init.constant_(w, 0.3), 0.3), (init.zeros_, 0.0),
                                         (init.ones_, 1.0)])
def test_constants_fill_every_value(fill, value):
    for dtype in (np.float32, np.float64):
        w = fill(np.empty((3, 2, 4), dtype))
        assert w.dtype == dtype
        np.testing.assert_array_equal(w, np.full((3, 2, 4), value, dtype))


# -- in place, seeding --------------------------------------------------------------------------------------

FILLS = [init.uniform_, init.normal_, init.trunc_normal_, init.xavier_uniform_, init.xavier_normal_,
         init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_, lambda w, **kw: init.sparse_(w, 0.5, **kw)]


@pytest.mark.parametrize("fill", FILLS)
def test_fills_in_place_return_their_argument_and_keep_the_dtype(fill):
    param = Parameter(np.zeros((6, 4), np.float32))
    array = param.data
    assert fill(param) is param
    assert param.data is array and array.dtype == np.float32 and np.count_nonzero(array) > 0
    plain = np.zeros((6, 4))
    assert fill(plain) is plain and np.count_nonzero(plain) > 0


@pytest.mark.parametrize("fill", FILLS)
def test_fills_are_deterministic_for_a_seed_and_honour_a_generator(fill):
    scratchnet.manual_seed(5)
    first = fill(np.empty((6, 4)))
    scratchnet.manual_seed(5)
    np.testing.assert_array_equal(fill(np.empty((6, 4))), first)
    scratchnet.manual_seed(5)
    own = fill(np.empty((6, 4)), generator=np.random.default_rng(5))
    np.testing.assert_array_equal(fill(np.empty((6, 4))), first)  # the default generator was not drawn from
    np.testing.assert_array_equal(fill(np.empty((6, 4)), generator=np.random.default_rng(5)), own)


def test_warnings_as_torch():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(np.empty((0, 3)))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(np.empty((3, 0)))
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(np.empty(10), mean=5.0, a=-2, b=2)
    with pytest.warns(FutureWarning, match="`nn.init.xavier_uniform` is now deprecated in favor of "
                                           "`nn.init.xavier_uniform_`"):
        init.xavier_uniform(np.empty((3, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.trunc_normal_(np.empty(10), mean=1.0, a=-2, b=2)


def test_every_torch_init_function_exists():
    assert sorted(init.__all__) == sorted(torch.nn.init.__all__)
