"""The lecture's models, written with scratchnet's layers."""

from scratchnet import nn
from scratchnet.nn import Linear, Module, Sequential

# Activations an MLP can use between its layers, by their torch names (those scratchnet has).
ACTIVATIONS = tuple(name for name in ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh",
                                      "Identity") if hasattr(nn, name))


def hidden_widths(hidden_dim):
    """The lecture's ``hidden_dim=64`` means two hidden layers of 64; a list gives any depth."""
    if isinstance(hidden_dim, int):
        return [hidden_dim, hidden_dim]
    widths = list(hidden_dim)
    if not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"hidden_dim must be a positive int or a list of them, got {hidden_dim!r}")
    return widths


class MLP(Module):
    """The lecture's multilayer perceptron: Linear-ReLU-Linear-ReLU-Linear.

    x (N, input_dim) -> z1 = x W1^T + b1 -> a1 = relu(z1)     (N, hidden_dim)
                     -> z2 = a1 W2^T + b2 -> a2 = relu(z2)    (N, hidden_dim)
                     -> logits = a2 W3^T + b3                 (N, output_dim)

    ``self.net`` is a Sequential, so state_dict keys are net.0.weight ... net.4.bias,
    exactly those of the lecture's torch model. ``hidden_dim`` may also be a list of
    widths (one hidden layer each, ``[]`` for a linear model) and ``activation`` the
    torch name of any activation module (``"Tanh"``, ``"GELU"``, ...).
    """

    def __init__(self, input_dim, hidden_dim, output_dim, activation="ReLU", dtype=None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        widths = [input_dim, *hidden_widths(hidden_dim), output_dim]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [Linear(fan_in, fan_out, dtype=dtype), getattr(nn, activation)()]
        self.net = Sequential(*layers[:-1])  # no activation after the output layer: it gives logits
        self._config = dict(input_dim=input_dim, hidden_dim=hidden_dim, output_dim=output_dim, activation=activation)

    def config(self):
        """The constructor's arguments (used to rebuild the model when loading a file)."""
        return dict(self._config)

    def forward(self, x):
        return self.net(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)
