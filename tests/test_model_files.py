"""Model files cannot make scratchnet allocate, hang or clobber (issue 11, section 1).

- Loading reads regular files only, checks every header field's type, and checks the arrays
  the config implies against the file's own table before building anything: a crafted file
  costs about its own size, never gigabytes.
- Every loader failure is a ModelFileError naming the file, with a short message.
- Saving replaces regular files only: symlinks are written through, devices, FIFOs and
  directories are refused, and an existing file's permission bits are kept.

Loads that today's code could turn into a hang or a memory blow-up run in a child process
with a time limit and a 1 GiB address-space limit, and report tracemalloc's peak.
"""

import hashlib
import inspect
import json
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_serialization import (
    MODEL_CLASSES,
    SMALL_CONFIGS,
    assert_bit_identical,
    example_model,
    valid_header,
    write_container,
)

import scratchnet
from scratchnet import ModelFileError, serialization
from scratchnet.serialization import ARRAY_SHAPES

resource = pytest.importorskip("resource")  # the child processes' memory limit (POSIX)

MEMORY_LIMIT = 1 << 30  # bytes of address space for a child: far more than a small file needs
MAX_MESSAGE = 2500  # characters: ModelFileError's reason is capped at 2000, plus the path


def run_limited(argv, timeout=60):
    """Run ``argv`` with at most MEMORY_LIMIT bytes of address space; fail the test if it runs past ``timeout``."""
    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{argv[-1]!r}: still running after {timeout} s (it should be refused at once)")


LOAD_IN_CHILD = textwrap.dedent("""
    import json, sys, time, tracemalloc
    import scratchnet
    tracemalloc.start()
    start = time.perf_counter()
    try:
        scratchnet.load(sys.argv[1])
        outcome = {"error": None, "message": ""}
    except BaseException as error:
        outcome = {"error": type(error).__name__, "message": str(error)}
    outcome["seconds"] = time.perf_counter() - start
    outcome["peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(outcome))
    """)


