"""``python -m parity fuzz``: differential testing of scratchnet against torch, driven by hypothesis.

Each example is a small random training run: an architecture with random depth, widths and
activation; a task and its loss; an optimizer with random options; a learning-rate scheduler or
none; a dtype, a batch size, a few epochs on random data. Both sides train with
``train_side_by_side`` and the example passes when parity holds (the tolerances of
``parity.tolerances``, unchanged). hypothesis searches the space, and when an example fails it
shrinks it to the simplest one that still fails and prints a command reproducing it::

    python -m parity fuzz --replay '{"architecture": "mlp", ...}'

Architectures are a registry (``ARCHITECTURES``): each says how to draw its constructor
arguments and the shape of one input sample; the class of the same name is built on both
sides: ``mlp``, ``cnn``, ``rnn`` (SequenceClassifier, with an RNN, LSTM or GRU cell) and
``transformer`` (TransformerClassifier, defined here: a TransformerEncoder with random heads,
widths, depth, activation, norm placement and mask, dropout 0). The layer families are built here
as Sequentials of scratchnet.nn's layers and their torch twins: ``mlp-layers`` (any element-wise
activation both sides have, BatchNorm1d or LayerNorm, Dropout(p=0)) and ``cnn-layers`` (Conv1d or
Conv2d, every padding_mode, Max/Avg/Adaptive pools, BatchNorm/GroupNorm/InstanceNorm between convs).
Losses (``LOSS_SPECS``) say which targets they take and whether a LogSoftmax or Sigmoid goes after
the model; optimizers (``OPTIMIZER_OPTIONS``) list their options; schedulers (``SCHEDULES``) their
arguments and whether they step per epoch, per step or on the epoch's loss.
The sizes searched are tables of ranges (``Ints``, ``OneOf``, ``IntLists``), read both by the
strategies that draw examples and by ``parse_example``, which refuses a ``--replay`` outside them.

hypothesis is imported inside the functions that use it, so ``import parity`` never needs it.
"""

import argparse
import importlib
import inspect
import json
import math
import shlex
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

import scratchnet
import torchnet
import torchnet.training
from parity.harness import torch_fast_path_off
from parity.training import train_side_by_side
from parity.transfer import to_torch, torch_dtype
from scratchnet import metrics
from scratchnet.data import Split, iterate_batches
from parity.cli import limit_threads, out_of_memory, parity_exit_status
from scratchnet.cli.entry import CommandLineParser, add_threads_argument, check_seed
from scratchnet.cli.progress import progress_bar
from scratchnet.models import ACTIVATIONS
from scratchnet.nn.transformer import generate_square_subsequent_mask
from scratchnet.training import TrainingDivergedError

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEFAULT_EXAMPLES = 2500  # 54 to 63 s (user 49 to 52 s) on one thread of a 2-core machine shared with other jobs,
# ~23 ms an example: a transformer example costs ~10 others and is drawn 1 in 16 (57 s before the layer families,
# the new losses and optimizers)
DEFAULT_DURATION = "about a minute on one thread of a 2-core machine"
TEST_SAMPLES = 4

FUZZ_ACTIVATIONS = [name for name in ACTIVATIONS if hasattr(torch.nn, name)]  # the models' MLP takes these


@dataclass(frozen=True)
class LossSpec:
    """How a loss joins a training run. ``task``: the targets it takes (``make_data`` draws them):
    "classification" (labels), "binary" (0/1 in a column), "signs" (-1/+1 in a column), "regression",
    "distribution" (rows of probabilities), "counts" (Poisson counts); ``kwargs``: its arguments on both
    sides; ``head``: a layer appended to the model on both sides, for a loss that takes log-probabilities
    ("LogSoftmax") or probabilities ("Sigmoid") rather than raw outputs."""

    task: str
    kwargs: dict = field(default_factory=dict, hash=False)
    head: str = None


# Every loss that fits a training run of inputs -> outputs against targets. Left out: GaussianNLLLoss,
# MarginRankingLoss, CosineEmbeddingLoss (they take a variance or a second input, which train_step does not
# pass). A loss is drawn once scratchnet.nn exports it: train_side_by_side looks losses up there by name.
LOSS_SPECS = {
    "CrossEntropyLoss": LossSpec("classification"),
    "BCEWithLogitsLoss": LossSpec("binary"),
    "MSELoss": LossSpec("regression"),
    "L1Loss": LossSpec("regression"),
    "HuberLoss": LossSpec("regression"),
    "SmoothL1Loss": LossSpec("regression"),
    "NLLLoss": LossSpec("classification", head="LogSoftmax"),
    "BCELoss": LossSpec("binary", head="Sigmoid"),
    "MultiMarginLoss": LossSpec("classification"),
    "KLDivLoss": LossSpec("distribution", {"reduction": "batchmean"}, head="LogSoftmax"),  # torch's advice
    "PoissonNLLLoss": LossSpec("counts"),  # log_input=True (torch's default): the outputs are log-rates
    "SoftMarginLoss": LossSpec("signs"),
    "HingeEmbeddingLoss": LossSpec("signs"),
}


def available_losses():
    """The losses of LOSS_SPECS that scratchnet.nn and torch.nn both export, by torch name."""
    return [name for name in LOSS_SPECS if hasattr(scratchnet.nn, name) and hasattr(torch.nn, name)]


LOSSES = available_losses()
TASK_OF_LOSS = {name: spec.task for name, spec in LOSS_SPECS.items()}

# Optimizer options drawn per example, the torch default first (hypothesis shrinks towards it). An optimizer
# is drawn once scratchnet.optim exports it: train_side_by_side looks optimizers up there by name.
OPTIMIZER_OPTIONS = {
    "SGD": {"momentum": [0.0, 0.9], "weight_decay": [0.0, 0.01], "nesterov": [False, True], "dampening": [0.0, 0.5],
            "maximize": [False, True]},
    "Adam": {"weight_decay": [0.0, 0.01], "amsgrad": [False, True], "decoupled_weight_decay": [False, True],
             "maximize": [False, True]},
    "AdamW": {"weight_decay": [0.01, 0.0], "amsgrad": [False, True], "maximize": [False, True]},
    "RMSprop": {"momentum": [0.0, 0.9], "centered": [False, True], "weight_decay": [0.0, 0.01],
                "maximize": [False, True]},
    "Adagrad": {"weight_decay": [0.0, 0.01], "lr_decay": [0.0, 0.01], "initial_accumulator_value": [0.0, 0.1],
                "maximize": [False, True]},
    "NAdam": {"weight_decay": [0.0, 0.01], "momentum_decay": [0.004, 0.01], "decoupled_weight_decay": [False, True],
              "maximize": [False, True]},
    "RAdam": {"weight_decay": [0.0, 0.01], "decoupled_weight_decay": [False, True], "maximize": [False, True]},
    "Adamax": {"weight_decay": [0.0, 0.01], "maximize": [False, True]},
    "Adadelta": {"rho": [0.9, 0.5], "weight_decay": [0.0, 0.01], "maximize": [False, True]},
    # t0 2: the average starts within the run (torch's default, 1e6, never reaches it)
    "ASGD": {"lambd": [0.0001, 0.01], "t0": [1000000.0, 2.0], "weight_decay": [0.0, 0.01], "maximize": [False, True]},
}


# maximize=True climbs the loss, which nothing bounds above here (cross-entropy, MSE): at lr 0.1 with SGD's
# momentum a BatchNorm conv net's loss reached 2e13 in 60 steps, where each gradient is a difference of huge,
# nearly cancelling terms whose rounding the step tolerance (rtol 1e-10) then measures. So maximize runs at
# the smallest rate only, where the weights move little in a run.
MAXIMIZE_LR = 0.001


def available_optimizers():
    """The optimizers of OPTIMIZER_OPTIONS that scratchnet.optim and torch.optim both export."""
    return [name for name in OPTIMIZER_OPTIONS if hasattr(scratchnet.optim, name) and hasattr(torch.optim, name)]


OPTIMIZERS = available_optimizers()

