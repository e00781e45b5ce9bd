"""LayerNorm against torch.nn.LayerNorm: any trailing shape, the affine options, gradients, bad input."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import LayerNorm

DTYPES = [np.float64, np.float32]


def twins(normalized_shape, dtype=np.float64, **kwargs):
    return (LayerNorm(normalized_shape, dtype=dtype, **kwargs),
            torch.nn.LayerNorm(normalized_shape, dtype=torch_dtype(dtype), **kwargs))


def randomise_affine(twin, rng):
    """Non-trivial gamma and beta (torch starts at 1 and 0), so their gradients matter."""
    with torch.no_grad():
        for param in twin.parameters():
            param.copy_(torch.tensor(rng.uniform(0.5, 2.0, tuple(param.shape)) * rng.choice([-1, 1])))


# batch dimensions (possibly none) and the normalised trailing dimensions
shapes = st.tuples(st.lists(st.integers(1, 4), max_size=3), st.lists(st.integers(1, 5), min_size=1, max_size=2))


def rows(rng, batch, normalized, scale=1.0):
    """Inputs whose rows have spread ~scale and mean within a few spreads of 0.

    Normalising a row whose mean is many spreads away from 0 cancels digits in x - mu (a
    float32 row 1 + 0.01 z keeps ~5 of its 7): both sides then lose them, differently, and
    agree only to that conditioning. Each row is drawn standardised, then spread and offset
    by at most a few units, so the comparison measures rounding, not the input's conditioning.
    """
    z = rng.standard_normal((*batch, int(np.prod(normalized))))
    z -= z.mean(axis=-1, keepdims=True)
    std = z.std(axis=-1, keepdims=True)
    z /= np.where(std > 0, std, 1.0)
    # a row of one value has no spread: any offset is "many spreads" away, so it stays at 0
    spread, offset = rng.uniform(0.5, 2.0, (*batch, 1)), rng.uniform(-3, 3, (*batch, 1)) * (std > 0)
    return (scale * (z * spread + offset)).reshape(*batch, *normalized)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@examples(40)
@given(shape=shapes, affine=st.booleans(), bias=st.booleans(), eps=st.sampled_from([1e-5, 1e-2]),
       as_int=st.booleans(), scale=st.sampled_from([1e-2, 1.0, 1e3]), seed=st.integers(0, 2**16))
def test_layernorm_matches_torch(dtype, shape, affine, bias, eps, as_int, scale, seed):
    batch, normalized = shape
    if dtype == np.float32:
        # dx = r (g_hat - ...) with r = 1/sqrt(var + eps): its float32 rounding grows with r, past the
        # absolute atol 1e-5 that MODULE sets for O(1) values once r ~ 100 (both sides then miss float64's
        # dx by ~1e-4, measured). Keep r small: spread >= 0.5, and for a row of one value (var = 0,
        # r = 1/sqrt(eps) = 316 at eps 1e-5) the larger eps.
        scale = max(scale, 1.0)
        eps = 1e-2 if np.prod(normalized) == 1 else eps
    normalized_shape = normalized[0] if as_int and len(normalized) == 1 else tuple(normalized)
    rng = np.random.default_rng(seed)
    scratch, twin = twins(normalized_shape, dtype, eps=eps, elementwise_affine=affine, bias=bias)
    randomise_affine(twin, rng)
    x = rows(rng, batch, normalized, scale).astype(dtype)
    check_module(scratch, twin, x, seed=seed).assert_passed()


@examples(30)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_layernorm_matches_torch_on_plain_normal_rows_in_float64(shape, seed):
    """Unconditioned draws (rows of 2 close values included): float64 has the digits to spare."""
    batch, normalized = shape
    rng = np.random.default_rng(seed)
    scratch, twin = twins(tuple(normalized), np.float64)
    randomise_affine(twin, rng)
    x = rng.standard_normal((*batch, *normalized)) * 2 + 1
    check_module(scratch, twin, x, seed=seed).assert_passed()


@examples(30)
@given(shape=shapes, eps=st.sampled_from([1e-5, 1e-1]), seed=st.integers(0, 2**16))
def test_rows_have_zero_mean_and_unit_variance_before_the_affine_part(shape, eps, seed):
    """x_hat = (y - beta) / gamma has, per row, mean 0 and variance var / (var + eps), within eps / var of 1."""
    batch, normalized = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, *normalized)) * rng.uniform(0.1, 10) + rng.uniform(-5, 5)
    layer = LayerNorm(tuple(normalized), eps=eps, dtype=np.float64)
    layer.weight.data[...] = rng.uniform(0.5, 2.0, layer.weight.shape) * rng.choice([-1, 1], layer.weight.shape)
    layer.bias.data[...] = rng.standard_normal(layer.bias.shape)
    x_hat = ((layer(x) - layer.bias.data) / layer.weight.data).reshape(*batch, -1)
    var = x.reshape(*batch, -1).var(axis=-1)
    np.testing.assert_allclose(x_hat.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(x_hat.var(axis=-1), var / (var + eps), rtol=1e-10, atol=1e-14)
    assert np.all(np.abs(x_hat.var(axis=-1) - 1) <= eps / np.maximum(var, eps) + 1e-12)


@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("normalized_shape", [4, (3, 4)])
def test_layernorm_gradcheck(affine, bias, normalized_shape):
    rng = np.random.default_rng(1)
    layer = LayerNorm(normalized_shape, elementwise_affine=affine, bias=bias, dtype=np.float64)
    for param in layer.parameters():
        param.data[...] = rng.uniform(0.5, 2.0, param.shape)
    x = rng.standard_normal((2, 3, 4)) * 2 + 1
    assert gradcheck(layer, x) == []


def test_gradcheck_sees_the_paths_through_mean_and_variance():
    """Dropping the path through var (the x_hat mean(g_hat x_hat) term) must fail the check."""
    layer = LayerNorm(5, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((3, 5))

    def backward_without_var_path(grad_output):
        g_hat = grad_output * layer.weight.data
        return (g_hat - g_hat.mean(axis=-1, keepdims=True)) * layer._inv_std
    layer.backward = backward_without_var_path
    assert gradcheck(layer, x) != []


def test_eval_and_train_compute_the_same():
    layer = LayerNorm(3, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((4, 3))
    np.testing.assert_array_equal(layer(x), layer.eval()(x))


def test_state_dict_keys_defaults_and_repr_match_torch():
    for kwargs in ({}, {"bias": False}, {"elementwise_affine": False}, {"elementwise_affine": False, "bias": False}):
        scratch, twin = twins((2, 3), np.float32, **kwargs)
        assert list(scratch.state_dict()) == list(twin.state_dict()), kwargs
        for name, value in twin.state_dict().items():
            np.testing.assert_array_equal(scratch.state_dict()[name], value.numpy())
            assert scratch.state_dict()[name].dtype == np.float32
        assert repr(scratch) == repr(twin)
        assert scratch.normalized_shape == twin.normalized_shape == (2, 3)
    assert LayerNorm(4).normalized_shape == torch.nn.LayerNorm(4).normalized_shape == (4,)
    assert LayerNorm(4).eps == torch.nn.LayerNorm(4).eps == 1e-5


# -- bad input --------------------------------------------------------------------------------


def test_bad_input_names_the_shapes():
    layer = LayerNorm((3, 4), dtype=np.float64)
    with pytest.raises(ValueError,
                       match=r"LayerNorm\(\(3, 4\)\) expected an input of shape \(\*, 3, 4\), got \(2, 4, 3\)"):
        layer(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"expected an input of shape \(\*, 3, 4\), got \(4,\)"):
        layer(np.zeros(4))
    with pytest.raises(TypeError, match=r"has dtype float32 but the parameters are float64"):
        layer(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"LayerNorm input must have dtype float32 or float64, got int64"):
        layer(np.zeros((3, 4), dtype=np.int64))
    without_parameters = LayerNorm(4, elementwise_affine=False)
    assert without_parameters(np.zeros((2, 4))).shape == (2, 4)  # any float dtype: no parameters to match


@pytest.mark.parametrize("value", [0, -2, 2.5, True, (), (3, 0), "4"])
def test_bad_normalized_shape(value):
    with pytest.raises(ValueError, match="positive integer or a non-empty tuple"):
        LayerNorm(value)


def test_backward_checks_grad_output():
    """A (1, D) grad_output against a (4, D) output used to broadcast into a wrong dgamma."""
    layer = LayerNorm(5, dtype=np.float64)
    with pytest.raises(RuntimeError, match="LayerNorm.backward called before forward: call forward first"):
        layer.backward(np.ones((4, 5)))
    layer(np.random.default_rng(0).standard_normal((4, 5)))
    for bad in [(1, 5), (4, 1), (5,), (2, 4, 5)]:
        with pytest.raises(ValueError, match=r"LayerNorm.backward expected grad_output of the output's shape "
                                             rf"\(4, 5\), got {re.escape(str(bad))}"):
            layer.backward(np.ones(bad))
    assert layer.weight.grad is None and layer.bias.grad is None
    assert layer.backward(np.ones((4, 5))).shape == (4, 5)
