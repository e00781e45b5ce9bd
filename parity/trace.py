"""``python -m parity trace``: one training step of a tiny network, every quantity, NumPy beside torch.

The lecture's "how it works" slides, made executable. A network MLP(3, [4], 2) (sizes are
options) gets the same weights on both sides; one batch of 2 samples goes forward, through
cross-entropy, backward and one Adam step, and every intermediate value is printed with the
equation that computes it:

    x                      the input batch                     (N, D)
    z1 = x W1^T + b1       a1 = relu(z1)                       forward, layer by layer
    logits = a1 W2^T + b2  p = softmax(logits)  L = -mean log p[n, y_n]
    dlogits = (p - onehot(y)) / N                              backward: the chain rule, top down
    dW2 = dlogits^T a1     db2 = sum_n dlogits    da1 = dlogits W2    dz1 = da1 * relu'(z1)  ...
    m, v, the update and the new weights                       one Adam step (t = 1)

``dX`` is short for dL/dX, the gradient of the loss with respect to X. NumPy's values come from
running scratchnet's modules one at a time (each backward returns the gradient for the module
below); torch's from forward hooks that keep every module's output with ``retain_grad()``, so
autograd fills in their gradients.
"""

import argparse
from dataclasses import dataclass

import numpy as np
import torch

import scratchnet
import torchnet
from parity import tolerances
from parity.compare import compare
from parity.transfer import to_numpy, to_torch, torch_dtype, torch_to_scratch
from parity.cli import limit_threads, parity_exit_status
from scratchnet.cli.entry import CommandLineParser, add_threads_argument, check_seed
from scratchnet.cli.experiment import ACTIVATION_NAMES, parse_widths, resolve
from scratchnet.nn import functional as F

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


@dataclass
class TraceRow:
    """One quantity of the step: its name, the equation computing it, and both sides' values."""

    stage: str
    name: str
    equation: str
    scratch: np.ndarray
    torch: np.ndarray
    note: str = ""

    @property
    def max_abs_diff(self):
        return float(np.max(np.abs(self.scratch.astype(np.float64) - self.torch.astype(np.float64)), initial=0.0))


def trace_step(inputs=3, hidden=(4,), classes=2, samples=2, *, seed=11, lr=1e-3, activation="ReLU",
               dtype=np.float64):
    """One training step of MLP(inputs, hidden, classes) with cross-entropy and Adam, on both sides.

    Returns the TraceRows in the order the step computes them. Weights: torch's default init
    after ``torch.manual_seed(seed)``, copied into scratchnet. Data: ``x`` standard normal and
    ``y`` uniform class labels from ``numpy.random.default_rng(seed)``.
    """
    dtype = np.dtype(dtype)
    hidden = list(hidden)
    torch.manual_seed(seed)
    torch_model = torchnet.MLP(inputs, hidden, classes, activation=activation).to(torch_dtype(dtype))
    scratch_model = torch_to_scratch(torch_model, scratchnet.models.MLP(inputs, hidden, classes, activation=activation,
                                                                        dtype=dtype))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, inputs)).astype(dtype)
    y = rng.integers(0, classes, samples)

    scratch = _scratch_step(scratch_model, x, y, lr)
    theirs = _torch_step(torch_model, x, y, lr)
    return _rows(scratch, theirs, x, y, len(hidden) + 1, activation.lower(), lr)


def _scratch_step(model, x, y, lr):
    """scratchnet's step, module by module, keeping every output and every gradient on the way down."""
    layers = list(model.net)
    outputs, h = [], x
    for layer in layers:
        h = layer(h)
        outputs.append(h)
    criterion = scratchnet.nn.CrossEntropyLoss()
    loss = criterion(h, y)
    grads = [None] * len(layers)  # grads[i] = dL/d(output of layer i)
    g = criterion.backward()
    for i in reversed(range(len(layers))):
        grads[i] = g
        g = layers[i].backward(g)
    params = list(model.parameters())
    before = [p.data.copy() for p in params]
    optimizer = scratchnet.optim.Adam(params, lr=lr)
    optimizer.step()
    return dict(outputs=outputs, grads=grads, softmax=F.softmax(h, dim=1), loss=np.asarray(loss),
                params=[(b, p.grad, optimizer.state[p]["exp_avg"], optimizer.state[p]["exp_avg_sq"], p.data)
                        for b, p in zip(before, params, strict=True)])


def _torch_step(model, x, y, lr):
    """torch's step: forward hooks keep each module's output and ask autograd for its gradient."""
    outputs = []

    def keep(module, args, output):
        output.retain_grad()
        outputs.append(output)

    handles = [layer.register_forward_hook(keep) for layer in model.net]
    logits = model(to_torch(x))
    for handle in handles:
        handle.remove()
    loss = torch.nn.functional.cross_entropy(logits, to_torch(y))
    loss.backward()
    params = list(model.parameters())
    before = [to_numpy(p) for p in params]
    optimizer = torch.optim.Adam(params, lr=lr)
    optimizer.step()
    state = optimizer.state
    return dict(outputs=[to_numpy(o) for o in outputs], grads=[to_numpy(o.grad) for o in outputs],
                softmax=to_numpy(torch.softmax(logits.detach(), dim=1)), loss=to_numpy(loss),
                params=[(b, to_numpy(p.grad), to_numpy(state[p]["exp_avg"]), to_numpy(state[p]["exp_avg_sq"]),
                         to_numpy(p)) for b, p in zip(before, params, strict=True)])


