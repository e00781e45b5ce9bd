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

Why every fault is caught: the magic and version are compared exactly, the header carries
its own SHA-256 (so a flipped bit in a shape or a name is caught, not misread), each array
its SHA-256, and the file's length must be exactly 52 + H + D. Any truncation, any flipped
bit and any appended byte therefore raises ``ModelFileError`` (a ``ValueError``) naming the
file and the reason; so do empty files, random bytes, pickles, zip archives (``torch.save``)
and ``.npy`` files. Loading never unpickles, never imports and never evaluates anything: the
class named in the header is looked up among the ``Module`` subclasses of
``scratchnet.models`` only, and its config is plain JSON passed as keyword arguments.
(The checksums detect corruption, not forgery: a deliberately crafted file can still name a
config for a model too large to build, which raises ``ModelFileError`` if NumPy refuses it.)

Writing goes to a temporary file ``.NAME.<random>.tmp`` beside the target, which is flushed,
fsync'ed and then renamed over the target with ``os.replace`` (atomic on POSIX and Windows):
readers see the old file or the new one, never half of one. A failed write (an exception,
including KeyboardInterrupt) deletes the temporary file; a process killed outright may leave
it behind, next to an intact target, and it is safe to delete.
"""

import errno
import hashlib
import json
import os
import secrets
import struct

import numpy as np

from scratchnet import models
from scratchnet._random import default_generator
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


class ModelFileError(ValueError):
    """A model file that cannot be loaded; ``.path`` is the file and ``.reason`` says why."""

    def __init__(self, path, reason):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot load model file {self.path!r}: {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


def model_classes():
    """name -> class for every model ``save`` accepts: ``scratchnet.models``' Modules with ``config()``."""
    return {
        name: obj for name, obj in vars(models).items()
        if isinstance(obj, type) and issubclass(obj, Module) and obj.__name__ == name
        and callable(getattr(obj, "config", None))
    }


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


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "no such directory to save into", directory)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    # O_EXCL: never follow or reuse an existing name; mode 0o666 lets the umask decide, as open() does.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
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
    data = _read(path)
    header, data_start = _parse_preamble_and_header(path, data)
    arrays = _parse_arrays(path, header, data, data_start)
    return _build_model(path, header, arrays)


def _read(path):
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "it is a directory, not a file") from None
    except OSError as error:
        raise ModelFileError(path, f"cannot read it ({error.strerror or error})") from None


def _foreign_file_reason(data):
    """Why ``data`` (not starting with MAGIC) is not a model file, naming what it looks like."""
    if data.startswith(b"PK\x03\x04"):
        return ("it is a zip archive (as torch.save and numpy.savez write), not a scratchnet model file; "
                "for a torch state_dict use parity.interchange.import_torch_state_dict")
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it is a Python pickle, which scratchnet never loads (unpickling can run arbitrary code)"
    if data.startswith(b"\x93NUMPY"):
        return "it is a NumPy .npy file, not a scratchnet model file"
    return f"not a scratchnet model file: it starts with {data[:8]!r}, expected {MAGIC!r}"


def _parse_preamble_and_header(path, data):
    if not data:
        raise ModelFileError(path, "the file is empty (0 bytes)")
    if data[:len(MAGIC)] != MAGIC[:len(data)]:
        raise ModelFileError(path, _foreign_file_reason(data))
    if len(data) < PREAMBLE_SIZE:
        raise ModelFileError(path, f"truncated: {len(data)} bytes, shorter than the {PREAMBLE_SIZE}-byte preamble")
    _, version, header_size, header_sha = _PREAMBLE.unpack_from(data)
    if version > FORMAT_VERSION:
        raise ModelFileError(path, f"format version {version} is newer than this scratchnet reads "
                                   f"(version {FORMAT_VERSION}); upgrade scratchnet")
    if version != FORMAT_VERSION:
        raise ModelFileError(path, f"invalid format version {version} (corrupted)")
    if header_size > len(data) - PREAMBLE_SIZE:
        raise ModelFileError(path, f"truncated or corrupted: the header should be {header_size} bytes "
                                   f"but only {len(data) - PREAMBLE_SIZE} bytes follow the preamble")
    header_bytes = data[PREAMBLE_SIZE:PREAMBLE_SIZE + header_size]
    if hashlib.sha256(header_bytes).digest() != header_sha:
        raise ModelFileError(path, "the header fails its SHA-256 check (the file is corrupted)")
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                            parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(path, f"the header is not valid JSON ({error})") from None
    _check_header(path, header)
    return header, PREAMBLE_SIZE + header_size


