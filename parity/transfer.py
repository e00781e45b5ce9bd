"""Moving arrays and weights between scratchnet and torch. Always copies, never shares memory."""

import numpy as np
import torch

_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def torch_dtype(dtype):
    return _TORCH_DTYPES[np.dtype(dtype)]


def to_torch(array):
    """A new tensor holding a copy of ``array`` (same dtype); the two never share memory."""
    return torch.tensor(np.asarray(array))


def to_numpy(tensor):
    """A new ndarray holding a copy of ``tensor``'s values."""
    return tensor.detach().cpu().numpy().copy()


def _check_same_dtypes(source, target, direction):
    for name, value in source.items():
        if name in target and str(value.dtype).replace("torch.", "") != str(target[name].dtype).replace("torch.", ""):
            raise TypeError(f"{direction}: {name!r} is {value.dtype} in the source but {target[name].dtype} in the target; "
                            f"cast one model first (.double() / .float())")


def torch_to_scratch(torch_module, scratch_module):
    """Copy every parameter and buffer of ``torch_module`` into ``scratch_module`` (same keys)."""
    state = {name: to_numpy(value) for name, value in torch_module.state_dict().items()}
    _check_same_dtypes(state, scratch_module.state_dict(), "torch_to_scratch")
    scratch_module.load_state_dict(state)
    return scratch_module


def scratch_to_torch(scratch_module, torch_module):
    """Copy every parameter and buffer of ``scratch_module`` into ``torch_module`` (same keys)."""
    state = {name: to_torch(value) for name, value in scratch_module.state_dict().items()}
    _check_same_dtypes(state, torch_module.state_dict(), "scratch_to_torch")
    torch_module.load_state_dict(state)
    return torch_module
