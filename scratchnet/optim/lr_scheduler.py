"""Learning-rate schedulers, as ``torch.optim.lr_scheduler``: each ``step()`` sets every group's 'lr'.

Use as in torch, once per epoch after the optimizer's steps (CyclicLR and OneCycleLR: once per batch)::

    scheduler = StepLR(optimizer, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        train_one_epoch(...)          # optimizer.step() inside
        scheduler.step()

Building a scheduler records each group's starting lr as ``group['initial_lr']`` (``base_lrs``) and
takes step 0 (``last_epoch = 0``). Like torch, each ``step()`` updates the current lr from the previous
one (the "chainable" form), so schedulers compose (ChainedScheduler) with each other and with other
changes to ``group['lr']``; ``step(epoch)`` (deprecated, as in torch) jumps with the closed form.

Where they live: the base class in ``lr_base``; functions of the epoch in ``lr_decay`` (LambdaLR,
MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR,
CosineAnnealingLR); cycles in ``lr_cyclic`` (CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts);
ReduceLROnPlateau in ``lr_plateau``; SequentialLR and ChainedScheduler in ``lr_composite``.

Warmup, as a Transformer's training wants: LinearLR (or LambdaLR with a ramp), followed by a decay
through SequentialLR.
"""

from scratchnet.optim.lr_base import EPOCH_DEPRECATION_WARNING, LRScheduler  # noqa: F401 (torch exposes it too)
from scratchnet.optim.lr_composite import ChainedScheduler, SequentialLR
from scratchnet.optim.lr_cyclic import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from scratchnet.optim.lr_decay import (
    ConstantLR, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR, MultiStepLR, PolynomialLR,
    StepLR,
)
from scratchnet.optim.lr_plateau import ReduceLROnPlateau

__all__ = [
    "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
    "SequentialLR", "CosineAnnealingLR", "ChainedScheduler", "ReduceLROnPlateau", "CyclicLR",
    "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR", "LRScheduler",
]
