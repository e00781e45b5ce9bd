"""An experiment: a dataset, a model, a loss, an optimizer and how to train and score them.

The command lines of scratchnet (NumPy alone) and parity (both sides) share this: the
same options build the same experiment, and parity builds the torch twin from the same
class name and constructor arguments. Everything is named as in torch (``"CrossEntropyLoss"``,
``"Adam"``); the command line also takes short names (``--loss bce``, ``--optimizer sgd``).
"""

import os
from dataclasses import dataclass, field

import numpy as np

from scratchnet import metrics, nn, optim, serialization
from scratchnet.cli.entry import check_input_path, check_seed
from scratchnet.data import DATASETS, TASKS, TOKEN_DATASETS, Split, load_csv, load_dataset
from scratchnet.models import ACTIVATIONS, hidden_widths
from scratchnet.nn import CrossEntropyLoss
from scratchnet.text import exact_match, greedy_answers, make_addition, make_char_lm, make_sort, perplexity
from scratchnet.training import PerTokenLoss

LOSS_NAMES = {
    "cross_entropy": "CrossEntropyLoss",
    "bce_with_logits": "BCEWithLogitsLoss",
    "mse": "MSELoss",
    "l1": "L1Loss",
    "huber": "HuberLoss",
    "smooth_l1": "SmoothL1Loss",
}
LOSS_ALIASES = {"ce": "cross_entropy", "bce": "bce_with_logits", "mae": "l1"}
LOSS_OPTION = {cls: short for short, cls in LOSS_NAMES.items()}  # CrossEntropyLoss -> cross_entropy, for messages
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad",
                   "nadam": "NAdam", "radam": "RAdam", "adamax": "Adamax", "adadelta": "Adadelta", "asgd": "ASGD"}
ACTIVATION_NAMES = {name.lower().replace("leakyrelu", "leaky_relu"): name for name in ACTIVATIONS}

# Which losses fit which task, the first being the default. A binary task takes the lecture's
# two-logit cross-entropy or a single logit with BCEWithLogitsLoss.
TASK_LOSSES = {
    "binary": ("CrossEntropyLoss", "BCEWithLogitsLoss"),
    "multiclass": ("CrossEntropyLoss",),
    "regression": ("MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"),
}
MODELS = ("mlp", "cnn", "rnn", "lstm", "gru", "gpt")
# The constructor arguments a model's data fixes (the rest, such as hidden widths, may differ).
DATA_SIZES = {"MLP": ("input_dim", "output_dim"), "CNN": ("in_channels", "num_classes", "image_size"),
              "SequenceClassifier": ("input_size", "num_classes"), "GPT": ("vocab_size", "block_size")}
# With only --model given: the lecture's data for the MLP, digits as images or as rows for the others,
# which train in mini-batches of 64 (the MLP keeps the lecture's full batch).
DEFAULT_DATASET = {"mlp": "lecture", "cnn": "digits", "rnn": "digits-seq", "lstm": "digits-seq", "gru": "digits-seq",
                   "gpt": "addition"}
DEFAULT_BATCH_SIZE = {"mlp": None, "cnn": 64, "rnn": 64, "lstm": 64, "gru": 64, "gpt": 64}
DEFAULT_HIDDEN = {"mlp": "64,64", "cnn": "16,32", "rnn": "64", "lstm": "64", "gru": "64", "gpt": "64,64"}
DEFAULT_EPOCHS = {"gpt": 5}  # 20 for the others
DEFAULT_OPTIMIZER = {"gpt": "AdamW"}  # Adam for the others
SINGLE_OUTPUT_LOSSES = ("BCEWithLogitsLoss", "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss")
# The named datasets whose samples are the pixels of square images (digits-seq reads the same images row by row).
IMAGE_DATASETS = {"digits": "8x8 images of handwritten digits", "digits-seq": "the same images as 8 rows of 8"}


def available(names, namespace):
    """The short names whose classes this scratchnet has."""
    return {short: cls for short, cls in names.items() if hasattr(namespace, cls)}


def resolve(kind, text, names, aliases=None):
    """A short name, an alias or a torch class name (any case) -> the torch class name."""
    key = text.strip().lower().replace("-", "_")
    key = (aliases or {}).get(key, key)
    if key in names:
        return names[key]
    for cls in names.values():
        if cls.lower() == key:
            return cls
    raise ValueError(f"unknown {kind} {text!r}; expected one of {', '.join(names)}")


