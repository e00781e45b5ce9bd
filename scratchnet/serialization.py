r"""``save`` and ``load``: a model in one file of numbers and a JSON header, never a pickle.

``scratchnet.save(model, path)`` stores a model of ``scratchnet.models`` (any class there
with a ``config()`` method); ``scratchnet.load(path)`` rebuilds it as ``cls(**config)``, in
the saved dtype, and copies the weights in with ``load_state_dict``. The round trip is bit
for bit, NaN payloads and signed zeros included.

The file, byte by byte (all integers little-endian)::

    offset   size  field
    0        8     magic  b"\x89SCRNET\n"  (the 0x89 and the newline catch text-mode mangling)
    8        4     format version, uint32 (this code writes and reads version 1)
    12       8     header length H in bytes, uint64
    20       32    SHA-256 of the H header bytes
    52       H     header: UTF-8 JSON, padded with spaces so the data starts at a multiple of 64
    52 + H   D     data: each array's raw bytes, little-endian, C order, back to back in
                   header order; the file ends exactly here (D = sum of the arrays' nbytes)

The header::

    {"format": "scratchnet-model", "format_version": 1,
     "class": "MLP", "config": {"input_dim": 20, "hidden_dim": 64, "output_dim": 2},
     "arrays": [{"name": "net.0.weight", "dtype": "float32", "shape": [64, 20],
                 "offset": 0, "nbytes": 5120, "sha256": "<64 hex digits>"}, ...]}

``offset`` counts from the start of the data; the arrays tile the data with no gaps or
overlaps. ``dtype`` is one of float32, float64 and int64 (integer buffers such as a
BatchNorm's ``num_batches_tracked``); nothing else is accepted, objects least of all.

Loading checks, in this order, and reads no further than the first failure:

1. the path is a regular file (a device such as /dev/zero never ends, a FIFO waits for a
   writer: both are refused before a byte is read, as are directories and sockets);
2. the magic, the version, the header's length (within the file's size) and its SHA-256;
3. the header's fields, each of its type (offsets and byte counts are integers, a dtype is one
   of the three names, a shape at most 32 sizes below 2**63), the arrays tiling the data, and
   the data's length against the file's size;
4. the arrays the config implies -- their names and shapes, worked out arithmetically by
   ``ARRAY_SHAPES`` without building anything -- against the header's table. So a model is
   built only when its weights are the file's own bytes: a 192-byte file cannot make it
   allocate gigabytes by claiming ``hidden_dim: 20000`` or ``num_layers: 10**7``;
5. each array's SHA-256, then ``cls(**config)`` and ``load_state_dict``.

Any truncation, any flipped bit and any appended byte therefore raises ``ModelFileError`` (a
``ValueError``) naming the file and the reason; so do empty files, random bytes, pickles, zip
archives (``torch.save``), ``.npy`` files and every crafted header. Reasons stay short: a
long name is cut and a long list of keys names the first few, then "and N more". Loading
never unpickles, never imports and never evaluates anything: the class named in the header is
looked up among the ``Module`` subclasses of ``scratchnet.models`` only, and its config is
plain JSON passed as keyword arguments. (The checksums detect corruption, not forgery.)

Saving writes to a temporary file ``.NAME.<random>.tmp`` beside the target (NAME cut to its
first 40 characters, so a long file name still leaves room), which is flushed, fsync'ed and
then renamed over the target with ``os.replace`` (atomic on POSIX and Windows): readers see
the old file or the new one, never half of one. Only a regular file is ever replaced: a
symlink is written through (its target is replaced, the link stays), and a directory, FIFO,
device or socket is refused before anything is written (``os.replace`` would swap /dev/null
for a regular file). The new file keeps the old one's permission bits. A failed write (an
exception, including KeyboardInterrupt) deletes the temporary file; a process killed outright
may leave it behind, next to an intact target, and it is safe to delete.
"""

import errno
import hashlib
import inspect
import itertools
import json
import math
import os
import re
import secrets
import stat
import struct

import numpy as np

from scratchnet import models
from scratchnet._checks import shape_str
from scratchnet._random import default_generator
from scratchnet.models import hidden_widths
from scratchnet.nn.conv import pair
from scratchnet.nn.module import Module

