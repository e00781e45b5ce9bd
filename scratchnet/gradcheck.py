"""Central-difference gradient check: does ``backward`` compute the derivative of ``forward``?

For a module y = f(x; W) and a fixed random G of y's shape, take the scalar

    s(x, W) = sum(G * f(x; W))        so that   ds/dx = backward(G),  ds/dW = W.grad.

Each input and parameter element is nudged by +-eps and compared with

    ds/dtheta ~ (s(theta + eps) - s(theta - eps)) / (2 eps)      (error O(eps^2))

Run it in float64: with eps = 1e-6 the truncation error is ~1e-12 and the rounding
error ~1e-10, so analytic and numeric gradients agree to ~1e-7 relative.

Nothing is skipped: ``backward`` must return one gradient per input that requires one (float
inputs, unless ``requires_grad`` says otherwise) and every parameter must hold a ``.grad``;
a ``None``, a missing or extra gradient, or a wrong shape is reported as a failure.
"""

import numpy as np

from scratchnet.tree import flatten, unflatten


def numerical_gradients(module, inputs, grad_output, requires_grad, eps=1e-6):
    """Central-difference ds/d(input) for the inputs that require it (None for the others) and ds/d(parameter)."""

    def scalar():
        out = flatten(module(*inputs))
        return sum(float(np.sum(g * o)) for g, o in zip(flatten(grad_output), out, strict=True))

    def nudge_all(array):
        grad = np.zeros_like(array)
        flat, flat_grad = array.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = scalar()
            flat[i] = original - eps
            minus = scalar()
            flat[i] = original
            flat_grad[i] = (plus - minus) / (2 * eps)
        return grad

    input_grads = [nudge_all(x) if needs else None for x, needs in zip(inputs, requires_grad, strict=True)]
    param_grads = {name: nudge_all(param.data) for name, param in module.named_parameters()}
    return input_grads, param_grads


def gradcheck(module, *inputs, requires_grad=None, grad_output=None, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0):
    """Compare ``module.backward`` with central differences; returns a list of failure messages.

    Inputs must be float64 (integer inputs such as class labels are held fixed, and so is a
    float input whose ``requires_grad`` flag is False, e.g. a loss's target). An empty list
    means every input and parameter gradient agreed to ``atol + rtol * |numeric|``.
    """
    inputs, requires_grad = _check_inputs(inputs, requires_grad)
    out = module(*inputs)
    if grad_output is None:
        rng = np.random.default_rng(seed)
        grad_output = unflatten([rng.standard_normal(np.shape(o)) for o in flatten(out)], out)
    module.zero_grad()
    module(*inputs)
    analytic_inputs = module.backward(grad_output)
    analytic_inputs = list(analytic_inputs) if isinstance(analytic_inputs, tuple) else [analytic_inputs]
    analytic_params = {name: p.grad for name, p in module.named_parameters()}
    numeric_inputs, numeric_params = numerical_gradients(module, inputs, grad_output, requires_grad, eps)

    failures = []
    wanted = [position for position, needs in enumerate(requires_grad) if needs]
    if len(analytic_inputs) != len(wanted):
        failures.append(f"backward returned {len(analytic_inputs)} input gradients, expected {len(wanted)} "
                        f"(one per input that requires a gradient, positions {wanted})")
    for index, position in enumerate(wanted):
        analytic = analytic_inputs[index] if index < len(analytic_inputs) else None
        failures += _differences(f"input[{position}]", analytic, numeric_inputs[position], atol, rtol)
    for name, numeric in numeric_params.items():
        failures += _differences(name, analytic_params[name], numeric, atol, rtol)
    return failures


def _check_inputs(inputs, requires_grad):
    """Copies of the inputs (nudging must not touch the caller's arrays) and one flag per input."""
    inputs = [np.array(x, copy=True) for x in inputs]
    for x in inputs:
        if x.dtype.kind == "f" and x.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs (central differences lose ~8 digits), got {x.dtype}")
    if requires_grad is None:
        return inputs, [x.dtype.kind == "f" for x in inputs]
    requires_grad = [bool(flag) for flag in requires_grad]
    if len(requires_grad) != len(inputs):
        raise ValueError(f"gradcheck: requires_grad has {len(requires_grad)} flags for {len(inputs)} inputs")
    if any(needs and x.dtype.kind != "f" for x, needs in zip(inputs, requires_grad, strict=True)):
        raise ValueError("gradcheck: only float inputs can require a gradient")
    return inputs, requires_grad


def _differences(name, analytic, numeric, atol, rtol):
    """[] when ``analytic`` matches ``numeric``, else one message naming ``name``."""
    if analytic is None:
        return [f"{name}: no analytic gradient (None)"]
    analytic = np.asarray(analytic)
    if analytic.shape != numeric.shape:
        return [f"{name}: analytic shape {analytic.shape} but numeric shape {numeric.shape}"]
    error = np.abs(analytic - numeric)
    if np.any(error > atol + rtol * np.abs(numeric)) or not np.all(np.isfinite(analytic)):
        return [f"{name}: max |analytic - numeric| = {error.max():.3e}"]
    return []
