"""The one random-number source of scratchnet, seedable like ``torch.manual_seed``.

Every layer draws its initial weights from this NumPy Generator, so the same seed
gives bit-identical weights on any machine (PCG64 is platform independent).
"""

import numpy as np

_generator = np.random.Generator(np.random.PCG64())


def manual_seed(seed):
    """Reset scratchnet's generator to ``seed`` (a non-negative int); returns it."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed expected a non-negative integer, got {seed!r}")
    _generator = np.random.Generator(np.random.PCG64(int(seed)))
    return _generator


def default_generator():
    """The Generator that layers use for their initial weights."""
    return _generator
