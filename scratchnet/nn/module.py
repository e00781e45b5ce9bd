"""``Parameter`` and ``Module``: the parameter registry shared by every layer.

A ``Module`` holds parameters (learnable arrays with a ``.grad``), buffers
(non-learnable state such as BatchNorm's running mean) and child modules, under
the same dotted names torch uses, so ``state_dict()`` keys are identical to the
torch twin's (``net.0.weight`` ... ``net.4.bias``).

Where torch records a graph and runs ``loss.backward()``, scratchnet makes the
chain rule explicit: ``forward`` keeps what its derivative needs, and
``backward(grad_output)`` takes dL/d(output), adds dL/d(parameter) into each
parameter's ``.grad`` and returns dL/d(input). A module with several inputs
returns a tuple of input gradients; a module with several outputs takes a
``grad_output`` with the same structure as its output.

Calling a module runs its ``forward`` with the same arguments, keywords included, as torch's
``Module.__call__`` does. torch's forwards name their one input ``input``; where a scratchnet
forward names it otherwise (``x``, ``idx``), ``module(input=x)`` still works: the keyword ``input``
goes to forward's first parameter (see ``Module.__call__``).
"""

import functools
import inspect
from collections import OrderedDict

import numpy as np

from scratchnet._checks import shape_str
from scratchnet._dtype import FLOAT_DTYPES, as_float_dtype


def read_only(array):
    """A read-only view of ``array``: for outputs that backward reads again.

    An in-place change by the caller (``y += 1``) would silently corrupt the gradient;
    NumPy refuses it instead ("assignment destination is read-only"), as torch refuses to
    backpropagate through a tensor modified in place.
    """
    view = array.view()
    view.flags.writeable = False
    return view


class Parameter:
    """A learnable array: ``.data`` holds the values, ``.grad`` dL/d(data) or ``None``."""

    def __init__(self, data):
        if not isinstance(data, np.ndarray) or data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Parameter expects a float32/float64 numpy.ndarray, got {getattr(data, 'dtype', type(data).__name__)}")
        self.data = data
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def accumulate_grad(self, grad):
        """Add ``grad`` into ``.grad``, as torch accumulates gradients across backward calls.

        The first gradient after ``zero_grad()`` is stored as is (the caller hands over
        a fresh array); later ones are added in place.
        """
        if grad.shape != self.data.shape or grad.dtype != self.data.dtype:
            raise ValueError(
                f"gradient of shape {shape_str(grad.shape)} and dtype {grad.dtype} does not fit "
                f"a parameter of shape {shape_str(self.data.shape)} and dtype {self.data.dtype}"
            )
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self):
        return f"Parameter(shape={shape_str(self.data.shape)}, dtype={self.data.dtype})"


def zero_grads(params, set_to_none=True):
    """Forget the gradients of ``params``: ``None`` (torch's default), or zeros kept in place."""
    for param in params:
        if set_to_none or param.grad is None:
            param.grad = None
        else:
            param.grad.fill(0)


@functools.lru_cache(maxsize=None)
def _forward_parameters(forward):
    """forward's parameters after self: (the names it takes by keyword, its first positional one or None,
    whether it takes **kwargs). Cached per function: read once per class, not on every call."""
    params = list(inspect.signature(forward).parameters.values())[1:]
    by_keyword = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    first = params[0].name if params and params[0].kind in (params[0].POSITIONAL_ONLY,
                                                            params[0].POSITIONAL_OR_KEYWORD) else None
    return by_keyword, first, any(p.kind is p.VAR_KEYWORD for p in params)


