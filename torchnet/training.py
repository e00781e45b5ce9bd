"""The lecture's training loop and evaluation in PyTorch (same signatures as scratchnet.training)."""

import torch
import torch.nn as nn
import torch.optim as optim


def train_step(model, criterion, optimizer, X, y):
    """One optimisation step on (X, y); returns (logits, loss as a float)."""
    model.train()
    optimizer.zero_grad()
    outputs = model(X)
    loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()
    return outputs.detach(), loss.item()


def fit(model, X_train, y_train, *, num_epochs=20, lr=1e-3, criterion=None, optimizer=None, print_every=5, log=print):
    """Train full-batch for ``num_epochs`` as the lecture does; returns the per-epoch losses."""
    criterion = nn.CrossEntropyLoss() if criterion is None else criterion
    optimizer = optim.Adam(model.parameters(), lr=lr) if optimizer is None else optimizer
    losses = []
    for epoch in range(num_epochs):
        _, loss = train_step(model, criterion, optimizer, X_train, y_train)
        losses.append(loss)
        if print_every and (epoch + 1) % print_every == 0:
            log(f"Epoch [{epoch + 1}/{num_epochs}], Loss: {loss:.4f}")
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
