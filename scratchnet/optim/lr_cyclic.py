r"""Schedulers that go up and down: CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts.

These are stepped once per *batch* (CyclicLR, OneCycleLR) or per (fractional) epoch
(CosineAnnealingWarmRestarts). CyclicLR and OneCycleLR compute the lr from the step number alone
and, with ``cycle_momentum``, move the momentum (``group['momentum']``, or beta1 of
``group['betas']`` for Adam-like optimizers) opposite to the lr.
"""

import math
import types

from scratchnet.optim.lr_base import (
    LRScheduler, _check_momentum_support, _check_optimizer, _check_per_group, _per_group, _set_momentum,
)

# CyclicLR's built-in amplitude scalings f(x), x the cycle number (or the step for exp_range).
_CYCLIC_SCALE_FNS = {
    "triangular": lambda gamma, x: 1.0,
    "triangular2": lambda gamma, x: 1 / (2.0 ** (x - 1)),
    "exp_range": lambda gamma, x: gamma ** x,
}
# The scale modes the built-in modes force, as torch's (a custom scale_fn keeps the one given).
_CYCLIC_SCALE_MODES = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}


class CyclicLR(LRScheduler):
    r"""Cycle the lr between ``base_lr`` and ``max_lr`` (Smith, 2017), stepped once per batch.

    With step t, cycle length L = step_size_up + step_size_down and rise fraction r = step_size_up / L:

        cycle = floor(1 + t / L)                 x = 1 + t / L - cycle        (position in the cycle, [0, 1))
        h = x / r  if x <= r  else  (x - 1) / (r - 1)                       (the triangle, 0 -> 1 -> 0)
        lr_t = base_lr + (max_lr - base_lr) h f(s)
        momentum_t = max_momentum - (max_momentum - base_momentum) h f(s)

    s = cycle (scale_mode 'cycle') or t ('iterations'); f = 1 ('triangular'), 1 / 2^(s - 1)
    ('triangular2'), gamma^s ('exp_range'), or ``scale_fn``.
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        _check_cyclic(optimizer, base_lr, max_lr, mode, scale_fn, cycle_momentum, base_momentum, max_momentum)
        self.optimizer = optimizer
        base_lrs = _per_group(optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _per_group(optimizer, max_lr)
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(optimizer, base_momentum)
            self.max_momentums = _per_group(optimizer, max_momentum)
            if last_epoch == -1:
                for max_m, base_m, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups,
                                                strict=True):
                    _set_momentum(group, max_m, self.use_beta1)
                    group["max_momentum"] = max_m
                    group["base_momentum"] = base_m
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs  # after step 0, as torch (which took it from the groups' initial_lr)

    def _init_scale_fn(self):
        if self._scale_fn_custom is None:
            self.scale_mode = _CYCLIC_SCALE_MODES[self.mode]

    def scale_fn(self, x):
        """f(x): the custom ``scale_fn`` if given, else the mode's."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return _CYCLIC_SCALE_FNS[self.mode](self.gamma, x)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        t = self.last_epoch
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        h = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        f = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        lrs = [base_lr + (max_lr - base_lr) * h * f for base_lr, max_lr in zip(self.base_lrs, self.max_lrs,
                                                                                 strict=True)]
        if self.cycle_momentum:
            momentums = [max_m - (max_m - base_m) * h * f
                         for base_m, max_m in zip(self.base_momentums, self.max_momentums, strict=True)]
            for group, momentum in zip(self.optimizer.param_groups, momentums, strict=True):
                _set_momentum(group, momentum, self.use_beta1)
        return lrs

    def state_dict(self):
        """As torch: a custom ``scale_fn`` is saved only as a callable object's ``__dict__``."""
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        fn = state_dict.pop("_scale_fn_custom")
        super().load_state_dict(state_dict)
        if fn is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


def _check_cyclic(optimizer, base_lr, max_lr, mode, scale_fn, cycle_momentum, base_momentum, max_momentum):
    """CyclicLR's arguments, in torch's order and with its messages."""
    _check_optimizer(optimizer)
    _check_per_group("base_lr", optimizer, base_lr)
    _check_per_group("max_lr", optimizer, max_lr)
    if mode not in _CYCLIC_SCALE_FNS and scale_fn is None:
        raise ValueError("mode is invalid and scale_fn is None")
    if cycle_momentum:
        _check_momentum_support(optimizer)
        _check_per_group("base_momentum", optimizer, base_momentum)
        _check_per_group("max_momentum", optimizer, max_momentum)


