"""``python -m torchnet``: the lecture's PyTorch script, unchanged but for an optional seed."""

import argparse

import torch

from torchnet.data import load_lecture_data
from torchnet.models import MLP
from torchnet.training import evaluate, fit


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m torchnet", description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=None, help="torch.manual_seed before the model is built")
    args = parser.parse_args(argv)
    X_train, X_test, y_train, y_test = load_lecture_data()
    if args.seed is not None:
        torch.manual_seed(args.seed)
    model = MLP(input_dim=20, hidden_dim=64, output_dim=2)
    fit(model, X_train, y_train, num_epochs=args.epochs, lr=args.lr)
    evaluate(model, X_test, y_test)


if __name__ == "__main__":
    main()