def parse_widths(text, option="--hidden"):
    """``"64,64"`` -> [64, 64]: positive integers and commas, nothing else (``64_64``, ``64,,64``, ``""`` fail)."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isascii() and part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(f"{option} must be comma-separated positive integers such as 64,64, got {text!r}")
    return [int(part) for part in parts]


@dataclass
class Experiment:
    dataset: object
    loss: str = "CrossEntropyLoss"
    optimizer: str = "Adam"
    lr: float = 1e-3
    hidden: list = field(default_factory=lambda: [64, 64])
    activation: str = "ReLU"
    batch_size: int = None
    epochs: int = 20
    seed: int = 42
    dtype: np.dtype = np.dtype(np.float64)
    model: str = "mlp"

    @property
    def task(self):
        return self.dataset.task

    @property
    def output_size(self):
        return 1 if self.loss in SINGLE_OUTPUT_LOSSES else self.dataset.num_classes

    def image_side(self):
        """The side of the square one-channel images a CNN sees: 8 for the 64 pixels of a digit."""
        size = int(np.prod(self.dataset.sample_shape))
        side = int(round(size ** 0.5))
        if side * side != size:
            raise ValueError(f"--model cnn needs square images, but {self.dataset.name} has {size} features per sample")
        return side

    def model_spec(self):
        """(class name, constructor kwargs): the same on both sides."""
        if self.model == "mlp":
            hidden = self.hidden[0] if len(self.hidden) == 2 and self.hidden[0] == self.hidden[1] else list(self.hidden)
            return "MLP", dict(input_dim=int(np.prod(self.dataset.sample_shape)), hidden_dim=hidden,
                               output_dim=self.output_size, activation=self.activation)
        if self.model == "cnn":
            return "CNN", dict(in_channels=1, num_classes=self.output_size, channels=list(self.hidden), kernel_size=3,
                               image_size=self.image_side())
        return "SequenceClassifier", dict(input_size=self.dataset.sample_shape[-1], hidden_size=self.hidden[0],
                                          num_classes=self.output_size, cell=self.model, num_layers=len(self.hidden))

    def inputs(self, X):
        """Samples in the layout the model takes: (N, features), (N, 1, H, W) images or (N, T, features)."""
        if self.model == "mlp":
            return X.reshape(len(X), -1)
        if self.model == "cnn":
            side = self.image_side()
            return X.reshape(len(X), 1, side, side)
        return X

    def model_split(self):
        """The dataset's split with inputs laid out for the model and targets in the form the loss takes."""
        X_train, X_test, y_train, y_test = self.dataset.split
        return Split(self.inputs(X_train), self.inputs(X_test), self.targets(y_train), self.targets(y_test))

    def targets(self, y):
        """Targets in the form the loss takes: class labels, or (N, 1) floats for a single output."""
        if self.loss in SINGLE_OUTPUT_LOSSES:
            return y.astype(self.dtype).reshape(-1, 1)
        return y

    def predictions(self, outputs):
        """Class labels (argmax, or logit > 0 for a single logit) or regression values in original units."""
        if self.task == "regression":
            return outputs[:, 0] * self.dataset.target_std + self.dataset.target_mean
        if self.loss == "BCEWithLogitsLoss":
            return (outputs[:, 0] > 0).astype(np.int64)
        return outputs.argmax(axis=1)

    def truth(self, y):
        if self.task == "regression":
            return y * self.dataset.target_std + self.dataset.target_mean
        return y

    def score(self, y, predictions):
        """The task's metrics: accuracy (and a confusion matrix for several classes), or MSE, MAE and R^2."""
        truth = self.truth(y)
        if self.task == "regression":
            return {"mse": metrics.mean_squared_error(truth, predictions),
                    "mae": metrics.mean_absolute_error(truth, predictions),
                    "r2": metrics.r2_score(truth, predictions)}
        scores = {"accuracy": metrics.accuracy(truth, predictions)}
        if self.task == "multiclass":
            scores["confusion_matrix"] = metrics.confusion_matrix(truth, predictions, self.dataset.num_classes).tolist()
        return scores

    def describe(self, spec=None):
        """One line: the data, the model (``spec``, default ``model_spec()``), loss, optimizer and settings."""
        name, kwargs = spec or self.model_spec()
        if name == "MLP":
            widths = "-".join(str(w) for w in [kwargs["input_dim"], *hidden_widths(kwargs["hidden_dim"]),
                                               kwargs["output_dim"]])
            model = f"MLP {widths} {kwargs['activation']}"
        elif name == "CNN":
            model = (f"CNN channels {'-'.join(map(str, kwargs['channels']))} on "
                     f"{kwargs['image_size']}x{kwargs['image_size']} images")
        else:
            model = (f"{kwargs['cell'].upper()} hidden {kwargs['hidden_size']} x {kwargs['num_layers']} layer(s) "
                     f"+ Linear head")
        batches = "full batch" if self.batch_size is None else f"batch size {self.batch_size}"
        return (f"{self.dataset.name} ({self.task}), {model}, {self.loss}, {self.optimizer}(lr={self.lr:g}), "
                f"{self.epochs} epochs, {batches}, {np.dtype(self.dtype).name}, seed {self.seed}")


