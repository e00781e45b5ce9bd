"""MultiplicativeLR, MultiStepLR, ConstantLR, PolynomialLR, ChainedScheduler, step(epoch) and torch's warnings:
the lr sequences equal torch's, bit for bit, over many steps and several parameter groups."""

import math
import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from scratchnet.optim import lr_scheduler
from test_schedulers import LAMBDAS, PHASES, lrs, run_twins, twin_optimizers


def _build(name, **kwargs):
    return lambda module, optimizer: getattr(module, name)(optimizer, **kwargs)


def _assert_same(name, base_lrs, steps, **kwargs):
    mine, theirs = run_twins(_build(name, **kwargs), *twin_optimizers(base_lrs), steps)
    assert mine == theirs


@given(lrs, st.sampled_from(sorted(LAMBDAS)), st.booleans(), st.integers(0, 40))
@examples(20)
def test_multiplicative_lr_matches_torch(base_lrs, name, per_group, steps):
    lr_lambda = [LAMBDAS[key] for key in sorted(LAMBDAS)][:len(base_lrs)] if per_group else LAMBDAS[name]
    _assert_same("MultiplicativeLR", base_lrs, steps, lr_lambda=lr_lambda)


@given(lrs, st.lists(st.integers(0, 30), max_size=6), st.floats(0.05, 1.0), st.integers(0, 40))
@examples(20)
def test_multi_step_lr_matches_torch(base_lrs, milestones, gamma, steps):
    # unsorted, repeated (counted twice) and 0 (never reached by the chainable form) milestones, as torch
    _assert_same("MultiStepLR", base_lrs, steps, milestones=milestones, gamma=gamma)


@given(lrs, st.floats(0.01, 1.0), st.integers(0, 10), st.integers(0, 20))
@examples(20)
def test_constant_lr_matches_torch(base_lrs, factor, total_iters, steps):
    _assert_same("ConstantLR", base_lrs, steps, factor=factor, total_iters=total_iters)


@given(lrs, st.integers(1, 12), st.floats(0.1, 3.0), st.integers(0, 30))
@examples(20)
def test_polynomial_lr_matches_torch(base_lrs, total_iters, power, steps):
    _assert_same("PolynomialLR", base_lrs, steps, total_iters=total_iters, power=power)


def test_defaults_are_torchs():
    """Built with defaults only, each follows torch's sequence (ConstantLR 1/3 for 5, PolynomialLR linear over 5)."""
    for name, kwargs in [("ConstantLR", {}), ("PolynomialLR", {}), ("MultiStepLR", {"milestones": [3]})]:
        _assert_same(name, [0.1, 0.02], 8, **kwargs)


def test_closed_forms():
    """The chainable recursions reach the closed forms of the docstrings (to rounding)."""
    base = 0.1
    formulas = {
        ("PolynomialLR", (("total_iters", 6), ("power", 2.0))): lambda t: base * (1 - min(t, 6) / 6) ** 2,
        ("MultiStepLR", (("milestones", (2, 5, 5)), ("gamma", 0.5))): lambda t: base * 0.5 ** ((t >= 2) + 2 * (t >= 5)),
        ("ConstantLR", (("factor", 0.25), ("total_iters", 3))): lambda t: base * (0.25 if t < 3 else 1.0),
        ("MultiplicativeLR", (("lr_lambda", LAMBDAS["exponential"]),)): lambda t: base * math.prod(
            0.95 ** k for k in range(1, t + 1)),
    }
    for (name, kwargs), formula in formulas.items():
        kwargs = {key: list(value) if isinstance(value, tuple) else value for key, value in kwargs}
        mine, _ = run_twins(_build(name, **kwargs), *twin_optimizers([base]), 10)
        assert [lr[0] for lr, _, _ in mine] == pytest.approx([formula(t) for t in range(11)], rel=1e-12, abs=0)


@given(lrs, st.lists(PHASES, min_size=1, max_size=3), st.integers(0, 30))
@examples(25)
def test_chained_scheduler_matches_torch(base_lrs, phases, steps):
    def build(module, optimizer):
        return module.ChainedScheduler([getattr(module, name)(optimizer, **kwargs) for name, kwargs in phases])

    mine, theirs = run_twins(build, *twin_optimizers(base_lrs), steps)
    assert mine == theirs


