"""CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts: lr and momentum (or beta1) sequences equal torch's, bit for
bit, over whole cycles and several parameter groups; fractional epochs; refusals with torch's messages."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from scratchnet.optim import lr_scheduler
from test_schedulers import lrs, observed, twin_optimizers

# SGD cycles 'momentum', Adam beta1 of 'betas'; Adagrad has neither (refused with cycle_momentum)
OPTIMIZERS = st.sampled_from(["SGD", "Adam"])


def _run_until_refused(build, scratch_opt, torch_opt, steps, step_args=()):
    """As run_twins, but a step torch refuses must be refused alike (type and message); that ends the run.

    Returns both sides' observations and the refusal's message (None when every step went through).
    """
    mine, theirs = build(lr_scheduler, scratch_opt), build(torch.optim.lr_scheduler, torch_opt)
    sequences = ([observed(mine)], [observed(theirs)])
    for step in range(steps):
        args = step_args[step] if step_args else ()
        scratch_opt.step()
        torch_opt.step()
        try:
            theirs.step(*args)
        except Exception as refusal:  # noqa: BLE001 (whatever torch raises, scratchnet must raise alike)
            with pytest.raises(type(refusal)) as mine_refusal:
                mine.step(*args)
            assert str(mine_refusal.value) == str(refusal)
            sequences[0].append(observed(mine))
            sequences[1].append(observed(theirs))
            return sequences, str(refusal)
        mine.step(*args)
        sequences[0].append(observed(mine))
        sequences[1].append(observed(theirs))
    return sequences, None


def _per_group_or_one(draw, values):
    """A per-group list or (when all are equal) sometimes the single value."""
    return values if draw(st.booleans()) else values[0]


# -- CyclicLR ---------------------------------------------------------------------------------------

@st.composite
def cyclic_configs(draw):
    base_lrs = draw(lrs)
    ratio = draw(st.floats(1.0, 10.0))
    kwargs = {
        "base_lr": base_lrs if draw(st.booleans()) else base_lrs[0],
        "max_lr": [lr * ratio for lr in base_lrs] if draw(st.booleans()) else base_lrs[0] * ratio,
        "step_size_up": draw(st.integers(1, 8)),
        "step_size_down": draw(st.none() | st.integers(1, 8)),
        "mode": draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
        "gamma": draw(st.floats(0.8, 1.0)),
        "cycle_momentum": draw(st.booleans()),
        "base_momentum": draw(st.floats(0.5, 0.8)),
        "max_momentum": draw(st.floats(0.8, 0.99)),
    }
    if draw(st.booleans()):  # a custom scale_fn: the scale_mode given is kept (a mode's is forced)
        kwargs["scale_fn"] = SCALE_FNS[draw(st.sampled_from(sorted(SCALE_FNS)))]
        kwargs["scale_mode"] = draw(st.sampled_from(["cycle", "iterations"]))
    return base_lrs, kwargs


SCALE_FNS = {"inverse": lambda x: 1 / (1.0 + x), "half_life": lambda x: 0.5 ** (x / 10)}


@given(cyclic_configs(), OPTIMIZERS, st.integers(0, 50))
@examples(40)
def test_cyclic_lr_matches_torch(config, optimizer, steps):
    base_lrs, kwargs = config
    (mine, theirs), refusal = _run_until_refused(lambda module, opt: module.CyclicLR(opt, **kwargs),
                                                 *twin_optimizers([0.5] * len(base_lrs), optimizer), steps)
    assert refusal is None and mine == theirs


def test_cyclic_lr_triangle():
    """triangular2 with up 2, down 4: base -> max over 2 steps, back over 4, then half the height."""
    (mine, _), _ = _run_until_refused(
        lambda module, opt: module.CyclicLR(opt, base_lr=0.1, max_lr=0.7, step_size_up=2, step_size_down=4,
                                            mode="triangular2", base_momentum=0.8, max_momentum=0.9),
        *twin_optimizers([1.0]), 12)
    heights = [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0.25, 0.5, 0.375, 0.25, 0.125, 0]
    assert [lr[0] for lr, _, _ in mine] == pytest.approx([0.1 + 0.6 * h for h in heights], rel=1e-12)
    momentum = [groups[0][2] for _, groups, _ in mine]
    assert momentum == pytest.approx([0.9 - 0.1 * h for h in heights], rel=1e-12)


def test_cyclic_lr_with_momentum_off_accepts_any_optimizer():
    build = lambda module, opt: module.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3,  # noqa: E731
                                                cycle_momentum=False)
    (mine, theirs), refusal = _run_until_refused(build, *twin_optimizers([0.5], "Adagrad"), 10)
    assert refusal is None and mine == theirs


# -- OneCycleLR ---------------------------------------------------------------------------------------

@st.composite
def one_cycle_configs(draw):
    base_lrs = draw(lrs)
    kwargs = {
        "max_lr": _per_group_or_one(draw, [lr * 10 for lr in base_lrs]),
        "pct_start": draw(st.floats(0.05, 0.95)),
        "anneal_strategy": draw(st.sampled_from(["cos", "linear"])),
        "cycle_momentum": draw(st.booleans()),
        "base_momentum": _per_group_or_one(draw, [draw(st.floats(0.5, 0.85))] * len(base_lrs)),
        "max_momentum": draw(st.floats(0.85, 0.99)),
        "div_factor": draw(st.floats(2.0, 100.0)),
        "final_div_factor": draw(st.floats(10.0, 1e5)),
        "three_phase": draw(st.booleans()),
    }
    if draw(st.booleans()):
        kwargs["total_steps"] = draw(st.integers(1, 50))
    else:
        kwargs["epochs"], kwargs["steps_per_epoch"] = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    return base_lrs, kwargs


@given(one_cycle_configs(), OPTIMIZERS)
@examples(40)
def test_one_cycle_lr_matches_torch_to_its_end_and_refuses_one_step_more(config, optimizer):
    base_lrs, kwargs = config
    total_steps = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    (mine, theirs), refusal = _run_until_refused(lambda module, opt: module.OneCycleLR(opt, **kwargs),
                                                 *twin_optimizers(base_lrs, optimizer), total_steps + 1)
    assert mine == theirs
    # past the end, or a phase of length 0 (pct_start * total_steps = 1: 0/0, in torch too)
    assert refusal is not None
    assert refusal == f"Tried to step {total_steps + 1} times. The specified number of total steps is " \
                      f"{total_steps}" or refusal == "float division by zero"


def test_one_cycle_lr_follows_its_formula():
    """Two phases, cosine: 0.004 -> 0.1 over steps 0..2, then -> 4e-7 over steps 2..9; momentum the other way."""
    (mine, _), refusal = _run_until_refused(
        lambda module, opt: module.OneCycleLR(opt, max_lr=0.1, total_steps=10),
        *twin_optimizers([1.0], "Adam"), 9)
    assert refusal is None

    def cos_anneal(start, end, pct):
        return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2

    expected_lr = [cos_anneal(0.004, 0.1, t / 2) for t in range(3)] + [cos_anneal(0.1, 4e-7, (t - 2) / 7)
                                                                        for t in range(3, 10)]
    expected_beta1 = [cos_anneal(0.95, 0.85, t / 2) for t in range(3)] + [cos_anneal(0.85, 0.95, (t - 2) / 7)
                                                                            for t in range(3, 10)]
    assert [lr[0] for lr, _, _ in mine] == pytest.approx(expected_lr, rel=1e-12)
    assert [groups[0][3][0] for _, groups, _ in mine] == pytest.approx(expected_beta1, rel=1e-12)


# -- CosineAnnealingWarmRestarts ----------------------------------------------------------------------

@given(lrs, st.integers(1, 6), st.integers(1, 3), st.floats(0.0, 1e-3), st.integers(0, 40))
@examples(25)
def test_warm_restarts_match_torch(base_lrs, T_0, T_mult, eta_min, steps):
    (mine, theirs), refusal = _run_until_refused(
        lambda module, opt: module.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=eta_min),
        *twin_optimizers(base_lrs), steps)
    assert refusal is None and mine == theirs


# step(epoch) with whole or fractional epochs (several steps per epoch), or a plain step()
EPOCH_ARGS = st.one_of(st.just(()), st.tuples(st.integers(0, 60)), st.tuples(st.floats(0.0, 60.0)))


@given(lrs, st.integers(1, 6), st.integers(1, 3), st.lists(EPOCH_ARGS, max_size=25))
@examples(30)
def test_warm_restarts_at_fractional_epochs_match_torch(base_lrs, T_0, T_mult, epoch_args):
    (mine, theirs), refusal = _run_until_refused(
        lambda module, opt: module.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult),
        *twin_optimizers(base_lrs), len(epoch_args), epoch_args)
    assert refusal is None and mine == theirs


def test_warm_restarts_follow_the_formula():
    """T_0 = 2, T_mult = 2: periods 2, 4, 8 starting at epochs 0, 2, 6; epoch 7.5 is 1.5 into the third."""
    optimizer, _ = twin_optimizers([1.0])
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2)
    seen = []
    for _ in range(7):
        optimizer.step()
        scheduler.step()
        seen.append((scheduler.T_cur, scheduler.T_i))
    assert seen == [(1, 2), (0, 4), (1, 4), (2, 4), (3, 4), (0, 8), (1, 8)]
    scheduler.step(7.5)
    assert (scheduler.T_cur, scheduler.T_i, scheduler.last_epoch) == (1.5, 8, 7)
    assert scheduler.get_last_lr() == pytest.approx([(1 + math.cos(math.pi * 1.5 / 8)) / 2], rel=1e-15)


RESUMABLE = {
    "CyclicLR": lambda m, o, **kw: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2", **kw),
    "OneCycleLR": lambda m, o, **kw: m.OneCycleLR(o, max_lr=0.1, total_steps=30, anneal_strategy="linear", **kw),
    "CosineAnnealingWarmRestarts": lambda m, o, **kw: m.CosineAnnealingWarmRestarts(o, T_0=4, **kw),
}


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_resuming_with_last_epoch_continues_as_torch(name):
    """A new scheduler built with last_epoch=k on the optimizers of a run k steps in (the keys it wrote
    into the groups still there) takes the same next steps as torch's."""
    build = RESUMABLE[name]
    scratch_opt, torch_opt = twin_optimizers([0.5, 0.25], "Adam")
    _run_until_refused(build, scratch_opt, torch_opt, 7)
    (mine, theirs), refusal = _run_until_refused(lambda m, o: build(m, o, last_epoch=7), scratch_opt, torch_opt, 10)
    assert refusal is None and mine == theirs


