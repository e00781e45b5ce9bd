"""parity.interchange: scratchnet <-> torch state_dict files, lossless both ways and safe on bad files.

Covers every model class of scratchnet.models that has config(), with its torchnet twin of the
same name and constructor arguments (small configs and inputs come from test_serialization.py).
"""

import io
import os
import pickle
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_serialization import (
    MODEL_CLASSES,
    CreatesMarker,
    assert_bit_identical,
    example_input,
    example_model,
    fill_with_random_bits,
)

from hypothesis_profiles import examples
import scratchnet
import torchnet.models
from parity import tolerances
from parity.compare import compare
from parity.convert import import_main
from parity.interchange import export_torch_state_dict, import_torch_state_dict
from scratchnet import ModelFileError

IDS = [name for name, _ in MODEL_CLASSES]


def torch_twin(scratch_model):
    name = type(scratch_model).__name__
    twin_cls = getattr(torchnet.models, name, None)
    assert twin_cls is not None, f"torchnet.models has no {name}, the twin of scratchnet.models.{name}"
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        next(iter(scratch_model.state_dict().values())).dtype]
    return twin_cls(**scratch_model.config()).to(dtype)


def as_bytes(tensor):
    return tensor.detach().numpy().tobytes()


@pytest.mark.parametrize("name,cls", MODEL_CLASSES, ids=IDS)
def test_exported_file_loads_into_the_torch_twin_and_computes_the_same(name, cls, dtype, tmp_path):
    model = example_model(cls, dtype, seed=5)
    export_torch_state_dict(model, tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert list(state) == list(model.state_dict())
    for key, array in model.state_dict().items():
        assert as_bytes(state[key]) == array.tobytes() and state[key].dtype == getattr(torch, array.dtype.name)
    twin = torch_twin(model)
    twin.load_state_dict(state)  # strict: every key and shape of the torch model
    x = example_input(model, dtype)
    with torch.no_grad():
        torch_out = twin(torch.tensor(x)).numpy()
    diff = compare("output", model(x), torch_out, tolerances.for_dtype(tolerances.MODULE, dtype))
    assert diff.passed, diff


@pytest.mark.parametrize("name,cls", MODEL_CLASSES, ids=IDS)
def test_a_torch_saved_state_dict_imports_bit_exactly(name, cls, dtype, tmp_path):
    twin = torch_twin(example_model(cls, dtype))
    torch.manual_seed(0)
    for param in twin.parameters():  # weights unlike the scratchnet model's, so the import must change them
        torch.nn.init.normal_(param)
    torch.save(twin.state_dict(), tmp_path / "twin.pt")
    model = import_torch_state_dict(example_model(cls, dtype), tmp_path / "twin.pt")
    assert_bit_identical({k: v.numpy() for k, v in twin.state_dict().items()}, model.state_dict())
    x = example_input(model, dtype)
    with torch.no_grad():
        torch_out = twin(torch.tensor(x)).numpy()
    assert compare("output", model(x), torch_out, tolerances.for_dtype(tolerances.MODULE, dtype)).passed


@examples(10)
@given(sizes=st.tuples(*[st.integers(0, 5)] * 3), float64=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_export_then_import_is_bit_exact(tmp_path_factory, sizes, float64, seed):
    dtype = np.float64 if float64 else np.float32
    model = fill_with_random_bits(scratchnet.MLP(*sizes, dtype=dtype), np.random.default_rng(seed))
    path = tmp_path_factory.mktemp("x") / "m.pt"
    export_torch_state_dict(model, path)
    fresh = scratchnet.MLP(*sizes, dtype=dtype)
    assert_bit_identical(model.state_dict(), import_torch_state_dict(fresh, path).state_dict())


def test_exported_tensors_are_copies(tmp_path):
    model = example_model(scratchnet.MLP)
    export_torch_state_dict(model, tmp_path / "m.pt")
    before = model.state_dict()
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    state["net.0.weight"].add_(1.0)
    assert_bit_identical(before, model.state_dict())
    assert os.listdir(tmp_path) == ["m.pt"]


# -- files that do not fit the model: named key, both shapes, model untouched ----------------------------


@pytest.fixture
def mlp_file(tmp_path):
    path = tmp_path / "mlp.pt"
    export_torch_state_dict(example_model(scratchnet.MLP, seed=1), path)
    return path


def assert_untouched(model, call):
    before = model.state_dict()
    call()
    assert_bit_identical(before, model.state_dict())


def test_a_shape_that_does_not_fit_names_the_key_and_both_shapes(mlp_file):
    model = scratchnet.MLP(3, 6, 2, dtype=np.float64)

    def load():
        expected = r"mlp.pt: 'net.0.weight' has shape \(5, 3\) in the file but \(6, 3\) in the MLP"
        with pytest.raises(ValueError, match=expected):
            import_torch_state_dict(model, mlp_file)

    assert_untouched(model, load)


def test_keys_that_do_not_fit_are_named(mlp_file, tmp_path):
    state = torch.load(mlp_file, weights_only=True)
    state["fc.weight"] = state.pop("net.0.weight")
    torch.save(state, tmp_path / "renamed.pt")
    model = example_model(scratchnet.MLP)

    def load():
        with pytest.raises(ValueError, match=r"missing \['net.0.weight'\], unexpected \['fc.weight'\]"):
            import_torch_state_dict(model, tmp_path / "renamed.pt")

    assert_untouched(model, load)


def test_a_dtype_that_does_not_fit_says_which_cast_to_make(mlp_file):
    model = scratchnet.MLP(3, 5, 2, dtype=np.float32)

    def load():
        expected = r"'net.0.weight' is float64 in the file but float32 in the MLP; cast the model with \.double\(\)"
        with pytest.raises(TypeError, match=expected):
            import_torch_state_dict(model, mlp_file)

    assert_untouched(model, load)


# -- bad and hostile files ----------------------------------------------------------------------------


def import_error(path):
    model = example_model(scratchnet.MLP)
    before = model.state_dict()
    with pytest.raises(ModelFileError) as info:
        import_torch_state_dict(model, path)
    assert_bit_identical(before, model.state_dict())
    assert repr(os.fspath(path)) in str(info.value)
    return info.value.reason


def test_a_pickle_with_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"net.0.weight": CreatesMarker(marker)}, tmp_path / "evil.pt")
    assert "Unsupported global: GLOBAL io.open" in import_error(tmp_path / "evil.pt")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"net.0.weight": CreatesMarker(marker)}, protocol=2))
    assert import_error(tmp_path / "evil.pkl").startswith("it is a raw pickle, not a torch file")
    assert not marker.exists()
    torch.load(tmp_path / "evil.pt", weights_only=False)  # the control: unrestricted loading runs it
    assert marker.exists()


