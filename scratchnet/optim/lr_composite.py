"""Schedulers made of schedulers: one after another (SequentialLR) or all at once (ChainedScheduler)."""

from bisect import bisect_right

from scratchnet.optim.lr_base import LRScheduler, _group_values
from scratchnet.optim.lr_plateau import ReduceLROnPlateau


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` until ``milestones[1]``, ...

    At each milestone the next scheduler restarts from its own epoch 0 (its closed form there:
    the base lr for most, base_lr * start_factor for LinearLR), then steps recursively. Warmup then
    cosine decay, for example::

        warmup = LinearLR(optimizer, start_factor=0.01, total_iters=5)
        decay = CosineAnnealingLR(optimizer, T_max=95)
        scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5])

    Building the schedulers stepped them once each; like torch, SequentialLR resets every group to
    its ``initial_lr``, undoes those steps, and takes step 0 of the first scheduler only.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_schedulers(type(self).__name__, optimizer, schedulers)
        _check_milestones(schedulers, milestones)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched=None):
        """Take back the step each (nested) scheduler took when it was built."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for scheduler in scheds._schedulers:
                self.recursive_undo(scheduler)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)  # a milestone: the next scheduler starts at its epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        return _state_with_schedulers(self)

    def load_state_dict(self, state_dict):
        _load_state_with_schedulers(self, state_dict)


class ChainedScheduler(LRScheduler):
    """Step every scheduler in ``schedulers`` at each ``step()``, in order, on one optimizer.

    The chainable forms compose: ExponentialLR(gamma=0.9) chained with ConstantLR(factor=0.1,
    total_iters=2) gives lr_t = base_lr 0.9^t (0.1 for t < 2, else 1). ``get_last_lr()`` is the
    groups' lr after the last scheduler.
    """

    def __init__(self, schedulers, optimizer=None):
        if len(schedulers) < 1:
            raise ValueError(f"{type(self).__name__} expects at least one scheduler to be chained, "
                             "but got no scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers(type(self).__name__, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")

    def state_dict(self):
        return _state_with_schedulers(self)

    def load_state_dict(self, state_dict):
        _load_state_with_schedulers(self, state_dict)


def _state_with_schedulers(composite):
    """Every attribute but the optimizer, each inner scheduler as its own state_dict (torch's layout)."""
    state = {key: value for key, value in composite.__dict__.items() if key not in ("optimizer", "_schedulers")}
    state["_schedulers"] = [scheduler.state_dict() for scheduler in composite._schedulers]
    return state


def _load_state_with_schedulers(composite, state_dict):
    state_dict = dict(state_dict)
    schedulers = state_dict.pop("_schedulers")
    composite.__dict__.update(state_dict)
    for scheduler, saved in zip(composite._schedulers, schedulers, strict=True):
        scheduler.load_state_dict(saved)


def _check_schedulers(name, optimizer, schedulers):
    """SequentialLR's and ChainedScheduler's schedulers, with torch's messages."""
    if len(schedulers) < 1:
        raise ValueError(f"{name} expects at least one scheduler, but got no scheduler.")
    for index, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{name} at index {index} should have `optimizer` as its attribute.")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                             "kwargs to be specified when calling `step`, but got one at index "
                             f"{index} in the given schedulers sequence.")
        if optimizer != scheduler.optimizer:
            raise ValueError(f"{name} expects all schedulers to belong to the same optimizer, but got "
                             f"scheduler {type(scheduler).__name__} at index {index} has {scheduler.optimizer}, "
                             f"which is different from {type(optimizer).__name__}.")


def _check_milestones(schedulers, milestones):
    if len(milestones) != len(schedulers) - 1:
        raise ValueError(f"Sequential Schedulers expects number of schedulers provided to be one more than the "
                         f"number of milestone points, but got number of schedulers {len(schedulers)} and the "
                         f"number of milestones to be equal to {len(milestones)}")
