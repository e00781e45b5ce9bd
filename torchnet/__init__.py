"""torchnet: the lecture's models and loop in PyTorch.

The models take the same constructor arguments as ``scratchnet.models`` and hold the same
``state_dict`` keys; ``torchnet.training`` takes the arguments of ``scratchnet.training``, on
tensors instead of arrays (``fit`` draws no progress bar).
"""

from torchnet.models import CNN, GPT, MLP, SequenceClassifier

__all__ = ["CNN", "GPT", "MLP", "SequenceClassifier"]
