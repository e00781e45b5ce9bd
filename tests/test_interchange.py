"""parity.interchange: scratchnet <-> torch state_dict files, lossless both ways and safe on bad files.

Covers every model class of scratchnet.models that has config(), with its torchnet twin of the
same name and constructor arguments (small configs and inputs come from test_serialization.py).
"""

import os
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_serialization import (
    MODEL_CLASSES,
    CreatesMarker,
    assert_bit_identical,
    example_input,
    example_model,
    fill_with_random_bits,
)

import scratchnet
import torchnet.models
from parity import tolerances
from parity.compare import compare
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


@settings(max_examples=10)
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
    assert "refused it (UnpicklingError" in import_error(tmp_path / "evil.pkl")
    assert not marker.exists()
    torch.load(tmp_path / "evil.pt", weights_only=False)  # the control: unrestricted loading runs it
    assert marker.exists()


def test_missing_empty_and_foreign_files(tmp_path, mlp_file):
    assert import_error(tmp_path / "absent.pt") == "no such file"
    (tmp_path / "empty.pt").write_bytes(b"")
    assert "refused it (EOFError" in import_error(tmp_path / "empty.pt")
    scratchnet.save(example_model(scratchnet.MLP), tmp_path / "m.scn")
    assert "refused it" in import_error(tmp_path / "m.scn")
    assert "scratchnet.load" not in import_error(tmp_path / "m.scn")
    with pytest.raises(ModelFileError, match="import_torch_state_dict"):
        scratchnet.load(mlp_file)  # and the other way round, with the pointer to this module


@pytest.mark.parametrize("content,reason", [
    ([torch.zeros(2)], "got a list"),
    (torch.zeros(2), "got a Tensor"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.float64), "epoch": 3},
     "'epoch' holds a int; for a training checkpoint"),
    ({"model_state_dict": {"net.0.weight": torch.zeros(5, 3)}}, "'model_state_dict' holds a dict"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.complex128)}, "torch.complex128 tensor"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.float16)}, "torch.float16 tensor"),
    ({"net.0.weight": torch.zeros(5, 3, dtype=torch.float64).to_sparse()}, "torch.sparse_coo"),
])
def test_files_that_are_not_state_dicts(tmp_path, content, reason):
    torch.save(content, tmp_path / "odd.pt")
    assert reason in import_error(tmp_path / "odd.pt")


@settings(max_examples=25)
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
