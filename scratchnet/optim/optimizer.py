"""Optimizer base: parameter groups, per-parameter state and its state_dict, as in ``torch.optim``.

Hyperparameters are held as Python floats. NumPy 2 treats a Python float as
"weak" (float32 array * 0.9 stays float32) but a ``np.float64`` scalar as
strong (float32 array * np.float64(0.9) becomes float64), so converting every
hyperparameter with ``float()`` keeps float32 parameters and state float32.

Scalar state (``step``, and ASGD's ``eta``/``mu``, NAdam's ``mu_product``) is a
``np.float32`` scalar: torch keeps it in a 0-d tensor of its default dtype,
float32, whatever the parameters' dtype, so it is rounded to float32 when
stored, and read back as a Python float (``float(state["step"])``, as torch's
``.item()``) before it enters any formula.

``foreach``, ``fused``, ``capturable`` and ``differentiable`` choose which of
torch's kernels runs (one tensor at a time, a list at once, one fused kernel,
CUDA-graph-safe, autograd through the step); they do not change the equations.
They are accepted, kept in the groups (so state dicts match torch's) and
otherwise ignored: here there is one kernel, the equations themselves.

How close to torch: every rule follows torch's equations in torch's order of operations,
but NumPy and torch's kernels may round differently (fused multiply-adds, lerp, vectorised
loops), so results agree to rounding, not bit for bit. tests/test_optim.py measures it: in
float64, after 50 steps, parameters differ by up to ~2e-15 (tolerance 1e-12); in float32
they can differ from the first step (SGD with momentum: one ulp, ~1e-7) and after 10 steps by
up to ~2.4e-7 (tolerance 1e-6).

Gradients are checked at ``step()`` (torch checks them when ``.grad`` is assigned): an
ndarray of the parameter's shape and dtype, or None. NaN and inf are stepped with, as torch.
"""

import copy
import warnings

import numpy as np

from scratchnet.nn.module import Parameter, zero_grads