def test_missing_empty_and_foreign_files_say_what_they_are(tmp_path, mlp_file):
    assert import_error(tmp_path / "absent.pt") == "no such file"
    (tmp_path / "empty.pt").write_bytes(b"")
    assert import_error(tmp_path / "empty.pt") == "it is empty (0 bytes), not a torch file"
    scratchnet.save(example_model(scratchnet.MLP), tmp_path / "m.snet")
    assert import_error(tmp_path / "m.snet") == ("it is a scratchnet model file, not a torch file; "
                                                 "load it with scratchnet.load (python -m scratchnet --load)")
    with pytest.raises(ModelFileError, match="import_torch_state_dict"):
        scratchnet.load(mlp_file)  # and the other way round, with the pointer to this module
    torch.save(torch.load(mlp_file), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert "torch's legacy format (before PyTorch 1.6)" in import_error(tmp_path / "legacy.pt")
    np.savez(tmp_path / "weights.npz", w=np.zeros(3))
    assert import_error(tmp_path / "weights.npz") == ("it is a zip archive but not a torch file: torch.save's "
                                                      "archives hold <name>/data.pkl, this one holds ['w.npy']")
    (tmp_path / "notes.txt").write_text("net.0.weight = 1\n")
    assert import_error(tmp_path / "notes.txt") == ("it is not a torch file: torch.save writes a zip archive, "
                                                    "which starts b'PK\\x03\\x04'; this file starts b'net.0.we'")


@pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")
def test_a_torchscript_archive_is_named(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 5)), tmp_path / "scripted.pt")
    assert import_error(tmp_path / "scripted.pt") == ("it is a TorchScript archive (torch.jit.save), not a state_dict "
                                                      "file; write one with torch.save(model.state_dict(), path)")


def test_only_regular_files_are_read(tmp_path):
    assert "it is a directory, not a regular file" in import_error(tmp_path)
    if hasattr(os, "mkfifo"):  # opening a FIFO would wait for a writer
        os.mkfifo(tmp_path / "fifo")
        assert "it is a named pipe (FIFO), not a regular file" in import_error(tmp_path / "fifo")
    if os.path.exists("/dev/zero"):  # reading it would never end
        assert "it is a character device, not a regular file" in import_error("/dev/zero")


