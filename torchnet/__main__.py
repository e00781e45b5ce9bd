"""python -m torchnet: the lecture's PyTorch script, unchanged but for an optional seed.

make_classification data, MLP 20-64-64-2, cross-entropy, Adam, full batch, test accuracy.
Exit status: 0 done, 2 bad usage, 130 stopped by Ctrl-C.
"""

import argparse

from scratchnet.cli.entry import CommandLineParser, add_threads_argument, check_seed, exit_status, run_cli

PROG = "python -m torchnet"


def build_parser():
    parser = CommandLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20, the lecture's)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3, the lecture's)")
    parser.add_argument("--seed", type=int, default=None,
                        help="torch.manual_seed(SEED) before the model is built (default: none, as the lecture)")
    add_threads_argument(parser)
    return parser


def run(args):
    import torch

    from torchnet.data import load_lecture_data
    from torchnet.models import MLP
    from torchnet.training import evaluate, fit

    if args.epochs < 0:
        raise ValueError(f"--epochs must be >= 0, got {args.epochs}")
    if not 0 < args.lr < float("inf"):
        raise ValueError(f"--lr must be a positive number, got {args.lr}")
    if args.seed is not None:
        check_seed("--seed", args.seed)
    torch.set_num_threads(args.threads)
    X_train, X_test, y_train, y_test = load_lecture_data()
    if args.seed is not None:
        torch.manual_seed(args.seed)
    model = MLP(input_dim=20, hidden_dim=64, output_dim=2)
    fit(model, X_train, y_train, num_epochs=args.epochs, lr=args.lr)
    evaluate(model, X_test, y_test)
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return exit_status(PROG, lambda: run(args))


if __name__ == "__main__":
    run_cli(main)