def test_chained_scheduler_multiplies_the_factors():
    """ExponentialLR(0.9) chained with ConstantLR(0.1 for 2 epochs): lr_t = base 0.9^t (0.1 if t < 2)."""
    mine, _ = run_twins(lambda m, opt: m.ChainedScheduler([m.ConstantLR(opt, factor=0.1, total_iters=2),
                                                              m.ExponentialLR(opt, gamma=0.9)]),
                        *twin_optimizers([1.0]), 6)
    expected = [0.9 ** t * (0.1 if t < 2 else 1.0) for t in range(7)]
    assert [lr[0] for lr, _, _ in mine] == pytest.approx(expected, rel=1e-12, abs=0)


CLOSED_FORMS = [
    ("StepLR", {"step_size": 3, "gamma": 0.7}),
    ("MultiStepLR", {"milestones": [4, 1, 4], "gamma": 0.5}),
    ("ConstantLR", {"factor": 0.3, "total_iters": 4}),
    ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 6}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("PolynomialLR", {"total_iters": 7, "power": 1.5}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 1e-3}),
    ("LambdaLR", {"lr_lambda": LAMBDAS["inverse_sqrt"]}),
    ("MultiplicativeLR", {"lr_lambda": LAMBDAS["exponential"]}),  # no closed form: get_lr, as torch
]