def format_scores(scores, label="Test"):
    """The lecture's ``Test Accuracy: 84.00%``, or ``Test MSE: ..., MAE: ..., R^2: ...``."""
    if "accuracy" in scores:
        return f"{label} Accuracy: {scores['accuracy'] * 100:.2f}%"
    if "exact_match" in scores:
        return f"{label} exact match: {scores['exact_match'] * 100:.2f}% (every answer token right)"
    if "perplexity" in scores:
        return f"{label} loss: {scores['loss']:.4f} nats per character, perplexity {scores['perplexity']:.2f}"
    return f"{label} MSE: {scores['mse']:.4f}, MAE: {scores['mae']:.4f}, R^2: {metrics.format_r2(scores['r2'])}"


def add_experiment_arguments(parser, default_dtype):
    """The options ``python -m scratchnet`` and ``python -m parity`` share."""
    losses = available(LOSS_NAMES, nn)
    optimizers = available(OPTIMIZER_NAMES, optim)
    parser.add_argument("--task", choices=TASKS, help="inferred from the dataset when omitted")
    parser.add_argument("--dataset", default=None,
                        help="one of: " + "; ".join(f"{name} ({what})" for name, what in DATASETS.items())
                        + ". Default: lecture for the MLP, digits for the CNN, digits-seq for the recurrent models")
    parser.add_argument("--csv", metavar="PATH", help="train on your own CSV file (numeric features, a header row)")
    parser.add_argument("--target", metavar="COLUMN", help="the CSV column to predict (with --csv)")
    parser.add_argument("--test-size", type=float, default=0.2, help="fraction held out for testing (default 0.2)")
    parser.add_argument("--model", choices=MODELS, default="mlp",
                        help="mlp (default); cnn for digits as 8x8 images; rnn, lstm or gru for sequences "
                        "(digits-seq, genre); gpt, a small decoder-only Transformer, for token sequences "
                        "(addition, sort, or --text PATH)")
    parser.add_argument("--hidden", default=None,
                        help="comma-separated widths: an MLP's hidden layers (default 64,64), a CNN's channels per "
                        "conv-pool stage (default 16,32), a recurrent model's layers (equal widths; default 64), "
                        "a GPT's blocks (equal widths, n_embd; default 64,64: 2 blocks of width 64; 32,32 for python -m parity)")
    parser.add_argument("--heads", type=int, default=4, help="attention heads per GPT block (default 4; must divide "
                        "the width)")
    parser.add_argument("--text", metavar="PATH",
                        help="with --model gpt: a character-level language model of a UTF-8 text file, scored by "
                        "test loss and perplexity (the last --test-size of the text is held out)")
    parser.add_argument("--block-size", type=int, default=32,
                        help="with --text: characters of context the GPT reads (default 32)")
    parser.add_argument("--activation", default="relu", help="one of: " + ", ".join(ACTIVATION_NAMES) + " (default relu)")
    aliases = {name: alias for alias, name in LOSS_ALIASES.items()}
    parser.add_argument("--loss", default=None,
                        help="one of: " + ", ".join(f"{name} (or {aliases[name]})" if name in aliases else name
                                                    for name in losses)
                        + " (default: cross_entropy for classification, mse for regression)")
    parser.add_argument("--optimizer", default=None,
                        help="one of: " + ", ".join(optimizers) + " (default adam; adamw for gpt)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default 1e-3; 3e-3 for python -m parity --model gpt)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="mini-batch size (default: full batch for the MLP, as the lecture; 64 for the others; 128 for "
                        "python -m parity --model gpt)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default 20; 5 for gpt, 6 for python -m parity --model gpt)")
    parser.add_argument("--print-every", type=int, default=5, help="print the loss every Nth epoch (default 5)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed for the initial weights and the batch order (default 42; 0 to 2**63 - 1)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default=default_dtype,
                        help=f"precision (default {default_dtype})")
    return parser


def experiment_from_args(args, copies=1):
    """Validate the options and load the data; every problem is a ValueError naming the option.

    ``copies``: how many copies of the model the command trains at once (parity: 3), for the memory check.
    """
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS.get(args.model, 20)
    if args.optimizer is None:
        args.optimizer = DEFAULT_OPTIMIZER.get(args.model, "adam")
    if args.lr is None:
        args.lr = 1e-3
    if args.epochs < 0:
        raise ValueError(f"--epochs must be >= 0, got {args.epochs}")
    if not np.isfinite(args.lr) or args.lr <= 0:
        raise ValueError(f"--lr must be a positive number, got {args.lr}")
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.print_every < 1:
        raise ValueError(f"--print-every must be a positive integer, got {args.print_every}")
    check_seed("--seed", args.seed)
    text = args.hidden if args.hidden is not None else DEFAULT_HIDDEN[args.model]
    hidden = parse_widths(text)
    if args.model in ("rnn", "lstm", "gru") and len(set(hidden)) != 1:
        raise ValueError(f"--hidden for --model {args.model} gives one width per layer and they must be equal "
                         f"(torch's num_layers), got {text!r}")
    activation = resolve("activation", args.activation, ACTIVATION_NAMES)
    optimizer = resolve("optimizer", args.optimizer, available(OPTIMIZER_NAMES, optim))
    dtype = np.dtype(args.dtype)
    if args.model == "gpt":
        return gpt_experiment_from_args(args, hidden, optimizer, dtype, copies)
    if args.text:
        raise ValueError("--text trains a character-level language model: add --model gpt")

    if args.csv and args.dataset:
        raise ValueError("give either --dataset or --csv, not both")
    if args.csv:
        if not args.target:
            raise ValueError("--csv needs --target COLUMN naming the column to predict")
        dataset = load_csv(args.csv, args.target, task=args.task, test_size=args.test_size, dtype=dtype)
    else:
        if args.target:
            raise ValueError("--target is for --csv files")
        dataset = load_dataset(args.dataset or DEFAULT_DATASET[args.model], test_size=args.test_size, dtype=dtype)
        dataset = with_task(dataset, args.task)

    losses = available(LOSS_NAMES, nn)
    loss = TASK_LOSSES[dataset.task][0] if args.loss is None else resolve("loss", args.loss, losses, LOSS_ALIASES)
    if loss not in TASK_LOSSES[dataset.task]:
        raise ValueError(f"--loss {args.loss} does not fit a {dataset.task} task; "
                         f"use one of {', '.join(LOSS_OPTION[name] for name in TASK_LOSSES[dataset.task])}")
    if args.model != "mlp":
        if loss != "CrossEntropyLoss":
            raise ValueError(f"--model {args.model} is a classifier trained with cross_entropy; "
                             f"{dataset.name} is a {dataset.task} task with --loss {LOSS_OPTION[loss]}")
        if args.model == "cnn" and not args.csv and dataset.name not in IMAGE_DATASETS:
            images = "; ".join(f"{name} ({what})" for name, what in IMAGE_DATASETS.items())
            raise ValueError(f"--model cnn needs images, but {dataset.name} holds "
                             f"{int(np.prod(dataset.sample_shape))} features per sample, not images; datasets of "
                             f"images: {images}; or a --csv file whose features are the pixels of square images")
        if args.model != "cnn" and len(dataset.sample_shape) != 2:
            raise ValueError(f"--model {args.model} needs sequences (N, steps, features) such as digits-seq or genre; "
                             f"{dataset.name} has samples of shape {dataset.sample_shape}")
    batch_size = DEFAULT_BATCH_SIZE[args.model] if args.batch_size is None else args.batch_size
    experiment = Experiment(dataset=dataset, loss=loss, optimizer=optimizer, lr=args.lr, hidden=hidden,
                            activation=activation, batch_size=batch_size, epochs=args.epochs, seed=args.seed,
                            dtype=dtype, model=args.model)
    check_memory(experiment, copies)  # model_spec() fails here for a CNN on non-square data, before any training
    return experiment


def parameter_count(name, kwargs):
    """How many numbers ``scratchnet.models.<name>(**kwargs)`` holds, from its sizes alone (nothing is allocated)."""
    if name == "MLP":
        widths = [kwargs["input_dim"], *hidden_widths(kwargs["hidden_dim"]), kwargs["output_dim"]]
        return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:]))  # W and b
    if name == "CNN":
        channels, k = [kwargs["in_channels"], *kwargs["channels"]], kwargs["kernel_size"]
        final = kwargs["image_size"] // 2 ** len(kwargs["channels"])
        convs = sum((c_in * k * k + 1) * c_out for c_in, c_out in zip(channels[:-1], channels[1:]))
        return convs + (channels[-1] * final * final + 1) * kwargs["num_classes"]
    if name == "GPT":
        C, V = kwargs["n_embd"], kwargs["vocab_size"]
        block = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (4 * C * C + 4 * C) + (4 * C * C + C)
        return (V + kwargs["block_size"]) * C + kwargs["n_layer"] * block + 2 * C + C * V  # wte, wpe, h, ln_f, head
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kwargs["cell"]] * kwargs["hidden_size"]  # rows of W_ih, W_hh, b_ih, b_hh
    inputs = [kwargs["input_size"]] + [kwargs["hidden_size"]] * (kwargs["num_layers"] - 1)
    recurrent = sum(gates * (size + kwargs["hidden_size"] + 2) for size in inputs)
    return recurrent + (kwargs["hidden_size"] + 1) * kwargs["num_classes"]


