"""Moving trained weights between scratchnet and PyTorch through files.

- ``export_torch_state_dict(model, path)`` writes a scratchnet model's ``state_dict`` the way
  ``torch.save(torch_model.state_dict(), path)`` does: an OrderedDict of tensors (copies),
  under the same keys, so ``torch_model.load_state_dict(torch.load(path))`` works
  on the torchnet twin. The file is written atomically, like ``scratchnet.save``.
- ``import_torch_state_dict(model, path)`` reads such a file and copies its weights into
  ``model``, in three steps, each finished before the next begins:

  1. The archive. ``torch.save`` writes a zip archive: ``<name>/data.pkl`` (the pickled
     dict, which names each tensor's storage, dtype, shape and strides) and one record
     ``<name>/data/<key>`` per storage, stored uncompressed. Only a regular file is opened; a
     file that is not a zip archive is named for what it looks like (a scratchnet model, a
     pickle), and from the zip's directory alone -- before a byte is inflated -- the records
     must declare no more bytes than the file holds (an uncompressed archive always does, a
     zip bomb does not) and ``data.pkl`` must be no larger than a state_dict of ``model``'s
     size needs. So reading it costs at most about the file's size.
  2. The metadata. ``torch.load(file, weights_only=True)`` -- torch's restricted unpickler,
     which rebuilds tensors and containers and refuses every other global, so a hostile
     file cannot run code -- rebuilds the tensors as views of their storages (torch checks
     that each record holds the bytes its storage declares and each view lies inside its
     storage). Nothing is copied: a tensor of shape (30000, 20000) expanded from one number
     costs 4 bytes here. Every value must be a dense, strided float32, float64 or int64
     tensor (not nested, not on the meta device, without torch's lazy negation bit), and its
     key, shape and dtype must fit ``model``.
  3. The copy. Only then does ``model.load_state_dict`` copy each tensor (through a NumPy
     view of it) into the model's own arrays; nothing else is allocated.

  A file that fails steps 1-2 raises ``scratchnet.ModelFileError`` naming the file; a
  state_dict that does not fit the model raises ValueError (a missing or unexpected key, or a
  key with both shapes) or TypeError (a dtype, with the cast to make), naming the file. In
  every case the model is unchanged.

Why safetensors is not supported: see "Design notes" in the README.
"""

import re
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch

from scratchnet.serialization import MAGIC, ModelFileError, atomic_write, open_regular_file

# torch dtype -> NumPy dtype for the arrays a scratchnet state_dict holds.
_NUMPY_DTYPES = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
    torch.int64: np.dtype(np.int64),
}
# data.pkl of a state_dict takes about 150 bytes per tensor plus its key; this allows a
# pickle for many more tensors than the model holds (a wrong config still gets the key
# message) while bounding what the unpickler can build.
_PICKLE_BYTES_BASE = 64 * 1024
_PICKLE_BYTES_PER_KEY = 1024
# What torch.save(..., _use_new_zipfile_serialization=False) writes first: its magic number, pickled.
_LEGACY_TORCH_START = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
_NAMES_SHOWN = 8  # a message names this many keys at most, then "and N more"
_NAME_CHARS = 80  # and this many characters of one key


def export_torch_state_dict(model, path):
    """Write ``model.state_dict()`` as a torch state_dict file (tensors are copies)."""
    state = OrderedDict((name, torch.tensor(array)) for name, array in model.state_dict().items())
    atomic_write(path, lambda file: torch.save(state, file))


def import_torch_state_dict(model, path):
    """Load the torch state_dict file at ``path`` into the scratchnet ``model``; returns ``model``."""
    expected = {key: (array.shape, array.dtype) for key, array in model.state_dict().items()}
    max_pickle_bytes = _PICKLE_BYTES_BASE + _PICKLE_BYTES_PER_KEY * len(expected)
    tensors = _read_torch_state_dict(path, max_pickle_bytes)
    _check_fits(path, tensors, expected, type(model).__name__)
    model.load_state_dict({key: tensor.detach().numpy() for key, tensor in tensors.items()})  # copies the views
    return model


def _check_fits(path, tensors, expected, name):
    """Every key, shape and dtype of the file's ``tensors`` against the model's: key -> (shape, dtype)."""
    missing = [key for key in expected if key not in tensors]
    unexpected = [key for key in tensors if key not in expected]
    if missing or unexpected:
        raise ValueError(f"{path}: the state_dict's keys do not fit {name}: missing {_names(missing)}, "
                         f"unexpected {_names(unexpected)}; expected {_names(list(expected))}")
    for key, tensor in tensors.items():
        shape = expected[key][0]
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{path}: {key!r} has shape {tuple(tensor.shape)} in the file but {shape} in the {name}")
    for key, tensor in tensors.items():
        dtype = _NUMPY_DTYPES[tensor.dtype]
        if dtype != expected[key][1]:
            cast = ".double()" if dtype == np.float64 else ".float()"
            raise TypeError(f"{path}: {key!r} is {dtype} in the file but {expected[key][1]} in the {name}; "
                            f"cast the model with {cast} before importing")


