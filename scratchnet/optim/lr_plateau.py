r"""ReduceLROnPlateau: cut the lr when a watched metric stops improving, as torch's.

    better(a, best) =  a < best (1 - threshold)     mode 'min', threshold_mode 'rel'
                       a < best - threshold         mode 'min', threshold_mode 'abs'
                       a > best (1 + threshold)     mode 'max', threshold_mode 'rel'
                       a > best + threshold         mode 'max', threshold_mode 'abs'

Each ``step(metrics)`` counts the epochs since the last improvement (``num_bad_epochs``, held at
0 during ``cooldown``); once it exceeds ``patience``, every group's lr becomes

    lr <- max(lr factor, min_lr)        (skipped when the change would be at most eps)

and the cooldown starts.
"""

import math
import warnings

from scratchnet.optim.lr_base import EPOCH_DEPRECATION_WARNING, LRScheduler, _check_optimizer, _group_values


class ReduceLROnPlateau(LRScheduler):
    """Reduce each group's lr by ``factor`` when ``metrics`` has not improved for ``patience`` epochs:

        num_bad_epochs > patience   =>   lr <- max(lr factor, min_lr),   then ``cooldown`` epochs of rest

    Unlike the other schedulers, ``step`` takes the metric (a loss in mode 'min', an accuracy in
    'max'); building it does not step nor record ``initial_lr``. ``min_lr`` is one floor for all
    groups or a list with one per group.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        _check_plateau(optimizer, factor, min_lr, mode, threshold_mode)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _group_values(optimizer, "lr")
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _reset(self):
        """Forget the best metric, the bad epochs and the cooldown."""
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch=None):
        current = float(metrics)  # a 0-d array or a Python number
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _group_values(self.optimizer, "lr")

    def _reduce_lr(self, epoch):
        """lr <- max(lr factor, min_lr) in every group, unless that changes it by eps or less."""
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the `optimizer` ({len(self.optimizer.param_groups)}) differs "
                    f"from when `ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), usually due to a new "
                    "param group being added to the optimizer. Please modify the `min_lrs` field to match the "
                    "length of the `optimizer` param groups.")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold  # 'max', 'abs'

    def _init_is_better(self, mode, threshold, threshold_mode):
        _check_modes(mode, threshold_mode)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


def _check_plateau(optimizer, factor, min_lr, mode, threshold_mode):
    """ReduceLROnPlateau's arguments, in torch's order and with its messages."""
    if factor >= 1.0:
        raise ValueError("Factor should be < 1.0.")
    _check_optimizer(optimizer)
    if isinstance(min_lr, (list, tuple)) and len(min_lr) != len(optimizer.param_groups):
        raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
    _check_modes(mode, threshold_mode)


def _check_modes(mode, threshold_mode):
    if mode not in {"min", "max"}:
        raise ValueError("mode " + mode + " is unknown!")
    if threshold_mode not in {"rel", "abs"}:
        raise ValueError("threshold mode " + threshold_mode + " is unknown!")
