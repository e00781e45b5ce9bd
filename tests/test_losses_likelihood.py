"""KLDivLoss, PoissonNLLLoss, GaussianNLLLoss: parity with torch.nn for every option, gradient checks, properties,
bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import functional as F
from scratchnet.nn.loss_likelihood import GaussianNLLLoss, KLDivLoss, PoissonNLLLoss

REDUCTIONS = ["mean", "sum", "none"]
INPUT_ONLY = (True, False)
SHAPES = {"N": (6,), "NC": (4, 3), "NCd": (2, 3, 4)}

# torch's KLDivLoss warns that its 'mean' is not the KL divergence
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _kl_data(shape, log_target, dtype, seed=0):
    x = F.log_softmax(_rng(seed).standard_normal(shape), -1)
    t = F.softmax(_rng(seed + 1).standard_normal(shape) * 2, -1)
    t.flat[0] = 0.0  # 0 log 0 = 0
    target = F.log_softmax(_rng(seed + 1).standard_normal(shape), -1) if log_target else t
    return x.astype(dtype), target.astype(dtype)


def _counts(shape, seed=1):
    y = _rng(seed).integers(0, 6, shape).astype(np.float64)
    y.flat[:3] = [0.0, 1.0, 4.0]  # Stirling's term is 0 for t <= 1
    return y


# -- KLDivLoss ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_parity(shape, reduction, log_target, dtype):
    scratch, twin = KLDivLoss(reduction=reduction, log_target=log_target), torch.nn.KLDivLoss(
        reduction=reduction, log_target=log_target)
    check_module(scratch, twin, *_kl_data(SHAPES[shape], log_target, dtype), requires_grad=INPUT_ONLY).assert_passed()


def test_kl_div_batchmean_of_0d_input_is_the_sum_like_torch():
    x, t = np.array(-0.3), np.array(0.4)
    check_module(KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), x, t,
                 requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("reduction", ["batchmean", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradcheck(reduction, log_target):
    assert gradcheck(KLDivLoss(reduction=reduction, log_target=log_target),
                     *_kl_data((3, 4), log_target, np.float64), requires_grad=INPUT_ONLY) == []


@given(st.integers(1, 5), st.integers(2, 6), st.integers(0, 2**32 - 1))
@examples(20)
def test_kl_div_properties(n, c, seed):
    x, t = _kl_data((n, c), False, np.float64, seed)
    t[0, 0] = 0.1  # strictly positive, so log t exists
    log_t = torch.log(torch.tensor(t)).numpy()
    kl = KLDivLoss(reduction="batchmean")
    # log_target both ways is the same loss and gradient
    np.testing.assert_allclose(kl(x, t), KLDivLoss(reduction="batchmean", log_target=True)(x, log_t), rtol=1e-12)
    # KL(t || t) = 0, and >= 0 for normalised distributions (Gibbs)
    assert abs(kl(log_t, t)) < 1e-14 and kl(x, t / t.sum(axis=1, keepdims=True)) >= -1e-14
    # batchmean = sum / N = mean * C
    total = KLDivLoss(reduction="sum")(x, t)
    np.testing.assert_allclose(kl(x, t), total / n, rtol=1e-12)
    np.testing.assert_allclose(KLDivLoss(reduction="mean")(x, t), total / (n * c), rtol=1e-12)


# -- PoissonNLLLoss -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["N", "NC"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_parity(shape, reduction, log_input, full, dtype):
    scratch = PoissonNLLLoss(log_input, full, reduction=reduction)
    twin = torch.nn.PoissonNLLLoss(log_input, full, reduction=reduction)
    shape = SHAPES[shape]
    x = _rng().standard_normal(shape) if log_input else _rng().uniform(0.1, 4.0, shape)
    check_module(scratch, twin, x.astype(dtype), _counts(shape).astype(dtype), requires_grad=INPUT_ONLY).assert_passed()


def test_poisson_nll_eps_parity():
    x = _rng().uniform(0.0, 2.0, 5)
    x[0] = 0.0  # log(0 + eps)
    check_module(PoissonNLLLoss(False, eps=1e-3), torch.nn.PoissonNLLLoss(False, eps=1e-3), x, _counts(5),
                 requires_grad=INPUT_ONLY).assert_passed()


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_gradcheck(log_input, full):
    x = _rng().standard_normal((3, 4)) if log_input else _rng().uniform(0.5, 3.0, (3, 4))
    assert gradcheck(PoissonNLLLoss(log_input, full, reduction="none"), x, _counts((3, 4)),
                     requires_grad=INPUT_ONLY) == []


@given(st.integers(1, 8), st.integers(0, 2**32 - 1))
@examples(20)
def test_poisson_nll_log_rate_is_the_rate_in_log_space(n, seed):
    u, y = _rng(seed).standard_normal(n), _counts(n, seed)
    by_log, by_rate = PoissonNLLLoss(True, reduction="none"), PoissonNLLLoss(False, eps=0.0, reduction="none")
    rate = np.exp(u)
    np.testing.assert_allclose(by_log(u, y), by_rate(rate, y), rtol=1e-12, atol=1e-12)
    # chain rule: dl/du = dl/drate * rate
    grad = _rng(seed + 1).standard_normal(n)
    np.testing.assert_allclose(by_log.backward(grad), by_rate.backward(grad) * rate, rtol=1e-10, atol=1e-12)


# -- GaussianNLLLoss ------------------------------------------------------------------------------

# var forms torch accepts for an input of shape (4, 3): its shape, an axis of size 1, one axis short
VAR_SHAPES = {"same": (4, 3), "axis1": (4, 1), "axis0": (1, 3), "short": (4,)}


@pytest.mark.parametrize("var_shape", VAR_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_parity(var_shape, reduction, full, dtype):
    scratch = GaussianNLLLoss(full=full, reduction=reduction)
    twin = torch.nn.GaussianNLLLoss(full=full, reduction=reduction)
    mu, y = (_rng(s).standard_normal((4, 3)).astype(dtype) for s in (0, 1))
    var = _rng(2).uniform(0.2, 2.0, VAR_SHAPES[var_shape]).astype(dtype)
    check_module(scratch, twin, mu, y, var, requires_grad=(True, False, True)).assert_passed()


def test_gaussian_nll_var_below_eps_is_clamped_but_keeps_its_gradient_like_torch():
    mu, y = np.array([0.3, 2e-6, 0.1]), np.array([0.0, 0.0, 0.4])
    var = np.array([0.5, 1e-9, 0.0])  # clamped at eps = 1e-6
    check_module(GaussianNLLLoss(reduction="sum"), torch.nn.GaussianNLLLoss(reduction="sum"), mu, y, var,
                 requires_grad=(True, False, True)).assert_passed()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_float_var_parity(reduction, dtype):
    mu, y = (_rng(s).standard_normal((4, 3)).astype(dtype) for s in (0, 1))
    scratch, twin = GaussianNLLLoss(reduction=reduction), torch.nn.GaussianNLLLoss(reduction=reduction)
    mu_t = torch.tensor(mu, requires_grad=True)
    theirs = twin(mu_t, torch.tensor(y), 0.7)
    grad = _rng(3).standard_normal(theirs.shape).astype(dtype)
    theirs.backward(torch.tensor(grad))
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(scratch(mu, y, 0.7), theirs.detach().numpy(), rtol=tolerance)
    np.testing.assert_allclose(scratch.backward(grad), mu_t.grad.numpy(), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("var_shape", VAR_SHAPES)
def test_gaussian_nll_gradcheck(var_shape):
    mu, y = (_rng(s).standard_normal((4, 3)) for s in (0, 1))
    var = _rng(2).uniform(0.2, 2.0, VAR_SHAPES[var_shape])
    assert gradcheck(GaussianNLLLoss(reduction="none", full=True), mu, y, var, requires_grad=(True, False, True)) == []


@given(st.integers(1, 6), st.integers(1, 4), st.floats(0.05, 5.0), st.integers(0, 2**32 - 1))
@examples(20)
def test_gaussian_nll_shared_var_forms_are_the_full_var(n, d, scale, seed):
    mu, y = (_rng(seed + s).standard_normal((n, d)) for s in (0, 1))
    var = _rng(seed + 2).uniform(0.1, 1.0, (n, 1)) * scale
    full = np.broadcast_to(var, (n, d)).copy()
    short, shared, every = (GaussianNLLLoss(reduction="sum") for _ in range(3))
    expected = every(mu, y, full)
    np.testing.assert_allclose(short(mu, y, var[:, 0]), expected, rtol=1e-12)
    np.testing.assert_allclose(shared(mu, y, var), expected, rtol=1e-12)
    dmu, dvar = every.backward()
    np.testing.assert_allclose(short.backward()[1], dvar.sum(axis=1), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(shared.backward()[0], dmu, rtol=1e-12)
    # the variance that minimises the loss of one value is the squared error (when above eps)
    best = GaussianNLLLoss(reduction="sum")
    best(mu, y, (mu - y) ** 2 + 1e-3)
    assert np.all(np.abs(best.backward()[1]) < 1e-3 / ((mu - y) ** 2 + 1e-3) ** 2)


# -- bad input ------------------------------------------------------------------------------------


def test_gaussian_nll_refusals():
    mu = np.zeros((4, 3))
    loss = GaussianNLLLoss()
    with pytest.raises(ValueError, match="var has negative entry"):
        loss(mu, mu, np.full((4, 3), -0.1))
    with pytest.raises(ValueError, match="var has negative entry"):
        loss(mu, mu, -1.0)
    for bad in [(4, 2), (3,), (1, 1), (4, 3, 1)]:
        with pytest.raises(ValueError, match=r"var is of incorrect size: got .* for input \(4, 3\)"):
            loss(mu, mu, np.ones(bad))
    with pytest.raises(TypeError, match="var must be a numpy.ndarray or a Python float, got int"):
        loss(mu, mu, 1)
    with pytest.raises(TypeError, match="var has dtype float32"):
        loss(mu, mu, np.ones((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected target of shape \(4, 3\).*got \(4, 1\)"):
        loss(mu, np.zeros((4, 1)), np.ones((4, 3)))


def test_torch_refuses_the_same_var():
    with pytest.raises(ValueError, match="var is of incorrect size"):
        torch.nn.GaussianNLLLoss()(torch.zeros(4, 3), torch.zeros(4, 3), torch.ones(1, 1))
    with pytest.raises(ValueError, match="var has negative entry"):
        torch.nn.GaussianNLLLoss()(torch.zeros(4, 3), torch.zeros(4, 3), -torch.ones(4, 3))


@pytest.mark.parametrize("loss", [KLDivLoss(), PoissonNLLLoss(), GaussianNLLLoss()],
                         ids=lambda loss: type(loss).__name__)
def test_target_refusals(loss):
    extra = (np.ones(3),) if isinstance(loss, GaussianNLLLoss) else ()
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\).*got \(3, 1\)"):
        loss(np.zeros(3), np.zeros((3, 1)), *extra)
    with pytest.raises(TypeError, match="has dtype float32"):
        loss(np.zeros(3), np.zeros(3, dtype=np.float32), *extra)


def test_options_and_defaults_match_torch():
    with pytest.raises(ValueError, match="reduction must be one of"):
        PoissonNLLLoss(reduction="batchmean")
    assert KLDivLoss(reduction="batchmean").reduction == "batchmean"
    for mine, theirs, names in [(KLDivLoss(), torch.nn.KLDivLoss(), ["reduction", "log_target"]),
                                (PoissonNLLLoss(), torch.nn.PoissonNLLLoss(),
                                 ["log_input", "full", "eps", "reduction"]),
                                (GaussianNLLLoss(), torch.nn.GaussianNLLLoss(), ["full", "eps", "reduction"])]:
        assert [getattr(mine, name) for name in names] == [getattr(theirs, name) for name in names]


def _as_list(grads):
    return list(grads) if isinstance(grads, tuple) else [grads]


def _likelihood_cases(seed):
    x, t = _kl_data((3, 4), False, np.float64, seed)
    mu, y = (_rng(seed + s).standard_normal((3, 4)) for s in (0, 1))
    var = _rng(seed + 2).uniform(0.2, 2.0, (3, 1))
    return [(KLDivLoss, {}, (x, t)), (KLDivLoss, {"log_target": True}, _kl_data((3, 4), True, np.float64, seed)),
            (PoissonNLLLoss, {"full": True}, (x, _counts((3, 4), seed))), (GaussianNLLLoss, {}, (mu, y, var))]


@given(st.integers(0, 2**32 - 1))
@examples(10)
def test_sum_is_mean_times_count_and_none_sums_to_sum(seed):
    for cls, kwargs, inputs in _likelihood_cases(seed):
        total, mean, each = (cls(reduction=r, **kwargs) for r in ("sum", "mean", "none"))
        count = inputs[0].size
        np.testing.assert_allclose(total(*inputs), mean(*inputs) * count, rtol=1e-12)
        np.testing.assert_allclose(each(*inputs).sum(), total(*inputs), rtol=1e-12)
        grads = [_as_list(total.backward()), _as_list(mean.backward()),
                 _as_list(each.backward(np.ones(inputs[0].shape)))]
        for g_sum, g_mean, g_each in zip(*grads, strict=True):  # dL/dinput (and dL/dvar)
            np.testing.assert_allclose(g_sum, g_mean * count, rtol=1e-12)
            np.testing.assert_allclose(g_each, g_sum, rtol=1e-12)
