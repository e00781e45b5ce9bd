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

    def forward(self, x):
        return self.net(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)


# (the lead may merge this line into the import at the top; this branch only appends)
from scratchnet.nn import Conv2d, Flatten, MaxPool2d  # noqa: E402


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
