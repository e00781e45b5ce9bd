r"""One time step of each recurrent cell and its derivative: the math behind ``rnn.py``'s layers and cells.

Rows are samples, as in torch: x_t (N, H_in), h and c (N, H); N batch, H hidden_size, K gates
(1 RNN, 4 LSTM, 3 GRU), G = K * H. A cell's pre-activations have a part from the input and a part
from the state:

    xw_t = x_t W_ih^T + b_ih + b_hh     (N, G)   computed by the layer, for every t in one product
    hw   = h_prev W_hh^T                (N, G)   computed by the step

xw_t carries every bias, as they only ever add to a pre-activation -- except the GRU's b_hn, which
the reset gate multiplies: the GRU step takes it separately. Gate k is the column block
k*H .. (k+1)*H of xw_t and hw (the row block k of torch's weights); ``gate_blocks`` names them.

    step(xw_t, *state_prev, W_hh[, b_hn | W_hr]) -> (*state, cache)     state = (h,), or (h, c) for the LSTM
    step_backward(*d_state, cache) -> (dxw_t, dhw_t, *d_state_prev[, dW_hr_t])

d_state = dL/dh (and dL/dc) from everything after the step: the output sequence at this step and
the next step. dxw_t = dL/dxw_t and dhw_t = dL/dhw, both (N, G), from which the layer takes the
parameters' gradients (dW_ih = sum_t dxw_t^T x_t, dW_hh = sum_t dhw_t^T h_prev, db_ih = sum_t 1^T dxw_t,
db_hh = sum_t 1^T dhw_t: a block of b_hh in xw_t has the same gradient as hw's, and the GRU's dhw_t
for its n block is dL/d(hw_n + b_hn)) and dx_t = dxw_t W_ih. d_state_prev = dL/dh_prev (and
dL/dc_prev) is the d_state of the step before. The LSTM with projections (``lstm_proj_step``) takes its
projection W_hr (P, H) too, its h being (N, P) while c stays (N, H), and also returns this step's dW_hr_t.

Derivatives used below: sigmoid'(a) = s (1 - s) with s = sigmoid(a), tanh'(a) = 1 - tanh(a)^2,
relu'(a) = [a > 0] (0 at 0, as torch).
"""

import numpy as np


def gate_blocks(a, K):
    """(N, K*H) -> the K gates' column blocks, views of shape (N, H): ``a_i, a_f, a_g, a_o = gate_blocks(a, 4)``."""
    return a.reshape(a.shape[0], K, -1).swapaxes(0, 1)


def sigmoid(a):
    """sigmoid(a) = 1 / (1 + exp(-a)) = (1 + tanh(a / 2)) / 2: the tanh form never overflows."""
    return 0.5 + 0.5 * np.tanh(0.5 * a)


# -- Elman RNN -----------------------------------------------------------------------------------------


def rnn_tanh_step(xw_t, h_prev, W_hh):
    r"""h = tanh(a),  a = xw_t + h_prev W_hh^T      (N, H); returns (h, cache)."""
    h = np.tanh(xw_t + h_prev @ W_hh.T)
    return h, (h, W_hh)


def rnn_tanh_step_backward(dh, cache):
    r"""da = dh * (1 - h^2)  (tanh'(a) = 1 - h^2),  dh_prev = da W_hh; returns (da, da, dh_prev): dxw_t = dhw_t = da."""
    h, W_hh = cache
    da = dh * (1 - h ** 2)
    dh_prev = da @ W_hh
    return da, da, dh_prev


def rnn_relu_step(xw_t, h_prev, W_hh):
    r"""h = relu(a),  a = xw_t + h_prev W_hh^T      (N, H); returns (h, cache)."""
    h = np.maximum(xw_t + h_prev @ W_hh.T, 0)
    return h, (h, W_hh)


def rnn_relu_step_backward(dh, cache):
    r"""da = dh * [h > 0]  (h > 0 exactly where a > 0),  dh_prev = da W_hh; returns (da, da, dh_prev)."""
    h, W_hh = cache
    da = dh * (h > 0)
    dh_prev = da @ W_hh
    return da, da, dh_prev


# -- LSTM ----------------------------------------------------------------------------------------------


def lstm_step(xw_t, h_prev, c_prev, W_hh):
    r"""One LSTM step, gates i|f|g|o (torch's order):

        a = xw_t + h_prev W_hh^T      (N, 4H), in gate blocks a_i, a_f, a_g, a_o (N, H)
        i = sigmoid(a_i)      input gate
        f = sigmoid(a_f)      forget gate
        g = tanh(a_g)         candidate cell
        o = sigmoid(a_o)      output gate
        c = f * c_prev + i * g
        h = o * tanh(c)

    Returns (h, c, cache), h and c (N, H).
    """
    a = xw_t + h_prev @ W_hh.T
    a_i, a_f, a_g, a_o = gate_blocks(a, 4)
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    g = np.tanh(a_g)
    o = sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, (c_prev, i, f, g, o, tanh_c, W_hh)


