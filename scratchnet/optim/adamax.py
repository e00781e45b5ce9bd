"""Adamax: Adam with an infinity norm in place of the root mean square, as torch.optim.Adamax."""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_betas, check_non_negative


class Adamax(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.Adamax's algorithm);
    each line is a line of ``_update()``:

        g    = -g                                   (maximize: ascend instead)
        g    = g + weight_decay * p                 (coupled L2 decay, if weight_decay != 0)
        m   += (1 - beta1) * (g - m)                (m = beta1 m + (1 - beta1) g, as torch's lerp)
        u    = max(beta2 * u, |g| + eps)            (a decaying max of |g|: the infinity norm)
        clr  = lr / (1 - beta1**t)                  (m's bias correction; u needs none)
        p   -= clr * m / u

    m and u start at 0 (Kingma & Ba, "Adam", section 7.1).
    State: ``step`` (t), ``exp_avg`` (m), ``exp_inf`` (u).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps})
        check_betas(betas)
        check_non_negative({"weight_decay value": weight_decay})
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = np.float32(0)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_inf"] = np.zeros_like(p)
        state["step"] += 1
        t, m, u = float(state["step"]), state["exp_avg"], state["exp_inf"]

        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        m += (1 - beta1) * (g - m)
        u[...] = np.maximum(beta2 * u, np.abs(g) + eps)
        clr = lr / (1 - beta1**t)
        p -= clr * m / u
