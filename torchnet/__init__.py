"""torchnet: the lecture's models and loop in PyTorch, with scratchnet's signatures."""

from torchnet.models import MLP, SequenceClassifier

__all__ = ["MLP", "SequenceClassifier"]