@pytest.mark.parametrize("content,reason", [
    ([torch.zeros(2)], "got a list"),
    (torch.zeros(2), "got a Tensor"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.float64), "epoch": 3},
     "'epoch' holds a int; for a training checkpoint"),
    ({"model_state_dict": {"net.0.weight": torch.zeros(5, 3)}}, "'model_state_dict' holds a dict"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.complex128)}, "torch.complex128 tensor"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.float16)}, "torch.float16 tensor"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.float64).to_sparse()}, "torch.sparse_coo"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.complex128).conj().imag},
     "'net.0.weight' has torch's negative bit set (a lazy negation view); save it after .resolve_neg()"),
    ({"net.0.weight": torch.empty(5, 3, dtype=torch.float64, device="meta")},
     "'net.0.weight' is a meta tensor: it has a shape but no values"),
    ({"net.0.weight": "nested"}, "'net.0.weight' is a nested tensor"),
])
def test_files_that_are_not_state_dicts(tmp_path, content, reason):
    if content == {"net.0.weight": "nested"}:  # built here: torch warns that nested tensors are a prototype
        with pytest.warns(UserWarning, match="nested tensors"):
            content = {"net.0.weight": torch.nested.nested_tensor([torch.zeros(3), torch.zeros(2)])}
    torch.save(content, tmp_path / "odd.pt")
    assert reason in import_error(tmp_path / "odd.pt")


