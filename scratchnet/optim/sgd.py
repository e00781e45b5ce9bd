"""Stochastic gradient descent, with torch.optim.SGD's update rule in its order of operations.

The results agree with torch's to rounding, not bit for bit (measured: scratchnet.optim.optimizer).
"""

from scratchnet.optim.optimizer import Optimizer, check_kernel_flags, check_non_negative


class SGD(Optimizer):
    r"""For each parameter p with gradient g (torch.optim.SGD's algorithm); each line is a line of ``_update()``:

        g   = -g                                    (maximize: ascend instead)
        g   = g + weight_decay * p                  (coupled L2 decay, if weight_decay != 0)
        b   = g.copy()                              (momentum != 0, first step: the buffer starts at g)
        b  *= momentum                              (later steps)
        b  += (1 - dampening) * g                   (b = momentum b + (1 - dampening) g)
        g   = g + momentum * b  if nesterov  else  b
        p  -= lr * g

    State: ``momentum_buffer`` (b), only when momentum != 0.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_hyperparameters(lr, momentum, dampening, weight_decay, nesterov)
        check_kernel_flags(foreach, fused, differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov = group["weight_decay"], group["nesterov"]
        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            if "momentum_buffer" not in state:
                b = state["momentum_buffer"] = g.copy()
            else:
                b = state["momentum_buffer"]
                b *= momentum
                b += (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p -= lr * g


def _check_hyperparameters(lr, momentum, dampening, weight_decay, nesterov):
    """torch's checks: lr, momentum, weight_decay >= 0; Nesterov needs momentum > 0 and no dampening."""
    check_non_negative({"learning rate": lr, "momentum value": momentum, "weight_decay value": weight_decay})
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
