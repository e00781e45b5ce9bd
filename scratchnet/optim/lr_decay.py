r"""Schedulers that are a function of the epoch t: lambdas, steps, warmups, polynomial and cosine decay.

Each docstring gives the closed form lr_t; ``get_lr()`` computes it, as torch does, recursively
from the previous lr (the ratio of consecutive closed forms), so schedulers chain, and
``_get_closed_form_lr()`` gives it directly (used by ``step(epoch)`` and at SequentialLR's milestones).
"""

import math
import types
from bisect import bisect_right
from collections import Counter

from scratchnet.optim.lr_base import LRScheduler, _group_values


class _LambdaScheduler(LRScheduler):
    """LambdaLR's and MultiplicativeLR's shared part: one function per group, saved as torch saves it."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_lambdas(optimizer, lr_lambda)
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

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


class LambdaLR(_LambdaScheduler):
    """Set each group's lr to its base lr times a function of the epoch:  lr_t = base_lr * lr_lambda(t).

    ``lr_lambda`` is one function for every group, or a list (or tuple) with one per group. A linear
    warmup over w epochs, for example, is ``lr_lambda=lambda t: min(1.0, (t + 1) / w)``.
    """

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        return [base_lr * lr_lambda(self.last_epoch)
                for lr_lambda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(_LambdaScheduler):
    r"""Multiply each group's lr by a function of the epoch at every step:

        lr_0 = base_lr,    lr_t = lr_{t-1} * lr_lambda(t)   (t >= 1),   i.e.  lr_t = base_lr \prod_{k=1}^t lr_lambda(k)

    There is no closed form: ``step(epoch)`` multiplies once, by ``lr_lambda(epoch)``, as torch's.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_lambdas(optimizer, lr_lambda)
        for fn in lr_lambda if isinstance(lr_lambda, (list, tuple)) else [lr_lambda]:
            if not callable(fn):
                raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
        super().__init__(optimizer, lr_lambda, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * lr_lambda(self.last_epoch)
                for lr_lambda, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)]


def _check_lambdas(optimizer, lr_lambda):
    """One function per group, or one for all (torch checks callability in MultiplicativeLR only)."""
    if isinstance(lr_lambda, (list, tuple)) and len(lr_lambda) != len(optimizer.param_groups):
        raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs:  lr_t = base_lr * gamma^(t // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone:  lr_t = base_lr * gamma^(#milestones <= t).

    A milestone listed twice counts twice (``milestones`` is kept as a ``Counter``, as torch's).
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        if self.last_epoch not in self.milestones:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """Scale the lr by ``factor`` for the first ``total_iters`` epochs:

        lr_t = base_lr * factor   for t < total_iters,      lr_t = base_lr   after.
    """

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


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
        self._warn_if_get_lr_called_outside_step()
        t, T, s, e = self.last_epoch, self.total_iters, self.start_factor, self.end_factor
        if t == 0:
            return [group["lr"] * s for group in self.optimizer.param_groups]
        if self._is_initial or t > T:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 + (e - s) / (T * s + (t - 1) * (e - s))) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        t, T, s, e = self.last_epoch, self.total_iters, self.start_factor, self.end_factor
        return [base_lr * (s + (e - s) * min(T, t) / T) for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch:  lr_t = base_lr * gamma^t."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        if self._is_initial:  # resuming from a checkpoint must not step once more
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    r"""Decay the lr polynomially to 0 over ``total_iters`` epochs (T), then keep it:

        lr_t = base_lr (1 - min(t, T) / T)^power

    recursively:  lr_t = lr_{t-1} ((1 - t / T) / (1 - (t - 1) / T))^power  for 1 <= t <= T.
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        t, T = self.last_epoch, self.total_iters
        if self._is_initial or t > T:
            return _group_values(self.optimizer, "lr")
        decay_factor = ((1.0 - t / T) / (1.0 - (t - 1) / T)) ** self.power
        return [group["lr"] * decay_factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        t, T = self.last_epoch, self.total_iters
        return [base_lr * (1.0 - min(T, t) / T) ** self.power for base_lr in self.base_lrs]


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
        self._warn_if_get_lr_called_outside_step()
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        if self._step_count == 1 and t > 0:  # resumed at epoch t: closed form
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T)) / 2 for base_lr in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups, strict=True)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (group["lr"] - eta_min)
                + eta_min for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for base_lr in self.base_lrs]
