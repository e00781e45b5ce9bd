"""The lecture's training loop and evaluation, in NumPy.

One step is the lecture's loop body with ``loss.backward()`` written out:

    optimizer.zero_grad()
    logits = model(X)                          # forward
    loss = criterion(logits, y)
    model.backward(criterion.backward())       # dL/dlogits, then the chain rule down the layers
    optimizer.step()
"""

from scratchnet._checks import check_dataset
from scratchnet.nn import CrossEntropyLoss
from scratchnet.optim import Adam


def train_step(model, criterion, optimizer, X, y):
    """One optimisation step on (X, y); returns (logits, loss as a float)."""
    model.train()
    optimizer.zero_grad()
    logits = model(X)
    loss = criterion(logits, y)
    model.backward(criterion.backward())
    optimizer.step()
    return logits, float(loss)


def fit(model, X_train, y_train, *, num_epochs=20, lr=1e-3, criterion=None, optimizer=None, print_every=5, log=print):
    """Train full-batch for ``num_epochs`` as the lecture does; returns the per-epoch losses.

    Defaults are the lecture's: cross-entropy and Adam(lr=1e-3). Every ``print_every``
    epochs it logs ``Epoch [5/20], Loss: 0.6710``.
    """
    check_dataset(X_train, y_train, "X_train")
    if num_epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")
    criterion = CrossEntropyLoss() if criterion is None else criterion
    optimizer = Adam(model.parameters(), lr=lr) if optimizer is None else optimizer
    losses = []
    for epoch in range(num_epochs):
        _, loss = train_step(model, criterion, optimizer, X_train, y_train)
        losses.append(loss)
        if print_every and (epoch + 1) % print_every == 0:
            log(f"Epoch [{epoch + 1}/{num_epochs}], Loss: {loss:.4f}")
    return losses


def predict(model, X):
    """Class predictions: the index of the largest logit (the first one on ties, like torch)."""
    model.eval()
    return model(X).argmax(axis=1)


def evaluate(model, X_test, y_test, log=print):
    """Test accuracy in [0, 1]; logs ``Test Accuracy: 84.00%`` as the lecture prints it."""
    check_dataset(X_test, y_test, "X_test")
    accuracy = float((predict(model, X_test) == y_test).mean())
    if log is not None:
        log(f"Test Accuracy: {accuracy * 100:.2f}%")
    return accuracy
