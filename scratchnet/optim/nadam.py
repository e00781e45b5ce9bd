"""NAdam: Adam with Nesterov momentum, with torch.optim.NAdam's update rule in its order of operations.

The results agree with torch's to rounding, not bit for bit (measured: scratchnet.optim.optimizer).
"""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_betas, check_non_negative


class NAdam(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.NAdam's algorithm);
    each line is a line of ``_update()``:

        g           = -g                                      (maximize: ascend instead)
        p          *= 1 - lr * weight_decay                   (decoupled_weight_decay)
        g           = g + weight_decay * p                    (otherwise: coupled L2 decay, if weight_decay != 0)
        mu          = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))          (this step's momentum)
        mu_next     = beta1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))    (the next step's)
        mu_product *= mu                                      (mu_1 mu_2 ... mu_t)
        m          += (1 - beta1) * (g - m)                   (m = beta1 m + (1 - beta1) g, as torch's lerp)
        v          *= beta2
        v          += (1 - beta2) * g * g                     (v = beta2 v + (1 - beta2) g^2)
        denom       = sqrt(v / (1 - beta2**t)) + eps          (sqrt(v_hat) + eps)
        mu_product_next = mu_product * mu_next
        p          -= lr * (1 - mu) / (1 - mu_product) * g / denom
        p          -= lr * mu_next / (1 - mu_product_next) * m / denom

    The last two lines are torch's docstring's  p -= lr m_hat / (sqrt(v_hat) + eps)  with
    m_hat = mu_next m / (1 - mu_product_next) + (1 - mu) g / (1 - mu_product): the gradient's
    share and the momentum's share, each bias-corrected, applied one after the other as torch does.
    The momentum schedule mu warms up from beta1 / 2 towards beta1 (Dozat, "Incorporating Nesterov
    Momentum into Adam"). m and v start at 0, mu_product at 1.

    State: ``step`` (t), ``mu_product``, ``exp_avg`` (m), ``exp_avg_sq`` (v). mu_product is a
    float32 scalar, multiplied in float32, as torch's (see ``scratchnet.optim.optimizer``).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps})
        check_betas(betas)
        check_non_negative({"weight_decay value": weight_decay, "momentum_decay value": momentum_decay})
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, momentum_decay = group["weight_decay"], group["momentum_decay"]
        if not state:
            state["step"] = np.float32(0)
            state["mu_product"] = np.float32(1)
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
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        state["mu_product"] *= mu  # float32 * float32, as torch's float32 tensor
        mu_product = float(state["mu_product"])
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        denom = np.sqrt(v / (1 - beta2**t)) + eps
        mu_product_next = mu_product * mu_next
        p -= lr * (1 - mu) / (1 - mu_product) * g / denom
        p -= lr * mu_next / (1 - mu_product_next) * m / denom
