r"""Attention: scaled dot-product attention and ``MultiheadAttention``, as in torch.

Scaled dot-product attention ("Attention Is All You Need", Vaswani et al. 2017). Each of L
queries scores every one of S keys, the scores become weights by a softmax over the keys, and
the output is the weighted sum of the values:

    S = Q Kᵀ·scale + M          scores            (..., L, S)    scale = 1 / sqrt(E) by default
    P = softmax(S)              attention weights (..., L, S)    each row sums to 1
    O = P V                     output            (..., L, Ev)

Shapes (torch's letters): Q (..., L, E), K (..., S, E), V (..., S, Ev), with the same leading
(batch, head) dimensions "...". The score matrix S has one row per query and one column per key.
M is an additive mask broadcastable to (..., L, S): 0 where a key takes part, -inf where it must
get no weight (exp(-inf) = 0), or any float values added to the scores.

Backward, with dO = dL/dO (..., L, Ev); M is a constant and gets no gradient:

    dV = Pᵀ dO                                  (..., S, Ev)
    dP = dO Vᵀ                                  (..., L, S)
    dS = P ∘ (dP − rowsum(dP ∘ P))              (..., L, S)   the softmax's Jacobian, row by row
    dQ = dS K·scale                             (..., L, E)
    dK = dSᵀ Q·scale                            (..., S, E)

The dS line, for one row (one query): P_k = exp(S_k) / sum_m exp(S_m) has ∂P_k/∂S_j =
P_k (δ_kj − P_j), so dS_j = sum_k dP_k ∂P_k/∂S_j = P_j (dP_j − sum_k dP_k P_k).

Dropout on the weights (``dropout_p`` > 0) puts P_drop = P ∘ Z in P's place in O = P V, with
Z = mask / (1 − p) and mask ~ Bernoulli(1 − p) per weight, drawn from scratchnet's generator.
Then dV = P_dropᵀ dO and dP = (dO Vᵀ) ∘ Z; the other lines are unchanged. Without dropout,
P_drop is P.

``attention_forward`` / ``attention_backward`` are this math as a pair of plain functions linked
by a cache (CS231n's style); ``scaled_dot_product_attention`` is torch's functional interface to
the forward, and ``MultiheadAttention`` runs it per head between learned projections.
"""

import math

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet.nn.dropout import dropout_noise
from scratchnet.nn.linear import Linear, init_uniform
from scratchnet.nn.module import Module, Parameter

# -- scaled dot-product attention -----------------------------------------------------------------


def attention_forward(Q, K, V, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """O = softmax(Q Kᵀ·scale + M) V; returns (O, cache). Arguments as ``scaled_dot_product_attention``."""
    _check_attention(Q, K, V, attn_mask, dropout_p, is_causal, scale)
    scale = 1 / math.sqrt(Q.shape[-1]) if scale is None else float(scale)
    M = _additive_mask(attn_mask, is_causal, Q.shape[-2], K.shape[-2], Q.dtype)
    S = Q @ K.swapaxes(-1, -2) * scale                  # S = Q Kᵀ·scale + M
    if M is not None:
        S = S + M
    P = _softmax_over_keys(S)                           # P = softmax(S)
    Z = None if dropout_p == 0 else dropout_noise(P.shape, dropout_p, P.dtype)  # Z = mask / (1 − p)
    P_drop = P if Z is None else P * Z                  # P_drop = P ∘ Z
    O = P_drop @ V                                      # O = P V
    return O, (Q, K, V, P, Z, scale)


def attention_backward(dO, cache, d_weights=None):
    """(dQ, dK, dV) from dO = dL/dO and the forward's cache.

    ``d_weights``: dL/dP_drop, when the weights themselves feed the loss too (``MultiheadAttention``
    returns them), added to dO Vᵀ; broadcastable to (..., L, S).
    """
    Q, K, V, P, Z, scale = cache
    P_drop = P if Z is None else P * Z
    dV = P_drop.swapaxes(-1, -2) @ dO                   # dV = Pᵀ dO
    dP = dO @ V.swapaxes(-1, -2)                        # dP = dO Vᵀ
    if d_weights is not None:
        dP = dP + d_weights
    if Z is not None:
        dP = dP * Z                                     # dP = (dO Vᵀ) ∘ Z, back through P_drop = P ∘ Z
    dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))  # dS = P ∘ (dP − rowsum(dP ∘ P))
    dQ = dS @ K * scale                                 # dQ = dS K·scale
    dK = dS.swapaxes(-1, -2) @ Q * scale                # dK = dSᵀ Q·scale
    return dQ, dK, dV


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    r"""softmax(Q Kᵀ·scale + M) V, as ``torch.nn.functional.scaled_dot_product_attention`` (forward only).

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the same leading dims.
    - ``attn_mask`` broadcastable to (..., L, S): boolean, True where the key takes part (M = 0)
      and False where it does not (M = -inf); or float, added to the scores (M = attn_mask).
    - ``is_causal``: query i attends to keys j <= i only (M = -inf above the diagonal, aligned at
      the top left as torch's ``tril``); not together with ``attn_mask``.
    - ``dropout_p``: dropout on the weights, applied whenever > 0 (no training flag, as torch).
    - ``scale``: 1 / sqrt(E) when None.
    A query whose every key is masked gets all-zero weights and output, as torch's kernel gives.
    The backward is ``attention_backward``; see the module docstring for both.
    """
    return attention_forward(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]


