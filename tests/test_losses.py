"""Losses: parity with torch.nn for every reduction and option, gradient checks, stability, properties, bad input."""

import warnings

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

REDUCTIONS = ["mean", "sum", "none"]


def _pair(name, dtype, **kwargs):
    """The scratchnet loss and its torch twin with the same keyword arguments (arrays become tensors)."""
    torch_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return getattr(snn, name)(**kwargs), getattr(torch.nn, name)(**torch_kwargs)


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- CrossEntropyLoss -----------------------------------------------------------------------------

N, C = 7, 4
# A loss returns dL/d(input) alone: a float target is data, with no gradient of its own.
INPUT_ONLY = (True, False)
CE_OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore_index": {"ignore_index": 2},
    "label_smoothing": {"label_smoothing": 0.2},
    "weight+smoothing": {"weight": True, "label_smoothing": 0.3},
    "weight+ignore+smoothing": {"weight": True, "ignore_index": 1, "label_smoothing": 0.1},
}


def _ce_kwargs(option, dtype):
    kwargs = dict(CE_OPTIONS[option])
    if kwargs.pop("weight", False):
        kwargs["weight"] = (_rng(5).random(C) + 0.2).astype(dtype)
    return kwargs


def _labels(seed=1):
    y = _rng(seed).integers(0, C, N)
    y[[1, 4]] = [2, 1]  # labels that the ignore_index options will drop
    return y


@pytest.mark.parametrize("option", CE_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_parity(option, reduction, dtype):
    scratch, twin = _pair("CrossEntropyLoss", dtype, reduction=reduction, **_ce_kwargs(option, dtype))
    x = (_rng().standard_normal((N, C)) * 3).astype(dtype)
    check_module(scratch, twin, x, _labels()).assert_passed()


def test_cross_entropy_default_ignore_index_minus_100(dtype):
    y = _labels()
    y[0] = -100
    scratch, twin = _pair("CrossEntropyLoss", dtype, label_smoothing=0.1)
    check_module(scratch, twin, _rng().standard_normal((N, C)).astype(dtype), y).assert_passed()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets_parity(reduction, smoothing, dtype):
    weight = (_rng(5).random(C) + 0.2).astype(dtype)
    scratch, twin = _pair("CrossEntropyLoss", dtype, weight=weight, reduction=reduction, label_smoothing=smoothing)
    x = _rng().standard_normal((N, C)).astype(dtype)
    check_module(scratch, twin, x, F.softmax(_rng(2).standard_normal((N, C)), 1).astype(dtype), requires_grad=INPUT_ONLY).assert_passed()


def test_cross_entropy_every_target_ignored_is_nan_with_zero_gradient_like_torch():
    scratch, twin = _pair("CrossEntropyLoss", np.float64, label_smoothing=0.1)
    x, y = _rng().standard_normal((3, C)), np.full(3, -100)
    check_module(scratch, twin, x, y).assert_passed()  # NaN must appear in the same places
    assert np.isnan(scratch(x, y))
    np.testing.assert_array_equal(scratch.backward(), np.zeros_like(x))


@pytest.mark.parametrize("option", CE_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(option, reduction):
    loss = snn.CrossEntropyLoss(reduction=reduction, **_ce_kwargs(option, np.float64))
    assert gradcheck(loss, _rng().standard_normal((N, C)), _labels()) == []


@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e4), (np.float32, 100.0)])
@pytest.mark.parametrize("option", ["plain", "weight+smoothing"])
def test_cross_entropy_extreme_logits_are_finite_and_match_torch(dtype, scale, option):
    x = (np.sign(_rng().standard_normal((N, C))) * scale).astype(dtype)
    x[0] = [scale, -scale, scale, -scale]
    scratch, twin = _pair("CrossEntropyLoss", dtype, **_ce_kwargs(option, dtype))
    loss = scratch(x, _labels())
    assert np.isfinite(loss) and np.isfinite(scratch.backward()).all()
    check_module(scratch, twin, x, _labels()).assert_passed()


# -- BCEWithLogitsLoss and BCELoss ----------------------------------------------------------------

BCE_OPTIONS = ["plain", "weight", "pos_weight", "both"]


def _bce_kwargs(option, dtype, shape):
    kwargs = {}
    if option in ("weight", "both"):
        kwargs["weight"] = (_rng(6).random(shape[-1:]) + 0.1).astype(dtype)
    if option in ("pos_weight", "both"):
        kwargs["pos_weight"] = (_rng(7).random(shape[-1:]) * 3 + 0.1).astype(dtype)
    return kwargs


