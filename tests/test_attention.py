"""Scaled dot-product attention and MultiheadAttention: parity with torch, gradient checks, properties.

Parity runs torch with its MHA fast path off (see parity/tolerances.py's note): the fused
kernel is other code, so the comparison would not be of the same math. The masks and options
are keyword arguments, which ``check_module`` does not pass, so a small wrapper on each side
holds them (state_dict keys ``mha.in_proj_weight`` ... on both sides).

Dropout inside attention cannot draw torch's random numbers; parity with dropout replaces
``torch.nn.functional.dropout`` (what torch's MHA calls on its weights) by the mask scratchnet
drew, as tests/test_dropout.py does for the Dropout layer.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet
import scratchnet.nn as snn
from parity import check_module, transfer
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import functional as F
from scratchnet.nn.attention import attention_backward, attention_forward
from scratchnet.nn.transformer import generate_square_subsequent_mask


pytestmark = pytest.mark.usefixtures("no_torch_fastpath")  # defined in conftest.py


# -- scaled_dot_product_attention -------------------------------------------------------------------


class SDPA(snn.Module):
    """scratchnet's attention_forward / attention_backward as a module, options fixed."""

    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, q, k, v):
        O, self._cache = attention_forward(q, k, v, **self.options)
        return O

    def backward(self, dO):
        return attention_backward(dO, self._cache)


class TorchSDPA(torch.nn.Module):
    def __init__(self, attn_mask=None, **options):
        super().__init__()
        self.attn_mask = None if attn_mask is None else torch.tensor(attn_mask)
        self.options = options

    def forward(self, q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=self.attn_mask, **self.options)


def _draw_mask(rng, kind, shape, dtype):
    """None, a boolean mask (True = takes part), a float mask, or 'causal'."""
    if kind == "bool":
        return rng.random(shape) < 0.7
    if kind == "float":
        mask = rng.standard_normal(shape).astype(dtype)
        mask[rng.random(shape) < 0.2] = -np.inf
        return mask
    return None


@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    L=st.integers(1, 6),
    S=st.integers(1, 6),
    E=st.integers(1, 5),
    Ev=st.integers(1, 5),
    mask=st.sampled_from([None, "bool", "float", "causal"]),
    broadcast_mask=st.booleans(),
    scale=st.sampled_from([None, 0.3]),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_sdpa_matches_torch(batch, L, S, E, Ev, mask, broadcast_mask, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((*batch, n, e)).astype(dtype) for n, e in ((L, E), (S, E), (S, Ev)))
    mask_shape = (L, S) if broadcast_mask else (*batch, L, S)
    attn_mask = _draw_mask(rng, mask, mask_shape, dtype)
    options = {"is_causal": mask == "causal", "scale": scale}
    report = check_module(SDPA(attn_mask=attn_mask, **options), TorchSDPA(attn_mask, **options), q, k, v)
    report.assert_passed()
    assert {d.name for d in report.diffs} == {"output", "grad input[0]", "grad input[1]", "grad input[2]"}


def test_functional_reexports_sdpa_like_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    mask = rng.random((3, 5)) < 0.5
    expected = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)), torch.tensor(mask))
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, mask), expected.numpy(), rtol=1e-12, atol=1e-14)


def test_a_query_with_every_key_masked_gets_zero_output_like_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    check_module(SDPA(attn_mask=mask), TorchSDPA(mask), q, k, v).assert_passed()
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, mask)[1], 0.0)


def test_sdpa_backward_is_the_docstring_math():
    """attention_backward against the issue's equations written out here once more, head by head."""
    rng = np.random.default_rng(0)
    Q, K, V = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    dO = rng.standard_normal((4, 2))
    scale = 1 / np.sqrt(3)
    S = Q @ K.T * scale
    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
    dP = dO @ V.T
    dS = P * (dP - (dP * P).sum(axis=1, keepdims=True))
    dQ, dK, dV = attention_backward(dO, attention_forward(Q, K, V)[1])
    np.testing.assert_allclose(dV, P.T @ dO, rtol=1e-12)
    np.testing.assert_allclose(dQ, dS @ K * scale, rtol=1e-12)
    np.testing.assert_allclose(dK, dS.T @ Q * scale, rtol=1e-12)


@pytest.mark.parametrize("options", [{}, {"is_causal": True}, {"scale": 0.7},
                                     {"attn_mask": np.array([[True, False, True], [False, True, True]])},
                                     {"attn_mask": np.array([[0.5, -1.0, 0.0], [2.0, 0.0, -np.inf]])}])
