"""Layers, activations and losses, named as in ``torch.nn``; ``init`` and ``utils`` as ``torch.nn.init`` / ``torch.nn.utils``."""

from scratchnet.nn import functional, init, utils
from scratchnet.nn.activation import (CELU, ELU, GELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
    LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, SELU, SiLU, Sigmoid, Softmax, Softmin, Softplus, Softshrink,
    Softsign, Tanh, Tanhshrink, Threshold)
from scratchnet.nn.attention import MultiheadAttention
from scratchnet.nn.container import Sequential
from scratchnet.nn.conv import Conv1d, Conv2d
from scratchnet.nn.dropout import Dropout, Dropout1d, Dropout2d
from scratchnet.nn.flatten import Flatten, Unflatten
from scratchnet.nn.linear import Bilinear, Identity, Linear
from scratchnet.nn.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
    SmoothL1Loss)
from scratchnet.nn.loss_likelihood import GaussianNLLLoss, KLDivLoss, PoissonNLLLoss
from scratchnet.nn.loss_margin import (CosineEmbeddingLoss, HingeEmbeddingLoss, MarginRankingLoss, MultiMarginLoss,
    SoftMarginLoss)
from scratchnet.nn.module import Module, Parameter
from scratchnet.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm
from scratchnet.nn.padding import ConstantPad2d, ZeroPad2d
from scratchnet.nn.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, MaxUnpool2d
from scratchnet.nn.pooling_adaptive import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d
from scratchnet.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from scratchnet.nn.sparse import Embedding
from scratchnet.nn.transformer import TransformerEncoder, TransformerEncoderLayer

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Bilinear",
    "CELU",
    "ConstantPad2d",
    "Conv1d",
    "Conv2d",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "GLU",
    "GRU",
    "GRUCell",
    "GaussianNLLLoss",
    "GroupNorm",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "Identity",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "KLDivLoss",
    "L1Loss",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "MarginRankingLoss",
    "MaxPool1d",
    "MaxPool2d",
    "MaxUnpool2d",
    "Mish",
    "Module",
    "MultiMarginLoss",
    "MultiheadAttention",
    "NLLLoss",
    "PReLU",
    "Parameter",
    "PoissonNLLLoss",
    "RNN",
    "RNNCell",
    "ReLU",
    "ReLU6",
    "SELU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Unflatten",
    "ZeroPad2d",
    "functional",
    "init",
    "utils",
]
