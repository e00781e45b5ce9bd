"""The lecture's models, written with scratchnet's layers."""

import numbers

import numpy as np

from scratchnet import nn
from scratchnet.nn import GRU, LSTM, RNN, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential

# Activations an MLP can use between its layers, by their torch names (those scratchnet has).
ACTIVATIONS = tuple(name for name in ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh",
                                      "Identity") if hasattr(nn, name))


def hidden_widths(hidden_dim):
    """The lecture's ``hidden_dim=64`` means two hidden layers of 64; a list gives any depth."""
    def is_width(value):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0  # torch allows 0

    if is_width(hidden_dim):
        return [int(hidden_dim), int(hidden_dim)]
    if isinstance(hidden_dim, (bool, numbers.Number, str)) or not all(is_width(w) for w in hidden_dim):
        raise ValueError(f"hidden_dim must be a non-negative int or a list of them, got {hidden_dim!r}")
    return [int(w) for w in hidden_dim]


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
        # Plain ints in the config (np.int64 does not go into a JSON header).
        hidden = int(hidden_dim) if isinstance(hidden_dim, numbers.Integral) else [int(w) for w in hidden_dim]
        self._config = dict(input_dim=int(input_dim), hidden_dim=hidden, output_dim=int(output_dim),
                            activation=activation)

    def config(self):
        """The constructor's arguments (used to rebuild the model when loading a file)."""
        return dict(self._config)

    def forward(self, x):
        return self.net(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)


class SequenceClassifier(Module):
    """A recurrent layer reads the sequence; a linear head classifies its last hidden state.

    x (N, T, input_size) -> rnn (batch_first) -> h_n[-1] (N, hidden_size), the top layer's state
    after the last step -> logits = h W^T + b (N, num_classes).

    Backward: the head gives dL/dh_n[-1]; the recurrent layer takes it as (grad_output=None,
    grad_h_n) -- only the final state was used -- and runs backpropagation through time.
    state_dict keys: rnn.weight_ih_l0, ..., head.weight, head.bias (as torchnet's twin).
    """

    CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}

    def __init__(self, input_size, hidden_size, num_classes, cell="lstm", num_layers=1, dtype=None):
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"SequenceClassifier: cell must be one of {sorted(self.CELLS)}, got {cell!r}")
        self._config = {"input_size": input_size, "hidden_size": hidden_size, "num_classes": num_classes,
                        "cell": cell, "num_layers": num_layers}
        self.cell = cell
        self.rnn = self.CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True, dtype=dtype)
        self.head = Linear(hidden_size, num_classes, dtype=dtype)

    def config(self):
        """The constructor's arguments (dtype aside: the weights carry it)."""
        return dict(self._config)

    def forward(self, x):
        _, state = self.rnn(x)
        h_n = state[0] if self.cell == "lstm" else state
        self._h_n_shape = h_n.shape
        return self.head(h_n[-1])

    def backward(self, grad_logits):
        grad_h_n = np.zeros(self._h_n_shape, dtype=grad_logits.dtype)
        grad_h_n[-1] = self.head.backward(grad_logits)
        return self.rnn.backward((None, (grad_h_n, None) if self.cell == "lstm" else grad_h_n))


class CNN(Module):
    """A small convolutional network: (Conv2d-ReLU-MaxPool2d) per entry of ``channels``, then Linear.

    With the defaults, sized for scikit-learn's 8x8 digits:

    x (N, 1, 8, 8) -> conv 3x3 'same' -> relu -> maxpool 2    (N, 16, 4, 4)
                   -> conv 3x3 'same' -> relu -> maxpool 2    (N, 32, 2, 2)
                   -> flatten -> logits = a W^T + b           (N, 10)

    ``self.net`` is a Sequential, so state_dict keys (net.0.weight, net.3.weight, net.7.weight, ...)
    equal those of ``torchnet.CNN``. Backward is the chain rule down ``self.net``.
    """

    def __init__(self, in_channels=1, num_classes=10, channels=(16, 32), kernel_size=3, image_size=8, dtype=None):
        super().__init__()
        channels = tuple(channels)
        final_size = image_size // 2 ** len(channels)
        if not channels or final_size < 1:
            raise ValueError(
                f"CNN: {len(channels)} conv-pool stages halve an image of size {image_size} to {final_size}; "
                f"expected at least one stage and image_size >= {2 ** max(len(channels), 1)}"
            )
        self._config = {"in_channels": in_channels, "num_classes": num_classes, "channels": list(channels),
                        "kernel_size": kernel_size, "image_size": image_size}
        layers = []
        for c_in, c_out in zip((in_channels,) + channels[:-1], channels):
            layers += [Conv2d(c_in, c_out, kernel_size, padding="same", dtype=dtype), ReLU(), MaxPool2d(2)]
        layers += [Flatten(), Linear(channels[-1] * final_size * final_size, num_classes, dtype=dtype)]
        self.net = Sequential(*layers)

    def config(self):
        """The constructor's keyword arguments (without dtype: the weights carry it), e.g. for saving."""
        return dict(self._config, channels=list(self._config["channels"]))

    def forward(self, x):
        return self.net(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)
