"""Learning-rate schedulers: the lr sequence equals torch's, bit for bit, and it reaches the optimizer."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
import scratchnet
from scratchnet.nn import Parameter
from scratchnet.optim import lr_scheduler

lrs = st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=3)


def twin_optimizers(base_lrs, name="SGD", **kwargs):
    """A scratchnet and a torch optimizer ``name`` with one group (one zero parameter) per lr."""
    scratch_opt = getattr(scratchnet.optim, name)(
        [{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in base_lrs], **kwargs)
    torch_opt = getattr(torch.optim, name)(
        [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in base_lrs], **kwargs)
    return scratch_opt, torch_opt


# The group entries a scheduler writes (or reads): compared, where present, on both sides.
SCHEDULED_KEYS = ("lr", "initial_lr", "momentum", "betas", "max_lr", "min_lr", "max_momentum", "base_momentum")


def observed(scheduler):
    """What a step leaves behind: get_last_lr(), each group's SCHEDULED_KEYS (None if absent), last_epoch."""
    groups = [tuple(group.get(key) for key in SCHEDULED_KEYS) for group in scheduler.optimizer.param_groups]
    return scheduler.get_last_lr(), groups, getattr(scheduler, "last_epoch", None)  # ChainedScheduler has none


def run_twins(build, scratch_opt, torch_opt, steps, step_args=()):
    """Build a scheduler with ``build(module, optimizer)`` on both sides, then take ``steps`` steps
    (the optimizers first, as torch wants; ``step_args[i]`` passed to step i if given); what each
    side saw after construction and after every step."""
    mine, theirs = build(lr_scheduler, scratch_opt), build(torch.optim.lr_scheduler, torch_opt)
    sequences = ([observed(mine)], [observed(theirs)])
    for step in range(steps):
        args = step_args[step] if step_args else ()
        scratch_opt.step()
        torch_opt.step()
        mine.step(*args)
        theirs.step(*args)
        sequences[0].append(observed(mine))
        sequences[1].append(observed(theirs))
    return sequences


def _sequences(name, base_lrs, steps, **kwargs):
    """(scratchnet's, torch's) observations after construction and after each of ``steps`` steps."""
    scratch_opt, torch_opt = twin_optimizers(base_lrs)
    return run_twins(lambda module, opt: getattr(module, name)(opt, **kwargs), scratch_opt, torch_opt, steps)


def _lr_curve(sequence):
    """The first group's lr at each observation."""
    return [lrs[0] for lrs, _, _ in sequence]


@given(lrs, st.integers(1, 10), st.floats(0.01, 1.0), st.integers(0, 40))
@examples(30)
def test_step_lr_matches_torch(base_lrs, step_size, gamma, steps):
    mine, theirs = _sequences("StepLR", base_lrs, steps, step_size=step_size, gamma=gamma)
    assert mine == theirs


@given(lrs, st.floats(0.5, 1.0), st.integers(0, 40))
@examples(30)
def test_exponential_lr_matches_torch(base_lrs, gamma, steps):
    mine, theirs = _sequences("ExponentialLR", base_lrs, steps, gamma=gamma)
    assert mine == theirs


@given(lrs, st.integers(1, 15), st.floats(0.0, 1e-4), st.integers(0, 50))
@examples(30)
def test_cosine_annealing_lr_matches_torch(base_lrs, T_max, eta_min, steps):
    # steps past T_max cover the rising half and the 0/0 step at T_max + 1 (mod 2 T_max)
    mine, theirs = _sequences("CosineAnnealingLR", base_lrs, steps, T_max=T_max, eta_min=eta_min)
    assert mine == theirs


def test_cosine_annealing_follows_the_closed_form():
    mine, _ = _sequences("CosineAnnealingLR", [0.1], 10, T_max=10, eta_min=0.001)
    closed = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(_lr_curve(mine), closed, rtol=1e-12)


def test_step_lr_sequence_and_bookkeeping():
    opt = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert scheduler.last_epoch == 0 and scheduler.base_lrs == [1.0] and opt.param_groups[0]["initial_lr"] == 1.0
    seen = []
    for _ in range(5):
        opt.step()
        scheduler.step()
        seen.append(opt.param_groups[0]["lr"])
    assert seen == [1.0, 0.5, 0.5, 0.25, 0.25]


def test_the_optimizer_uses_the_scheduled_lr():
    param = Parameter(np.array([0.0]))
    opt = scratchnet.optim.SGD([param], lr=1.0)
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for expected in (-1.0, -1.5, -1.75):
        param.grad = np.array([1.0])
        opt.step()
        scheduler.step()
        assert param.data[0] == expected


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([Parameter(np.zeros(1))], step_size=1)
    opt = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=1, last_epoch=3)