def _softmax_over_keys(S):
    """P = exp(S - m) / rowsum(exp(S - m)), m the row's max: the stable softmax of ``functional.softmax``,
    except that a row of -inf only (a query whose every key is masked) gets P = 0 instead of nan, as in torch.

    (Written here rather than called: functional re-exports scaled_dot_product_attention from this file.)
    """
    m = S.max(axis=-1, keepdims=True)
    m = np.where(np.isneginf(m), 0.0, m)  # such a row: exp(-inf - 0) = 0 everywhere, not exp(-inf + inf) = nan
    exp = np.exp(S - m)
    total = exp.sum(axis=-1, keepdims=True)
    return exp / np.where(total == 0, 1.0, total)


def _additive_mask(attn_mask, is_causal, L, S, dtype):
    """M as scores to add: 0 / -inf from a boolean mask or ``is_causal``, a float mask as is; or None."""
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is None:
        return None
    if attn_mask.dtype == bool:
        return np.where(attn_mask, 0.0, -np.inf).astype(dtype)
    return attn_mask.astype(dtype, copy=False)


def _check_attention(Q, K, V, attn_mask, dropout_p, is_causal, scale):
    for name, x in (("query", Q), ("key", K), ("value", V)):
        check_float(x, f"scaled_dot_product_attention {name}", Q.dtype if name != "query" else None)
        if x.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention expected {name} with at least 2 dimensions (..., length, "
                             f"features), got shape {shape_str(x.shape)}")
    shapes = f"query {shape_str(Q.shape)}, key {shape_str(K.shape)}, value {shape_str(V.shape)}"
    if not Q.shape[:-2] == K.shape[:-2] == V.shape[:-2]:
        raise ValueError(f"scaled_dot_product_attention expected the same leading (batch, head) dimensions, "
                         f"got {shapes}")
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention expected query and key with the same last dimension E, "
                         f"got {shapes}")
    if K.shape[-2] != V.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention expected as many keys as values, got {shapes}")
    if attn_mask is not None:
        if is_causal:
            raise ValueError("scaled_dot_product_attention: explicit attn_mask should not be set when is_causal=True")
        if not isinstance(attn_mask, np.ndarray) or attn_mask.dtype.kind not in "bf":
            raise TypeError(f"scaled_dot_product_attention expected attn_mask to be a bool or float numpy.ndarray, "
                            f"got {getattr(attn_mask, 'dtype', type(attn_mask).__name__)}")
        scores_shape = Q.shape[:-1] + K.shape[-2:-1]  # (..., L, S)
        try:
            fits = np.broadcast_shapes(attn_mask.shape, scores_shape) == scores_shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {shape_str(attn_mask.shape)} does not "
                             f"broadcast to the scores' shape {shape_str(scores_shape)}")
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or not 0 <= dropout_p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p!r}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating))):
        raise TypeError(f"scaled_dot_product_attention expected a float scale or None, got {type(scale).__name__}")


# -- multi-head attention -------------------------------------------------------------------------


