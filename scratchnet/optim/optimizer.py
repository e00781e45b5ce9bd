"""Optimizer base: parameter groups and per-parameter state, as in ``torch.optim``.

Hyperparameters are held as Python floats. NumPy 2 treats a Python float as
"weak" (float32 array * 0.9 stays float32) but a ``np.float64`` scalar as
strong (float32 array * np.float64(0.9) becomes float64), so converting every
hyperparameter with ``float()`` keeps float32 parameters and state float32.
"""

from scratchnet.nn.module import Parameter, zero_grads


class Optimizer:
    """Base of every optimizer, as ``torch.optim.Optimizer``.

    ``params`` is an iterable of Parameters or of dicts (parameter groups, each with its own
    hyperparameters); ``defaults`` fills what a group leaves out. ``step()`` updates every
    parameter that has a ``.grad`` using the subclass's rule; ``state[param]`` holds what the
    rule keeps between steps (``step``, ``exp_avg``, ``momentum_buffer``, ...), under torch's names.
    """

    def __init__(self, params, defaults):
        self.defaults = {key: _as_python(value) for key, value in defaults.items()}
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        self.state = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        params = list(group["params"])
        for param in params:
            if not isinstance(param, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, got {type(param).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        full = {key: _as_python(value) for key, value in group.items() if key != "params"}
        for key, default in self.defaults.items():
            full.setdefault(key, default)
        full["params"] = params
        self.param_groups.append(full)

    def zero_grad(self, set_to_none=True):
        zero_grads((param for group in self.param_groups for param in group["params"]), set_to_none)

    def step(self):
        raise NotImplementedError

    def _state(self, param):
        # Keyed by the Parameter object (identity), as torch keys state by tensor.
        return self.state.setdefault(param, {})


def check_non_negative(values):
    """torch's hyperparameter checks: {"learning rate": lr, ...} must all be >= 0 (NaN is refused too)."""
    for what, value in values.items():
        if not value >= 0:
            raise ValueError(f"Invalid {what}: {value}")


def _as_python(value):
    """Hyperparameters as Python scalars (see the module docstring); tuples element-wise."""
    if isinstance(value, tuple):
        return tuple(_as_python(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    return float(value) if isinstance(value, float) else value
