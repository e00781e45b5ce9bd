"""ASGD: averaged stochastic gradient descent, with torch.optim.ASGD's update rule in its order of operations.

The results agree with torch's to rounding, not bit for bit (measured: scratchnet.optim.optimizer).
"""

import numpy as np

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class ASGD(Optimizer):
    r"""For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.ASGD's algorithm);
    each line is a line of ``_update()``:

        g    = -g                                   (maximize: ascend instead)
        g    = g + weight_decay * p                 (coupled L2 decay, if weight_decay != 0)
        p   *= 1 - lambd * eta                      (decay term)
        p   -= eta * g                              (SGD step, with this step's rate eta)
        ax  += (p - ax) * mu                        (mu != 1: running average of the iterates)
        ax   = p                                    (mu == 1, before averaging starts)
        eta  = lr / (1 + lambd * lr * t)**alpha     (the rate for the next step)
        mu   = 1 / max(1, t - t0)                   (averaging starts after t0 steps)

    eta starts at lr, mu at 1, ax at 0. ``p`` follows SGD with a slowly decaying rate; ``ax`` (in
    ``state[param]['ax']``) is the Polyak-Ruppert average of p over the steps after t0, the
    estimate the method is named for (Polyak & Juditsky, "Acceleration of stochastic approximation
    by averaging"); the optimizer never copies it into p.
    State: ``step`` (t), ``eta``, ``mu``, ``ax``; eta and mu are float32 scalars, as torch's
    (see ``scratchnet.optim.optimizer``). torch checks only lr and weight_decay; so does this.
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        check_non_negative({"learning rate": lr, "weight_decay value": weight_decay})
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        weight_decay = group["weight_decay"]
        if not state:
            state["step"] = np.float32(0)
            state["eta"] = np.float32(lr)
            state["mu"] = np.float32(1)
            state["ax"] = np.zeros_like(p)
        state["step"] += 1
        t, eta, mu, ax = float(state["step"]), float(state["eta"]), float(state["mu"]), state["ax"]

        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        p *= 1 - lambd * eta
        p -= eta * g
        if mu != 1:
            ax += (p - ax) * mu
        else:
            ax[...] = p
        state["eta"] = np.float32(lr / (1 + lambd * lr * t) ** alpha)
        state["mu"] = np.float32(1 / max(1, t - t0))
