"""Recurrent layers: scratchnet's RNN, LSTM and GRU against torch's, forward + backward, single-threaded.

    python benchmarks/bench_rnn.py [--dtype float32]

Input 8, hidden 64, sequence length 8, batch 256 (time-major). The gradient flows in from the
output sequence and out to the input on both sides (torch's input requires grad). Blocks of
scratchnet and torch timings alternate in one process; the medians and their ratio are printed.
"""

import timing  # noqa: F401  (must come first: pins threads before NumPy/torch load)

import argparse

import numpy as np
import torch

import scratchnet
from parity.transfer import torch_dtype, torch_to_scratch

INPUT, HIDDEN, SEQ_LEN, BATCH = 8, 64, 8, 256
TARGETS = {"RNN": 0.5, "LSTM": 1.0, "GRU": 1.0}


def make_case(name, dtype):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(INPUT, HIDDEN, dtype=torch_dtype(dtype))
    mine = getattr(scratchnet.nn, name)(INPUT, HIDDEN, dtype=dtype)
    torch_to_scratch(theirs, mine)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEQ_LEN, BATCH, INPUT)).astype(dtype)
    grad_output = rng.standard_normal((SEQ_LEN, BATCH, HIDDEN)).astype(dtype)
    x_t, grad_output_t = torch.tensor(x, requires_grad=True), torch.tensor(grad_output)

    def scratch_step():
        mine.zero_grad()
        mine(x)
        mine.backward((grad_output, None))

    def torch_step():
        theirs.zero_grad()
        x_t.grad = None
        output, _ = theirs(x_t)
        output.backward(grad_output_t)

    return {"scratchnet": scratch_step, "torch": torch_step}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    timing.header(f"Recurrent layers, input {INPUT}, hidden {HIDDEN}, seq len {SEQ_LEN}, batch {BATCH}, "
                  f"forward+backward, {args.dtype}")
    return {name: timing.report_row(name, timing.alternate(make_case(name, dtype)), TARGETS[name])
            for name in TARGETS}


if __name__ == "__main__":
    main()
