"""scratchnet.save / scratchnet.load: bit-exact round trips, the documented layout, every file fault.

Every model class of scratchnet.models that has config() is covered automatically; a new one
needs a small config below only if its constructor has required arguments, and an example
input (for the output checks, here and in test_interchange.py).
"""

import hashlib
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
import scratchnet
from scratchnet import ModelFileError, serialization
from scratchnet.serialization import MAGIC, PREAMBLE_SIZE, model_classes

MODEL_CLASSES = sorted(model_classes().items())


# Small constructor arguments per model class (for classes whose arguments have no defaults).
SMALL_CONFIGS = {
    "MLP": {"input_dim": 3, "hidden_dim": 5, "output_dim": 2},
    "CNN": {"in_channels": 2, "num_classes": 3, "channels": [3, 4], "kernel_size": 3, "image_size": 4},
    "SequenceClassifier": {"input_size": 3, "hidden_size": 4, "num_classes": 2, "cell": "gru", "num_layers": 2},
    "GPT": {"vocab_size": 7, "block_size": 5, "n_layer": 2, "n_head": 2, "n_embd": 4},
}

# An input batch per model class, built from its config.
EXAMPLE_INPUTS = {
    "MLP": lambda config, rng, dtype: rng.standard_normal((4, config["input_dim"])).astype(dtype),
    "CNN": lambda config, rng, dtype: rng.standard_normal(
        (2, config["in_channels"], config["image_size"], config["image_size"])).astype(dtype),
    "SequenceClassifier": lambda config, rng, dtype: rng.standard_normal((4, 5, config["input_size"])).astype(dtype),
    "GPT": lambda config, rng, dtype: rng.integers(0, config["vocab_size"], (2, config["block_size"])),  # token ids
}


def example_model(cls, dtype=np.float64, seed=0):
    scratchnet.manual_seed(seed)
    config = SMALL_CONFIGS.get(cls.__name__, {})
    try:
        model = cls(**config)
    except TypeError as error:
        pytest.fail(f"add small constructor arguments for {cls.__name__} to SMALL_CONFIGS in "
                    f"tests/test_serialization.py ({error})")
    return model.to(dtype)


def example_input(model, dtype, seed=0):
    name = type(model).__name__
    if name not in EXAMPLE_INPUTS:
        pytest.fail(f"add an example input for {name} to EXAMPLE_INPUTS in tests/test_serialization.py")
    return EXAMPLE_INPUTS[name](model.config(), np.random.default_rng(seed), dtype)


def fill_with_random_bits(model, rng):
    """Every float gets random bits: NaNs with payloads, infinities, -0.0 and subnormals included."""
    state = model.state_dict()
    for name, array in state.items():
        if array.dtype.kind == "f":
            raw = rng.integers(0, 256, size=array.nbytes, dtype=np.uint8)
            state[name] = raw.view(array.dtype).reshape(array.shape)
    model.load_state_dict(state)
    return model


def assert_bit_identical(state_a, state_b):
    assert list(state_a) == list(state_b)
    for name in state_a:
        a, b = state_a[name], state_b[name]
        assert (a.dtype, a.shape) == (b.dtype, b.shape), name
        assert a.tobytes() == b.tobytes(), f"{name} differs"


@pytest.fixture
def saved(tmp_path):
    """A small float64 MLP saved to disk: (path, model, file bytes)."""
    model = example_model(scratchnet.MLP)
    path = tmp_path / "model.scn"
    scratchnet.save(model, path)
    return path, model, path.read_bytes()


@pytest.fixture(scope="module")
def saved_bytes(tmp_path_factory):
    """The bytes of a small saved float64 MLP, for tests that corrupt copies of them."""
    path = tmp_path_factory.mktemp("saved") / "model.scn"
    scratchnet.save(example_model(scratchnet.MLP), path)
    return path.read_bytes()


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,cls", MODEL_CLASSES, ids=[name for name, _ in MODEL_CLASSES])
def test_round_trip_is_bit_exact_for_every_model(name, cls, dtype, tmp_path):
    model = fill_with_random_bits(example_model(cls, dtype), np.random.default_rng(1))
    scratchnet.save(model, tmp_path / "m.scn")
    loaded = scratchnet.load(tmp_path / "m.scn")
    assert type(loaded) is cls
    assert loaded.config() == model.config()
    assert_bit_identical(model.state_dict(), loaded.state_dict())


