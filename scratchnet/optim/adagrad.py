"""Adagrad, with torch.optim.Adagrad's update rule in its order of operations.

The results agree with torch's to rounding, not bit for bit (measured: scratchnet.optim.optimizer).
"""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_kernel_flags, check_non_negative


class Adagrad(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.Adagrad's algorithm);
    each line is a line of ``_update()``:

        g    = -g                                   (maximize: ascend instead)
        g    = g + weight_decay * p                 (coupled L2 decay, if weight_decay != 0)
        clr  = lr / (1 + (t - 1) * lr_decay)
        s   += g * g                                (sum of squared gradients; starts at initial_accumulator_value)
        p   -= clr * g / (sqrt(s) + eps)

    Each weight's step shrinks as its squared gradients add up: rarely-updated weights keep large steps.
    State: ``step`` (t), ``sum`` (s); torch fills both when the optimizer is built, not at the first step.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_non_negative({"learning rate": lr, "lr_decay value": lr_decay, "weight_decay value": weight_decay,
                            "initial_accumulator_value value": initial_accumulator_value, "epsilon value": eps})
        check_kernel_flags(foreach, fused, differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                _init_state(self._state(param), param.data, group)

    def _update(self, p, g, state, group):
        lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
        _init_state(state, p, group)  # a group added after construction
        state["step"] += 1
        t, s = float(state["step"]), state["sum"]

        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s += g * g
        p -= clr * g / (np.sqrt(s) + eps)


def _init_state(state, p, group):
    if not state:
        state["step"] = np.float32(0)
        state["sum"] = np.full_like(p, group["initial_accumulator_value"])
