"""torchnet: the lecture's models and loop in PyTorch, with scratchnet's signatures."""

from torchnet.models import CNN, MLP, SequenceClassifier

__all__ = ["CNN", "MLP", "SequenceClassifier"]