def test_sdpa_gradcheck(options):
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 2))
    assert gradcheck(SDPA(**options), q, k, v) == []


class ReseededSDPA(SDPA):
    """The same dropout mask at every forward, so central differences see one function."""

    def forward(self, q, k, v):
        scratchnet.manual_seed(5)
        return super().forward(q, k, v)


def test_sdpa_gradcheck_with_dropout():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2))
    module = ReseededSDPA(dropout_p=0.4)
    assert gradcheck(module, q, k, v) == []
    P, Z = module._cache[3], module._cache[4]
    assert (Z == 0).any() and (Z != 0).any()  # some weights dropped, some kept
    np.testing.assert_array_equal(module(q, k, v), (P * Z) @ v)


def test_sdpa_dropout_matches_torch_math_with_a_shared_mask():
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2))
    p = 0.3
    scratchnet.manual_seed(9)
    keep = scratchnet._random.default_generator().random((2, 4, 5)) < 1 - p
    scratchnet.manual_seed(9)

    class TorchMath(torch.nn.Module):  # torch's math backend with dropout: softmax(S) * keep / (1 - p) @ V
        def forward(self, q, k, v):
            P = torch.softmax(q @ k.transpose(-1, -2) / np.sqrt(3), dim=-1)
            return (P * torch.tensor(keep) / (1 - p)) @ v

    check_module(SDPA(dropout_p=p), TorchMath(), q, k, v).assert_passed()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"attn_mask": np.ones((2, 3), bool), "is_causal": True}, ValueError, "should not be set when is_causal=True"),
    ({"attn_mask": np.ones((2, 4), bool)}, ValueError, r"attn_mask of shape \(2, 4\) does not broadcast"),
    ({"attn_mask": np.ones((5, 2, 3), bool)}, ValueError, r"does not broadcast to the scores' shape \(2, 3\)"),
    ({"attn_mask": np.ones((2, 3), np.int64)}, TypeError, "bool or float"),
    ({"dropout_p": 1.5}, ValueError, "between 0 and 1"),
])
def test_sdpa_rejects_bad_options(kwargs, error, match):
    q, k, v = np.zeros((2, 4)), np.zeros((3, 4)), np.zeros((3, 2))
    with pytest.raises(error, match=match):
        F.scaled_dot_product_attention(q, k, v, **kwargs)


@pytest.mark.parametrize("shapes, match", [
    (((2, 4), (3, 5), (3, 2)), "same last dimension E"),
    (((2, 4), (3, 4), (2, 2)), "as many keys as values"),
    (((1, 2, 4), (2, 3, 4), (2, 3, 2)), "same leading"),
    (((4,), (3, 4), (3, 2)), "at least 2 dimensions"),
])
def test_sdpa_rejects_bad_shapes(shapes, match):
    with pytest.raises(ValueError, match=match):
        F.scaled_dot_product_attention(*(np.zeros(s) for s in shapes))


# -- MultiheadAttention: parity ---------------------------------------------------------------------


class Call(snn.Module):
    """Calls ``mha`` with fixed keyword options; returns y, or (y, weights) when need_weights."""

    def __init__(self, mha, **options):
        super().__init__()
        self.mha, self.options = mha, options

    def forward(self, query, key, value):
        y, weights = self.mha(query, key, value, **self.options)
        return y if weights is None else (y, weights)

    def backward(self, grad):
        return self.mha.backward(grad)


class TorchCall(torch.nn.Module):
    def __init__(self, mha, **options):
        super().__init__()
        self.mha = mha
        self.options = {name: torch.tensor(value) if isinstance(value, np.ndarray) else value
                        for name, value in options.items()}

    def forward(self, query, key, value):
        y, weights = self.mha(query, key, value, **self.options)
        return y if weights is None else (y, weights)


def _ignore_mask(rng, kind, shape, dtype):
    """MultiheadAttention's convention: a boolean True ignores the key. Key 0 always stays, so no
    query loses every key (where torch's need_weights path gives nan)."""
    if kind == "bool":
        mask = rng.random(shape) < 0.4
        mask[..., 0] = False
        return mask
    if kind == "float":
        mask = rng.standard_normal(shape).astype(dtype)
        mask[..., 1:][rng.random(mask[..., 1:].shape) < 0.3] = -np.inf
        return mask
    return None


def _pair(E, H, dtype, **kwargs):
    torch_mha = torch.nn.MultiheadAttention(E, H, dtype=transfer.torch_dtype(dtype), **kwargs)
    return snn.MultiheadAttention(E, H, dtype=dtype, **kwargs), torch_mha