@pytest.mark.parametrize("shape", [(9,), (6, 3)], ids=["N", "NxK"])
@pytest.mark.parametrize("option", BCE_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_parity(shape, option, reduction, dtype):
    scratch, twin = _pair("BCEWithLogitsLoss", dtype, reduction=reduction, **_bce_kwargs(option, dtype, shape))
    x = (_rng().standard_normal(shape) * 3).astype(dtype)
    y = _rng(1).random(shape).astype(dtype)
    y.flat[::2] = np.round(y.flat[::2])  # hard 0/1 labels and soft targets
    check_module(scratch, twin, x, y, requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("option", BCE_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck(option, reduction):
    loss = snn.BCEWithLogitsLoss(reduction=reduction, **_bce_kwargs(option, np.float64, (5, 3)))
    assert gradcheck(loss, _rng().standard_normal((5, 3)), _rng(1).random((5, 3)), requires_grad=INPUT_ONLY) == []


@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e4), (np.float32, 100.0)])
@pytest.mark.parametrize("option", ["plain", "both"])
def test_bce_with_logits_extreme_logits_are_finite_and_match_torch(dtype, scale, option):
    x = np.array([[scale, -scale, scale], [-scale, scale, -scale]], dtype=dtype)
    y = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.5]], dtype=dtype)
    scratch, twin = _pair("BCEWithLogitsLoss", dtype, **_bce_kwargs(option, dtype, x.shape))
    assert np.isfinite(scratch(x, y)) and np.isfinite(scratch.backward()).all()
    check_module(scratch, twin, x, y, requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_parity_including_saturated_probabilities(reduction, weighted, dtype):
    kwargs = {"weight": (_rng(6).random(3) + 0.1).astype(dtype)} if weighted else {}
    scratch, twin = _pair("BCELoss", dtype, reduction=reduction, **kwargs)
    p = _rng().uniform(0.05, 0.95, (4, 3)).astype(dtype)
    p[0] = [0.0, 1.0, 0.5]  # log clamped at -100, as torch
    y = _rng(1).random((4, 3)).astype(dtype)
    check_module(scratch, twin, p, y, requires_grad=INPUT_ONLY).assert_passed()
    assert gradcheck(snn.BCELoss(reduction=reduction), _rng().uniform(0.1, 0.9, (4, 3)), _rng(1).random((4, 3)), requires_grad=INPUT_ONLY) == []


@pytest.mark.parametrize("name,scalars", [("BCELoss", ["weight"]), ("BCEWithLogitsLoss", ["weight"]),
                                          ("BCEWithLogitsLoss", ["pos_weight"]), ("BCEWithLogitsLoss", ["weight", "pos_weight"])])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_scalar_weights_broadcast_like_torch(name, scalars, reduction, dtype):
    kwargs = {key: np.array(value, dtype=dtype) for key, value in zip(scalars, [0.7, 2.5])}  # 0-d arrays
    scratch, twin = _pair(name, dtype, reduction=reduction, **kwargs)
    p = _rng().uniform(0.05, 0.95, (4, 3)).astype(dtype)
    check_module(scratch, twin, p, _rng(1).random((4, 3)).astype(dtype), requires_grad=INPUT_ONLY).assert_passed()
    x = _rng().standard_normal((4, 3))
    loss = getattr(snn, name)(reduction=reduction, **{k: v.astype(np.float64) for k, v in kwargs.items()})
    prediction = p.astype(np.float64) if name == "BCELoss" else x
    assert gradcheck(loss, prediction, _rng(1).random((4, 3)), requires_grad=INPUT_ONLY) == []


def test_bce_scalar_weight_scales_the_loss():
    p, y = _rng().uniform(0.1, 0.9, 5), _rng(1).random(5)
    np.testing.assert_allclose(snn.BCELoss(weight=np.array(3.0))(p, y), 3 * snn.BCELoss()(p, y), rtol=1e-14)


# -- regression losses ----------------------------------------------------------------------------

REGRESSION = [
    ("MSELoss", {}),
    ("L1Loss", {}),
    ("HuberLoss", {}),
    ("HuberLoss", {"delta": 0.3}),
    ("HuberLoss", {"delta": 2.5}),
    ("SmoothL1Loss", {}),
    ("SmoothL1Loss", {"beta": 0.5}),
    ("SmoothL1Loss", {"beta": 0.0}),
]
REGRESSION_IDS = [f"{name}{kwargs or ''}" for name, kwargs in REGRESSION]


@pytest.mark.parametrize("name,kwargs", REGRESSION, ids=REGRESSION_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(8,), (5, 3)], ids=["N", "NxK"])
def test_regression_parity(name, kwargs, reduction, shape, dtype):
    scratch, twin = _pair(name, dtype, reduction=reduction, **kwargs)
    prediction = (_rng().standard_normal(shape) * 2).astype(dtype)
    target = (_rng(1).standard_normal(shape) * 2).astype(dtype)
    target.flat[0] = prediction.flat[0]  # d = 0: L1's and SmoothL1(beta=0)'s gradient is 0 there, as torch's
    check_module(scratch, twin, prediction, target, requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("name,kwargs", REGRESSION, ids=REGRESSION_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_gradcheck(name, kwargs, reduction):
    prediction = _rng().standard_normal((4, 3)) * 2
    target = _rng(1).standard_normal((4, 3)) * 2
    # keep d = prediction - target away from the kinks (0, +-delta, +-beta)
    d = prediction - target
    prediction = target + np.where(np.abs(np.abs(d) - np.round(np.abs(d) * 2) / 2) < 0.05, d + 0.1, d)
    assert gradcheck(getattr(snn, name)(reduction=reduction, **kwargs), prediction, target, requires_grad=INPUT_ONLY) == []


def test_defaults_match_torch():
    assert snn.HuberLoss().delta == torch.nn.HuberLoss().delta == 1.0
    assert snn.SmoothL1Loss().beta == torch.nn.SmoothL1Loss().beta == 1.0
    ce, tce = snn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    assert (ce.ignore_index, ce.reduction, ce.label_smoothing) == (tce.ignore_index, tce.reduction, tce.label_smoothing)
    weight = np.ones(3)
    assert list(snn.CrossEntropyLoss(weight=weight).state_dict()) == list(
        torch.nn.CrossEntropyLoss(weight=torch.tensor(weight)).state_dict())
    assert list(snn.BCEWithLogitsLoss(weight=weight, pos_weight=weight).state_dict()) == ["weight", "pos_weight"]


# -- properties -----------------------------------------------------------------------------------

logits = hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 5)), elements=st.floats(-30, 30))


