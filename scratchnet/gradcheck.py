"""Central-difference gradient check: does ``backward`` compute the derivative of ``forward``?

For a module y = f(x; W) and a fixed random G of y's shape, take the scalar

    s(x, W) = sum(G * f(x; W))        so that   ds/dx = backward(G),  ds/dW = W.grad.

Each input and parameter element is nudged by +-eps and compared with

    ds/dtheta ~ (s(theta + eps) - s(theta - eps)) / (2 eps)      (error O(eps^2))

Run it in float64: with eps = 1e-6 the truncation error is ~1e-12 and the rounding
error ~1e-10, so analytic and numeric gradients agree to ~1e-7 relative.
"""

import numpy as np

from scratchnet.tree import flatten, unflatten


def numerical_gradients(module, inputs, grad_output, eps=1e-6):
    """Central-difference ds/d(input) for float inputs and ds/d(parameter) for each parameter."""

    def scalar():
        out = module(*inputs)
        return sum(float(np.sum(g * o)) for g, o in zip(flatten(grad_output), flatten(out)))

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

    input_grads = [nudge_all(x) if x.dtype.kind == "f" else None for x in inputs]
    param_grads = {name: nudge_all(param.data) for name, param in module.named_parameters()}
    return input_grads, param_grads


def gradcheck(module, *inputs, grad_output=None, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0):
    """Compare ``module.backward`` with central differences; returns a list of failure messages.

    Inputs must be float64 (integer inputs such as class labels are held fixed). An empty
    list means every input and parameter gradient agreed to ``atol + rtol * |numeric|``.
    """
    inputs = [np.array(x, copy=True) for x in inputs]
    for x in inputs:
        if x.dtype.kind == "f" and x.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs (central differences lose ~8 digits), got {x.dtype}")
    out = module(*inputs)
    if grad_output is None:
        rng = np.random.default_rng(seed)
        grad_output = unflatten([rng.standard_normal(np.shape(o)) for o in flatten(out)], out)
    module.zero_grad()
    module(*inputs)
    analytic_inputs = module.backward(grad_output)
    analytic_inputs = analytic_inputs if isinstance(analytic_inputs, tuple) else (analytic_inputs,)
    analytic_params = {name: (p.grad if p.grad is not None else np.zeros_like(p.data))
                       for name, p in module.named_parameters()}
    numeric_inputs, numeric_params = numerical_gradients(module, inputs, grad_output, eps)

    failures = []

    def check(name, analytic, numeric):
        if analytic is None or numeric is None:
            return
        if analytic.shape != numeric.shape:
            failures.append(f"{name}: analytic shape {analytic.shape} but numeric shape {numeric.shape}")
            return
        error = np.abs(analytic - numeric)
        if np.any(error > atol + rtol * np.abs(numeric)):
            failures.append(f"{name}: max |analytic - numeric| = {error.max():.3e}")

    float_positions = [i for i, x in enumerate(inputs) if x.dtype.kind == "f"]
    for position, analytic in zip(float_positions, analytic_inputs):
        check(f"input[{position}]", analytic, numeric_inputs[position])
    for name, numeric in numeric_params.items():
        check(name, analytic_params[name], numeric)
    return failures
