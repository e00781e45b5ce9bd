r"""The Transformer encoder, ``torch.nn.TransformerEncoderLayer`` and ``torch.nn.TransformerEncoder``.

A layer is two residual blocks -- self-attention, then a position-wise feed-forward network --
each with dropout and a LayerNorm, placed after the residual sum (norm_first=False, the original
paper's "post-norm") or before the block (norm_first=True, "pre-norm", as GPT-2):

    SA(z) = Dropout1(self_attn(z, z, z)[0])                          self-attention block
    FF(z) = Dropout2(linear2(Dropout(activation(linear1(z)))))       d_model -> dim_feedforward -> d_model

    post-norm:  h = norm1(x + SA(x)),        y = norm2(h + FF(h))
    pre-norm:   h = x + SA(norm1(x)),        y = h + FF(norm2(h))

Shapes: x, h, y (L, N, d_model) -- (N, L, d_model) with batch_first, unbatched (L, d_model).

Backward: a residual sum r = a + B(a) sends its gradient down both paths, dr/da = I + dB/da, so
da = dr + B.backward(dr); self_attn uses z three times (query, key, value), so SA's backward adds
its three input gradients.

    post-norm:  ds2 = norm2.backward(dy),   dh = ds2 + FF.backward(ds2)
                ds1 = norm1.backward(dh),   dx = ds1 + SA.backward(ds1)
    pre-norm:   dh = dy + norm2.backward(FF.backward(dy))
                dx = dh + norm1.backward(SA.backward(dh))
"""

import copy

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet.nn.activation import GELU, ReLU
from scratchnet.nn.attention import MultiheadAttention
from scratchnet.nn.container import Sequential
from scratchnet.nn.dropout import Dropout
from scratchnet.nn.linear import Linear
from scratchnet.nn.module import Module
from scratchnet.nn.normalization import LayerNorm

ACTIVATIONS = {"relu": ReLU, "gelu": GELU}


def generate_square_subsequent_mask(sz, dtype=None):
    """The causal mask (sz, sz): 0 where key j <= query i, -inf above the diagonal (torch's
    ``nn.Transformer.generate_square_subsequent_mask``), for attn_mask / src_mask."""
    return np.triu(np.full((sz, sz), -np.inf, dtype=as_float_dtype(dtype)), k=1)


class TransformerEncoderLayer(Module):
    r"""Self-attention and a feed-forward network, each a residual block with a LayerNorm.

    See the module docstring for the equations and their backward. Parameters, torch's names:
    self_attn (MultiheadAttention(d_model, nhead, dropout)), linear1 (dim_feedforward, d_model),
    linear2 (d_model, dim_feedforward), norm1, norm2 (LayerNorm(d_model, eps=layer_norm_eps)).
    ``activation``: 'relu', 'gelu' or a scratchnet activation module. ``bias=False`` drops
    every Linear's, the attention's and the LayerNorms' biases, as torch.

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False) passes the masks
    to self_attn as attn_mask and key_padding_mask (MultiheadAttention's conventions).
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        activation = _activation_module(activation)
        dtype = as_float_dtype(dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        self._check(src)
        x = src
        masks = {"attn_mask": src_mask, "key_padding_mask": src_key_padding_mask, "is_causal": is_causal}
        if self.norm_first:
            h = x + self._sa_block(self.norm1(x), masks)    # h = x + SA(norm1(x))
            y = h + self._ff_block(self.norm2(h))           # y = h + FF(norm2(h))
        else:
            h = self.norm1(x + self._sa_block(x, masks))    # h = norm1(x + SA(x))
            y = self.norm2(h + self._ff_block(h))           # y = norm2(h + FF(h))
        return y

    def backward(self, grad_output):
        dy = grad_output
        if self.norm_first:
            dh = dy + self.norm2.backward(self._ff_block_backward(dy))
            dx = dh + self.norm1.backward(self._sa_block_backward(dh))
        else:
            ds2 = self.norm2.backward(dy)
            dh = ds2 + self._ff_block_backward(ds2)
            ds1 = self.norm1.backward(dh)
            dx = ds1 + self._sa_block_backward(ds1)
        return dx

    def _sa_block(self, z, masks):
        """SA(z) = Dropout1(self_attn(z, z, z)[0])."""
        return self.dropout1(self.self_attn(z, z, z, need_weights=False, **masks)[0])

    def _sa_block_backward(self, g):
        d_query, d_key, d_value = self.self_attn.backward(self.dropout1.backward(g))
        return d_query + d_key + d_value  # z was the query, the key and the value

    def _ff_block(self, z):
        """FF(z) = Dropout2(linear2(Dropout(activation(linear1(z)))))."""
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(z)))))

    def _ff_block_backward(self, g):
        for module in (self.dropout2, self.linear2, self.dropout, self.activation, self.linear1):
            g = module.backward(g)
        return g

    def _check(self, src):
        d_model = self.linear1.in_features
        check_float(src, "TransformerEncoderLayer src", self.linear1.weight.dtype)
        layout = "(N, L, {0})" if self.self_attn.batch_first else "(L, N, {0})"
        if src.ndim not in (2, 3) or src.shape[-1] != d_model:
            raise ValueError(f"TransformerEncoderLayer(d_model={d_model}) expected src of shape "
                             f"{layout.format(d_model)} or unbatched (L, {d_model}), got {shape_str(src.shape)}")

    def extra_repr(self):
        return f"norm_first={self.norm_first}"


class TransformerEncoder(Module):
    r"""A stack of ``num_layers`` encoder layers, then an optional ``norm``: torch's TransformerEncoder.

        x_0 = src,   x_i = layers[i-1](x_{i-1}, mask, src_key_padding_mask),   y = norm(x_num_layers)
    Backward runs the layers' backwards from the last to the first.

    The layers are deep copies of ``encoder_layer`` (equal initial weights, as torch's
    ``_get_clones``), held in ``layers`` so state_dict keys read ``layers.0.self_attn.in_proj_weight``
    as torch's. ``enable_nested_tensor`` and ``mask_check`` steer torch's fused inference path
    only; they are accepted and ignored.
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder expects a Module as encoder_layer, got {type(encoder_layer).__name__}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ValueError(f"TransformerEncoder expected a positive integer num_layers, got {num_layers!r}")
        # torch keeps them in a ModuleList; a Sequential gives the same keys (layers.0, layers.1, ...)
        self.layers = Sequential(*(copy.deepcopy(encoder_layer) for _ in range(num_layers)))
        self.num_layers = int(num_layers)
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)

    def backward(self, grad_output):
        g = grad_output if self.norm is None else self.norm.backward(grad_output)
        for layer in reversed(list(self.layers)):
            g = layer.backward(g)
        return g


def _activation_module(activation):
    if isinstance(activation, Module):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation should be relu/gelu, not {activation!r}")
    return ACTIVATIONS[activation]()