def available_memory():
    """Bytes of memory available now (Linux's MemAvailable), else the machine's physical memory, else None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def values_per_sample(name, kwargs, sample_shape):
    """How many numbers the forward pass keeps for backward, per sample (an estimate: each layer's outputs)."""
    if name == "MLP":
        return 2 * sum(hidden_widths(kwargs["hidden_dim"])) + kwargs["output_dim"]  # z and a per hidden layer
    if name == "CNN":
        side, values = kwargs["image_size"], kwargs["num_classes"]
        for channels in kwargs["channels"]:
            values += 2 * channels * side * side + channels * (side // 2) ** 2  # convolution, ReLU, pooling
            side //= 2
        return values
    if name == "GPT":  # per position and block: ~16 values of width C and the attention's T scores per head
        T, C = sample_shape[0], kwargs["n_embd"]
        return T * (kwargs["n_layer"] * (16 * C + kwargs["n_head"] * T) + 2 * kwargs["vocab_size"])
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kwargs["cell"]]
    steps = sample_shape[0]
    return steps * kwargs["num_layers"] * (gates + 2) * kwargs["hidden_size"] + kwargs["num_classes"]


def check_memory(experiment, copies=1):
    """Refuse, before allocating anything, a model that cannot train in the memory this machine has free.

    The estimate, in the experiment's dtype, per copy of the model: its weights, gradients and up to two
    optimizer states (4 x parameters), and the values a forward pass keeps for the largest batch, with their
    gradients (2 x rows x values per sample). It is low rather than high: training takes somewhat more.
    """
    name, kwargs = experiment.model_spec()
    parameters = parameter_count(name, kwargs)
    X_train, X_test = experiment.model_split()[:2]
    rows = max(min(experiment.batch_size or len(X_train), len(X_train)), len(X_test))
    values = values_per_sample(name, kwargs, X_train.shape[1:] if name == "GPT" else experiment.dataset.sample_shape)
    dtype = np.dtype(experiment.dtype)
    needed = dtype.itemsize * copies * (4 * parameters + 2 * rows * values)
    available = available_memory()
    if available is not None and needed > available:
        sides = f", {copies} copies at once" if copies > 1 else ""
        raise ValueError(f"the model is too large for this machine: a {name} of {parameters:,} parameters, trained "
                         f"on batches of {rows} rows in {dtype.name}{sides}, needs about {format_bytes(needed)}, "
                         f"against {format_bytes(available)} of memory available; try a smaller --hidden or "
                         f"--batch-size")


def format_bytes(count):
    """``1.5 GiB``: a byte count in binary units."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if count < 1024 or unit == "EiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024


def with_task(dataset, task):
    """Check an explicit --task against the dataset's own: a class-labelled set cannot be regressed, etc."""
    if task is None or task == dataset.task:
        return dataset
    if dataset.task == "regression":
        raise ValueError(f"dataset {dataset.name} has a continuous target; --task {task} needs class labels")
    if task == "regression":
        raise ValueError(f"dataset {dataset.name} holds class labels; --task regression needs a continuous target")
    if task == "binary" and dataset.num_classes != 2:
        raise ValueError(f"dataset {dataset.name} has {dataset.num_classes} classes; --task binary needs 2")
    dataset.task = task  # a two-class set may be treated as multi-class (same labels, confusion matrix too)
    return dataset


def load_model_for(experiment, path):
    """A saved model, checked to hold finite weights and to fit the experiment's data, cast to its dtype."""
    model = serialization.load(path)
    for key, value in model.state_dict().items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{path} holds NaN or infinite weights ({key!r}), so it can be neither trained nor "
                             f"evaluated; train a new model instead (without --load)")
    name, kwargs = experiment.model_spec()
    config = model.config()
    expected = {key: kwargs[key] for key in DATA_SIZES[name]}
    if type(model).__name__ != name or any(config.get(key) != value for key, value in expected.items()):
        raise ValueError(f"{path} holds a {type(model).__name__} with {config}, which does not fit "
                         f"{experiment.dataset.name} (it needs a {name} with {expected}); "
                         f"the file implies {options_for(type(model).__name__, config)}")
    return model.to(experiment.dtype)


