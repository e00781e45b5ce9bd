"""Convolution speed: scratchnet vs torch, single-threaded on both sides, alternating in one process.

(a) conv stack: a batch of 64 images 1x28x28 through Conv2d(1,16,3,padding=1)-ReLU-Conv2d(16,32,3,padding=1),
    forward + backward (of sum(y * G) for a fixed G; torch's input does not require grad, as in training).
(b) train step: one step of the digits CNN (forward, CrossEntropyLoss, backward, Adam) on a batch of 64.

Prints the median time of each side and the ratio scratchnet / torch (target <= 2.0).

    python benchmarks/bench_cnn.py [--repeats 30] [--dtype float32]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy and torch load their BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

import scratchnet  # noqa: E402
import scratchnet.training  # noqa: E402
import torchnet  # noqa: E402
from parity.transfer import torch_dtype, torch_to_scratch  # noqa: E402


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


def measure(run_scratch, run_torch, repeats, inner):
    """Alternate blocks of ``inner`` calls; return the median seconds per call of each side."""
    times = {"scratchnet": [], "torch": []}
    for run in (run_scratch, run_torch, run_scratch, run_torch):  # warm-up
        run()
    for _ in range(repeats):
        for name, run in (("scratchnet", run_scratch), ("torch", run_torch)):
            start = time.perf_counter()
            for _ in range(inner):
                run()
            times[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    print(f"numpy {np.__version__}, torch {torch.__version__}, dtype {args.dtype}, "
          f"threads: torch {torch.get_num_threads()}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}")
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    print(f"numpy BLAS: {blas.get('name')} {blas.get('version')} ({blas.get('openblas configuration', '').strip()})")
    rng = np.random.default_rng(0)
    dtype = np.dtype(args.dtype)
    cases = [("(a) conv stack fwd+bwd, batch 64x1x28x28", conv_stack_case, 1),
             ("(b) digits CNN train step, batch 64", train_step_case, 10)]
    for title, build, inner in cases:
        result = measure(*build(dtype, rng), args.repeats, inner)
        ratio = result["scratchnet"] / result["torch"]
        print(f"{title:45s} scratchnet {result['scratchnet'] * 1e3:8.3f} ms   torch {result['torch'] * 1e3:8.3f} ms   "
              f"ratio {ratio:5.2f}  {'(<= 2.0)' if ratio <= 2.0 else '(above the 2.0 target)'}")


if __name__ == "__main__":
    main()