# -- warmup: LinearLR, LambdaLR, SequentialLR ---------------------------------------------------


@given(lrs, st.floats(0.01, 1.0), st.floats(0.0, 1.0), st.integers(1, 12), st.integers(0, 40))
@examples(30)
def test_linear_lr_matches_torch(base_lrs, start_factor, end_factor, total_iters, steps):
    mine, theirs = _sequences("LinearLR", base_lrs, steps, start_factor=start_factor, end_factor=end_factor,
                              total_iters=total_iters)
    assert mine == theirs


def test_linear_lr_follows_the_closed_form_and_defaults():
    mine, _ = _sequences("LinearLR", [0.05], 45, start_factor=0.05, total_iters=40)
    closed = [0.05 * (0.05 + 0.95 * min(t, 40) / 40) for t in range(46)]
    np.testing.assert_allclose(_lr_curve(mine), closed, rtol=1e-12)
    opt = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    scheduler = lr_scheduler.LinearLR(opt)
    assert (scheduler.start_factor, scheduler.end_factor, scheduler.total_iters) == (1.0 / 3, 1.0, 5)


LAMBDAS = {
    "exponential": lambda t: 0.95 ** t,
    "warmup": lambda t: min(1.0, (t + 1) / 5),
    "inverse_sqrt": lambda t: 1 / math.sqrt(max(t, 1)),
    "step": lambda t: 0.5 ** (t // 3),
}


@given(lrs, st.sampled_from(sorted(LAMBDAS)), st.booleans(), st.integers(0, 40))
@examples(30)
def test_lambda_lr_matches_torch(base_lrs, name, per_group, steps):
    lr_lambda = [LAMBDAS[key] for key in sorted(LAMBDAS)][:len(base_lrs)] if per_group else LAMBDAS[name]
    mine, theirs = _sequences("LambdaLR", base_lrs, steps, lr_lambda=lr_lambda)
    assert mine == theirs


def test_lambda_lr_needs_one_function_per_group_and_saves_only_callable_objects():
    opt = scratchnet.optim.SGD([{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in (1.0, 2.0)])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, lr_lambda=[LAMBDAS["warmup"]])

    class Halving:
        def __init__(self):
            self.factor = 0.5

        def __call__(self, t):
            return self.factor ** t

    halving = Halving()
    scheduler = lr_scheduler.LambdaLR(opt, lr_lambda=(LAMBDAS["warmup"], halving))
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None, {"factor": 0.5}] and "optimizer" not in state
    halving.factor = 0.9
    opt.step()
    scheduler.step()
    scheduler.load_state_dict(state)
    assert halving.factor == 0.5 and scheduler.last_epoch == 0


# Building blocks for SequentialLR: (name, kwargs), the same on both sides.
PHASES = st.sampled_from([
    ("LinearLR", {"start_factor": 0.1, "total_iters": 4}),
    ("LinearLR", {"start_factor": 0.5, "end_factor": 0.2, "total_iters": 3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 6, "eta_min": 1e-5}),
    ("LambdaLR", {"lr_lambda": LAMBDAS["inverse_sqrt"]}),
    ("LambdaLR", {"lr_lambda": LAMBDAS["warmup"]}),
    ("MultiplicativeLR", {"lr_lambda": LAMBDAS["exponential"]}),
    ("MultiStepLR", {"milestones": [2, 2, 5], "gamma": 0.5}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 3}),
    ("PolynomialLR", {"total_iters": 4, "power": 2.0}),
])


def _sequential_sequences(base_lrs, phases, milestones, steps):
    """What both SequentialLRs leave behind after construction and each step."""
    def build(module, optimizer):
        schedulers = [getattr(module, name)(optimizer, **kwargs) for name, kwargs in phases]
        return module.SequentialLR(optimizer, schedulers, milestones=milestones)

    return run_twins(build, *twin_optimizers(base_lrs), steps)


@given(lrs, st.lists(PHASES, min_size=1, max_size=3), st.lists(st.integers(0, 8), min_size=2, max_size=2),
       st.integers(0, 30))
@examples(40)
def test_sequential_lr_matches_torch(base_lrs, phases, gaps, steps):
    # non-decreasing, one fewer than the phases; a milestone at 0, or two equal, skip a phase as in torch
    milestones = list(np.cumsum(gaps[:len(phases) - 1]).tolist())
    mine, theirs = _sequential_sequences(base_lrs, phases, milestones, steps)
    assert mine == theirs


