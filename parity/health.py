"""Training health on both sides, for ``python -m parity --report``: what learners are taught to watch.

- **activations**: at a few chosen epochs (the first, the middle, the last), the outputs of every
  activation layer (ReLU, Tanh, GELU, ...) during that epoch's first training step, as histograms;
- **gradients**: the gradient of every weight (a parameter with two or more dimensions) after
  that step, as histograms;
- **update ratio**: for every weight W at every step, log10(|ΔW| / |W|) with |.| the Euclidean
  norm and ΔW the step's update. Around -3 (an update a thousandth of the weight) is the usual
  healthy band; far above it the learning rate is too high, far below it too low.

Both sides are recorded during the steps the parity run takes anyway, from the same batches, so
nothing extra is computed through the models and no state (a BatchNorm's running statistics,
the dropout generator) changes. A histogram's bins are shared by the two sides, so their counts
compare bin for bin. Everything is kept as plain lists, ready for the JSON report.
"""

import math
from contextlib import contextmanager

import numpy as np

from parity.transfer import to_numpy
from scratchnet.nn import activation as scratch_activations

SIDES = ("scratchnet", "torch")
BINS = 30


def watched_epochs(epochs):
    """The epochs whose first step is recorded in histograms: the first, the middle and the last."""
    return sorted({1, (epochs + 1) // 2, epochs}) if epochs else []


def activation_layers(scratch_model, torch_model):
    """(name, scratchnet module, torch module) for every activation layer, paired by name across the two models."""
    theirs = dict(torch_model.named_modules())
    return [(name, module, theirs[name]) for name, module in scratch_model.named_modules()
            if type(module).__module__ == scratch_activations.__name__ and name in theirs]


def histogram(values):
    """Counts of both sides' values over shared edges: ``{"edges": [...], "scratchnet": [...], "torch": [...]}``."""
    finite = {side: v[np.isfinite(v)] for side, v in values.items()}
    everything = np.concatenate(list(finite.values()))
    low, high = (float(everything.min()), float(everything.max())) if everything.size else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, BINS + 1)
    return {"edges": edges.tolist(), **{side: np.histogram(finite[side], edges)[0].tolist() for side in SIDES}}


def update_ratio(before, after):
    """log10(|after - before| / |before|), or NaN where it has no value (a zero weight, or no update at all)."""
    update, weight = np.linalg.norm(after - before), np.linalg.norm(before)
    return math.log10(update / weight) if update > 0 and weight > 0 else math.nan


class TrainingHealth:
    """Pass to ``train_side_by_side(health=...)``; read ``to_dict()`` afterwards.

    ``train_side_by_side`` wraps each training step of both models in ``with health.step(epoch, step):``.
    """

    def __init__(self, scratch_model, torch_model, epochs):
        self.epochs = watched_epochs(epochs)
        self.layers = activation_layers(scratch_model, torch_model)
        theirs = dict(torch_model.named_parameters())
        self.weights = [(name, param, theirs[name]) for name, param in scratch_model.named_parameters()
                        if param.data.ndim >= 2]
        self.activations = {}  # epoch -> layer -> histogram
        self.gradients = {}  # epoch -> weight -> histogram
        self.update_ratio = {side: {name: [] for name, _, _ in self.weights} for side in SIDES}

    @contextmanager
    def step(self, epoch, first_of_epoch):
        recording = first_of_epoch and epoch in self.epochs
        before = {name: (mine.data.copy(), to_numpy(theirs).copy()) for name, mine, theirs in self.weights}
        outputs = {side: {} for side in SIDES}
        with _recording_outputs(self.layers if recording else [], outputs):
            yield
        for name, mine, theirs in self.weights:
            self.update_ratio["scratchnet"][name].append(update_ratio(before[name][0], mine.data))
            self.update_ratio["torch"][name].append(update_ratio(before[name][1], to_numpy(theirs)))
        if recording:
            self.activations[epoch] = {name: histogram({side: outputs[side][name] for side in SIDES})
                                       for name, _, _ in self.layers if name in outputs["torch"]}
            self.gradients[epoch] = {name: histogram({"scratchnet": _flat(mine.grad), "torch": _flat(theirs.grad)})
                                     for name, mine, theirs in self.weights}

    def to_dict(self):
        return {"epochs": self.epochs, "layer_types": {name: type(module).__name__ for name, module, _ in self.layers},
                "activations": {str(e): h for e, h in self.activations.items()},
                "gradients": {str(e): h for e, h in self.gradients.items()}, "update_ratio": self.update_ratio}


def _flat(grad):
    return np.zeros(0) if grad is None else np.ravel(to_numpy(grad) if hasattr(grad, "detach") else grad)


@contextmanager
def _recording_outputs(layers, outputs):
    """Keep each layer's output of the forward passes inside the block, on both sides, in ``outputs[side][name]``.

    torch: a forward hook. scratchnet has no hooks: the module's ``forward`` is wrapped for the
    block's duration (an instance attribute, removed afterwards).
    """
    handles = []
    for name, mine, theirs in layers:
        def wrapped(*args, _forward=mine.forward, _name=name, **kwargs):
            out = _forward(*args, **kwargs)
            outputs["scratchnet"][_name] = np.ravel(out).copy()
            return out

        mine.forward = wrapped
        handles.append(theirs.register_forward_hook(
            lambda module, args, out, _name=name: outputs["torch"].__setitem__(_name, np.ravel(to_numpy(out)))))
    try:
        yield
    finally:
        for (_, mine, _), handle in zip(layers, handles, strict=True):
            del mine.forward
            handle.remove()
