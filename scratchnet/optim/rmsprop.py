"""RMSprop, with torch.optim.RMSprop's exact update rule."""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    r"""For each parameter p with gradient g (torch.optim.RMSprop's algorithm):

        g   = g + weight_decay * p                       (coupled L2 decay, if weight_decay != 0)
        v   = alpha v + (1 - alpha) g * g                (running mean of squared gradients; v0 = 0)
        if centered:                                     (subtract the squared running mean of g)
            m   = m + (1 - alpha) (g - m)
            den = sqrt(v - m * m) + eps
        else:
            den = sqrt(v) + eps
        if momentum > 0:
            b = momentum b + g / den;   p = p - lr b     (b0 = 0)
        else:
            p = p - lr g / den

    Unlike Adam there is no bias correction, and eps is added after the square root.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        check_non_negative({"learning rate": lr, "epsilon value": eps, "momentum value": momentum,
                            "weight_decay value": weight_decay, "alpha value": alpha})
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def step(self):
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                state = self._state(param)
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(param.data)
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(param.data)
                    if centered:
                        state["grad_avg"] = np.zeros_like(param.data)
                state["step"] += 1

                if weight_decay != 0:
                    grad = grad + weight_decay * param.data
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if centered:
                    grad_avg = state["grad_avg"]
                    grad_avg += (1 - alpha) * (grad - grad_avg)
                    denom = np.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    denom = np.sqrt(square_avg)
                denom += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += grad / denom
                    param.data -= lr * buf
                else:
                    param.data -= lr * grad / denom
