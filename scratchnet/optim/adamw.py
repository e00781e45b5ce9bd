"""AdamW: Adam with decoupled weight decay, as torch.optim.AdamW."""

from scratchnet.optim.adam import Adam


class AdamW(Adam):
    r"""Adam whose weight decay shrinks the weights directly instead of entering the gradient;
    ``Adam._update`` runs these lines (see Adam for the bias correction):

        g          = -g                                 (maximize: ascend instead)
        p         *= 1 - lr * weight_decay              (decoupled decay, first)
        m         += (1 - beta1) * (g - m)
        v         *= beta2
        v         += (1 - beta2) * g * g
        v_max      = max(v_max, v)                      (amsgrad only; v_max then stands for v below)
        step_size  = lr / (1 - beta1**t)
        denom      = sqrt(v) / sqrt(1 - beta2**t) + eps
        p         -= step_size * m / denom

    With Adam's coupled decay, weight_decay * p is divided by sqrt(v) like any gradient, so
    weights with large gradients are barely decayed; here every weight shrinks at the same rate
    (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"). Default weight_decay = 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # as torch's AdamW.__setstate__: AdamW always decouples
            group["decoupled_weight_decay"] = True
