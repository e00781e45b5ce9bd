"""Evaluation metrics for the lecture's three tasks, in NumPy.

- accuracy         = mean(y_pred == y_true)
- confusion_matrix[i, j] = number of samples of true class i predicted as class j
- mean_squared_error  = mean((y_pred - y_true)^2)
- mean_absolute_error = mean(|y_pred - y_true|)
- r2_score         = 1 - sum((y_true - y_pred)^2) / sum((y_true - mean(y_true))^2)
                     (undefined, NaN, when y_true is constant: the denominator is 0)
"""

import numpy as np


def _pair(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"expected two non-empty 1-D arrays of the same length, got shapes {y_true.shape} and {y_pred.shape}")
    return y_true, y_pred


def accuracy(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, num_classes):
    y_true, y_pred = _pair(y_true, y_pred)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean((y_pred - y_true) ** 2))


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_pred - y_true)))


def r2_score(y_true, y_pred):
    """R^2, or NaN when ``y_true`` is constant (0 / 0: no variance to explain); ``format_r2`` says so in words."""
    y_true, y_pred = _pair(y_true, y_pred)
    total = np.sum((y_true - y_true.mean()) ** 2)
    residual = np.sum((y_true - y_pred) ** 2)
    return float(1 - residual / total) if total > 0 else float("nan")


def format_r2(r2):
    """R^2 to 4 decimals, or why it has none: a constant target leaves it undefined (see ``r2_score``)."""
    return "n/a: the target is constant" if np.isnan(r2) else f"{r2:.4f}"


def format_confusion_matrix(matrix, class_names=None):
    """The matrix as text: one row per true class, one column per predicted class."""
    names = [str(c) for c in (class_names if class_names is not None else range(len(matrix)))]
    corner = "true \\ predicted"
    first = max(len(corner), *(len(n) for n in names))
    width = max(*(len(n) for n in names), len(str(matrix.max())), 3)
    lines = [corner.ljust(first) + " " + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, matrix):
        lines.append(name.ljust(first) + " " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)
