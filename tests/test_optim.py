"""Optimizers: 50 steps against torch.optim on identical gradients, inside full training, dtype, bad hyperparameters."""

import numpy as np
import pytest
import torch

import scratchnet
import torchnet
from parity import train_side_by_side
from scratchnet.data import load_lecture_data
from scratchnet.nn import Parameter

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "betas": (0.3, 0.5), "weight_decay": 0.0}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.001, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.001, "centered": True}),
    ("RMSprop", {"lr": 0.001, "centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
]
IDS = [f"{name}{kwargs or ''}" for name, kwargs in CONFIGS]
SHAPES = [(4, 3), (3,), (2, 2)]


def _build(name, kwargs, dtype, seed=0):
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    scratch_params = [Parameter(p.copy()) for p in initial]
    torch_params = [torch.tensor(p.copy(), requires_grad=True) for p in initial]
    return (scratch_params, getattr(scratchnet.optim, name)(scratch_params, **kwargs),
            torch_params, getattr(torch.optim, name)(torch_params, **kwargs))


@pytest.mark.parametrize("name,kwargs", [("Adam", {}), ("AdamW", {"amsgrad": True}), ("Adam", {"weight_decay": 0.1})])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_parameters_and_transposed_gradients_match_torch(name, kwargs, dtype):
    """A (300, 300) parameter, larger than the CPU caches, matches torch's update also for a
    gradient that is not C-contiguous (a transposed view)."""
    rng = np.random.default_rng(0)
    initial = rng.standard_normal((300, 300)).astype(dtype)
    mine, theirs = Parameter(initial.copy()), torch.tensor(initial.copy(), requires_grad=True)
    scratch_opt = getattr(scratchnet.optim, name)([mine], lr=0.01, **kwargs)
    torch_opt = getattr(torch.optim, name)([theirs], lr=0.01, **kwargs)
    for step in range(5):
        grad = rng.standard_normal((300, 300)).astype(dtype)
        mine.grad = grad.T if step % 2 else grad.copy()  # odd steps: a non-contiguous view
        theirs.grad = torch.tensor(np.ascontiguousarray(mine.grad))
        scratch_opt.step()
        torch_opt.step()
        tolerance = 1e-12 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=tolerance, atol=tolerance)
    assert mine.data.dtype == dtype and scratch_opt.state[mine]["exp_avg"].dtype == dtype


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_50_steps_match_torch_on_identical_gradients(name, kwargs):
    scratch_params, scratch_opt, torch_params, torch_opt = _build(name, kwargs, np.float64)
    rng = np.random.default_rng(1)
    for step in range(50):
        for mine, theirs in zip(scratch_params, torch_params, strict=True):
            grad = rng.standard_normal(mine.shape)
            if step % 7 == 3:
                grad[...] = 0.0  # zero gradients: sqrt(0) + eps denominators and decaying moments
            mine.grad, theirs.grad = grad.copy(), torch.tensor(grad)
        scratch_opt.step()
        torch_opt.step()
        for mine, theirs in zip(scratch_params, torch_params, strict=True):
            np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name}{kwargs} step {step + 1}")


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_skips_parameters_without_gradient(name, kwargs):
    scratch_params, scratch_opt, torch_params, torch_opt = _build(name, kwargs, np.float64)
    before = scratch_params[1].data.copy()
    for mine, theirs in zip(scratch_params[::2], torch_params[::2], strict=True):
        mine.grad, theirs.grad = np.ones(mine.shape), torch.ones(mine.shape, dtype=torch.float64)
    scratch_opt.step()
    torch_opt.step()
    np.testing.assert_array_equal(scratch_params[1].data, before)
    np.testing.assert_allclose(scratch_params[0].data, torch_params[0].detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_float32_parameters_and_state_stay_float32(name, kwargs):
    scratch_params, scratch_opt, torch_params, torch_opt = _build(name, kwargs, np.float32)
    rng = np.random.default_rng(1)
    for _ in range(5):
        for mine, theirs in zip(scratch_params, torch_params, strict=True):
            grad = rng.standard_normal(mine.shape).astype(np.float32)
            mine.grad, theirs.grad = grad.copy(), torch.tensor(grad)
        scratch_opt.step()
        torch_opt.step()
    for param in scratch_params:
        assert param.data.dtype == np.float32
        for key, value in scratch_opt.state.get(param, {}).items():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32, key
    for mine, theirs in zip(scratch_params, torch_params, strict=True):  # and close to torch's float32 run
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,lr,kwargs", [
    ("SGD", 0.05, {"momentum": 0.9, "nesterov": True}),
    ("Adam", 1e-3, {"amsgrad": True}),
    ("AdamW", 1e-3, {"weight_decay": 0.1}),
    ("RMSprop", 1e-3, {"centered": True, "momentum": 0.5}),
    ("Adagrad", 1e-2, {"lr_decay": 0.01}),
])
def test_inside_full_training(name, lr, kwargs):
    data = load_lecture_data(np.float64)
    torch.manual_seed(0)
    report = train_side_by_side(scratchnet.MLP(20, 16, 2, dtype=np.float64), torchnet.MLP(20, 16, 2, dtype=torch.float64),
                                data, epochs=5, optimizer=name, lr=lr, optimizer_kwargs=kwargs)
    assert report.passed, report.failures
    assert report.max_abs_diff["param"] < 1e-12