# -- refusals, with torch's messages ---------------------------------------------------------------------

REFUSALS = [
    ("CyclicLR", {"base_lr": [0.1], "max_lr": 1.0}, "SGD", ValueError),
    ("CyclicLR", {"base_lr": 0.1, "max_lr": [1.0, 1.0, 1.0]}, "SGD", ValueError),
    ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "mode": "square"}, "SGD", ValueError),
    ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0}, "Adagrad", ValueError),
    ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "base_momentum": [0.8]}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 0}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 2.5}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 0, "steps_per_epoch": 3}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 2, "steps_per_epoch": -3}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.5}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "anneal_strategy": "exp"}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": [1.0, 2.0, 3.0], "total_steps": 10}, "SGD", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10}, "Adagrad", ValueError),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "max_momentum": [0.9]}, "Adam", ValueError),
    ("CosineAnnealingWarmRestarts", {"T_0": 0}, "SGD", ValueError),
    ("CosineAnnealingWarmRestarts", {"T_0": 2.5}, "SGD", ValueError),
    ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 0}, "SGD", ValueError),
    ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 1.5}, "SGD", ValueError),
    ("CosineAnnealingWarmRestarts", {"T_0": 2, "eta_min": None}, "SGD", ValueError),
    ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0}, [], TypeError),
]


@pytest.mark.parametrize("name,kwargs,optimizer,error", REFUSALS)
def test_refusals_match_torch_and_change_nothing(name, kwargs, optimizer, error):
    scratch_opt, torch_opt = twin_optimizers([0.5, 0.25], optimizer or "SGD")
    if optimizer == []:
        scratch_opt = torch_opt = []  # not an optimizer at all
    with pytest.raises(error) as mine:
        getattr(lr_scheduler, name)(scratch_opt, **kwargs)
    with pytest.raises(error) as theirs:
        getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    assert str(mine.value) == str(theirs.value)
    if optimizer:
        assert [sorted(group) for group in scratch_opt.param_groups] == [sorted(group) for group in
                                                                          twin_optimizers([0.5, 0.25], optimizer)[0]
                                                                          .param_groups]
        assert [group["lr"] for group in scratch_opt.param_groups] == [0.5, 0.25]


def test_warm_restarts_refuse_a_negative_epoch_as_torch():
    scratch_opt, torch_opt = twin_optimizers([0.5])
    mine = lr_scheduler.CosineAnnealingWarmRestarts(scratch_opt, T_0=3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(torch_opt, T_0=3)
    before = mine.state_dict()
    with pytest.raises(ValueError) as mine_error:
        mine.step(-1)
    with pytest.raises(ValueError) as their_error:
        theirs.step(-1)
    assert str(mine_error.value) == str(their_error.value) == "Expected non-negative epoch, but got -1"
    assert mine.state_dict() == before