@given(data=st.data())
def test_truncated_and_random_files(tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("t")
    export_torch_state_dict(example_model(scratchnet.MLP), directory / "m.pt")
    original = (directory / "m.pt").read_bytes()
    if data.draw(st.booleans()):
        corrupted = original[:data.draw(st.integers(0, len(original) - 1))]
    else:
        corrupted = data.draw(st.binary(max_size=300))
    (directory / "bad.pt").write_bytes(corrupted)
    import_error(directory / "bad.pt")


# -- files that declare more than they hold: refused from their metadata, before anything is copied ------


def torch_state(model, **replaced):
    """``model``'s state_dict as torch tensors, some entries replaced."""
    return {**{key: torch.tensor(array) for key, array in model.state_dict().items()}, **replaced}


def mlp_state(**replaced):
    """The float64 state_dict of example_model(MLP) (3 -> 5 -> 5 -> 2) as torch tensors, some entries replaced."""
    return torch_state(example_model(scratchnet.MLP), **replaced)


def peak_traced_bytes(call):
    """The peak of memory that Python and NumPy allocate (tracemalloc) while ``call()`` runs."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", [(30000, 20000), (10**6, 10**6)])
def test_an_expanded_tensor_is_refused_by_its_shape_before_it_is_copied(tmp_path, shape):
    # 1.6 KB on disk; copied into NumPy it would take 2.4 GB, or 3.6 TiB for the larger shape
    torch.save(mlp_state(**{"net.0.weight": torch.tensor(0.5, dtype=torch.float64).expand(*shape)}),
               tmp_path / "expanded.pt")
    assert os.path.getsize(tmp_path / "expanded.pt") < 4096
    model = example_model(scratchnet.MLP)

    def load():
        with pytest.raises(ValueError, match=rf"'net.0.weight' has shape \({shape[0]}, {shape[1]}\) in the file "
                                             r"but \(5, 3\) in the MLP"):
            import_torch_state_dict(model, tmp_path / "expanded.pt")

    assert peak_traced_bytes(lambda: assert_untouched(model, load)) < 10**6


def test_an_expanded_tensor_of_the_models_shape_imports_as_its_values(tmp_path):
    torch.save(mlp_state(**{"net.0.weight": torch.tensor(0.5, dtype=torch.float64).expand(5, 3)}),
               tmp_path / "expanded.pt")
    weight = import_torch_state_dict(example_model(scratchnet.MLP), tmp_path / "expanded.pt").state_dict()[
        "net.0.weight"]
    assert weight.shape == (5, 3) and weight.flags.c_contiguous and np.all(weight == 0.5)


def deflate_bomb(path, inflated_bytes):
    """A torch archive of the MLP whose first storage record is ``inflated_bytes`` of zeros, deflated."""
    source = io.BytesIO()
    torch.save(mlp_state(), source)
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for record in archive.infolist():
            if record.filename.endswith("/data/0"):
                with bomb.open(record.filename, "w", force_zip64=True) as out:
                    for _ in range(inflated_bytes >> 20):
                        out.write(bytes(1 << 20))
            else:
                bomb.writestr(record.filename, archive.read(record))


def test_a_deflate_bomb_is_refused_by_its_declared_sizes(tmp_path):
    deflate_bomb(tmp_path / "bomb.pt", 64 << 20)
    size = os.path.getsize(tmp_path / "bomb.pt")
    assert size < 200_000
    reason = import_error(tmp_path / "bomb.pt")
    assert reason.startswith(f"its records declare 67,1") and f"in a file of {size:,} bytes" in reason
    assert "refused before anything is inflated" in reason


class Storage:
    """What a tensor's storage pickles as in torch.save's data.pkl: a persistent id."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    """What a tensor pickles as: torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, ...)."""

    def __init__(self, storage, shape, stride, offset=0):
        self.args = (storage, offset, tuple(shape), tuple(stride), False, OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", torch.DoubleStorage, obj.key, "cpu", obj.numel) if isinstance(obj, Storage) else None


def write_torch_archive(path, state, records):
    """A torch archive laid out as torch.save lays it out, with a data.pkl and records of our choosing.

    ``state`` maps names to crafted ``Tensor``s (their storages' bytes in ``records``) or to
    float64 torch tensors, written as torch.save writes them (a storage record each).
    """
    records = dict(records)
    for name, value in state.items():
        if isinstance(value, torch.Tensor):
            state = {**state, name: Tensor(Storage(name, value.numel()), value.shape, value.stride())}
            records[name] = value.numpy().tobytes()
    pickled = io.BytesIO()
    TorchPickler(pickled, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled.getvalue())
        archive.writestr("archive/byteorder", "little")
        for key, data in records.items():
            archive.writestr(f"archive/data/{key}", data)
        archive.writestr("archive/version", "3\n")


def test_the_crafted_archive_is_what_torch_save_writes(tmp_path):
    # the control for the tests below: a well-formed crafted archive imports
    weights = np.arange(15.0)
    write_torch_archive(tmp_path / "crafted.pt",
                        mlp_state(**{"net.0.weight": Tensor(Storage("w", 15), (5, 3), (3, 1))}),
                        {"w": weights.tobytes()})
    model = import_torch_state_dict(example_model(scratchnet.MLP), tmp_path / "crafted.pt")
    assert np.array_equal(model.state_dict()["net.0.weight"], weights.reshape(5, 3))


@pytest.mark.parametrize("tensor,record_bytes,reason", [
    (Tensor(Storage("w", 10**9), (5, 3), (3, 1)), 120, "record size (120 bytes) does not match expected size"),
    (Tensor(Storage("w", 15), (5, 3), (3, 1)), 8, "record size (8 bytes) does not match expected size (120 bytes"),
    (Tensor(Storage("w", 15), (5, 3), (3, 1), offset=1), 120, "Trying to resize storage that is not resizable"),
    (Tensor(Storage("w", 15), (5, 3), (30, 1)), 120, "Trying to resize storage that is not resizable"),
])
def test_a_storage_that_is_not_what_its_record_holds_is_refused(tmp_path, tensor, record_bytes, reason):
    write_torch_archive(tmp_path / "lying.pt", mlp_state(**{"net.0.weight": tensor}), {"w": bytes(record_bytes)})
    assert reason in import_error(tmp_path / "lying.pt")


def test_a_pickle_larger_than_the_model_can_need_is_not_unpickled(tmp_path):
    shared = torch.zeros((), dtype=torch.float64)
    torch.save(mlp_state(**{f"extra.{i}": shared.expand(5, 3) for i in range(2000)}), tmp_path / "many.pt")
    reason = import_error(tmp_path / "many.pt")
    assert reason.startswith("its data.pkl declares") and "more than a state_dict for this model can need" in reason


def test_messages_name_a_few_keys_and_count_the_rest(tmp_path):
    torch.save(mlp_state(**{f"extra.{i}.{'x' * 500}": torch.zeros(1) for i in range(50)}), tmp_path / "extra.pt")
    expected = r"unexpected \['extra.0.xxx.*\.\.\. \(510 characters\).* and 42 more;"
    with pytest.raises(ValueError, match=expected) as info:
        import_torch_state_dict(example_model(scratchnet.MLP), tmp_path / "extra.pt")
    assert len(str(info.value)) < 1500


# -- the command line: one line and exit status 2 for each bad file ------------------------------------


@pytest.mark.parametrize("make,message", [
    (lambda path: path.write_bytes(pickle.dumps({"net.0.weight": np.zeros((5, 3))})), "it is a raw pickle"),
    (lambda path: scratchnet.save(example_model(scratchnet.MLP), path), "it is a scratchnet model file"),
    (lambda path: torch.save(torch_state(scratchnet.MLP(4, [5], 3), **{
        "net.0.weight": torch.tensor(0.5).expand(30000, 20000)}), path),
     "'net.0.weight' has shape (30000, 20000) in the file but (5, 4) in the MLP"),
    (lambda path: deflate_bomb(path, 64 << 20), "refused before anything is inflated"),
])
def test_import_command_says_what_is_wrong_in_one_line(tmp_path, capsys, make, message):
    make(tmp_path / "in.pt")
    args = [str(tmp_path / "in.pt"), str(tmp_path / "out.snet"), "--dataset", "iris", "--hidden", "5"]
    assert import_main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.snet").exists()