def lstm_step_backward(dh, dc, cache):
    r"""The LSTM step's derivative. dh = dL/dh, dc = dL/dc from the steps after (N, H).

    c reaches the loss through the next step and through h = o tanh(c), so its whole gradient is

        dc_total = dc + dh * o * (1 - tanh(c)^2)

    and the chain rule through each equation of the forward gives, with da_* = dL/da_*:

        da_i = dc_total * g * i (1 - i)              from c = ... + i * g,  i = sigmoid(a_i)
        da_f = dc_total * c_prev * f (1 - f)         from c = f * c_prev + ...
        da_g = dc_total * i * (1 - g^2)              from c = ... + i * g,  g = tanh(a_g)
        da_o = dh * tanh(c) * o (1 - o)              from h = o * tanh(c)
        da   = [da_i, da_f, da_g, da_o]              (N, 4H); a = xw_t + hw, so dxw_t = dhw_t = da
        dc_prev = dc_total * f
        dh_prev = da W_hh

    Returns (da, da, dh_prev, dc_prev).
    """
    c_prev, i, f, g, o, tanh_c, W_hh = cache
    dc_total = dc + dh * o * (1 - tanh_c ** 2)
    da_i = dc_total * g * i * (1 - i)
    da_f = dc_total * c_prev * f * (1 - f)
    da_g = dc_total * i * (1 - g ** 2)
    da_o = dh * tanh_c * o * (1 - o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)
    dc_prev = dc_total * f
    dh_prev = da @ W_hh
    return da, da, dh_prev, dc_prev


def lstm_proj_step(xw_t, h_prev, c_prev, W_hh, W_hr):
    r"""One step of the LSTM with projections (``proj_size`` P > 0): the LSTM step, then h projected to P:

        m, c = lstm_step(xw_t, h_prev, c_prev, W_hh)      m = o * tanh(c) (N, H); h_prev (N, P), W_hh (4H, P)
        h = m W_hr^T                                      (N, P), W_hr (P, H)

    Returns (h, c, cache): h (N, P), c (N, H).
    """
    m, c, lstm_cache = lstm_step(xw_t, h_prev, c_prev, W_hh)
    h = m @ W_hr.T
    return h, c, (lstm_cache, m, W_hr)


def lstm_proj_step_backward(dh, dc, cache):
    r"""The projected LSTM step's derivative. dh (N, P), dc (N, H) from the steps after.

        dm = dh W_hr          (N, H)   dL/dm, through h = m W_hr^T
        dW_hr_t = dh^T m      (P, H)   this step's part of dL/dW_hr
        da, da, dh_prev, dc_prev = lstm_step_backward(dm, dc, ...)

    Returns (da, da, dh_prev, dc_prev, dW_hr_t).
    """
    lstm_cache, m, W_hr = cache
    dm = dh @ W_hr
    dW_hr_t = dh.T @ m
    da, _, dh_prev, dc_prev = lstm_step_backward(dm, dc, lstm_cache)
    return da, da, dh_prev, dc_prev, dW_hr_t


# -- GRU -----------------------------------------------------------------------------------------------


def gru_step(xw_t, h_prev, W_hh, b_hn):
    r"""One GRU step, gates r|z|n, with b_hn inside the reset product as torch (and cuDNN) define it:

        hw = h_prev W_hh^T                     (N, 3H), in gate blocks hw_r, hw_z, hw_n; xw_t likewise
        r = sigmoid(xw_r + hw_r)               reset gate
        z = sigmoid(xw_z + hw_z)               update gate
        hn = hw_n + b_hn                       the state's part of the candidate, which r resets
        n = tanh(xw_n + r * hn)                candidate; a_n = xw_n + r * hn is its pre-activation
        h = (1 - z) * n + z * h_prev           computed as torch does: n + z * (h_prev - n)

    Returns (h, cache), h (N, H).
    """
    hw = h_prev @ W_hh.T
    xw_r, xw_z, xw_n = gate_blocks(xw_t, 3)
    hw_r, hw_z, hw_n = gate_blocks(hw, 3)
    r = sigmoid(xw_r + hw_r)
    z = sigmoid(xw_z + hw_z)
    hn = hw_n + b_hn
    n = np.tanh(xw_n + r * hn)
    h = n + z * (h_prev - n)
    return h, (h_prev, r, z, n, hn, W_hh)


def gru_step_backward(dh, cache):
    r"""The GRU step's derivative. dh = dL/dh from the steps after (N, H).

    With da_* = dL/da_* for the pre-activations a_r = xw_r + hw_r, a_z = xw_z + hw_z, a_n:

        da_n = dh * (1 - z) * (1 - n^2)              from h = (1 - z) * n + ...,  n = tanh(a_n)
        da_z = dh * (h_prev - n) * z (1 - z)         from h = n + z * (h_prev - n)
        da_r = da_n * hn * r (1 - r)                 from a_n = xw_n + r * hn
        dxw_t = [da_r, da_z, da_n]                   (N, 3H)
        dhw_t = [da_r, da_z, da_n * r]               hn = hw_n + b_hn enters a_n multiplied by r
        dh_prev = dh * z + dhw_t W_hh                directly through z * h_prev, and through hw

    Returns (dxw_t, dhw_t, dh_prev).
    """
    h_prev, r, z, n, hn, W_hh = cache
    da_n = dh * (1 - z) * (1 - n ** 2)
    da_z = dh * (h_prev - n) * z * (1 - z)
    da_r = da_n * hn * r * (1 - r)
    dxw_t = np.concatenate([da_r, da_z, da_n], axis=1)
    dhw_t = np.concatenate([da_r, da_z, da_n * r], axis=1)
    dh_prev = dh * z + dhw_t @ W_hh
    return dxw_t, dhw_t, dh_prev
