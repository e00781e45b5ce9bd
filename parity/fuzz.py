"""``python -m parity fuzz``: differential testing of scratchnet against torch, driven by hypothesis.

Each example is a small random training run: an architecture with random depth, widths and
activation; a task and its loss; an optimizer with random options; a dtype, a batch size, a
few epochs on random data. Both sides train with ``train_side_by_side`` and the example passes
when parity holds (the tolerances of ``parity.tolerances``, unchanged). hypothesis searches
the space, and when an example fails it shrinks it to the simplest one that still fails and
prints a command reproducing it::

    python -m parity fuzz --replay '{"architecture": "mlp", ...}'

Architectures are a registry (``ARCHITECTURES``): each says how to draw its constructor
arguments and the shape of one input sample; the class of the same name is built on both
sides: ``mlp``, ``cnn``, ``rnn`` (SequenceClassifier, with an RNN, LSTM or GRU cell) and
``transformer`` (TransformerClassifier, defined here: a TransformerEncoder with random heads,
widths, depth, activation, norm placement and mask, dropout 0).
The sizes searched are tables of ranges (``Ints``, ``OneOf``, ``IntLists``), read both by the
strategies that draw examples and by ``parse_example``, which refuses a ``--replay`` outside them.

hypothesis is imported inside the functions that use it, so ``import parity`` never needs it.
"""

import argparse
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
from scratchnet.cli.experiment import LOSS_NAMES, OPTIMIZER_NAMES, TASK_LOSSES
from scratchnet.cli.progress import progress_bar
from scratchnet.models import ACTIVATIONS
from scratchnet.nn.transformer import generate_square_subsequent_mask
from scratchnet.training import TrainingDivergedError

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEFAULT_EXAMPLES = 2500  # 57 s on one thread of a 2-core machine (~23 ms an example; a transformer example costs
# ~10 others and is drawn 1 in 10); measured beside the former 3000 without transformers, which took 69 s then
DEFAULT_DURATION = "about a minute on one thread of a 2-core machine"
TEST_SAMPLES = 4

# The losses and optimizers both sides have, by torch name.
LOSSES = [name for name in LOSS_NAMES.values() if hasattr(scratchnet.nn, name) and hasattr(torch.nn, name)]
OPTIMIZERS = [name for name in OPTIMIZER_NAMES.values() if hasattr(scratchnet.optim, name) and hasattr(torch.optim, name)]
FUZZ_ACTIVATIONS = [name for name in ACTIVATIONS if hasattr(torch.nn, name)]
TASK_OF_LOSS = {loss: task for task, losses in TASK_LOSSES.items() for loss in losses if task != "multiclass"}
TASK_OF_LOSS["CrossEntropyLoss"] = "classification"

# Optimizer options drawn per example, the torch default first (hypothesis shrinks towards it).
OPTIMIZER_OPTIONS = {
    "SGD": {"momentum": [0.0, 0.9], "weight_decay": [0.0, 0.01], "nesterov": [False, True]},
    "Adam": {"weight_decay": [0.0, 0.01], "amsgrad": [False, True]},
    "AdamW": {"weight_decay": [0.01, 0.0], "amsgrad": [False, True]},
    "RMSprop": {"momentum": [0.0, 0.9], "centered": [False, True], "weight_decay": [0.0, 0.01]},
    "Adagrad": {"weight_decay": [0.0, 0.01], "lr_decay": [0.0, 0.01]},
}

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
    ``share``: how often the family is drawn, relative to the others (a slow family gets a smaller one).
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
L2_DECAY_OPTIMIZERS = ("Adam", "RMSprop", "Adagrad")
# The outputs each kind of loss takes; the training run's sizes.
OUTPUTS = {"classification": Ints(2, 4), "binary": Ints(1, 1), "regression": Ints(1, 3)}
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
                                share=1),  # 1 example in 10: one costs ~10 of the others
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
        options = {key: draw(st.sampled_from(values)) for key, values in optimizer_options(family, optimizer).items()}
        if not options.get("momentum"):
            options.pop("nesterov", None)  # torch: Nesterov momentum needs a momentum
        dtype = draw(st.sampled_from(family.dtypes))
        samples = draw(SAMPLES.strategy())
        return {
            "architecture": architecture, "model": config, "outputs": outputs, "loss": loss,
            "optimizer": optimizer, "optimizer_options": options,
            "lr": draw(st.sampled_from(family.learning_rates[dtype])),
            "dtype": dtype, "samples": samples,
            "batch_size": draw(st.none() | st.integers(1, samples)), "epochs": draw(EPOCHS.strategy()),
            "seed": draw(SEEDS.strategy()),
        }

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
    return scratch_model, torch_model  # train_side_by_side copies torch's weights into scratchnet


