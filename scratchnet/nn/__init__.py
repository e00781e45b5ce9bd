"""Layers, activations and losses, named as in ``torch.nn``."""

from scratchnet.nn import functional
from scratchnet.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from scratchnet.nn.container import Sequential
from scratchnet.nn.linear import Identity, Linear
from scratchnet.nn.loss import CrossEntropyLoss
from scratchnet.nn.module import Module, Parameter

__all__ = [
    "CrossEntropyLoss",
    "Identity",
    "Linear",
    "LogSoftmax",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
]
from scratchnet.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
