"""parameters_to_vector and vector_to_parameters against torch.nn.utils: values, order, dtypes, views, refusals."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity.transfer import torch_dtype
from scratchnet.nn import Linear, Parameter
from scratchnet.nn.utils import parameters_to_vector, vector_to_parameters

shapes_lists = st.lists(st.lists(st.integers(1, 4), max_size=3).map(tuple), min_size=1, max_size=5)
DTYPES = st.sampled_from([np.float64, np.float32])


def _twins(rng, shapes, dtypes):
    """Parameters with the same random values on both sides."""
    values = [np.asarray(rng.standard_normal(shape), dtype=dtype) for shape, dtype in zip(shapes, dtypes, strict=True)]
    return ([Parameter(value.copy()) for value in values],
            [torch.nn.Parameter(torch.tensor(value.copy())) for value in values])


@given(shapes=shapes_lists, data=st.data(), seed=st.integers(0, 2**16))
@examples(25)
def test_parameters_to_vector_matches_torch(shapes, data, seed):
    dtypes = [data.draw(DTYPES) for _ in shapes]  # mixed dtypes are promoted, as torch.cat does
    mine, theirs = _twins(np.random.default_rng(seed), shapes, dtypes)
    vector = parameters_to_vector(mine)
    torch_vector = torch.nn.utils.parameters_to_vector(theirs).detach()
    assert vector.dtype == torch_vector.numpy().dtype and vector.shape == (sum(p.data.size for p in mine),)
    np.testing.assert_array_equal(vector, torch_vector.numpy())
    vector[...] = 0  # a new array: the parameters keep their values
    assert all(np.any(p.data != 0) for p in mine)


@given(shapes=shapes_lists, vector_dtype=DTYPES, parameter_dtype=DTYPES, extra=st.integers(0, 3),
       seed=st.integers(0, 2**16))
@examples(25)
def test_vector_to_parameters_matches_torch(shapes, vector_dtype, parameter_dtype, extra, seed):
    rng = np.random.default_rng(seed)
    mine, theirs = _twins(rng, shapes, [parameter_dtype] * len(shapes))
    size = sum(p.data.size for p in mine)
    vec = np.asarray(rng.standard_normal(size + extra), dtype=vector_dtype)  # extra entries: unused, as torch
    torch_vec = torch.tensor(vec.copy())
    vector_to_parameters(vec, mine)
    torch.nn.utils.vector_to_parameters(torch_vec, theirs)
    for param, tensor in zip(mine, theirs, strict=True):
        assert param.data.dtype == tensor.detach().numpy().dtype == vector_dtype  # vec's dtype, as torch
        assert param.data.shape == tuple(tensor.shape)
        np.testing.assert_array_equal(param.data, tensor.detach().numpy())
    # views of vec on both sides: a later write to vec shows in the parameters
    vec[...] = 7.0
    torch_vec.fill_(7.0)
    for param, tensor in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(param.data, tensor.detach().numpy())
        assert np.all(param.data == 7.0)


@given(shapes=shapes_lists, seed=st.integers(0, 2**16))
@examples(25)
def test_the_round_trip_is_the_identity(shapes, seed):
    rng = np.random.default_rng(seed)
    mine, _ = _twins(rng, shapes, [np.float64] * len(shapes))
    before = [p.data.copy() for p in mine]
    vector_to_parameters(parameters_to_vector(mine), mine)
    for param, value in zip(mine, before, strict=True):
        np.testing.assert_array_equal(param.data, value)
    vec = rng.standard_normal(sum(value.size for value in before))
    vector_to_parameters(vec, mine)
    np.testing.assert_array_equal(parameters_to_vector(mine), vec)


def test_a_models_parameters_in_order():
    """Linear(3, 2): the weight's 6 values (row by row), then the bias's 2; the layer computes with the new ones."""
    layer = Linear(3, 2, dtype=np.float64)
    vec = np.arange(8.0)
    vector_to_parameters(vec, layer.parameters())  # a generator, read once
    np.testing.assert_array_equal(layer.weight.data, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(layer.bias.data, [6.0, 7.0])
    np.testing.assert_array_equal(layer(np.ones((1, 3))), [[0 + 1 + 2 + 6.0, 3 + 4 + 5 + 7.0]])
    np.testing.assert_array_equal(parameters_to_vector(layer.parameters()), vec)


def test_refusals_and_what_torch_does():
    mine, theirs = _twins(np.random.default_rng(0), [(2, 3), (4,)], [np.float32, np.float32])
    with pytest.raises(ValueError, match="non-empty"):
        parameters_to_vector([])
    with pytest.raises(ValueError, match="non-empty"):
        torch.nn.utils.parameters_to_vector([])
    with pytest.raises(TypeError, match="expected numpy.ndarray, but got: list"):
        vector_to_parameters([1.0] * 10, mine)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        torch.nn.utils.vector_to_parameters([1.0] * 10, theirs)
    with pytest.raises(TypeError, match=r"expected Parameters \(e.g. model.parameters\(\)\), got ndarray"):
        parameters_to_vector([np.zeros(3)])

    before = [p.data.copy() for p in mine]
    # too short: torch fails on the second parameter after overwriting the first; scratchnet refuses up front
    with pytest.raises(ValueError, match="the parameters hold 10 values, but the vector has only 8"):
        vector_to_parameters(np.arange(8.0), mine)
    with pytest.raises(RuntimeError, match="invalid for input of size 2"):
        torch.nn.utils.vector_to_parameters(torch.arange(8.0), theirs)
    # not float: torch refuses it for a parameter too (its data must be floating point)
    with pytest.raises(TypeError, match="expected a float32 or float64 vector"):
        vector_to_parameters(np.arange(10), mine)
    with pytest.raises(RuntimeError, match="must be floating point"):
        torch.nn.utils.vector_to_parameters(torch.arange(10), theirs[1:])
    with pytest.raises(ValueError, match=r"expected a 1-D vector, got shape \(10, 1\)"):
        vector_to_parameters(np.zeros((10, 1)), mine)
    for param, value in zip(mine, before, strict=True):
        np.testing.assert_array_equal(param.data, value)  # every refusal before any change


def test_dtypes_of_the_twins_agree():
    """The twin helper really builds both sides in the given dtype (else the dtype checks above prove nothing)."""
    mine, theirs = _twins(np.random.default_rng(0), [(2,)], [np.float32])
    assert mine[0].data.dtype == np.float32 and theirs[0].dtype == torch_dtype(np.float32)
