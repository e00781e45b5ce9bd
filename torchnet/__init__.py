"""torchnet: the lecture's models and loop in PyTorch, with scratchnet's signatures."""

from torchnet.models import MLP

__all__ = ["MLP"]
from torchnet.models import SequenceClassifier  # noqa: E402

__all__ += ["SequenceClassifier"]