@pytest.mark.parametrize("name,kwargs", CLOSED_FORMS, ids=[name for name, _ in CLOSED_FORMS])
def test_step_to_an_epoch_warns_and_jumps_as_torch(name, kwargs):
    """step(epoch): torch's deprecation warning on both sides, then the closed form at that epoch."""
    epochs = [(5,), (0,), (), (11,), (2,), (), (), (20,), (3,)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mine, theirs = run_twins(_build(name, **kwargs), *twin_optimizers([0.3, 0.07]), len(epochs), epochs)
    assert mine == theirs
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    deprecations = [m for m in messages if m == lr_scheduler.EPOCH_DEPRECATION_WARNING]
    assert len(deprecations) == 2 * sum(1 for args in epochs if args)  # once per side and per step(epoch)


@pytest.mark.parametrize("name,kwargs", CLOSED_FORMS[:-2], ids=[name for name, _ in CLOSED_FORMS[:-2]])
@pytest.mark.parametrize("last_epoch", [0, 4, 9])
def test_resuming_at_an_epoch_continues_as_torch(name, kwargs, last_epoch):
    """last_epoch >= 0 with initial_lr in the groups (a resumed run): the same next steps as torch."""
    scratch_opt, torch_opt = twin_optimizers([0.02, 0.5])
    for scratch_group, torch_group in zip(scratch_opt.param_groups, torch_opt.param_groups):
        scratch_group["initial_lr"] = torch_group["initial_lr"] = scratch_group["lr"] * 3
    mine, theirs = run_twins(_build(name, last_epoch=last_epoch, **kwargs), scratch_opt, torch_opt, 12)
    assert mine == theirs


# -- torch's warnings -----------------------------------------------------------------------------

def _warnings_of(use):
    """The UserWarning messages that ``use(module, optimizer)`` raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        use()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("optimizer_first", [True, False])
def test_warns_when_the_scheduler_steps_before_the_optimizer_as_torch(optimizer_first):
    scratch_opt, torch_opt = twin_optimizers([0.1])
    mine = lr_scheduler.StepLR(scratch_opt, step_size=2)
    theirs = torch.optim.lr_scheduler.StepLR(torch_opt, step_size=2)

    def use(optimizer, scheduler):
        def steps():
            for _ in range(3):
                if optimizer_first:
                    optimizer.step()
                scheduler.step()
        return steps

    mine_warnings, their_warnings = _warnings_of(use(scratch_opt, mine)), _warnings_of(use(torch_opt, theirs))
    assert mine_warnings == their_warnings
    assert len(mine_warnings) == (0 if optimizer_first else 1)  # warned once, at the first step
    assert mine.get_last_lr() == theirs.get_last_lr()


def test_warns_when_the_optimizer_step_is_replaced_as_torch():
    scratch_opt, torch_opt = twin_optimizers([0.1])
    mine = lr_scheduler.ExponentialLR(scratch_opt, gamma=0.5)
    theirs = torch.optim.lr_scheduler.ExponentialLR(torch_opt, gamma=0.5)
    scratch_opt.step = lambda: None
    torch_opt.step = lambda: None
    assert _warnings_of(mine.step) == _warnings_of(theirs.step) != []


def test_get_lr_outside_step_warns_as_torch():
    scratch_opt, torch_opt = twin_optimizers([0.1])
    mine = lr_scheduler.ExponentialLR(scratch_opt, gamma=0.5)
    theirs = torch.optim.lr_scheduler.ExponentialLR(torch_opt, gamma=0.5)
    assert _warnings_of(mine.get_lr) == _warnings_of(theirs.get_lr) == [
        "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."]


def test_the_wrapped_optimizer_step_still_steps():
    """The step-tracking wrapper is transparent: the update happens, with the scheduled lr."""
    import numpy as np
    from scratchnet.nn import Parameter
    from scratchnet.optim import SGD

    param = Parameter(np.array([0.0]))
    optimizer = SGD([param], lr=1.0)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    for expected in (-1.0, -1.5, -1.75):
        param.grad = np.array([1.0])
        optimizer.step()
        scheduler.step()
        assert param.data[0] == expected


def test_a_deep_copy_of_the_optimizer_steps_itself():
    """The wrapped step belongs to its optimizer: a copy's step updates the copy's parameters only."""
    import copy

    import numpy as np
    from scratchnet.nn import Parameter
    from scratchnet.optim import SGD

    optimizer = SGD([Parameter(np.array([0.0]))], lr=1.0)
    lr_scheduler.StepLR(optimizer, step_size=1)
    twin = copy.deepcopy(optimizer)
    twin.param_groups[0]["params"][0].grad = np.array([1.0])
    twin.step()
    assert twin.param_groups[0]["params"][0].data[0] == -1.0
    assert optimizer.param_groups[0]["params"][0].data[0] == 0.0
    assert getattr(twin, "_opt_called", False) and not getattr(optimizer, "_opt_called", False)


# -- refusals, with torch's messages --------------------------------------------------------------

REFUSALS = [
    ("ConstantLR", {"factor": 1.5}, ValueError),
    ("ConstantLR", {"factor": -0.1}, ValueError),
    ("MultiplicativeLR", {"lr_lambda": 0.9}, TypeError),
    ("MultiplicativeLR", {"lr_lambda": [LAMBDAS["warmup"]] * 3}, ValueError),
    ("LambdaLR", {"lr_lambda": [LAMBDAS["warmup"]] * 3}, ValueError),
    ("StepLR", {"step_size": 2, "last_epoch": 3}, KeyError),
]


@pytest.mark.parametrize("name,kwargs,error", REFUSALS, ids=[f"{n}-{e.__name__}" for n, _, e in REFUSALS])
def test_refusals_match_torch(name, kwargs, error):
    scratch_opt, torch_opt = twin_optimizers([0.1, 0.2])
    with pytest.raises(error) as mine:
        getattr(lr_scheduler, name)(scratch_opt, **kwargs)
    with pytest.raises(error) as theirs:
        getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    assert str(mine.value) == str(theirs.value)
    assert [group["lr"] for group in scratch_opt.param_groups] == [0.1, 0.2]
    assert all("initial_lr" not in group for group in scratch_opt.param_groups)


def test_chained_scheduler_refusals_match_torch():
    scratch_opt, torch_opt = twin_optimizers([0.1])
    other_scratch, other_torch = twin_optimizers([0.1])
    for module, opt, other in ((lr_scheduler, scratch_opt, other_scratch),
                               (torch.optim.lr_scheduler, torch_opt, other_torch)):
        with pytest.raises(ValueError, match="ChainedScheduler expects at least one scheduler to be chained"):
            module.ChainedScheduler([])
        with pytest.raises(ValueError, match="ChainedScheduler expects all schedulers to belong to the same "
                                             "optimizer, but got scheduler ExponentialLR at index 1"):
            module.ChainedScheduler([module.ExponentialLR(opt, 0.9), module.ExponentialLR(other, 0.9)])
        with pytest.raises(TypeError, match="ChainedScheduler at index 1 should have `optimizer`"):
            module.ChainedScheduler([module.ExponentialLR(opt, 0.9), object()])
        with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`.*at index 0"):
            module.SequentialLR(opt, [module.ReduceLROnPlateau(opt)], milestones=[])
