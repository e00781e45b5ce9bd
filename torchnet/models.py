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
