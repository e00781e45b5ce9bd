"""``python -m parity``: the lecture's experiment on both sides, compared step by step.

Exit status: 0 when parity holds, 1 on a parity failure, 2 on bad usage or bad input.
"""

import argparse
import json
import sys

import numpy as np
import torch

import scratchnet
import torchnet
from parity.training import train_side_by_side
from parity.transfer import torch_dtype
from scratchnet.data import load_lecture_data

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or bad input: printed as one line, exit status 2."""


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m parity",
        description="Train the lecture's MLP in scratchnet (NumPy) and PyTorch side by side and "
        "compare logits, loss, gradients and parameters at every step.",
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                        help="precision of both sides (default float64, where the trajectory must agree to ~1e-9)")
    parser.add_argument("--epochs", type=non_negative_int, default=20, help="training epochs (default 20)")
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--seed", type=non_negative_int, default=42,
                        help="torch.manual_seed(SEED) right before the torch model is built (default 42)")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden width (default 64)")
    parser.add_argument("--json", metavar="PATH", help="also write a machine-readable report to PATH")
    parser.add_argument("--print-every", type=positive_int, default=5, help="print every Nth epoch (default 5)")
    return parser


def print_epoch(every, total):
    def log(epoch, report):
        if epoch % every == 0 or epoch == total:
            s, t = report.losses["scratchnet"][-1], report.losses["torch"][-1]
            label = f"Epoch [{epoch}/{total}]"
            print(f"{label:<14}  {s:>12.8f}  {t:>12.8f}  {abs(s - t):>9.2e}")
    return log


def print_summary(report):
    print()
    print(f"{'largest |difference|':<22} {'trajectory':>10} {'tolerance':>10} {'from shared weights':>20}")
    trajectory_tol = report.tolerances["trajectory"]
    for kind, value in report.max_abs_diff.items():
        step = report.step_max_abs_diff.get(kind)
        print(f"{kind:<22} {value:>10.2e} {trajectory_tol[kind]['atol']:>10.0e} "
              f"{'' if step is None else format(step, '.2e'):>20}")
    print()
    print(f"{'parameter':<22} {'max |grad diff|':>16} {'max |param diff|':>17}")
    for name, diffs in report.per_parameter.items():
        print(f"{name:<22} {diffs['grad']:>16.2e} {diffs['param']:>17.2e}")
    print()
    acc = report.test_accuracy
    print(f"Test Accuracy: scratchnet {acc['scratchnet'] * 100:.2f}%, torch {acc['torch'] * 100:.2f}%; "
          f"predictions agree on {report.prediction_agreement:.2%} of test samples")
    if report.passed:
        print("PASS")
    else:
        print("FAIL")
        for failure in report.failures:
            print(f"  {failure}")


def run(args):
    dtype = np.dtype(args.dtype)
    data = load_lecture_data(dtype)
    n_features, n_classes = data.X_train.shape[1], int(data.y_train.max()) + 1
    torch.manual_seed(args.seed)
    # Built in float32 as the lecture builds it, then cast: the same seed gives the same initial weights
    # in both dtypes (drawing directly in float64 would consume torch's generator differently).
    torch_model = torchnet.MLP(input_dim=n_features, hidden_dim=args.hidden, output_dim=n_classes).to(torch_dtype(dtype))
    scratch_model = scratchnet.MLP(n_features, args.hidden, n_classes, dtype=dtype)

    print(f"Lecture MLP {n_features}-{args.hidden}-{args.hidden}-{n_classes}, CrossEntropyLoss, Adam(lr={args.lr:g}), "
          f"{args.epochs} epochs full batch, {args.dtype}, torch.manual_seed({args.seed})")
    print(f"{'':<14}  {'scratchnet':>12}  {'torch':>12}  {'|diff|':>9}")
    report = train_side_by_side(scratch_model, torch_model, data, epochs=args.epochs, lr=args.lr,
                                seed=args.seed, log=print_epoch(args.print_every, args.epochs))
    print_summary(report)
    if args.json:
        payload = {"seed": args.seed, "model": "mlp", "lr": args.lr, **report.to_dict()}
        with open(args.json, "w") as handle:
            json.dump(payload, handle, indent=2)
    return EXIT_PASS if report.passed else EXIT_FAIL


def main(argv=None):
    args = build_parser().parse_args(argv)  # argparse exits 2 on bad usage
    try:
        return run(args)
    except (ValueError, TypeError, OSError, UsageError) as error:
        print(f"python -m parity: error: {error}", file=sys.stderr)
        return EXIT_USAGE
