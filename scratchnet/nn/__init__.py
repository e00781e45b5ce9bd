"""Layers, activations and losses, named as in ``torch.nn``."""

from scratchnet.nn import functional
from scratchnet.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from scratchnet.nn.container import Sequential
from scratchnet.nn.dropout import Dropout
from scratchnet.nn.linear import Identity, Linear
from scratchnet.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                                SmoothL1Loss)
from scratchnet.nn.module import Module, Parameter

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "GELU",
    "HuberLoss",
    "Identity",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "functional",
]
from scratchnet.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
