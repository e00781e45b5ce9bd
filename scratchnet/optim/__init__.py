"""Optimizers, named and defaulted as in ``torch.optim``."""

from scratchnet.optim.adam import Adam
from scratchnet.optim.optimizer import Optimizer
from scratchnet.optim.sgd import SGD

__all__ = ["Adam", "Optimizer", "SGD"]