# Learning rates per dtype. float32 keeps to the rates its trajectory tolerance is meant for
# (parity.tolerances.TRAJECTORY): adaptive optimizers move a parameter by ~lr whatever the size
# of its gradient, so a gradient element near 0 whose float32 rounding differs in sign moves the
# two sides up to ~2 lr apart (~20 lr for RMSprop's first step); lr 1e-3 keeps that well inside
# the 5e-2 allowed. float64's rounding is ~1e-16, far from such flips, so it takes larger rates.
LEARNING_RATES = {"float64": [0.01, 0.001, 0.1], "float32": [0.001]}
# Recurrent nets stop at 0.01: a 2-layer LSTM trained with RMSprop(lr=0.1, momentum=0.9) turned
# rounding (each step recomputed from torch's weights agrees to 9e-15) into parameters 4e-9 apart
# after 25 steps and test outputs 3.2e-7 apart, past the 1e-7 allowed: the gates' saturation and
# the recurrence multiply what lr 0.1 with momentum makes of a 1e-16 difference. (Seen in the
# default run; replay: the rnn/lstm example with "lr": 0.1 in tests/test_fuzz.py.)
RECURRENT_LEARNING_RATES = {"float64": [0.01, 0.001], "float32": [0.001]}


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Ints:
    """Integers from ``low`` to ``high``, both included."""

    low: int
    high: int

    def strategy(self):
        from hypothesis import strategies as st

        return st.integers(self.low, self.high)

    def holds(self, value):
        return is_int(value) and self.low <= value <= self.high

    def __str__(self):
        return f"{self.low}" if self.low == self.high else f"an integer from {self.low} to {self.high}"


@dataclass(frozen=True)
class OneOf:
    """One of ``values``, the first being what hypothesis shrinks towards."""

    values: tuple

    def strategy(self):
        from hypothesis import strategies as st

        return st.sampled_from(self.values)

    def holds(self, value):  # True == 1 in Python: a flag must be a bool and a number must not
        return any(value == known and isinstance(value, bool) == isinstance(known, bool) for known in self.values)

    def __str__(self):
        return "one of " + ", ".join(json.dumps(value) for value in self.values)


@dataclass(frozen=True)
class IntLists:
    """Lists of ``lengths`` items, each in ``values``; ``even_lengths``: every length equally often
    (a plain list strategy favours short lists)."""

    lengths: Ints
    values: Ints
    even_lengths: bool = False

    def strategy(self):
        from hypothesis import strategies as st

        if self.even_lengths:
            return self.lengths.strategy().flatmap(
                lambda n: st.lists(self.values.strategy(), min_size=n, max_size=n))
        return st.lists(self.values.strategy(), min_size=self.lengths.low, max_size=self.lengths.high)

    def holds(self, value):
        return isinstance(value, list) and self.lengths.holds(len(value)) and all(map(self.values.holds, value))

    def __str__(self):
        return f"a list of {self.lengths.low} to {self.lengths.high} items, each {self.values}"


def strategy_of(space):
    """The hypothesis strategy of dicts whose every key is drawn from its range in ``space``."""
    from hypothesis import strategies as st

    return st.fixed_dictionaries({key: spec.strategy() for key, spec in space.items()})


# -- the layer families: Sequential nets of scratchnet.nn's layers, built here ------------------------------------
# Each is a list of layers (torch names and arguments) built on both sides into a Sequential, so the state_dict
# keys (0.weight, 1.running_mean, ...) match. A layer is found in scratchnet.nn or, before scratchnet.nn exports
# it, in the submodule where it lives.

LAYER_MODULES = ("activation", "linear", "conv", "normalization", "pooling", "pooling_adaptive", "dropout", "flatten")
# Activations that act on a dimension (a softmax) or halve it (GLU), not element by element:
NOT_ELEMENTWISE = ("Softmax", "LogSoftmax", "Softmin", "GLU")
ACTIVATION_ARGS = {"Threshold": (0.1, 0.5)}  # torch gives Threshold no defaults
# (its docs' value 20 makes the next layers' outputs ~20, PoissonNLLLoss's exp of them ~1e9, and float32's
# rounding of gradients that size passes the trajectory's atol: a replacement of the activations' size here)


def scratch_layer(name):
    """scratchnet's layer class named ``name`` (as torch.nn names it), or None when scratchnet has none."""
    if hasattr(scratchnet.nn, name):
        return getattr(scratchnet.nn, name)
    for module in LAYER_MODULES:
        try:
            found = getattr(importlib.import_module(f"scratchnet.nn.{module}"), name, None)
        except ImportError:
            continue
        if found is not None:
            return found
    return None


def has_layer(name):
    return scratch_layer(name) is not None and hasattr(torch.nn, name)


def _elementwise_activations():
    module = importlib.import_module("scratchnet.nn.activation")
    names = [name for name, value in vars(module).items()
             if inspect.isclass(value) and value.__module__ == module.__name__ and not name.startswith("_")]
    return tuple(name for name in names if name not in NOT_ELEMENTWISE and hasattr(torch.nn, name))


ELEMENTWISE_ACTIVATIONS = _elementwise_activations()  # every one both sides have, ReLU first


def build_layer(side, name, args, kwargs, dtype):
    """One layer on ``side`` ("scratchnet" or "torch"), its parameters in ``dtype``."""
    if side == "torch":
        return getattr(torch.nn, name)(*args, **kwargs).to(torch_dtype(dtype))
    layer_class = scratch_layer(name)
    return layer_class(*args, **kwargs, **({"dtype": dtype} if "dtype" in inspect.signature(layer_class).parameters
                                          else {}))


def sequential_pair(layers, dtype, side):
    """``layers``: [(name, args, kwargs)] -> one side's Sequential of them. torch's weights are drawn in the
    order of the list (build_models seeds torch); train_side_by_side copies them into scratchnet's."""
    sequential = torch.nn.Sequential if side == "torch" else scratchnet.nn.Sequential
    return sequential(*[build_layer(side, name, args, kwargs, dtype) for name, args, kwargs in layers])


# A normalisation over few values is ill-conditioned: over 2 values its outputs are +-1 whatever the input and
# its input gradient is 0 in exact arithmetic, so each side keeps its own rounding noise (~1e-17), which an
# adaptive optimizer turns into steps of ~lr (the transformer family's LayerNorm note says the same of 2 or 3
# features). A norm layer is placed only where each of its groups holds at least MIN_NORMALIZED values, and a
# BatchNorm1d net only trains on batches of at least that many samples.
# And a layer's bias is 0-gradient in exact arithmetic where the norm after it subtracts each channel's mean
# (BatchNorm, InstanceNorm, GroupNorm with a channel per group): the two sides' gradients are rounding noise
# (1e-5 apart in float32 for a Linear(1, 1) before a BatchNorm1d over 4 samples), so that layer takes
# bias=False, as nets with such norms are built anyway (the norm's own shift plays the bias's part).
MIN_NORMALIZED = 4
# ONE_NORM: a net takes one norm layer, after its first hidden Linear or conv. A second norm makes exact
# invariances: the first norm's shift passes ReLU unchanged where every value it reaches is positive, becomes
# a shift the same for every sample (or pixel) after the next Linear or conv, and the second norm removes it, so
# the first norm's bias has a gradient of 0 in exact arithmetic; so do the corner weights of a replicate-padded
# 3x3 conv over 2x2 maps (each adds a constant). Each side then holds its own rounding noise (~1e-15) there,
# which Adam turns into steps of lr * noise / eps: a Conv2d-GroupNorm net's second conv parted by 1.5e-7 after
# one Adam step at lr 0.1 (> 1e-7), and Adagrad's eps (1e-10) makes that 100 times larger. (Second norms also
# grew a stage-1 BatchNorm bias's noise to 2.8e-7 in two steps through RMSprop's L2 weight_decay, and over 2x2
# maps in float32 lifted torch's conv gradient 1e-5 from the float64 truth; with one norm, float32 and L2 decay
# passed 5000 examples of the layer families.)
# Nor does a norm follow a layer of fan-in 1 (Linear(1, n), a 1-channel conv of kernel 1): each channel is then
# w * x, which a per-channel norm turns into sign(w) * x_hat whatever |w|, so w's gradient is ~0 (eps alone
# keeps it from 0) and RMSprop(lr 0.1, momentum 0.9) drove such a w where one step from 2e-11 apart weights
# gave gradients 4e-6 apart (every step from shared weights agreed to 4e-12).