def predictor(example):
    task = TASK_OF_LOSS[example["loss"]]
    if task == "classification":
        return lambda outputs: outputs.argmax(axis=1)
    if task == "binary":
        return lambda outputs: (outputs[:, 0] > 0).astype(np.int64)
    return lambda outputs: outputs


def scorer(example, y_test):
    task = TASK_OF_LOSS[example["loss"]]
    if task == "regression":
        truth = y_test.ravel()
        return lambda predictions: {"mse": metrics.mean_squared_error(truth, predictions.ravel()),
                                    "mae": metrics.mean_absolute_error(truth, predictions.ravel()),
                                    "r2": metrics.r2_score(truth, predictions.ravel())}
    truth = y_test[:, 0].astype(np.int64) if task == "binary" else y_test
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
            report = train_side_by_side(
                scratch_model, torch_model, data, epochs=example["epochs"], criterion=example["loss"],
                optimizer=example["optimizer"], lr=example["lr"], optimizer_kwargs=example["optimizer_options"],
                batch_size=example["batch_size"], seed=example["seed"], predict=predictor(example),
                score=scorer(example, data.y_test),
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
    criterion = getattr(torch.nn, example["loss"])()
    optimizer = getattr(torch.optim, example["optimizer"])(model.parameters(), lr=example["lr"],
                                                           **example["optimizer_options"])
    X, y = to_torch(data.X_train), to_torch(data.y_train)
    rng = np.random.default_rng(example["seed"])  # as train_side_by_side draws its batch order
    with torch_fast_path_off():
        for _ in range(example["epochs"]):
            for index in iterate_batches(len(X), example["batch_size"], shuffle=True, rng=rng):
                _, loss = torchnet.training.train_step(model, criterion, optimizer, X[index], y[index])
                if not math.isfinite(loss):
                    return True
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
    widths = "-".join(str(w) for w in [*ARCHITECTURES[example["architecture"]].sample_shape(config), *hidden,
                                       example["outputs"]])
    options = ", ".join(f"{key}={value}" for key, value in [("lr", example["lr"]), *example["optimizer_options"].items()])
    batches = "full batch" if example["batch_size"] is None else f"batch size {example['batch_size']}"
    return (f"{ARCHITECTURES[example['architecture']].model} {widths} {activation}, {example['loss']}, "
            f"{example['optimizer']}({options}), {example['dtype']}, {example['samples']} samples, {batches}, "
            f"{example['epochs']} epoch{'s' if example['epochs'] > 1 else ''}, seed {example['seed']}")


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
    coverage = {key: Counter() for key in ("architecture", "layers", "activation", "attention", "loss", "optimizer",
                                           "dtype", "batches/epoch")}
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
            if value is not None:
                coverage[key][value] += 1
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
              }.get(example["architecture"], lambda: None)()
    attention = (f"{config['nhead']} head{'s' if config['nhead'] > 1 else ''} mask {config['mask']}"
                 if example["architecture"] == "transformer" else None)
    batches = 1 if example["batch_size"] is None else math.ceil(example["samples"] / example["batch_size"])
    return {"architecture": example["architecture"], "layers": layers, "activation": config.get("activation"),
            "attention": attention,
            "loss": example["loss"], "optimizer": example["optimizer"], "dtype": example["dtype"],
            "batches/epoch": "1" if batches == 1 else "2-4" if batches <= 4 else "5+"}


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
    if not isinstance(example, dict) or any(key not in example for key in required):
        raise ValueError(f"--replay example must be a JSON object with the keys {', '.join(required)}")
    unknown = [key for key in example if key not in required]
    if unknown:
        raise ValueError(f"--replay: unknown key {unknown[0]!r}; an example has the keys {', '.join(required)}")
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
    check("lr", example["lr"], OneOf(tuple(family.learning_rates[example["dtype"]])))
    check("samples", example["samples"], SAMPLES)
    if example["batch_size"] is not None:
        check("batch_size", example["batch_size"], Ints(1, example["samples"]))
    check("epochs", example["epochs"], EPOCHS)
    check("seed", example["seed"], SEEDS)
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
classifier, or a Transformer encoder classifier: heads, widths, masks, norm placement) with random
sizes and activation; a loss; an optimizer with random options; a dtype,
a batch size and a few epochs on random data. Both sides train from the same weights, and the
example passes when their logits, losses, gradients and parameters agree within parity's
tolerances at every step. When an example fails, hypothesis shrinks it to the simplest one that
still fails and prints a command that reproduces it:

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
