"""Adadelta, with torch.optim.Adadelta's update rule in its order of operations.

The results agree with torch's to rounding, not bit for bit (measured: scratchnet.optim.optimizer).
"""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class Adadelta(Optimizer):
    r"""For each parameter p with gradient g (torch.optim.Adadelta's algorithm); each line is a line of ``_update()``:

        g        = -g                                   (maximize: ascend instead)
        g        = g + weight_decay * p                 (coupled L2 decay, if weight_decay != 0)
        v       *= rho
        v       += (1 - rho) * g * g                    (v = rho v + (1 - rho) g^2: running mean of g^2)
        delta_x  = sqrt(u + eps) / sqrt(v + eps) * g    (the step, in the units of p)
        u       *= rho
        u       += (1 - rho) * delta_x * delta_x        (u = rho u + (1 - rho) delta_x^2: running mean of steps^2)
        p       -= lr * delta_x

    v and u start at 0. The ratio of the two running RMS values gives each weight its own step size,
    so lr = 1 (the default) needs no tuning (Zeiler, "ADADELTA: An Adaptive Learning Rate Method").
    State: ``step``, ``square_avg`` (v), ``acc_delta`` (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_non_negative({"learning rate": lr})
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_non_negative({"epsilon value": eps, "weight_decay value": weight_decay})
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = np.float32(0)
            state["square_avg"] = np.zeros_like(p)
            state["acc_delta"] = np.zeros_like(p)
        state["step"] += 1
        v, u = state["square_avg"], state["acc_delta"]

        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        v *= rho
        v += (1 - rho) * g * g
        delta_x = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta_x * delta_x
        p -= lr * delta_x
