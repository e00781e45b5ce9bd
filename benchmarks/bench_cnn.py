"""Convolution speed: scratchnet vs torch, single-threaded on both sides, alternating in one process.

(a) conv stack: a batch of 64 images 1x28x28 through Conv2d(1,16,3,padding=1)-ReLU-Conv2d(16,32,3,padding=1),
    forward + backward (of sum(y * G) for a fixed G; torch's input does not require grad, as in training).
(b) train step: one step of the digits CNN (forward, CrossEntropyLoss, backward, Adam) on a batch of 64.

Prints the median time of each side and the ratio scratchnet / torch (target <= 2.0).

    python benchmarks/bench_cnn.py [--dtype float32]
"""

import timing  # noqa: F401  (must come first: pins threads before NumPy/torch load)

import argparse

import numpy as np
import torch

import scratchnet
import scratchnet.training
import torchnet
from parity.transfer import torch_dtype, torch_to_scratch


def conv_stack_case(dtype, rng):
    scratch = scratchnet.nn.Sequential(scratchnet.nn.Conv2d(1, 16, 3, padding=1, dtype=dtype), scratchnet.nn.ReLU(),
                                       scratchnet.nn.Conv2d(16, 32, 3, padding=1, dtype=dtype))
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1, dtype=torch_dtype(dtype)), torch.nn.ReLU(),
                               torch.nn.Conv2d(16, 32, 3, padding=1, dtype=torch_dtype(dtype)))
    torch_to_scratch(twin, scratch)
    x, grad = rng.standard_normal((64, 1, 28, 28)).astype(dtype), rng.standard_normal((64, 32, 28, 28)).astype(dtype)
    x_t, grad_t = torch.tensor(x), torch.tensor(grad)

    def run_scratch():
        scratch.zero_grad()
        scratch(x)
        scratch.backward(grad)

    def run_torch():
        twin.zero_grad()
        twin(x_t).backward(grad_t)

    return run_scratch, run_torch


def train_step_case(dtype, rng):
    scratch, twin = scratchnet.CNN(dtype=dtype), torchnet.CNN(dtype=torch_dtype(dtype))
    torch_to_scratch(twin, scratch)
    x = rng.random((64, 1, 8, 8)).astype(dtype)
    y = rng.integers(0, 10, 64)
    x_t, y_t = torch.tensor(x), torch.tensor(y)
    criterion, criterion_t = scratchnet.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    optimizer, optimizer_t = scratchnet.optim.Adam(scratch.parameters()), torch.optim.Adam(twin.parameters())

    def run_scratch():
        scratchnet.training.train_step(scratch, criterion, optimizer, x, y)

    def run_torch():
        optimizer_t.zero_grad()
        criterion_t(twin(x_t), y_t).backward()
        optimizer_t.step()

    return run_scratch, run_torch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    timing.header(f"Convolutional networks, {args.dtype}")
    rng = np.random.default_rng(0)
    ratios = {}
    for label, build in [("(a) conv stack fwd+bwd, batch 64x1x28x28", conv_stack_case),
                         ("(b) digits CNN train step, batch 64", train_step_case)]:
        run_scratch, run_torch = build(dtype, rng)
        medians = timing.alternate({"scratchnet": run_scratch, "torch": run_torch})
        ratios[label] = timing.report_row(label, medians, 2.0)
    return ratios


if __name__ == "__main__":
    main()