class MultiheadAttention(Module):
    r"""Multi-head attention, ``torch.nn.MultiheadAttention``: attention in H subspaces side by side.

    Shapes: N batch, L queries, S keys, E embed_dim, H num_heads, D = E / H head_dim.
    query (L, N, E), key and value (S, N, E) -- (N, L, E), (N, S, E) with batch_first; unbatched
    (L, E), (S, E). Parameters (torch's names and init): in_proj_weight (3E, E) = [W_q; W_k; W_v]
    (xavier uniform), in_proj_bias (3E,) = [b_q; b_k; b_v] (zeros), out_proj = Linear(E, E)
    (weight as Linear, bias zeros).

        q = query W_qᵀ + b_q,   k = key W_kᵀ + b_k,   v = value W_vᵀ + b_v         (N, L or S, E)
        Q_h, K_h, V_h = the D columns of head h of q, k, v                          (N, H, L or S, D)
        O_h = softmax(Q_h K_hᵀ / sqrt(D) + M) V_h        (``attention_forward``)    (N, H, L, D)
        o = [O_1 ... O_H]   (heads side by side),   y = o W_oᵀ + b_o                 (N, L, E)

    M adds, broadcast, attn_mask -- (L, S) for all, or (N*H, L, S) per batch entry and head -- and
    key_padding_mask (N, S), the same for every query and head. A boolean mask is True where the
    key must be ignored (M = -inf; the opposite of scaled_dot_product_attention's convention, as
    in torch); a float mask is added. ``is_causal`` is only a hint that attn_mask is causal
    (torch requires attn_mask with it); the mask is what is used.

    Returns (y, weights): weights P (∘ Z with dropout) averaged over the heads, (N, L, S), or per
    head (N, H, L, S) with average_attn_weights=False; None with need_weights=False.

    Backward, from dy (and dweights, when the weights feed the loss): do = out_proj.backward(dy),
    split into heads as dO_h; (dQ_h, dK_h, dV_h) = ``attention_backward``; heads joined to dq, dk, dv:

        dW_q = dqᵀ query,   db_q = 1ᵀ dq,   d query = dq W_q        (the same for k and v)

    It returns (d query, d key, d value), all three even when one array was passed as all three
    (the caller adds them up). Not implemented, refused: kdim/vdim other than embed_dim,
    add_bias_kv, add_zero_attn. Unlike torch's need_weights=True path (which gives nan), a query
    whose every key is masked gets zero weights, as torch's need_weights=False path does.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        _check_options(embed_dim, num_heads, dropout, add_bias_kv, add_zero_attn, kdim, vdim, device)
        self.embed_dim, self.kdim, self.vdim = int(embed_dim), int(embed_dim), int(embed_dim)
        self._qkv_same_embed_dim = True
        self.num_heads, self.dropout, self.batch_first = int(num_heads), float(dropout), batch_first
        self.head_dim = self.embed_dim // self.num_heads
        self.add_zero_attn = False
        dtype = as_float_dtype(dtype)
        E = self.embed_dim
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)  # drawn first, as torch creates it first
        bound = math.sqrt(6 / (E + 3 * E))  # xavier_uniform_ on (3E, E): sqrt(6 / (fan_in + fan_out))
        self.in_proj_weight = Parameter(init_uniform((3 * E, E), bound, dtype))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=dtype))
            self.out_proj.bias.data[...] = 0
        else:
            self.register_parameter("in_proj_bias", None)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        batched = self._check_forward(query, key, value, key_padding_mask, attn_mask, is_causal)
        x_q, x_k, x_v = (self._to_batch_first(x, batched) for x in (query, key, value))  # (N, L|S, E)
        W_q, W_k, W_v = np.split(self.in_proj_weight.data, 3)                           # each (E, E)
        b_q, b_k, b_v = (0, 0, 0) if self.in_proj_bias is None else np.split(self.in_proj_bias.data, 3)
        q = x_q @ W_q.T + b_q                     # q = query W_qᵀ + b_q     (N, L, E)
        k = x_k @ W_k.T + b_k                     # k = key W_kᵀ + b_k       (N, S, E)
        v = x_v @ W_v.T + b_v                     # v = value W_vᵀ + b_v     (N, S, E)
        M = self._merged_mask(attn_mask, key_padding_mask, batched, x_q.shape[0], q.dtype)
        dropout_p = self.dropout if self.training else 0.0
        O, cache = attention_forward(self._split_heads(q), self._split_heads(k), self._split_heads(v),
                                     M, dropout_p)                               # O_h: (N, H, L, D)
        y = self.out_proj(self._join_heads(O))    # y = o W_oᵀ + b_o         (N, L, E)
        self._inputs, self._cache, self._batched = (x_q, x_k, x_v), cache, batched
        self._averaged = average_attn_weights
        y = self._from_batch_first(y, batched)
        if not need_weights:
            return y, None
        _, _, _, P, Z, _ = cache
        weights = P if Z is None else P * Z                 # P_drop, the weights the values were summed with
        if average_attn_weights:
            weights = weights.mean(axis=1)                                           # (N, L, S)
        return y, (weights if batched else weights[0])

    def backward(self, grad):
        """grad = (dL/dy, dL/dweights or None), or dL/dy alone; returns (d query, d key, d value)."""
        grad_output, grad_weights = grad if isinstance(grad, tuple) else (grad, None)
        x_q, x_k, x_v = self._inputs
        dy = self._to_batch_first(grad_output, self._batched)
        dO = self._split_heads(self.out_proj.backward(dy))                           # (N, H, L, D)
        d_weights = None
        if grad_weights is not None:
            d_weights = grad_weights if self._batched else grad_weights[None]
            if self._averaged:  # weights = mean_h P_h: each head's share is 1 / H
                d_weights = d_weights[:, None] / self.num_heads
        dQ, dK, dV = attention_backward(dO, self._cache, d_weights)
        dq, dk, dv = self._join_heads(dQ), self._join_heads(dK), self._join_heads(dV)  # (N, L|S, E)
        W_q, W_k, W_v = np.split(self.in_proj_weight.data, 3)
        E = self.embed_dim
        # dW_q = dqᵀ query, dW_k = dkᵀ key, dW_v = dvᵀ value, stacked as in_proj_weight
        self.in_proj_weight.accumulate_grad(np.concatenate([
            dq.reshape(-1, E).T @ x_q.reshape(-1, E),
            dk.reshape(-1, E).T @ x_k.reshape(-1, E),
            dv.reshape(-1, E).T @ x_v.reshape(-1, E),
        ]))
        if self.in_proj_bias is not None:  # db_q = 1ᵀ dq, db_k = 1ᵀ dk, db_v = 1ᵀ dv
            self.in_proj_bias.accumulate_grad(np.concatenate([g.sum(axis=(0, 1)) for g in (dq, dk, dv)]))
        d_query, d_key, d_value = dq @ W_q, dk @ W_k, dv @ W_v                      # d query = dq W_q, ...
        return tuple(self._from_batch_first(g, self._batched) for g in (d_query, d_key, d_value))

    # -- layout -----------------------------------------------------------------------------------

    def _to_batch_first(self, x, batched):
        """(L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)) -> (N, L, E)."""
        if not batched:
            return x[None]
        return x if self.batch_first else x.swapaxes(0, 1)

    def _from_batch_first(self, x, batched):
        if not batched:
            return x[0]
        return x if self.batch_first else x.swapaxes(0, 1)

    def _split_heads(self, x):
        """(N, L, E) -> (N, H, L, D): head h holds columns h*D .. (h+1)*D, as torch's view."""
        N, L, _ = x.shape
        return x.reshape(N, L, self.num_heads, self.head_dim).swapaxes(1, 2)

    def _join_heads(self, x):
        """(N, H, L, D) -> (N, L, E): the heads side by side."""
        N, _, L, _ = x.shape
        return x.swapaxes(1, 2).reshape(N, L, self.embed_dim)

    def _merged_mask(self, attn_mask, key_padding_mask, batched, N, dtype):
        """attn_mask and key_padding_mask as one additive M, broadcastable to (N, H, L, S); or None."""
        H = self.num_heads
        M = None
        if attn_mask is not None:
            attn_mask = _ignore_mask_to_additive(attn_mask, dtype)
            M = attn_mask[None] if attn_mask.ndim == 2 else attn_mask.reshape(N, H, *attn_mask.shape[1:])
        if key_padding_mask is not None:
            padding = _ignore_mask_to_additive(key_padding_mask, dtype)
            padding = (padding if batched else padding[None])[:, None, None, :]         # (N, 1, 1, S)
            M = padding if M is None else M + padding
        return M

    # -- checks -----------------------------------------------------------------------------------

    def _check_forward(self, query, key, value, key_padding_mask, attn_mask, is_causal):
        """Returns whether the input is batched; raises with torch's wording where it has one."""
        E, H = self.embed_dim, self.num_heads
        dtype = self.in_proj_weight.dtype
        for name, x in (("query", query), ("key", key), ("value", value)):
            check_float(x, f"MultiheadAttention {name}", dtype)
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention expected query, key and value all 3-D (batched) or all 2-D "
                             f"(unbatched), got shapes {shape_str(query.shape)}, {shape_str(key.shape)}, "
                             f"{shape_str(value.shape)}")
        batched = query.ndim == 3
        if query.shape[-1] != E or key.shape[-1] != E or value.shape[-1] != E:
            raise ValueError(f"MultiheadAttention(embed_dim={E}) expected query, key and value with {E} features, "
                             f"got shapes {shape_str(query.shape)}, {shape_str(key.shape)}, {shape_str(value.shape)}")
        if key.shape != value.shape:
            raise ValueError(f"key shape {shape_str(key.shape)} does not match value shape {shape_str(value.shape)}")
        batch_axis = 0 if self.batch_first else 1
        if batched and query.shape[batch_axis] != key.shape[batch_axis]:
            raise ValueError(f"MultiheadAttention expected query and key with the same batch size, got shapes "
                             f"{shape_str(query.shape)} and {shape_str(key.shape)}")
        N = query.shape[batch_axis] if batched else 1
        sequence_axis = 1 - batch_axis if batched else 0
        L, S = query.shape[sequence_axis], key.shape[sequence_axis]
        if is_causal and attn_mask is None:
            raise ValueError("Need attn_mask if specifying the is_causal hint (MultiheadAttention uses the mask; "
                             "scratchnet.nn.transformer.generate_square_subsequent_mask(L) makes a causal one)")
        if attn_mask is not None:
            _check_mask(attn_mask, "attn_mask")
            expected = {2: (L, S), 3: (N * H if batched else H, L, S)}.get(attn_mask.ndim)
            if attn_mask.shape != expected:
                raise ValueError(f"MultiheadAttention expected attn_mask of shape {shape_str((L, S))} or "
                                 f"{shape_str((N * H if batched else H, L, S))} (N*num_heads, L, S), got "
                                 f"{shape_str(attn_mask.shape)}")
        if key_padding_mask is not None:
            _check_mask(key_padding_mask, "key_padding_mask")
            expected = (N, S) if batched else (S,)
            if key_padding_mask.shape != expected:
                raise ValueError(f"expecting key_padding_mask shape of {shape_str(expected)}, but got "
                                 f"{shape_str(key_padding_mask.shape)}")
        return batched

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")


