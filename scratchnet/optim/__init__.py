"""Optimizers and learning-rate schedulers, named and defaulted as in ``torch.optim``."""

from scratchnet.optim import lr_scheduler
from scratchnet.optim.adagrad import Adagrad
from scratchnet.optim.adam import Adam
from scratchnet.optim.adamw import AdamW
from scratchnet.optim.optimizer import Optimizer
from scratchnet.optim.rmsprop import RMSprop
from scratchnet.optim.sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
