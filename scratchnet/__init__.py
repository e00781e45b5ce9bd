"""scratchnet: neural networks written out in NumPy, mirroring torch.nn and torch.optim.

Importing scratchnet imports NumPy only (never torch or scikit-learn).
"""

from scratchnet import nn, optim
from scratchnet._dtype import get_default_dtype, set_default_dtype
from scratchnet._random import manual_seed
from scratchnet.models import MLP
from scratchnet.models import CNN
from scratchnet.nn import Module, Parameter

__all__ = ["MLP", "Module", "Parameter", "get_default_dtype", "manual_seed", "nn", "optim", "set_default_dtype"]
__all__ += ["CNN"]
