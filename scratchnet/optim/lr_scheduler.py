"""Learning-rate schedulers, as ``torch.optim.lr_scheduler``: each ``step()`` sets every group's 'lr'.

Use as in torch, once per epoch after the optimizer's steps::

    scheduler = StepLR(optimizer, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        train_one_epoch(...)          # optimizer.step() inside
        scheduler.step()

Building a scheduler records each group's starting lr as ``group['initial_lr']`` (``base_lrs``) and
takes step 0 (``last_epoch = 0``). Like torch, each ``step()`` updates the current lr from the previous
one (the "recursive" form), so a scheduler composes with other changes to ``group['lr']``.

Warmup, as a Transformer's training wants: LinearLR (or LambdaLR with a ramp), followed by a decay
through SequentialLR.
"""

import math
import types
from bisect import bisect_right

from scratchnet.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: ``last_epoch`` counts steps (-1 before the first), ``get_lr()`` gives the next lrs."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{index}] "
                                   f"when resuming a scheduler with last_epoch={last_epoch}")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """Take step 0 (``_is_initial`` tells ``get_lr`` so); SequentialLR restarts a scheduler this way."""
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def step(self):
        """Advance one epoch and write the new learning rates into the optimizer's groups."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch=None):
        """Set the lrs for the next epoch (recursively, from the current lrs), or for ``epoch``.

        A jump to ``epoch`` uses the scheduler's closed form where it has one, as torch does;
        SequentialLR restarts each scheduler at its milestone with ``_update_lr(0)``.
        """
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            lrs = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The learning rates that the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self):
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs:  lr_t = base_lr * gamma^(t // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch:  lr_t = base_lr * gamma^t."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the lr from base_lr to eta_min along half a cosine over ``T_max`` epochs:

        lr_t = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2

    computed, as torch does, recursively from the previous lr:

        lr_t = eta_min + (lr_{t-1} - eta_min) (1 + cos(pi t / T_max)) / (1 + cos(pi (t - 1) / T_max))

    (equal to the closed form up to rounding). Past T_max the lr rises again along the cosine
    (period 2 T_max); at t = T_max + 1 (mod 2 T_max), where the ratio is 0/0, it steps up by
    (base_lr - eta_min) (1 - cos(pi / T_max)) / 2.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed at epoch t: closed form
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T)) / 2 for base_lr in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._current_lrs())]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for base_lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """Set each group's lr to its base lr times a function of the epoch:  lr_t = base_lr * lr_lambda(t).

    ``lr_lambda`` is one function for every group, or a list (or tuple) with one per group. A linear
    warmup over w epochs, for example, is ``lr_lambda=lambda t: min(1.0, (t + 1) / w)``.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * lr_lambda(self.last_epoch) for lr_lambda, base_lr in zip(self.lr_lambdas, self.base_lrs,
                                                                                     strict=True)]

    def state_dict(self):
        """As torch: plain functions and lambdas are not saved (None), a callable object's ``__dict__`` is."""
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        lr_lambdas = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for fn, saved in zip(self.lr_lambdas, lr_lambdas, strict=True):
            if saved is not None:
                fn.__dict__.update(saved)


class LinearLR(LRScheduler):
    r"""Scale the base lr by a factor that moves linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, then stays (s = start_factor, e = end_factor, T = total_iters):

        lr_t = base_lr (s + (e - s) min(t, T) / T)

    computed, as torch does, recursively from the previous lr (so it composes with other changes):

        lr_0 = lr s,    lr_t = lr_{t-1} (1 + (e - s) / (T s + (t - 1)(e - s)))   for 1 <= t <= T

    (the ratio of consecutive factors), and lr_t = lr_{t-1} after T. The usual warmup is
    ``LinearLR(optimizer, start_factor=0.01, total_iters=warmup)``, followed in a SequentialLR
    by a decay.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, s, e = self.last_epoch, self.total_iters, self.start_factor, self.end_factor
        if t == 0:
            return [lr * s for lr in self._current_lrs()]
        if self._is_initial or t > T:
            return self._current_lrs()
        return [lr * (1.0 + (e - s) / (T * s + (t - 1) * (e - s))) for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        t, T, s, e = self.last_epoch, self.total_iters, self.start_factor, self.end_factor
        return [base_lr * (s + (e - s) * min(T, t) / T) for base_lr in self.base_lrs]


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
        _check_sequence(optimizer, schedulers, milestones)
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
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
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        schedulers = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for scheduler, saved in zip(self._schedulers, schedulers, strict=True):
            scheduler.load_state_dict(saved)


def _check_sequence(optimizer, schedulers, milestones):
    """SequentialLR's arguments, with torch's messages."""
    if len(schedulers) < 1:
        raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
    for index, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"SequentialLR at index {index} should have `optimizer` as its attribute.")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"SequentialLR expects all schedulers to belong to the same optimizer, but got "
                             f"scheduler {type(scheduler).__name__} at index {index} has {scheduler.optimizer}, "
                             f"which is different from {type(optimizer).__name__}.")
    if len(milestones) != len(schedulers) - 1:
        raise ValueError(f"Sequential Schedulers expects number of schedulers provided to be one more than the "
                         f"number of milestone points, but got number of schedulers {len(schedulers)} and the "
                         f"number of milestones to be equal to {len(milestones)}")
