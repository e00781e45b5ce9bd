"""``check_module``: run a scratchnet module and its torch twin side by side and compare everything.

Every layer and loss parity test goes through this one function; users call it on their own layers::

    report = check_module(MyLayer(3, 4), torch_twin, x)
    print(report)            # one row per tensor: max |diff|, max rel, tolerance, ok/FAIL
    report.assert_passed()

Inputs are NumPy arrays. An input requires a gradient when it is a float array, unless
``requires_grad`` says otherwise (a loss's target: ``requires_grad=(True, False)``); those
become torch leaves with ``requires_grad``. A module may return an array or a (nested) tuple
of arrays; its ``backward`` receives gradients in the same structure and returns one gradient
per input that requires one (a tuple when there are several), in order.

Nothing is skipped or truncated: a count that differs (outputs, input gradients), a gradient
that is ``None`` on the scratchnet side, a shape or float dtype that differs, or a parameter
or buffer that only one side has, each gives a FAIL row naming the tensor. A gradient that
torch leaves ``None`` (the output does not depend on that tensor) is compared as zeros.
"""

from contextlib import contextmanager

import numpy as np
import torch

from parity import tolerances
from parity.compare import ParityReport, compare, missing
from parity.transfer import to_numpy, to_torch, torch_to_scratch
from scratchnet.tree import flatten, unflatten


def check_module(scratch_module, torch_module, *inputs, requires_grad=None, grad_output=None, tolerance=None,
                 sync_weights=True, seed=0):
    """Compare forward outputs, input gradients, parameter gradients and buffers.

    - ``requires_grad``: one bool per input; by default True for float inputs, False otherwise.
    - ``sync_weights``: first copy torch's parameters and buffers into scratchnet's.
    - ``grad_output``: dL/d(output) fed to both backwards, in the output's structure;
      by default standard normal draws from ``seed`` (1.0 for a scalar output).
    - ``tolerance``: a ``parity.tolerances.Tolerance``; by default ``MODULE`` for the inputs' dtype.

    Returns a ``ParityReport``.
    """
    requires_grad = _check_inputs(inputs, requires_grad)
    dtype = _float_dtype(inputs, torch_module)
    tolerance = tolerance or tolerances.for_dtype(tolerances.MODULE, dtype)
    if sync_weights:
        torch_to_scratch(torch_module, scratch_module)
    scratch_module.train(torch_module.training)

    torch_inputs = [to_torch(array).requires_grad_(needs) for array, needs in zip(inputs, requires_grad, strict=True)]
    torch_out = torch_module(*torch_inputs)
    scratch_out = scratch_module(*inputs)
    torch_leaves, scratch_leaves = flatten(torch_out), flatten(scratch_out)

    report = ParityReport()
    names = ["output"] if len(torch_leaves) == 1 else [f"output[{i}]" for i in range(len(torch_leaves))]
    if len(scratch_leaves) != len(torch_leaves):
        report.add(missing("outputs", (), tolerance,
                           f"scratchnet returned {len(scratch_leaves)} outputs, torch {len(torch_leaves)}"))
        return report
    for name, mine, theirs in zip(names, scratch_leaves, torch_leaves, strict=True):
        report.add(compare(name, mine, to_numpy(theirs), tolerance))

    grad_leaves = _grad_outputs(grad_output, torch_leaves, dtype, seed)
    differentiable = [(t, to_torch(g)) for t, g in zip(torch_leaves, grad_leaves, strict=True) if t.requires_grad]
    if differentiable:
        torch.autograd.backward(*zip(*differentiable))
    scratch_grads = scratch_module.backward(unflatten(grad_leaves, scratch_out))

    wanted = [(position, tensor) for position, tensor in enumerate(torch_inputs) if tensor.requires_grad]
    scratch_grads = list(scratch_grads) if isinstance(scratch_grads, tuple) else [scratch_grads]
    if len(scratch_grads) != len(wanted):
        report.add(missing("input gradients", (), tolerance,
                           f"scratchnet's backward returned {len(scratch_grads)}, expected {len(wanted)} "
                           f"(one per input that requires a gradient, positions {[p for p, _ in wanted]})"))
    for index, (position, tensor) in enumerate(wanted):
        mine = scratch_grads[index] if index < len(scratch_grads) else None
        report.add(compare(f"grad input[{position}]", mine, _torch_grad(tensor), tolerance))

    _compare_named(report, "grad ", tolerance, _named_grads(scratch_module),
                   [(name, _torch_grad(p)) for name, p in torch_module.named_parameters()])
    _compare_named(report, "buffer ", tolerance, scratch_module.named_buffers(),
                   [(name, to_numpy(b)) for name, b in torch_module.named_buffers()])
    return report


