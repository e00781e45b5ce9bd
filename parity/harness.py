"""``check_module``: run a scratchnet module and its torch twin side by side and compare everything.

Every layer and loss parity test goes through this one function; users call it on their own layers::

    report = check_module(MyLayer(3, 4), torch_twin, x)
    print(report)            # one row per tensor: max |diff|, max rel, tolerance, ok/FAIL
    report.assert_passed()

Inputs are NumPy arrays. Float inputs become torch leaves with ``requires_grad``; integer
inputs (class labels) pass through. A module may return an array or a (nested) tuple of
arrays; its ``backward`` receives gradients in the same structure.
"""

import numpy as np
import torch

from parity import tolerances
from parity.compare import ParityReport, compare
from parity.transfer import to_numpy, to_torch, torch_to_scratch
from scratchnet.tree import flatten, unflatten


def _float_dtype(arrays):
    for array in arrays:
        if isinstance(array, np.ndarray) and array.dtype.kind == "f":
            return array.dtype
    raise ValueError("check_module needs at least one float32/float64 input array")


def check_module(scratch_module, torch_module, *inputs, grad_output=None, tolerance=None, sync_weights=True, seed=0):
    """Compare forward outputs, input gradients, parameter gradients and buffers.

    - ``sync_weights``: first copy torch's parameters and buffers into scratchnet's.
    - ``grad_output``: dL/d(output) fed to both backwards, in the output's structure;
      by default standard normal draws from ``seed`` (1.0 for a scalar output).
    - ``tolerance``: a ``parity.tolerances.Tolerance``; by default ``MODULE`` for the inputs' dtype.

    Returns a ``ParityReport``.
    """
    for position, array in enumerate(inputs):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"check_module inputs must be numpy arrays, got {type(array).__name__} at position {position}")
    dtype = _float_dtype(inputs)
    tolerance = tolerance or tolerances.for_dtype(tolerances.MODULE, dtype)
    if sync_weights:
        torch_to_scratch(torch_module, scratch_module)
    scratch_module.train(torch_module.training)

    torch_inputs = []
    for array in inputs:
        tensor = to_torch(array)
        if array.dtype.kind == "f":
            tensor.requires_grad_(True)
        torch_inputs.append(tensor)
    torch_out = torch_module(*torch_inputs)
    scratch_out = scratch_module(*inputs)

    torch_leaves, scratch_leaves = flatten(torch_out), flatten(scratch_out)
    if len(torch_leaves) != len(scratch_leaves):
        raise ValueError(f"scratchnet returned {len(scratch_leaves)} outputs but torch returned {len(torch_leaves)}")

    rng = np.random.default_rng(seed)
    if grad_output is None:
        grad_leaves = [
            np.ones(t.shape, dtype=dtype) if t.dim() == 0 else rng.standard_normal(tuple(t.shape)).astype(dtype)
            for t in torch_leaves
        ]
    else:
        grad_leaves = [np.asarray(g, dtype=dtype) for g in flatten(grad_output)]

    differentiable = [(t, g) for t, g in zip(torch_leaves, grad_leaves) if t.requires_grad]
    if differentiable:
        torch.autograd.backward([t for t, _ in differentiable], [to_torch(g) for _, g in differentiable])
    scratch_grads = scratch_module.backward(unflatten(grad_leaves, scratch_out))

    report = ParityReport()
    for index, (mine, theirs) in enumerate(zip(scratch_leaves, torch_leaves)):
        name = "output" if len(torch_leaves) == 1 else f"output[{index}]"
        report.add(compare(name, mine, to_numpy(theirs), tolerance))

    float_inputs = [(i, t) for i, t in enumerate(torch_inputs) if t.requires_grad]
    scratch_grads = scratch_grads if isinstance(scratch_grads, tuple) else (scratch_grads,)
    for (position, tensor), mine in zip(float_inputs, scratch_grads):
        if mine is None:
            continue
        theirs = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)
        report.add(compare(f"grad input[{position}]", mine, to_numpy(theirs), tolerance))

    scratch_params = dict(scratch_module.named_parameters())
    for name, param in torch_module.named_parameters():
        mine = scratch_params[name].grad
        theirs = param.grad if param.grad is not None else torch.zeros_like(param)
        report.add(compare(f"grad {name}", mine if mine is not None else np.zeros(param.shape), to_numpy(theirs), tolerance))

    scratch_buffers = dict(scratch_module.named_buffers())
    for name, buffer in torch_module.named_buffers():
        report.add(compare(f"buffer {name}", scratch_buffers[name], to_numpy(buffer), tolerance))
    return report
