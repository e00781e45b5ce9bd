"""Every benchmark in one run: python benchmarks/run_all.py [--dtype float32|float64]."""

import timing  # noqa: F401  (must come first: pins threads before NumPy/torch load)

import argparse

import bench_bare
import bench_cnn
import bench_mlp
import bench_rnn
import bench_transformer


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    bench_mlp.main()  # the MLP cases always run in float32
    print()
    bench_cnn.main(["--dtype", args.dtype])
    print()
    bench_rnn.main(["--dtype", args.dtype])
    print()
    bench_transformer.main(["--dtype", args.dtype])
    print()
    bench_bare.main()  # reference points: the same work hand-written in bare NumPy


if __name__ == "__main__":
    main()