def load_in_child(path, timeout=60):
    """scratchnet.load(path) in a limited child: {"error", "message", "seconds", "peak" (bytes, tracemalloc)}."""
    result = run_limited([sys.executable, "-c", LOAD_IN_CHILD, str(path)], timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


def refused_in_child(path, timeout=60):
    """The ModelFileError message of loading ``path`` in a child, checked to be short and to name the file."""
    outcome = load_in_child(path, timeout)
    assert outcome["error"] == "ModelFileError", outcome["message"][:2000]
    assert outcome["message"].startswith(f"cannot load model file {str(path)!r}: ")
    assert len(outcome["message"]) < MAX_MESSAGE, f"{len(outcome['message'])} characters"
    return outcome


def load_error(path):
    with pytest.raises(ModelFileError) as info:
        scratchnet.load(path)
    message = str(info.value)
    assert info.value.path == os.fspath(path) and message.startswith(f"cannot load model file {os.fspath(path)!r}: ")
    assert len(message) < MAX_MESSAGE, f"{len(message)} characters"
    return info.value.reason


def crafted(path, model, **header_changes):
    """``model``'s valid file with header fields replaced (the header checksum stays valid)."""
    header, data = valid_header(model)
    header.update(header_changes)
    return write_container(path, header, data)


def small(name, **config):
    scratchnet.manual_seed(0)
    return getattr(scratchnet, name)(**{**SMALL_CONFIGS[name], **config})


# -- the config's arrays are checked against the file before anything is built --------------------


def sequence_config(**changes):
    return {**small("SequenceClassifier").config(), **changes}


CLAIMS = {  # a small model's arrays under a config that claims a huge one
    "hidden_dim 20000, no arrays (192 bytes)": (
        "MLP", {"input_dim": 20000, "hidden_dim": 20000, "output_dim": 20000, "activation": "ReLU"}, [],
        r"implies more than the file's 0 arrays; missing keys \['net.0.weight'\] and more$"),
    "hidden_dim 20000": (
        "MLP", {"input_dim": 3, "hidden_dim": 20000, "output_dim": 2, "activation": "ReLU"}, None,
        r"'net.0.weight' has shape \(5, 3\) in the file but \(20000, 3\) in the model"),
    "num_layers 10**7": (
        "SequenceClassifier", sequence_config(num_layers=10**7), None,
        r"'num_layers': 10000000\}\): it implies more than the file's 10 arrays; "
        r"missing keys \['rnn.weight_ih_l2', 'rnn.weight_hh_l2', 'rnn.bias_ih_l2'\] and more$"),
    "num_layers 10**5": (
        "SequenceClassifier", sequence_config(num_layers=10**5), None, r"missing keys .* and more$"),
    "image_size 2**20": (
        "CNN", {**small("CNN").config(), "image_size": 2**20}, None,
        r"'net.7.weight' has shape \(3, 4\) in the file but \(3, 274877906944\) in the model"),
    "hidden_dim of 10**4000": (
        "MLP", {"input_dim": 3, "hidden_dim": int("9" * 4000), "output_dim": 2}, None,
        r"'net.0.weight' has shape \(5, 3\) in the file but \(2\*\*63 or more, 3\) in the model"),
}


@pytest.mark.parametrize("claim", list(CLAIMS))
def test_a_config_claiming_a_huge_model_is_refused_before_anything_is_built(tmp_path, claim):
    name, config, arrays, reason = CLAIMS[claim]
    header, data = valid_header(small(name))
    header["config"] = config
    if arrays is not None:
        header["arrays"], data = arrays, b""
    path = write_container(tmp_path / "claim.snet", header, data)
    outcome = refused_in_child(path)
    assert f"the arrays do not fit {name}(**" in outcome["message"]
    assert len(outcome["message"]) < 500
    assert re.search(reason, outcome["message"]), outcome["message"]
    size = path.stat().st_size
    assert outcome["peak"] < 4 * size + (1 << 20), f"peak {outcome['peak']} bytes for a {size}-byte file"
    assert outcome["seconds"] < 5


def test_the_192_byte_file_of_the_issue(tmp_path):
    header = {"format": "scratchnet-model", "format_version": 1, "class": "MLP",
              "config": {"input_dim": 20000, "hidden_dim": 20000, "output_dim": 20000}, "arrays": []}
    path = write_container(tmp_path / "tiny.snet", header)
    assert path.stat().st_size < 256
    assert load_error(path) == ("the arrays do not fit MLP(**{'input_dim': 20000, 'hidden_dim': 20000, "
                                "'output_dim': 20000}): it implies more than the file's 0 arrays; "
                                "missing keys ['net.0.weight'] and more")


def test_a_valid_file_costs_a_few_times_its_size_to_load(tmp_path):
    """The rule's other side: a real model is built (weights drawn, then replaced) at a few times its file's size."""
    scratchnet.manual_seed(0)
    model = scratchnet.MLP(200, 1000, 10, dtype=np.float32)
    path = tmp_path / "big.snet"
    scratchnet.save(model, path)
    outcome = load_in_child(path)
    assert outcome["error"] is None, outcome["message"]
    assert outcome["peak"] < 5 * path.stat().st_size


def implied_arrays(cls, config):
    arguments = inspect.signature(cls).bind(**config)
    arguments.apply_defaults()
    return [(name, tuple(shape)) for name, shape in ARRAY_SHAPES[cls.__name__](**arguments.arguments)]


def test_every_model_class_has_an_array_table():
    missing = [name for name, _ in MODEL_CLASSES if name not in ARRAY_SHAPES]
    assert not missing, (f"add a function yielding the state_dict keys and shapes of {missing} "
                         f"to scratchnet.serialization.ARRAY_SHAPES")


sizes = st.integers(0, 5)
positive = st.integers(1, 4)
CONFIG_STRATEGIES = {
    "MLP": st.fixed_dictionaries({"input_dim": sizes, "hidden_dim": sizes | st.lists(sizes, max_size=3),
                                  "output_dim": sizes}),
    "CNN": st.integers(1, 3).flatmap(lambda stages: st.fixed_dictionaries({
        "in_channels": positive, "num_classes": positive, "channels": st.lists(positive, min_size=stages,
                                                                               max_size=stages),
        "kernel_size": positive | st.lists(positive, min_size=2, max_size=2),
        "image_size": st.integers(2**stages, 2**stages + 9)})),
    "SequenceClassifier": st.fixed_dictionaries({
        "input_size": positive, "hidden_size": positive, "num_classes": positive,
        "cell": st.sampled_from(["rnn", "gru", "lstm"]), "num_layers": st.integers(1, 3)}),
    "GPT": st.tuples(st.integers(1, 2), positive).flatmap(lambda heads_and_width: st.fixed_dictionaries({
        "vocab_size": positive, "block_size": positive, "n_layer": st.integers(0, 2),
        "n_head": st.just(heads_and_width[0]), "n_embd": st.just(heads_and_width[0] * heads_and_width[1])})),
}


@given(data=st.data())
def test_the_array_tables_match_the_built_models(data):
    for name, cls in MODEL_CLASSES:
        config = data.draw(CONFIG_STRATEGIES[name], label=name)
        built = [(key, array.shape) for key, array in cls(**config).state_dict().items()]
        assert implied_arrays(cls, config) == built, (name, config)


# -- only regular files are read ------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_before_reading(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    outcome = refused_in_child(device, timeout=30)
    assert outcome["message"].endswith("it is a character device, not a regular file; "
                                       "model files are read from regular files only")
    assert outcome["seconds"] < 5


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    outcome = refused_in_child(fifo, timeout=30)
    assert "it is a named pipe (FIFO), not a regular file" in outcome["message"]


def test_a_directory_and_a_socket_are_refused(tmp_path):
    assert load_error(tmp_path) == ("it is a directory, not a regular file; "
                                    "model files are read from regular files only")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.sock"))
        assert load_error(tmp_path / "s.sock").startswith("it is a socket, not a regular file")


def test_a_symlink_to_a_model_loads_and_one_to_a_device_is_refused(tmp_path):
    model = example_model(scratchnet.MLP)
    scratchnet.save(model, tmp_path / "real.snet")
    os.symlink(tmp_path / "real.snet", tmp_path / "link.snet")
    assert_bit_identical(model.state_dict(), scratchnet.load(tmp_path / "link.snet").state_dict())
    os.symlink("/dev/zero", tmp_path / "zero.snet")
    assert "it is a character device, not a regular file" in refused_in_child(tmp_path / "zero.snet")["message"]


def test_command_line_load_of_dev_zero_is_one_line_and_exit_2():
    result = run_limited([sys.executable, "-m", "scratchnet", "--load", "/dev/zero", "--epochs", "0"], timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == ("python -m scratchnet: error: cannot load model file '/dev/zero': it is a character "
                             "device, not a regular file; model files are read from regular files only\n")


# -- every header fault is a ModelFileError with a short message ------------------------------------


def single_array_file(path, entry, config=None):
    """An MLP header holding one array entry (nothing after the header): tests the per-array checks."""
    base = {"name": "net.0.weight", "dtype": "float64", "shape": [5, 3], "offset": 0, "nbytes": 120,
            "sha256": hashlib.sha256(b"").hexdigest()}
    header = {"format": "scratchnet-model", "format_version": 1, "class": "MLP",
              "config": config or {"input_dim": 3, "hidden_dim": 5, "output_dim": 2}, "arrays": [{**base, **entry}]}
    return write_container(path, header)


@pytest.mark.parametrize("entry,reason", [
    ({"offset": 0.0}, r"should take 120 bytes at offset 0, the header says 120 at 0.0"),
    ({"nbytes": 120.0}, r"the header says 120.0 at 0"),
    ({"nbytes": "120"}, r"the header says '120' at 0"),
    ({"offset": True}, r"the header says 120 at True"),
    ({"dtype": ["float64"]}, r"has dtype \['float64'\]; only float32, float64, int64"),
    ({"dtype": {"name": "float64"}}, r"has dtype \{'name': 'float64'\}"),
    ({"shape": [1] * 98 + [5, 3]}, r"has 100 dimensions; at most 32"),
    ({"shape": [0, 2**64], "nbytes": 0}, r"expected a list of non-negative integers|too large"),
    ({"shape": [0, 2**63 - 1], "nbytes": 0}, r"too large for any array"),
    ({"shape": [2**62, 0, 4], "nbytes": 0}, r"too large for any array"),
    ({"shape": [2**70], "nbytes": 2**73}, r"too large for any array"),
    ({"shape": [5, 3.0]}, r"expected a list of non-negative integers"),
    ({"shape": "53"}, r"expected a list of non-negative integers"),
    ({"sha256": "G" * 64}, r"no valid sha256"),
    ({"sha256": ["0" * 64]}, r"no valid sha256"),
    ({"name": 7}, r"array names must be distinct strings, got 7"),
])
def test_hostile_array_entries_are_refused(tmp_path, entry, reason):
    assert re.search(reason, load_error(single_array_file(tmp_path / "h.snet", entry)))


@pytest.mark.parametrize("changes,reason", [
    ({"format_version": 1.0}, "version 1.0, expected 'scratchnet-model' version 1"),
    ({"format_version": True}, "version True, expected"),
    ({"class": ["MLP"]}, "class must be a string, got ['MLP']"),
    ({"arrays": {"net.0.weight": []}}, "arrays must be a list, got {'net.0.weight': []}"),
    ({"config": {"input_dim": 3, "hidden_dim": 5, "output_dim": 2, "activation": ["ReLU"]}},
     "cannot build MLP(**{'input_dim': 3, 'hidden_dim': 5, 'output_dim': 2, 'activation': ['ReLU']}): ValueError"),
    ({"config": {"input_dim": 3.0, "hidden_dim": 5, "output_dim": 2}},
     "cannot build MLP(**{'input_dim': 3.0, 'hidden_dim': 5, 'output_dim': 2}): ValueError: input_dim must be"),
    ({"config": {"input_dim": 3, "hidden_dim": 5, "output_dim": 2, "dtype": "float16"}}, "cannot build MLP"),
])
def test_hostile_header_fields_are_refused(tmp_path, changes, reason):
    assert reason in load_error(crafted(tmp_path / "h.snet", example_model(scratchnet.MLP), **changes))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(2**62, 2**80) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8)
hostile_values = json_values | st.sampled_from([
    0.0, 120.0, -1, 2**63, 2**64, [1] * 100, [0, 2**64], [2**62, 0], [5, 3.0], "x" * 10000, ["float64"],
    {"dtype": "float64"}, "float32", "int64", "object", "0" * 64, "", [], {}]) | st.lists(st.integers(0, 2**70),
                                                                                         max_size=100)
FIELDS = ["format", "format_version", "class", "config", "arrays",
          "name", "dtype", "shape", "offset", "nbytes", "sha256"]


@given(field=st.sampled_from(FIELDS), value=hostile_values, index=st.integers(0, 5))
def test_any_hostile_header_field_gives_a_short_model_file_error(tmp_path_factory, field, value, index):
    model = example_model(scratchnet.MLP)
    header, data = valid_header(model)
    if field in header:
        header[field] = value
    else:
        header["arrays"][index][field] = value
    path = write_container(tmp_path_factory.mktemp("hostile") / "h.snet", header, data)
    try:
        loaded = scratchnet.load(path)
    except ModelFileError as error:
        assert error.path == str(path) and len(str(error)) < MAX_MESSAGE
    else:  # only a value equal to the original can load (1.0 == 1 is refused, as are all other types)
        assert loaded.config() == model.config() and loaded.state_dict().keys() == model.state_dict().keys()


# -- messages stay short ------------------------------------------------------------------------------


def test_a_header_with_100000_unexpected_arrays_names_the_first_few(tmp_path):
    header, data = valid_header(example_model(scratchnet.MLP))
    empty = hashlib.sha256(b"").hexdigest()
    extra = [{"name": f"extra.{i}", "dtype": "float64", "shape": [0], "offset": len(data), "nbytes": 0,
              "sha256": empty} for i in range(10**5)]
    header["arrays"] += extra
    reason = load_error(write_container(tmp_path / "many.snet", header, data))
    assert reason.endswith("unexpected keys ['extra.0', 'extra.1', 'extra.2', 'extra.3', 'extra.4'] and 99995 more")


def test_a_10_mb_key_name_is_cut(tmp_path):
    header, data = valid_header(example_model(scratchnet.MLP))
    header["arrays"][0]["name"] = "w" * 10**7
    reason = load_error(write_container(tmp_path / "long.snet", header, data))
    assert "missing keys ['net.0.weight']; unexpected keys ['" + "w" * 60 + "'... (10000000 characters)]" in reason


def test_a_10_mb_class_name_and_config_value_are_cut(tmp_path):
    model = example_model(scratchnet.MLP)
    reason = load_error(crafted(tmp_path / "class.snet", model, **{"class": "M" * 10**7}))
    assert reason.startswith("unknown model class '" + "M" * 60 + "'... (10000000 characters); this scratchnet knows")
    config = {**model.config(), "activation": "A" * 10**7}
    reason = load_error(crafted(tmp_path / "config.snet", model, config=config))
    assert reason.startswith("cannot build MLP(**{'input_dim': 3, ") and "ValueError: unknown activation" in reason


def test_model_file_error_caps_any_reason():
    error = ModelFileError("m.snet", "x" * 10**6)
    assert len(str(error)) < MAX_MESSAGE and str(error).endswith("(998000 more characters)")


# -- saving replaces regular files only -----------------------------------------------------------


def test_saving_over_a_fifo_or_a_directory_is_refused(tmp_path):
    model = example_model(scratchnet.MLP)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match=r"cannot save over a named pipe \(FIFO\) \(only a regular file is replaced\): "
                                      r"'.*fifo'$"):
        scratchnet.save(model, tmp_path / "fifo")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot save over a directory; give a file name: '.*dir'$"):
        scratchnet.save(model, tmp_path / "dir")
    assert sorted(os.listdir(tmp_path)) == ["dir", "fifo"] and os.listdir(tmp_path / "dir") == []