@pytest.mark.parametrize("name,cls", MODEL_CLASSES, ids=[name for name, _ in MODEL_CLASSES])
def test_loaded_model_computes_the_same_outputs(name, cls, dtype, tmp_path):
    model = example_model(cls, dtype, seed=3)
    scratchnet.save(model, tmp_path / "m.scn")
    loaded = scratchnet.load(tmp_path / "m.scn")
    x = example_input(model, dtype)
    out, out_loaded = model(x), loaded(x)
    assert out.dtype == out_loaded.dtype == dtype
    assert out.tobytes() == out_loaded.tobytes()


@examples(15)
@given(sizes=st.tuples(*[st.integers(0, 6)] * 3), float64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_round_trip_property_over_shapes_and_bits(tmp_path_factory, sizes, float64, seed):
    dtype = np.float64 if float64 else np.float32
    model = fill_with_random_bits(scratchnet.MLP(*sizes, dtype=dtype), np.random.default_rng(seed))
    path = tmp_path_factory.mktemp("rt") / "m.scn"
    scratchnet.save(model, path)
    assert_bit_identical(model.state_dict(), scratchnet.load(path).state_dict())


def test_loading_does_not_move_the_random_seed(saved):
    path = saved[0]
    scratchnet.manual_seed(7)
    scratchnet.load(path)
    after_load = scratchnet._random.default_generator().random(3)
    scratchnet.manual_seed(7)
    assert np.array_equal(after_load, scratchnet._random.default_generator().random(3))


def test_the_file_is_laid_out_as_documented(saved):
    path, model, data = saved
    magic, version, header_size, header_sha = struct.unpack_from("<8sIQ32s", data)
    assert (magic, version, PREAMBLE_SIZE) == (b"\x89SCRNET\n", 1, 52)
    header_bytes = data[52:52 + header_size]
    assert hashlib.sha256(header_bytes).digest() == header_sha
    assert (52 + header_size) % 64 == 0
    header = json.loads(header_bytes)
    assert header["format"] == "scratchnet-model" and header["format_version"] == 1
    assert header["class"] == "MLP" and header["config"] == {"input_dim": 3, "hidden_dim": 5, "output_dim": 2, "activation": "ReLU"}
    state = model.state_dict()
    assert [entry["name"] for entry in header["arrays"]] == list(state)
    data_start = 52 + header_size
    for entry in header["arrays"]:
        array = state[entry["name"]]
        raw = data[data_start + entry["offset"]:data_start + entry["offset"] + entry["nbytes"]]
        assert entry["dtype"] == "float64" and entry["shape"] == list(array.shape)
        assert raw == array.astype("<f8").tobytes()
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest()
    assert len(data) == data_start + sum(entry["nbytes"] for entry in header["arrays"])


def test_save_replaces_the_old_file_and_leaves_nothing_else(saved, tmp_path):
    path, _, _ = saved
    newer = example_model(scratchnet.MLP, seed=1)
    scratchnet.save(newer, str(path))
    assert os.listdir(tmp_path) == ["model.scn"]
    assert_bit_identical(newer.state_dict(), scratchnet.load(path).state_dict())


def test_save_rejects_what_it_could_not_load(tmp_path):
    class MyMLP(scratchnet.MLP):
        pass

    with pytest.raises(TypeError, match=r"saves the models of scratchnet.models .*\(CNN, .*MLP.*\); got .*MyMLP"):
        scratchnet.save(MyMLP(2, 2, 2), tmp_path / "m.scn")
    with pytest.raises(TypeError, match="got scratchnet.nn.linear.Linear"):
        scratchnet.save(scratchnet.nn.Linear(2, 2), tmp_path / "m.scn")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such directory to save into: '.*absent'"):
        scratchnet.save(example_model(scratchnet.MLP), tmp_path / "absent" / "m.scn")


def test_model_file_error_is_a_value_error_naming_the_file(tmp_path):
    error = ModelFileError(tmp_path / "x.scn", "because")
    assert isinstance(error, ValueError)
    assert (error.path, error.reason) == (str(tmp_path / "x.scn"), "because")
    assert str(error) == f"cannot load model file {str(tmp_path / 'x.scn')!r}: because"
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


# -- file faults ----------------------------------------------------------------------------------


def load_error(path):
    with pytest.raises(ModelFileError) as info:
        scratchnet.load(path)
    assert info.value.path == os.fspath(path) and repr(os.fspath(path)) in str(info.value)
    return info.value.reason


def rewrite(path, data):
    path.write_bytes(bytes(data))
    return path


def test_missing_file_and_directory(tmp_path):
    assert load_error(tmp_path / "absent.scn") == "no such file"
    assert "is a directory" in load_error(tmp_path)


def test_empty_file(tmp_path):
    assert "empty" in load_error(rewrite(tmp_path / "e.scn", b""))


@pytest.mark.parametrize("keep,reason", [
    (3, "truncated: 3 bytes, shorter than the 52-byte preamble"),
    (51, "truncated: 51 bytes"),
    (60, "header should be"),
    (-1, "truncated: the arrays need"),
])
def test_truncated_file(saved, keep, reason):
    path, _, data = saved
    assert reason in load_error(rewrite(path, data[:keep]))


def test_appended_bytes(saved):
    path, _, data = saved
    assert "3 unexpected bytes after the last array" in load_error(rewrite(path, data + b"abc"))


def test_bit_flip_in_the_header(saved):
    path, _, data = saved
    flipped = bytearray(data)
    flipped[data.index(b'"hidden_dim":5') + 13] ^= 0x01  # hidden_dim 5 -> 4, still valid JSON
    assert "header fails its SHA-256 check" in load_error(rewrite(path, flipped))


def test_bit_flip_in_the_data(saved):
    path, _, data = saved
    flipped = bytearray(data)
    flipped[-1] ^= 0x80
    assert "array 'net.4.bias' fails its SHA-256 check" in load_error(rewrite(path, flipped))


def test_wrong_magic_and_versions(saved):
    path, _, data = saved
    assert "not a scratchnet model file" in load_error(rewrite(path, b"\x89PNG\r\n\x1a\n" + data[8:]))
    future = data[:8] + struct.pack("<I", 2) + data[12:]
    newer = "format version 2 is newer than this scratchnet reads (version 1); upgrade"
    assert newer in load_error(rewrite(path, future))
    assert "invalid format version 0" in load_error(rewrite(path, data[:8] + struct.pack("<I", 0) + data[12:]))


def test_every_single_bit_flip_is_caught(saved):
    """Exhaustive: every bit of a small file; the magic, lengths and checksums cover all of it."""
    path, _, data = saved
    for position in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            path.write_bytes(flipped)
            with pytest.raises(ModelFileError, match="cannot load model file"):
                scratchnet.load(path)


@examples(50)
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path_factory, blob):
    path = rewrite(tmp_path_factory.mktemp("rb") / "r.scn", blob)
    with pytest.raises(ModelFileError, match="cannot load model file"):
        scratchnet.load(path)