def _check_inputs(inputs, requires_grad):
    """Validate the inputs and return one requires_grad flag per input."""
    for position, array in enumerate(inputs):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"check_module inputs must be numpy arrays, got {type(array).__name__} "
                            f"at position {position}")
    if requires_grad is None:
        return [array.dtype.kind == "f" for array in inputs]
    requires_grad = [bool(flag) for flag in requires_grad]
    if len(requires_grad) != len(inputs):
        raise ValueError(f"check_module: requires_grad has {len(requires_grad)} flags for {len(inputs)} inputs")
    for position, (array, needs) in enumerate(zip(inputs, requires_grad, strict=True)):
        if needs and array.dtype.kind != "f":
            raise ValueError(f"check_module: input {position} is {array.dtype}; "
                             "only float inputs can require a gradient")
    return requires_grad


def _float_dtype(arrays, torch_module):
    """The dtype the comparison runs in: the first float input's, else the torch module's parameters'
    (a layer that takes only integer indices, such as Embedding)."""
    for array in arrays:
        if array.dtype.kind == "f":
            return array.dtype
    for param in torch_module.parameters():
        if param.is_floating_point():
            return to_numpy(param).dtype
    raise ValueError("check_module needs a float32/float64 input array or a torch module with float parameters")


def _grad_outputs(grad_output, torch_leaves, dtype, seed):
    """dL/d(output) as a flat list: the caller's, or standard normal draws (1.0 for a scalar)."""
    if grad_output is not None:
        leaves = [np.asarray(g, dtype=dtype) for g in flatten(grad_output)]
        if len(leaves) != len(torch_leaves):
            raise ValueError(f"check_module: grad_output has {len(leaves)} arrays for {len(torch_leaves)} outputs")
        return leaves
    rng = np.random.default_rng(seed)
    return [np.ones(t.shape, dtype=dtype) if t.dim() == 0 else rng.standard_normal(tuple(t.shape)).astype(dtype)
            for t in torch_leaves]


def _torch_grad(tensor):
    """torch's gradient as NumPy; torch leaves it None when the output does not depend on ``tensor``: zeros."""
    if tensor.grad is None:
        return np.zeros_like(to_numpy(tensor))
    return to_numpy(tensor.grad)


def _named_grads(scratch_module):
    return [(name, p.grad) for name, p in scratch_module.named_parameters()]


def _compare_named(report, prefix, tolerance, scratch_named, torch_named):
    """One row per name on either side; a name only one side has is a FAIL row."""
    mine, theirs = dict(scratch_named), dict(torch_named)
    for name in [*theirs, *(name for name in mine if name not in theirs)]:
        if name not in mine or name not in theirs:
            side = "scratchnet" if name not in mine else "torch"
            shape = np.shape(theirs[name] if name in theirs else mine[name])
            report.add(missing(prefix + name, shape, tolerance, f"the {side} module has no {prefix.strip()} {name!r}"))
        else:
            report.add(compare(prefix + name, mine[name], theirs[name], tolerance))


@contextmanager
def torch_fast_path_off():
    """torch's MultiheadAttention and TransformerEncoder without their fused fast path (which evaluation
    under no_grad would take): other math, see parity/tolerances.py. The flag is restored afterwards."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)