class Optimizer:
    """Base of every optimizer, as ``torch.optim.Optimizer``.

    ``params`` is an iterable of Parameters or of dicts (parameter groups, each with its own
    hyperparameters); ``defaults`` fills what a group leaves out. ``step()`` hands every
    parameter that has a ``.grad`` to the subclass's ``_update(p, g, state, group)``, which
    changes ``p`` in place; ``state[param]`` holds what the rule keeps between steps
    (``step``, ``exp_avg``, ``momentum_buffer``, ...), under torch's names.
    """

    def __init__(self, params, defaults):
        self.defaults = {key: _as_python(value) for key, value in defaults.items()}
        if isinstance(params, Parameter):
            raise TypeError("params argument given to the optimizer should be an iterable of Parameters or dicts, "
                            "but got Parameter")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        self.state = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        if not isinstance(group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(group).__name__}")
        params = group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Parameter) else list(params)
        for param in params:
            if not isinstance(param, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, got {type(param).__name__}")
        if len({id(p) for p in params}) != len(params):  # torch only warns, keeps both and steps both
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; "
                          "see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        full = {key: _as_python(value) for key, value in group.items() if key != "params"}
        for key, default in self.defaults.items():
            full.setdefault(key, default)
        full["params"] = params
        self.param_groups.append(full)

    def __repr__(self):
        """torch's format: each group's hyperparameters, sorted by name."""
        text = f"{type(self).__name__} ("
        for index, group in enumerate(self.param_groups):
            text += f"\nParameter Group {index}\n"
            text += "".join(f"    {key}: {group[key]}\n" for key in sorted(group) if key != "params")
        return text + ")"

    def zero_grad(self, set_to_none=True):
        zero_grads((param for group in self.param_groups for param in group["params"]), set_to_none)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss, if given."""
        loss = None if closure is None else closure()
        self._check_grads()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param.data, param.grad, self._state(param), group)
        return loss

    def _check_grads(self):
        """Every ``.grad`` is None or an ndarray of its parameter's shape and dtype, checked before any update.

        torch refuses such a gradient when it is assigned; here ``.grad`` is a plain attribute, so the
        refusal comes at ``step()``. Non-finite values are stepped with, as torch does.
        """
        for group_index, group in enumerate(self.param_groups):
            for position, param in enumerate(group["params"]):
                grad, where = param.grad, f"parameter {position} of parameter group {group_index}"
                if grad is None:
                    continue
                if not isinstance(grad, np.ndarray):
                    raise TypeError(f"the gradient of {where} should be a numpy.ndarray or None, "
                                    f"got {type(grad).__name__}")
                if grad.shape != param.shape or grad.dtype != param.dtype:
                    raise ValueError(f"the gradient of {where} has shape {grad.shape} and dtype {grad.dtype}, "
                                     f"but the parameter has shape {param.shape} and dtype {param.dtype}")

    def _update(self, p, g, state, group):
        """The subclass's rule: change ``p`` in place from its gradient ``g``, its ``state`` and ``group``."""
        raise NotImplementedError

    def _state(self, param):
        # Keyed by the Parameter object (identity), as torch keys state by tensor.
        return self.state.setdefault(param, {})

    def state_dict(self):
        """torch's layout: ``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``.

        Parameters are numbered 0, 1, ... by their position in the groups (a parameter listed twice, by
        its last position, as torch); ``state`` holds only parameters that have state. Everything is
        a copy, so the dict does not change as training goes on (torch hands out its live tensors;
        here, as for ``Module.state_dict``, copies).
        """
        index, start = {}, 0
        groups = []
        for group in self.param_groups:
            # torch's numbering: position in the groups; a duplicated parameter takes its last position
            new = {id(param): i for i, param in enumerate(group["params"], start) if id(param) not in index}
            index.update(new)
            start += len(group["params"])
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index[id(param)] for param in group["params"]]
            groups.append(packed)
        # state that load_state_dict could not place stays under its saved key, as in torch; a rule that
        # keeps nothing (SGD without momentum) leaves no entry, as torch's never creates one
        state = {index[id(key)] if isinstance(key, Parameter) else key: copy.deepcopy(values)
                 for key, values in self.state.items() if values or not isinstance(key, Parameter)}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what ``state_dict()`` (here or, converted to NumPy, torch's) returned.

        The saved groups replace the current ones' hyperparameters; the saved ``params`` indices
        are matched in order to this optimizer's parameters. Arrays are copied and cast to their
        parameter's dtype (as torch casts floating state), scalars become ``np.float32`` (see the
        module docstring). Everything is checked before anything changes.
        """
        saved_groups, saved_state = _check_state_dict(state_dict, self.param_groups)
        params = {}
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            params.update(zip(saved["params"], group["params"], strict=True))
        state = {}
        for key, values in saved_state.items():
            if key in params:
                param = params[key]
                state[param] = {name: _cast_state(value, param, key, name) for name, value in values.items()}
            else:
                state[key] = copy.deepcopy(values)  # torch keeps state it cannot place, as is
        groups = []
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            loaded = {name: copy.deepcopy(value) for name, value in saved.items() if name != "params"}
            for name, default in self.defaults.items():  # as torch's __setstate__: older dicts lack newer options
                loaded.setdefault(name, default)
            loaded["params"] = group["params"]
            groups.append(loaded)
        self.state, self.param_groups = state, groups


def _check_state_dict(state_dict, groups):
    """torch's checks (same messages), then the shape of every saved array against its parameter."""
    if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
        keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
        raise ValueError(f"an optimizer state dict is a dict with keys 'param_groups' and 'state', got {keys}")
    saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
    if len(groups) != len(saved_groups):
        raise ValueError("loaded state dict has a different number of parameter groups")
    if any(len(group["params"]) != len(saved["params"]) for group, saved in zip(groups, saved_groups, strict=True)):
        raise ValueError("loaded state dict contains a parameter group "
                         "that doesn't match the size of optimizer's group")
    for saved, group in zip(saved_groups, groups, strict=True):
        for key, param in zip(saved["params"], group["params"], strict=True):
            for name, value in saved_state.get(key, {}).items():
                if isinstance(value, np.ndarray) and value.ndim > 0 and value.shape != param.shape:
                    raise ValueError(f"loaded state dict's state[{key}][{name!r}] has shape {value.shape}, "
                                     f"but the optimizer's parameter {key} has shape {param.shape}")
    return saved_groups, saved_state


def _cast_state(value, param, key, name):
    """A copy of one saved state value: arrays in the parameter's dtype, scalars as np.float32."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value.astype(param.dtype, copy=True)
    if isinstance(value, (int, float, np.ndarray, np.floating, np.integer)) and not isinstance(value, bool):
        return np.float32(value)
    raise TypeError(f"loaded state dict's state[{key}][{name!r}] should be a numpy array or a number, "
                    f"got {type(value).__name__}")


def check_non_negative(values):
    """torch's hyperparameter checks: {"learning rate": lr, ...} must all be >= 0 (NaN is refused too)."""
    for what, value in values.items():
        if not value >= 0:
            raise ValueError(f"Invalid {what}: {value}")


def check_betas(betas):
    """torch's check of Adam-like betas: each in [0, 1)."""
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def check_kernel_flags(foreach, fused, differentiable):
    """torch's refusals among its kernel choices (which change nothing here, see the module docstring)."""
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _as_python(value):
    """Hyperparameters as Python scalars (see the module docstring); tuples element-wise."""
    if isinstance(value, tuple):
        return tuple(_as_python(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    return float(value) if isinstance(value, float) else value
