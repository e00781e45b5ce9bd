"""Layers, activations and losses, named as in ``torch.nn``."""

from scratchnet.nn import functional
from scratchnet.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from scratchnet.nn.container import Sequential
from scratchnet.nn.conv import Conv2d
from scratchnet.nn.flatten import Flatten
from scratchnet.nn.linear import Identity, Linear
from scratchnet.nn.loss import CrossEntropyLoss
from scratchnet.nn.module import Module, Parameter
from scratchnet.nn.normalization import BatchNorm2d
from scratchnet.nn.pooling import AvgPool2d, MaxPool2d

__all__ = [
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
]
