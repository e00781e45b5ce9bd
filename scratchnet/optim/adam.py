"""Adam, with torch.optim.Adam's exact update rule (bias correction, eps outside the root)."""

import math

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.Adam's algorithm);
    each line is a line of ``step()``:

        g          = g + weight_decay * p               (coupled L2 decay, if weight_decay != 0)
        p         *= 1 - lr * weight_decay              (instead, if decoupled_weight_decay: AdamW)
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
    operations so that the results agree with torch's to the last bit.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 decoupled_weight_decay=False):
        _check_hyperparameters(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad, decoupled = group["weight_decay"], group["amsgrad"], group["decoupled_weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                p, g = param.data, param.grad
                state = self._state(param)
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p)
                    state["exp_avg_sq"] = np.zeros_like(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]

                if weight_decay != 0 and decoupled:
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


def _check_hyperparameters(lr, betas, eps, weight_decay):
    """torch's checks, in torch's order: lr, eps >= 0, each beta in [0, 1), weight_decay >= 0."""
    check_non_negative({"learning rate": lr, "epsilon value": eps})
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
    check_non_negative({"weight_decay value": weight_decay})
