"""Stochastic gradient descent, with torch.optim.SGD's exact update rule."""

from scratchnet.optim.optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    r"""For each parameter p with gradient g (torch.optim.SGD's algorithm):

        g = g + weight_decay * p                    (coupled L2 decay, if weight_decay != 0)
        b = g                                       (first step)
        b = momentum * b + (1 - dampening) * g      (later steps, if momentum != 0)
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        check_non_negative({"learning rate": lr, "momentum value": momentum, "weight_decay value": weight_decay})
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def step(self):
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if weight_decay != 0:
                    grad = grad + weight_decay * param.data
                if momentum != 0:
                    state = self._state(param)
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = grad.copy()
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * grad
                    grad = grad + momentum * buf if nesterov else buf
                param.data -= lr * grad
