"""Gradient clipping against torch.nn.utils: the total norm for every norm_type, the clipped gradients, errors."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import tolerances
from parity.transfer import torch_dtype
from scratchnet.nn import Linear, Parameter, utils

# A total norm is one reduction per array and one over the arrays: a few ulps apart on the two
# sides, so float64 holds 1e-12 relative (tighter than MODULE's 1e-10); float32 uses MODULE's.
F64_RTOL = 1e-12
NORM_TYPES = [2.0, 1.0, math.inf, 3.0, 0.5, -math.inf, 0.0, -1.0]  # p < 0: torch allows it too


def _close(mine, theirs, dtype):
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(mine, theirs, rtol=F64_RTOL, atol=0)
    else:
        tolerance = tolerances.for_dtype(tolerances.MODULE, dtype)
        np.testing.assert_allclose(mine, theirs, rtol=tolerance.rtol, atol=tolerance.atol)


def _twin_parameters(rng, shapes, dtype, scale, without_grad=()):
    """Parameters with random gradients on both sides (the same values); ``without_grad`` positions get None."""
    mine, theirs = [], []
    for position, shape in enumerate(shapes):
        param, tensor = Parameter(np.zeros(shape, dtype=dtype)), torch.zeros(shape, dtype=torch_dtype(dtype))
        tensor.requires_grad_()
        if position not in without_grad:
            grad = np.asarray(rng.standard_normal(shape) * scale, dtype=dtype)  # an array also for shape ()
            param.grad, tensor.grad = grad, torch.tensor(grad)
        mine.append(param)
        theirs.append(tensor)
    return mine, theirs


parameter_shapes = st.lists(st.lists(st.integers(1, 5), max_size=3).map(tuple), min_size=1, max_size=5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("norm_type", NORM_TYPES)
@examples(25)
@given(shapes=parameter_shapes, scale=st.sampled_from([1e-3, 1.0, 1e3]), max_norm_ratio=st.floats(0.01, 3.0),
       seed=st.integers(0, 2**16))
def test_clip_grad_norm_matches_torch(dtype, norm_type, shapes, scale, max_norm_ratio, seed):
    rng = np.random.default_rng(seed)
    without_grad = {int(rng.integers(len(shapes)))} if len(shapes) > 1 else set()
    mine, theirs = _twin_parameters(rng, shapes, dtype, scale, without_grad)
    reference = torch.nn.utils.get_total_norm([t.grad for t in theirs if t.grad is not None], norm_type)
    max_norm = float(reference) * max_norm_ratio  # below and above the norm: clipped and left alone
    grad_arrays = [p.grad for p in mine]
    total_norm = utils.clip_grad_norm_(mine, max_norm, norm_type=norm_type)
    torch_total_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total_norm, np.ndarray) and total_norm.shape == () and total_norm.dtype == dtype
    _close(total_norm, torch_total_norm.numpy(), dtype)
    for param, tensor, before in zip(mine, theirs, grad_arrays, strict=True):
        assert param.grad is before  # in place, as torch's mul_
        if tensor.grad is None:
            assert param.grad is None
        else:
            _close(param.grad, tensor.grad.numpy(), dtype)


@examples(25)
@given(shapes=parameter_shapes, norm_type=st.sampled_from([2.0, 1.0, math.inf]), seed=st.integers(0, 2**16))
def test_the_total_norm_is_the_norm_of_all_gradients_as_one_vector(shapes, norm_type, seed):
    """|| (||g_1||, ||g_2||, ...) ||_p = || concat(g_1, g_2, ...) ||_p, and after clipping it is <= max_norm."""
    rng = np.random.default_rng(seed)
    mine, _ = _twin_parameters(rng, shapes, np.float64, 1.0)
    everything = np.concatenate([p.grad.ravel() for p in mine])
    total_norm = utils.clip_grad_norm_(mine, 0.5, norm_type=norm_type)
    np.testing.assert_allclose(total_norm, np.linalg.norm(everything, norm_type), rtol=F64_RTOL)
    clipped = np.concatenate([p.grad.ravel() for p in mine])
    assert np.linalg.norm(clipped, norm_type) <= 0.5 * (1 + 1e-12)
    if total_norm > 0.5:  # scaled, not clamped: the direction is kept
        np.testing.assert_allclose(clipped, everything * 0.5 / (total_norm + 1e-6), rtol=1e-15)


def test_small_gradients_are_left_unchanged():
    param = Parameter(np.zeros(3))
    param.grad = np.array([0.1, -0.2, 0.2])
    assert float(utils.clip_grad_norm_(param, max_norm=1.0)) == pytest.approx(0.3)  # one Parameter, as torch
    np.testing.assert_array_equal(param.grad, [0.1, -0.2, 0.2])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_error_if_nonfinite_refuses_and_changes_nothing(bad):
    mine, theirs = _twin_parameters(np.random.default_rng(0), [(3,), (2, 2)], np.float64, 1.0)
    mine[1].grad[0, 1] = bad
    theirs[1].grad[0, 1] = bad
    before = [p.grad.copy() for p in mine]
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 for gradients from `parameters` is non-finite"):
        utils.clip_grad_norm_(mine, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    for param, grad in zip(mine, before, strict=True):
        np.testing.assert_array_equal(param.grad, grad)
    # without the flag both scale by the non-finite coefficient (0 for inf, NaN for NaN), NaNs in the same places
    total_norm = utils.clip_grad_norm_(mine, 1.0)
    torch_total_norm = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total_norm, torch_total_norm.numpy())
    for param, tensor in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(param.grad, tensor.grad.numpy())


def test_parameters_from_a_model_a_generator_and_none():
    layer = Linear(3, 2, dtype=np.float64)
    assert float(utils.clip_grad_norm_(layer.parameters(), 1.0)) == 0.0  # no gradients yet
    layer(np.ones((4, 3)))
    layer.backward(np.full((4, 2), 10.0))
    total_norm = utils.clip_grad_norm_(layer.parameters(), 1.0, foreach=True)  # foreach: accepted, ignored
    assert float(total_norm) > 1.0
    assert np.sqrt(sum(np.sum(p.grad ** 2) for p in layer.parameters())) == pytest.approx(1.0, rel=1e-5)
    with pytest.warns(UserWarning, match="empty generator, no gradient clipping"):
        empty = utils.clip_grad_norm_((p for p in []), 1.0)
    assert empty.shape == () and float(empty) == 0.0 and empty.dtype == np.float32  # torch.tensor(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        utils.clip_grad_norm_([], 1.0)  # an empty list is not a generator: no warning, as torch
    with pytest.raises(TypeError,
                       match=r"expected Parameters \(e.g. model.parameters\(\)\), got ndarray at position 0"):
        utils.clip_grad_norm_([np.zeros(3)], 1.0)


def test_total_norm_then_clip_is_clip_grad_norm():
    """clip_grad_norm_ = get_total_norm + clip_grads_with_norm_, as torch splits it."""
    rng = np.random.default_rng(3)
    mine, theirs = _twin_parameters(rng, [(4,), (2, 3)], np.float64, 2.0)
    total_norm = utils.get_total_norm([p.grad for p in mine], norm_type=3.0)
    torch_total_norm = torch.nn.utils.get_total_norm([t.grad for t in theirs], norm_type=3.0)
    _close(total_norm, torch_total_norm.numpy(), np.float64)
    utils.clip_grads_with_norm_(mine, 0.7, total_norm)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.7, torch_total_norm)
    for param, tensor in zip(mine, theirs, strict=True):
        _close(param.grad, tensor.grad.numpy(), np.float64)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 0.0, 3.0, math.inf, -math.inf, -1.0])
def test_an_empty_gradient_counts_as_torch_or_is_refused_alike(norm_type):
    """A zero-size gradient adds nothing to a p-norm; for inf, -inf and p < 0 (no identity) torch refuses it."""
    mine, theirs = _twin_parameters(np.random.default_rng(1), [(0,), (3,)], np.float64, 1.0)
    try:
        torch_total_norm = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type=norm_type)
    except RuntimeError:
        before = [p.grad.copy() for p in mine]
        with pytest.raises(ValueError, match=f"cannot compute the {norm_type} norm of an empty gradient"):
            utils.clip_grad_norm_(mine, 0.5, norm_type=norm_type)
        for param, grad in zip(mine, before, strict=True):
            np.testing.assert_array_equal(param.grad, grad)  # refused before any change
        assert norm_type < 0 or math.isinf(norm_type)
        return
    _close(utils.clip_grad_norm_(mine, 0.5, norm_type=norm_type), torch_total_norm.numpy(), np.float64)
    _close(mine[1].grad, theirs[1].grad.numpy(), np.float64)


@pytest.mark.parametrize("norm_type", ["inf", 2, "1.5"])
def test_norm_type_is_read_with_float_as_torch(norm_type):
    mine, theirs = _twin_parameters(np.random.default_rng(2), [(3,), (2, 2)], np.float64, 1.0)
    total_norm = utils.clip_grad_norm_(mine, 0.5, norm_type=norm_type)
    _close(total_norm, torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type=norm_type).numpy(), np.float64)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_mixed_dtypes_match_torch(norm_type):
    """float32 and float64 gradients together: the total norm in float64 (promoted), each gradient keeps its dtype."""
    rng = np.random.default_rng(4)
    mine32, theirs32 = _twin_parameters(rng, [(3, 2)], np.float32, 1.0)
    mine64, theirs64 = _twin_parameters(rng, [(4,)], np.float64, 1.0)
    total_norm = utils.clip_grad_norm_(mine32 + mine64, 0.3, norm_type=norm_type)
    torch_total_norm = torch.nn.utils.clip_grad_norm_(theirs32 + theirs64, 0.3, norm_type=norm_type)
    assert total_norm.dtype == np.float64 and torch_total_norm.dtype == torch.float64
    _close(total_norm, torch_total_norm.numpy(), np.float32)  # the float32 norm inside: float32's tolerance
    assert mine32[0].grad.dtype == np.float32 and mine64[0].grad.dtype == np.float64
    _close(mine32[0].grad, theirs32[0].grad.numpy(), np.float32)
    _close(mine64[0].grad, theirs64[0].grad.numpy(), np.float32)


def test_an_overflowing_norm_is_inf_without_a_warning_as_torch():
    mine, theirs = _twin_parameters(np.random.default_rng(5), [(2,)], np.float32, 1.0)
    mine[0].grad[...] = theirs[0].grad[...] = 1e20  # squares past float32's range
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total_norm = utils.get_total_norm([mine[0].grad])
    assert np.isinf(total_norm) and torch.isinf(torch.nn.utils.get_total_norm([theirs[0].grad]))
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(mine, 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_without_underscore_is_deprecated_as_torch():
    mine, theirs = _twin_parameters(np.random.default_rng(6), [(5,)], np.float64, 3.0)
    with pytest.warns(FutureWarning, match="`scratchnet.nn.utils.clip_grad_norm` is now deprecated in favor of "
                                           "`scratchnet.nn.utils.clip_grad_norm_`"):
        total_norm = utils.clip_grad_norm(mine, 1.0)
    with pytest.warns(FutureWarning, match="deprecated"):
        torch_total_norm = torch.nn.utils.clip_grad_norm(theirs, 1.0)
    _close(total_norm, torch_total_norm.numpy(), np.float64)
    _close(mine[0].grad, theirs[0].grad.numpy(), np.float64)


# -- clip_grad_value_ -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@examples(25)
@given(shapes=parameter_shapes, clip_value=st.floats(0.0, 3.0), seed=st.integers(0, 2**16))
def test_clip_grad_value_matches_torch(dtype, shapes, clip_value, seed):
    rng = np.random.default_rng(seed)
    # (torch 2.13's clip_grad_value_ fails on a list without any gradient; scratchnet's skips it: tested below)
    mine, theirs = _twin_parameters(rng, shapes, dtype, 2.0, without_grad={0} if len(shapes) > 1 else set())
    grad_arrays = [p.grad for p in mine]
    assert utils.clip_grad_value_(mine, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for param, tensor, before in zip(mine, theirs, grad_arrays, strict=True):
        assert param.grad is before
        if tensor.grad is None:
            assert param.grad is None
        else:
            np.testing.assert_array_equal(param.grad, tensor.grad.numpy())  # a clamp: exact
            assert np.all(np.abs(param.grad) <= dtype(clip_value))


def test_clip_grad_value_keeps_nan_as_torch():
    param = Parameter(np.zeros(3))
    param.grad = np.array([np.nan, 5.0, -5.0])
    utils.clip_grad_value_(param, 1)
    np.testing.assert_array_equal(param.grad, [np.nan, 1.0, -1.0])


def test_clip_grad_value_skips_parameters_without_gradients():
    layer = Linear(2, 2)
    utils.clip_grad_value_(layer.parameters(), 1.0)
    assert all(p.grad is None for p in layer.parameters())


@pytest.mark.parametrize("clip_value", [-1.0, 0.0])
def test_clip_grad_value_with_a_negative_or_zero_bound_matches_torch(clip_value):
    """min(max(g, -c), c): for c < 0 every element becomes c, as torch's clamp_min then clamp_max."""
    mine, theirs = _twin_parameters(np.random.default_rng(7), [(4,), (2, 3)], np.float64, 2.0)
    utils.clip_grad_value_((p for p in mine), clip_value)  # a generator, read once
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for param, tensor in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(param.grad, tensor.grad.numpy())
