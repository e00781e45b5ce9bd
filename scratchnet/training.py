"""The lecture's training loop and evaluation, in NumPy.

One step is the lecture's loop body with ``loss.backward()`` written out:

    optimizer.zero_grad()
    logits = model(X)                          # forward
    loss = criterion(logits, y)
    model.backward(criterion.backward())       # dL/dlogits, then the chain rule down the layers
    optimizer.step()

Ctrl-C during ``fit`` lets the step in progress finish and then stops with TrainingInterrupted
(a KeyboardInterrupt) saying where, so the model is as its last completed step left it and can
be saved; a second Ctrl-C stops at once.
"""

import signal
import threading

import numpy as np

from scratchnet._checks import check_array, check_dataset
from scratchnet.data import check_batches, iterate_batches
from scratchnet.nn import CrossEntropyLoss
from scratchnet.optim import Adam


class TrainingDivergedError(ValueError):
    """The loss or a weight became NaN or infinite during training (``loss``: the loss, if that was it)."""

    def __init__(self, message, loss=None):
        super().__init__(message)
        self.loss = loss


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training at ``epoch`` of ``epochs``, in ``step`` (counted from the first, as divergence is).

    ``completed``: True when step ``step`` had finished, so the model is as that step left it;
    False when the interrupt cut the step short (a second Ctrl-C), so the weights may be half-updated.
    """

    def __init__(self, epoch, epochs, step, completed):
        where = f"epoch {epoch}/{epochs}, step {step}" if completed else f"epoch {epoch}/{epochs}, during step {step}"
        super().__init__(f"interrupted at {where}")
        self.epoch, self.epochs, self.step, self.completed = epoch, epochs, step, completed


class StopOnCtrlC:
    """A training loop's guard: the first Ctrl-C stops it after the step in progress, a second one at once.

        with StopOnCtrlC(num_epochs) as ctrl_c:
            for epoch ...:
                for step ...:
                    ctrl_c.step_begins(epoch, step)
                    train_step(...)
                    ctrl_c.step_ends()          # raises here if Ctrl-C came during the step

    Any KeyboardInterrupt leaving the block becomes a TrainingInterrupted saying where. The first
    Ctrl-C is only noted when this runs in the main thread over Python's default handler (otherwise
    every Ctrl-C stops at once, and says so).
    """

    def __init__(self, epochs):
        self.epochs, self.epoch, self.step, self.in_step = epochs, 0, 0, False
        self.pressed = False
        self._previous = None

    def _note(self, signum, frame):
        if self.pressed:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        self.pressed = True

    def step_begins(self, epoch, step):
        self.epoch, self.step, self.in_step = epoch, step, True

    def step_ends(self):
        self.in_step = False
        if self.pressed:
            raise KeyboardInterrupt

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def __exit__(self, kind, error, traceback):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if kind is not None and issubclass(kind, KeyboardInterrupt) and not isinstance(error, TrainingInterrupted):
            raise TrainingInterrupted(self.epoch, self.epochs, self.step, completed=not self.in_step) from None
        return False


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


class PerTokenLoss:
    """A loss on every position of a sequence model's outputs (a GPT's): logits (B, T, V), targets (B, T).

    Each position is one sample of ``criterion`` (CrossEntropyLoss; a -100 target is not scored):

        loss = criterion(logits.reshape(B*T, V), y.reshape(B*T))
        dL/dlogits = criterion.backward().reshape(B, T, V)
    """

    def __init__(self, criterion):
        self.criterion = criterion
        self.shape = None

    def __call__(self, logits, y):
        self.shape = logits.shape
        return self.criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def backward(self):
        return self.criterion.backward().reshape(self.shape)

    def __repr__(self):
        return f"PerTokenLoss({self.criterion!r})"


def check_training_data(X, y, name="X_train"):
    """Float features (``check_dataset``), or integer token ids (N, T) with targets (N, T) for a GPT."""
    if not (isinstance(X, np.ndarray) and X.dtype.kind in "iu"):
        return check_dataset(X, y, name)
    check_array(y, "y")
    if X.ndim != 2 or len(X) == 0 or y.shape != X.shape:
        raise ValueError(f"{name} of token ids must have shape (N, T) with N >= 1 and targets y of the same shape, "
                         f"got {X.shape} and {y.shape}")
    return X, y


def check_finite_parameters(model):
    """Raise TrainingDivergedError naming the first parameter holding a NaN or infinity."""
    for name, param in model.named_parameters():
        if not np.isfinite(param.data).all():
            raise TrainingDivergedError(f"parameter {name!r} became non-finite")


def fit(model, X_train, y_train, *, num_epochs=20, lr=1e-3, criterion=None, optimizer=None, batch_size=None,
        shuffle=True, drop_last=False, seed=0, print_every=5, log=print, progress=None):
    """Train ``model`` and return the per-epoch losses.

    ``X_train`` holds float features, or integer token ids (N, T) for a GPT, whose ``criterion``
    is then a ``PerTokenLoss``. Defaults are the lecture's: full batch, cross-entropy, Adam(lr=1e-3), and every
    ``print_every`` epochs a line ``Epoch [5/20], Loss: 0.6710``. With ``batch_size`` the
    data is cut into mini-batches (reshuffled each epoch from ``seed`` when ``shuffle``)
    and an epoch's loss is the sample-weighted mean of its batch losses.

    ``progress``: None, or a tqdm bar (``scratchnet.cli.progress.progress_bar``, or any with tqdm's
    ``reset(total)``, ``set_postfix``, ``update(n)``, ``clear()`` and ``close()``); it advances per epoch.
    """
    check_training_data(X_train, y_train, "X_train")
    if num_epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")
    criterion = CrossEntropyLoss() if criterion is None else criterion
    optimizer = Adam(model.parameters(), lr=lr) if optimizer is None else optimizer
    check_batches(len(X_train), batch_size, drop_last)
    rng = np.random.default_rng(seed)
    if progress is not None:
        progress.reset(total=num_epochs)
    losses, step = [], 0
    try:
        with StopOnCtrlC(num_epochs) as ctrl_c:
            for epoch in range(1, num_epochs + 1):
                total, count = 0.0, 0
                for index in iterate_batches(len(X_train), batch_size, shuffle=shuffle, rng=rng, drop_last=drop_last):
                    step += 1
                    ctrl_c.step_begins(epoch, step)
                    X, y = X_train[index], y_train[index]
                    try:
                        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported here, once
                            _, loss = train_step(model, criterion, optimizer, X, y)
                            check_finite_parameters(model)
                    except TrainingDivergedError as error:  # stop as scikit-learn's MLP does, naming where and why
                        lr = optimizer.param_groups[0].get("lr")
                        raise TrainingDivergedError(
                            f"training diverged at epoch {epoch}, step {step}: {error}. Try a lower learning rate"
                            f"{f' (it was {lr:g})' if lr is not None else ''} or standardise the inputs.") from None
                    total, count = total + loss * len(X), count + len(X)
                    ctrl_c.step_ends()
                losses.append(total / max(count, 1))
                if log is not None and print_every and epoch % print_every == 0:
                    if progress is not None:
                        progress.clear()  # the log line goes on a clean line; the bar redraws below it
                    log(f"Epoch [{epoch}/{num_epochs}], Loss: {losses[-1]:.4f}")
                if progress is not None:
                    progress.set_postfix(epoch=f"{epoch}/{num_epochs}", loss=losses[-1], refresh=False)
                    progress.update(1)
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