def _read_torch_state_dict(path, max_pickle_bytes):
    """name -> tensor (views of the file's storages; nothing copied) from a checked torch state_dict file."""
    with open_regular_file(path) as file:
        _check_archive(path, file, max_pickle_bytes)
        file.seek(0)
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as error:  # UnpicklingError for forbidden globals, RuntimeError for corrupt records
            raise ModelFileError(path, f"torch.load(weights_only=True) refused it ({type(error).__name__}: "
                                       f"{_first_sentence(error)})") from None
    if not isinstance(state, Mapping):
        raise ModelFileError(path, f"expected a state_dict (a dict of name -> tensor), got a {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelFileError(path, f"expected a state_dict (a dict of name -> tensor), but {_name(key)} holds "
                                       f"a {type(value).__name__}; for a training checkpoint, "
                                       f"save its model state_dict alone")
        reason = _unsupported_tensor_reason(value)
        if reason:
            raise ModelFileError(path, f"{_name(key)} {reason}")
    return state


def _unsupported_tensor_reason(tensor):
    """Why ``tensor`` cannot become a NumPy array of scratchnet's, or None."""
    if tensor.is_nested:
        return "is a nested tensor (a list of tensors of different shapes); scratchnet holds dense arrays"
    if tensor.is_meta:
        return "is a meta tensor: it has a shape but no values (saved from a model built on the meta device)"
    if tensor.layout != torch.strided or tensor.dtype not in _NUMPY_DTYPES:
        return (f"is a {tensor.layout} {tensor.dtype} tensor; "
                f"scratchnet holds dense float32, float64 and int64 arrays")
    if tensor.is_neg():
        return "has torch's negative bit set (a lazy negation view); save it after .resolve_neg()"
    return None


def _check_archive(path, file, max_pickle_bytes):
    """Refuse what is not a torch zip archive, or declares more bytes than it can hold, before inflating any."""
    start = file.read(len(_LEGACY_TORCH_START))
    file.seek(0)
    if not start.startswith(b"PK\x03\x04"):
        raise ModelFileError(path, _not_a_zip_reason(start))
    try:
        with zipfile.ZipFile(file) as archive:  # reads the zip's directory only; the file stays open
            records = archive.infolist()
    except Exception as error:  # BadZipFile, and whatever else a mangled directory makes zipfile raise
        raise ModelFileError(path, f"it is not a readable zip archive ({type(error).__name__}: {error})") from None
    names = [record.filename for record in records]
    if any(name.endswith("/constants.pkl") for name in names):
        raise ModelFileError(path, "it is a TorchScript archive (torch.jit.save), not a state_dict file; "
                                   "write one with torch.save(model.state_dict(), path)")
    pickles = [record for record in records if record.filename.endswith("/data.pkl")]
    if not pickles:
        raise ModelFileError(path, f"it is a zip archive but not a torch file: torch.save's archives hold "
                                   f"<name>/data.pkl, this one holds {_names(names)}")
    file_size = file.seek(0, 2)
    declared = sum(record.file_size for record in records)
    if declared > file_size:
        raise ModelFileError(path, f"its records declare {declared:,} bytes uncompressed in a file of "
                                   f"{file_size:,} bytes; torch.save stores records uncompressed, "
                                   f"so this archive is refused before anything is inflated")
    largest = max(record.file_size for record in pickles)
    if largest > max_pickle_bytes:
        raise ModelFileError(path, f"its data.pkl declares {largest:,} bytes, more than a state_dict for this "
                                   f"model can need ({max_pickle_bytes:,} at most); it is not unpickled")


def _not_a_zip_reason(start):
    """What a file starting with ``start`` looks like, since it is not the zip archive torch.save writes."""
    if not start:
        return "it is empty (0 bytes), not a torch file"
    if start.startswith(MAGIC):
        return ("it is a scratchnet model file, not a torch file; load it with scratchnet.load "
                "(python -m scratchnet --load)")
    if start == _LEGACY_TORCH_START:
        return ("it is in torch's legacy format (before PyTorch 1.6), which is not read here: re-save it in "
                "PyTorch with torch.save(torch.load(path, weights_only=True), path)")
    if start[:1] == b"\x80":
        return ("it is a raw pickle, not a torch file: torch.save (since PyTorch 1.6) writes a zip archive; "
                "raw pickles are never unpickled here")
    return (f"it is not a torch file: torch.save writes a zip archive, which starts b'PK\\x03\\x04'; "
            f"this file starts {start[:8]!r}")


def _name(key):
    """``repr(key)``, cut to a readable length."""
    text = repr(key)
    return text if len(text) <= _NAME_CHARS else f"{text[:_NAME_CHARS]}... ({len(text):,} characters)"


def _names(keys):
    """A list of keys for a message: the first few, then how many more."""
    shown = "[" + ", ".join(_name(key) for key in keys[:_NAMES_SHOWN]) + "]"
    return shown if len(keys) <= _NAMES_SHOWN else f"{shown} and {len(keys) - _NAMES_SHOWN:,} more"


def _first_sentence(error):
    """The useful part of torch's error: for a refused global, the WeightsUnpickler line."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    marker = "WeightsUnpickler error:"
    if marker in message:
        message = message.split(marker, 1)[1].strip()
        return message.split(". ", 1)[0].rstrip(".")
    return message.splitlines()[0] if message else "no message"
