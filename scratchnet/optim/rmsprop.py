"""RMSprop, with torch.optim.RMSprop's update rule in its order of operations.

The results agree with torch's to rounding, not bit for bit (measured: scratchnet.optim.optimizer).
"""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    r"""For each parameter p with gradient g (torch.optim.RMSprop's algorithm); each line is a line of ``_update()``:

        g      = -g                                 (maximize: ascend instead)
        g      = g + weight_decay * p               (coupled L2 decay, if weight_decay != 0)
        v     *= alpha
        v     += (1 - alpha) * g * g                (v = alpha v + (1 - alpha) g^2: running mean of g^2)
        m     += (1 - alpha) * (g - m)              (centered only: running mean of g, as torch's lerp)
        denom  = sqrt(v - m * m) + eps              (centered: the running variance of g)
        denom  = sqrt(v) + eps                      (otherwise)
        b     *= momentum                           (if momentum > 0)
        b     += g / denom
        p     -= lr * b
        p     -= lr * g / denom                     (otherwise)

    v, m and the momentum buffer b start at 0. Unlike Adam there is no bias correction.
    State: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b, momentum > 0), ``grad_avg`` (m, centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps, "momentum value": momentum,
                            "weight_decay value": weight_decay, "alpha value": alpha})
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        if not state:
            state["step"] = np.float32(0)
            state["square_avg"] = np.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if centered:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        v = state["square_avg"]

        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        v *= alpha
        v += (1 - alpha) * g * g
        if centered:
            m = state["grad_avg"]
            m += (1 - alpha) * (g - m)
            denom = np.sqrt(v - m * m) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            b = state["momentum_buffer"]
            b *= momentum
            b += g / denom
            p -= lr * b
        else:
            p -= lr * g / denom
