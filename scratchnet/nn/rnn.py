r"""Recurrent layers: RNN, LSTM and GRU, and their single-step cells, with backpropagation through time.

A recurrent layer reads a sequence x_1 .. x_T and carries a hidden state h_t from step to step,
the feedback loop that lets information persist:

    h_t = cell(x_t, h_{t-1})          (and a cell state c_t for the LSTM)

Shapes (torch's names): T sequence length, N batch, H_in input_size, H hidden_size,
D = 2 if bidirectional else 1, L num_layers, K gates (1 for RNN, 4 for LSTM, 3 for GRU), G = K * H.

    input   (T, N, H_in)   -- (N, T, H_in) with batch_first; unbatched (T, H_in)
    h0, c0  (L*D, N, H)    -- zeros when not given; unbatched (L*D, H)
    output  (T, N, D*H)    -- the top layer's h_t for every t (both directions side by side)
    h_n     (L*D, N, H)    -- every layer's and direction's last state

Parameters, per layer k (``_reverse`` suffix for the backward direction), exactly torch's:
    weight_ih_l{k} (G, H_in or D*H), weight_hh_l{k} (G, H), bias_ih_l{k} (G,), bias_hh_l{k} (G,)
all drawn from U(-1/sqrt(H), 1/sqrt(H)). The gates are stacked in the rows of each matrix: gate k
uses rows k*H .. (k+1)*H, its own (H, H_in) and (H, H) matrices W_ih,k and W_hh,k.

How the work is organised (for speed and for clarity, per layer and direction):
    1. before the loop, project the inputs of every step in one (batched) product, the biases
       riding along as a column of ones:   XW_t,k = [x_t 1] [W_ih,k  b_k]^T     (N, H) for each step t and gate k
    2. loop over t: one product per step for all gates:   HW_t,k = h_{t-1} W_hh,k^T     (N, H)
    3. backward loops over t in reverse (the chain rule through h_{t-1}), storing each step's
       gradients with respect to XW_t and HW_t; then, after the loop, one (batched) product each:
           [dW_ih,k  db_k] = sum_t dXW_t,k^T [x_t 1],   dW_hh,k = sum_t dHW_t,k^T h_{t-1},
           dx_t = sum_k dXW_t,k W_ih,k
Rows are samples, as in torch (h_t @ W^T), so x, h_t and the output sequence are used in place
without transposes. The gates are kept gate by gate: a step's gates are a (K, N, H) array whose
block a[k] is one gate (``i, f, g, o = a`` for the LSTM), each a contiguous (N, H) array, which keeps
the element-wise work fast; a whole sequence's are (T, K, N, H). The per-gate equations and
derivatives are in ``_RNNRecurrence``, ``_LSTMRecurrence`` and ``_GRURecurrence`` below; the cells
(``RNNCell`` ...) run the same code for T = 1.
"""

import math

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet._random import default_generator
from scratchnet.nn.linear import init_uniform
from scratchnet.nn.module import Module, Parameter, read_only