@given(hnp.arrays(np.float64, st.integers(1, 10), elements=st.floats(-50, 50)), st.data())
@examples(30)
def test_bce_with_logits_is_two_class_cross_entropy_on_0_and_x(x, data):
    y = data.draw(hnp.arrays(np.int64, x.shape, elements=st.integers(0, 1)))
    bce, ce = snn.BCEWithLogitsLoss(), snn.CrossEntropyLoss()
    two_logits = np.stack([np.zeros_like(x), x], axis=1)  # p(class 1) = e^x / (1 + e^x) = sigmoid(x)
    np.testing.assert_allclose(bce(x, y.astype(np.float64)), ce(two_logits, y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(bce.backward(), ce.backward()[:, 1], rtol=1e-12, atol=1e-14)


@given(st.floats(0.1, 5.0), hnp.arrays(np.float64, st.integers(1, 10), elements=st.floats(-0.999, 0.999)),
       hnp.arrays(np.float64, st.integers(1, 10), elements=st.floats(-10, 10)))
@examples(30)
def test_huber_is_half_mse_inside_delta(delta, fraction, target):
    n = min(fraction.size, target.size)
    target, prediction = target[:n], target[:n] + fraction[:n] * delta  # |d| < delta
    huber, mse = snn.HuberLoss(delta=delta), snn.MSELoss()
    np.testing.assert_allclose(huber(prediction, target), mse(prediction, target) / 2, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(huber.backward(), mse.backward() / 2, rtol=1e-12, atol=1e-300)


@given(st.floats(0.1, 5.0), hnp.arrays(np.float64, st.integers(1, 10), elements=st.floats(-10, 10)))
@examples(30)
def test_huber_is_delta_times_smooth_l1_with_beta_delta(delta, d):
    target = np.zeros_like(d)
    np.testing.assert_allclose(snn.HuberLoss(delta=delta)(d, target),
                               delta * snn.SmoothL1Loss(beta=delta)(d, target), rtol=1e-12, atol=1e-300)


@given(logits, st.data())
@examples(30)
def test_cross_entropy_is_minus_log_p_y_and_its_gradient_is_softmax_minus_onehot_over_n(x, data):
    n, c = x.shape
    y = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    loss = snn.CrossEntropyLoss(reduction="none")
    per_sample = loss(x, y)
    assert (per_sample >= 0).all()
    # the references come from torch, not from the functions the loss itself is built on
    log_p = torch.log_softmax(torch.tensor(x), dim=1).numpy()
    np.testing.assert_allclose(per_sample, -log_p[np.arange(n), y], rtol=1e-13, atol=1e-300)
    mean = snn.CrossEntropyLoss()
    mean(x, y)
    np.testing.assert_allclose(mean.backward(), (np.exp(log_p) - np.eye(c)[y]) / n, rtol=1e-12, atol=1e-15)


# -- bad input ------------------------------------------------------------------------------------

REGRESSION_NAMES = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"]
FLOAT_TARGET_NAMES = REGRESSION_NAMES + ["BCEWithLogitsLoss", "BCELoss"]


@pytest.mark.parametrize("name", REGRESSION_NAMES)
def test_class_labels_given_to_a_regression_loss(name):
    with pytest.raises(TypeError, match=r"integer dtype int64 \(class labels\?\).*use CrossEntropyLoss"):
        getattr(snn, name)()(np.zeros(4), np.array([0, 1, 1, 0]))


def test_continuous_target_given_to_cross_entropy():
    with pytest.raises(TypeError, match=r"integer class labels \(dtype int64\).*regression loss"):
        snn.CrossEntropyLoss()(np.zeros((4, 3)), np.array([0.5, 1.2, 2.0, 0.0]))


def test_integer_labels_given_to_bce_with_logits():
    with pytest.raises(TypeError, match=r"convert 0/1 labels with target.astype\(np.float64\)"):
        snn.BCEWithLogitsLoss()(np.zeros(4), np.array([0, 1, 1, 0]))


@pytest.mark.parametrize("name", ["BCEWithLogitsLoss", "BCELoss"])
@pytest.mark.parametrize("bad", [-0.5, 1.5, np.nan])
def test_bce_target_outside_0_1(name, bad):
    with pytest.raises(ValueError, match="target must be between 0 and 1"):
        getattr(snn, name)()(np.full(3, 0.5), np.array([0.0, bad, 1.0]))


def test_bce_input_must_be_probabilities():
    with pytest.raises(ValueError, match="input .*must be between 0 and 1"):
        snn.BCELoss()(np.array([0.5, 2.0]), np.array([0.0, 1.0]))


@pytest.mark.parametrize("name", FLOAT_TARGET_NAMES)
def test_target_of_shape_n1_against_predictions_of_shape_n(name):
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\).*got \(4, 1\).*must match exactly.*"
                                         r"broadcast them to\s+\(4, 4\)"):
        getattr(snn, name)()(np.full(4, 0.5), np.full((4, 1), 0.5))
    with pytest.raises(ValueError, match=r"expected target of shape \(4, 1\).*got \(4,\)"):
        getattr(snn, name)()(np.full((4, 1), 0.5), np.full(4, 0.5))


def test_torch_only_warns_and_broadcasts_n1_against_n():
    # Why scratchnet refuses: torch averages all 4 x 4 pairs and returns a different, wrong number.
    prediction, target = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        broadcast = torch.nn.MSELoss()(prediction, target)
    assert any("different to the input size" in str(w.message) for w in caught)
    assert broadcast.item() == pytest.approx(2.5) and torch.nn.MSELoss()(prediction, target[:, 0]).item() == 0.0


@pytest.mark.parametrize("name", FLOAT_TARGET_NAMES)
def test_dtype_mismatch_and_empty_input(name):
    with pytest.raises(TypeError, match="has dtype float32 but"):
        getattr(snn, name)()(np.full(3, 0.5), np.full(3, 0.5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"empty input of shape \(0,\)"):
        getattr(snn, name)()(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="reduction must be one of"):
        getattr(snn, name)(reduction="average")


def test_cross_entropy_bad_input():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"holds label 4 but there are only 4 classes \(labels 0..3\)"):
        snn.CrossEntropyLoss()(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"class labels >= 0 \(or ignore_index=-100\), got -1"):
        snn.CrossEntropyLoss()(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\)"):
        snn.CrossEntropyLoss()(x, np.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match=r"expected input of shape \(C,\), \(N, C\) or \(N, C, d1, .*got \(\)"):
        snn.CrossEntropyLoss()(np.zeros(()), np.array(0))
    # torch takes a (1,) target for one unbatched sample only without label_smoothing;
    # scratchnet wants torch's documented ()
    with pytest.raises(ValueError, match=r"expected target of shape \(\) to match input \(4,\), got \(1,\)"):
        snn.CrossEntropyLoss()(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match="empty batch"):
        snn.CrossEntropyLoss()(np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match=r"weight has shape \(3,\) but the input has 4 classes"):
        snn.CrossEntropyLoss(weight=np.ones(3))(x, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="weight has dtype float32"):
        snn.CrossEntropyLoss(weight=np.ones(4, dtype=np.float32))(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"probability targets of shape \(3, 4\)"):
        snn.CrossEntropyLoss()(x, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        snn.CrossEntropyLoss(label_smoothing=1.5)


def test_bad_options_and_grad_output():
    with pytest.raises(ValueError, match="delta must be positive"):
        snn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="beta must be non-negative"):
        snn.SmoothL1Loss(beta=-1.0)
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) does not broadcast to the input's shape \(4, 2\)"):
        snn.BCEWithLogitsLoss(pos_weight=np.ones(3))(np.zeros((4, 2)), np.zeros((4, 2)))
    loss = snn.MSELoss(reduction="none")
    loss(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(3,\), got \(\)"):
        loss.backward()
    mean = snn.MSELoss()
    mean(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="expected a scalar grad_output"):
        mean.backward(np.ones(3))