def removes_channel_means(norm):
    """Whether the norm layer ``norm`` (name, args, kwargs) subtracts every channel's own mean."""
    name, args, _ = norm
    return name.startswith(("BatchNorm", "InstanceNorm")) or (name == "GroupNorm" and args[0] == args[1])


def activation_layer(name):
    return (name, ACTIVATION_ARGS.get(name, ()), {})


def layer_mlp_layers(config, outputs):
    """Linear, [norm], activation, [Dropout(p=0)] per hidden width, then the output Linear. The norm goes after
    the first hidden Linear only (ONE_NORM), and for LayerNorm (over the features) where that width is at least
    MIN_NORMALIZED."""
    layers, fan_in = [], config["input_dim"]
    for depth, width in enumerate(config["hidden_dim"]):
        norm = None
        well_conditioned = (config["norm"] == "BatchNorm1d" or width >= MIN_NORMALIZED) and fan_in >= 2
        if depth == 0 and config["norm"] != "none" and well_conditioned:
            norm = (config["norm"], (width,), {})
        layers.append(("Linear", (fan_in, width), {"bias": False} if norm and removes_channel_means(norm) else {}))
        layers += [norm] if norm else []
        layers.append(activation_layer(config["activation"]))
        if config["dropout"]:  # p=0: both sides keep every unit, so the layer's pass-through is checked
            layers.append(("Dropout", (0.0,), {}))
        fan_in = width
    return layers + [("Linear", (fan_in, outputs), {})]


def conv_stages(config):
    """Per conv stage: (its input length, its output length, the pooled length), along each spatial axis."""
    stages, size = [], config["image_size"]
    padding = config["kernel_size"] // 2
    for _ in config["channels"]:
        conv = size + 2 * padding - config["kernel_size"] + 1
        pooled = (conv + 1) // 2 if config["pool"].startswith("Adaptive") else conv // 2
        stages.append((size, conv, pooled))
        size = pooled
    return stages


def norm_layer(kind, d, channels, spatial):
    """The norm layer after a conv, or None where a group would hold fewer than MIN_NORMALIZED values."""
    per_sample = spatial ** d  # values per channel and sample
    if kind == "none":
        return None
    if kind == "GroupNorm":
        groups = 2 if channels % 2 == 0 else 1
        return ("GroupNorm", (groups, channels), {}) if channels // groups * per_sample >= MIN_NORMALIZED else None
    if per_sample < MIN_NORMALIZED:  # BatchNorm: also the batch's samples, but a batch may hold one
        return None
    return (f"{kind}{d}d", (channels,), {"affine": True} if kind == "InstanceNorm" else {})


def layer_cnn_layers(config, outputs):
    """Per stage: Conv{1,2}d (padding kernel_size // 2 in ``padding_mode``), [norm: the first stage only,
    ONE_NORM], activation, [Dropout{1,2}d(p=0)], pool; then Flatten and a Linear. An adaptive pool keeps
    ceil(length / 2) (windows that overlap on odd lengths)."""
    d = 1 if config["conv"] == "Conv1d" else 2
    layers, fan_in = [], config["in_channels"]
    for stage, (channels, (_, conv, pooled)) in enumerate(zip(config["channels"], conv_stages(config))):
        lone_weights = fan_in * config["kernel_size"] ** d == 1  # each output channel from one input value
        norm = norm_layer(config["norm"], d, channels, conv) if stage == 0 and not lone_weights else None  # ONE_NORM
        layers.append((config["conv"], (fan_in, channels, config["kernel_size"]),
                       {"padding": config["kernel_size"] // 2, "padding_mode": config["padding_mode"],
                        **({"bias": False} if norm and removes_channel_means(norm) else {})}))
        layers += [norm] if norm else []
        layers.append(activation_layer(config["activation"]))
        if config["dropout"]:  # p=0: whole channels kept, so the channel dropout's pass-through is checked
            layers.append((f"Dropout{d}d", (0.0,), {}))
        pool = f"{config['pool']}{d}d"
        layers.append((pool, (pooled,), {}) if config["pool"].startswith("Adaptive") else (pool, (2,), {}))
        fan_in = channels
    features = fan_in * conv_stages(config)[-1][2] ** d
    return layers + [("Flatten", (), {}), ("Linear", (features, outputs), {})]


def layer_net_classes(layers_of):
    """(scratchnet builder, torch builder) of a layer family, called as Architecture.classes are: with the
    config and ``outputs`` (scratchnet's with its dtype too; torch's is cast by build_models)."""
    def scratch_model(outputs, dtype=None, **config):
        return sequential_pair(layers_of(config, outputs), np.dtype(dtype or np.float64), side="scratchnet")

    def torch_model(outputs, **config):
        return sequential_pair(layers_of(config, outputs), np.float64, side="torch")

    return scratch_model, torch_model


POOL_KINDS = ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")


def pool_kinds(conv):
    """The pool kinds both sides have for ``conv``'s dimension."""
    d = 1 if conv == "Conv1d" else 2
    return tuple(kind for kind in POOL_KINDS if has_layer(f"{kind}{d}d"))


MLP_LAYERS_SPACE = {
    "input_dim": Ints(1, 8),
    "hidden_dim": IntLists(lengths=Ints(1, 3), values=Ints(1, 16), even_lengths=True),
    "activation": OneOf(ELEMENTWISE_ACTIVATIONS),
    "norm": OneOf(tuple(name for name in ("none", "BatchNorm1d", "LayerNorm") if name == "none" or has_layer(name))),
    "dropout": OneOf((False, True)),
}
CNN_LAYERS_SPACE = {
    "conv": OneOf(tuple(name for name in ("Conv2d", "Conv1d") if has_layer(name))),
    "in_channels": Ints(1, 2),
    "channels": IntLists(lengths=Ints(1, 2), values=Ints(1, 4)),
    "kernel_size": OneOf((3, 1, 2)),
    "image_size": OneOf((4, 5, 8)),  # each stage about halves it: >= 1 left, >= 2 entering a conv (reflect's pad 1)
    "padding_mode": OneOf(("zeros", "reflect", "replicate", "circular")),
    "pool": OneOf(POOL_KINDS),
    "norm": OneOf(("none", "BatchNorm", "GroupNorm", "InstanceNorm")),
    "activation": OneOf(ELEMENTWISE_ACTIVATIONS),
    "dropout": OneOf((False, True)),  # Dropout1d / Dropout2d (p=0) after the activation
}


def cnn_layers_config():
    """CNN_LAYERS_SPACE's strategy, the pool drawn from those the conv's dimension has."""
    from hypothesis import strategies as st

    others = {key: spec for key, spec in CNN_LAYERS_SPACE.items() if key != "pool"}
    return strategy_of(others).flatmap(
        lambda config: st.sampled_from(pool_kinds(config["conv"])).map(lambda pool: {**config, "pool": pool}))


def check_cnn_layers(config):
    if config["pool"] not in pool_kinds(config["conv"]):
        raise ValueError(f"--replay: model.pool {config['pool']} has no {config['conv'][-2:]} form in both "
                         f"scratchnet and torch; with {config['conv']} it must be one of "
                         f"{', '.join(pool_kinds(config['conv']))}")


def uses_batch_statistics(example):
    """Whether the net normalises over the batch alone (an MLP's BatchNorm1d): then every batch needs
    MIN_NORMALIZED samples (a conv net's BatchNorm also counts the pixels, MIN_NORMALIZED at least)."""
    return example["architecture"] == "mlp-layers" and example["model"]["norm"] == "BatchNorm1d"


def smallest_batch(samples, batch_size):
    """The size of an epoch's smallest batch (the last one, when ``batch_size`` does not divide ``samples``)."""
    if batch_size is None:
        return samples
    return samples % batch_size or batch_size


# -- learning-rate schedulers ----------------------------------------------------------------------------------
# Each example may take a scheduler, built with the same arguments on both sides around the two optimizers and
# stepped after every epoch (OneCycleLR and CyclicLR: after every step, as torch's docs use them). The
# arguments are fixed per scheduler, fitted to runs of 1 to 4 epochs so that the lr changes within the run.