def _rows(mine, theirs, x, y, num_layers, act, lr):
    rows = []

    def add(stage, name, equation, index, note="", part=None):
        """A row from ``mine[index]`` and ``theirs[index]`` (``part`` picks inside a list or tuple)."""
        a, b = mine[index], theirs[index]
        if part is not None:
            a, b = _pick(a, part), _pick(b, part)
        rows.append(TraceRow(stage, name, equation, np.asarray(a), np.asarray(b), note))

    def z_name(layer):
        return "logits" if layer == num_layers else f"z{layer}"

    def input_name(layer):
        return "x" if layer == 1 else f"a{layer - 1}"

    forward, backward = "forward", "backward"
    rows.append(TraceRow(forward, "x", "x: the input batch, one sample per row", x, x))
    rows.append(TraceRow(forward, "y", "y: each sample's class label", y, y))
    for layer in range(1, num_layers + 1):
        add(forward, f"W{layer}", f"W{layer}: layer {layer}'s weights (torch's init, copied to NumPy)", "params", part=(2 * layer - 2, 0))
        add(forward, f"b{layer}", f"b{layer}: layer {layer}'s bias", "params", part=(2 * layer - 1, 0))
        add(forward, z_name(layer), f"{z_name(layer)} = {input_name(layer)} W{layer}^T + b{layer}", "outputs",
            part=2 * layer - 2)
        if layer < num_layers:
            add(forward, f"a{layer}", f"a{layer} = {act}(z{layer})", "outputs", part=2 * layer - 1)
    add("loss", "p", "p = softmax(logits): p[n, c] = exp(logits[n, c]) / sum_k exp(logits[n, k])", "softmax")
    add("loss", "L", "L = -(1/N) sum_n log p[n, y_n]   (cross-entropy, mean over the batch)", "loss")
    add(backward, "dlogits", "dlogits = (p - onehot(y)) / N", "grads", part=2 * num_layers - 2)
    for layer in range(num_layers, 0, -1):
        dz = f"d{z_name(layer)}"
        add(backward, f"dW{layer}", f"dW{layer} = {dz}^T {input_name(layer)}", "params", part=(2 * layer - 2, 1))
        add(backward, f"db{layer}", f"db{layer} = sum_n {dz}[n]", "params", part=(2 * layer - 1, 1))
        if layer > 1:
            add(backward, f"da{layer - 1}", f"da{layer - 1} = {dz} W{layer}", "grads", part=2 * layer - 3)
            add(backward, f"dz{layer - 1}", f"dz{layer - 1} = da{layer - 1} * {act}'(z{layer - 1})", "grads",
                part=2 * layer - 4)
    stage = "adam"
    for layer in range(1, num_layers + 1):
        for kind, index in (("W", 2 * layer - 2), ("b", 2 * layer - 1)):
            p = f"{kind}{layer}"
            add(stage, f"m_{p}", f"m_{p} = beta1 m_{p} + (1 - beta1) d{p}   (m starts at 0)", "params",
                part=(index, 2))
            add(stage, f"v_{p}", f"v_{p} = beta2 v_{p} + (1 - beta2) d{p}^2   (v starts at 0)", "params",
                part=(index, 3))
            rows.append(TraceRow(stage, f"update_{p}",
                                 f"update_{p} = -lr m_hat / (sqrt(v_hat) + eps)",
                                 mine["params"][index][4] - mine["params"][index][0],
                                 theirs["params"][index][4] - theirs["params"][index][0],
                                 note=f"m_hat = m_{p} / (1 - beta1^t), v_hat = v_{p} / (1 - beta2^t); at t = 1 this is "
                                      f"about -lr sign(d{p}) = -{lr:g} sign(d{p})"))
            add(stage, f"new_{p}", f"{p} <- {p} + update_{p}   (the new weights)", "params", part=(index, 4))
    return rows


def _pick(value, part):
    for index in part if isinstance(part, tuple) else (part,):
        value = value[index]
    return value


def tolerance_for(dtype):
    """A single step's rounding: the module tolerances (see parity.tolerances.MODULE)."""
    return tolerances.for_dtype(tolerances.MODULE, dtype)


def check(rows, dtype):
    """The rows whose two sides differ by more than the tolerance."""
    tolerance = tolerance_for(dtype)
    return [row for row in rows if not compare(row.name, row.scratch, row.torch, tolerance).passed]


