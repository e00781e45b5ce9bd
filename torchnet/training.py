"""The lecture's training loop and evaluation in PyTorch: scratchnet.training's arguments, on tensors (no progress bar)."""

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset


def train_step(model, criterion, optimizer, X, y):
    """One optimisation step on (X, y); returns (logits, loss as a float)."""
    model.train()
    optimizer.zero_grad()
    outputs = model(X)
    loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()
    return outputs.detach(), loss.item()


class PerTokenLoss(nn.Module):
    """scratchnet.training.PerTokenLoss: ``criterion`` on logits (B, T, V) reshaped to (B*T, V), targets to (B*T,)."""

    def __init__(self, criterion):
        super().__init__()
        self.criterion = criterion

    def forward(self, logits, y):
        return self.criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def fit(model, X_train, y_train, *, num_epochs=20, lr=1e-3, criterion=None, optimizer=None, batch_size=None,
        shuffle=True, drop_last=False, seed=0, print_every=5, log=print):
    """Train ``model`` and return the per-epoch losses (full batch by default, as the lecture does).

    With ``batch_size`` the data is cut into mini-batches as a DataLoader would, reshuffled
    each epoch by a generator seeded with ``seed``; an epoch's loss is the sample-weighted mean.
    """
    criterion = nn.CrossEntropyLoss() if criterion is None else criterion
    optimizer = optim.Adam(model.parameters(), lr=lr) if optimizer is None else optimizer
    loader = None
    if batch_size is not None:
        generator = torch.Generator().manual_seed(seed)
        loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=shuffle,
                            drop_last=drop_last, generator=generator)
    losses = []
    for epoch in range(1, num_epochs + 1):
        batches = [(X_train, y_train)] if loader is None else loader
        total, count = 0.0, 0
        for X, y in batches:
            _, loss = train_step(model, criterion, optimizer, X, y)
            total, count = total + loss * len(X), count + len(X)
        losses.append(total / max(count, 1))
        if log is not None and print_every and epoch % print_every == 0:
            log(f"Epoch [{epoch}/{num_epochs}], Loss: {losses[-1]:.4f}")
    return losses


def predict(model, X):
    model.eval()
    with torch.no_grad():
        outputs = model(X)
        _, predicted = torch.max(outputs, dim=1)
    return predicted


def evaluate(model, X_test, y_test, log=print):
    """Test accuracy in [0, 1]; logs ``Test Accuracy: 84.00%`` as the lecture prints it."""
    accuracy = (predict(model, X_test) == y_test).float().mean().item()
    if log is not None:
        log(f"Test Accuracy: {accuracy * 100:.2f}%")
    return accuracy