def test_adamw_decay_is_decoupled_from_the_moments():
    # A parameter with zero gradient: Adam's coupled decay feeds weight_decay * p into m and v and
    # moves p by ~lr; AdamW only shrinks it by the factor (1 - lr * weight_decay).
    adam_param, adamw_param = Parameter(np.array([2.0])), Parameter(np.array([2.0]))
    adam = scratchnet.optim.Adam([adam_param], lr=0.1, weight_decay=0.5)
    adamw = scratchnet.optim.AdamW([adamw_param], lr=0.1, weight_decay=0.5)
    for param, opt in ((adam_param, adam), (adamw_param, adamw)):
        param.grad = np.zeros(1)
        opt.step()
    np.testing.assert_allclose(adamw_param.data, [2.0 * (1 - 0.1 * 0.5)], rtol=1e-15)
    np.testing.assert_allclose(adam_param.data, [2.0 - 0.1], rtol=1e-7)


def test_defaults_match_torch():
    param = [torch.zeros(1, requires_grad=True)]
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        mine = getattr(scratchnet.optim, name)([Parameter(np.zeros(1))]).defaults
        theirs = getattr(torch.optim, name)(param).defaults
        for key, value in mine.items():
            assert theirs[key] == value, (name, key)


@pytest.mark.parametrize("name,kwargs,message", [
    ("AdamW", {"lr": -1.0}, "Invalid learning rate: -1.0"),
    ("AdamW", {"betas": (1.0, 0.9)}, "Invalid beta parameter at index 0: 1.0"),
    ("AdamW", {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ("RMSprop", {"lr": -1.0}, "Invalid learning rate"),
    ("RMSprop", {"alpha": -0.5}, "Invalid alpha value: -0.5"),
    ("RMSprop", {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("RMSprop", {"eps": -1e-8}, "Invalid epsilon value"),
    ("Adagrad", {"lr_decay": -0.1}, "Invalid lr_decay value: -0.1"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "Invalid initial_accumulator_value value: -1.0"),
    ("Adagrad", {"eps": -1.0}, "Invalid epsilon value"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
])
def test_bad_hyperparameters(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(scratchnet.optim, name)([Parameter(np.zeros(1))], **kwargs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_bad_params(name):
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(scratchnet.optim, name)([])
    with pytest.raises(TypeError, match="can only optimize Parameters"):
        getattr(scratchnet.optim, name)([np.zeros(1)])