def _annealing_cos(start, end, pct):
    """From start (pct = 0) to end (pct = 1) along half a cosine."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _annealing_linear(start, end, pct):
    """From start (pct = 0) to end (pct = 1) along a line."""
    return (end - start) * pct + start


_ANNEAL_FUNCS = {"cos": _annealing_cos, "linear": _annealing_linear}


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin, 2018), stepped once per batch for ``total_steps`` steps.

    The lr rises from initial_lr = max_lr / div_factor to max_lr over the first pct_start of the
    steps, then falls to min_lr = initial_lr / final_div_factor; momentum moves the other way,
    max_momentum -> base_momentum -> max_momentum. With N = total_steps, p = pct_start, phases end at

        two phases:    p N - 1 (initial -> max),  N - 1 (max -> min)
        three_phase:   p N - 1 (initial -> max),  2 p N - 2 (max -> initial),  N - 1 (initial -> min)

    and within a phase [a, b], with pct = (t - a) / (b - a) (a = 0 for the first),

        lr_t = anneal(start, end, pct):   'cos':    end + (start - end) (1 + cos(pi pct)) / 2
                                           'linear': start + (end - start) pct

    Stepping past N raises ``ValueError``. initial_lr, max_lr, min_lr, max_momentum and
    base_momentum are stored in each group, as torch does.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        _check_one_cycle(optimizer, max_lr, total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy,
                         cycle_momentum, base_momentum, max_momentum)
        self.optimizer = optimizer
        self.total_steps = total_steps if total_steps is not None else epochs * steps_per_epoch
        self._schedule_phases = _one_cycle_phases(self.total_steps, pct_start, three_phase)
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group(optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(optimizer, max_momentum)
            base_momentums = _per_group(optimizer, base_momentum)
            if last_epoch == -1:
                for max_m, base_m, group in zip(max_momentums, base_momentums, optimizer.param_groups, strict=True):
                    _set_momentum(group, max_m, self.use_beta1)
                    group["max_momentum"] = max_m
                    group["base_momentum"] = base_m
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"Tried to step {t} times. The specified number of total steps is {self.total_steps}")
        anneal = _ANNEAL_FUNCS[self._anneal_func_type]
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for index, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if t <= end_step or index == len(self._schedule_phases) - 1:
                    pct = (t - start_step) / (end_step - start_step)
                    lrs.append(anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                        _set_momentum(group, momentum, self.use_beta1)
                    break
                start_step = end_step
        return lrs


def _one_cycle_phases(total_steps, pct_start, three_phase):
    """The phases' last steps and the group keys they anneal between (torch's ``_schedule_phases``)."""
    def phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
        return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
                "start_momentum": start_momentum, "end_momentum": end_momentum}

    warmup_end = float(pct_start * total_steps) - 1
    if three_phase:
        return [phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                      "max_momentum"),
                phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
    return [phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]


def _check_one_cycle(optimizer, max_lr, total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy,
                     cycle_momentum, base_momentum, max_momentum):
    """OneCycleLR's arguments, in torch's order and with its messages."""
    _check_optimizer(optimizer)
    if total_steps is not None:
        if total_steps <= 0 or not isinstance(total_steps, int):
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
    elif epochs is not None and steps_per_epoch is not None:
        if not isinstance(epochs, int) or epochs <= 0:
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
    else:
        raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
    if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
        raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
    if anneal_strategy not in _ANNEAL_FUNCS:
        raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
    _check_per_group("max_lr", optimizer, max_lr)
    if cycle_momentum:
        _check_momentum_support(optimizer)
        _check_per_group("max_momentum", optimizer, max_momentum)
        _check_per_group("base_momentum", optimizer, base_momentum)


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter, 2017):

        lr = eta_min + (base_lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2

    T_cur counts the epochs since the last restart; at T_cur = T_i the lr jumps back to base_lr
    and the period grows, T_i <- T_i T_mult (T_0 first). ``step(epoch)`` takes any epoch >= 0,
    fractional ones too (several steps per epoch): with T_mult = 1, T_cur = epoch mod T_0; else,
    after n = floor(log_{T_mult}(epoch (T_mult - 1) / T_0 + 1)) restarts,

        T_cur = epoch - T_0 (T_mult^n - 1) / (T_mult - 1),        T_i = T_0 T_mult^n.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        _check_warm_restarts(T_0, T_mult, eta_min)
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_if_get_lr_called_outside_step()
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch=None):
        """One epoch on (restarting at T_i), or to ``epoch`` (a float >= 0; no deprecation warning here)."""
        if epoch is not None and epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** n
        else:
            self.T_i = self.T_0
            self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._get_lr_called_within_step = True
        try:
            lrs = self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def _check_warm_restarts(T_0, T_mult, eta_min):
    if T_0 <= 0 or not isinstance(T_0, int):
        raise ValueError(f"Expected positive integer T_0, but got {T_0}")
    if T_mult < 1 or not isinstance(T_mult, int):
        raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
    if not isinstance(eta_min, (float, int)):
        raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
