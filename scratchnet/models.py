"""The lecture's models, written with scratchnet's layers."""

from scratchnet.nn import Linear, Module, ReLU, Sequential


class MLP(Module):
    """The lecture's multilayer perceptron: Linear-ReLU-Linear-ReLU-Linear.

    x (N, input_dim) -> z1 = x W1^T + b1 -> a1 = relu(z1)     (N, hidden_dim)
                     -> z2 = a1 W2^T + b2 -> a2 = relu(z2)    (N, hidden_dim)
                     -> logits = a2 W3^T + b3                 (N, output_dim)

    ``self.net`` is a Sequential, so state_dict keys are net.0.weight ... net.4.bias,
    exactly those of the lecture's torch model.
    """

    def __init__(self, input_dim, hidden_dim, output_dim, dtype=None):
        super().__init__()
        self.net = Sequential(
            Linear(input_dim, hidden_dim, dtype=dtype),
            ReLU(),
            Linear(hidden_dim, hidden_dim, dtype=dtype),
            ReLU(),
            Linear(hidden_dim, output_dim, dtype=dtype),
        )

    def config(self):
        """The constructor arguments that rebuild this model's shape (``scratchnet.save`` stores them)."""
        first, last = self.net[0], self.net[-1]
        return {"input_dim": first.in_features, "hidden_dim": first.out_features, "output_dim": last.out_features}

    def forward(self, x):
        return self.net(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)
