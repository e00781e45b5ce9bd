"""Optimizers and learning-rate schedulers, named and defaulted as in ``torch.optim``."""

from scratchnet.optim import lr_scheduler
from scratchnet.optim.adadelta import Adadelta
from scratchnet.optim.adagrad import Adagrad
from scratchnet.optim.adam import Adam
from scratchnet.optim.adamax import Adamax
from scratchnet.optim.adamw import AdamW
from scratchnet.optim.asgd import ASGD
from scratchnet.optim.nadam import NAdam
from scratchnet.optim.optimizer import Optimizer
from scratchnet.optim.radam import RAdam
from scratchnet.optim.rmsprop import RMSprop
from scratchnet.optim.sgd import SGD

__all__ = ["ASGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer", "RAdam", "RMSprop", "SGD",
           "lr_scheduler"]
