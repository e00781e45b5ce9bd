"""The lecture's training loop and evaluation, in NumPy.

One step is the lecture's loop body with ``loss.backward()`` written out:

    optimizer.zero_grad()
    logits = model(X)                          # forward
    loss = criterion(logits, y)
    model.backward(criterion.backward())       # dL/dlogits, then the chain rule down the layers
    optimizer.step()
"""

import numpy as np

from scratchnet._checks import check_dataset
from scratchnet.data import check_batches, iterate_batches
from scratchnet.nn import CrossEntropyLoss
from scratchnet.optim import Adam


class TrainingDivergedError(ValueError):
    """The loss or a weight became NaN or infinite during training (``loss``: the loss, if that was it)."""

    def __init__(self, message, loss=None):
        super().__init__(message)
        self.loss = loss


def train_step(model, criterion, optimizer, X, y):
    """One optimisation step on (X, y); returns (logits, loss as a float).

    A NaN or infinite loss raises TrainingDivergedError before backward and step, so the
    weights are left as they were.
    """
    model.train()
    optimizer.zero_grad()
    logits = model(X)
    loss = criterion(logits, y)
    if not np.isfinite(loss):
        raise TrainingDivergedError(f"the loss became {float(loss)}", loss=float(loss))
    model.backward(criterion.backward())
    optimizer.step()
    return logits, float(loss)


def check_finite_parameters(model):
    """Raise TrainingDivergedError naming the first parameter holding a NaN or infinity."""
    for name, param in model.named_parameters():
        if not np.isfinite(param.data).all():
            raise TrainingDivergedError(f"parameter {name!r} became non-finite")


def fit(model, X_train, y_train, *, num_epochs=20, lr=1e-3, criterion=None, optimizer=None, batch_size=None,
        shuffle=True, drop_last=False, seed=0, print_every=5, log=print, progress=None):
    """Train ``model`` and return the per-epoch losses.

    Defaults are the lecture's: full batch, cross-entropy, Adam(lr=1e-3), and every
    ``print_every`` epochs a line ``Epoch [5/20], Loss: 0.6710``. With ``batch_size`` the
    data is cut into mini-batches (reshuffled each epoch from ``seed`` when ``shuffle``)
    and an epoch's loss is the sample-weighted mean of its batch losses.

    ``progress``: None, or a bar with ``reset(total)``, ``update(n, **fields)``, ``clear()`` and
    ``close()`` (``scratchnet.cli.progress.ProgressBar``); it advances per epoch.
    """
    check_dataset(X_train, y_train, "X_train")
    if num_epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")
    criterion = CrossEntropyLoss() if criterion is None else criterion
    optimizer = Adam(model.parameters(), lr=lr) if optimizer is None else optimizer
    check_batches(len(X_train), batch_size, drop_last)
    rng = np.random.default_rng(seed)
    if progress is not None:
        progress.reset(num_epochs)
    losses, step = [], 0
    try:
        for epoch in range(1, num_epochs + 1):
            total, count = 0.0, 0
            for index in iterate_batches(len(X_train), batch_size, shuffle=shuffle, rng=rng, drop_last=drop_last):
                step += 1
                X, y = X_train[index], y_train[index]
                try:
                    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported here, once, clearly
                        _, loss = train_step(model, criterion, optimizer, X, y)
                        check_finite_parameters(model)
                except TrainingDivergedError as error:  # stop as scikit-learn's MLP does, naming where and why
                    lr = optimizer.param_groups[0].get("lr")
                    raise TrainingDivergedError(
                        f"training diverged at epoch {epoch}, step {step}: {error}. Try a lower learning rate"
                        f"{f' (it was {lr:g})' if lr is not None else ''} or standardise the inputs.") from None
                total, count = total + loss * len(X), count + len(X)
            losses.append(total / max(count, 1))
            if log is not None and print_every and epoch % print_every == 0:
                if progress is not None:
                    progress.clear()  # the log line goes on a clean line; the bar redraws below it
                log(f"Epoch [{epoch}/{num_epochs}], Loss: {losses[-1]:.4f}")
            if progress is not None:
                progress.update(1, epoch=f"{epoch}/{num_epochs}", loss=losses[-1])
    finally:
        if progress is not None:
            progress.close()  # also when training stops with an error, so the message starts a clean line
    return losses


def predict(model, X):
    """Class predictions: the index of the largest logit (the first one on ties, like torch)."""
    model.eval()
    return model(X).argmax(axis=1)


def evaluate(model, X_test, y_test, log=print):
    """Test accuracy in [0, 1]; logs ``Test Accuracy: 84.00%`` as the lecture prints it."""
    check_dataset(X_test, y_test, "X_test")
    if y_test.ndim != 1:
        raise ValueError(f"evaluate expected class labels of shape ({len(X_test)},), got y_test of shape {y_test.shape}")
    accuracy = float((predict(model, X_test) == y_test).mean())
    if log is not None:
        log(f"Test Accuracy: {accuracy * 100:.2f}%")
    return accuracy