def _ignore_mask_to_additive(mask, dtype):
    """MultiheadAttention's masks: boolean True = ignore the key (-inf), False = keep (0); float: added as is."""
    if mask.dtype == bool:
        return np.where(mask, -np.inf, 0.0).astype(dtype)
    return mask.astype(dtype, copy=False)


def _check_mask(mask, name):
    if not isinstance(mask, np.ndarray) or mask.dtype.kind not in "bf":
        raise TypeError(f"only bool and floating types of {name} are supported, got "
                        f"{getattr(mask, 'dtype', type(mask).__name__)}")


def _check_options(embed_dim, num_heads, dropout, add_bias_kv, add_zero_attn, kdim, vdim, device):
    for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"MultiheadAttention expected a positive integer {name}, got {value!r}")
    if embed_dim % num_heads:
        raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim}, num_heads={num_heads}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout!r}")
    for name, value in (("kdim", kdim), ("vdim", vdim)):
        if value is not None and value != embed_dim:
            raise NotImplementedError(f"MultiheadAttention: {name}={value} differs from embed_dim={embed_dim}; "
                                      "separate key/value widths (q_proj_weight, k_proj_weight, v_proj_weight) are "
                                      "not implemented in scratchnet: project key and value to embed_dim first")
    for name, value in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
        if value:
            raise NotImplementedError(f"MultiheadAttention: {name}=True is not implemented in scratchnet")
    if device not in (None, "cpu"):
        raise ValueError(f"scratchnet runs on the CPU only (NumPy), got device={device!r}")