@given(
    N=st.integers(1, 3),
    L=st.integers(1, 5),
    S=st.integers(1, 5),
    heads_and_width=st.sampled_from([(1, 3), (2, 4), (2, 6), (3, 6), (4, 8)]),
    batched=st.booleans(),
    batch_first=st.booleans(),
    bias=st.booleans(),
    self_attention=st.booleans(),
    mask_kind=st.sampled_from([None, "bool", "float"]),
    attn_mask_ndim=st.sampled_from([None, 2, 3]),
    key_padding=st.booleans(),
    need_weights=st.booleans(),
    average_attn_weights=st.booleans(),
    training=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_mha_matches_torch(N, L, S, heads_and_width, batched, batch_first, bias, self_attention, mask_kind,
                           attn_mask_ndim, key_padding, need_weights, average_attn_weights, training, dtype, seed):
    H, E = heads_and_width
    rng = np.random.default_rng(seed)
    S = L if self_attention else S
    sizes = [(L, E), (S, E), (S, E)]
    if batched:
        sizes = [(N, n, e) if batch_first else (n, N, e) for n, e in sizes]
    query, key, value = (rng.standard_normal(size).astype(dtype) for size in sizes)
    if self_attention:
        key = value = query
    options = {"need_weights": need_weights, "average_attn_weights": average_attn_weights}
    if mask_kind and attn_mask_ndim:
        shape = (L, S) if attn_mask_ndim == 2 else ((N if batched else 1) * H, L, S)
        options["attn_mask"] = _ignore_mask(rng, mask_kind, shape, dtype)
    if mask_kind and key_padding:
        options["key_padding_mask"] = _ignore_mask(rng, mask_kind, (N, S) if batched else (S,), dtype)
    scratch_mha, torch_mha = _pair(E, H, dtype, bias=bias, batch_first=batch_first)
    twin = TorchCall(torch_mha, **options).train(training)  # check_module sets scratchnet's mode from it
    report = check_module(Call(scratch_mha, **options), twin, query, key, value)
    report.assert_passed()
    assert "grad mha.in_proj_weight" in {d.name for d in report.diffs}


def test_mha_state_dict_keys_and_shapes_are_torchs():
    scratch_mha, torch_mha = _pair(6, 3, np.float32)
    assert [(k, v.shape) for k, v in scratch_mha.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in torch_mha.state_dict().items()]
    scratch_mha, torch_mha = _pair(6, 3, np.float32, bias=False)
    assert list(scratch_mha.state_dict()) == list(torch_mha.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    transfer.scratch_to_torch(scratch_mha, torch_mha)  # loads into torch without complaint


def test_mha_init_is_torchs():
    """xavier_uniform_ in_proj (bound sqrt(6 / 4E)), out_proj weight U(+-1/sqrt(E)), zero biases."""
    E = 64
    scratchnet.manual_seed(0)
    mha = snn.MultiheadAttention(E, 4, dtype=np.float64)
    torch.manual_seed(0)
    twin = torch.nn.MultiheadAttention(E, 4, dtype=torch.float64)
    for name, bound in (("in_proj_weight", np.sqrt(6 / (4 * E))), ("out_proj.weight", 1 / np.sqrt(E))):
        mine, theirs = mha.state_dict()[name], twin.state_dict()[name].numpy()
        assert np.abs(mine).max() <= bound and np.abs(theirs).max() <= bound
        assert np.abs(mine).max() > 0.95 * bound  # fills the interval, as a uniform draw of 4096+ values does
        assert abs(mine.std() - theirs.std()) < 0.05 * theirs.std()
    np.testing.assert_array_equal(mha.in_proj_bias.data, 0.0)
    np.testing.assert_array_equal(mha.out_proj.bias.data, 0.0)


def test_mha_dropout_matches_torch_with_a_shared_mask(monkeypatch, dtype):
    """Training with dropout: torch's MHA with its dropout call replaced by scratchnet's mask."""
    N, L, S, E, H, p = 2, 3, 4, 4, 2, 0.4
    rng = np.random.default_rng(4)
    query, key = rng.standard_normal((L, N, E)).astype(dtype), rng.standard_normal((S, N, E)).astype(dtype)
    scratch_mha, torch_mha = _pair(E, H, dtype, dropout=p)
    scratchnet.manual_seed(11)
    keep = scratchnet._random.default_generator().random((N, H, L, S)) < 1 - p
    scratchnet.manual_seed(11)

    def shared_dropout(x, p, training=True, inplace=False):
        return x * torch.tensor(keep.reshape(x.shape)).to(x.dtype) / (1 - p)

    monkeypatch.setattr(torch.nn.functional, "dropout", shared_dropout)
    report = check_module(Call(scratch_mha), TorchCall(torch_mha), query, key, key)
    report.assert_passed()
    assert not keep.all() and keep.any()  # the weights compared above went through a real dropout


def test_mha_in_eval_mode_ignores_dropout():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 4))
    scratch_mha, torch_mha = _pair(4, 2, np.float64, dropout=0.9)
    check_module(Call(scratch_mha), TorchCall(torch_mha).eval(), x, x, x).assert_passed()
    assert not scratch_mha.training


