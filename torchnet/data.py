"""The lecture's data as torch tensors, built exactly as the lecture builds them."""

import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split


def load_lecture_data(dtype=torch.float32):
    """Returns (X_train, X_test, y_train, y_test) tensors: features of ``dtype``, labels long."""
    X, y = make_classification(
        n_samples=1000, n_features=20, n_informative=15, n_redundant=5, n_classes=2, random_state=42
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    return (
        torch.tensor(X_train, dtype=dtype),
        torch.tensor(X_test, dtype=dtype),
        torch.tensor(y_train, dtype=torch.long),
        torch.tensor(y_test, dtype=torch.long),
    )
