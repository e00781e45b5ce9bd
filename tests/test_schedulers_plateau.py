"""ReduceLROnPlateau against torch's: the lrs and the bookkeeping (best, bad epochs, cooldown) after every metric,
for both modes and threshold modes, per-group floors, eps; refusals with torch's messages."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from scratchnet.optim import lr_scheduler
from test_schedulers import lrs, twin_optimizers

BOOKKEEPING = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "min_lrs")


def _state(scheduler):
    return [scheduler.get_last_lr(), [group["lr"] for group in scheduler.optimizer.param_groups],
            [getattr(scheduler, key) for key in BOOKKEEPING]]


@st.composite
def plateau_configs(draw):
    base_lrs = draw(lrs)
    kwargs = {
        "mode": draw(st.sampled_from(["min", "max"])),
        "factor": draw(st.floats(0.05, 0.9)),
        "patience": draw(st.integers(0, 4)),
        "threshold": draw(st.sampled_from([0.0, 1e-4, 0.05, 0.5])),
        "threshold_mode": draw(st.sampled_from(["rel", "abs"])),
        "cooldown": draw(st.integers(0, 3)),
        "min_lr": draw(st.sampled_from([0, 1e-3]) | st.just([1e-3 * i for i in range(len(base_lrs))])),
        "eps": draw(st.sampled_from([1e-8, 1e-3])),
    }
    # plateaus (repeats), small and large moves, both signs: improvements and not
    metrics = draw(st.lists(st.sampled_from([1.0, 0.99, 0.9999, 1.05, -1.0, 0.0]) | st.integers(-20, 20).map(
        lambda k: k / 4), max_size=30))
    return base_lrs, kwargs, metrics


@given(plateau_configs())
@examples(40)
def test_reduce_lr_on_plateau_matches_torch(config):
    base_lrs, kwargs, metrics = config
    scratch_opt, torch_opt = twin_optimizers(base_lrs)
    mine = lr_scheduler.ReduceLROnPlateau(scratch_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    assert _state(mine) == _state(theirs)
    for metric in metrics:
        mine.step(np.float64(metric))  # a NumPy scalar, as a loss usually is
        theirs.step(metric)
        assert _state(mine) == _state(theirs)


def test_the_lr_falls_after_patience_and_waits_out_the_cooldown():
    optimizer, _ = twin_optimizers([1.0])
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    seen = []
    for loss in [1.0] * 14:
        scheduler.step(loss)
        seen.append(optimizer.param_groups[0]["lr"])
    # 3 bad epochs (> patience 2) halve it; the cooldown epoch does not count; the floor holds at 0.2
    assert seen == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]
    scheduler.step(0.5)  # an improvement resets the count
    assert scheduler.num_bad_epochs == 0 and scheduler.best == 0.5


def test_a_new_param_group_with_per_group_floors_is_refused_as_torch():
    scratch_opt, torch_opt = twin_optimizers([0.1])
    mine = lr_scheduler.ReduceLROnPlateau(scratch_opt, patience=0, min_lr=[0.0])
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, patience=0, min_lr=[0.0])
    extra, extra_torch = twin_optimizers([0.2])
    scratch_opt.add_param_group(extra.param_groups[0])
    torch_opt.add_param_group({"params": extra_torch.param_groups[0]["params"], "lr": 0.2})
    for scheduler in (mine, theirs):
        scheduler.step(1.0)
    with pytest.raises(RuntimeError) as mine_error:
        mine.step(2.0)
    with pytest.raises(RuntimeError) as their_error:
        theirs.step(2.0)
    assert str(mine_error.value) == str(their_error.value)


def test_a_new_param_group_gets_the_one_floor_as_torch():
    scratch_opt, torch_opt = twin_optimizers([0.1])
    mine = lr_scheduler.ReduceLROnPlateau(scratch_opt, patience=0, min_lr=0.05)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, patience=0, min_lr=0.05)
    extra, extra_torch = twin_optimizers([0.2])
    scratch_opt.add_param_group(extra.param_groups[0])
    torch_opt.add_param_group({"params": extra_torch.param_groups[0]["params"], "lr": 0.2})
    for metric in (1.0, 2.0, 3.0, 4.0):
        mine.step(metric)
        theirs.step(metric)
        assert _state(mine) == _state(theirs)


def test_state_dict_round_trip_mid_plateau():
    kwargs = {"mode": "max", "factor": 0.5, "patience": 1, "cooldown": 2, "threshold_mode": "abs", "threshold": 0.1}
    scratch_opt, torch_opt = twin_optimizers([0.1, 0.3])
    mine = lr_scheduler.ReduceLROnPlateau(scratch_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    metrics = [0.5, 0.55, 0.52, 0.5, 0.7, 0.69, 0.68, 0.6, 0.6, 0.9, 0.85, 0.8, 0.8, 0.8]
    for metric in metrics[:6]:
        mine.step(metric)
        theirs.step(metric)
    state = mine.state_dict()
    assert state == theirs.state_dict()  # the same keys and values as torch's
    resumed_opt, _ = twin_optimizers([0.1, 0.3])
    resumed = lr_scheduler.ReduceLROnPlateau(resumed_opt)  # defaults: the state brings the rest
    resumed.load_state_dict(state)
    for group, saved in zip(resumed_opt.param_groups, scratch_opt.param_groups):
        group["lr"] = saved["lr"]  # the optimizer's own state, restored apart
    for metric in metrics[6:]:
        mine.step(metric)
        resumed.step(metric)
        theirs.step(metric)
        assert _state(resumed) == _state(mine) == _state(theirs)


def test_step_with_an_epoch_warns_as_torch():
    scratch_opt, torch_opt = twin_optimizers([0.1])
    mine = lr_scheduler.ReduceLROnPlateau(scratch_opt)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt)
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        mine.step(1.0, epoch=7)
    with pytest.warns(UserWarning, match="The epoch parameter"):
        theirs.step(1.0, epoch=7)
    assert mine.last_epoch == theirs.last_epoch == 7


REFUSALS = [
    ({"factor": 1.0}, ValueError),
    ({"factor": 2.0, "mode": "middle"}, ValueError),  # the factor is checked first, as torch
    ({"mode": "middle"}, ValueError),
    ({"threshold_mode": "relative"}, ValueError),
    ({"min_lr": [0.0, 0.0, 0.0]}, ValueError),
]


@pytest.mark.parametrize("kwargs,error", REFUSALS)
def test_refusals_match_torch(kwargs, error):
    scratch_opt, torch_opt = twin_optimizers([0.1, 0.2])
    with pytest.raises(error) as mine:
        lr_scheduler.ReduceLROnPlateau(scratch_opt, **kwargs)
    with pytest.raises(error) as theirs:
        torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    assert str(mine.value) == str(theirs.value)


def test_needs_an_optimizer_as_torch():
    with pytest.raises(TypeError) as mine:
        lr_scheduler.ReduceLROnPlateau([0.1])
    with pytest.raises(TypeError) as theirs:
        torch.optim.lr_scheduler.ReduceLROnPlateau([0.1])
    assert str(mine.value) == str(theirs.value) == "list is not an Optimizer"