def options_for(name, config):
    """What a saved model's header implies: ``--model cnn: its CNN takes 8x8 images of 1 channel(s) and 10 classes``."""
    if name == "GPT":
        return (f"--model gpt: its GPT reads {config['block_size']} tokens of a vocabulary of {config['vocab_size']} "
                f"(--dataset addition: 8 of 12, sort: 12 of 12; --text: --block-size and the text's characters)")
    if name == "CNN":
        side = config["image_size"]
        option, data = "cnn", f"{side}x{side} images of {config['in_channels']} channel(s)"
    elif name == "SequenceClassifier":
        option, data = config["cell"], f"sequences of {config['input_size']} features per step"
    else:
        option, data = "mlp", f"{config.get('input_dim')} features per sample"
    outputs = config.get("output_dim", config.get("num_classes"))
    if outputs == 1:
        return (f"--model {option}: its {name} takes {data} and gives one output (--loss bce_with_logits for a "
                f"binary task, or a regression loss)")
    return f"--model {option}: its {name} takes {data} and {outputs} classes"


def check_gpt_options(args, hidden):
    """The options that make no sense for a GPT, refused with the ones that do."""
    if len(set(hidden)) != 1:
        raise ValueError(f"--hidden for --model gpt gives one width per block and they must be equal (n_embd), "
                         f"got {args.hidden!r}")
    if args.heads < 1 or hidden[0] % args.heads:
        raise ValueError(f"--heads must be a positive integer dividing the width {hidden[0]}, got {args.heads}")
    if args.csv or args.target:
        raise ValueError("--model gpt trains on token sequences: --dataset addition, --dataset sort or --text PATH, "
                         "not --csv")
    if args.text and args.dataset:
        raise ValueError("give either --dataset or --text, not both")
    if args.dataset and args.dataset not in TOKEN_DATASETS:
        raise ValueError(f"--model gpt trains on token sequences: --dataset {' or '.join(TOKEN_DATASETS)}, or "
                         f"--text PATH (any UTF-8 text file); {args.dataset} is not one "
                         f"(use --model mlp, cnn, rnn, lstm or gru for it)")
    if args.loss is not None and resolve("loss", args.loss, available(LOSS_NAMES, nn), LOSS_ALIASES) != \
            "CrossEntropyLoss":
        raise ValueError("--model gpt predicts the next token with cross_entropy; other losses do not apply")
    if args.task is not None:
        raise ValueError("--task does not apply to --model gpt (its task is next-token prediction)")
    if not 0 < args.test_size < 1:
        raise ValueError(f"--test-size must be between 0 and 1, got {args.test_size}")
    if args.block_size < 1:
        raise ValueError(f"--block-size must be a positive integer, got {args.block_size}")


