"""TransformerEncoderLayer and TransformerEncoder: parity with torch, gradient checks, properties.

torch's fused inference path is turned off on the torch side (see parity/tolerances.py's note
and ``test_torch_fast_path_is_other_math``). Dropout is 0 for parity: torch's attention dropout
runs inside its C++ kernel, whose random numbers cannot be shared; the gradient check covers
dropout with a fixed seed. Masks are keyword arguments, so a wrapper on each side holds them.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet
import scratchnet.nn as snn
from parity import check_module, transfer
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.transformer import generate_square_subsequent_mask


pytestmark = pytest.mark.usefixtures("no_torch_fastpath")  # defined in conftest.py


class Call(snn.Module):
    """Calls ``model`` with fixed keyword options (the masks)."""

    def __init__(self, model, **options):
        super().__init__()
        self.model, self.options = model, options

    def forward(self, src):
        return self.model(src, **self.options)

    def backward(self, grad_output):
        return self.model.backward(grad_output)


class TorchCall(torch.nn.Module):
    def __init__(self, model, **options):
        super().__init__()
        self.model = model
        self.options = {name: torch.tensor(value) if isinstance(value, np.ndarray) else value
                        for name, value in options.items()}

    def forward(self, src):
        return self.model(src, **self.options)


def _layers(d_model, nhead, dtype, **kwargs):
    kwargs.setdefault("dropout", 0.0)
    torch_layer = torch.nn.TransformerEncoderLayer(d_model, nhead, dtype=transfer.torch_dtype(dtype), **kwargs)
    return snn.TransformerEncoderLayer(d_model, nhead, dtype=dtype, **kwargs), torch_layer


def _src_and_masks(rng, L, N, d_model, nhead, batched, batch_first, mask_kind, mask_ndim, key_padding, dtype):
    """src and the masks (MultiheadAttention's convention: True ignores a key; key 0 always stays)."""
    shape = ((N, L, d_model) if batch_first else (L, N, d_model)) if batched else (L, d_model)
    src = rng.standard_normal(shape).astype(dtype)
    options = {}
    if mask_kind == "causal":
        options = {"src_mask": generate_square_subsequent_mask(L, dtype=dtype), "is_causal": True}
    elif mask_kind is not None:
        def draw(mask_shape):
            if mask_kind == "bool":
                mask = rng.random(mask_shape) < 0.4
                mask[..., 0] = False
                return mask
            mask = rng.standard_normal(mask_shape).astype(dtype)
            mask[..., 1:][rng.random(mask[..., 1:].shape) < 0.3] = -np.inf
            return mask
        if mask_ndim:
            options["src_mask"] = draw((L, L) if mask_ndim == 2 else ((N if batched else 1) * nhead, L, L))
        if key_padding:
            options["src_key_padding_mask"] = draw((N, L) if batched else (L,))
    return src, options


LAYER_CONFIG = {
    "L": st.integers(1, 5),
    "N": st.integers(1, 3),
    "heads_and_width": st.sampled_from([(1, 4), (2, 4), (2, 6), (3, 6)]),
    "dim_feedforward": st.integers(1, 10),
    "activation": st.sampled_from(["relu", "gelu"]),
    "norm_first": st.booleans(),
    "batch_first": st.booleans(),
    "bias": st.booleans(),
    "batched": st.booleans(),
    "mask_kind": st.sampled_from([None, "bool", "float", "causal"]),
    "mask_ndim": st.sampled_from([None, 2, 3]),
    "key_padding": st.booleans(),
    "training": st.booleans(),
    "dtype": st.sampled_from([np.float64, np.float32]),
    "seed": st.integers(0, 2**16),
}


@given(**LAYER_CONFIG)
def test_encoder_layer_matches_torch(L, N, heads_and_width, dim_feedforward, activation, norm_first, batch_first, bias,
                                     batched, mask_kind, mask_ndim, key_padding, training, dtype, seed):
    nhead, d_model = heads_and_width
    rng = np.random.default_rng(seed)
    src, options = _src_and_masks(rng, L, N, d_model, nhead, batched, batch_first, mask_kind, mask_ndim, key_padding,
                                  dtype)
    scratch_layer, torch_layer = _layers(d_model, nhead, dtype, dim_feedforward=dim_feedforward, activation=activation,
                                         norm_first=norm_first, batch_first=batch_first, bias=bias)
    twin = TorchCall(torch_layer, **options).train(training)
    report = check_module(Call(scratch_layer, **options), twin, src)
    report.assert_passed()
    assert {"grad model.self_attn.in_proj_weight", "grad model.norm2.weight"} <= {d.name for d in report.diffs}


@given(num_layers=st.integers(1, 3), final_norm=st.booleans(), norm_first=st.booleans(), batch_first=st.booleans(),
       mask_kind=st.sampled_from([None, "bool", "causal"]), dtype=st.sampled_from([np.float64, np.float32]),
       seed=st.integers(0, 2**16))
def test_encoder_matches_torch(num_layers, final_norm, norm_first, batch_first, mask_kind, dtype, seed):
    rng = np.random.default_rng(seed)
    src, options = _src_and_masks(rng, 4, 2, 6, 2, True, batch_first, mask_kind, 2, True, dtype)
    options = {"mask" if name == "src_mask" else name: value for name, value in options.items()}
    scratch_layer, torch_layer = _layers(6, 2, dtype, dim_feedforward=8, norm_first=norm_first,
                                         batch_first=batch_first)
    torch_dtype = transfer.torch_dtype(dtype)
    torch_encoder = torch.nn.TransformerEncoder(torch_layer, num_layers, enable_nested_tensor=False,
                                                norm=torch.nn.LayerNorm(6, dtype=torch_dtype) if final_norm else None)
    scratch_encoder = snn.TransformerEncoder(scratch_layer, num_layers, enable_nested_tensor=False,
                                             norm=snn.LayerNorm(6, dtype=dtype) if final_norm else None)
    assert list(scratch_encoder.state_dict()) == list(torch_encoder.state_dict())
    report = check_module(Call(scratch_encoder, **options), TorchCall(torch_encoder, **options), src)
    report.assert_passed()
    assert f"grad model.layers.{num_layers - 1}.linear2.weight" in {d.name for d in report.diffs}


def test_state_dict_keys_are_torchs():
    scratch_layer, torch_layer = _layers(8, 2, np.float32, dim_feedforward=16)
    assert [(k, v.shape) for k, v in scratch_layer.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in torch_layer.state_dict().items()]
    scratch_encoder = snn.TransformerEncoder(scratch_layer, 2, norm=snn.LayerNorm(8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that its nested-tensor path is off (batch_first=False)
        torch_encoder = torch.nn.TransformerEncoder(torch_layer, 2, norm=torch.nn.LayerNorm(8))
    assert list(scratch_encoder.state_dict()) == list(torch_encoder.state_dict())
    assert list(scratch_encoder.state_dict())[0] == "layers.0.self_attn.in_proj_weight"
    transfer.scratch_to_torch(scratch_encoder, torch_encoder)
    scratch_layer, torch_layer = _layers(8, 2, np.float32, dim_feedforward=16, bias=False)
    assert list(scratch_layer.state_dict()) == list(torch_layer.state_dict())


def test_defaults_are_torchs():
    layer = snn.TransformerEncoderLayer(8, 2)
    twin = torch.nn.TransformerEncoderLayer(8, 2)
    assert layer.linear1.out_features == twin.linear1.out_features == 2048
    assert layer.dropout.p == layer.dropout1.p == layer.self_attn.dropout == twin.dropout.p == 0.1
    assert layer.norm1.eps == twin.norm1.eps == 1e-5
    assert layer.norm_first is twin.norm_first is False
    assert layer.self_attn.batch_first is twin.self_attn.batch_first is False
    assert isinstance(layer.activation, snn.ReLU)


def test_encoder_layers_are_independent_deep_copies():
    scratchnet.manual_seed(0)
    layer = snn.TransformerEncoderLayer(4, 2, dim_feedforward=6)
    encoder = snn.TransformerEncoder(layer, 2)
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and second is not first
    np.testing.assert_array_equal(first.linear1.weight.data, second.linear1.weight.data)  # equal at the start, as torch
    first.linear1.weight.data += 1
    assert not np.array_equal(first.linear1.weight.data, second.linear1.weight.data)
    assert not np.array_equal(first.linear1.weight.data, layer.linear1.weight.data)


def test_torch_fast_path_is_other_math():
    """Why parity turns torch's fast path off: in eval mode without gradients, torch's
    TransformerEncoder packs a padded batch into a nested tensor and returns 0 at the padded
    positions, where the layer's own equations (and scratchnet) give normal values."""
    torch.manual_seed(0)
    torch_layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    torch_encoder = torch.nn.TransformerEncoder(torch_layer, 2).eval()
    scratch_encoder = transfer.torch_to_scratch(
        torch_encoder, snn.TransformerEncoder(snn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2).eval())
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    padding = np.zeros((2, 5), dtype=bool)
    padding[0, 3:] = True
    with torch.no_grad():
        slow = torch_encoder(torch.tensor(x), src_key_padding_mask=torch.tensor(padding)).numpy()
        torch.backends.mha.set_fastpath_enabled(True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the nested-tensor prototype warning
            fast = torch_encoder(torch.tensor(x), src_key_padding_mask=torch.tensor(padding)).numpy()
        torch.backends.mha.set_fastpath_enabled(False)
    mine = scratch_encoder(x, src_key_padding_mask=padding)
    np.testing.assert_array_equal(fast[0, 3:], 0.0)
    assert np.abs(slow[0, 3:]).min() > 0
    np.testing.assert_allclose(mine, slow, rtol=1e-4, atol=1e-5)  # float32: MODULE's float32 tolerance


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_gradcheck(norm_first, activation):
    scratchnet.manual_seed(1)
    layer = snn.TransformerEncoderLayer(4, 2, dim_feedforward=5, dropout=0.0, activation=activation,
                                        norm_first=norm_first, dtype=np.float64)
    src = np.random.default_rng(1).standard_normal((3, 2, 4))
    mask = np.array([[False, True, False], [False, False, False], [False, True, False]])
    assert gradcheck(Call(layer, src_mask=mask), src) == []


def test_encoder_gradcheck_with_a_final_norm_unbatched_and_causal():
    scratchnet.manual_seed(2)
    layer = snn.TransformerEncoderLayer(4, 2, dim_feedforward=3, dropout=0.0, norm_first=True, dtype=np.float64)
    encoder = snn.TransformerEncoder(layer, 2, norm=snn.LayerNorm(4, dtype=np.float64))
    src = np.random.default_rng(2).standard_normal((3, 4))
    assert gradcheck(Call(encoder, mask=generate_square_subsequent_mask(3, dtype=np.float64), is_causal=True),
                     src) == []


def test_encoder_layer_gradcheck_with_dropout():
    class Reseeded(Call):  # the same dropout masks at every forward
        def forward(self, src):
            scratchnet.manual_seed(8)
            return super().forward(src)

    scratchnet.manual_seed(3)
    layer = snn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.3, activation="gelu", dtype=np.float64)
    src = np.random.default_rng(3).standard_normal((3, 2, 4))
    module = Reseeded(layer)
    assert gradcheck(module, src) == []
    module(src)
    assert layer.dropout1.mask is not None and not layer.dropout1.mask.all()  # dropout really ran
    assert layer.self_attn._cache[4] is not None  # and so did the attention's


@given(L=st.integers(2, 6), t=st.integers(0, 4), norm_first=st.booleans(), seed=st.integers(0, 2**16))
def test_causal_encoder_outputs_do_not_see_later_tokens(L, t, norm_first, seed):
    t = t % (L - 1)
    scratchnet.manual_seed(seed)
    layer = snn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=norm_first,
                                        batch_first=True, dtype=np.float64)
    encoder = snn.TransformerEncoder(layer, 2)
    rng = np.random.default_rng(seed)
    src = rng.standard_normal((2, L, 4))
    mask = generate_square_subsequent_mask(L, dtype=np.float64)
    y = encoder(src, mask=mask, is_causal=True)
    src[:, t + 1:] = 10 * rng.standard_normal(src[:, t + 1:].shape)
    changed = encoder(src, mask=mask, is_causal=True)
    np.testing.assert_allclose(changed[:, :t + 1], y[:, :t + 1], rtol=1e-12, atol=1e-13)
    assert not np.allclose(changed[:, t + 1:], y[:, t + 1:])


def test_square_subsequent_mask_is_torchs():
    for size in (1, 4):
        np.testing.assert_array_equal(generate_square_subsequent_mask(size, dtype=np.float64),
                                      torch.nn.Transformer.generate_square_subsequent_mask(size, dtype=torch.float64))
    assert generate_square_subsequent_mask(3).dtype == np.float32


@pytest.mark.parametrize("build, error, match", [
    (lambda: snn.TransformerEncoderLayer(4, 2, activation="tanh"), ValueError, "activation should be relu/gelu"),
    (lambda: snn.TransformerEncoderLayer(4, 3), ValueError, "divisible by num_heads"),
    (lambda: snn.TransformerEncoder(snn.TransformerEncoderLayer(4, 2), 0), ValueError, "positive integer num_layers"),
    (lambda: snn.TransformerEncoder("layer", 2), TypeError, "expects a Module"),
])
def test_bad_construction(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_input():
    layer = snn.TransformerEncoderLayer(4, 2, dtype=np.float64)
    with pytest.raises(ValueError, match=r"expected src of shape \(L, N, 4\) or unbatched \(L, 4\), got \(3, 2, 5\)"):
        layer(np.zeros((3, 2, 5)))
    with pytest.raises(TypeError, match="dtype float32 but the parameters are float64"):
        layer(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="Need attn_mask if specifying the is_causal hint"):
        layer(np.zeros((3, 2, 4)), is_causal=True)
