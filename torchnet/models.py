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
        self._config = {"in_channels": in_channels, "num_classes": num_classes, "channels": list(channels),
                        "kernel_size": kernel_size, "image_size": image_size}
        layers = []
        for c_in, c_out in zip((in_channels,) + channels[:-1], channels):
            layers += [nn.Conv2d(c_in, c_out, kernel_size, padding="same", dtype=dtype), nn.ReLU(), nn.MaxPool2d(2)]
        layers += [nn.Flatten(), nn.Linear(channels[-1] * final_size * final_size, num_classes, dtype=dtype)]
        self.net = nn.Sequential(*layers)

    def config(self):
        """The constructor's keyword arguments (without dtype: the weights carry it), e.g. for saving."""
        return dict(self._config, channels=list(self._config["channels"]))

    def forward(self, x):
        return self.net(x)