# -- MultiheadAttention: gradient checks ------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {},
    {"need_weights": False},
    {"average_attn_weights": False},
    {"attn_mask": np.array([[False, True, False], [False, False, True]]),
     "key_padding_mask": np.array([[False, False, True], [False, True, False]])},
    {"attn_mask": np.random.default_rng(0).standard_normal((4, 2, 3))},
])
def test_mha_gradcheck(options):
    scratchnet.manual_seed(3)
    rng = np.random.default_rng(3)
    query, key, value = rng.standard_normal((2, 2, 4)), rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    assert gradcheck(Call(snn.MultiheadAttention(4, 2, dtype=np.float64), **options), query, key, value) == []


def test_mha_gradcheck_unbatched_batch_first_no_bias():
    scratchnet.manual_seed(4)
    rng = np.random.default_rng(4)
    query, key = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    mha = snn.MultiheadAttention(4, 2, bias=False, batch_first=True, dtype=np.float64)
    assert gradcheck(Call(mha, average_attn_weights=False), query, key, key) == []


def test_mha_gradcheck_with_dropout():
    class Reseeded(Call):
        def forward(self, query, key, value):
            scratchnet.manual_seed(6)
            return super().forward(query, key, value)

    scratchnet.manual_seed(5)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 4))
    assert gradcheck(Reseeded(snn.MultiheadAttention(4, 2, dropout=0.3, dtype=np.float64)), x, x, x) == []


def test_self_attention_gradient_is_the_sum_of_the_three():
    """One array passed as query, key and value: backward still returns three; their sum is dL/dx."""

    class SelfAttention(snn.Module):
        def __init__(self):
            super().__init__()
            self.mha = snn.MultiheadAttention(4, 2, dtype=np.float64)

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]

        def backward(self, grad_output):
            grads = self.mha.backward(grad_output)
            assert len(grads) == 3
            return grads[0] + grads[1] + grads[2]

    scratchnet.manual_seed(7)
    assert gradcheck(SelfAttention(), np.random.default_rng(7).standard_normal((3, 2, 4))) == []


# -- properties -------------------------------------------------------------------------------------


@given(L=st.integers(1, 6), S=st.integers(1, 6), E=st.integers(1, 4), mask=st.sampled_from([None, "bool", "float"]),
       seed=st.integers(0, 2**16))
def test_attention_rows_sum_to_one(L, S, E, mask, seed):
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((2, L, E)), rng.standard_normal((2, S, E)), rng.standard_normal((2, S, 3))
    attn_mask = _draw_mask(rng, mask, (L, S), np.float64)
    if attn_mask is not None:  # every query keeps key 0 (a row with no key at all is all zeros, tested above)
        attn_mask[:, 0] = True if mask == "bool" else 0.0
    P = attention_forward(q * 3, k, v, attn_mask)[1][3]
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    assert (P >= 0).all()


@given(N=st.integers(1, 3), L=st.integers(1, 5), S=st.integers(2, 5), average=st.booleans(),
       seed=st.integers(0, 2**16))
