"""One training step (forward, loss, backward, Adam step) of scratchnet vs torch, single-threaded.

Run: python benchmarks/bench_mlp.py
"""

import timing  # noqa: F401  (must come first: pins threads before NumPy/torch load)

import numpy as np
import torch

import scratchnet
import scratchnet.nn as snn
import torchnet.training
from parity.transfer import torch_to_scratch, to_torch
from scratchnet.training import train_step


def make_case(layers, batch, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, layers[0])).astype(np.float32)
    y = rng.integers(0, layers[-1], size=batch)
    torch.manual_seed(seed)
    torch_layers, scratch_layers = [], []
    for i, (fan_in, fan_out) in enumerate(zip(layers[:-1], layers[1:])):
        torch_layers.append(torch.nn.Linear(fan_in, fan_out))
        scratch_layers.append(snn.Linear(fan_in, fan_out))
        if i < len(layers) - 2:
            torch_layers.append(torch.nn.ReLU())
            scratch_layers.append(snn.ReLU())
    torch_model, scratch_model = torch.nn.Sequential(*torch_layers), snn.Sequential(*scratch_layers)
    torch_to_scratch(torch_model, scratch_model)
    s_opt = scratchnet.optim.Adam(scratch_model.parameters(), lr=1e-3)
    t_opt = torch.optim.Adam(torch_model.parameters(), lr=1e-3)
    s_loss, t_loss = snn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    X_t, y_t = to_torch(X), to_torch(y)
    return {
        "scratchnet": lambda: train_step(scratch_model, s_loss, s_opt, X, y),
        "torch": lambda: torchnet.training.train_step(torch_model, t_loss, t_opt, X_t, y_t),
    }


def main():
    timing.header("MLP training step (forward + CrossEntropyLoss + backward + Adam.step), float32")
    ratios = {}
    for label, layers, batch, target in [
        ("lecture MLP 20-64-64-2, batch 800 (full)", (20, 64, 64, 2), 800, 0.6),
        ("MLP 784-512-512-10, batch 128", (784, 512, 512, 10), 128, 1.0),
    ]:
        medians = timing.alternate(make_case(layers, batch))
        ratios[label] = timing.report_row(label, medians, target)
    return ratios


if __name__ == "__main__":
    main()
