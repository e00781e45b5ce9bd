"""Embedding against torch.nn.Embedding: lookup, scatter-add backward, padding_idx, init, bad indices."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
import scratchnet
from parity import check_module
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import Embedding, Module

DTYPES = [np.float64, np.float32]


class TokenPlusPosition(Module):
    """y = Embedding(idx) + x, as a GPT adds position vectors to token vectors; dx = g.

    check_module takes its dtype (and draws dL/dy) from a float input, and an Embedding's only
    input is integer: the float x gives it one, and its gradient checks that g reaches the sum.
    """

    def __init__(self, embedding):
        super().__init__()
        self.embedding = embedding

    def forward(self, idx, x):
        return self.embedding(idx) + x

    def backward(self, grad_output):
        assert self.embedding.backward(grad_output) == ()  # integer indices take no gradient
        return grad_output


class TorchTokenPlusPosition(torch.nn.Module):
    def __init__(self, embedding):
        super().__init__()
        self.embedding = embedding

    def forward(self, idx, x):
        return self.embedding(idx) + x


def twins(num_embeddings, embedding_dim, dtype=np.float64, **kwargs):
    return (Embedding(num_embeddings, embedding_dim, dtype=dtype, **kwargs),
            torch.nn.Embedding(num_embeddings, embedding_dim, dtype=torch_dtype(dtype), **kwargs))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@examples(40)
@given(num_embeddings=st.integers(1, 12), embedding_dim=st.integers(1, 6),
       index_shape=st.lists(st.integers(1, 5), max_size=3), padding=st.booleans(), seed=st.integers(0, 2**16))
def test_embedding_matches_torch(dtype, num_embeddings, embedding_dim, index_shape, padding, seed):
    rng = np.random.default_rng(seed)
    padding_idx = int(rng.integers(-num_embeddings, num_embeddings)) if padding else None
    scratch, twin = twins(num_embeddings, embedding_dim, dtype, padding_idx=padding_idx)
    idx = rng.integers(0, num_embeddings, index_shape)  # small tables: repeated indices are common
    x = rng.standard_normal((*index_shape, embedding_dim)).astype(dtype)
    check_module(TokenPlusPosition(scratch), TorchTokenPlusPosition(twin), idx, x, seed=seed).assert_passed()
    assert scratch.padding_idx == twin.padding_idx


@pytest.mark.parametrize("padding_idx", [None, 2, -3])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32, np.uint8])
def test_embedding_gradcheck(padding_idx, index_dtype):
    """The central differences of every row, the padding row included, while it is not looked up."""
    rng = np.random.default_rng(1)
    embedding = Embedding(5, 3, padding_idx=padding_idx, dtype=np.float64)
    idx = np.array([[0, 3, 3, 1], [4, 0, 0, 0]], dtype=index_dtype)
    assert gradcheck(embedding, idx) == []  # integer input: held fixed, no input gradient
    assert gradcheck(embedding, rng.choice([0, 1, 3, 4], (2, 3, 2)).astype(index_dtype)) == []


def test_the_padding_row_is_frozen_not_differentiated():
    """torch's convention: the forward reads row padding_idx, yet its gradient is 0 (the row never trains)."""
    embedding = Embedding(5, 3, padding_idx=2, dtype=np.float64)
    failures = gradcheck(embedding, np.array([2, 1, 2]))
    assert len(failures) == 1 and failures[0].startswith("weight:")
    embedding.zero_grad()
    embedding(np.array([2, 1, 2]))
    embedding.backward(np.ones((3, 3)))
    assert not embedding.weight.grad[2].any() and embedding.weight.grad[1].tolist() == [1, 1, 1]


def test_gradcheck_sees_a_wrong_scatter():
    """Assigning instead of adding (dW[idx] = g loses the repeats) must fail the check."""
    embedding = Embedding(4, 2, dtype=np.float64)

    def backward_by_assignment(grad_output):
        dW = np.zeros_like(embedding.weight.data)
        dW[embedding._idx.reshape(-1)] = grad_output.reshape(-1, 2)
        embedding.weight.accumulate_grad(dW)
        return ()
    embedding.backward = backward_by_assignment
    assert gradcheck(embedding, np.array([1, 2, 1])) != []


@examples(30)
@given(num_embeddings=st.integers(1, 8), embedding_dim=st.integers(1, 4),
       index_shape=st.lists(st.integers(0, 5), max_size=3), padding=st.booleans(), seed=st.integers(0, 2**16))