def read_text(path):
    """A UTF-8 text file's contents; a missing, empty or non-UTF-8 file is a ValueError naming it."""
    check_input_path("--text", path)
    if not os.path.exists(path):
        raise ValueError(f"--text {path}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"--text {path} is a directory; give a text file")
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.strip():
        raise ValueError(f"--text {path} is empty; give a text file of at least a few thousand characters")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"--text {path} is not UTF-8 text (byte {error.start} is {data[error.start]:#04x}); "
                         f"save it as UTF-8 first") from None


def load_token_dataset(args):
    """--dataset addition / sort, or --text PATH: a ``scratchnet.text.TokenDataset``."""
    if args.text:
        text = read_text(args.text)
        try:
            return make_char_lm(text, block_size=args.block_size, test_size=args.test_size,
                                name=os.path.basename(args.text))
        except ValueError as error:
            raise ValueError(f"--text {args.text}: {error}") from None
    name = args.dataset or DEFAULT_DATASET["gpt"]
    if name == "addition":
        return make_addition(2, test_size=args.test_size, seed=0)
    return make_sort(6, n_samples=5000, test_size=args.test_size, seed=0)


def gpt_experiment_from_args(args, hidden, optimizer, dtype, copies):
    check_gpt_options(args, hidden)
    batch_size = DEFAULT_BATCH_SIZE["gpt"] if args.batch_size is None else args.batch_size
    experiment = GPTExperiment(dataset=load_token_dataset(args), n_layer=len(hidden), n_head=args.heads,
                               n_embd=hidden[0], optimizer=optimizer, lr=args.lr, batch_size=batch_size,
                               epochs=args.epochs, seed=args.seed, dtype=dtype)
    check_memory(experiment, copies)
    return experiment