def test_warmup_then_cosine():
    """The recipe: 5 epochs of linear warmup from 1% of the lr, then a cosine decay over 10."""
    opt = scratchnet.optim.AdamW([Parameter(np.zeros(1))], lr=1e-3)
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=5)
    decay = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    scheduler = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[5])
    seen = [scheduler.get_last_lr()[0]]
    for _ in range(15):
        opt.step()
        scheduler.step()
        seen.append(opt.param_groups[0]["lr"])
    warm = [1e-3 * (0.01 + 0.99 * t / 5) for t in range(5)]
    cosine = [1e-3 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(seen, warm + cosine, rtol=1e-12, atol=1e-18)


def test_sequential_lr_state_dict_round_trip():
    def build():
        opt = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
        phases = [lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3), lr_scheduler.ExponentialLR(opt, 0.5)]
        return opt, lr_scheduler.SequentialLR(opt, phases, milestones=[3])

    opt, scheduler = build()
    opt.step()
    for _ in range(4):
        scheduler.step()
    state = scheduler.state_dict()
    assert "optimizer" not in state and len(state["_schedulers"]) == 2
    resumed_opt, resumed = build()
    resumed.load_state_dict(state)
    resumed_opt.param_groups[0]["lr"] = opt.param_groups[0]["lr"]  # the optimizer's state is restored apart
    resumed_opt.step()
    for _ in range(3):
        scheduler.step()
        resumed.step()
        assert resumed.get_last_lr() == scheduler.get_last_lr()


def test_sequential_lr_checks_its_arguments():
    opt = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    other = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    first, second = lr_scheduler.ExponentialLR(opt, 0.9), lr_scheduler.ExponentialLR(other, 0.9)
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        lr_scheduler.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="belong to the same optimizer.*ExponentialLR at index 1"):
        lr_scheduler.SequentialLR(opt, [first, second], milestones=[2])
    with pytest.raises(ValueError, match="number of schedulers 1 and the number of milestones to be equal to 1"):
        lr_scheduler.SequentialLR(opt, [first], milestones=[2])
    with pytest.raises(TypeError, match="at index 0 should have `optimizer`"):
        lr_scheduler.SequentialLR(opt, [object()], milestones=[])


@pytest.mark.parametrize("kwargs,match", [
    ({"start_factor": 0.0}, "Starting multiplicative factor expected to be greater than 0"),
    ({"start_factor": 1.5}, "Starting multiplicative factor"),
    ({"end_factor": -0.1}, "Ending multiplicative factor expected to be between 0 and 1"),
])
def test_linear_lr_checks_its_factors(kwargs, match):
    opt = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=match):
        lr_scheduler.LinearLR(opt, **kwargs)


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 3, "gamma": 0.7}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 1e-3}),
    ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 6}),
    ("LambdaLR", {"lr_lambda": LAMBDAS["inverse_sqrt"]}),
])
def test_jumping_to_an_epoch_uses_torchs_closed_form(name, kwargs):
    """SequentialLR restarts a scheduler with _update_lr(0): the closed form (get_lr for LambdaLR), as torch."""
    scratch_opt = scratchnet.optim.SGD([{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in (0.3, 0.07)])
    torch_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in (0.3, 0.07)])
    mine = getattr(lr_scheduler, name)(scratch_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    for epoch in (5, 0, 11, 2, 20):
        mine._update_lr(epoch)
        theirs._update_lr(epoch)
        assert mine.get_last_lr() == theirs.get_last_lr() and mine.last_epoch == theirs.last_epoch == epoch


@pytest.mark.parametrize("name,kwargs", [
    ("LinearLR", {"start_factor": 0.25, "total_iters": 8}),
    ("LambdaLR", {"lr_lambda": LAMBDAS["warmup"]}),
])
@pytest.mark.parametrize("last_epoch", [0, 3, 10])
def test_warmup_schedulers_resume_as_torch(name, kwargs, last_epoch):
    """Resuming (last_epoch >= 0, initial_lr already in the groups) takes the same next steps."""
    def optimizer(module, make_param):
        return module.SGD([{"params": [make_param()], "lr": 0.02, "initial_lr": 0.1}])

    scratch_opt = optimizer(scratchnet.optim, lambda: Parameter(np.zeros(1)))
    torch_opt = optimizer(torch.optim, lambda: torch.zeros(1, requires_grad=True))
    mine = getattr(lr_scheduler, name)(scratch_opt, last_epoch=last_epoch, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(torch_opt, last_epoch=last_epoch, **kwargs)
    for _ in range(12):
        assert mine.get_last_lr() == theirs.get_last_lr()
        scratch_opt.step()
        torch_opt.step()
        mine.step()
        theirs.step()
