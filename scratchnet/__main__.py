"""``python -m scratchnet``: the lecture's experiment in NumPy alone."""

import argparse
import sys

import numpy as np

import scratchnet
from scratchnet.data import load_lecture_data
from scratchnet.training import evaluate, fit


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scratchnet", description=__doc__)
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, default=42, help="scratchnet.manual_seed before the model is built")
    parser.add_argument("--hidden", type=int, default=64, help="hidden width (default 64)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args(argv)
    try:
        X_train, X_test, y_train, y_test = load_lecture_data(np.dtype(args.dtype))
        scratchnet.manual_seed(args.seed)
        model = scratchnet.MLP(input_dim=20, hidden_dim=args.hidden, output_dim=2, dtype=args.dtype)
        fit(model, X_train, y_train, num_epochs=args.epochs, lr=args.lr)
        evaluate(model, X_test, y_test)
    except (ValueError, TypeError, OSError) as error:
        print(f"python -m scratchnet: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