def _sigmoid_(a):
    """In place: sigmoid(a) = 1 / (1 + exp(-a)) = (1 + tanh(a / 2)) / 2, an identity that never overflows."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _per_gate(weight, gates):
    """(K*H, M) torch weight -> (K, H, M) view: one matrix per gate, W[k] = rows k*H .. (k+1)*H."""
    return weight.reshape(gates, -1, weight.shape[-1])


def _start_grad(grad, shape, dtype):
    """A fresh (N, H) buffer holding dL/d(last state): the loops below update it in place."""
    return np.zeros(shape, dtype) if grad is None else grad.astype(dtype, copy=True)


def _hidden_grad(da, w_hh, out, scratch):
    """dL/dh_{t-1} = sum_k dHW_k W_hh,k: da (K, N, H) and w_hh (K, H, H); one product per gate, then the sum."""
    return np.sum(np.matmul(da, w_hh, out=scratch), axis=0, out=out)


# -- the recurrences: one direction of one layer, over a whole sequence -----------------------------
#
# forward(xw, h0, c0, w_hh, b_hh) -> (hs, cs, cache)
#     xw (T, K, N, H) = XW of every step, biases included (for the GRU all but b_hn, which is passed
#     as b_hh); it is overwritten with the activated gates, which backward needs.
#     h0, c0 (N, H); hs (T+1, N, H) with hs[0] = h0 and hs[t] = h_t; cs likewise for the LSTM, else None.
# backward(cache, w_hh, grad_hs, grad_h_last, grad_c_last, need_state_grad) -> (dxw, dhw, dh0, dc0)
#     grad_hs (T, N, H) = dL/dh_t from outside the recurrence (the output sequence), or None;
#     dxw = dL/dXW and dhw = dL/dHW, both (T, K, N, H), where XW_t = x_t W_ih^T + b_ih and
#     HW_t = h_{t-1} W_hh^T + b_hh (the same array when the two enter only as a sum).
#     dh0, dc0 (N, H) = dL/dh0, dL/dc0 when need_state_grad, else None (their last product is skipped).
#
# The element-wise steps write into preallocated buffers (out=...), so a step allocates nothing.


class _RNNRecurrence:
    r"""Elman RNN:  a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   h_t = tanh(a_t)  (or relu(a_t)).

    Local derivative (computed by backward for all steps at once from the stored h_t):
        dh_t/da_t = 1 - h_t^2  (tanh),   [h_t > 0]  (relu; 0 at 0, as torch)

    Backward, with dh_t = dL/dh_t from the output plus from step t+1:
        da_t      = dh_t * dh_t/da_t
        dh_{t-1}  = da_t W_hh                     (the recurrence: flows back to step t-1)
        dXW_t = dHW_t = da_t
    """

    gates = 1
    has_cell = False

    def __init__(self, nonlinearity="tanh"):
        self.nonlinearity = nonlinearity

    def input_bias(self, b_ih, b_hh):
        return None if b_ih is None else b_ih + b_hh

    def forward(self, xw, h0, c0, w_hh, b_hh):
        T, _, N, H = xw.shape
        hs = np.empty((T + 1, N, H), dtype=xw.dtype)
        hs[0] = h0
        for t in range(T):
            a = np.matmul(hs[t], w_hh.T, out=hs[t + 1])
            a += xw[t, 0]
            if self.nonlinearity == "tanh":
                np.tanh(a, out=a)
            else:
                np.maximum(a, 0, out=a)
        return hs, None, hs

    def backward(self, hs, w_hh, grad_hs, grad_h_last, grad_c_last, need_state_grad):
        T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        da = np.empty((T, 1, N, H), dtype=hs.dtype)
        dh_da = da[:, 0]  # dh_t/da_t of every step, then multiplied by dh_t in place
        if self.nonlinearity == "tanh":
            np.multiply(hs[1:], hs[1:], out=dh_da)
            np.subtract(1, dh_da, out=dh_da)  # 1 - h^2
        else:
            np.greater(hs[1:], 0, out=dh_da)
        dh = _start_grad(grad_h_last, (N, H), hs.dtype)
        for t in reversed(range(T)):
            if grad_hs is not None:
                dh += grad_hs[t]
            da_t = np.multiply(dh_da[t], dh, out=dh_da[t])
            if t > 0 or need_state_grad:
                np.matmul(da_t, w_hh, out=dh)  # dh_{t-1} = da_t W_hh
        return da, da, (dh if need_state_grad else None), None


class _LSTMRecurrence:
    r"""LSTM, gates stacked i|f|g|o in the rows of W_ih and W_hh:

        [a_i, a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        i = sigmoid(a_i)   input gate        f = sigmoid(a_f)   forget gate
        g = tanh(a_g)      candidate         o = sigmoid(a_o)   output gate
        c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)

    Local derivatives (computed by backward from the stored gates, c_t and tanh(c_t)),
    with sigmoid' = s (1 - s) and tanh' = 1 - tanh^2:
        dc_t/da_i = g * i (1 - i)            dc_t/da_f = c_{t-1} * f (1 - f)
        dc_t/da_g = i * (1 - g^2)            dh_t/da_o = tanh(c_t) * o (1 - o)
        dh_t/dc_t = o * (1 - tanh(c_t)^2)    dc_t/dc_{t-1} = f

    Backward, with dh_t from the output plus step t+1 and dc_t from step t+1:
        dc    = dc_t + dh_t * dh_t/dc_t          (c_t reaches the loss directly and through h_t)
        [da_i, da_f, da_g] = dc * [dc_t/da_i, dc_t/da_f, dc_t/da_g]
        da_o  = dh_t * dh_t/da_o
        dc_{t-1} = dc * f                    dh_{t-1} = sum_k da_k W_hh,k
        dXW_t = dHW_t = [da_i, da_f, da_g, da_o]
    """

    gates = 4
    has_cell = True

    def input_bias(self, b_ih, b_hh):
        return None if b_ih is None else b_ih + b_hh

    def forward(self, xw, h0, c0, w_hh, b_hh):
        T, _, N, H = xw.shape
        w_hh_t = np.ascontiguousarray(_per_gate(w_hh, 4).transpose(0, 2, 1))  # h @ w_hh_t[k] = h W_hh,k^T
        hs = np.empty((T + 1, N, H), dtype=xw.dtype)
        cs = np.empty((T + 1, N, H), dtype=xw.dtype)
        tanh_cs = np.empty((T, N, H), dtype=xw.dtype)
        hw = np.empty((4, N, H), dtype=xw.dtype)
        i_g = np.empty((N, H), dtype=xw.dtype)
        hs[0], cs[0] = h0, c0
        for t in range(T):
            a = xw[t]  # (4, N, H): a_i, a_f, a_g, a_o, activated in place below
            a += np.matmul(hs[t], w_hh_t, out=hw)
            i, f, g, o = a
            _sigmoid_(a[:2])  # i and f
            np.tanh(g, out=g)
            _sigmoid_(o)
            c = np.multiply(f, cs[t], out=cs[t + 1])
            c += np.multiply(i, g, out=i_g)
            np.multiply(o, np.tanh(c, out=tanh_cs[t]), out=hs[t + 1])
        return hs, cs, (xw, cs, tanh_cs)

    def backward(self, cache, w_hh, grad_hs, grad_h_last, grad_c_last, need_state_grad):
        acts, cs, tanh_cs = cache
        T, _, N, H = acts.shape
        i, f, g, o = acts.transpose(1, 0, 2, 3)  # each (T, N, H)
        w_hh_k = _per_gate(w_hh, 4)
        da = np.empty_like(acts)
        dh = _start_grad(grad_h_last, (N, H), acts.dtype)
        dc = _start_grad(grad_c_last, (N, H), acts.dtype)
        dh_dc = np.empty((N, H), dtype=acts.dtype)
        scratch = np.empty((4, N, H), dtype=acts.dtype)
        for t in reversed(range(T)):
            if grad_hs is not None:
                dh += grad_hs[t]
            np.multiply(tanh_cs[t], tanh_cs[t], out=dh_dc)
            np.subtract(1, dh_dc, out=dh_dc)
            dh_dc *= o[t]  # dh_t/dc_t = o (1 - tanh(c_t)^2)
            dc += np.multiply(dh, dh_dc, out=dh_dc)
            d = da[t]  # the local derivatives, then (in place) the gradients of the 4 gates
            d_i, d_f, d_g, d_o = d
            np.subtract(1, acts[t], out=d)
            d *= acts[t]  # s (1 - s) for i, f, o (the g block is overwritten next)
            np.multiply(g[t], g[t], out=d_g)
            np.subtract(1, d_g, out=d_g)
            d_i *= g[t]  # dc/da_i = g i (1 - i)
            d_f *= cs[t]  # dc/da_f = c_{t-1} f (1 - f)
            d_g *= i[t]  # dc/da_g = i (1 - g^2)
            d_o *= tanh_cs[t]  # dh/da_o = tanh(c_t) o (1 - o)
            d[:3] *= dc  # [da_i, da_f, da_g] = dc * [dc/da_i, dc/da_f, dc/da_g]
            d_o *= dh  # da_o = dh * dh/da_o
            dc *= f[t]  # dc_{t-1} = dc * f
            if t > 0 or need_state_grad:
                _hidden_grad(d, w_hh_k, dh, scratch)
        if not need_state_grad:
            dh = dc = None
        return da, da, dh, dc


class _GRURecurrence:
    r"""GRU, gates stacked r|z|n, with b_hn inside the reset product as torch (and cuDNN) define it:

        [xr, xz, xn] = x_t W_ih^T + b_ih
        [hr, hz, hn] = h_{t-1} W_hh^T + b_hh
        r = sigmoid(xr + hr)      reset gate
        z = sigmoid(xz + hz)      update gate
        n = tanh(xn + r * hn)     candidate (a_n = xn + r * hn is its pre-activation)
        h_t = (1 - z) * n + z * h_{t-1}

    Local derivatives (computed by backward from the stored r, z, n, hn and h_{t-1}):
        dh_t/da_n = (1 - z) (1 - n^2)        dh_t/da_z = (h_{t-1} - n) z (1 - z)
        da_n/da_r = hn * r (1 - r)           da_n/dhn = r        dh_t/dh_{t-1} (direct) = z

    Backward, with dh_t from the output plus step t+1:
        da_n = dh_t * dh_t/da_n      da_z = dh_t * dh_t/da_z      da_r = da_n * da_n/da_r
        dXW_t = [da_r, da_z, da_n]          dHW_t = [da_r, da_z, da_n * r]
        dh_{t-1} = dh_t * z + sum_k dHW_t,k W_hh,k
    """

    gates = 3
    has_cell = False

    def input_bias(self, b_ih, b_hh):
        if b_ih is None:
            return None
        H = b_ih.shape[0] // 3
        return np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]])  # b_ir + b_hr, b_iz + b_hz, b_in

    def forward(self, xw, h0, c0, w_hh, b_hh):
        T, _, N, H = xw.shape
        w_hh_t = np.ascontiguousarray(_per_gate(w_hh, 3).transpose(0, 2, 1))  # h @ w_hh_t[k] = h W_hh,k^T
        b_hn = None if b_hh is None else b_hh[2 * H:]  # stays inside r * (...)
        hs = np.empty((T + 1, N, H), dtype=xw.dtype)
        hns = np.empty((T, N, H), dtype=xw.dtype)  # hn of every step, for backward
        hw = np.empty((3, N, H), dtype=xw.dtype)
        hs[0] = h0
        for t in range(T):
            np.matmul(hs[t], w_hh_t, out=hw)
            a = xw[t]  # (3, N, H), activated in place: r, z, n
            r, z, n = a
            a[:2] += hw[:2]
            _sigmoid_(a[:2])  # r and z
            hn = hns[t]
            if b_hn is None:
                hn[...] = hw[2]
            else:
                np.add(hw[2], b_hn, out=hn)
            n += np.multiply(r, hn, out=hw[2])
            np.tanh(n, out=n)
            h = np.subtract(hs[t], n, out=hs[t + 1])  # h_t = n + z * (h_{t-1} - n)
            h *= z
            h += n
        return hs, None, (xw, hns, hs)

    def backward(self, cache, w_hh, grad_hs, grad_h_last, grad_c_last, need_state_grad):
        acts, hns, hs = cache
        T, _, N, H = acts.shape
        r, z, n = acts.transpose(1, 0, 2, 3)  # each (T, N, H)
        w_hh_k = _per_gate(w_hh, 3)
        dxw = np.empty_like(acts)
        dhw = np.empty_like(acts)
        dh = _start_grad(grad_h_last, (N, H), acts.dtype)
        one_minus_z = np.empty((N, H), dtype=acts.dtype)
        through_gates = np.empty((N, H), dtype=acts.dtype)
        scratch = np.empty((3, N, H), dtype=acts.dtype)
        for t in reversed(range(T)):
            if grad_hs is not None:
                dh += grad_hs[t]
            da_r, da_z, da_n = dxw[t]
            np.subtract(1, z[t], out=one_minus_z)
            np.multiply(n[t], n[t], out=da_n)
            np.subtract(1, da_n, out=da_n)
            da_n *= one_minus_z
            da_n *= dh  # da_n = dh (1 - z) (1 - n^2)
            np.subtract(hs[t], n[t], out=da_z)
            da_z *= z[t]
            da_z *= one_minus_z
            da_z *= dh  # da_z = dh (h_{t-1} - n) z (1 - z)
            np.subtract(1, r[t], out=da_r)
            da_r *= r[t]
            da_r *= hns[t]
            da_r *= da_n  # da_r = da_n hn r (1 - r)
            dhw[t, :2] = dxw[t, :2]  # r and z enter XW and HW alike
            np.multiply(da_n, r[t], out=dhw[t, 2])  # dHW_n = da_n * r
            if t > 0 or need_state_grad:
                dh *= z[t]  # the direct path h_t = ... + z * h_{t-1}
                dh += _hidden_grad(dhw[t], w_hh_k, through_gates, scratch)  # plus through the gates
        return dxw, dhw, (dh if need_state_grad else None), None


def _make_recurrence(mode, nonlinearity="tanh"):
    return {"RNN": lambda: _RNNRecurrence(nonlinearity), "LSTM": _LSTMRecurrence, "GRU": _GRURecurrence}[mode]()


# -- one direction of one layer: the projections around a recurrence -------------------------------


def _direction_forward(recurrence, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """x (T, N, H_in), h0 and c0 (N, H) -> (hs (T+1, N, H), cs, saved).

    XW for all steps in one (batched) product, the input biases as a last column of ones in x:
        XW_t,k = [x_t 1] [W_ih,k  b_k]^T = x_t W_ih,k^T + b_k        xw (T, K, N, H)
    """
    T, N, _ = x.shape
    gates = recurrence.gates
    x_rows = x.reshape(T * N, -1)  # (T*N, H_in): every step's samples, one row each (then [x 1])
    bias = recurrence.input_bias(b_ih, b_hh)
    if bias is not None:
        x_rows = np.concatenate([x_rows, np.ones((T * N, 1), x.dtype)], axis=1)
        w_ih = np.concatenate([w_ih, bias[:, None]], axis=1)
    xw = np.matmul(x_rows.reshape(T, 1, N, -1), _per_gate(w_ih, gates).transpose(0, 2, 1))  # (T, K, N, H)
    hs, cs, cache = recurrence.forward(xw, h0, c0, w_hh, b_hh)
    return hs, cs, (x_rows, hs, cache)


def _direction_backward(recurrence, saved, params, grad_hs, grad_h_last, grad_c_last, need_state_grad):
    """Runs the recurrence backward, then every weight gradient and dx in one (batched) product each.

    Returns dx (T, N, H_in), and dh0 and dc0 (N, H) when need_state_grad (else None).
    """
    x_rows, hs, cache = saved
    w_ih, w_hh, b_ih, b_hh = params
    dxw, dhw, dh0, dc0 = recurrence.backward(cache, w_hh.data, grad_hs, grad_h_last, grad_c_last, need_state_grad)
    T, gates, N, H = dxw.shape
    x_steps = x_rows.reshape(T, 1, N, -1)
    # [dW_ih,k  db_k] = sum_t dXW_t,k^T [x_t 1]: the weight gradient and, in the last column, the bias gradient
    dw = np.matmul(dxw.transpose(0, 1, 3, 2), x_steps).sum(axis=0).reshape(gates * H, -1)
    w_ih.accumulate_grad(np.ascontiguousarray(dw[:, :w_ih.shape[1]]))
    dw_hh = np.matmul(dhw.transpose(0, 1, 3, 2), hs[:-1, None]).sum(axis=0)  # dW_hh,k = sum_t dHW_t,k^T h_{t-1}
    w_hh.accumulate_grad(dw_hh.reshape(gates * H, H))
    if b_ih is not None:
        db_ih = dw[:, -1].copy()
        b_ih.accumulate_grad(db_ih)
        # db_hh = sum of dHW over steps and samples (a product with 1s: fast)
        b_hh.accumulate_grad(db_ih.copy() if dhw is dxw else np.matmul(np.ones(N, hs.dtype), dhw).sum(axis=0).reshape(-1))
    dx = np.matmul(dxw, _per_gate(w_ih.data, gates)).sum(axis=1)  # dx_t = sum_k dXW_t,k W_ih,k
    return dx.reshape(T, N, -1), dh0, dc0


# -- argument checks shared by layers and cells -----------------------------------------------------


def _check_sizes(owner, input_size, hidden_size, bias):
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{owner}: {name} should be of type int, got {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{owner}: {name} must be greater than zero, got {value}")
    if not isinstance(bias, bool):
        raise TypeError(f"{owner}: bias should be of type bool, got {type(bias).__name__}")


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")


class _RNNBase(Module):
    """The multi-layer, optionally bidirectional sequence loop shared by RNN, LSTM and GRU."""

    mode = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None, nonlinearity="tanh"):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size, bias)
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be an integer greater than zero, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] (the probability of an "
                             f"element being zeroed), got {dropout!r}")
        for flag, value in (("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: {flag} should be of type bool, got {type(value).__name__}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        self.nonlinearity = nonlinearity
        self._recurrence = _make_recurrence(self.mode, nonlinearity)
        dtype = as_float_dtype(dtype)
        gate_size = self._recurrence.gates * hidden_size
        bound = 1 / math.sqrt(hidden_size)
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}",
                                        Parameter(init_uniform((gate_size, layer_input), bound, dtype)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        Parameter(init_uniform((gate_size, hidden_size), bound, dtype)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", Parameter(init_uniform((gate_size,), bound, dtype)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", Parameter(init_uniform((gate_size,), bound, dtype)))

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    def _params(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(self._parameters.get(f"{name}_l{layer}{suffix}") for name in names)

    # -- checks ---------------------------------------------------------------------------------

    def _signature(self):
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _check_input(self, x):
        dtype = self.weight_ih_l0.dtype
        check_float(x, f"{type(self).__name__} input", dtype)
        layout = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
        expected = f"{layout.format(self.input_size)} or unbatched (T, {self.input_size})"
        if x.ndim not in (2, 3):
            raise ValueError(f"{self._signature()} expected a 2-D or 3-D input of shape {expected}, "
                             f"got {x.ndim}-D input of shape {shape_str(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{self._signature()} expected input of shape {expected}, got {shape_str(x.shape)}: "
                             f"{x.shape[-1]} features instead of {self.input_size}")
        batched = x.ndim == 3
        x = x.swapaxes(0, 1) if batched and self.batch_first else x
        x = x if batched else x[:, None, :]
        if x.shape[0] == 0:
            raise ValueError(f"{type(self).__name__} expected a sequence length larger than 0, got input of shape "
                             f"{shape_str(x.shape)}")
        return x, batched

    def _check_state(self, hx, batch, batched, dtype):
        """hx -> (h0, c0) of shape (L*D, N, H) each (c0 None unless LSTM), or zeros when hx is None."""
        shape = (self.num_layers * self._directions, batch, self.hidden_size)
        if hx is None:
            return np.zeros(shape, dtype), (np.zeros(shape, dtype) if self._recurrence.has_cell else None)
        name = type(self).__name__
        if self._recurrence.has_cell:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name} expected hx to be a tuple (h0, c0) of arrays, got {type(hx).__name__}")
            states = list(hx)
        else:
            states = [hx]
        expected = shape if batched else (shape[0], shape[2])
        for label, state in zip(("h0", "c0"), states):
            check_float(state, f"{name} {label}", dtype)
            if state.shape != expected:
                raise ValueError(
                    f"{name} expected {label} of shape {shape_str(expected)} (num_layers * num_directions, "
                    f"{'N, ' if batched else ''}hidden_size) for input with batch size {batch}, got {shape_str(state.shape)}"
                )
        states = [s if batched else s[:, None, :] for s in states]
        return states[0], (states[1] if len(states) > 1 else None)

    # -- forward --------------------------------------------------------------------------------

    def forward(self, input, hx=None):
        dtype = self.weight_ih_l0.dtype
        x, batched = self._check_input(input)
        h0, c0 = self._check_state(hx, x.shape[1], batched, dtype)
        has_cell, D = self._recurrence.has_cell, self._directions
        h_n, c_n = np.empty_like(h0), (np.empty_like(c0) if has_cell else None)
        saved, masks = [], []
        layer_input = x  # (T, N, H_in)
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(D):
                index = layer * D + direction
                w_ih, w_hh, b_ih, b_hh = (p.data if p is not None else None for p in self._params(layer, direction))
                sequence = layer_input if direction == 0 else layer_input[::-1]  # reverse reads t = T..1
                hs, cs, cache = _direction_forward(self._recurrence, sequence, h0[index],
                                                   c0[index] if has_cell else None, w_ih, w_hh, b_ih, b_hh)
                saved.append(cache)
                h_n[index] = hs[-1]
                if has_cell:
                    c_n[index] = cs[-1]
                outputs.append(hs[1:] if direction == 0 else hs[:0:-1])
            layer_input = outputs[0] if D == 1 else np.concatenate(outputs, axis=2)  # (T, N, D*H)
            mask = None
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                # Dropout between layers: zero each element with probability p, scale the rest by 1 / (1 - p).
                # (Drawn as (T, D*H, N) and viewed as (T, N, D*H): the same mask for a seed as before.)
                T, N, width = layer_input.shape
                keep = default_generator().random((T, width, N)).transpose(0, 2, 1) >= self.dropout
                mask = keep.astype(dtype) * (1.0 / (1.0 - self.dropout) if self.dropout < 1 else 0.0)
                layer_input = layer_input * mask
            masks.append(mask)
        output = layer_input  # (T, N, D*H)
        self._saved, self._masks = saved, masks
        self._batched, self._given_state, self._batch_size = batched, hx is not None, x.shape[1]
        if batched and self.batch_first:
            output = output.swapaxes(0, 1)
        if not batched:
            output, h_n = output[:, 0], h_n[:, 0]
            c_n = c_n[:, 0] if has_cell else None
        self._output_shape, self._state_shape = output.shape, h_n.shape
        output, h_n = read_only(output), read_only(h_n)  # views of what backward reads: not to be edited in place
        return (output, (h_n, read_only(c_n))) if has_cell else (output, h_n)

    # -- backward -------------------------------------------------------------------------------

    def _unpack_grad(self, grad):
        name = type(self).__name__
        if not isinstance(grad, (tuple, list)) or len(grad) != 2:
            raise TypeError(f"{name}.backward expects grads in the output's structure: (grad_output, "
                            f"{'(grad_h_n, grad_c_n)' if self._recurrence.has_cell else 'grad_h_n'}), got {type(grad).__name__}")
        grad_output, grad_state = grad
        if self._recurrence.has_cell:
            grad_h_n, grad_c_n = (None, None) if grad_state is None else grad_state
        else:
            grad_h_n, grad_c_n = grad_state, None
        for label, value, shape in (("grad_output", grad_output, self._output_shape),
                                    ("grad_h_n", grad_h_n, self._state_shape),
                                    ("grad_c_n", grad_c_n, self._state_shape)):
            if value is not None and value.shape != shape:
                raise ValueError(f"{name}.backward: {label} has shape {shape_str(value.shape)}, "
                                 f"expected {shape_str(shape)} like the forward's result")
        if not self._batched:
            grad_output = None if grad_output is None else grad_output[:, None, :]
            grad_h_n = None if grad_h_n is None else grad_h_n[:, None, :]
            grad_c_n = None if grad_c_n is None else grad_c_n[:, None, :]
        elif grad_output is not None and self.batch_first:
            grad_output = grad_output.swapaxes(0, 1)
        return grad_output, grad_h_n, grad_c_n

    def backward(self, grad):
        """grad = (dL/d output, dL/d h_n) -- (dL/d output, (dL/d h_n, dL/d c_n)) for the LSTM --, any part None.

        Returns dL/d input, or (dL/d input, dL/d h0) -- (dL/d input, (dL/d h0, dL/d c0)) for the
        LSTM -- when the forward was given an initial state.
        """
        grad_output, grad_h_n, grad_c_n = self._unpack_grad(grad)
        has_cell, H, D = self._recurrence.has_cell, self.hidden_size, self._directions
        dtype = self.weight_ih_l0.dtype
        need_state_grad = self._given_state
        grad_h0 = np.zeros((self.num_layers * D, self._batch_size, H), dtype) if need_state_grad else None
        grad_c0 = np.zeros_like(grad_h0) if has_cell and need_state_grad else None
        grad_layer_output = grad_output  # dL/d(this layer's output sequence) (T, N, D*H), or None
        for layer in reversed(range(self.num_layers)):
            if grad_layer_output is not None and self._masks[layer] is not None:
                grad_layer_output = grad_layer_output * self._masks[layer]
            grad_layer_input = None
            for direction in range(D):
                index = layer * D + direction
                grad_hs = None if grad_layer_output is None else grad_layer_output[:, :, direction * H:(direction + 1) * H]
                if grad_hs is not None and direction == 1:
                    grad_hs = grad_hs[::-1]
                dx, dh0, dc0 = _direction_backward(
                    self._recurrence, self._saved[index], self._params(layer, direction), grad_hs,
                    None if grad_h_n is None else grad_h_n[index], None if grad_c_n is None else grad_c_n[index],
                    need_state_grad)
                if need_state_grad:
                    grad_h0[index] = dh0
                    if has_cell:
                        grad_c0[index] = dc0
                dx = dx if direction == 0 else dx[::-1]
                grad_layer_input = dx if grad_layer_input is None else grad_layer_input + dx
            grad_layer_output = grad_layer_input
        grad_input = grad_layer_output  # (T, N, H_in)
        if not self._batched:
            grad_input = grad_input[:, 0]
            if need_state_grad:
                grad_h0, grad_c0 = grad_h0[:, 0], (grad_c0[:, 0] if has_cell else None)
        elif self.batch_first:
            grad_input = grad_input.swapaxes(0, 1)
        if not self._given_state:
            return grad_input
        return (grad_input, (grad_h0, grad_c0)) if has_cell else (grad_input, grad_h0)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


class RNN(_RNNBase):
    r"""Elman RNN, ``torch.nn.RNN``:  h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)  (or relu).

    forward(input, hx=None) -> (output, h_n). See the module docstring for shapes and
    ``_RNNRecurrence`` for the backward equations.
    """

    mode = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype,
                         nonlinearity)


class LSTM(_RNNBase):
    r"""Long short-term memory, ``torch.nn.LSTM`` (gates i|f|g|o; no proj_size).

    forward(input, hx=None) with hx = (h0, c0) -> (output, (h_n, c_n)). See ``_LSTMRecurrence``.
    """

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)


class GRU(_RNNBase):
    r"""Gated recurrent unit, ``torch.nn.GRU`` (gates r|z|n, b_hn inside the reset product).

    forward(input, hx=None) -> (output, h_n). See ``_GRURecurrence``.
    """

    mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)


# -- single steps ------------------------------------------------------------------------------------


class _CellBase(Module):
    """One step of a recurrence: the layer's code with T = 1, on input (N, H_in) or unbatched (H_in,)."""

    mode = None

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, nonlinearity="tanh"):
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size, bias)
        self.input_size, self.hidden_size, self.bias, self.nonlinearity = int(input_size), int(hidden_size), bias, nonlinearity
        self._recurrence = _make_recurrence(self.mode, nonlinearity)
        dtype = as_float_dtype(dtype)
        gate_size = self._recurrence.gates * hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = Parameter(init_uniform((gate_size, input_size), bound, dtype))
        self.weight_hh = Parameter(init_uniform((gate_size, hidden_size), bound, dtype))
        if bias:
            self.bias_ih = Parameter(init_uniform((gate_size,), bound, dtype))
            self.bias_hh = Parameter(init_uniform((gate_size,), bound, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def forward(self, input, hx=None):
        name, dtype, has_cell = type(self).__name__, self.weight_ih.dtype, self._recurrence.has_cell
        check_float(input, f"{name} input", dtype)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}(input_size={self.input_size}, hidden_size={self.hidden_size}) expected input of "
                             f"shape (N, {self.input_size}) or ({self.input_size},), got {shape_str(input.shape)}")
        batched = input.ndim == 2
        x = input if batched else input[None]
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if hx is None:
            states = [np.zeros((x.shape[0], self.hidden_size), dtype)] * (2 if has_cell else 1)
        else:
            if has_cell and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{name} expected hx to be a tuple (h, c) of arrays, got {type(hx).__name__}")
            states = list(hx) if has_cell else [hx]
            for label, state in zip(("h", "c"), states):
                check_float(state, f"{name} {label}", dtype)
                if state.shape != expected:
                    raise ValueError(f"{name} expected {label} of shape {shape_str(expected)} for input of shape "
                                     f"{shape_str(input.shape)}, got {shape_str(state.shape)}")
            states = [s if batched else s[None] for s in states]
        hs, cs, self._saved = _direction_forward(self._recurrence, x[None], states[0],
                                                 states[1] if has_cell else None,
                                                 self.weight_ih.data, self.weight_hh.data,
                                                 None if self.bias_ih is None else self.bias_ih.data,
                                                 None if self.bias_hh is None else self.bias_hh.data)
        self._batched, self._given_state, self._state_shape = batched, hx is not None, expected
        h, c = hs[1], (None if cs is None else cs[1])  # (N, H)
        if not batched:
            h, c = h[0], (None if c is None else c[0])
        return (read_only(h), read_only(c)) if has_cell else read_only(h)

    def backward(self, grad):
        """grad = dL/dh' (RNNCell, GRUCell) or (dL/dh', dL/dc') (LSTMCell, either may be None).

        Returns dL/d input, or (dL/d input, dL/d h) -- (dL/d input, (dL/d h, dL/d c)) -- when hx was given.
        """
        name, has_cell = type(self).__name__, self._recurrence.has_cell
        if has_cell and (not isinstance(grad, (tuple, list)) or len(grad) != 2):
            raise TypeError(f"{name}.backward expects (grad_h, grad_c) like its output, got {type(grad).__name__}")
        grads = list(grad) if has_cell else [grad]
        for value in grads:
            if value is not None and value.shape != self._state_shape:
                raise ValueError(f"{name}.backward: gradient of shape {shape_str(value.shape)}, expected "
                                 f"{shape_str(self._state_shape)} like the forward's result")
        grads = [None if g is None else (g if self._batched else g[None]) for g in grads]  # (N, H)
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        dx, dh, dc = _direction_backward(self._recurrence, self._saved, params, None, grads[0],
                                         grads[1] if has_cell else None, self._given_state)
        dx = dx[0]  # (N, H_in)
        if not self._given_state:
            return dx if self._batched else dx[0]
        if not self._batched:
            dx, dh, dc = dx[0], dh[0], (None if dc is None else dc[0])
        return (dx, (dh, dc)) if has_cell else (dx, dh)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text


class RNNCell(_CellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), ``torch.nn.RNNCell``."""

    mode = "RNN"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, nonlinearity)


class LSTMCell(_CellBase):
    """One LSTM step, ``torch.nn.LSTMCell``: forward(input, (h, c)) -> (h', c'). See ``_LSTMRecurrence``."""

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__(input_size, hidden_size, bias, dtype)


class GRUCell(_CellBase):
    """One GRU step, ``torch.nn.GRUCell``: forward(input, h) -> h'. See ``_GRURecurrence``."""

    mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__(input_size, hidden_size, bias, dtype)
