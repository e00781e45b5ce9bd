"""Which names of ``torch.nn`` and ``torch.optim`` scratchnet has, as the README's table, generated from both packages.

    python -m parity coverage     print the table (markdown)

The README holds this table between two markers, and a test checks that it equals what this
prints, so the table cannot go stale: adding a layer to ``scratchnet.nn`` changes it.
"""

import inspect
import sys

import torch

import scratchnet
import scratchnet.nn.init  # noqa: F401  (a submodule, as torch.nn.init)

# torch.nn.modules files, in the order the table lists them, with the heading each row gets.
NN_FILES = {
    "linear": "layers: linear", "conv": "layers: convolution", "pooling": "layers: pooling",
    "padding": "layers: padding", "batchnorm": "layers: batch norm", "instancenorm": "layers: instance norm",
    "normalization": "layers: other norms", "dropout": "layers: dropout", "rnn": "layers: recurrent",
    "transformer": "layers: transformer", "sparse": "layers: embedding", "flatten": "layers: shape",
    "container": "containers", "activation": "activations", "loss": "losses", "distance": "distances",
    "upsampling": "upsampling", "pixelshuffle": "pixel shuffle", "channelshuffle": "channel shuffle",
    "fold": "fold", "adaptive": "adaptive softmax",
}
# Names in torch.nn.modules.__all__ that are no layer a user builds: base classes (scratchnet.nn.Module is
# scratchnet's own), an options record, and a deprecated alias (NLLLoss2d is NLLLoss).
NOT_LAYERS = {"Module", "Container", "RNNBase", "RNNCellBase", "LinearCrossEntropyOptions", "NLLLoss2d"}


def nn_rows():
    """(heading, torch names) per torch.nn.modules file; a name scratchnet.nn also has counts as had."""
    files = {}
    for name in torch.nn.modules.__all__:
        if name in NOT_LAYERS:
            continue
        file = getattr(torch.nn, name).__module__.rsplit(".", 1)[-1]
        files.setdefault(file, []).append(name)
    unknown = sorted(set(files) - set(NN_FILES))
    if unknown:
        raise RuntimeError(f"torch.nn has modules in files this table does not know: {unknown}; add them to NN_FILES")
    return [(f"`torch.nn` {NN_FILES[file]}", sorted(files[file])) for file in NN_FILES if file in files]


def optim_rows():
    optimizers = sorted(name for name, value in vars(torch.optim).items()
                        if inspect.isclass(value) and issubclass(value, torch.optim.Optimizer)
                        and value is not torch.optim.Optimizer)
    schedulers = sorted(name for name, value in vars(torch.optim.lr_scheduler).items()
                        if inspect.isclass(value) and not name.startswith("_") and name != "LRScheduler"
                        and value.__module__ == "torch.optim.lr_scheduler" and name.endswith(("LR", "Scheduler",
                                                                                                "WarmRestarts", "Plateau")))
    return [("`torch.optim`", optimizers), ("`torch.optim.lr_scheduler`", schedulers)]


def function_rows():
    init = sorted(name for name, value in vars(torch.nn.init).items()
                  if callable(value) and getattr(value, "__module__", "") == "torch.nn.init"
                  and (name.endswith("_") and not name.startswith("_") or name == "calculate_gain"))
    utils = sorted(name for name in torch.nn.utils.__all__ if inspect.isfunction(getattr(torch.nn.utils, name))
                   and name != "clip_grad_norm")  # deprecated for clip_grad_norm_
    return [("`torch.nn.init`", init), ("`torch.nn.utils`", utils)]


def scratchnet_namespace(heading):
    if heading.startswith("`torch.nn.init`"):
        return scratchnet.nn.init
    if heading.startswith("`torch.nn.utils`"):
        return scratchnet.nn.utils
    if heading.startswith("`torch.optim.lr_scheduler`"):
        return scratchnet.optim.lr_scheduler
    if heading.startswith("`torch.optim`"):
        return scratchnet.optim
    return scratchnet.nn


def table():
    """The markdown table: per group, the names scratchnet has and those it has not (yet), with counts."""
    lines = ["| torch | scratchnet has | not (yet) in scratchnet |", "|---|---|---|"]
    had = total = 0
    for heading, names in nn_rows() + function_rows() + optim_rows():
        namespace = scratchnet_namespace(heading)
        present = [name for name in names if hasattr(namespace, name)]
        missing = [name for name in names if not hasattr(namespace, name)]
        had, total = had + len(present), total + len(names)
        lines.append(f"| {heading} | {len(present)} of {len(names)}: {_names(present)} | {_names(missing)} |")
    lines.append(f"| **all** | **{had} of {total}** | |")
    return "\n".join(lines)


def _names(names):
    return ", ".join(f"`{name}`" for name in names) or "—"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    if argv:
        print(f"python -m parity coverage: takes no arguments, got {' '.join(argv)}", file=sys.stderr)
        return 2
    print(table())
    return 0
