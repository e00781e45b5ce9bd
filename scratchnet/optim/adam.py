"""Adam, with torch.optim.Adam's exact update rule (bias correction, eps outside the root)."""

import math

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.Adam's algorithm):

        g   = g + weight_decay * p                       (coupled L2 decay, if weight_decay != 0)
        p   = p (1 - lr * weight_decay)                  (instead, if decoupled_weight_decay: AdamW)
        m   = m + (1 - beta1) * (g - m)                  (= beta1 m + (1 - beta1) g, torch's lerp)
        v   = beta2 * v + (1 - beta2) * g * g
        v*  = max(v*, v) if amsgrad else v
        p   = p - lr / (1 - beta1^t) * m / (sqrt(v*) / sqrt(1 - beta2^t) + eps)

    eps is added after the bias-corrected square root, as torch does; m and v start at 0.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 decoupled_weight_decay=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps, "weight_decay value": weight_decay})
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            decoupled = group["decoupled_weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = np.ascontiguousarray(param.grad)  # the update runs over flat chunks (no copy if contiguous)
                state = self._state(param)
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(param.data)
                    state["exp_avg_sq"] = np.zeros_like(param.data)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(param.data)
                state["step"] += 1
                step = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]

                if weight_decay != 0 and decoupled:
                    param.data *= 1 - lr * weight_decay  # shrink the weights, outside the moments
                elif weight_decay != 0:
                    grad = grad + weight_decay * param.data
                step_size = lr / (1 - beta1**step)
                bias_correction2_sqrt = math.sqrt(1 - beta2**step)
                arrays = [param.data, grad, exp_avg, exp_avg_sq] + ([state["max_exp_avg_sq"]] if amsgrad else [])
                for p, g, m, v, *v_max in self._chunks(*arrays):
                    work, denom = self._workspace(p)
                    # One in-place NumPy operation per line, in the order of torch's kernels.
                    np.subtract(g, m, out=work)
                    work *= 1 - beta1
                    m += work                                     # m = m + (1 - beta1) (g - m)
                    np.multiply(g, 1 - beta2, out=work)
                    work *= g
                    v *= beta2
                    v += work                                     # v = beta2 v + (1 - beta2) g g
                    if amsgrad:
                        np.maximum(v_max[0], v, out=v_max[0])     # v* = max(v*, v)
                        v = v_max[0]
                    np.sqrt(v, out=denom)
                    denom /= bias_correction2_sqrt
                    denom += eps                                  # sqrt(v) / sqrt(1 - beta2^t) + eps
                    np.multiply(m, step_size, out=work)
                    work /= denom
                    p -= work                                     # p = p - step_size m / denom