class Module:
    """Base class of every layer and model, mirroring ``torch.nn.Module``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if name.startswith("_") and not isinstance(value, (Parameter, Module)):
            # Fast path for the caches forward keeps for backward (self._x, ...): set on every call.
            object.__setattr__(self, name, value)
            return
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before assigning {name!r}")
        for registry in (self._parameters, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: parameters, buffers and children.
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or ``None`` for an absent one such as ``bias=False``)."""
        self._parameters[name] = param

    def register_buffer(self, name, array):
        """Register non-learnable state that belongs in ``state_dict`` (e.g. running statistics)."""
        self._buffers[name] = array

    # -- running ------------------------------------------------------------------------------

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} must implement backward")

    def __call__(self, *inputs, **kwargs):
        if kwargs:
            kwargs = self._torch_keywords(inputs, kwargs)
        return self.forward(*inputs, **kwargs)

    def _torch_keywords(self, inputs, kwargs):
        """``kwargs`` for forward, read as torch's: the keyword ``input`` names forward's first parameter
        when forward calls it something else (``x``, ``idx``); a keyword forward does not take is a
        TypeError naming it, as torch's forward raises."""
        names, first, takes_any = _forward_parameters(type(self).forward)
        if takes_any:
            return kwargs
        where = f"{type(self).__name__}.forward()"
        if "input" in kwargs and "input" not in names and first is not None:
            if inputs or first in kwargs:
                raise TypeError(f"{where} got multiple values for argument 'input' (its first argument, {first!r})")
            kwargs = {(first if key == "input" else key): value for key, value in kwargs.items()}
        for key in kwargs:
            if key not in names:
                accepted = ", ".join(sorted(names | ({"input"} if first is not None else set())))
                raise TypeError(f"{where} got an unexpected keyword argument {key!r} (it takes {accepted or 'none'})")
        return kwargs

    # -- traversal ----------------------------------------------------------------------------

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix="", recurse=True):
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, param in module._parameters.items():
                if param is not None:
                    yield (f"{module_prefix}.{name}" if module_prefix else name), param

    def parameters(self, recurse=True):
        return (param for _, param in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix=""):
        for module_prefix, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_prefix}.{name}" if module_prefix else name), buffer

    # -- state --------------------------------------------------------------------------------

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient (to ``None``, as torch does by default)."""
        zero_grads(self.parameters(), set_to_none)

    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def to(self, dtype):
        """Cast every floating parameter, gradient and buffer to ``dtype``, in place; returns self."""
        dtype = as_float_dtype(dtype)
        for param in self.parameters():
            param.data = param.data.astype(dtype, copy=False)
            if param.grad is not None:
                param.grad = param.grad.astype(dtype, copy=False)
        for module in self.modules():
            for name, buffer in module._buffers.items():
                if buffer is not None and buffer.dtype.kind == "f":
                    module._buffers[name] = buffer.astype(dtype, copy=False)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def state_dict(self):
        """An ordered name -> array mapping of copies of every parameter and buffer."""
        state = OrderedDict()
        for name, param in self.named_parameters():
            state[name] = param.data.copy()
        for name, buffer in self.named_buffers():
            state[name] = np.array(buffer, copy=True)
        return state

    def _state_slots(self):
        """name -> (module, registry, key) for every parameter and buffer, in state_dict order."""
        slots = OrderedDict()
        for prefix, module in self.named_modules():
            for registry in ("_parameters", "_buffers"):
                for key, value in getattr(module, registry).items():
                    if value is not None:
                        slots[f"{prefix}.{key}" if prefix else key] = (module, registry, key)
        return slots

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict``'s arrays into this module's parameters and buffers.

        Every key, shape and dtype is checked before anything is copied, so a bad
        state dict leaves the module untouched. The values are copied, never aliased.
        """
        slots = self._state_slots()
        missing = [name for name in slots if name not in state_dict]
        unexpected = [name for name in state_dict if name not in slots]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        for name, value in state_dict.items():
            if name not in slots:
                continue
            module, registry, key = slots[name]
            current = getattr(module, registry)[key]
            current = current.data if isinstance(current, Parameter) else np.asarray(current)
            if not isinstance(value, np.ndarray):
                raise TypeError(f"load_state_dict: {name!r} must be a numpy.ndarray, got {type(value).__name__}")
            if value.shape != current.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {shape_str(value.shape)} in the state dict "
                    f"but {shape_str(current.shape)} in the model"
                )
            if value.dtype != current.dtype:
                raise TypeError(
                    f"load_state_dict: {name!r} has dtype {value.dtype} in the state dict but {current.dtype} in the model"
                )
        for name, value in state_dict.items():
            if name in slots:
                module, registry, key = slots[name]
                current = getattr(module, registry)[key]
                np.copyto(current.data if isinstance(current, Parameter) else current, value)
        return missing, unexpected

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
