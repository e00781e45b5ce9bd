"""Adam, with torch.optim.Adam's update rule (bias correction, eps outside the root)."""

import math

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_betas, check_kernel_flags, check_non_negative


class Adam(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.Adam's algorithm);
    each line is a line of ``_update()``:

        g          = -g                                 (maximize: ascend instead)
        p         *= 1 - lr * weight_decay              (decoupled_weight_decay: AdamW)
        g          = g + weight_decay * p               (otherwise: coupled L2 decay, if weight_decay != 0)
        m         += (1 - beta1) * (g - m)              (m = beta1 m + (1 - beta1) g, as torch's lerp)
        v         *= beta2
        v         += (1 - beta2) * g * g                (v = beta2 v + (1 - beta2) g^2)
        v_max      = max(v_max, v)                      (amsgrad only; v_max then stands for v below)
        step_size  = lr / (1 - beta1**t)
        denom      = sqrt(v) / sqrt(1 - beta2**t) + eps
        p         -= step_size * m / denom

    m and v start at 0. The paper writes the last three lines with bias-corrected moments
    m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t):  p -= lr m_hat / (sqrt(v_hat) + eps).
    That is the same update, since step_size * m = lr m_hat and denom = sqrt(v_hat) + eps; torch
    puts the corrections on the scalars instead of the arrays, and we follow its order of
    operations, so the results agree with torch's to rounding (not bit for bit; see
    ``scratchnet.optim.optimizer`` for the measured differences).

    State: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (v_max, amsgrad).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps})
        check_betas(betas)
        check_non_negative({"weight_decay value": weight_decay})
        check_kernel_flags(foreach, fused, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        if not state:
            state["step"] = np.float32(0)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p)
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
        if amsgrad:
            v_max = state["max_exp_avg_sq"]
            v_max[...] = np.maximum(v_max, v)
            v = v_max
        step_size = lr / (1 - beta1**t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + eps
        p -= step_size * m / denom