def test_saving_over_dev_null_is_refused_and_leaves_the_device(monkeypatch, tmp_path):
    """The refusal comes before anything is written; os.replace is forbidden here, so no run can clobber /dev/null."""
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null here")

    def forbidden(*args):
        raise AssertionError(f"os.replace{args} was called")

    monkeypatch.setattr(serialization.os, "replace", forbidden)
    with pytest.raises(OSError, match=r"cannot save over a character device \(only a regular file is replaced\): "
                                      r"'/dev/null'$"):
        scratchnet.save(example_model(scratchnet.MLP), "/dev/null")
    os.symlink("/dev/null", tmp_path / "null.snet")
    with pytest.raises(OSError, match=r"character device .*: '.*null.snet' -> '/dev/null'$"):
        scratchnet.save(example_model(scratchnet.MLP), tmp_path / "null.snet")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not any(name.endswith(".tmp") for name in os.listdir("/dev"))


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "models").mkdir()
    scratchnet.save(example_model(scratchnet.MLP, seed=1), tmp_path / "models" / "real.snet")
    os.symlink(os.path.join("models", "real.snet"), tmp_path / "latest.snet")
    newer = example_model(scratchnet.MLP, seed=2)
    scratchnet.save(newer, tmp_path / "latest.snet")
    assert os.readlink(tmp_path / "latest.snet") == os.path.join("models", "real.snet")
    assert_bit_identical(newer.state_dict(), scratchnet.load(tmp_path / "models" / "real.snet").state_dict())
    assert sorted(os.listdir(tmp_path)) == ["latest.snet", "models"]
    assert os.listdir(tmp_path / "models") == ["real.snet"]


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    os.symlink("target.snet", tmp_path / "link.snet")
    model = example_model(scratchnet.MLP)
    scratchnet.save(model, tmp_path / "link.snet")
    assert os.path.islink(tmp_path / "link.snet")
    assert_bit_identical(model.state_dict(), scratchnet.load(tmp_path / "target.snet").state_dict())


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_saving_keeps_the_permission_bits_of_the_file_it_replaces(tmp_path, mode):
    path = tmp_path / "m.snet"
    scratchnet.save(example_model(scratchnet.MLP, seed=1), path)
    os.chmod(path, mode)
    scratchnet.save(example_model(scratchnet.MLP, seed=2), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode


def test_a_new_file_gets_the_umask_s_mode(tmp_path):
    old = os.umask(0o027)
    try:
        scratchnet.save(example_model(scratchnet.MLP), tmp_path / "m.snet")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.snet").st_mode) == 0o640


def test_a_250_character_file_name_saves(tmp_path):
    path = tmp_path / ("m" * 245 + ".snet")
    model = example_model(scratchnet.MLP)
    scratchnet.save(model, path)
    scratchnet.save(model, path)  # and replaces
    assert os.listdir(tmp_path) == [path.name]
    assert_bit_identical(model.state_dict(), scratchnet.load(path).state_dict())


def test_save_target_lets_a_caller_check_a_destination_first(tmp_path):
    os.symlink("real.snet", tmp_path / "link.snet")
    assert serialization.save_target(tmp_path / "link.snet") == (os.path.realpath(tmp_path / "real.snet"), None)
    with pytest.raises(FileNotFoundError, match="no such directory to save into"):
        serialization.save_target(tmp_path / "absent" / "m.snet")


def test_command_line_save_to_a_fifo_exits_2_and_keeps_it(tmp_path):
    fifo = tmp_path / "out.snet"
    os.mkfifo(fifo)
    result = run_limited([sys.executable, "-m", "scratchnet", "--dataset", "iris", "--hidden", "4", "--epochs", "1",
                          "--save", str(fifo)], timeout=120)
    assert result.returncode == 2
    assert result.stderr.endswith(f"cannot save over a named pipe (FIFO) (only a regular file is replaced): "
                                  f"{str(fifo)!r}\n")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