@dataclass(frozen=True)
class Schedule:
    """``build(lr_scheduler, optimizer, example)``: the scheduler, from either side's lr_scheduler module;
    ``per_step``: stepped after every optimizer step rather than every epoch; ``on_loss``: stepped with
    the epoch's mean training loss (each side its own), as ReduceLROnPlateau is."""

    build: object
    per_step: bool = False
    on_loss: bool = False


def steps_per_epoch(example):
    return 1 if example["batch_size"] is None else math.ceil(example["samples"] / example["batch_size"])


def cycles_momentum(example):
    """Whether the optimizer has a momentum or betas for OneCycleLR to cycle (torch refuses otherwise)."""
    return bool({"momentum", "betas"} & set(inspect.signature(getattr(torch.optim, example["optimizer"])).parameters))


SCHEDULES = {
    "StepLR": Schedule(lambda m, opt, ex: m.StepLR(opt, step_size=1, gamma=0.5)),
    "MultiStepLR": Schedule(lambda m, opt, ex: m.MultiStepLR(opt, milestones=[1, 3], gamma=0.3)),
    "ExponentialLR": Schedule(lambda m, opt, ex: m.ExponentialLR(opt, gamma=0.8)),
    "CosineAnnealingLR": Schedule(lambda m, opt, ex: m.CosineAnnealingLR(opt, T_max=2, eta_min=ex["lr"] / 10)),
    "LinearLR": Schedule(lambda m, opt, ex: m.LinearLR(opt, start_factor=0.25, total_iters=2)),
    "ConstantLR": Schedule(lambda m, opt, ex: m.ConstantLR(opt, factor=0.5, total_iters=2)),
    "PolynomialLR": Schedule(lambda m, opt, ex: m.PolynomialLR(opt, total_iters=3, power=2.0)),
    "MultiplicativeLR": Schedule(lambda m, opt, ex: m.MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.9)),
    "LambdaLR": Schedule(lambda m, opt, ex: m.LambdaLR(opt, lr_lambda=lambda epoch: 1 / (1 + epoch))),
    "CosineAnnealingWarmRestarts": Schedule(lambda m, opt, ex: m.CosineAnnealingWarmRestarts(opt, T_0=1, T_mult=2)),
    "SequentialLR": Schedule(lambda m, opt, ex: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.5, total_iters=1), m.ExponentialLR(opt, gamma=0.8)], milestones=[1])),
    "ChainedScheduler": Schedule(lambda m, opt, ex: m.ChainedScheduler(
        [m.StepLR(opt, step_size=1, gamma=0.9), m.ExponentialLR(opt, gamma=0.8)])),
    "ReduceLROnPlateau": Schedule(lambda m, opt, ex: m.ReduceLROnPlateau(opt, factor=0.5, patience=0), on_loss=True),
    "OneCycleLR": Schedule(lambda m, opt, ex: m.OneCycleLR(opt, max_lr=ex["lr"],
                                                           total_steps=ex["epochs"] * steps_per_epoch(ex),
                                                           cycle_momentum=cycles_momentum(ex)), per_step=True),
    "CyclicLR": Schedule(lambda m, opt, ex: m.CyclicLR(opt, base_lr=ex["lr"] / 10, max_lr=ex["lr"], step_size_up=2,
                                                       mode="triangular2", cycle_momentum=False), per_step=True),
}


def available_schedules():
    """The schedulers both sides have; none when train_side_by_side cannot step them (no ``schedule`` hook)."""
    if "schedule" not in inspect.signature(train_side_by_side).parameters:
        return []
    scratch_schedulers = importlib.import_module("scratchnet.optim.lr_scheduler")
    return [name for name in SCHEDULES if hasattr(scratch_schedulers, name)
            and hasattr(torch.optim.lr_scheduler, name)]


SCHEDULERS = available_schedules()


class Schedulers:
    """One scheduler on each side, stepped together: pass ``schedule=Schedulers(example)`` to train_side_by_side,
    which calls it with the two optimizers once they are built, then ``advance("step", report)`` after every
    step and ``advance("epoch", report)`` after every epoch (its mean losses in ``report.losses``)."""

    def __init__(self, example):
        self.example, self.spec = example, SCHEDULES[example["scheduler"]]
        self.schedulers = {}

    def __call__(self, scratch_optimizer, torch_optimizer):
        modules = {"scratchnet": importlib.import_module("scratchnet.optim.lr_scheduler"),
                   "torch": torch.optim.lr_scheduler}
        for side, optimizer in (("scratchnet", scratch_optimizer), ("torch", torch_optimizer)):
            if optimizer is not None:
                self.schedulers[side] = self.spec.build(modules[side], optimizer, self.example)
        return self.advance

    def advance(self, event, report=None):
        if (event == "step") != self.spec.per_step:
            return
        for side, scheduler in self.schedulers.items():
            if self.spec.on_loss:
                scheduler.step(report.losses[side][-1])  # each side its own epoch loss
            else:
                scheduler.step()


# -- the transformer family -------------------------------------------------------------------------
# No shared model classifies whole sequences with a TransformerEncoder, so its twins live here:
# the same constructor, the same state_dict keys, the scratchnet one built from scratchnet.nn only.

MASKS = ("none", "causal", "padding")
POOLS = ("mean", "last")


def padding_mask(N, T):
    """key_padding_mask (N, T), True = ignored: sample n of a batch ignores its last n mod T positions
    (sample 0 none; never every key, so each query keeps one)."""
    return np.arange(T)[None, :] >= T - (np.arange(N) % T)[:, None]


class TransformerClassifier(scratchnet.nn.Module):
    r"""A tiny classifier over sequences, NumPy only: x (N, T, input_size) -> logits (N, num_classes).

        h_0 = x W_inᵀ + b_in                         (N, T, d_model),  d_model = nhead * head_dim
        h = TransformerEncoder(h_0)                  num_layers layers, dropout 0, batch_first, masked as ``mask``
        z = mean_t h[:, t]  ("mean")  or  h[:, -1]  ("last")          (N, d_model)
        logits = z W_headᵀ + b_head                  (N, num_classes)

    ``mask``: "none"; "causal" (position t attends to positions <= t); "padding" (``padding_mask``).
    ``seq_len``: the length T of the sequences the fuzzer draws for it (kept with the sizes so that
    ``--replay`` checks it; the layers themselves take any length).
    Backward: dz from the head, spread over the positions (dh[:, t] = dz / T for "mean"; dz at
    the last position, 0 elsewhere, for "last"), then the encoder's and the input projection's.
    state_dict keys: proj.*, encoder.layers.0.self_attn.in_proj_weight, ..., head.* (as the twin's).
    """

    def __init__(self, input_size, num_classes, nhead, head_dim, dim_feedforward, num_layers, activation,
                 norm_first, mask, pool, seq_len, dtype=None):
        super().__init__()
        d_model = nhead * head_dim
        self.mask, self.pool, self.seq_len = mask, pool, seq_len
        self.proj = scratchnet.nn.Linear(input_size, d_model, dtype=dtype)
        layer = scratchnet.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                                      activation=activation, batch_first=True,
                                                      norm_first=norm_first, dtype=dtype)
        self.encoder = scratchnet.nn.TransformerEncoder(layer, num_layers)
        self.head = scratchnet.nn.Linear(d_model, num_classes, dtype=dtype)

    def forward(self, x):
        N, T, _ = x.shape
        causal = self.mask == "causal"
        mask = generate_square_subsequent_mask(T, x.dtype) if causal else None
        h = self.encoder(self.proj(x), mask=mask,
                         src_key_padding_mask=padding_mask(N, T) if self.mask == "padding" else None,
                         is_causal=causal)
        self._h_shape = h.shape
        z = h.mean(axis=1) if self.pool == "mean" else h[:, -1]
        return self.head(z)

    def backward(self, grad_logits):
        dz = self.head.backward(grad_logits)
        N, T, d_model = self._h_shape
        if self.pool == "mean":
            dh = np.broadcast_to(dz[:, None, :] / T, (N, T, d_model)).copy()
        else:
            dh = np.zeros(self._h_shape, dtype=dz.dtype)
            dh[:, -1] = dz
        return self.proj.backward(self.encoder.backward(dh))