MAGIC = b"\x89SCRNET\n"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sIQ32s")  # magic, version, header length, header SHA-256
PREAMBLE_SIZE = _PREAMBLE.size  # 52
_ALIGNMENT = 64
# The arrays' dtypes by name, as stored (little-endian); nothing else is written or read.
DTYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8"), "int64": np.dtype("<i8")}
_HEADER_KEYS = {"format", "format_version", "class", "config", "arrays"}
_ARRAY_KEYS = {"name", "dtype", "shape", "offset", "nbytes", "sha256"}
_MAX_NDIM = 32  # NumPy 1.x's limit; scratchnet's arrays have at most 4 dimensions
_MAX_SIZE = 2**63  # NumPy's sizes and byte counts are signed 64-bit integers
_TEMPORARY_STEM = 40  # characters of the target's name kept in the temporary file's name


class ModelFileError(ValueError):
    """A model file that cannot be loaded; ``.path`` is the file and ``.reason`` says why."""

    MAX_REASON = 2000  # characters: a safety net, the reasons are built short

    def __init__(self, path, reason):
        self.path = os.fspath(path)
        self.reason = _cut(reason, self.MAX_REASON)
        super().__init__(f"cannot load model file {self.path!r}: {self.reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


def model_classes():
    """name -> class for every model ``save`` accepts: ``scratchnet.models``' Modules with ``config()``."""
    return {
        name: obj for name, obj in vars(models).items()
        if isinstance(obj, type) and issubclass(obj, Module) and obj.__name__ == name
        and callable(getattr(obj, "config", None))
    }


# -- the arrays a config implies, worked out without building the model ---------------------------
#
# Each function takes the constructor's arguments and yields (state_dict key, shape) in
# state_dict order, lazily (a config may claim 10**7 layers; the loader reads only as many as
# the file holds, plus one). A test checks them against the built models for every class.


def _count(value, name):
    """A size from a config: a non-negative int (never a bool, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {_short(value)}")
    return value


def _mlp_arrays(input_dim, hidden_dim, output_dim, **_):
    """net.{2i}.weight (fan_out, fan_in) and net.{2i}.bias (fan_out,) per Linear; activations hold none."""
    widths = [_count(input_dim, "input_dim"), *hidden_widths(hidden_dim), _count(output_dim, "output_dim")]
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        yield f"net.{2 * i}.weight", (fan_out, fan_in)
        yield f"net.{2 * i}.bias", (fan_out,)


def _cnn_arrays(in_channels, num_classes, channels, kernel_size, image_size, **_):
    """Per stage (Conv2d, ReLU, MaxPool2d) net.{3s}.weight (c_out, c_in, kH, kW) and .bias; then Flatten, Linear."""
    if not isinstance(channels, (list, tuple)) or not channels:
        raise ValueError(f"channels must be a non-empty list of integers, got {_short(channels)}")
    channels = [_count(c, "channels") for c in channels]
    kh, kw = pair(kernel_size, "kernel_size", "Conv2d")
    final_size = _count(image_size, "image_size") // 2 ** len(channels)  # each MaxPool2d(2) halves it
    for stage, (c_in, c_out) in enumerate(zip([_count(in_channels, "in_channels"), *channels[:-1]], channels)):
        yield f"net.{3 * stage}.weight", (c_out, c_in, kh, kw)
        yield f"net.{3 * stage}.bias", (c_out,)
    linear = 3 * len(channels) + 1  # after the stages and the Flatten
    yield f"net.{linear}.weight", (_count(num_classes, "num_classes"), channels[-1] * final_size * final_size)
    yield f"net.{linear}.bias", (num_classes,)


# Gate blocks stacked in a recurrent layer's weights (torch's layout): RNN h, GRU r z n, LSTM i f g o.
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _sequence_classifier_arrays(input_size, hidden_size, num_classes, cell, num_layers, **_):
    """rnn.{weight,bias}_{ih,hh}_l{k} per layer (gates * hidden rows), then head.weight and head.bias."""
    if not isinstance(cell, str) or cell not in _GATES:
        raise ValueError(f"cell must be one of {sorted(_GATES)}, got {_short(cell)}")
    gate_size = _GATES[cell] * _count(hidden_size, "hidden_size")
    for layer in range(_count(num_layers, "num_layers")):
        layer_input = _count(input_size, "input_size") if layer == 0 else hidden_size
        yield f"rnn.weight_ih_l{layer}", (gate_size, layer_input)
        yield f"rnn.weight_hh_l{layer}", (gate_size, hidden_size)
        yield f"rnn.bias_ih_l{layer}", (gate_size,)
        yield f"rnn.bias_hh_l{layer}", (gate_size,)
    yield "head.weight", (_count(num_classes, "num_classes"), hidden_size)
    yield "head.bias", (num_classes,)


def _gpt_arrays(vocab_size, block_size, n_layer, n_head, n_embd, **_):
    """wte (V, C), wpe (block_size, C); per block ln_1, attn, ln_2 and mlp (C -> 4C -> C); ln_f; lm_head (no bias)."""
    C = _count(n_embd, "n_embd")
    yield "wte.weight", (_count(vocab_size, "vocab_size"), C)
    yield "wpe.weight", (_count(block_size, "block_size"), C)
    for layer in range(_count(n_layer, "n_layer")):
        for name, shape in [("ln_1.weight", (C,)), ("ln_1.bias", (C,)),
                            ("attn.in_proj_weight", (3 * C, C)), ("attn.in_proj_bias", (3 * C,)),
                            ("attn.out_proj.weight", (C, C)), ("attn.out_proj.bias", (C,)),
                            ("ln_2.weight", (C,)), ("ln_2.bias", (C,)),
                            ("mlp.0.weight", (4 * C, C)), ("mlp.0.bias", (4 * C,)),
                            ("mlp.2.weight", (C, 4 * C)), ("mlp.2.bias", (C,))]:
            yield f"h.{layer}.{name}", shape
    yield "ln_f.weight", (C,)
    yield "ln_f.bias", (C,)
    yield "lm_head.weight", (vocab_size, C)


ARRAY_SHAPES = {"MLP": _mlp_arrays, "CNN": _cnn_arrays, "SequenceClassifier": _sequence_classifier_arrays,
                "GPT": _gpt_arrays}


# -- saving -------------------------------------------------------------------------------------


def save(model, path):
    """Write ``model`` (class, ``config()`` and ``state_dict()``) to ``path``, atomically."""
    cls = type(model)
    known = model_classes()
    if known.get(cls.__name__) is not cls:
        raise TypeError(f"scratchnet.save saves the models of scratchnet.models that have a config() method "
                        f"({', '.join(sorted(known))}); got {cls.__module__}.{cls.__qualname__}")
    config = model.config()
    try:
        config = json.loads(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{cls.__name__}.config() must return a dict of JSON values, "
                        f"got {config!r} ({error})") from None
    if not isinstance(config, dict):
        raise TypeError(f"{cls.__name__}.config() must return a dict, got {type(config).__name__}")

    entries, blobs, offset = [], [], 0
    for name, array in model.state_dict().items():
        if array.dtype.name not in DTYPES:
            raise TypeError(f"scratchnet.save stores float32, float64 and int64 arrays; {name!r} is {array.dtype}")
        blob = np.ascontiguousarray(array, dtype=DTYPES[array.dtype.name]).tobytes()
        entries.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape),
                        "offset": offset, "nbytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()})
        blobs.append(blob)
        offset += len(blob)

    header = {"format": "scratchnet-model", "format_version": FORMAT_VERSION,
              "class": cls.__name__, "config": config, "arrays": entries}
    header_bytes = json.dumps(header, separators=(",", ":")).encode("ascii")
    header_bytes += b" " * (-(PREAMBLE_SIZE + len(header_bytes)) % _ALIGNMENT)
    preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest())
    atomic_write(path, lambda file: _write_parts(file, [preamble, header_bytes, *blobs]))


def _write_parts(file, parts):
    for part in parts:
        file.write(part)


def save_target(path):
    """The regular file that saving to ``path`` replaces, and its ``os.stat`` (None if it does not exist yet).

    A symlink resolves to its target. A directory, FIFO, device or socket raises OSError naming
    it, before anything is written; so does a missing directory. Callers may use it to check a
    destination before long work.
    """
    path = os.fspath(path)
    target = os.path.realpath(path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise IsADirectoryError(errno.EISDIR, "cannot save over a directory; give a file name", path)
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        link = (None, target) if target != os.path.abspath(path) else ()  # (winerror, filename2)
        raise OSError(errno.EINVAL, f"cannot save over {_file_kind(existing.st_mode)} "
                                    f"(only a regular file is replaced)", path, *link)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "no such directory to save into", directory)
    return target, existing


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    ``path`` must name a regular file or nothing yet (see ``save_target``); a symlink is written
    through. An existing file's permission bits are kept. On any exception the temporary file
    is removed and ``path`` is left as it was.
    """
    target, existing = save_target(path)
    directory = os.path.dirname(target)
    name = f".{os.path.basename(target)[:_TEMPORARY_STEM]}.{secrets.token_hex(8)}.tmp"
    temporary = os.path.join(directory, name)
    # O_EXCL: never follow or reuse an existing name; mode 0o666 lets the umask decide, as open() does.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            if existing is not None:
                os.chmod(temporary, stat.S_IMODE(existing.st_mode))
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- loading ------------------------------------------------------------------------------------


def load(path):
    """Rebuild the model saved at ``path``; raises ``ModelFileError`` for any bad or foreign file."""
    with open_regular_file(path) as file:
        size = os.fstat(file.fileno()).st_size
        header, data_start = _read_header(path, file, size)
        _check_arrays_fit_config(path, header)
        data = _read_data(path, file, header, size - data_start)
    arrays = _parse_arrays(path, header, data)
    return _build_model(path, header, arrays)


def open_regular_file(path):
    """``path`` opened for binary reading; ``ModelFileError`` if it is missing, unreadable or not a regular file.

    /dev/zero and /dev/urandom never end and a FIFO waits for a writer, so what the path is
    gets checked on the open descriptor (opened non-blocking) before a byte is read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the name
        raise ModelFileError(path, _unopenable_reason(path, error)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ModelFileError(path, _not_regular_reason(mode))
    return os.fdopen(fd, "rb")


def _file_kind(mode):
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((kind for is_kind, kind in kinds if is_kind(mode)), "not a regular file")


def _not_regular_reason(mode):
    return f"it is {_file_kind(mode)}, not a regular file; model files are read from regular files only"


def _unopenable_reason(path, error):
    """Why ``os.open`` failed: what the path is when that is the cause (a socket), else the OS's words."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        return _not_regular_reason(mode)
    return f"cannot read it ({getattr(error, 'strerror', None) or error})"


def _foreign_file_reason(start):
    """Why a file starting with ``start`` (not MAGIC) is not a model file, naming what it looks like."""
    if start.startswith(b"PK\x03\x04"):
        return ("it is a zip archive (as torch.save and numpy.savez write), not a scratchnet model file; "
                "for a torch state_dict use parity.interchange.import_torch_state_dict")
    if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it is a Python pickle, which scratchnet never loads (unpickling can run arbitrary code)"
    if start.startswith(b"\x93NUMPY"):
        return "it is a NumPy .npy file, not a scratchnet model file"
    return f"not a scratchnet model file: it starts with {start[:8]!r}, expected {MAGIC!r}"


def _read_header(path, file, size):
    """The checked header and where the data starts, reading the preamble and the header only."""
    start = file.read(PREAMBLE_SIZE)
    if not start:
        raise ModelFileError(path, "the file is empty (0 bytes)")
    if start[:len(MAGIC)] != MAGIC[:len(start)]:
        raise ModelFileError(path, _foreign_file_reason(start))
    if len(start) < PREAMBLE_SIZE:
        raise ModelFileError(path, f"truncated: {len(start)} bytes, shorter than the {PREAMBLE_SIZE}-byte preamble")
    _, version, header_size, header_sha = _PREAMBLE.unpack(start)
    if version > FORMAT_VERSION:
        raise ModelFileError(path, f"format version {version} is newer than this scratchnet reads "
                                   f"(version {FORMAT_VERSION}); upgrade scratchnet")
    if version != FORMAT_VERSION:
        raise ModelFileError(path, f"invalid format version {version} (corrupted)")
    if header_size > size - PREAMBLE_SIZE:
        raise ModelFileError(path, f"truncated or corrupted: the header should be {header_size} bytes "
                                   f"but only {size - PREAMBLE_SIZE} bytes follow the preamble")
    header_bytes = file.read(header_size)
    if len(header_bytes) != header_size:
        raise ModelFileError(path, "truncated while it was read (the file changed)")
    if hashlib.sha256(header_bytes).digest() != header_sha:
        raise ModelFileError(path, "the header fails its SHA-256 check (the file is corrupted)")
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                            parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(path, f"the header is not valid JSON ({_cut(str(error), 200)})") from None
    _check_header(path, header)
    return header, PREAMBLE_SIZE + header_size


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {_short(key)}")
        result[key] = value
    return result


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def _is_count(value):
    return type(value) is int and value >= 0


def _check_header(path, header):
    """Every field of its type and in range; the arrays tile the data; one float dtype."""
    def fail(reason):
        raise ModelFileError(path, f"invalid header: {reason}")

    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        got = _some(sorted(header)) if isinstance(header, dict) else type(header).__name__
        fail(f"expected an object with keys {sorted(_HEADER_KEYS)}, got {got}")
    if header["format"] != "scratchnet-model" or type(header["format_version"]) is not int \
            or header["format_version"] != FORMAT_VERSION:
        fail(f"format {_short(header['format'])} version {_short(header['format_version'])}, "
             f"expected 'scratchnet-model' version {FORMAT_VERSION}")
    if not isinstance(header["class"], str):
        fail(f"class must be a string, got {_short(header['class'])}")
    config = header["config"]
    if not isinstance(config, dict) or not all(key.isidentifier() for key in config):
        fail(f"config must map argument names to values, got {_short(config)}")
    if not isinstance(header["arrays"], list):
        fail(f"arrays must be a list, got {_short(header['arrays'])}")
    names, expected_offset = set(), 0
    for entry in header["arrays"]:
        if not isinstance(entry, dict) or set(entry) != _ARRAY_KEYS:
            fail(f"each array needs exactly the keys {sorted(_ARRAY_KEYS)}, got {_short(entry)}")
        name = entry["name"]
        if not isinstance(name, str) or name in names:
            fail(f"array names must be distinct strings, got {_short(name)}")
        names.add(name)
        name = _short(name)
        dtype = entry["dtype"]
        if not isinstance(dtype, str) or dtype not in DTYPES:
            fail(f"array {name} has dtype {_short(dtype)}; only {', '.join(DTYPES)} are allowed")
        shape = entry["shape"]
        if not isinstance(shape, list) or not all(_is_count(size) for size in shape):
            fail(f"array {name} has shape {_short(shape)}; expected a list of non-negative integers")
        if len(shape) > _MAX_NDIM:
            fail(f"array {name} has {len(shape)} dimensions; at most {_MAX_NDIM} are allowed")
        # NumPy's rule: the product of the non-zero sizes, in bytes, fits a signed 64-bit integer.
        if math.prod(size for size in shape if size) * DTYPES[dtype].itemsize >= _MAX_SIZE:
            fail(f"array {name} has shape {_short(shape)}, too large for any array (2**63 bytes or more)")
        nbytes = DTYPES[dtype].itemsize * math.prod(shape)
        if not _is_count(entry["nbytes"]) or not _is_count(entry["offset"]) \
                or entry["nbytes"] != nbytes or entry["offset"] != expected_offset:
            fail(f"array {name} should take {nbytes} bytes at offset {expected_offset}, "
                 f"the header says {_short(entry['nbytes'])} at {_short(entry['offset'])}")
        if not isinstance(entry["sha256"], str) or not re.fullmatch("[0-9a-f]{64}", entry["sha256"]):
            fail(f"array {name} has no valid sha256 (64 lowercase hex digits), got {_short(entry['sha256'])}")
        expected_offset += nbytes
    float_dtypes = sorted({entry["dtype"] for entry in header["arrays"]} - {"int64"})
    if len(float_dtypes) > 1:
        raise ModelFileError(path, f"mixed float dtypes {float_dtypes}; a model has one float dtype")


def _check_arrays_fit_config(path, header):
    """The names and shapes the config implies equal the header's table, before anything is built.

    The table has been checked against the file's size, so a model that passes holds exactly
    the file's bytes of weights. The config's arrays are generated lazily and at most one more
    than the file holds is looked at, so a config claiming 10**7 layers costs nothing.
    """
    name, config, entries = header["class"], header["config"], header["arrays"]
    cls = model_classes().get(name)
    if cls is None:
        raise ModelFileError(path, f"unknown model class {_short(name)}; "
                                   f"this scratchnet knows {', '.join(sorted(model_classes()))}")
    model = f"{name}(**{_short(config, 200)})"
    try:
        arguments = inspect.signature(cls).bind(**config)
        arguments.apply_defaults()
        implied = dict(itertools.islice(ARRAY_SHAPES[name](**arguments.arguments), len(entries) + 1))
    except Exception as error:  # a config the arithmetic rejects would make the constructor fail too
        raise ModelFileError(path, f"cannot build {model}: {type(error).__name__}: {_cut(str(error), 200)}") from None
    stored = {entry["name"]: tuple(entry["shape"]) for entry in entries}
    missing = [key for key in implied if key not in stored]
    if len(implied) > len(entries):  # not all generated: which stored keys the config implies is unknown
        raise ModelFileError(path, f"the arrays do not fit {model}: it implies more than the file's "
                                   f"{len(entries)} arrays; missing keys {_some(missing)} and more")
    unexpected = [key for key in stored if key not in implied]
    if missing or unexpected:
        parts = [f"missing keys {_some(missing)}"] if missing else []
        parts += [f"unexpected keys {_some(unexpected)}"] if unexpected else []
        raise ModelFileError(path, f"the arrays do not fit {model}: {'; '.join(parts)}")
    for key, shape in implied.items():
        if tuple(shape) != stored[key]:
            raise ModelFileError(path, f"the arrays do not fit {model}: {_short(key)} has shape "
                                       f"{shape_str(stored[key])} in the file but {_shape_text(shape)} "
                                       f"in the model")


def _read_data(path, file, header, present):
    """The data's bytes, after checking that the file holds exactly what the header describes."""
    data_size = sum(entry["nbytes"] for entry in header["arrays"])
    if present < data_size:
        raise ModelFileError(path, f"truncated: the arrays need {data_size} bytes but only {present} follow the header")
    if present > data_size:
        raise ModelFileError(path, f"{present - data_size} unexpected bytes after the last array "
                                   f"(corrupted or appended)")
    data = file.read(data_size)
    if len(data) != data_size or file.read(1):
        raise ModelFileError(path, "its length changed while it was read")
    return data


def _parse_arrays(path, header, data):
    """name -> array (read-only views of ``data``, native byte order), after checking every SHA-256."""
    view = memoryview(data)
    arrays = {}
    for entry in header["arrays"]:
        blob = view[entry["offset"]:entry["offset"] + entry["nbytes"]]
        if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
            raise ModelFileError(path, f"array {_short(entry['name'])} fails its SHA-256 check (the data is corrupted)")
        stored = DTYPES[entry["dtype"]]
        array = np.frombuffer(blob, dtype=stored).reshape(entry["shape"])
        # load_state_dict copies the values in, so a view is enough where the byte order is already the machine's.
        arrays[entry["name"]] = array if stored.isnative else array.astype(stored.newbyteorder("="))
    return arrays


def _build_model(path, header, arrays):
    name, config = header["class"], header["config"]
    model_text = f"{name}(**{_short(config, 200)})"
    float_dtypes = {array.dtype for array in arrays.values() if array.dtype.kind == "f"}
    generator = default_generator()
    rng_state = generator.bit_generator.state  # building draws initial weights; loading must not move the seed
    try:
        model = model_classes()[name](**config)
    except Exception as error:  # a config the constructor rejects, whatever it raises, is a bad file
        raise ModelFileError(path, f"cannot build {model_text}: {type(error).__name__}: "
                                   f"{_cut(str(error), 200)}") from None
    finally:
        generator.bit_generator.state = rng_state
    if float_dtypes:
        model.to(float_dtypes.pop())
    try:
        model.load_state_dict(arrays)
    except (TypeError, ValueError) as error:
        raise ModelFileError(path, f"the arrays do not fit {model_text}: {_cut(str(error), 300)}") from None
    return model


# -- short messages -------------------------------------------------------------------------------


def _cut(text, limit):
    """``text``, or its first ``limit`` characters and how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _short(value, limit=60):
    """``repr(value)``, cut to ``limit`` characters (a header may hold a 10 MB name)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"
    return _cut(repr(value), limit)


def _shape_text(shape):
    """A shape the config implies, its sizes of 2**63 and more (up to 8600 digits) written as such."""
    return shape_str(tuple(size if size < _MAX_SIZE else "2**63 or more" for size in shape))


def _some(names, first=5):
    """The first few names, then "and N more" (a header may hold 10**5 arrays)."""
    shown = "[" + ", ".join(_short(name) for name in names[:first]) + "]"
    return shown if len(names) <= first else f"{shown} and {len(names) - first} more"
