"""scratchnet: neural networks written out in NumPy, mirroring torch.nn and torch.optim.

Importing scratchnet imports NumPy only (never torch or scikit-learn).
"""

from scratchnet import nn, optim
from scratchnet._dtype import get_default_dtype, set_default_dtype
from scratchnet._random import manual_seed
from scratchnet.models import CNN, GPT, MLP, SequenceClassifier
from scratchnet.nn import Module, Parameter
from scratchnet.serialization import ModelFileError, load, save

__all__ = [
    "CNN",
    "GPT",
    "MLP",
    "ModelFileError",
    "Module",
    "Parameter",
    "SequenceClassifier",
    "get_default_dtype",
    "load",
    "manual_seed",
    "nn",
    "optim",
    "save",
    "set_default_dtype",
]
