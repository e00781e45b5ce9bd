"""Every scheduler's state_dict mid-schedule: the same keys and values as torch's, and a scheduler loaded from it
(scratchnet's own, or torch's) continues exactly where the original goes."""

import copy

import pytest
import torch

from scratchnet.optim import lr_scheduler
from test_schedulers import LAMBDAS, SCHEDULED_KEYS, observed, twin_optimizers


class Halving:
    """A callable object: its __dict__ is saved (a plain function is saved as None), as in torch."""

    def __init__(self, factor=0.5):
        self.factor = factor

    def __call__(self, t):
        return self.factor ** (t / 10)


BUILDERS = {
    "LambdaLR": (lambda m, o: m.LambdaLR(o, [LAMBDAS["warmup"], Halving()]), "SGD"),
    "MultiplicativeLR": (lambda m, o: m.MultiplicativeLR(o, Halving(0.9)), "SGD"),
    "StepLR": (lambda m, o: m.StepLR(o, step_size=3, gamma=0.5), "SGD"),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, milestones=[2, 6, 6, 11], gamma=0.5), "SGD"),
    "ConstantLR": (lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=9), "SGD"),
    "LinearLR": (lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=12), "SGD"),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, gamma=0.9), "SGD"),
    "PolynomialLR": (lambda m, o: m.PolynomialLR(o, total_iters=15, power=2.0), "SGD"),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=1e-4), "SGD"),
    "CyclicLR": (lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=3, step_size_down=5,
                                         mode="exp_range", gamma=0.97), "SGD"),
    "CyclicLR-scale_fn": (lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                  scale_fn=Halving(), scale_mode="iterations"), "Adam"),
    "OneCycleLR": (lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.3], total_steps=20, three_phase=True), "Adam"),
    "CosineAnnealingWarmRestarts": (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2), "SGD"),
    "SequentialLR": (lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=4),
                                                     m.CosineAnnealingLR(o, T_max=8)], milestones=[4]), "SGD"),
    "ChainedScheduler": (lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=8),
                                                          m.ExponentialLR(o, gamma=0.9)]), "SGD"),
}


def _step(optimizers_and_schedulers):
    for optimizer, scheduler in optimizers_and_schedulers:
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("source", ["scratchnet", "torch"])
def test_state_dict_is_torchs_and_resumes_mid_schedule(name, source):
    build, optimizer_name = BUILDERS[name]
    scratch_opt, torch_opt = twin_optimizers([0.05, 0.1], optimizer_name)
    mine, theirs = build(lr_scheduler, scratch_opt), build(torch.optim.lr_scheduler, torch_opt)
    for _ in range(7):
        _step([(scratch_opt, mine), (torch_opt, theirs)])
    state = mine.state_dict()
    assert state == theirs.state_dict()  # keys and values, callables as torch saves them
    assert "optimizer" not in state

    resumed_opt, _ = twin_optimizers([0.05, 0.1], optimizer_name)
    resumed = build(lr_scheduler, resumed_opt)
    resumed.load_state_dict(copy.deepcopy(state if source == "scratchnet" else theirs.state_dict()))
    for group, saved in zip(resumed_opt.param_groups, scratch_opt.param_groups):
        # the optimizer's hyperparameters are restored apart (its own state_dict), as in torch
        group.update({key: saved[key] for key in SCHEDULED_KEYS if key in saved})
    for _ in range(12):
        _step([(scratch_opt, mine), (resumed_opt, resumed), (torch_opt, theirs)])
        assert observed(resumed) == observed(mine) == observed(theirs)


def test_loading_restores_a_callable_objects_state_and_leaves_the_given_dict_alone():
    scratch_opt, _ = twin_optimizers([0.1])
    halving = Halving(0.5)
    scheduler = lr_scheduler.CyclicLR(scratch_opt, base_lr=0.01, max_lr=0.1, scale_fn=halving)
    state = scheduler.state_dict()
    assert state["_scale_fn_custom"] == {"factor": 0.5}
    halving.factor = 0.9
    scheduler.load_state_dict(state)
    assert halving.factor == 0.5 and "_scale_fn_custom" in state  # torch also puts the key back
