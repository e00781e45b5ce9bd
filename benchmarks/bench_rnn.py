"""Benchmark: scratchnet's RNN, LSTM and GRU against torch's, forward + backward, single-threaded.

    python benchmarks/bench_rnn.py [--repeats 30] [--dtype float32]

Input 8, hidden 64, sequence length 8, batch 256 (time-major). Blocks of scratchnet and torch
timings alternate in one process so that both see the same machine state; we print the median
time per forward+backward of each and the ratio scratchnet / torch.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # the checkout's packages

import scratchnet  # noqa: E402
from parity.transfer import torch_to_scratch  # noqa: E402

INPUT, HIDDEN, SEQ_LEN, BATCH = 8, 64, 8, 256
TARGETS = {"RNN": 0.5, "LSTM": 1.0, "GRU": 1.0}


def time_block(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def bench(name, dtype, repeats, calls):
    torch_dtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(INPUT, HIDDEN, dtype=torch_dtype)
    mine = getattr(scratchnet.nn, name)(INPUT, HIDDEN, dtype=dtype)
    torch_to_scratch(theirs, mine)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEQ_LEN, BATCH, INPUT)).astype(dtype)
    grad_output = rng.standard_normal((SEQ_LEN, BATCH, HIDDEN)).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    grad_output_t = torch.tensor(grad_output)

    def scratch_step():
        mine.zero_grad()
        mine(x)
        mine.backward((grad_output, None))

    def torch_step():
        theirs.zero_grad()
        x_t.grad = None
        output, _ = theirs(x_t)
        output.backward(grad_output_t)

    for _ in range(5):  # warm-up
        scratch_step()
        torch_step()
    scratch_times, torch_times = [], []
    for _ in range(repeats):
        scratch_times.append(time_block(scratch_step, calls))
        torch_times.append(time_block(torch_step, calls))
    s, t = float(np.median(scratch_times)), float(np.median(torch_times))
    return s, t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="alternating blocks per side (default 30)")
    parser.add_argument("--calls", type=int, default=10, help="forward+backward calls per block (default 10)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--models", default="RNN,LSTM,GRU")
    args = parser.parse_args()
    dtype = {"float32": np.float32, "float64": np.float64}[args.dtype]

    config = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
    blas = config.get("Build Dependencies", {}).get("blas", {})
    print(f"numpy {np.__version__} BLAS: {blas.get('name', '?')} {blas.get('version', '')}; torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    print(f"input {INPUT}, hidden {HIDDEN}, seq len {SEQ_LEN}, batch {BATCH}, {args.dtype}, forward+backward, "
          f"median of {args.repeats} blocks of {args.calls} calls")
    print(f"{'model':<6} {'scratchnet ms':>14} {'torch ms':>10} {'ratio':>7} {'target':>7}")
    for name in args.models.split(","):
        s, t = bench(name, dtype, args.repeats, args.calls)
        ratio = s / t
        verdict = "ok" if ratio <= TARGETS[name] else "MISSED"
        print(f"{name:<6} {s * 1e3:>14.3f} {t * 1e3:>10.3f} {ratio:>7.2f} {TARGETS[name]:>6.1f}x {verdict}")


if __name__ == "__main__":
    main()
