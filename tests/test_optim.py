"""Optimizers: 50 steps against torch.optim on identical gradients (every option), inside full training,
dtype, signatures and defaults, refusals with torch's messages, and properties of each rule."""

import copy
import inspect
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet
import torchnet
from hypothesis_profiles import examples
from parity import train_side_by_side
from scratchnet.data import load_lecture_data
from scratchnet.nn import Parameter
from scratchnet.optim.adadelta import Adadelta
from scratchnet.optim.adagrad import Adagrad
from scratchnet.optim.adam import Adam
from scratchnet.optim.adamax import Adamax
from scratchnet.optim.adamw import AdamW
from scratchnet.optim.asgd import ASGD
from scratchnet.optim.nadam import NAdam
from scratchnet.optim.radam import RAdam
from scratchnet.optim.rmsprop import RMSprop
from scratchnet.optim.sgd import SGD

# Imported from their modules, so the tests see every optimizer whatever scratchnet.optim exports.
OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, NAdam, RAdam, Adamax, Adadelta, ASGD)}

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "maximize": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "betas": (0.3, 0.5), "weight_decay": 0.0}),
    ("AdamW", {"lr": 0.01, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.001, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.001, "centered": True}),
    ("RMSprop", {"lr": 0.001, "centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.001, "maximize": True, "momentum": 0.5}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1}),  # rho_t > 5 from step 7
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.5), "maximize": True}),  # rho_inf = 3: never rectified
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-4, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 10, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.05, "t0": 0, "maximize": True}),
    # torch's kernel choices, which change nothing here: torch's other kernels must agree. (torch's
    # differentiable=True cannot step leaf tensors, so it has no twin run here; it is accepted. torch's
    # foreach ASGD computes eta in float32 arithmetic from its float32 step tensor, ~1e-7 away from
    # its own default single-tensor path, which is the one followed here.)
    ("SGD", {"lr": 0.05, "momentum": 0.9, "foreach": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "fused": True}),
    ("Adam", {"lr": 0.01, "foreach": True, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "fused": True}),
    ("AdamW", {"lr": 0.01, "fused": True, "amsgrad": True}),
    ("RMSprop", {"lr": 0.001, "foreach": True, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "fused": True, "lr_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "foreach": True, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "foreach": True}),
    ("Adamax", {"lr": 0.01, "foreach": True}),
    ("Adadelta", {"foreach": True}),
]
IDS = [f"{name}{kwargs or ''}" for name, kwargs in CONFIGS]
SHAPES = [(4, 3), (3,), (2, 2)]


def twins(name, kwargs, dtype, seed=0, shapes=SHAPES):
    """The same random parameters on both sides and optimizer ``name`` over them on each."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    scratch_params = [Parameter(p.copy()) for p in initial]
    torch_params = [torch.tensor(p.copy(), requires_grad=True) for p in initial]
    return (scratch_params, OPTIMIZERS[name](scratch_params, **kwargs),
            torch_params, getattr(torch.optim, name)(torch_params, **kwargs))


def step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng, zero=False):
    """One step of each optimizer on the same random gradients (all zero if ``zero``)."""
    for mine, theirs in zip(scratch_params, torch_params, strict=True):
        grad = np.zeros(mine.shape, mine.dtype) if zero else rng.standard_normal(mine.shape).astype(mine.dtype)
        mine.grad, theirs.grad = grad.copy(), torch.tensor(grad)
    scratch_opt.step()
    torch_opt.step()


def assert_params_match(scratch_params, torch_params, tolerance, message=""):
    for mine, theirs in zip(scratch_params, torch_params, strict=True):
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=tolerance, atol=tolerance, err_msg=message)


@pytest.mark.parametrize("name,kwargs", [("Adam", {}), ("AdamW", {"amsgrad": True}), ("Adam", {"weight_decay": 0.1})])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_parameters_and_transposed_gradients_match_torch(name, kwargs, dtype):
    """A (300, 300) parameter, larger than the CPU caches, matches torch's update also for a
    gradient that is not C-contiguous (a transposed view)."""
    rng = np.random.default_rng(0)
    initial = rng.standard_normal((300, 300)).astype(dtype)
    mine, theirs = Parameter(initial.copy()), torch.tensor(initial.copy(), requires_grad=True)
    scratch_opt = OPTIMIZERS[name]([mine], lr=0.01, **kwargs)
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
    scratch_params, scratch_opt, torch_params, torch_opt = twins(name, kwargs, np.float64)
    rng = np.random.default_rng(1)
    for step in range(50):
        # zero gradients now and then: sqrt(0) + eps denominators and decaying moments
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng, zero=step % 7 == 3)
        assert_params_match(scratch_params, torch_params, 1e-12, f"{name}{kwargs} step {step + 1}")


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_skips_parameters_without_gradient(name, kwargs):
    scratch_params, scratch_opt, torch_params, torch_opt = twins(name, kwargs, np.float64)
    before = scratch_params[1].data.copy()
    for mine, theirs in zip(scratch_params[::2], torch_params[::2], strict=True):
        mine.grad, theirs.grad = np.ones(mine.shape), torch.ones(mine.shape, dtype=torch.float64)
    scratch_opt.step()
    torch_opt.step()
    np.testing.assert_array_equal(scratch_params[1].data, before)
    np.testing.assert_allclose(scratch_params[0].data, torch_params[0].detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_float32_parameters_and_state_stay_float32(name, kwargs):
    scratch_params, scratch_opt, torch_params, torch_opt = twins(name, kwargs, np.float32)
    rng = np.random.default_rng(1)
    for _ in range(10):
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng)
    for param in scratch_params:
        assert param.data.dtype == np.float32
        for key, value in scratch_opt.state.get(param, {}).items():
            assert np.asarray(value).dtype == np.float32, key  # arrays, and scalars like torch's float32 tensors
    # float32 rounding, not a different rule: NumPy and torch's kernels may round a step differently
    # by an ulp of the values (~1e-7; SGD with momentum already at step 1), so after 10 steps up to
    # ~10 ulps. Measured worst: 2.4e-7 (SGD nesterov, ASGD), so 1e-6 holds with a 4x margin.
    assert_params_match(scratch_params, torch_params, 1e-6)


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
    adam = Adam([adam_param], lr=0.1, weight_decay=0.5)
    adamw = AdamW([adamw_param], lr=0.1, weight_decay=0.5)
    for param, opt in ((adam_param, adam), (adamw_param, adamw)):
        param.grad = np.zeros(1)
        opt.step()
    np.testing.assert_allclose(adamw_param.data, [2.0 * (1 - 0.1 * 0.5)], rtol=1e-15)
    np.testing.assert_allclose(adam_param.data, [2.0 - 0.1], rtol=1e-7)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_signature_and_defaults_match_torch(name):
    """Same argument names, order, kinds (positional or keyword-only) and defaults as torch's
    __init__, and the same group defaults, key order included (state dicts are built from them)."""
    ours = inspect.signature(OPTIMIZERS[name].__init__).parameters.values()
    theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters.values()
    assert [(p.name, p.kind, p.default) for p in ours] == [(p.name, p.kind, p.default) for p in theirs]
    mine = OPTIMIZERS[name]([Parameter(np.zeros(1))]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)]).defaults
    assert list(mine.items()) == list(theirs.items())


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_repr_matches_torch(name):
    kwargs = {"lr": 0.5} if name == "SGD" else {"lr": 0.5, "maximize": True}
    mine = OPTIMIZERS[name]([{"params": [Parameter(np.zeros(1))]}, {"params": [Parameter(np.zeros(1))], "lr": 0.25}],
                            **kwargs)
    theirs = getattr(torch.optim, name)([{"params": [torch.zeros(1, requires_grad=True)]},
                                         {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.25}], **kwargs)
    assert repr(mine) == repr(theirs)


BAD_HYPERPARAMETERS = [
    ("SGD", {"lr": -1.0}), ("SGD", {"momentum": -0.5}), ("SGD", {"weight_decay": -0.1}), ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("Adam", {"lr": float("nan")}), ("Adam", {"eps": -1e-8}), ("Adam", {"betas": (0.9, 1.0)}),
    ("AdamW", {"lr": -1.0}), ("AdamW", {"betas": (1.0, 0.9)}), ("AdamW", {"betas": (-0.1, 0.9)}),
    ("AdamW", {"weight_decay": -0.1}),
    ("RMSprop", {"lr": -1.0}), ("RMSprop", {"alpha": -0.5}), ("RMSprop", {"momentum": -0.5}),
    ("RMSprop", {"eps": -1e-8}), ("RMSprop", {"weight_decay": -1.0}),
    ("Adagrad", {"lr_decay": -0.1}), ("Adagrad", {"initial_accumulator_value": -1.0}), ("Adagrad", {"eps": -1.0}),
    ("NAdam", {"lr": -1.0}), ("NAdam", {"eps": -1.0}), ("NAdam", {"betas": (0.9, 1.5)}),
    ("NAdam", {"weight_decay": -1.0}), ("NAdam", {"momentum_decay": -1e-3}),
    ("RAdam", {"lr": -1.0}), ("RAdam", {"betas": (1.0, 0.9)}), ("RAdam", {"weight_decay": -1.0}),
    ("Adamax", {"eps": -1.0}), ("Adamax", {"betas": (0.9, -0.1)}), ("Adamax", {"weight_decay": -1.0}),
    ("Adadelta", {"lr": -1.0}), ("Adadelta", {"rho": 1.5}), ("Adadelta", {"rho": -0.1}), ("Adadelta", {"eps": -1.0}),
    ("Adadelta", {"weight_decay": -1.0}),
    ("ASGD", {"lr": -1.0}), ("ASGD", {"weight_decay": -1.0}),
    ("SGD", {"fused": True, "differentiable": True}), ("Adam", {"fused": True, "foreach": True}),
    ("AdamW", {"fused": True, "differentiable": True}), ("Adagrad", {"fused": True, "foreach": True}),
]


@pytest.mark.parametrize("name,kwargs", BAD_HYPERPARAMETERS, ids=[f"{n}{k}" for n, k in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_are_refused_as_torch_refuses_them(name, kwargs):
    """torch is the oracle: the same exception type and the same message, before anything is built."""
    with pytest.raises((ValueError, RuntimeError)) as theirs:
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)
    with pytest.raises(type(theirs.value), match=f"^{re.escape(str(theirs.value))}$"):
        OPTIMIZERS[name]([Parameter(np.zeros(1))], **kwargs)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_bad_params(name):
    with pytest.raises(ValueError, match="empty parameter list"):
        OPTIMIZERS[name]([])
    with pytest.raises(TypeError, match="can only optimize Parameters"):
        OPTIMIZERS[name]([np.zeros(1)])
    with pytest.raises(TypeError, match="should be an iterable of Parameters or dicts"):
        OPTIMIZERS[name](Parameter(np.zeros(1)))
    with pytest.raises(TypeError, match="ordered collections"):
        OPTIMIZERS[name]([{"params": {Parameter(np.zeros(1))}}])
    shared = Parameter(np.zeros(1))
    with pytest.raises(ValueError, match="more than one parameter group"):
        OPTIMIZERS[name]([{"params": [shared]}, {"params": [shared]}])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_step_returns_the_closures_loss_evaluated_first(name):
    param = Parameter(np.array([1.0, -2.0]))
    optimizer = OPTIMIZERS[name]([param], lr=0.1)

    def closure():
        param.grad = 2 * param.data  # loss = |p|^2, gradient computed before the update
        return float(param.data @ param.data)

    assert optimizer.step(closure) == 5.0
    assert optimizer.step() is None  # without a closure: None, as torch


BAD_GRADS = {  # torch refuses each when it is assigned to .grad; here step() refuses it
    "fewer elements": (np.ones(1), ValueError, "has shape (1,) and dtype float64, but the parameter has shape (3,) "
                       "and dtype float64"),
    "an extra axis": (np.ones((3, 1)), ValueError, "has shape (3, 1) and dtype float64, but the parameter has shape "
                      "(3,) and dtype float64"),
    "another dtype": (np.ones(3, np.float32), ValueError, "has shape (3,) and dtype float32, but the parameter has "
                      "shape (3,) and dtype float64"),
    "an int array": (np.ones(3, np.int64), ValueError, "has shape (3,) and dtype int64, but the parameter has shape "
                     "(3,) and dtype float64"),
    "a list": ([1.0, 2.0, 3.0], TypeError, "should be a numpy.ndarray or None, got list"),
    "a number": (1.0, TypeError, "should be a numpy.ndarray or None, got float"),
}


@pytest.mark.parametrize("bad", BAD_GRADS)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_bad_gradients_are_refused_before_any_change(name, bad):
    """The bad gradient sits on the second group's parameter: the first, with a good gradient, and every
    state must be untouched, so the check runs over all parameters before any update."""
    grad, error, message = BAD_GRADS[bad]
    good, wrong = Parameter(np.ones(2)), Parameter(np.array([1.0, 2.0, 3.0]))
    optimizer = OPTIMIZERS[name]([{"params": [good]}, {"params": [wrong]}], lr=0.1)
    good.grad, wrong.grad = np.ones(2), np.ones(3)
    optimizer.step()  # state exists now
    before = copy.deepcopy((good.data, wrong.data, optimizer.state_dict()))
    good.grad, wrong.grad = np.ones(2), grad
    with pytest.raises(error, match=f"^the gradient of parameter 0 of parameter group 1 {re.escape(message)}$"):
        optimizer.step()
    after = (good.data, wrong.data, optimizer.state_dict())
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    for index, entry in before[2]["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(after[2]["state"][index][key], value, err_msg=key)
    torch_param = torch.zeros(3, dtype=torch.float64, requires_grad=True)  # torch refuses it too
    with pytest.raises((RuntimeError, TypeError)):
        torch_param.grad = torch.tensor(grad) if isinstance(grad, np.ndarray) else grad


def test_gradient_checks_can_fail_a_test_without_them():
    """Without the check, numpy broadcasts a (1,) gradient over a (3,) parameter and steps every element."""
    param = Parameter(np.zeros(3))
    param.grad = np.ones(1)
    SGD([param], lr=0.1)._update(param.data, param.grad, {}, {"lr": 0.1, "momentum": 0, "dampening": 0,
                                                             "weight_decay": 0, "nesterov": False, "maximize": False})
    np.testing.assert_array_equal(param.data, [-0.1, -0.1, -0.1])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_non_finite_gradients_are_stepped_with_as_torch(name):
    """torch does not refuse NaN or inf gradients: they flow into the parameters and state."""
    scratch_params, scratch_opt, torch_params, torch_opt = twins(name, {}, np.float64, shapes=[(4,)])
    grad = np.array([np.nan, 1.0, np.inf, -np.inf])
    scratch_params[0].grad, torch_params[0].grad = grad.copy(), torch.tensor(grad)
    with np.errstate(invalid="ignore"):
        scratch_opt.step()
    torch_opt.step()
    mine, theirs = scratch_params[0].data, torch_params[0].detach().numpy()
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)  # NaN == NaN here


DUPLICATE_WARNING = ("optimizer contains a parameter group with duplicate parameters; in future, this will cause an "
                     "error; see github.com/pytorch/pytorch/issues/40967 for more information")


# torch's result for a duplicated parameter depends on its kernel (foreach and fused differ from its
# default single-tensor path), and its default SGD with momentum gives the second listing a buffer of
# its own on the first step; these are left out (see the README's deliberate differences).
DUPLICATE_CONFIGS = [(name, kwargs) for name, kwargs in CONFIGS
                     if not kwargs.get("foreach") and not kwargs.get("fused")
                     and not (name == "SGD" and kwargs.get("momentum"))]


@pytest.mark.parametrize("name,kwargs", DUPLICATE_CONFIGS, ids=[f"{n}{k or ''}" for n, k in DUPLICATE_CONFIGS])
def test_a_duplicated_parameter_warns_and_steps_twice_as_torch(name, kwargs):
    """torch warns (it neither refuses nor deduplicates), steps the parameter once per listing, and numbers
    a duplicate by its last position in state_dict."""
    scratch_params, _, torch_params, _ = twins(name, kwargs, np.float64, shapes=[(2,), (1,)])
    with pytest.warns(UserWarning) as their_warning:
        torch_opt = getattr(torch.optim, name)([torch_params[0], torch_params[1], torch_params[0]], **kwargs)
    assert str(their_warning[0].message) == DUPLICATE_WARNING
    with pytest.warns(UserWarning, match=f"^{re.escape(DUPLICATE_WARNING)}$"):
        scratch_opt = OPTIMIZERS[name]([scratch_params[0], scratch_params[1], scratch_params[0]], **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(4):
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng)
    assert_params_match(scratch_params, torch_params, 1e-12)
    saved, their_saved = scratch_opt.state_dict(), torch_opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [g["params"] for g in their_saved["param_groups"]] == [
        [2, 1, 2]]
    assert list(saved["state"]) == list(their_saved["state"])


def test_a_duplicated_parameter_steps_twice():
    """Listed twice, plain SGD moves a parameter by 2 lr g a step, where listed once it moves by lr g."""
    param = Parameter(np.array([1.0, -2.0]))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optimizer = SGD([param, param], lr=0.1)
    param.grad = np.array([0.5, 1.0])
    optimizer.step()
    np.testing.assert_allclose(param.data, [1.0 - 2 * 0.05, -2.0 - 2 * 0.1], rtol=1e-15)


# --- properties -------------------------------------------------------------------------------------

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
# Every option that changes the math, drawn per optimizer (the torch default first).
OPTIONS = {
    "SGD": {"momentum": [0.0, 0.9], "dampening": [0.0, 0.2], "weight_decay": [0.0, 0.1], "maximize": [False, True]},
    "Adam": {"weight_decay": [0.0, 0.1], "amsgrad": [False, True], "maximize": [False, True],
             "decoupled_weight_decay": [False, True]},
    "AdamW": {"weight_decay": [0.01, 0.0], "amsgrad": [False, True], "maximize": [False, True]},
    "RMSprop": {"momentum": [0.0, 0.5], "centered": [False, True], "weight_decay": [0.0, 0.1],
                "maximize": [False, True]},
    "Adagrad": {"lr_decay": [0.0, 0.1], "weight_decay": [0.0, 0.1], "initial_accumulator_value": [0.0, 0.5],
                "maximize": [False, True]},
    "NAdam": {"weight_decay": [0.0, 0.1], "momentum_decay": [4e-3, 0.05], "decoupled_weight_decay": [False, True],
              "maximize": [False, True]},
    "RAdam": {"weight_decay": [0.0, 0.1], "decoupled_weight_decay": [False, True], "betas": [(0.9, 0.999), (0.8, 0.9)],
              "maximize": [False, True]},
    "Adamax": {"weight_decay": [0.0, 0.1], "betas": [(0.9, 0.999), (0.5, 0.6)], "maximize": [False, True]},
    "Adadelta": {"rho": [0.9, 0.5], "weight_decay": [0.0, 0.1], "maximize": [False, True]},
    "ASGD": {"lambd": [1e-4, 0.1], "t0": [1e6, 2.0], "alpha": [0.75, 0.5], "weight_decay": [0.0, 0.1],
             "maximize": [False, True]},
}


@st.composite
def optimizer_configs(draw):
    name = draw(st.sampled_from(sorted(OPTIONS)))
    kwargs = {key: draw(st.sampled_from(values)) for key, values in OPTIONS[name].items()}
    if name == "SGD" and kwargs["momentum"] and draw(st.booleans()):
        kwargs.update(nesterov=True, dampening=0.0)
    kwargs["lr"] = draw(st.sampled_from([1e-3, 0.1, 1.0]))
    return name, kwargs


@given(optimizer_configs(), st.lists(shapes, min_size=1, max_size=3), st.integers(0, 2**32 - 1))
@examples(25)
def test_any_options_any_shapes_match_torch(config, param_shapes, seed):
    name, kwargs = config
    scratch_params, scratch_opt, torch_params, torch_opt = twins(name, kwargs, np.float64, seed, param_shapes)
    rng = np.random.default_rng(seed)
    for step in range(12):
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng)
    # relative 1e-11: lr = 1 moves parameters far from their start, and rounding grows with them
    assert_params_match(scratch_params, torch_params, 1e-11, f"{name}{kwargs}")


@given(optimizer_configs(), shapes, st.integers(0, 2**32 - 1))
@examples(15)
def test_maximize_is_minimizing_the_negated_gradient(config, shape, seed):
    name, kwargs = config
    kwargs = {**kwargs, "maximize": False}
    rng = np.random.default_rng(seed)
    initial = rng.standard_normal(shape)
    ascending, descending = Parameter(initial.copy()), Parameter(initial.copy())
    ascend = OPTIMIZERS[name]([ascending], **{**kwargs, "maximize": True})
    descend = OPTIMIZERS[name]([descending], **kwargs)
    for _ in range(4):
        grad = rng.standard_normal(shape)
        ascending.grad, descending.grad = grad, -grad
        ascend.step()
        descend.step()
    np.testing.assert_array_equal(ascending.data, descending.data)


@given(st.floats(1e-4, 1.0), shapes, st.integers(0, 2**32 - 1))
@examples(15)
def test_radam_and_adamax_first_steps_in_closed_form(lr, shape, seed):
    """RAdam's first steps (rho_t <= 5) are bias-corrected momentum SGD: at t = 1, p -= lr g.
    Adamax's first step: m = (1 - beta1) g, u = |g| + eps, so p -= lr g / (|g| + eps), ~lr sign(g)."""
    rng = np.random.default_rng(seed)
    initial, grad = rng.standard_normal(shape), rng.standard_normal(shape)
    radam_param, adamax_param = Parameter(initial.copy()), Parameter(initial.copy())
    radam, adamax = RAdam([radam_param], lr=lr), Adamax([adamax_param], lr=lr)
    radam_param.grad, adamax_param.grad = grad, grad
    radam.step()
    adamax.step()
    np.testing.assert_allclose(radam_param.data, initial - lr * grad, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(adamax_param.data, initial - lr * grad / (np.abs(grad) + 1e-8), rtol=1e-14, atol=1e-15)


@given(st.integers(0, 6), st.integers(8, 15), st.integers(0, 2**32 - 1))
@examples(15)
def test_asgd_ax_is_the_mean_of_the_iterates_after_t0(t0, steps, seed):
    """mu = 1 / max(1, t - t0) makes ax restart at p at step t0 + 2 and then average: after step k,
    ax = mean(p_{t0+2}, ..., p_k). Checked against iterates recorded here, not the optimizer's ax.
    mu is a float32 scalar (as torch's), so each weight of the average is off by up to 6e-8 relative;
    averaging the wrong window would be off by ~lr = 0.05."""
    rng = np.random.default_rng(seed)
    param = Parameter(rng.standard_normal(3))
    optimizer = ASGD([param], lr=0.05, t0=t0)
    iterates = []
    for _ in range(steps):
        param.grad = rng.standard_normal(3)
        optimizer.step()
        iterates.append(param.data.copy())
    np.testing.assert_allclose(optimizer.state[param]["ax"], np.mean(iterates[t0 + 1:], axis=0), rtol=1e-7, atol=1e-7)


def test_nadam_mu_product_is_float32_like_torchs():
    """torch multiplies mu_product in a float32 tensor; an exact float64 product drifts from it by ~1e-8
    relative, which moves the parameters past float64 parity. Here it is torch's float32 value."""
    scratch_params, scratch_opt, torch_params, torch_opt = twins("NAdam", {"lr": 0.1}, np.float64)
    rng = np.random.default_rng(0)
    exact = 1.0
    for step in range(1, 4):
        step_both(scratch_params, scratch_opt, torch_params, torch_opt, rng)
        exact *= 0.9 * (1 - 0.5 * 0.96 ** (step * 4e-3))
    mine, theirs = scratch_opt.state[scratch_params[0]]["mu_product"], torch_opt.state[torch_params[0]]["mu_product"]
    assert type(mine) is np.float32 and float(mine) == theirs.item()
    assert abs(float(mine) - exact) > 1e-10 * exact  # the float32 rounding matters at float64 parity's scale
