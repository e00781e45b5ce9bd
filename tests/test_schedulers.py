"""Learning-rate schedulers: the lr sequence equals torch's, bit for bit, and it reaches the optimizer."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet
from scratchnet.nn import Parameter
from scratchnet.optim import lr_scheduler

lrs = st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=3)


def _sequences(name, base_lrs, steps, **kwargs):
    """(scratchnet's, torch's) get_last_lr() after construction and after each of ``steps`` steps."""
    scratch_opt = scratchnet.optim.SGD([{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in base_lrs])
    torch_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in base_lrs])
    mine = getattr(lr_scheduler, name)(scratch_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    sequences = ([mine.get_last_lr()], [theirs.get_last_lr()])
    for _ in range(steps):
        torch_opt.step()  # torch warns if its scheduler steps before its optimizer
        mine.step()
        theirs.step()
        sequences[0].append(mine.get_last_lr())
        sequences[1].append(theirs.get_last_lr())
        assert [group["lr"] for group in scratch_opt.param_groups] == mine.get_last_lr()
        assert mine.last_epoch == theirs.last_epoch
    return sequences


@given(lrs, st.integers(1, 10), st.floats(0.01, 1.0), st.integers(0, 40))
@settings(max_examples=30)
def test_step_lr_matches_torch(base_lrs, step_size, gamma, steps):
    mine, theirs = _sequences("StepLR", base_lrs, steps, step_size=step_size, gamma=gamma)
    assert mine == theirs


@given(lrs, st.floats(0.5, 1.0), st.integers(0, 40))
@settings(max_examples=30)
def test_exponential_lr_matches_torch(base_lrs, gamma, steps):
    mine, theirs = _sequences("ExponentialLR", base_lrs, steps, gamma=gamma)
    assert mine == theirs


@given(lrs, st.integers(1, 15), st.floats(0.0, 1e-4), st.integers(0, 50))
@settings(max_examples=30)
def test_cosine_annealing_lr_matches_torch(base_lrs, T_max, eta_min, steps):
    # steps past T_max cover the rising half and the 0/0 step at T_max + 1 (mod 2 T_max)
    mine, theirs = _sequences("CosineAnnealingLR", base_lrs, steps, T_max=T_max, eta_min=eta_min)
    assert mine == theirs


def test_cosine_annealing_follows_the_closed_form():
    mine, _ = _sequences("CosineAnnealingLR", [0.1], 10, T_max=10, eta_min=0.001)
    closed = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose([lrs[0] for lrs in mine], closed, rtol=1e-12)


def test_step_lr_sequence_and_bookkeeping():
    opt = scratchnet.optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert scheduler.last_epoch == 0 and scheduler.base_lrs == [1.0] and opt.param_groups[0]["initial_lr"] == 1.0
    seen = []
    for _ in range(5):
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