def _no_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in {keys}")
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def _is_count(value):
    return type(value) is int and value >= 0


def _check_header(path, header):
    def fail(reason):
        raise ModelFileError(path, f"invalid header: {reason}")

    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        fail(f"expected an object with keys {sorted(_HEADER_KEYS)}, "
             f"got {sorted(header) if isinstance(header, dict) else type(header).__name__}")
    if header["format"] != "scratchnet-model" or header["format_version"] != FORMAT_VERSION:
        fail(f"format {header['format']!r} version {header['format_version']!r}, "
             f"expected 'scratchnet-model' version {FORMAT_VERSION}")
    if not isinstance(header["class"], str):
        fail(f"class must be a string, got {header['class']!r}")
    config = header["config"]
    if not isinstance(config, dict) or not all(key.isidentifier() for key in config):
        fail(f"config must map argument names to values, got {config!r}")
    if not isinstance(header["arrays"], list):
        fail("arrays must be a list")
    names, expected_offset = set(), 0
    for entry in header["arrays"]:
        if not isinstance(entry, dict) or set(entry) != _ARRAY_KEYS:
            fail(f"each array needs exactly the keys {sorted(_ARRAY_KEYS)}, got {entry!r}")
        name = entry["name"]
        if not isinstance(name, str) or name in names:
            fail(f"array names must be distinct strings, got {name!r}")
        names.add(name)
        if entry["dtype"] not in DTYPES:
            fail(f"array {name!r} has dtype {entry['dtype']!r}; only {', '.join(DTYPES)} are allowed")
        shape = entry["shape"]
        if not isinstance(shape, list) or not all(_is_count(size) for size in shape):
            fail(f"array {name!r} has shape {shape!r}; expected a list of non-negative integers")
        nbytes = DTYPES[entry["dtype"]].itemsize * int(np.prod(shape, dtype=object))
        if entry["nbytes"] != nbytes or entry["offset"] != expected_offset:
            fail(f"array {name!r} should take {nbytes} bytes at offset {expected_offset}, "
                 f"the header says {entry['nbytes']!r} at {entry['offset']!r}")
        if not isinstance(entry["sha256"], str) or len(entry["sha256"]) != 64:
            fail(f"array {name!r} has no valid sha256")
        expected_offset += nbytes


def _parse_arrays(path, header, data, data_start):
    """name -> array (a fresh, native-order copy), after checking the file's length and every SHA-256."""
    data_size = sum(entry["nbytes"] for entry in header["arrays"])
    present = len(data) - data_start
    if present < data_size:
        raise ModelFileError(path, f"truncated: the arrays need {data_size} bytes but only {present} follow the header")
    if present > data_size:
        raise ModelFileError(path, f"{present - data_size} unexpected bytes after the last array "
                                   f"(corrupted or appended)")
    view = memoryview(data)[data_start:]
    arrays = {}
    for entry in header["arrays"]:
        blob = view[entry["offset"]:entry["offset"] + entry["nbytes"]]
        if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
            raise ModelFileError(path, f"array {entry['name']!r} fails its SHA-256 check (the data is corrupted)")
        stored = DTYPES[entry["dtype"]]
        native = stored.newbyteorder("=")  # a copy in the machine's byte order, writable
        arrays[entry["name"]] = np.frombuffer(blob, dtype=stored).reshape(entry["shape"]).astype(native)
    return arrays


def _build_model(path, header, arrays):
    name, config = header["class"], header["config"]
    cls = model_classes().get(name)
    if cls is None:
        raise ModelFileError(path, f"unknown model class {name!r}; "
                                   f"this scratchnet knows {', '.join(sorted(model_classes()))}")
    float_dtypes = {array.dtype for array in arrays.values() if array.dtype.kind == "f"}
    if len(float_dtypes) > 1:
        raise ModelFileError(path, f"mixed float dtypes {sorted(str(d) for d in float_dtypes)}; "
                                   f"a model has one float dtype")
    generator = default_generator()
    rng_state = generator.bit_generator.state  # building draws initial weights; loading must not move the seed
    try:
        model = cls(**config)
    except Exception as error:  # a config the constructor rejects, whatever it raises, is a bad file
        raise ModelFileError(path, f"cannot build {name}(**{config!r}): {type(error).__name__}: {error}") from None
    finally:
        generator.bit_generator.state = rng_state
    if float_dtypes:
        model.to(float_dtypes.pop())
    try:
        model.load_state_dict(arrays)
    except (TypeError, ValueError) as error:
        raise ModelFileError(path, f"the arrays do not fit {name}(**{config!r}): {error}") from None
    return model