@dataclass
class GPTExperiment:
    """A GPT on a ``scratchnet.text.TokenDataset``: next-token prediction on every position.

    The loss is ``PerTokenLoss(CrossEntropyLoss())``: logits (B, T, V) against targets (B, T), each
    position a sample (-100 where it is not scored). An exact-match task (addition, sort) is scored
    by greedy-decoding the held-out prompts; a language model (--text) by its test loss and perplexity.
    """

    dataset: object
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    optimizer: str = "AdamW"
    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 5
    seed: int = 42
    dtype: np.dtype = np.dtype(np.float32)
    model: str = "gpt"
    loss: str = "CrossEntropyLoss"

    @property
    def task(self):
        return "language model" if self.dataset.prompt_length is None else "exact match"

    def model_spec(self):
        return "GPT", dict(vocab_size=len(self.dataset.vocab), block_size=self.dataset.block_size,
                           n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd, dropout=0.0)

    def model_split(self):
        data = self.dataset
        return Split(data.X_train, data.X_test, data.y_train, data.y_test)

    def criterion(self):
        return PerTokenLoss(CrossEntropyLoss())

    def answers(self, generate):
        """The greedy answers to the test prompts, (N_test, answer_length); ``generate(idx, n)`` on int64 arrays."""
        return greedy_answers(generate, self.dataset.test_prompts(), self.dataset.answer_length)

    def score_answers(self, predicted):
        return {"exact_match": exact_match(predicted, self.dataset.test_answers())}

    def score_outputs(self, logits):
        """The test loss (mean cross-entropy per scored token, in nats) and its perplexity."""
        loss = float(self.criterion()(logits, self.dataset.y_test))
        return {"loss": loss, "perplexity": perplexity(loss)}

    def sample(self, generate, length=200):
        """(prompt, continuation): the first characters of the held-out text and ``length`` greedy ones after them."""
        prompt = self.dataset.X_test[:1, :min(16, self.dataset.block_size)]
        tokens = generate(np.ascontiguousarray(prompt), length)[0]
        vocab = self.dataset.vocab
        return vocab.decode(tokens[:prompt.shape[1]]), vocab.decode(tokens[prompt.shape[1]:])

    def describe(self, spec=None):
        name, kwargs = spec or self.model_spec()
        data = self.dataset
        return (f"{data.name} ({self.task}, {len(data.X_train)} training sequences, {len(data.X_test)} held out), "
                f"GPT {kwargs['n_layer']} block(s) x {kwargs['n_head']} heads, n_embd {kwargs['n_embd']}, "
                f"block_size {kwargs['block_size']}, vocabulary {kwargs['vocab_size']}, CrossEntropyLoss per token, "
                f"{self.optimizer}(lr={self.lr:g}), {self.epochs} epochs, batch size {self.batch_size}, "
                f"{np.dtype(self.dtype).name}, seed {self.seed}")