@examples(50)
@given(st.binary(max_size=400))
def test_random_bytes_after_a_valid_magic_and_version(tmp_path_factory, blob):
    path = rewrite(tmp_path_factory.mktemp("rb") / "r.scn", MAGIC + struct.pack("<I", 1) + blob)
    with pytest.raises(ModelFileError, match="cannot load model file"):
        scratchnet.load(path)


@examples(50)
@given(data=st.data())
def test_random_truncation_flip_and_append(tmp_path_factory, saved_bytes, data):
    original = saved_bytes
    fault = data.draw(st.sampled_from(["truncate", "flip", "append"]))
    if fault == "truncate":
        corrupted = original[:data.draw(st.integers(0, len(original) - 1))]
    elif fault == "flip":
        corrupted = bytearray(original)
        corrupted[data.draw(st.integers(0, len(original) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    else:
        corrupted = original + data.draw(st.binary(min_size=1, max_size=64))
    with pytest.raises(ModelFileError, match="cannot load model file"):
        scratchnet.load(rewrite(tmp_path_factory.mktemp("fault") / "m.scn", corrupted))


# -- hostile files: nothing is ever executed --------------------------------------------------------


class CreatesMarker:
    """Unpickling this calls open(marker, "w"): the file appearing would prove code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_the_marker_pickle_does_run_code_when_unpickled(tmp_path):
    """The control for the tests below: plain unpickling of the payload does create the marker."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(CreatesMarker(marker)))
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_pickle_is_refused_without_running_it(tmp_path, protocol):
    marker = tmp_path / "ran"
    path = rewrite(tmp_path / "evil.scn", pickle.dumps({"net.0.weight": CreatesMarker(marker)}, protocol=protocol))
    assert "Python pickle, which scratchnet never loads" in load_error(path)
    assert not marker.exists()


def test_an_npy_object_array_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    np.save(tmp_path / "evil.npy", np.array([CreatesMarker(marker)], dtype=object), allow_pickle=True)
    assert "NumPy .npy file" in load_error(tmp_path / "evil.npy")
    np.savez(tmp_path / "evil.npz", w=np.array([CreatesMarker(marker)], dtype=object))
    assert "zip archive" in load_error(tmp_path / "evil.npz")
    assert not marker.exists()


def test_torch_files_are_refused_without_running_them(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "ran"
    torch.save({"net.0.weight": CreatesMarker(marker)}, tmp_path / "evil.pt")
    assert "zip archive (as torch.save" in load_error(tmp_path / "evil.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert "Python pickle" in load_error(tmp_path / "legacy.pt")
    assert not marker.exists()


def write_container(path, header, data=b""):
    """A file with valid magic, version and header checksum around any header: tests the header checks."""
    header_bytes = json.dumps(header).encode() if not isinstance(header, bytes) else header
    preamble = struct.pack("<8sIQ32s", MAGIC, 1, len(header_bytes), hashlib.sha256(header_bytes).digest())
    return rewrite(path, preamble + header_bytes + data)


def valid_header(model):
    state = model.state_dict()
    entries, offset = [], 0
    for name, array in state.items():
        raw = array.tobytes()
        entries.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape), "offset": offset,
                        "nbytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()})
        offset += len(raw)
    header = {"format": "scratchnet-model", "format_version": 1, "class": type(model).__name__,
              "config": model.config(), "arrays": entries}
    return header, b"".join(array.tobytes() for array in state.values())


def test_write_container_makes_loadable_files(tmp_path):
    """The control for the crafted-header tests: unchanged, the crafted file loads."""
    model = example_model(scratchnet.MLP)
    header, data = valid_header(model)
    loaded = scratchnet.load(write_container(tmp_path / "ok.scn", header, data))
    assert_bit_identical(model.state_dict(), loaded.state_dict())


def edit(header, **changes):
    header = json.loads(json.dumps(header))
    for key, value in changes.items():
        if key.startswith("array0_"):
            header["arrays"][0][key[len("array0_"):]] = value
        else:
            header[key] = value
    return header


@pytest.mark.parametrize("changes,reason", [
    ({"array0_dtype": "object"}, "dtype 'object'; only float32, float64, int64 are allowed"),
    ({"array0_dtype": "|O"}, "dtype '|O'"),
    ({"array0_shape": [3, -5]}, "expected a list of non-negative integers"),
    ({"array0_shape": [5, True]}, "expected a list of non-negative integers"),
    ({"array0_nbytes": 8}, "should take 120 bytes at offset 0"),
    ({"array0_offset": 8}, "should take 120 bytes at offset 0"),
    ({"array0_name": "net.4.bias"}, "array names must be distinct"),
    ({"class": "os.system"}, "unknown model class 'os.system'"),
    ({"class": "Sequential"}, "unknown model class 'Sequential'"),
    ({"class": "Linear"}, "unknown model class 'Linear'"),
    ({"class": "__builtins__"}, "unknown model class"),
    ({"config": {"input_dim": 3, "hidden_dim": 5, "output_dim": 2, "dtype": "float16"}}, "cannot build MLP"),
    ({"config": {"input_dim": 3, "hidden_dim": -5, "output_dim": 2}}, "cannot build MLP"),
    ({"config": {"input_dim": 3, "hidden_dim": "5", "output_dim": 2}}, "cannot build MLP"),
    ({"config": {"input_dim": 3, "hidden_dim": 5}}, "cannot build MLP"),
    ({"config": {"input_dim": 3, "hidden_dim": 6, "output_dim": 2}},
     r"do not fit MLP.*'net.0.weight' has shape \(5, 3\)"),
    ({"config": {"__class__": 1}}, "cannot build MLP"),
    ({"config": ["x"]}, "config must map argument names"),
    ({"format_version": 2}, "expected 'scratchnet-model' version 1"),
    ({"extra": 1}, "expected an object with keys"),
])
def test_crafted_headers_are_refused(tmp_path, changes, reason):
    header, data = valid_header(example_model(scratchnet.MLP))
    with pytest.raises(ModelFileError, match=reason):
        scratchnet.load(write_container(tmp_path / "crafted.scn", edit(header, **changes), data))


def test_crafted_mixed_dtypes_and_non_json_headers(tmp_path):
    model = example_model(scratchnet.MLP)
    model.net[0].weight.data = model.net[0].weight.data.astype(np.float32)
    header, data = valid_header(model)
    with pytest.raises(ModelFileError, match=r"mixed float dtypes \['float32', 'float64'\]"):
        scratchnet.load(write_container(tmp_path / "mixed.scn", header, data))
    for bad_json in [b"\xff\xfe", b'{"a": NaN}', b'{"a": 1, "a": 2}', b"[" * 100000, b"[]"]:
        with pytest.raises(ModelFileError, match="header"):
            scratchnet.load(write_container(tmp_path / "bad.scn", bad_json))


# -- interrupted saves ----------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_write_failing_midway_leaves_the_previous_file(saved, tmp_path, monkeypatch, failure):
    path, old_model, old_bytes = saved

    def write_half_then_fail(file, parts):
        blob = b"".join(parts)
        file.write(blob[:len(blob) // 2])
        file.flush()
        raise failure

    monkeypatch.setattr(serialization, "_write_parts", write_half_then_fail)
    with pytest.raises(type(failure)):
        scratchnet.save(example_model(scratchnet.MLP, seed=1), path)
    assert path.read_bytes() == old_bytes
    assert_bit_identical(old_model.state_dict(), scratchnet.load(path).state_dict())
    assert os.listdir(tmp_path) == ["model.scn"]


def test_a_failing_rename_leaves_the_previous_file(saved, tmp_path, monkeypatch):
    path, _, old_bytes = saved

    def fail(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(serialization.os, "replace", fail)
    with pytest.raises(PermissionError, match="Permission denied"):
        scratchnet.save(example_model(scratchnet.MLP, seed=1), path)
    assert path.read_bytes() == old_bytes and os.listdir(tmp_path) == ["model.scn"]


def run_child(code, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            stdout=subprocess.PIPE, env=env, text=True)


def test_a_process_killed_mid_write_leaves_the_previous_file(saved, tmp_path):
    """SIGKILL after half the bytes are on disk: no cleanup can run, yet the target is untouched."""
    path, old_model, old_bytes = saved
    child = run_child("""
        import sys, time
        import scratchnet
        from scratchnet import serialization

        def write_half_and_hang(file, parts):
            blob = b"".join(parts)
            file.write(blob[:len(blob) // 2])
            file.flush()
            print("half written", flush=True)
            time.sleep(60)

        serialization._write_parts = write_half_and_hang
        scratchnet.save(scratchnet.MLP(3, 5, 2, dtype="float64"), sys.argv[1])
        """, path)
    try:
        assert child.stdout.readline().strip() == "half written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert path.read_bytes() == old_bytes
    assert_bit_identical(old_model.state_dict(), scratchnet.load(path).state_dict())
    leftovers = sorted(set(os.listdir(tmp_path)) - {"model.scn"})
    assert len(leftovers) == 1 and leftovers[0].startswith(".model.scn.") and leftovers[0].endswith(".tmp")
    assert 0 < (tmp_path / leftovers[0]).stat().st_size < len(old_bytes)


def test_a_process_killed_while_saving_a_large_model_leaves_a_loadable_file(tmp_path):
    """A real save loop (~5 MB per file) killed at an arbitrary moment: the target is one whole model."""
    path = tmp_path / "big.scn"
    sizes = (200, 1000, 10)
    models = {}
    for seed in (1, 2):
        scratchnet.manual_seed(seed)
        models[seed] = scratchnet.MLP(*sizes, dtype=np.float32)
    scratchnet.save(models[1], path)
    child = run_child("""
        import sys
        import scratchnet
        scratchnet.manual_seed(2)
        model = scratchnet.MLP(200, 1000, 10, dtype="float32")
        print("saving", flush=True)
        while True:
            scratchnet.save(model, sys.argv[1])
        """, path)
    try:
        assert child.stdout.readline().strip() == "saving"
        deadline = time.monotonic() + 30  # kill as soon as a temporary file is being written
        while not any(name.endswith(".tmp") for name in os.listdir(tmp_path)):
            assert time.monotonic() < deadline, "the child never started writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    loaded = scratchnet.load(path).state_dict()
    matches = [seed for seed, model in models.items()
               if all(loaded[k].tobytes() == v.tobytes() for k, v in model.state_dict().items())]
    assert len(matches) == 1
    leftovers = set(os.listdir(tmp_path)) - {"big.scn"}
    assert all(name.startswith(".big.scn.") and name.endswith(".tmp") for name in leftovers)


def test_a_deeper_mlp_with_another_activation_round_trips(tmp_path):
    scratchnet.manual_seed(3)
    model = scratchnet.MLP(3, [5, 4, 3], 2, activation="Tanh", dtype=np.float64)
    scratchnet.save(model, tmp_path / "deep.snet")
    loaded = scratchnet.load(tmp_path / "deep.snet")
    assert loaded.config() == model.config()
    assert isinstance(loaded.net[1], scratchnet.nn.Tanh)
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert np.array_equal(loaded(x), model(x))