class TorchTransformerClassifier(torch.nn.Module):
    """TransformerClassifier's twin in torch, the same equations and state_dict keys."""

    def __init__(self, input_size, num_classes, nhead, head_dim, dim_feedforward, num_layers, activation,
                 norm_first, mask, pool, seq_len, dtype=None):
        super().__init__()
        d_model = nhead * head_dim
        self.mask, self.pool = mask, pool
        self.proj = torch.nn.Linear(input_size, d_model, dtype=dtype)
        layer = torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0, activation=activation,
                                                 batch_first=True, norm_first=norm_first, dtype=dtype)
        # enable_nested_tensor=False: the nested-tensor fast path is other math (parity/tolerances.py)
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(d_model, num_classes, dtype=dtype)

    def forward(self, x):
        N, T, _ = x.shape
        causal = self.mask == "causal"
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=x.dtype) if causal else None
        h = self.encoder(self.proj(x), mask=mask,
                         src_key_padding_mask=torch.tensor(padding_mask(N, T)) if self.mask == "padding" else None,
                         is_causal=causal)
        z = h.mean(dim=1) if self.pool == "mean" else h[:, -1]
        return self.head(z)


@dataclass(frozen=True)
class Architecture:
    """How to fuzz one family of models.

    ``model``: the class name in ``scratchnet.models`` and ``torchnet`` (built with the same
    keyword arguments on both sides, plus ``outputs_key`` for the number of outputs);
    ``config()``: a hypothesis strategy of those keyword arguments; ``sample_shape(config)``:
    the shape of one input sample; ``space``: the range of each keyword argument, when the
    strategy draws from such a table (``--replay`` then refuses arguments outside it);
    ``classes``: (scratchnet class, torch class) when the twins are not found by ``model``'s name;
    ``dtypes``, ``learning_rates`` (per dtype) and ``l2_decay`` (whether Adam, RMSprop and Adagrad
    may take a weight_decay) narrow the training runs drawn for the family, each for a stated reason;
    ``share``: how often the family is drawn, relative to the others (a slow family gets a smaller one);
    ``check(config)``: raises a ValueError for a --replay config that the ranges alone let through but the
    strategy never draws.
    """

    model: str
    config: object
    sample_shape: object
    outputs_key: str = "output_dim"
    space: dict = field(default=None, hash=False)
    classes: tuple = None
    dtypes: tuple = ("float64", "float32")
    share: int = 3
    learning_rates: dict = field(default_factory=lambda: LEARNING_RATES, hash=False)
    l2_decay: bool = True
    check: object = None  # check(config): a ValueError for a --replay config the strategy cannot draw


