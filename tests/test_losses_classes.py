"""CrossEntropyLoss and NLLLoss in every input form torch takes: parity, gradient checks, properties, bad input.

Forms: (N, C) with labels (N,); (N, C, d1, ..., dk) with labels (N, d1, ..., dk); one unbatched
sample (C,) with a 0-d label; and (CrossEntropyLoss only) probability targets of the input's shape.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import functional as F
from scratchnet.nn.loss import CrossEntropyLoss, NLLLoss

REDUCTIONS = ["mean", "sum", "none"]
C = 4
# input shapes: the class axis is 1 (0 for the unbatched form)
FORMS = {"NC": (5, C), "NCd": (3, C, 4), "NCdd": (2, C, 3, 2), "C": (C,)}
INPUT_ONLY = (True, False)
OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore_index": {"ignore_index": 2},
    "label_smoothing": {"label_smoothing": 0.2},
    "weight+ignore": {"weight": True, "ignore_index": 1},
    "weight+ignore+smoothing": {"weight": True, "ignore_index": 1, "label_smoothing": 0.3},
}
NLL_OPTIONS = [name for name, kwargs in OPTIONS.items() if "label_smoothing" not in kwargs]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _kwargs(option, dtype):
    kwargs = dict(OPTIONS[option])
    if kwargs.pop("weight", False):
        kwargs["weight"] = (_rng(5).random(C) + 0.2).astype(dtype)
    return kwargs


def _pair(cls, **kwargs):
    torch_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return cls(**kwargs), getattr(torch.nn, cls.__name__)(**torch_kwargs)


def _labels_shape(shape):
    return shape[:1] + shape[2:] if len(shape) > 1 else ()


def _labels(shape, seed=1):
    """Labels for an input of ``shape``, holding classes 1 and 2 (which the ignore_index options drop) and 0."""
    y = _rng(seed).integers(0, C, _labels_shape(shape))
    flat = y.reshape(-1)
    if flat.size >= 3:
        flat[:3] = [2, 1, 0]
    else:
        flat[:] = 3  # one unbatched sample: a label no option ignores
    return y


def _probabilities(shape, dtype, seed=2):
    axis = 0 if len(shape) == 1 else 1
    return F.softmax(_rng(seed).standard_normal(shape) * 2, axis).astype(dtype)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_labels_parity(form, option, reduction, dtype):
    scratch, twin = _pair(CrossEntropyLoss, reduction=reduction, **_kwargs(option, dtype))
    x = (_rng().standard_normal(FORMS[form]) * 3).astype(dtype)
    check_module(scratch, twin, x, _labels(x.shape)).assert_passed()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("option", ["plain", "weight", "label_smoothing", "weight+smoothing"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities_parity(form, option, reduction, dtype):
    kwargs = {"weight": (_rng(5).random(C) + 0.2).astype(dtype)} if "weight" in option else {}
    smoothing = 0.25 if "smoothing" in option else 0.0
    scratch, twin = _pair(CrossEntropyLoss, reduction=reduction, label_smoothing=smoothing, **kwargs)
    x = (_rng().standard_normal(FORMS[form]) * 3).astype(dtype)
    check_module(scratch, twin, x, _probabilities(x.shape, dtype), requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("option", NLL_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_parity(form, option, reduction, dtype):
    scratch, twin = _pair(NLLLoss, reduction=reduction, **_kwargs(option, dtype))
    x = _rng().standard_normal(FORMS[form]).astype(dtype)  # NLLLoss takes any real values as log-probabilities
    check_module(scratch, twin, x, _labels(x.shape)).assert_passed()


def test_every_pixel_ignored_is_nan_with_zero_gradient_like_torch():
    x, y = _rng().standard_normal((2, C, 3)), np.full((2, 3), 1)
    for cls in (CrossEntropyLoss, NLLLoss):
        scratch, twin = _pair(cls, ignore_index=1, weight=np.ones(C))
        check_module(scratch, twin, x, y).assert_passed()
        assert np.isnan(scratch(x, y))
        np.testing.assert_array_equal(scratch.backward(), np.zeros_like(x))


def test_negative_ignore_index_is_allowed_with_probabilities_like_torch():
    x = _rng().standard_normal((3, C))
    scratch, twin = _pair(CrossEntropyLoss, ignore_index=-1)
    check_module(scratch, twin, x, _probabilities(x.shape, np.float64), requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("option", ["plain", "weight+ignore+smoothing"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck(form, option, reduction):
    x = _rng().standard_normal(FORMS[form])
    kwargs = _kwargs(option, np.float64)
    assert gradcheck(CrossEntropyLoss(reduction=reduction, **kwargs), x, _labels(x.shape)) == []
    assert gradcheck(CrossEntropyLoss(reduction=reduction, weight=kwargs.get("weight"), label_smoothing=0.1),
                     x, _probabilities(x.shape, np.float64), requires_grad=INPUT_ONLY) == []
    kwargs.pop("label_smoothing", None)
    assert gradcheck(NLLLoss(reduction=reduction, **kwargs), x, _labels(x.shape)) == []


# -- properties -----------------------------------------------------------------------------------

shapes = st.sampled_from(list(FORMS.values()))


@given(shapes, st.sampled_from(NLL_OPTIONS), st.sampled_from(REDUCTIONS), st.integers(0, 2**32 - 1))
@examples(20)
def test_nll_of_log_softmax_is_cross_entropy(shape, option, reduction, seed):
    x = _rng(seed).standard_normal(shape) * 5
    y = _labels(shape, seed)
    axis = 0 if len(shape) == 1 else 1
    kwargs = _kwargs(option, np.float64)
    ce, nll = CrossEntropyLoss(reduction=reduction, **kwargs), NLLLoss(reduction=reduction, **kwargs)
    log_p = torch.log_softmax(torch.tensor(x), axis).numpy()  # from torch, not from what CE is built on
    np.testing.assert_allclose(nll(log_p, y), ce(x, y), rtol=1e-12, atol=1e-14)
    grad = _rng(seed + 1).standard_normal(y.shape) if reduction == "none" else 1.0
    # chain rule through log_softmax: dx = g - softmax * sum_c g
    g = nll.backward(grad)
    chained = g - np.exp(log_p) * g.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(chained, ce.backward(grad), rtol=1e-10, atol=1e-14)


@given(shapes, st.sampled_from(["plain", "weight", "label_smoothing"]), st.sampled_from(REDUCTIONS),
       st.integers(0, 2**32 - 1))
@examples(20)
def test_one_hot_probabilities_are_label_targets(shape, option, reduction, seed):
    # Without a weight, 'mean' divides both by the number of predictions; with one, labels divide by
    # sum w[y] but probabilities by the count, so there only 'sum' and 'none' agree.
    x, y = _rng(seed).standard_normal(shape) * 5, _labels(shape, seed)
    kwargs = _kwargs(option, np.float64)
    axis = 0 if len(shape) == 1 else 1
    onehot = np.moveaxis(np.eye(C)[y], -1, axis)
    by_labels, by_probabilities = CrossEntropyLoss(reduction=reduction, **kwargs), CrossEntropyLoss(
        reduction=reduction, **kwargs)
    expected = by_labels(x, y)
    if "weight" in kwargs and reduction == "mean":
        expected = expected * kwargs["weight"][y].sum() / y.size
    np.testing.assert_allclose(by_probabilities(x, onehot), expected, rtol=1e-12, atol=1e-14)


@given(shapes, st.sampled_from(list(OPTIONS)), st.integers(0, 2**32 - 1))
@examples(20)
def test_sum_is_mean_times_denominator_and_none_sums_to_sum(shape, option, seed):
    x, y = _rng(seed).standard_normal(shape) * 3, _labels(shape, seed)
    kwargs = _kwargs(option, np.float64)
    total, mean, each = (CrossEntropyLoss(reduction=r, **kwargs)(x, y) for r in ("sum", "mean", "none"))
    assert each.shape == y.shape
    kept = y != kwargs.get("ignore_index", -100)
    weights = kwargs["weight"][y] if "weight" in kwargs else np.ones(y.shape)
    np.testing.assert_allclose(total, mean * (weights * kept).sum(), rtol=1e-12)
    np.testing.assert_allclose(each.sum(), total, rtol=1e-12)


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 3)),
                  elements=st.floats(-20, 20)), st.integers(0, 2**32 - 1))
@examples(20)
def test_per_pixel_is_the_flat_loss_on_pixels_as_rows(x, seed):
    n, c, d = x.shape
    y = _rng(seed).integers(0, c, (n, d))
    per_pixel, flat = CrossEntropyLoss(reduction="none"), CrossEntropyLoss(reduction="none")
    rows = torch.tensor(x).permute(0, 2, 1).reshape(-1, c).numpy()
    np.testing.assert_allclose(per_pixel(x, y).reshape(-1), flat(rows, y.reshape(-1)), rtol=1e-13, atol=1e-300)


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [CrossEntropyLoss, NLLLoss])
def test_label_form_refusals(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name} expected target of shape \(2, 4\) to match input \(2, 3, 4\), "
                                         r"got \(2, 3\)"):
        cls()(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"expected target of shape \(2, 4, 5\).*got \(2, 4, 4\)"):
        cls()(np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"expected target of shape \(\) to match input \(3,\), got \(2,\)"):
        cls()(np.zeros(3), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"holds label 3 but there are only 3 classes"):
        cls()(np.zeros(3), np.array(3))
    with pytest.raises(ValueError, match=r"holds label 3 but there are only 3 classes"):
        cls()(np.zeros((1, 3, 2)), np.array([[0, 3]]))
    with pytest.raises(ValueError, match=r"class labels >= 0 \(or ignore_index=5\), got -1"):
        cls(ignore_index=5)(np.zeros((1, 3, 2)), np.array([[5, -1]]))
    with pytest.raises(ValueError, match=r"weight has shape \(2,\) but the input has 3 classes"):
        cls(weight=np.ones(2))(np.zeros((2, 3, 2)), np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"weight must have shape \(C,\), got \(1, 3\)"):
        cls(weight=np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"empty batch"):
        cls()(np.zeros((2, 3, 0)), np.zeros((2, 0), dtype=np.int64))


def test_torch_refuses_the_same_label_forms():
    # the refusals above mirror torch's (whose messages differ)
    ce = torch.nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 3\]"):
        ce(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        ce(torch.zeros(3), torch.tensor(3))
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        torch.nn.CrossEntropyLoss(ignore_index=0)(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class probabilities"):
        ce(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        torch.nn.NLLLoss()(torch.zeros(2, 3), torch.zeros(2))


def test_probability_form_refusals():
    with pytest.raises(ValueError, match=r"ignore_index=0 is not supported for probability targets"):
        CrossEntropyLoss(ignore_index=0)(np.zeros((2, 3, 2)), np.full((2, 3, 2), 1 / 3))
    with pytest.raises(ValueError, match=r"expected probability targets of shape \(2, 3, 2\).*got \(2, 3, 3\)"):
        CrossEntropyLoss()(np.zeros((2, 3, 2)), np.full((2, 3, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"expected target of shape \(\) to match input \(3,\), got \(3,\) "
                                         r"\(an integer target of the input's shape would be class probabilities"):
        CrossEntropyLoss()(np.zeros(3), np.array([0, 1, 0]))
    with pytest.raises(TypeError, match="probability target has dtype float32"):
        CrossEntropyLoss()(np.zeros(3), np.full(3, 1 / 3, dtype=np.float32))
    with pytest.raises(TypeError, match=r"NLLLoss target must hold integer class labels \(dtype int64\) of shape "
                                        r"\(2,\), got dtype float64"):
        NLLLoss()(np.zeros((2, 3)), np.zeros((2, 3)))


def test_defaults_and_state_dict_match_torch():
    for cls in (CrossEntropyLoss, NLLLoss):
        mine, theirs = cls(), getattr(torch.nn, cls.__name__)()
        assert (mine.ignore_index, mine.reduction) == (theirs.ignore_index, theirs.reduction)
        assert list(cls(weight=np.ones(3)).state_dict()) == list(
            getattr(torch.nn, cls.__name__)(weight=torch.ones(3)).state_dict()) == ["weight"]