def format_rows(rows, digits=5):
    """The trace as text: per quantity its equation, shape and max |diff|, then NumPy | torch, row by row."""
    titles = {"forward": "Forward pass, layer by layer", "loss": "Softmax and cross-entropy loss",
              "backward": "Backward pass: the chain rule from the loss down (dX means dL/dX)",
              "adam": "One Adam step, t = 1 (torch.optim.Adam's defaults: beta1 0.9, beta2 0.999, eps 1e-8)"}
    lines, stage = [], None

    def cells(array, width):
        matrix = np.atleast_2d(array) if array.ndim < 2 else array
        return ["  ".join(f"{text(value):>{width}}" for value in row) for row in matrix]

    def text(value):
        return f"{value + 0:.{digits}g}"  # + 0 turns -0.0 (a negative gradient times a ReLU mask of 0) into 0

    for row in rows:
        if row.stage != stage:
            stage = row.stage
            lines += ["", f"== {titles[stage]} ==", ""]
        shape = "scalar" if row.scratch.ndim == 0 else "x".join(map(str, row.scratch.shape))
        lines.append(f"{row.equation:<64} {shape:>7}   max |diff| {row.max_abs_diff:.1e}")
        if row.note:
            lines.append(f"    ({row.note})")
        width = max(len(text(value)) for value in np.concatenate([row.scratch.ravel(), row.torch.ravel()]))
        left, right = cells(row.scratch, width), cells(row.torch, width)
        column = max(len(cell) for cell in left + ["NumPy (scratchnet)"])
        lines.append(f"    {'NumPy (scratchnet)':<{column}}  |  torch")
        lines += [f"    {a:<{column}}  |  {b}" for a, b in zip(left, right)]
    return "\n".join(lines)


DESCRIPTION = """\
One training step of a tiny network, every quantity printed with its equation, NumPy beside torch.

An MLP (3 inputs, 4 hidden units, 2 classes by default) gets the same weights on both sides; one
batch of 2 samples goes forward, through softmax and cross-entropy, backward, and one Adam step:

    z1 = x W1^T + b1, a1 = relu(z1), ..., logits     the forward pass, layer by layer
    p = softmax(logits), L = -mean log p[n, y_n]     the loss
    dlogits = (p - onehot(y)) / N, dW2, db2, da1 ... the backward pass, top down (dX means dL/dX)
    m, v, the update and the new weights             one Adam step (t = 1)

Exit status: 0 when every quantity agrees within tolerance, 1 when one does not, 2 on bad usage,
130 when stopped by Ctrl-C.
"""


def build_parser():
    parser = CommandLineParser(prog="python -m parity trace", description=DESCRIPTION,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=3, help="input features (default 3)")
    parser.add_argument("--hidden", default="4", help="hidden layer widths, comma-separated (default 4)")
    parser.add_argument("--classes", type=int, default=2, help="classes, i.e. logits per sample (default 2)")
    parser.add_argument("--samples", type=int, default=2, help="samples in the batch (default 2)")
    parser.add_argument("--activation", default="relu", help="one of: " + ", ".join(ACTIVATION_NAMES) + " (default relu)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3, the lecture's)")
    parser.add_argument("--seed", type=int, default=11,
                        help="seed for the weights and the data (default 11: two classes, and each hidden unit "
                        "active for some samples and inactive for others)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="precision (default float64)")
    parser.add_argument("--digits", type=int, default=5, help="significant digits printed (default 5)")
    add_threads_argument(parser)
    return parser


def options_from_args(args):
    for name in ("inputs", "classes", "samples"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.classes < 2:
        raise ValueError(f"--classes must be at least 2 for cross-entropy, got {args.classes}")
    check_seed("--seed", args.seed)
    if not np.isfinite(args.lr) or args.lr <= 0:
        raise ValueError(f"--lr must be a positive number, got {args.lr}")
    if not 1 <= args.digits <= 17:
        raise ValueError(f"--digits must be between 1 and 17, got {args.digits}")
    hidden = parse_widths(args.hidden)
    return dict(inputs=args.inputs, hidden=hidden, classes=args.classes, samples=args.samples, seed=args.seed,
                lr=args.lr, activation=resolve("activation", args.activation, ACTIVATION_NAMES), dtype=args.dtype)


def main(argv=None):
    args = build_parser().parse_args(argv)
    return parity_exit_status("python -m parity trace", lambda: run(args))


def run(args):
    options = options_from_args(args)
    limit_threads(args.threads)
    rows = trace_step(**options)
    widths = "-".join(str(w) for w in [options["inputs"], *options["hidden"], options["classes"]])
    print(f"One training step of MLP {widths} ({options['activation']}), cross-entropy, Adam(lr={options['lr']:g}), "
          f"{options['samples']} samples, {options['dtype']}, seed {options['seed']}")
    print(format_rows(rows, args.digits))
    failures = check(rows, options["dtype"])
    largest = max(rows, key=lambda row: row.max_abs_diff)
    tolerance = tolerance_for(options["dtype"])
    print()
    print(f"Largest |NumPy - torch| over all {len(rows)} quantities: {largest.max_abs_diff:.1e} ({largest.name}); "
          f"tolerance atol {tolerance.atol:g} + rtol {tolerance.rtol:g}·|torch|")
    if failures:
        print("FAIL: " + ", ".join(row.name for row in failures))
        return EXIT_FAIL
    print("PASS")
    return EXIT_PASS
