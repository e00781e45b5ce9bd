"""Layers, activations and losses, named as in ``torch.nn``."""

from scratchnet.nn import functional, utils
from scratchnet.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from scratchnet.nn.attention import MultiheadAttention
from scratchnet.nn.container import Sequential
from scratchnet.nn.conv import Conv2d
from scratchnet.nn.dropout import Dropout
from scratchnet.nn.flatten import Flatten
from scratchnet.nn.linear import Identity, Linear
from scratchnet.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, SmoothL1Loss
from scratchnet.nn.module import Module, Parameter
from scratchnet.nn.normalization import BatchNorm2d, LayerNorm
from scratchnet.nn.pooling import AvgPool2d, MaxPool2d
from scratchnet.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from scratchnet.nn.sparse import Embedding
from scratchnet.nn.transformer import TransformerEncoder, TransformerEncoderLayer

__all__ = [
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "GRU",
    "GRUCell",
    "HuberLoss",
    "Identity",
    "L1Loss",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "MultiheadAttention",
    "Parameter",
    "RNN",
    "RNNCell",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "functional",
    "utils",
]
