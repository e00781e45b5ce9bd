"""The lecture's models in PyTorch, written the way the lecture writes them."""

import torch.nn as nn


def hidden_widths(hidden_dim):
    """The lecture's ``hidden_dim=64`` means two hidden layers of 64; a list gives any depth."""
    return [hidden_dim, hidden_dim] if isinstance(hidden_dim, int) else list(hidden_dim)


class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, activation="ReLU", dtype=None):
        super().__init__()
        widths = [input_dim, *hidden_widths(hidden_dim), output_dim]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out, dtype=dtype), getattr(nn, activation)()]
        # With the defaults this is the lecture's nn.Sequential(Linear, ReLU, Linear, ReLU, Linear).
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x):
        return self.net(x)


class SequenceClassifier(nn.Module):
    """A recurrent layer (batch_first) and a linear head on the last hidden state h_n[-1]."""

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, input_size, hidden_size, num_classes, cell="lstm", num_layers=1, dtype=None):
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"SequenceClassifier: cell must be one of {sorted(self.CELLS)}, got {cell!r}")
        self.cell = cell
        self.rnn = self.CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True, dtype=dtype)
        self.head = nn.Linear(hidden_size, num_classes, dtype=dtype)

    def forward(self, x):
        _, state = self.rnn(x)
        h_n = state[0] if self.cell == "lstm" else state
        return self.head(h_n[-1])


class CNN(nn.Module):
    """(Conv2d-ReLU-MaxPool2d) per entry of ``channels``, then Flatten and Linear; as scratchnet.CNN."""

    def __init__(self, in_channels=1, num_classes=10, channels=(16, 32), kernel_size=3, image_size=8, dtype=None):
        super().__init__()
        channels = tuple(channels)
        final_size = image_size // 2 ** len(channels)
        if not channels or final_size < 1:
            raise ValueError(
                f"CNN: {len(channels)} conv-pool stages halve an image of size {image_size} to {final_size}; "
                f"expected at least one stage and image_size >= {2 ** max(len(channels), 1)}"
            )
        layers = []
        for c_in, c_out in zip((in_channels,) + channels[:-1], channels):
            layers += [nn.Conv2d(c_in, c_out, kernel_size, padding="same", dtype=dtype), nn.ReLU(), nn.MaxPool2d(2)]
        layers += [nn.Flatten(), nn.Linear(channels[-1] * final_size * final_size, num_classes, dtype=dtype)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
