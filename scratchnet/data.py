"""The lecture's data, as NumPy arrays shared by scratchnet, torchnet and parity.

scikit-learn is imported inside the loader, never when scratchnet is imported.
"""

from collections import namedtuple

import numpy as np

from scratchnet._dtype import as_float_dtype

Split = namedtuple("Split", ["X_train", "X_test", "y_train", "y_test"])


def load_lecture_data(dtype=np.float64):
    """1000 samples, 20 features, 2 classes, split 80/20, exactly as the lecture builds them.

    Returns ``Split(X_train (800, 20), X_test (200, 20), y_train (800,), y_test (200,))``
    with features of ``dtype`` and int64 labels.
    """
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(
        n_samples=1000, n_features=20, n_informative=15, n_redundant=5, n_classes=2, random_state=42
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    dtype = as_float_dtype(dtype)
    return Split(X_train.astype(dtype), X_test.astype(dtype), y_train.astype(np.int64), y_test.astype(np.int64))


def iterate_batches(n, batch_size=None, *, shuffle=False, rng=None, drop_last=False):
    """The index arrays of one epoch's mini-batches, in order, as torch's DataLoader forms them.

    ``batch_size=None`` gives one full batch (``slice(None)``: no copy of the data).
    ``shuffle`` draws one permutation per call from ``rng`` (a NumPy Generator), which
    both sides of a parity run share. The last partial batch is kept unless ``drop_last``.
    """
    if batch_size is None:
        yield slice(None)
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]
