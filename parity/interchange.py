"""Moving trained weights between scratchnet and PyTorch through files.

- ``export_torch_state_dict(model, path)`` writes a scratchnet model's ``state_dict`` the way
  ``torch.save(torch_model.state_dict(), path)`` does: an OrderedDict of tensors (copies),
  under the same keys, so ``torch_model.load_state_dict(torch.load(path))`` works
  on the torchnet twin. The file is written atomically, like ``scratchnet.save``.
- ``import_torch_state_dict(model, path)`` reads such a file with
  ``torch.load(path, weights_only=True)`` -- torch's restricted unpickler, which rebuilds
  tensors and containers and refuses every other global, so a hostile file cannot run code --
  checks every key, shape and dtype against ``model`` and only then copies the weights in.
  A file torch refuses or that holds anything but a name -> tensor dict raises
  ``scratchnet.ModelFileError``; a state dict that does not fit the model raises ValueError
  (a missing or unexpected key, or a key with both shapes) or TypeError (a dtype, with the
  cast to make), naming the file; the model is unchanged.

Why safetensors is not supported: see the README's design notes.
"""

import re
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch

from scratchnet.serialization import ModelFileError, atomic_write

# torch dtype -> NumPy dtype for the arrays a scratchnet state_dict holds.
_NUMPY_DTYPES = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
    torch.int64: np.dtype(np.int64),
}


def export_torch_state_dict(model, path):
    """Write ``model.state_dict()`` as a torch state_dict file (tensors are copies)."""
    state = OrderedDict((name, torch.tensor(array)) for name, array in model.state_dict().items())
    atomic_write(path, lambda file: torch.save(state, file))


def import_torch_state_dict(model, path):
    """Load the torch state_dict file at ``path`` into the scratchnet ``model``; returns ``model``."""
    arrays = _read_torch_state_dict(path)
    current = model.state_dict()
    name = type(model).__name__
    missing = [key for key in current if key not in arrays]
    unexpected = [key for key in arrays if key not in current]
    if missing or unexpected:
        raise ValueError(f"{path}: the state_dict's keys do not fit {name}: "
                         f"missing {missing}, unexpected {unexpected}; expected {list(current)}")
    for key, array in arrays.items():
        if array.shape != current[key].shape:
            raise ValueError(f"{path}: {key!r} has shape {tuple(array.shape)} in the file "
                             f"but {tuple(current[key].shape)} in the {name}")
    for key, array in arrays.items():
        if array.dtype != current[key].dtype:
            cast = ".double()" if array.dtype == np.float64 else ".float()"
            raise TypeError(f"{path}: {key!r} is {array.dtype} in the file but {current[key].dtype} in the {name}; "
                            f"cast the model with {cast} before importing")
    model.load_state_dict(arrays)
    return model


def _read_torch_state_dict(path):
    """name -> NumPy array (copies) from a torch state_dict file, read without unpickling code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "it is a directory, not a file") from None
    except Exception as error:  # UnpicklingError for forbidden globals, RuntimeError/EOFError for corrupt files
        raise ModelFileError(path, f"torch.load(weights_only=True) refused it ({type(error).__name__}: "
                                   f"{_first_sentence(error)})") from None
    if not isinstance(state, Mapping):
        raise ModelFileError(path, f"expected a state_dict (a dict of name -> tensor), got a {type(state).__name__}")
    arrays = OrderedDict()
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelFileError(path, f"expected a state_dict (a dict of name -> tensor), but {key!r} holds a "
                                       f"{type(value).__name__}; for a training checkpoint, "
                                       f"save its model state_dict alone")
        if value.layout != torch.strided or value.dtype not in _NUMPY_DTYPES:
            raise ModelFileError(path, f"{key!r} is a {value.layout} {value.dtype} tensor; "
                                       f"scratchnet holds dense float32, float64 and int64 arrays")
        arrays[key] = value.detach().numpy().copy()
    return arrays


def _first_sentence(error):
    """The useful part of torch's error: for a refused global, the WeightsUnpickler line."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    marker = "WeightsUnpickler error:"
    if marker in message:
        message = message.split(marker, 1)[1].strip()
        return message.split(". ", 1)[0].rstrip(".")
    return message.splitlines()[0] if message else "no message"
