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
sides: ``mlp``, ``cnn`` and ``rnn`` (SequenceClassifier, with an RNN, LSTM or GRU cell).

hypothesis is imported inside the functions that use it, so ``import parity`` never needs it.
"""

import argparse
import json
import math
import shlex
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

import scratchnet
import torchnet
import torchnet.training
from parity.training import train_side_by_side
from parity.transfer import to_torch, torch_dtype
from scratchnet import metrics
from scratchnet.data import Split, iterate_batches
from scratchnet.cli.experiment import LOSS_NAMES, OPTIMIZER_NAMES, TASK_LOSSES
from scratchnet.models import ACTIVATIONS
from scratchnet.cli.progress import progress_bar
from scratchnet.training import TrainingDivergedError

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEFAULT_EXAMPLES = 3000  # about 45 s on a 2-core machine (~15 ms an example), plus start-up
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


@dataclass(frozen=True)
class Architecture:
    """How to fuzz one family of models.

    ``model``: the class name in ``scratchnet.models`` and ``torchnet`` (built with the same
    keyword arguments on both sides, plus ``outputs_key`` for the number of outputs);
    ``config()``: a hypothesis strategy of those keyword arguments; ``sample_shape(config)``:
    the shape of one input sample.
    """

    model: str
    config: object
    sample_shape: object
    outputs_key: str = "output_dim"


def mlp_config():
    from hypothesis import strategies as st

    depth = st.integers(0, 3)  # hidden layers, equally often (a plain list strategy favours short lists)
    return st.fixed_dictionaries({
        "input_dim": st.integers(1, 8),
        "hidden_dim": depth.flatmap(lambda d: st.lists(st.integers(1, 16), min_size=d, max_size=d)),
        "activation": st.sampled_from(FUZZ_ACTIVATIONS),
    })


def cnn_config():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "in_channels": st.integers(1, 2),
        "channels": st.lists(st.integers(1, 4), min_size=1, max_size=2),
        "kernel_size": st.sampled_from([3, 1, 2]),
        "image_size": st.sampled_from([4, 5, 8]),  # each conv-pool stage halves it: >= 1 pixel is left
    })


def sequence_config():
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "input_size": st.integers(1, 4),
        "hidden_size": st.integers(1, 8),
        "cell": st.sampled_from(["lstm", "gru", "rnn"]),
        "num_layers": st.integers(1, 2),
    })


def sequence_length(config):
    """Steps per sample, derived from the sizes (the constructor has no say in it): 1 to 6."""
    return 1 + (config["input_size"] + config["hidden_size"]) % 6


ARCHITECTURES = {
    "mlp": Architecture(model="MLP", config=mlp_config, sample_shape=lambda config: (config["input_dim"],)),
    "cnn": Architecture(model="CNN", config=cnn_config, outputs_key="num_classes",
                        sample_shape=lambda config: (config["in_channels"], config["image_size"], config["image_size"])),
    "rnn": Architecture(model="SequenceClassifier", config=sequence_config, outputs_key="num_classes",
                        sample_shape=lambda config: (sequence_length(config), config["input_size"])),
}


def example_strategy(architectures=None):
    """A hypothesis strategy of examples: JSON-able dicts, the simplest (what shrinking aims at) first."""
    from hypothesis import strategies as st

    names = sorted(architectures or ARCHITECTURES, key=lambda name: name != "mlp")

    @st.composite
    def examples(draw):
        architecture = draw(st.sampled_from(names))
        config = draw(ARCHITECTURES[architecture].config())
        loss = draw(st.sampled_from(LOSSES))
        outputs = {"classification": draw(st.integers(2, 4)), "binary": 1}.get(TASK_OF_LOSS[loss])
        if outputs is None:  # regression: one or more outputs
            outputs = draw(st.integers(1, 3))
        optimizer = draw(st.sampled_from(OPTIMIZERS))
        options = {key: draw(st.sampled_from(values)) for key, values in OPTIMIZER_OPTIONS.get(optimizer, {}).items()}
        if not options.get("momentum"):
            options.pop("nesterov", None)  # torch: Nesterov momentum needs a momentum
        dtype = draw(st.sampled_from(["float64", "float32"]))
        samples = draw(st.integers(1, 32))
        return {
            "architecture": architecture, "model": config, "outputs": outputs, "loss": loss,
            "optimizer": optimizer, "optimizer_options": options, "lr": draw(st.sampled_from(LEARNING_RATES[dtype])),
            "dtype": dtype, "samples": samples,
            "batch_size": draw(st.none() | st.integers(1, samples)), "epochs": draw(st.integers(1, 4)),
            "seed": draw(st.integers(0, 2**16)),
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
    kwargs = {**example["model"], architecture.outputs_key: example["outputs"]}
    torch.manual_seed(example["seed"])
    torch_model = getattr(torchnet, architecture.model)(**kwargs).to(torch_dtype(example["dtype"]))
    scratch_model = getattr(scratchnet.models, architecture.model)(**kwargs, dtype=np.dtype(example["dtype"]))
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
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
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
        except Exception as error:  # a crash on either side is a finding too
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
    for _ in range(example["epochs"]):
        for index in iterate_batches(len(X), example["batch_size"], shuffle=True, rng=rng):
            _, loss = torchnet.training.train_step(model, criterion, optimizer, X[index], y[index])
            if not math.isfinite(loss):
                return True
    return False


def summary(example):
    """One line in the words of ``python -m parity``: ``MLP 3-8-2 Tanh, CrossEntropyLoss, Adam(lr=0.001), ...``."""
    config = example["model"]
    widths = "-".join(str(w) for w in [*ARCHITECTURES[example["architecture"]].sample_shape(config),
                                       *config.get("hidden_dim", config.get("channels", [config.get("hidden_size")])),
                                       example["outputs"]])
    options = ", ".join(f"{key}={value}" for key, value in [("lr", example["lr"]), *example["optimizer_options"].items()])
    batches = "full batch" if example["batch_size"] is None else f"batch size {example['batch_size']}"
    return (f"{ARCHITECTURES[example['architecture']].model} {widths} {config.get('activation', '')}, {example['loss']}, "
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
    coverage = {key: Counter() for key in ("architecture", "layers", "activation", "loss", "optimizer", "dtype",
                                           "batches/epoch")}
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
        bar.update(1, passed=f"{counts['passed']}/{counts['run']}")
        return failing

    # Every setting explicit, so a hypothesis profile loaded elsewhere (a test suite's) changes nothing:
    # no example database (nothing written to disk, every run from --seed alone), no deadline.
    search = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    try:
        counterexample = find(example_strategy(architectures), fails, settings=search, random=random.Random(seed))
    except NoSuchExample:
        counterexample = None
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
              "rnn": lambda: f"{config['cell']} x{config['num_layers']}"}.get(example["architecture"], lambda: None)()
    batches = 1 if example["batch_size"] is None else math.ceil(example["samples"] / example["batch_size"])
    return {"architecture": example["architecture"], "layers": layers, "activation": config.get("activation"),
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
    """An example from --replay's JSON, checked enough to give a clear error instead of a traceback."""
    try:
        example = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--replay expects an example as JSON, as the fuzzer prints it: {error}") from None
    required = ("architecture", "model", "outputs", "loss", "optimizer", "optimizer_options", "lr", "dtype",
                "samples", "batch_size", "epochs", "seed")
    if not isinstance(example, dict) or any(key not in example for key in required):
        raise ValueError(f"--replay example must be a JSON object with the keys {', '.join(required)}")
    for key, known in (("architecture", ARCHITECTURES), ("loss", LOSSES), ("optimizer", OPTIMIZERS),
                       ("dtype", ("float32", "float64"))):
        if example[key] not in known:
            raise ValueError(f"--replay: unknown {key} {example[key]!r}; expected one of {', '.join(known)}")
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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m parity fuzz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES,
                        help=f"random examples to try (default {DEFAULT_EXAMPLES}, under a minute on 2 cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of hypothesis's search: the same seed, the same "
                        "examples (default 0)")
    parser.add_argument("--replay", metavar="JSON", help="run one example, as a counter-example's command prints it")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (it is shown on stderr only when stderr is a terminal)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.replay is not None:
            return replay(parse_example(args.replay))
        if args.examples < 1:
            raise ValueError(f"--examples must be a positive integer, got {args.examples}")
        if args.seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    except ValueError as error:
        print(f"python -m parity fuzz: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Fuzzing parity: {args.examples} random examples (architectures: {', '.join(ARCHITECTURES)}), "
          f"seed {args.seed}")
    result = fuzz(args.examples, args.seed, quiet=args.quiet)
    print(format_result(result))
    return EXIT_PASS if result.counterexample is None else EXIT_FAIL
