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
        self._config = {"input_size": input_size, "hidden_size": hidden_size, "num_classes": num_classes,
                        "cell": cell, "num_layers": num_layers}
        self.cell = cell
        self.rnn = self.CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True, dtype=dtype)
        self.head = nn.Linear(hidden_size, num_classes, dtype=dtype)

    def config(self):
        return dict(self._config)

    def forward(self, x):
        _, state = self.rnn(x)
        h_n = state[0] if self.cell == "lstm" else state
        return self.head(h_n[-1])
