"""The scheduler base class, as ``torch.optim.lr_scheduler.LRScheduler``, and the helpers its subclasses share.

A scheduler owns one counter, ``last_epoch`` (-1 before the first step), and on each ``step()``
writes ``get_lr()`` -- the lrs for the new ``last_epoch`` -- into ``optimizer.param_groups``.
``get_lr()`` is the *chainable* (recursive) form: it reads the groups' current lr, so several
schedulers can act on one optimizer. ``_get_closed_form_lr()``, where a scheduler has one, gives
the lr at ``last_epoch`` from ``base_lrs`` alone; ``step(epoch)`` (deprecated in torch, with its
warning) jumps there.
"""

import warnings

from scratchnet.optim.optimizer import Optimizer

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)


class LRScheduler:
    """Base class: ``last_epoch`` counts steps (-1 before the first), ``get_lr()`` gives the next lrs.

    Building a scheduler records each group's starting lr as ``group['initial_lr']`` (``base_lrs``)
    and takes step 0 (``last_epoch = 0``). Resuming (``last_epoch >= 0``) needs ``initial_lr``
    already in every group. ``state_dict()`` is every attribute but the optimizer, as torch's.
    """

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(optimizer)
        _check_resumable(optimizer, last_epoch)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        _track_optimizer_steps(optimizer)
        self._initial_step()

    def _initial_step(self):
        """Take step 0 (``_is_initial`` tells ``get_lr`` so); SequentialLR restarts a scheduler this way."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance one epoch (or, deprecated, jump to ``epoch``) and write the new lrs into the groups."""
        if self._step_count == 1:
            _warn_if_optimizer_not_stepped(self.optimizer)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        """Set the lrs for the next epoch (recursively, from the current lrs), or for ``epoch``.

        A jump to ``epoch`` uses the scheduler's closed form where it has one, as torch does;
        SequentialLR restarts each scheduler at its milestone with ``_update_lr(0)``.
        """
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                lrs = self.get_lr()
            else:
                self.last_epoch = epoch
                lrs = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = _group_values(self.optimizer, "lr")

    def get_last_lr(self):
        """The learning rates that the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self):
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)

    def _warn_if_get_lr_called_outside_step(self):
        """``get_lr()`` computes the *next* lrs; outside ``step()`` torch points to ``get_last_lr()``."""
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=3)


def _group_values(optimizer, key):
    """``[group[key] for group in optimizer.param_groups]``."""
    return [group[key] for group in optimizer.param_groups]


def _per_group(optimizer, value):
    """One value for every group, or a list/tuple with one per group (torch's ``_format_param``)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value] * len(optimizer.param_groups)


def _check_per_group(name, optimizer, value):
    """torch's refusal of a per-group list of the wrong length."""
    if isinstance(value, (list, tuple)) and len(value) != len(optimizer.param_groups):
        raise ValueError(f"{name} must have the same length as optimizer.param_groups. "
                         f"{name} has {len(value)} values, param_groups has {len(optimizer.param_groups)}.")


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _check_resumable(optimizer, last_epoch):
    if last_epoch == -1:
        return
    for index, group in enumerate(optimizer.param_groups):
        if "initial_lr" not in group:
            raise KeyError(
                f"param 'initial_lr' is not specified in param_groups[{index}] when resuming scheduler with "
                "last_epoch >= 0.\nThis typically happens when:\n1. You're trying to resume training from a "
                "checkpoint but haven't properly loaded the optimizer state\n2. You're using last_epoch >= 0 "
                "for a fresh training run (not recommended)")


def _check_momentum_support(optimizer):
    """CyclicLR and OneCycleLR cycle 'momentum' (SGD, RMSprop) or beta1 (Adam, AdamW)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")


def _set_momentum(group, momentum, use_beta1):
    """Write a cycled momentum into a group: as beta1 for Adam-like optimizers, else as 'momentum'."""
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _track_optimizer_steps(optimizer):
    """Wrap ``optimizer.step`` once, as torch does, so that a scheduler can tell whether it ran."""
    if not hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        optimizer.step = _TrackedStep(optimizer, optimizer.step.__func__)


class _TrackedStep:
    """``optimizer.step`` that first marks ``optimizer._opt_called``.

    An object holding the optimizer (not a closure over it, nor a weak reference as in torch), so
    that ``copy.deepcopy(optimizer)`` gives a copy whose ``step`` steps the copy.
    """

    _wrapped_by_lr_sched = True

    def __init__(self, optimizer, step):
        self.optimizer = optimizer
        self.step = step

    def __call__(self, *args, **kwargs):
        self.optimizer._opt_called = True
        return self.step(self.optimizer, *args, **kwargs)


def _warn_if_optimizer_not_stepped(optimizer):
    """torch's warnings at the first ``scheduler.step()``: the schedule would skip its first value."""
    if not hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        warnings.warn(
            "Seems like `optimizer.step()` has been overridden after learning rate scheduler initialization. "
            "Please, make sure to call `optimizer.step()` before `lr_scheduler.step()`. See more details at "
            "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate", UserWarning, stacklevel=3)
    elif not getattr(optimizer, "_opt_called", False):
        warnings.warn(
            "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and later, you "
            "should call them in the opposite order: `optimizer.step()` before `lr_scheduler.step()`.  Failure "
            "to do this will result in PyTorch skipping the first value of the learning rate schedule. See more "
            "details at https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
            UserWarning, stacklevel=3)