def test_a_fully_masked_key_gets_zero_weight_and_its_value_does_not_matter(N, L, S, average, seed):
    rng = np.random.default_rng(seed)
    scratchnet.manual_seed(seed)
    mha = snn.MultiheadAttention(4, 2, dtype=np.float64)
    query, key, value = rng.standard_normal((L, N, 4)), rng.standard_normal((S, N, 4)), rng.standard_normal((S, N, 4))
    padding = np.zeros((N, S), dtype=bool)
    masked = int(rng.integers(1, S))
    padding[:, masked] = True
    y, weights = mha(query, key, value, key_padding_mask=padding, average_attn_weights=average)
    np.testing.assert_array_equal(weights[..., masked], 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    key[masked], value[masked] = 100 * rng.standard_normal((N, 4)), 100 * rng.standard_normal((N, 4))
    np.testing.assert_allclose(mha(query, key, value, key_padding_mask=padding)[0], y, rtol=1e-13, atol=1e-14)


@given(L=st.integers(2, 6), t=st.integers(0, 5), seed=st.integers(0, 2**16))
def test_causal_outputs_do_not_see_later_tokens(L, t, seed):
    t = t % (L - 1)  # a position with at least one later token
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((2, L, 3)) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    for x in (q, k, v):
        x[:, t + 1:] = 50 * rng.standard_normal(x[:, t + 1:].shape)
    changed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(changed[:, :t + 1], out[:, :t + 1], rtol=1e-13, atol=1e-14)
    assert not np.allclose(changed[:, t + 1:], out[:, t + 1:])

    scratchnet.manual_seed(seed)
    mha = snn.MultiheadAttention(4, 2, batch_first=True, dtype=np.float64)
    x = rng.standard_normal((2, L, 4))
    mask = generate_square_subsequent_mask(L, dtype=np.float64)
    y = mha(x, x, x, attn_mask=mask, is_causal=True)[0]
    x[:, t + 1:] = 50 * rng.standard_normal(x[:, t + 1:].shape)
    np.testing.assert_allclose(mha(x, x, x, attn_mask=mask, is_causal=True)[0][:, :t + 1], y[:, :t + 1],
                               rtol=1e-13, atol=1e-14)


# -- refusals and checks ----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, match", [
    ({"kdim": 3}, NotImplementedError, "kdim=3 differs from embed_dim=4"),
    ({"vdim": 5}, NotImplementedError, "vdim=5 differs from embed_dim=4"),
    ({"add_bias_kv": True}, NotImplementedError, "add_bias_kv=True is not implemented"),
    ({"add_zero_attn": True}, NotImplementedError, "add_zero_attn=True is not implemented"),
    ({"num_heads": 3}, ValueError, "embed_dim must be divisible by num_heads"),
    ({"dropout": -0.1}, ValueError, "between 0 and 1"),
    ({"device": "cuda"}, ValueError, "CPU only"),
])
def test_mha_refuses_what_it_does_not_implement(kwargs, error, match):
    options = {"embed_dim": 4, "num_heads": 2, **kwargs}
    with pytest.raises(error, match=match):
        snn.MultiheadAttention(**options)


def test_mha_accepts_kdim_and_vdim_equal_to_embed_dim():
    mha = snn.MultiheadAttention(4, 2, kdim=4, vdim=4)
    assert mha.kdim == mha.vdim == 4 and mha._qkv_same_embed_dim


@pytest.mark.parametrize("kwargs, match", [
    ({"is_causal": True}, "Need attn_mask if specifying the is_causal hint"),
    ({"attn_mask": np.zeros((3, 3), bool)}, r"attn_mask of shape \(3, 2\) or \(4, 3, 2\)"),
    ({"attn_mask": np.zeros((2, 3, 2), bool)}, r"attn_mask of shape \(3, 2\) or \(4, 3, 2\)"),
    ({"key_padding_mask": np.zeros((2, 3), bool)}, r"key_padding_mask shape of \(2, 2\)"),
])
def test_mha_rejects_bad_masks(kwargs, match):
    mha = snn.MultiheadAttention(4, 2, dtype=np.float64)
    query, key = np.zeros((3, 2, 4)), np.zeros((2, 2, 4))
    with pytest.raises(ValueError, match=match):
        mha(query, key, key, **kwargs)


def test_mha_rejects_bad_inputs():
    mha = snn.MultiheadAttention(4, 2, dtype=np.float64)
    with pytest.raises(ValueError, match="with 4 features"):
        mha(np.zeros((3, 2, 5)), np.zeros((3, 2, 5)), np.zeros((3, 2, 5)))
    with pytest.raises(ValueError, match="all 3-D"):
        mha(np.zeros((3, 2, 4)), np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="does not match value shape"):
        mha(np.zeros((3, 2, 4)), np.zeros((3, 2, 4)), np.zeros((2, 2, 4)))
    with pytest.raises(TypeError, match="dtype float32 but the parameters are float64"):
        mha(*(np.zeros((3, 2, 4), np.float32),) * 3)
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        mha(*(np.zeros((3, 2, 4)),) * 3, attn_mask=np.zeros((3, 3), np.int64))
