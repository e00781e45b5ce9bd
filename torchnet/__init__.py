"""torchnet: the lecture's models and loop in PyTorch, with scratchnet's signatures."""

from torchnet.models import MLP
from torchnet.models import CNN

__all__ = ["MLP"]
__all__ += ["CNN"]
