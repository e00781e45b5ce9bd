"""Adagrad, with torch.optim.Adagrad's exact update rule."""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.Adagrad's algorithm);
    each line is a line of ``step()``:

        g    = g + weight_decay * p                 (coupled L2 decay, if weight_decay != 0)
        clr  = lr / (1 + (t - 1) * lr_decay)
        s   += g * g                                (sum of squared gradients; starts at initial_accumulator_value)
        p   -= clr * g / (sqrt(s) + eps)

    Each weight's step shrinks as its squared gradients add up: rarely-updated weights keep large steps.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        check_non_negative({"learning rate": lr, "lr_decay value": lr_decay, "weight_decay value": weight_decay,
                            "initial_accumulator_value value": initial_accumulator_value, "epsilon value": eps})
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)
        # torch fills the accumulator when the optimizer is built, not at the first step.
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group)

    def _init_state(self, param, group):
        state = self._state(param)
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param.data, group["initial_accumulator_value"])
        return state

    def step(self):
        for group in self.param_groups:
            lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                p, g = param.data, param.grad
                state = self._init_state(param, group)
                state["step"] += 1
                t, s = state["step"], state["sum"]

                if weight_decay != 0:
                    g = g + weight_decay * p
                clr = lr / (1 + (t - 1) * lr_decay)
                s += g * g
                p -= clr * g / (np.sqrt(s) + eps)
