"""GroupNorm against torch: any (N, C, *) input, the affine options, gradients, refusals; and what it
equals at its two extremes (G = C: InstanceNorm with affine; G = 1: LayerNorm over (C, *))."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from parity.tolerances import Tolerance
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.normalization import GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm

DTYPES = [np.float64, np.float32]


def twins(num_groups, num_channels, dtype=np.float64, **kwargs):
    return (GroupNorm(num_groups, num_channels, dtype=dtype, **kwargs),
            torch.nn.GroupNorm(num_groups, num_channels, dtype=torch_dtype(dtype), **kwargs))


def randomise_affine(twin, rng):
    with torch.no_grad():
        for param in twin.parameters():
            param.copy_(torch.tensor(rng.uniform(0.5, 2.0, tuple(param.shape)) * rng.choice([-1, 1])))


def groups(rng, shape, num_groups):
    """Each (n, group)'s values drawn standardised, then spread by 0.5..2 and offset by -3..3 (the
    comparison measures rounding, not the conditioning of x - mu; see tests/test_layernorm.py)."""
    z = rng.standard_normal((shape[0], num_groups, math.prod(shape[1:]) // num_groups))
    z -= z.mean(axis=2, keepdims=True)
    z /= z.std(axis=2, keepdims=True)
    z = z * rng.uniform(0.5, 2.0, (shape[0], num_groups, 1)) + rng.uniform(-3, 3, (shape[0], num_groups, 1))
    return z.reshape(shape)


@st.composite
def configs(draw):
    """(num_groups, input shape) with at least 2 values per group."""
    num_groups, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    positions = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    if per_group * math.prod(positions) == 1:
        positions += (2,)
    return num_groups, (draw(st.integers(0, 3)), num_groups * per_group, *positions)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@examples(40)
@given(config=configs(), affine=st.booleans(), bias=st.booleans(), eps=st.sampled_from([1e-5, 1e-2]),
       training=st.booleans(), seed=st.integers(0, 2**16))
def test_group_norm_matches_torch(dtype, config, affine, bias, eps, training, seed):
    num_groups, shape = config
    rng = np.random.default_rng(seed)
    scratch, twin = twins(num_groups, shape[1], dtype, eps=eps, affine=affine, bias=bias)
    randomise_affine(twin, rng)
    twin.train(training)
    check_module(scratch, twin, groups(rng, shape, num_groups).astype(dtype), seed=seed).assert_passed()


@examples(15)
@given(n=st.integers(1, 3), c=st.integers(1, 4), positions=st.lists(st.integers(2, 4), min_size=1, max_size=2),
       seed=st.integers(0, 2**16))
def test_one_channel_per_group_is_instance_norm_with_affine(n, c, positions, seed):
    """GroupNorm(C, C) and InstanceNorm(C, affine=True): the same outputs, input and parameter gradients."""
    rng = np.random.default_rng(seed)
    group = GroupNorm(c, c, dtype=np.float64)
    instance = (InstanceNorm1d if len(positions) == 1 else InstanceNorm2d)(c, affine=True, dtype=np.float64)
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.standard_normal(c)
    for layer in (group, instance):
        layer.weight.data[:], layer.bias.data[:] = gamma, beta
    x = rng.standard_normal((n, c, *positions)) * 2 + 1
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(group(x), instance(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(group.backward(g), instance.backward(g), rtol=1e-12, atol=1e-12)
    for a, b in zip(group.parameters(), instance.parameters(), strict=True):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-12)


@examples(15)
@given(n=st.integers(1, 3), c=st.integers(1, 4), positions=st.lists(st.integers(1, 3), max_size=2),
       seed=st.integers(0, 2**16))
def test_one_group_is_layer_norm_over_channels_and_positions(n, c, positions, seed):
    """GroupNorm(1, C) without affine and LayerNorm((C, *)) without affine: the same function."""
    if c * math.prod(positions) == 1:
        c = 2
    rng = np.random.default_rng(seed)
    group = GroupNorm(1, c, affine=False, dtype=np.float64)
    layer = LayerNorm((c, *positions), elementwise_affine=False, dtype=np.float64)
    x = rng.standard_normal((n, c, *positions)) * 2 + 1
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(group(x), layer(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(group.backward(g), layer.backward(g), rtol=1e-12, atol=1e-12)


@examples(15)
@given(config=configs(), seed=st.integers(0, 2**16))
def test_each_group_has_zero_mean_and_unit_variance(config, seed):
    num_groups, shape = config
    shape = (max(shape[0], 1), *shape[1:])
    rng = np.random.default_rng(seed)
    y = GroupNorm(num_groups, shape[1], eps=0.0, affine=False, dtype=np.float64)(rng.standard_normal(shape) * 5 + 2)
    rows = y.reshape(shape[0], num_groups, -1)
    np.testing.assert_allclose(rows.mean(axis=2), 0.0, atol=1e-12)
    np.testing.assert_allclose(rows.var(axis=2), 1.0, rtol=1e-10)


@pytest.mark.parametrize("num_groups,shape", [(2, (2, 4, 3)), (1, (3, 2)), (3, (2, 3, 2, 2)), (2, (1, 4, 1, 2, 1))])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_gradcheck(num_groups, shape, affine):
    rng = np.random.default_rng(9)
    layer = GroupNorm(num_groups, shape[1], affine=affine, dtype=np.float64)
    for param in layer.parameters():
        param.data[:] = rng.uniform(0.5, 2.0, param.shape)
    assert gradcheck(layer, rng.standard_normal(shape) * 2 + 1) == []


def test_gradcheck_sees_the_path_through_the_group_statistics():
    """Normalising per channel instead of per group in backward must fail the check."""
    layer = GroupNorm(2, 4, dtype=np.float64)
    x = np.random.default_rng(10).standard_normal((2, 4, 3))
    layer.backward = lambda g: (g * layer.weight.data[:, None]) * layer._inv_std.repeat(2, axis=1)
    assert gradcheck(layer, x) != []


def test_state_dict_keys_defaults_and_repr_match_torch():
    for kwargs in ({}, {"bias": False}, {"affine": False}, {"eps": 1e-3}):
        scratch, twin = twins(2, 6, np.float32, **kwargs)
        assert list(scratch.state_dict()) == list(twin.state_dict()), kwargs
        for key, value in twin.state_dict().items():
            np.testing.assert_array_equal(scratch.state_dict()[key], value.numpy())
        assert repr(scratch) == repr(twin)


# -- edge cases and refusals, as torch ----------------------------------------------------------


def test_empty_batch_and_one_value_groups_like_torch():
    rng = np.random.default_rng(11)
    scratch, twin = twins(2, 4)
    randomise_affine(twin, rng)
    check_module(scratch, twin, np.zeros((0, 4, 3))).assert_passed()
    # one value per group but two samples: torch allows it; x_hat = 0, y = beta
    check_module(scratch, twin, rng.standard_normal((2, 4))).assert_passed()
    scratch, twin = twins(4, 4)
    randomise_affine(twin, rng)
    check_module(scratch, twin, rng.standard_normal((2, 4))).assert_passed()


def test_channels_are_free_without_affine_when_groups_divide_them():
    scratch, twin = twins(2, 4, affine=False)
    check_module(scratch, twin, np.random.default_rng(12).standard_normal((2, 6, 3))).assert_passed()
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        twin(torch.zeros(2, 5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\) expected an input \(N, C, \*\) with C divisible by 2, "
                                         r"got \(2, 5, 3\)"):
        scratch(np.zeros((2, 5, 3)))


@pytest.mark.parametrize("shape", [(2, 6), (2, 3, 5)])
def test_wrong_channels_are_refused(shape):
    scratch, twin = twins(2, 4)
    with pytest.raises(RuntimeError):
        twin(torch.zeros(shape, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\) expected an input \(N, C, \*\) with C = 4"):
        scratch(np.zeros(shape))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(4,), ()])
def test_fewer_than_2_dimensions_are_refused_as_a_rank_problem(shape, affine):
    scratch, twin = twins(2, 4, affine=affine)
    with pytest.raises(RuntimeError, match="Expected at least 2 dimensions"):
        twin(torch.zeros(shape, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\) expected an input \(N, C, \*\) with at least 2 "
                                         rf"dimensions, got a {len(shape)}-D input \({'4,' if shape else ''}\)$"):
        scratch(np.zeros(shape))


def test_one_value_in_all_is_refused_in_train_and_eval():
    for training in (True, False):
        scratch, twin = twins(1, 1)
        scratch.train(training), twin.train(training)
        with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
            twin(torch.zeros(1, 1, dtype=torch.float64))
        with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input \(1, 1\)"):
            scratch(np.zeros((1, 1)))


def test_groups_must_divide_channels():
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups \(3\)"):
        torch.nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match=r"^num_channels \(4\) must be divisible by num_groups \(3\)$"):
        GroupNorm(3, 4)


@pytest.mark.parametrize("num_groups,num_channels", [(0, 4), (-1, 4), (2, 0), (1.0, 4), (True, 4)])
def test_bad_counts(num_groups, num_channels):
    with pytest.raises(ValueError, match="positive integers num_groups and num_channels"):
        GroupNorm(num_groups, num_channels)


def test_dtype_is_checked():
    with pytest.raises(TypeError, match=r"GroupNorm input has dtype float32 but the parameters are float64"):
        GroupNorm(2, 4, dtype=np.float64)(np.zeros((2, 4), np.float32))
    assert GroupNorm(2, 4, affine=False, dtype=np.float64)(np.ones((2, 4), np.float32)).dtype == np.float32


# -- a large offset and a small spread: the conditioning of x - mu ------------------------------

# x = 1000 + 0.01 z: x - mu cancels about log10(1000 / 0.01) = 5 of float64's 16 digits, on both sides
# and differently (their sums run in different orders), so they agree to ~eps * cond = 2e-16 * 1e5 in
# x_hat, and 100x that in dx (times 1 / sqrt(var) = 100). The tolerance is 50x that bound; a one-pass
# variance E[x^2] - mu^2 cancels eps * 1e6 / 1e-4 ~ 1e-6 of var instead and fails it (tested below).
OFFSET, SPREAD = 1000.0, 0.01
CONDITIONED = Tolerance(atol=50 * np.finfo(np.float64).eps * OFFSET / SPREAD ** 2, rtol=1e-10)


def offset_groups(rng, shape):
    return OFFSET + SPREAD * rng.standard_normal(shape)


def exact_x_hat(x, num_groups):
    """x_hat per (n, group) in extended precision (numpy's longdouble), eps 1e-5 included."""
    rows = x.astype(np.longdouble).reshape(x.shape[0], num_groups, -1)
    mu = rows.mean(axis=2, keepdims=True)
    var = ((rows - mu) ** 2).mean(axis=2, keepdims=True)
    return ((rows - mu) / np.sqrt(var + np.longdouble(1e-5))).reshape(x.shape)


@pytest.mark.parametrize("num_groups,shape", [(2, (3, 4, 5, 5)), (1, (2, 3, 40)), (4, (2, 4, 7))])
def test_large_offset_small_spread_matches_torch_in_float64(num_groups, shape):
    rng = np.random.default_rng(21)
    scratch, twin = twins(num_groups, shape[1])
    randomise_affine(twin, rng)
    x = offset_groups(rng, shape)
    check_module(scratch, twin, x, tolerance=CONDITIONED).assert_passed()
    bare = GroupNorm(num_groups, shape[1], affine=False, dtype=np.float64)
    np.testing.assert_allclose(bare(x), exact_x_hat(x, num_groups).astype(np.float64), rtol=0,
                               atol=50 * np.finfo(np.float64).eps * OFFSET / SPREAD)


def test_the_conditioned_tolerance_fails_a_one_pass_variance(monkeypatch):
    import scratchnet.nn.normalization as normalization

    def one_pass(x, axes):
        mu = x.mean(axis=axes, keepdims=True)
        return mu, (x * x).mean(axis=axes, keepdims=True) - mu * mu  # E[x^2] - mu^2: cancels ~10 digits

    monkeypatch.setattr(normalization, "mean_and_var", one_pass)
    scratch, twin = twins(2, 4)
    report = check_module(scratch, twin, offset_groups(np.random.default_rng(21), (3, 4, 5, 5)), tolerance=CONDITIONED)
    assert not report.passed


def test_backward_checks_grad_output():
    layer = GroupNorm(2, 4, dtype=np.float64)
    with pytest.raises(RuntimeError, match="GroupNorm.backward called before forward"):
        layer.backward(np.ones((2, 4, 3)))
    layer(np.random.default_rng(0).standard_normal((2, 4, 3)))
    with pytest.raises(ValueError, match=r"GroupNorm.backward expected grad_output of the output's shape \(2, 4, 3\), "
                                         r"got \(1, 4, 3\)"):
        layer.backward(np.ones((1, 4, 3)))  # would broadcast into a wrong dgamma
    assert layer.weight.grad is None  # refused before anything accumulated
