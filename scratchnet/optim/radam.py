"""RAdam: Adam with its early steps' variance rectified, with torch.optim.RAdam's update rule
in its order of operations.

The results agree with torch's to rounding, not bit for bit (measured: scratchnet.optim.optimizer).
"""

import math

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_betas, check_non_negative


class RAdam(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.RAdam's algorithm);
    each line is a line of ``_update()``:

        g        = -g                                   (maximize: ascend instead)
        p       *= 1 - lr * weight_decay                (decoupled_weight_decay)
        g        = g + weight_decay * p                 (otherwise: coupled L2 decay, if weight_decay != 0)
        m       += (1 - beta1) * (g - m)                (m = beta1 m + (1 - beta1) g, as torch's lerp)
        v       *= beta2
        v       += (1 - beta2) * g * g                  (v = beta2 v + (1 - beta2) g^2)
        m_hat    = m / (1 - beta1**t)
        rho_inf  = 2 / (1 - beta2) - 1                  (the longest the moving average of g^2 can be)
        rho_t    = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:                                   (v estimates its variance well enough: adapt)
            l    = sqrt(1 - beta2**t) / (sqrt(v) + eps)                       (1 / sqrt(v_hat), near enough)
            r    = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p   -= m_hat * lr * l * r
        else:                                           (the first few steps: plain momentum SGD)
            p   -= m_hat * lr

    r (< 1, tending to 1) shrinks the adaptive step while v has averaged few gradients (Liu et al.,
    "On the Variance of the Adaptive Learning Rate and Beyond"). m and v start at 0.
    State: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps})
        check_betas(betas)
        check_non_negative({"weight_decay value": weight_decay})
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = np.float32(0)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t, m, v = float(state["step"]), state["exp_avg"], state["exp_avg_sq"]

        if group["maximize"]:
            g = -g
        if weight_decay != 0 and group["decoupled_weight_decay"]:
            p *= 1 - lr * weight_decay
        elif weight_decay != 0:
            g = g + weight_decay * p
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5.0:
            l = math.sqrt(1 - beta2**t) / (np.sqrt(v) + eps)  # noqa: E741 (torch's l_t)
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p -= m_hat * lr * l * r
        else:
            p -= m_hat * lr
