"""Margin losses: parity with torch.nn for every option, gradient checks, properties, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.loss import BCEWithLogitsLoss
from scratchnet.nn.loss_margin import (CosineEmbeddingLoss, HingeEmbeddingLoss, MarginRankingLoss, MultiMarginLoss,
                                       SoftMarginLoss)

REDUCTIONS = ["mean", "sum", "none"]
INPUT_ONLY = (True, False)
PAIR = (True, True, False)  # two inputs with gradients, a target without


def _rng(seed=0):
    return np.random.default_rng(seed)


def _signs(shape, seed=1, dtype=np.float64):
    y = np.where(_rng(seed).random(shape) < 0.5, -1, 1)
    if y.size >= 2:
        y.reshape(-1)[:2] = [1, -1]  # both labels, always
    return y.astype(dtype)


def _twin(loss, *args, **kwargs):
    return getattr(torch.nn, type(loss).__name__)(*args, **kwargs)


# -- SoftMarginLoss and HingeEmbeddingLoss --------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (3, 4)], ids=["N", "NxK"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("labels", ["float", "int"])
def test_soft_margin_parity(shape, reduction, labels, dtype):
    x = (_rng().standard_normal(shape) * 3).astype(dtype)
    y = _signs(shape, dtype=dtype if labels == "float" else np.int64)
    check_module(SoftMarginLoss(reduction=reduction), torch.nn.SoftMarginLoss(reduction=reduction), x, y,
                 requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("margin", [1.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_parity(margin, reduction, dtype):
    x = np.abs(_rng().standard_normal((4, 3)) * 2).astype(dtype)
    y = _signs((4, 3), dtype=dtype)
    x[0, 1], y[0, 1] = margin, -1  # at the hinge: torch's gradient is -1 there (clamp_min passes x >= min)
    y[1, 0] = 0  # a label other than +-1 gets both terms, as torch
    loss = HingeEmbeddingLoss(margin, reduction=reduction)
    check_module(loss, _twin(loss, margin, reduction=reduction), x, y, requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("loss", [SoftMarginLoss(reduction="none"), HingeEmbeddingLoss(0.7, reduction="none")],
                         ids=lambda loss: type(loss).__name__)
def test_one_input_gradcheck(loss):
    x = _rng().uniform(0.1, 2.0, (3, 4)) * np.where(_rng(2).random((3, 4)) < 0.3, -1, 1)
    x[np.abs(x - 0.7) < 0.05] += 0.1  # away from the hinge
    assert gradcheck(loss, x, _signs((3, 4)), requires_grad=INPUT_ONLY) == []


@given(st.integers(1, 10), st.floats(0.1, 30), st.integers(0, 2**32 - 1))
@examples(20)
def test_soft_margin_is_bce_with_logits_on_0_1_labels(n, scale, seed):
    x, y = _rng(seed).standard_normal(n) * scale, _signs(n, seed)
    soft, bce = SoftMarginLoss(), BCEWithLogitsLoss()
    # BCE's (1 - y) x - log sigmoid(x) cancels (x - x + e^-|x|) where log(1 + e^(-y x)) does not: |x| 1e-16 apart
    np.testing.assert_allclose(soft(x, y), bce(x, (y + 1) / 2), rtol=1e-10, atol=1e-15 * np.abs(x).max())
    np.testing.assert_allclose(soft.backward(), bce.backward(), rtol=1e-10, atol=1e-15)


# -- MarginRankingLoss and CosineEmbeddingLoss ----------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (3, 2)], ids=["N", "NxK"])
@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_parity(shape, margin, reduction, dtype):
    x1, x2 = (_rng(s).standard_normal(shape).astype(dtype) for s in (0, 2))
    y = _signs(shape, dtype=dtype)
    x2.flat[0] = x1.flat[0] + margin  # -y (x1 - x2) + margin = 0 with y = 1: torch's gradient passes there
    loss = MarginRankingLoss(margin, reduction=reduction)
    check_module(loss, _twin(loss, margin, reduction=reduction), x1, x2, y, requires_grad=PAIR).assert_passed()


@pytest.mark.parametrize("shape", [(5, 3), (4,)], ids=["NxD", "D"])
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_parity(shape, margin, reduction, dtype):
    x1, x2 = (_rng(s).standard_normal(shape).astype(dtype) for s in (0, 2))
    y = _signs(shape[:-1], dtype=dtype) if len(shape) == 2 else np.array(-1.0, dtype=dtype)
    if len(shape) == 2:
        y[2] = 0  # neither term, as torch
    loss = CosineEmbeddingLoss(margin, reduction=reduction)
    check_module(loss, _twin(loss, margin, reduction=reduction), x1, x2, y, requires_grad=PAIR).assert_passed()


def test_cosine_embedding_of_a_zero_vector_is_finite_like_torch():
    x1, x2 = np.zeros((2, 3)), _rng().standard_normal((2, 3))
    loss = CosineEmbeddingLoss()
    check_module(loss, _twin(loss), x1, x2, np.array([1, -1]), requires_grad=PAIR).assert_passed()


@pytest.mark.parametrize("loss", [MarginRankingLoss(0.2, reduction="none"), CosineEmbeddingLoss(0.2, reduction="none")],
                         ids=lambda loss: type(loss).__name__)
def test_pair_gradcheck(loss):
    x1, x2 = _rng(0).standard_normal((5, 3)), _rng(2).standard_normal((5, 3))
    y = _signs(5)
    if isinstance(loss, MarginRankingLoss):
        x1, x2, y = x1[:, 0], x2[:, 0], y
    assert gradcheck(loss, x1, x2, y, requires_grad=PAIR) == []


@given(st.integers(1, 8), st.integers(1, 4), st.floats(0.01, 100), st.floats(0.01, 100), st.integers(0, 2**32 - 1))
@examples(20)
def test_pair_symmetries(n, d, a, b, seed):
    x1, x2 = _rng(seed).standard_normal((n, d)), _rng(seed + 1).standard_normal((n, d))
    y = _signs(n, seed)
    # ranking x1 above x2 is ranking x2 below x1
    ranking, swapped = MarginRankingLoss(0.3, reduction="none"), MarginRankingLoss(0.3, reduction="none")
    np.testing.assert_array_equal(ranking(x1[:, 0], x2[:, 0], y), swapped(x2[:, 0], x1[:, 0], -y))
    g1, g2 = ranking.backward(np.ones(n))
    s2, s1 = swapped.backward(np.ones(n))
    np.testing.assert_array_equal(g1, s1)
    np.testing.assert_array_equal(g2, s2)
    # cosine ignores the vectors' lengths; its gradient is orthogonal to its own input
    cosine, scaled = CosineEmbeddingLoss(reduction="none"), CosineEmbeddingLoss(reduction="none")
    # up to eps = 1e-12 added to each squared norm: cos moves by ~eps / |x|^2
    smallest = min((v * v).sum(axis=1).min() for v in (x1, x2, a * x1, b * x2))
    np.testing.assert_allclose(cosine(x1, x2, y), scaled(a * x1, b * x2, y), rtol=1e-9, atol=1e-11 / smallest)
    dx1, dx2 = cosine.backward(np.ones(n))
    np.testing.assert_allclose((dx1 * x1).sum(axis=1), 0, atol=1e-9 + 1e-11 / smallest)
    np.testing.assert_allclose((dx2 * x2).sum(axis=1), 0, atol=1e-9 + 1e-11 / smallest)


# -- MultiMarginLoss ------------------------------------------------------------------------------

C = 4


@pytest.mark.parametrize("shape", [(5, C), (C,)], ids=["NxC", "C"])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.4])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_parity(shape, p, margin, weighted, reduction, dtype):
    weight = (_rng(5).random(C) + 0.2).astype(dtype) if weighted else None
    loss = MultiMarginLoss(p, margin, weight, reduction=reduction)
    twin = _twin(loss, p, margin, None if weight is None else torch.tensor(weight), reduction=reduction)
    x = _rng().standard_normal(shape).astype(dtype)
    y = _rng(1).integers(0, C, shape[:-1])
    if len(shape) == 2:
        x[0], y[0] = [2.0, 1.0 + margin, -1.0, 0.0], 0  # z = 0 for class 1: no gradient (torch's z > 0)
    check_module(loss, twin, x, y).assert_passed()


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_gradcheck(p):
    x = _rng().standard_normal((5, C))
    loss = MultiMarginLoss(p, 0.8, _rng(5).random(C) + 0.2, reduction="none")
    assert gradcheck(loss, x, _rng(1).integers(0, C, 5)) == []


@given(st.integers(1, 6), st.integers(2, 6), st.sampled_from([1, 2]), st.floats(0.0, 2.0), st.integers(0, 2**32 - 1))
@examples(20)
def test_multi_margin_is_zero_past_the_margin_and_sums_the_violations(n, c, p, margin, seed):
    x, y = _rng(seed).standard_normal((n, c)), _rng(seed + 1).integers(0, c, n)
    won = x.copy()
    won[np.arange(n), y] = x.max(axis=1) + margin + 0.1  # the right class beats every other by more than margin
    loss = MultiMarginLoss(p, margin, reduction="sum")
    assert loss(won, y) == 0
    np.testing.assert_array_equal(loss.backward(), 0)
    # the per-sample loss from torch's definition, written out with a loop
    expected = sum(max(0.0, margin - x[i, y[i]] + x[i, j]) ** p for i in range(n) for j in range(c) if j != y[i]) / c
    np.testing.assert_allclose(loss(x, y), expected, rtol=1e-12, atol=1e-300)
    assert abs(loss.backward().sum()) < 1e-12  # the gradient of each row sums to 0


# -- bad input ------------------------------------------------------------------------------------


def test_multi_margin_refusals():
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="expected weight to be None or 1D tensor, got 2D instead"):
        MultiMarginLoss(weight=np.ones((1, C)))
    x = np.zeros((2, C))
    with pytest.raises(ValueError, match=r"target out of range: got label 4, expected labels 0..3"):
        MultiMarginLoss()(x, np.array([1, 4]))
    with pytest.raises(ValueError, match=r"target out of range: got label -1"):
        MultiMarginLoss()(x, np.array([1, -1]))
    with pytest.raises(ValueError, match=r"inconsistent weight size: expected \(4,\), got \(3,\)"):
        MultiMarginLoss(weight=np.ones(3))(x, np.array([1, 1]))
    with pytest.raises(ValueError, match=r"expected target of shape \(2,\) to match input \(2, 4\), got \(3,\)"):
        MultiMarginLoss()(x, np.array([1, 1, 1]))
    with pytest.raises(TypeError, match="integer class labels"):
        MultiMarginLoss()(x, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(N, C\) or \(C,\)"):
        MultiMarginLoss()(np.zeros((1, C, 2)), np.array([0]))


def test_torch_refuses_the_same_multi_margin_input():
    with pytest.raises(RuntimeError, match="target out of range"):
        torch.nn.MultiMarginLoss()(torch.zeros(2, C), torch.tensor([1, 4]))
    with pytest.raises(RuntimeError, match="inconsistent weight size"):
        torch.nn.MultiMarginLoss(weight=torch.ones(3))(torch.zeros(2, C), torch.tensor([1, 1]))
    with pytest.raises(RuntimeError, match="expected scalar type Long"):
        torch.nn.MultiMarginLoss()(torch.zeros(2, C), torch.tensor([1.0, 2.0]))


def test_pair_refusals():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"input2 has shape \(1, 2\) but input1 has \(3, 2\)"):
        CosineEmbeddingLoss()(x, np.zeros((1, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\).*got \(1, 3\)"):
        CosineEmbeddingLoss()(x, x, np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"inputs of shape \(N, D\) or \(D,\), got \(3, 2, 1\)"):
        CosineEmbeddingLoss()(np.zeros((3, 2, 1)), np.zeros((3, 2, 1)), np.ones(3))
    with pytest.raises(TypeError, match="input2 has dtype float32"):
        MarginRankingLoss()(np.zeros(3), np.zeros(3, dtype=np.float32), np.ones(3))
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\).*got \(3, 1\)"):
        MarginRankingLoss()(np.zeros(3), np.zeros(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\).*got \(4, 1\)"):
        SoftMarginLoss()(np.zeros(4), np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"empty input"):
        HingeEmbeddingLoss()(np.zeros(0), np.ones(0))


def test_torch_refuses_the_same_pairs():
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected"):
        torch.nn.CosineEmbeddingLoss()(torch.zeros(3, 2), torch.zeros(3, 2), torch.ones(1, 3))
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        torch.nn.MarginRankingLoss()(torch.zeros(3), torch.zeros(3), torch.ones(3, 1))


def test_defaults_and_state_dict_match_torch():
    for mine, theirs, names in [(SoftMarginLoss(), torch.nn.SoftMarginLoss(), ["reduction"]),
                                (HingeEmbeddingLoss(), torch.nn.HingeEmbeddingLoss(), ["margin", "reduction"]),
                                (MarginRankingLoss(), torch.nn.MarginRankingLoss(), ["margin", "reduction"]),
                                (CosineEmbeddingLoss(), torch.nn.CosineEmbeddingLoss(), ["margin", "reduction"]),
                                (MultiMarginLoss(), torch.nn.MultiMarginLoss(), ["p", "margin", "reduction"])]:
        assert [getattr(mine, name) for name in names] == [getattr(theirs, name) for name in names]
    assert list(MultiMarginLoss(weight=np.ones(3)).state_dict()) == list(
        torch.nn.MultiMarginLoss(weight=torch.ones(3)).state_dict()) == ["weight"]


def _margin_cases(seed):
    x1, x2 = _rng(seed).standard_normal((5, 3)), _rng(seed + 1).standard_normal((5, 3))
    y = _signs((5, 3), seed)
    return [(SoftMarginLoss, (), (x1, y), 15), (HingeEmbeddingLoss, (0.5,), (x1, y), 15),
            (MarginRankingLoss, (0.2,), (x1, x2, y), 15), (CosineEmbeddingLoss, (0.1,), (x1, x2, y[:, 0]), 5),
            (MultiMarginLoss, (2, 0.9, _rng(5).random(3)), (x1, _rng(seed).integers(0, 3, 5)), 5)]


@given(st.integers(0, 2**32 - 1))
@examples(10)
def test_sum_is_mean_times_count_and_none_sums_to_sum(seed):
    for cls, args, inputs, count in _margin_cases(seed):
        total, mean, each = (cls(*args, reduction=r) for r in ("sum", "mean", "none"))
        np.testing.assert_allclose(total(*inputs), mean(*inputs) * count, rtol=1e-12, atol=1e-15)
        losses = each(*inputs)
        np.testing.assert_allclose(losses.sum(), total(*inputs), rtol=1e-12, atol=1e-15)
        grads = [_as_list(total.backward()), _as_list(mean.backward()), _as_list(each.backward(np.ones(losses.shape)))]
        for g_sum, g_mean, g_each in zip(*grads, strict=True):  # dL/dinput (and dL/dinput2)
            np.testing.assert_allclose(g_sum, g_mean * count, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(g_each, g_sum, rtol=1e-12, atol=1e-15)


def _as_list(grads):
    return list(grads) if isinstance(grads, tuple) else [grads]
