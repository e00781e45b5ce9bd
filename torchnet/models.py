"""The lecture's models in PyTorch, written the way the lecture writes them."""

import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, dtype=None):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim, dtype=dtype),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim, dtype=dtype),
            nn.ReLU(),
            nn.Linear(hidden_dim, output_dim, dtype=dtype),
        )

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