def test_backward_scatters_into_the_rows_used(num_embeddings, embedding_dim, index_shape, padding, seed):
    """dW[v] = sum of g over the positions holding v: other rows get 0, repeats add, padding gets 0."""
    rng = np.random.default_rng(seed)
    padding_idx = int(rng.integers(0, num_embeddings)) if padding else None
    embedding = Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx, dtype=np.float64)
    idx = rng.integers(0, num_embeddings, index_shape)
    y = embedding(idx)
    np.testing.assert_array_equal(y, embedding.weight.data[idx])
    g = rng.standard_normal(y.shape)
    assert embedding.backward(g) == ()
    for v in range(num_embeddings):
        used = idx == v
        expected = np.zeros(embedding_dim) if v == padding_idx else g[used].sum(axis=0)
        np.testing.assert_allclose(embedding.weight.grad[v], expected, rtol=1e-12, atol=1e-15)
        if not used.any():
            assert not embedding.weight.grad[v].any()


def test_repeated_indices_accumulate_and_gradients_add_across_calls():
    embedding = Embedding(3, 2, dtype=np.float64)
    embedding(np.array([1, 1, 1]))
    embedding.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(embedding.weight.grad, [[0, 0], [3, 3], [0, 0]])
    embedding(np.array([2]))
    embedding.backward(np.full((1, 2), 0.5))
    np.testing.assert_array_equal(embedding.weight.grad, [[0, 0], [3, 3], [0.5, 0.5]])


def test_output_is_a_copy_of_the_rows():
    embedding = Embedding(4, 3, dtype=np.float64)
    before = embedding.weight.data.copy()
    for idx in (np.array([1, 2]), np.array(2)):  # a 0-d index gives one vector, as torch's
        y = embedding(idx)
        assert y.shape == idx.shape + (3,)
        y += 1
    np.testing.assert_array_equal(embedding.weight.data, before)
    assert tuple(torch.nn.Embedding(4, 3)(torch.tensor(2)).shape) == (3,)


def test_init_is_standard_normal_with_the_padding_row_zero():
    scratchnet.manual_seed(0)
    embedding = Embedding(1000, 100, padding_idx=7)
    assert embedding.weight.dtype == np.float32  # the default dtype
    assert not embedding.weight.data[7].any()
    others = np.delete(embedding.weight.data, 7, axis=0).astype(np.float64)
    assert abs(others.mean()) < 0.01 and abs(others.std() - 1) < 0.01  # 1e5 draws: ~3e-3 either
    scratchnet.manual_seed(0)
    np.testing.assert_array_equal(Embedding(1000, 100, padding_idx=7).weight.data, embedding.weight.data)


def test_state_dict_keys_and_repr_match_torch():
    for kwargs in ({}, {"padding_idx": 2}, {"padding_idx": -1}):
        scratch, twin = twins(5, 3, np.float32, **kwargs)
        assert list(scratch.state_dict()) == list(twin.state_dict()) == ["weight"]
        assert scratch.state_dict()["weight"].shape == tuple(twin.weight.shape) == (5, 3)
        assert repr(scratch) == repr(twin)
        assert scratch.padding_idx == twin.padding_idx


# -- bad input --------------------------------------------------------------------------------


def test_bad_indices_name_the_expected_form():
    embedding = Embedding(5, 3, dtype=np.float64)
    with pytest.raises(TypeError, match=r"Embedding expected integer indices \(an int64 or int32 array of any "
                                        r"shape\), got dtype float64"):
        embedding(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"expected integer indices .* got dtype bool"):
        embedding(np.array([True, False]))
    with pytest.raises(TypeError, match=r"Embedding input must be a numpy.ndarray, got list"):
        embedding([0, 1])
    with pytest.raises(IndexError, match=r"Embedding\(5, 3\) expected indices in \[0, 5\), got 5 in an input "
                                         r"of shape \(2, 2\)"):
        embedding(np.array([[0, 1], [5, 2]]))
    with pytest.raises(IndexError, match=r"expected indices in \[0, 5\), got -1"):
        embedding(np.array([-1, 2]))
    assert embedding(np.zeros((0, 4), dtype=np.int64)).shape == (0, 4, 3)  # no indices, no rows


@pytest.mark.parametrize("kwargs,match", [
    ({"num_embeddings": -1}, "non-negative integer num_embeddings"),
    ({"embedding_dim": 2.5}, "non-negative integer embedding_dim"),
    ({"padding_idx": 5}, r"padding_idx to be None or an integer in \[-5, 5\)"),
    ({"padding_idx": -6}, r"padding_idx to be None or an integer in \[-5, 5\)"),
    ({"padding_idx": 1.0}, "padding_idx to be None or an integer"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Embedding(**{"num_embeddings": 5, "embedding_dim": 3, **kwargs})


@pytest.mark.parametrize("option", [{"max_norm": 1.0}, {"scale_grad_by_freq": True}, {"sparse": True}])
def test_unimplemented_options_are_refused(option):
    with pytest.raises(NotImplementedError, match=f"does not implement {next(iter(option))}"):
        Embedding(5, 3, **option)
