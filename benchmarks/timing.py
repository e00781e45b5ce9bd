"""Shared benchmark plumbing: single-threaded setup, alternating timing, and the header.

Import this module before NumPy or torch: it pins BLAS and torch to one thread. With
default threads on a 2-core machine, OpenBLAS's idle workers spin after each call and
steal the cores from torch's threads when the two alternate, flattering NumPy by up to 2x.
"""

import os
import sys

# The checkout's packages, not whatever copy is installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def blas_name():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy without mode="dicts"
        return "unknown"


def header(title):
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ)
    print(f"{title}")
    print(f"numpy {np.__version__} ({blas_name()}), torch {torch.__version__}, threads 1 on both sides, "
          f"{platform.machine()}, {os.cpu_count()} cores{', ' + env if env else ''}")


def alternate(cases, blocks=15, repeats=None, min_block_seconds=0.05):
    """Time each zero-argument callable in ``cases`` (name -> fn), alternating blocks; returns medians (s/call)."""
    for fn in cases.values():  # warm up: first-call allocations, lazy init
        for _ in range(3):
            fn()
    if repeats is None:
        start = time.perf_counter()
        calls = 0
        while time.perf_counter() - start < min_block_seconds:
            for fn in cases.values():
                fn()
            calls += 1
        repeats = max(calls, 3)
    samples = {name: [] for name in cases}
    for _ in range(blocks):
        for name, fn in cases.items():
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            samples[name].append((time.perf_counter() - start) / repeats)
    return {name: statistics.median(values) for name, values in samples.items()}


def report_row(label, medians, target):
    ratio = medians["scratchnet"] / medians["torch"]
    verdict = "meets" if ratio <= target else "MISSES"
    print(f"{label:<44} scratchnet {medians['scratchnet'] * 1e3:8.3f} ms   torch {medians['torch'] * 1e3:8.3f} ms   "
          f"ratio {ratio:5.2f}  (target <= {target}: {verdict})")
    return ratio