MLP_SPACE = {
    "input_dim": Ints(1, 8),
    "hidden_dim": IntLists(lengths=Ints(0, 3), values=Ints(1, 16), even_lengths=True),  # hidden layers
    "activation": OneOf(tuple(FUZZ_ACTIVATIONS)),
}
CNN_SPACE = {
    "in_channels": Ints(1, 2),
    "channels": IntLists(lengths=Ints(1, 2), values=Ints(1, 4)),
    "kernel_size": OneOf((3, 1, 2)),
    "image_size": OneOf((4, 5, 8)),  # each conv-pool stage halves it: >= 1 pixel is left
}
SEQUENCE_SPACE = {
    "input_size": Ints(1, 4),
    "hidden_size": Ints(1, 8),
    "cell": OneOf(("lstm", "gru", "rnn")),
    "num_layers": Ints(1, 2),
}
# d_model = nhead * head_dim, so the heads always divide it; dropout is 0 (both sides cannot share its draws).
# head_dim >= 4 keeps d_model >= 4: a LayerNorm over one feature normalises x - mean(x) = 0 (which torch
# leaves at ~1e-15, and an adaptive optimizer turns into a step of ~lr), and over 2 or 3 features its
# output is nearly +-1 whatever the input, with a slope up to 1/sqrt(eps) ~ 316 where two features meet:
# ill-conditioned enough to lift the float64 trajectory's rounding past its tolerance (1e-7).
TRANSFORMER_SPACE = {
    "input_size": Ints(1, 4),
    "nhead": Ints(1, 3),
    "head_dim": Ints(4, 5),
    "dim_feedforward": Ints(1, 8),
    "num_layers": Ints(1, 2),
    "activation": OneOf(("relu", "gelu")),
    "norm_first": OneOf((False, True)),
    "mask": OneOf(MASKS),
    "pool": OneOf(POOLS),
    "seq_len": Ints(1, 5),
}
# What the transformer family's runs leave out (its Architecture says so; --replay is held to it too):
# - the key bias b_k: its gradient is 0 in exact arithmetic (b_k adds q·b_k to all of a query's scores,
#   which the softmax ignores), so each side holds its own rounding noise, ~1e-17. Adam, RMSprop and
#   Adagrad divide a step by sqrt(v) + eps, and an L2 weight_decay feeds the parameter back into its
#   gradient: the noise then grows by ~lr * weight_decay / eps per step until the two sides part by ~lr.
#   So those three take no weight_decay here (AdamW's decoupled decay and SGD's are linear, and stay).
#   Even without it each step moves b_k by ~lr * noise / eps, and more with RMSprop's momentum: at lr
#   0.01 the sides parted by 1.2e-7 within 12 steps (> the 1e-7 allowed), so lr is 0.001 here.
# - float32: a LayerNorm over a few features divides by sqrt(var + eps), up to 1/sqrt(1e-5) ~ 316 when
#   the features nearly agree, which lifts float32's rounding (6e-8) past the module tolerance (1e-5)
#   for draws like d_model 2. float32 transformer parity is checked at fixed sizes in
#   tests/test_transformer.py; the fuzzer trains the family in float64.
# Each of these divides a step by a running size of the gradient (Adamax: its running max), as Adam does.
L2_DECAY_OPTIMIZERS = ("Adam", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax", "Adadelta")
# The outputs each kind of loss takes; the training run's sizes.
OUTPUTS = {"classification": Ints(2, 4), "binary": Ints(1, 1), "signs": Ints(1, 1), "regression": Ints(1, 3),
           "distribution": Ints(2, 4), "counts": Ints(1, 3)}
SAMPLES, EPOCHS, SEEDS = Ints(1, 32), Ints(1, 4), Ints(0, 2**16)


def sequence_length(config):
    """Steps per sample, derived from the sizes (the constructor has no say in it): 1 to 6."""
    return 1 + (config["input_size"] + config["hidden_size"]) % 6


ARCHITECTURES = {
    "mlp": Architecture(model="MLP", config=lambda: strategy_of(MLP_SPACE), space=MLP_SPACE,
                        sample_shape=lambda config: (config["input_dim"],)),
    "cnn": Architecture(model="CNN", config=lambda: strategy_of(CNN_SPACE), space=CNN_SPACE, outputs_key="num_classes",
                        sample_shape=lambda config: (config["in_channels"], config["image_size"], config["image_size"])),
    "rnn": Architecture(model="SequenceClassifier", config=lambda: strategy_of(SEQUENCE_SPACE), space=SEQUENCE_SPACE,
                        outputs_key="num_classes",
                        sample_shape=lambda config: (sequence_length(config), config["input_size"]),
                        learning_rates=RECURRENT_LEARNING_RATES),
    "transformer": Architecture(model="TransformerClassifier", config=lambda: strategy_of(TRANSFORMER_SPACE),
                                space=TRANSFORMER_SPACE, outputs_key="num_classes",
                                classes=(TransformerClassifier, TorchTransformerClassifier),
                                sample_shape=lambda config: (config["seq_len"], config["input_size"]),
                                dtypes=("float64",), learning_rates={"float64": [0.001]}, l2_decay=False,
                                share=1),  # 1 example in 16: one costs ~10 of the others
    "mlp-layers": Architecture(model="Sequential", config=lambda: strategy_of(MLP_LAYERS_SPACE), space=MLP_LAYERS_SPACE,
                               outputs_key="outputs", classes=layer_net_classes(layer_mlp_layers),
                               sample_shape=lambda config: (config["input_dim"],)),
    "cnn-layers": Architecture(model="Sequential", config=cnn_layers_config, space=CNN_LAYERS_SPACE,
                               outputs_key="outputs", classes=layer_net_classes(layer_cnn_layers),
                               check=check_cnn_layers,
                               sample_shape=lambda config: (config["in_channels"],
                                                            *[config["image_size"]] * int(config["conv"][-2]))),
}


def optimizer_options(family, optimizer):
    """The options drawn for ``optimizer`` when training ``family`` (an Architecture): {name: values}."""
    options = dict(OPTIMIZER_OPTIONS.get(optimizer, {}))
    if not family.l2_decay and optimizer in L2_DECAY_OPTIMIZERS:
        options["weight_decay"] = [0.0]
    return options


def example_strategy(architectures=None):
    """A hypothesis strategy of examples: JSON-able dicts, the simplest (what shrinking aims at) first."""
    from hypothesis import strategies as st

    names = sorted(architectures or ARCHITECTURES, key=lambda name: name != "mlp")
    draws = [name for name in names for _ in range(ARCHITECTURES[name].share)]  # each name as often as its share

    @st.composite
    def examples(draw):
        architecture = draw(st.sampled_from(draws))
        family = ARCHITECTURES[architecture]
        config = draw(family.config())
        loss = draw(st.sampled_from(LOSSES))
        outputs = draw(OUTPUTS[TASK_OF_LOSS[loss]].strategy())
        optimizer = draw(st.sampled_from(OPTIMIZERS))
        options = {key: draw(st.sampled_from(values))
                   for key, values in optimizer_options(family, optimizer).items()}
        if not options.get("momentum"):
            options.pop("nesterov", None)  # torch: Nesterov momentum needs a momentum
        if options.get("nesterov"):
            options.pop("dampening", None)  # torch: ... and zero dampening
        dtype = draw(st.sampled_from(family.dtypes))
        samples = draw(SAMPLES.strategy())
        batch_size = draw(st.none() | st.integers(1, samples))
        example = {
            "architecture": architecture, "model": config, "outputs": outputs, "loss": loss,
            "optimizer": optimizer, "optimizer_options": options,
            "lr": draw(st.sampled_from(family.learning_rates[dtype])),
            "dtype": dtype, "samples": samples, "batch_size": batch_size, "epochs": draw(EPOCHS.strategy()),
            "seed": draw(SEEDS.strategy()), "scheduler": draw(st.sampled_from([None, *SCHEDULERS])),
        }
        if options.get("maximize") and example["lr"] > MAXIMIZE_LR:
            options["maximize"] = False
        if uses_batch_statistics(example):  # every batch MIN_NORMALIZED samples or more
            example["samples"] = max(samples, MIN_NORMALIZED)
            if smallest_batch(example["samples"], batch_size) < MIN_NORMALIZED:
                example["batch_size"] = None
        return example

    return examples()


def make_data(example):
    """Random inputs and targets for ``example``: standard normal features, labels or targets as its loss takes."""
    dtype = np.dtype(example["dtype"])
    rng = np.random.default_rng(example["seed"])
    n = example["samples"] + TEST_SAMPLES
    shape = ARCHITECTURES[example["architecture"]].sample_shape(example["model"])
    X = rng.standard_normal((n, *shape)).astype(dtype)
    task, outputs = TASK_OF_LOSS[example["loss"]], example["outputs"]
    if task == "classification":
        y = rng.integers(0, outputs, n)
    elif task == "binary":
        y = rng.integers(0, 2, (n, 1)).astype(dtype)
    elif task == "signs":
        y = rng.choice([-1.0, 1.0], (n, 1)).astype(dtype)
    elif task == "distribution":  # soft targets: rows of a softmax
        logits = rng.standard_normal((n, outputs))
        y = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(dtype)
    elif task == "counts":
        y = rng.poisson(2.0, (n, outputs)).astype(dtype)
    else:
        y = rng.standard_normal((n, outputs)).astype(dtype)
    cut = example["samples"]
    return Split(X[:cut], X[cut:], y[:cut], y[cut:])


def build_models(example):
    """The same architecture on both sides, torch's initial weights (seeded) in the example's dtype."""
    architecture = ARCHITECTURES[example["architecture"]]
    scratch_class, torch_class = architecture.classes or (getattr(scratchnet.models, architecture.model),
                                                          getattr(torchnet, architecture.model))
    kwargs = {**example["model"], architecture.outputs_key: example["outputs"]}
    torch.manual_seed(example["seed"])
    torch_model = torch_class(**kwargs).to(torch_dtype(example["dtype"]))
    scratch_model = scratch_class(**kwargs, dtype=np.dtype(example["dtype"]))
    head = LOSS_SPECS[example["loss"]].head
    if head is not None:  # the loss takes (log-)probabilities: the same layer after the model on both sides
        head_args = {"dim": 1} if head == "LogSoftmax" else {}
        scratch_model = scratchnet.nn.Sequential(scratch_model, scratch_layer(head)(**head_args))
        torch_model = torch.nn.Sequential(torch_model, getattr(torch.nn, head)(**head_args))
    return scratch_model, torch_model  # train_side_by_side copies torch's weights into scratchnet


def predictor(example):
    task, head = TASK_OF_LOSS[example["loss"]], LOSS_SPECS[example["loss"]].head
    if task in ("classification", "distribution"):
        return lambda outputs: outputs.argmax(axis=1)
    if task in ("binary", "signs"):  # a probability (after a Sigmoid) past 1/2, or a logit or score past 0
        threshold = 0.5 if head == "Sigmoid" else 0.0
        return lambda outputs: (outputs[:, 0] > threshold).astype(np.int64)
    if task == "counts":
        return lambda outputs: np.exp(outputs)  # the Poisson rate of a log-rate
    return lambda outputs: outputs


def scorer(example, y_test):
    task = TASK_OF_LOSS[example["loss"]]
    if task in ("regression", "counts"):
        truth = y_test.ravel()
        return lambda predictions: {"mse": metrics.mean_squared_error(truth, predictions.ravel()),
                                    "mae": metrics.mean_absolute_error(truth, predictions.ravel()),
                                    "r2": metrics.r2_score(truth, predictions.ravel())}
    truth = {"binary": lambda: y_test[:, 0].astype(np.int64), "signs": lambda: (y_test[:, 0] > 0).astype(np.int64),
             "distribution": lambda: y_test.argmax(axis=1)}.get(task, lambda: y_test)()
    return lambda predictions: {"accuracy": float((predictions == truth).mean())}


UNSTABLE = "unstable"  # run_example's verdict when torch alone diverges: no parity to check


def run_example(example):
    """Train both sides on ``example``; returns (verdict, what went wrong or "", the TrainingReport or None).

    The verdict is True (parity holds), False (it does not, or scratchnet crashed) or UNSTABLE:
    training diverged and torch, trained alone, diverges too, so the example's hyperparameters
    are at fault, not scratchnet.
    """
    # Divergence is handled below; torch's note on 'same' padding with an even kernel is not news.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings(), \
            torch_fast_path_off():
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        try:
            data = make_data(example)
            scratch_model, torch_model = build_models(example)
            schedule = {} if example.get("scheduler") is None else {"schedule": Schedulers(example)}
            report = train_side_by_side(
                scratch_model, torch_model, data, epochs=example["epochs"], criterion=example["loss"],
                criterion_kwargs=LOSS_SPECS[example["loss"]].kwargs, optimizer=example["optimizer"], lr=example["lr"],
                optimizer_kwargs=example["optimizer_options"], batch_size=example["batch_size"], seed=example["seed"],
                predict=predictor(example), score=scorer(example, data.y_test), **schedule,
            )
        except TrainingDivergedError as error:
            if torch_alone_diverges(example):
                return UNSTABLE, f"{error} (torch alone diverges too)", None
            return False, f"{type(error).__name__}: {error}", None
        except MemoryError:
            raise  # the machine is out of memory: not a finding about scratchnet, and no use going on
        except Exception as error:  # a crash on either side is a finding too
            if out_of_memory(error) is not None:
                raise out_of_memory(error) from None
            return False, f"{type(error).__name__}: {error}", None
    return report.passed, "; ".join(report.failures[:3]), report


def torch_alone_diverges(example):
    """Whether torch's loss becomes non-finite training on ``example`` by itself (same weights, same batches)."""
    data = make_data(example)
    _, model = build_models(example)
    criterion = getattr(torch.nn, example["loss"])(**LOSS_SPECS[example["loss"]].kwargs)
    optimizer = getattr(torch.optim, example["optimizer"])(model.parameters(), lr=example["lr"],
                                                           **example["optimizer_options"])
    advance = Schedulers(example)(None, optimizer) if example.get("scheduler") else lambda event, report=None: None
    losses = {"torch": []}
    X, y = to_torch(data.X_train), to_torch(data.y_train)
    rng = np.random.default_rng(example["seed"])  # as train_side_by_side draws its batch order
    with torch_fast_path_off():
        for _ in range(example["epochs"]):
            total = 0.0
            for index in iterate_batches(len(X), example["batch_size"], shuffle=True, rng=rng):
                _, loss = torchnet.training.train_step(model, criterion, optimizer, X[index], y[index])
                if not math.isfinite(loss):
                    return True
                total += loss * len(y[index])
                advance("step")
            losses["torch"].append(total / len(X))
            advance("epoch", argparse.Namespace(losses=losses))
    return False


def summary(example):
    """One line in the words of ``python -m parity``: ``MLP 3-8-2 Tanh, CrossEntropyLoss, Adam(lr=0.001), ...``."""
    config = example["model"]
    if example["architecture"] == "transformer":
        hidden, activation = [config["nhead"] * config["head_dim"]], (
            f"{config['activation']}, {config['nhead']} heads, {config['num_layers']} layer"
            f"{'s' if config['num_layers'] > 1 else ''}, {'pre' if config['norm_first'] else 'post'}-norm, "
            f"feed-forward {config['dim_feedforward']}, mask {config['mask']}, pool {config['pool']}")
    else:
        hidden = config.get("hidden_dim", config.get("channels", [config.get("hidden_size")]))
        activation = config.get("activation", "")
    if example["architecture"] == "mlp-layers":
        activation += "".join([f", {config['norm']}" if config["norm"] != "none" else "",
                               ", Dropout(p=0)" if config["dropout"] else ""])
    elif example["architecture"] == "cnn-layers":
        activation += (f", {config['conv']} kernel {config['kernel_size']} padding_mode {config['padding_mode']}, "
                       f"{config['pool']}, norm {config['norm']}{', Dropout(p=0)' if config['dropout'] else ''}")
    widths = "-".join(str(w) for w in [*ARCHITECTURES[example["architecture"]].sample_shape(config), *hidden,
                                       example["outputs"]])
    options = ", ".join(f"{key}={value}" for key, value in [("lr", example["lr"]), *example["optimizer_options"].items()])
    batches = "full batch" if example["batch_size"] is None else f"batch size {example['batch_size']}"
    scheduler = f", {example['scheduler']}" if example.get("scheduler") else ""
    return (f"{ARCHITECTURES[example['architecture']].model} {widths} {activation}, {example['loss']}, "
            f"{example['optimizer']}({options}){scheduler}, {example['dtype']}, {example['samples']} samples, "
            f"{batches}, {example['epochs']} epoch{'s' if example['epochs'] > 1 else ''}, seed {example['seed']}")


def replay_command(example):
    return "python -m parity fuzz --replay " + shlex.quote(json.dumps(example, separators=(", ", ": ")))


@dataclass
class FuzzResult:
    examples: int
    passed: int
    seconds: float
    coverage: dict
    unstable: int = 0
    counterexample: dict = None
    failure: str = ""
    shrink_runs: int = 0


def fuzz(examples=DEFAULT_EXAMPLES, seed=0, *, quiet=False, architectures=None):
    """Search ``examples`` random examples for a parity failure; on one, shrink it. Returns a FuzzResult."""
    import random

    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    counts = {"run": 0, "passed": 0, "unstable": 0, "shrink": 0}
    coverage = {key: Counter() for key in ("architecture", "layers", "activation", "norm", "pool", "attention", "loss",
                                           "optimizer", "options", "scheduler", "dtype", "batches/epoch")}
    failed = []
    start = time.perf_counter()
    bar = progress_bar(examples, "Fuzzing", quiet=quiet)

    def fails(example):
        verdict, _, _ = run_example(example)
        failing = verdict is False
        if failed:  # shrinking: hypothesis tries simpler variants of the failing example
            counts["shrink"] += 1
            return failing
        counts["run"] += 1
        counts["passed"] += verdict is True
        counts["unstable"] += verdict == UNSTABLE
        for key, value in describe(example).items():
            for item in value if isinstance(value, tuple) else () if value is None else (value,):
                coverage[key][item] += 1
        if failing:
            failed.append(example)
        bar.set_postfix(passed=f"{counts['passed']}/{counts['run']}", refresh=False)
        bar.update(1)
        return failing

    # Every setting explicit, so a hypothesis profile loaded elsewhere (a test suite's) changes nothing:
    # no example database (nothing written to disk, every run from --seed alone), no deadline.
    search = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    try:
        counterexample = find(example_strategy(architectures), fails, settings=search, random=random.Random(seed))
    except NoSuchExample:
        counterexample = None
    except KeyboardInterrupt:  # Ctrl-C: say how far the search got, and what it had found
        if failed:
            raise KeyboardInterrupt(f"interrupted while shrinking a counter-example, after {counts['shrink']} "
                                    f"shrinking runs; it fails as found: {replay_command(failed[0])}") from None
        raise KeyboardInterrupt(f"interrupted after {counts['run']} of {examples} examples, "
                                f"{counts['passed']} passed, none failed") from None
    finally:
        bar.close()
    result = FuzzResult(counts["run"], counts["passed"], time.perf_counter() - start,
                        {key: dict(counter) for key, counter in coverage.items()}, unstable=counts["unstable"],
                        shrink_runs=counts["shrink"])
    if counterexample is not None:
        result.counterexample = counterexample
        result.failure = run_example(counterexample)[1]
    return result


def describe(example):
    """What an example covers, for the summary's counts (None: not applicable to its family)."""
    config = example["model"]
    layers = {"mlp": lambda: f"mlp {len(config['hidden_dim'])} hidden",
              "cnn": lambda: f"cnn {len(config['channels'])} conv",
              "rnn": lambda: f"{config['cell']} x{config['num_layers']}",
              "transformer": lambda: (f"encoder x{config['num_layers']} "
                                      f"{'pre' if config['norm_first'] else 'post'}-norm"),
              "mlp-layers": lambda: f"mlp-layers {len(config['hidden_dim'])} hidden"
                                    + (" dropout" if config["dropout"] else ""),
              "cnn-layers": lambda: f"{config['conv']} {config['padding_mode']}"
                                    + (" dropout" if config["dropout"] else ""),
              }.get(example["architecture"], lambda: None)()
    attention = (f"{config['nhead']} head{'s' if config['nhead'] > 1 else ''} mask {config['mask']}"
                 if example["architecture"] == "transformer" else None)
    batches = steps_per_epoch(example)
    norm = config.get("norm") if example["architecture"] in ("mlp-layers", "cnn-layers") else None
    # the options an example turns on (each counted apart), by name: momentum, nesterov, maximize, ...
    options = tuple(key for key, value in example["optimizer_options"].items()
                    if value and value != OPTIMIZER_OPTIONS[example["optimizer"]].get(key, [None])[0])
    return {"architecture": example["architecture"], "layers": layers, "activation": config.get("activation"),
            "norm": norm, "pool": config.get("pool") if example["architecture"] == "cnn-layers" else None,
            "attention": attention, "loss": example["loss"], "optimizer": example["optimizer"],
            "options": options or None, "scheduler": example.get("scheduler") or "none",
            "dtype": example["dtype"], "batches/epoch": "1" if batches == 1 else "2-4" if batches <= 4 else "5+"}


def format_result(result):
    unstable = (f", {result.unstable} skipped (training diverges in torch alone too: no parity to check)"
                if result.unstable else "")
    lines = [f"{result.examples} examples run, {result.passed} passed{unstable}, in {result.seconds:.1f} s"]
    for key, counter in result.coverage.items():
        lines.append(f"  {key + ':':<15}" + ", ".join(f"{name} {count}" for name, count in sorted(counter.items())))
    if result.counterexample is None:
        lines.append("PASS")
        return "\n".join(lines)
    lines += [
        "",
        f"Counter-example (shrunk in {result.shrink_runs} more runs):",
        "  " + summary(result.counterexample),
        f"  {result.failure}",
        "Reproduce it with:",
        "  " + replay_command(result.counterexample),
        "FAIL",
    ]
    return "\n".join(lines)


def parse_example(text):
    """An example from --replay's JSON, checked against the space the fuzzer searches: every problem is one
    ValueError naming the key, never a traceback or a parity failure of an example the fuzzer could not draw."""
    try:
        example = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--replay expects an example as JSON, as the fuzzer prints it: {error}") from None
    except RecursionError:
        raise ValueError("--replay expects an example as JSON, as the fuzzer prints it: this one nests too deeply") \
            from None
    required = ("architecture", "model", "outputs", "loss", "optimizer", "optimizer_options", "lr", "dtype",
                "samples", "batch_size", "epochs", "seed")
    optional = ("scheduler",)  # absent: none (examples printed before schedulers were drawn still replay)
    if not isinstance(example, dict) or any(key not in example for key in required):
        raise ValueError(f"--replay example must be a JSON object with the keys {', '.join(required)}")
    unknown = [key for key in example if key not in required + optional]
    if unknown:
        raise ValueError(f"--replay: unknown key {unknown[0]!r}; an example has the keys {', '.join(required)} "
                         f"(and optionally {', '.join(optional)})")
    for key, known in (("architecture", ARCHITECTURES), ("loss", LOSSES), ("optimizer", OPTIMIZERS),
                       ("dtype", ("float32", "float64"))):
        if not isinstance(example[key], str) or example[key] not in known:
            raise ValueError(f"--replay: unknown {key} {example[key]!r}; expected one of {', '.join(known)}")
    family = ARCHITECTURES[example["architecture"]]
    if example["dtype"] not in family.dtypes:
        raise ValueError(f"--replay: the {example['architecture']} family trains in {', '.join(family.dtypes)} only, "
                         f"got dtype {example['dtype']!r}")

    def check(name, value, spec):
        if not spec.holds(value):
            raise ValueError(f"--replay: {name} must be {spec}, got {json.dumps(value)}")

    space = family.space
    config = example["model"]
    if not isinstance(config, dict) or (space is not None and set(config) != set(space)):
        keys = "its constructor's arguments" if space is None else ", ".join(space)
        raise ValueError(f"--replay: model must be a JSON object with the keys {keys}, got {json.dumps(config)}")
    for key, spec in (space or {}).items():
        check(f"model.{key}", config[key], spec)
    if family.check is not None:
        family.check(config)
    check("outputs", example["outputs"], OUTPUTS[TASK_OF_LOSS[example["loss"]]])
    options, allowed = example["optimizer_options"], optimizer_options(family, example["optimizer"])
    if not isinstance(options, dict):
        raise ValueError(f"--replay: optimizer_options must be a JSON object, got {json.dumps(options)}")
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(f"--replay: {example['optimizer']} takes the options {', '.join(allowed) or 'none'}; "
                             f"got {key!r}")
        check(f"optimizer_options.{key}", value, OneOf(tuple(allowed[key])))
    if options.get("nesterov") and not options.get("momentum"):
        raise ValueError("--replay: optimizer_options.nesterov needs a momentum (torch refuses it without one)")
    if options.get("nesterov") and options.get("dampening"):
        raise ValueError("--replay: optimizer_options.nesterov needs zero dampening (torch refuses it otherwise)")
    if options.get("maximize") and example["lr"] > MAXIMIZE_LR:
        raise ValueError(f"--replay: optimizer_options.maximize trains at lr {MAXIMIZE_LR} only (parity/fuzz.py, "
                         f"MAXIMIZE_LR), got lr {example['lr']}")
    check("lr", example["lr"], OneOf(tuple(family.learning_rates[example["dtype"]])))
    check("samples", example["samples"], SAMPLES)
    if example["batch_size"] is not None:
        check("batch_size", example["batch_size"], Ints(1, example["samples"]))
    check("epochs", example["epochs"], EPOCHS)
    check("seed", example["seed"], SEEDS)
    scheduler = example.get("scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or scheduler not in SCHEDULERS):
        raise ValueError(f"--replay: unknown scheduler {scheduler!r}; expected null or one of "
                         f"{', '.join(SCHEDULERS) or 'none (train_side_by_side takes no schedule here)'}")
    if uses_batch_statistics(example) and smallest_batch(example["samples"], example["batch_size"]) < MIN_NORMALIZED:
        raise ValueError(f"--replay: a net with BatchNorm1d trains on batches of {MIN_NORMALIZED} samples or more "
                         f"(fewer are ill-conditioned: parity/fuzz.py, MIN_NORMALIZED); samples "
                         f"{example['samples']} in batches of {example['batch_size']} leave "
                         f"{smallest_batch(example['samples'], example['batch_size'])}")
    return example


def replay(example):
    """Run one example and print its parity summary, as ``python -m parity`` does."""
    from parity.cli import print_summary

    print(f"Replaying: {summary(example)}")
    verdict, failure, report = run_example(example)
    if verdict == UNSTABLE:
        print(f"SKIPPED\n  {failure}")
    elif report is None:
        print(f"FAIL\n  {failure}")
    else:
        print_summary(report)
    return EXIT_FAIL if verdict is False else EXIT_PASS


DESCRIPTION = """\
Differential testing of scratchnet against torch, driven by hypothesis.

Each example is a small random training run: an architecture (MLP, CNN, an RNN, LSTM or GRU
classifier, a Transformer encoder classifier: heads, widths, masks, norm placement, or a Sequential
of layers: any element-wise activation, norms, dropout, Conv1d/Conv2d with every padding mode and
pool) with random sizes; a loss (NLL, KL divergence, Poisson, margin losses, ...); an optimizer
with random options (maximize, nesterov, amsgrad, decoupled weight decay, ...); a learning-rate
scheduler or none; a dtype, a batch size and a few epochs on random data. Both sides train from
the same weights, and the example passes when their logits, losses, gradients and parameters
agree within parity's tolerances at every step. When an example fails, hypothesis shrinks it to
the simplest one that still fails and prints a command that reproduces it:

    python -m parity fuzz --replay '{"architecture": "mlp", ...}'

Exit status: 0 when every example passes, 1 on a counter-example, 2 on bad usage, 130 when
stopped by Ctrl-C (the line says how far the search got).
"""


def build_parser():
    parser = CommandLineParser(prog="python -m parity fuzz", description=DESCRIPTION,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES,
                        help=f"random examples to try (default {DEFAULT_EXAMPLES}: {DEFAULT_DURATION})")
    parser.add_argument("--seed", type=int, default=0, help="seed of hypothesis's search: the same seed, the same "
                        "examples (default 0)")
    parser.add_argument("--replay", metavar="JSON", help="run one example, as a counter-example's command prints it")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (it is shown on stderr only when stderr is a terminal)")
    add_threads_argument(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return parity_exit_status("python -m parity fuzz", lambda: run(args))


def run(args):
    if args.replay is not None:
        example = parse_example(args.replay)
        limit_threads(args.threads)
        return replay(example)
    if args.examples < 1:
        raise ValueError(f"--examples must be a positive integer, got {args.examples}")
    check_seed("--seed", args.seed)
    limit_threads(args.threads)
    print(f"Fuzzing parity: {args.examples} random examples (architectures: {', '.join(ARCHITECTURES)}), "
          f"seed {args.seed}")
    result = fuzz(args.examples, args.seed, quiet=args.quiet)
    print(format_result(result))
    return EXIT_PASS if result.counterexample is None else EXIT_FAIL
