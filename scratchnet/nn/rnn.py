r"""Recurrent layers RNN, LSTM and GRU and their cells: the plumbing around ``recurrent_steps``.

A recurrent layer reads a sequence x_1 .. x_T and carries a hidden state h_t from step to step,
the feedback loop that lets information persist:

    h_t = cell(x_t, h_{t-1})          (and a cell state c_t for the LSTM)

The math of one step and its derivative, per cell type, is in ``scratchnet/nn/recurrent_steps.py``;
this file handles shapes, checks, initial states, layers, directions and dropout between layers.

Shapes (torch's names): T sequence length, N batch, H_in input_size, H hidden_size,
D = 2 if bidirectional else 1, L num_layers, K gates (1 for RNN, 4 for LSTM, 3 for GRU), G = K * H,
R the width of h: H, or proj_size P for an LSTM with projections (proj_size > 0; c stays H wide).

    input   (T, N, H_in)   -- (N, T, H_in) with batch_first; unbatched (T, H_in)
    h0      (L*D, N, R)    -- zeros when not given; unbatched (L*D, R); c0 likewise, H wide
    output  (T, N, D*R)    -- the top layer's h_t for every t (both directions side by side)
    h_n     (L*D, N, R)    -- every layer's and direction's last state; c_n (L*D, N, H)

Parameters, per layer k (``_reverse`` suffix for the backward direction), exactly torch's:
    weight_ih_l{k} (G, H_in or D*R), weight_hh_l{k} (G, R), bias_ih_l{k} (G,), bias_hh_l{k} (G,),
    and with projections weight_hr_l{k} (P, H): h_t = (o_t * tanh(c_t)) W_hr^T
all drawn from U(-1/sqrt(H), 1/sqrt(H)); the gates are stacked in row blocks of H.

One direction of one layer (``_direction_forward`` and ``_direction_backward``), step by step:
    xw_t = x_t W_ih^T + b_ih + b_hh  (the GRU's b_hn aside)  every t in one product first    (T, N, G)
    state_t, cache_t = step(xw_t, state_{t-1}, W_hh[, b_hn | W_hr])                   t = 1 .. T
    dxw_t, dhw_t, d_state_{t-1}[, dW_hr_t] = step_backward(d_state_t, cache_t)         t = T .. 1
    dW_ih += dxw_t^T x_t,   dW_hh += dhw_t^T h_{t-1},   db_ih += 1^T dxw_t,   db_hh += 1^T dhw_t,
    dx_t = dxw_t W_ih                               (and dW_hr += dW_hr_t, from a projected LSTM's step)
where d_state_t is dL/dh_t from the output sequence plus what step t+1 sent back. The reverse
direction runs the same on the reversed sequence. Between layers, in training, dropout:
y = x * mask / (1 - p), dL/dx = dL/dy * mask / (1 - p).
"""

import math
from typing import Callable, NamedTuple

import numpy as np

from scratchnet._checks import check_float, shape_str
from scratchnet._dtype import as_float_dtype
from scratchnet.nn import recurrent_steps as steps
from scratchnet.nn.dropout import dropout_noise
from scratchnet.nn.linear import init_uniform
from scratchnet.nn.module import Module, Parameter, read_only


class _CellMath(NamedTuple):
    step: Callable  # (xw_t, *state_prev, W_hh[, b_hn]) -> (*state, cache)
    step_backward: Callable  # (*d_state, cache) -> (dxw_t, dhw_t, *d_state_prev)
    gates: int  # K
    has_cell: bool  # the state is (h, c) rather than (h,)
    takes_b_hn: bool  # the GRU: b_hn stays out of xw_t, the step adds it inside r * (...)
    projects: bool = False  # the LSTM with proj_size > 0: the step takes W_hr and also returns dW_hr_t


_CELL_MATH = {
    ("RNN", "tanh"): _CellMath(steps.rnn_tanh_step, steps.rnn_tanh_step_backward, 1, False, False),
    ("RNN", "relu"): _CellMath(steps.rnn_relu_step, steps.rnn_relu_step_backward, 1, False, False),
    ("LSTM", "tanh"): _CellMath(steps.lstm_step, steps.lstm_step_backward, 4, True, False),
    ("GRU", "tanh"): _CellMath(steps.gru_step, steps.gru_step_backward, 3, False, True),
}
_PROJECTED_LSTM_MATH = _CellMath(steps.lstm_proj_step, steps.lstm_proj_step_backward, 4, True, False, True)


# -- one direction of one layer ---------------------------------------------------------------------


def _direction_forward(cell, x, state0, W_ih, W_hh, b_ih, b_hh, W_hr=None):
    """x (T, N, H_in), state0 = (h0,) or (h0, c0), h0 (N, R) and c0 (N, H); b_ih, b_hh (G,), zeros without
    bias; W_hr (P, H) for a projected LSTM, else None.

    Returns hs (T+1, N, R) with hs[0] = h0 and hs[t] = h_t, the last state (like state0), and
    what ``_direction_backward`` needs.
    """
    T, N, H_in = x.shape
    H, step_weights = W_hh.shape[1], (W_hh,)
    if cell.projects:  # the projected LSTM's step ends with h = (o * tanh(c)) W_hr^T
        step_weights = (W_hh, W_hr)
    if cell.takes_b_hn:  # the GRU adds b_hn in its step, inside r * (h_prev W_hn^T + b_hn)
        step_weights = (W_hh, b_hh[2 * H:])
        b_hh = np.concatenate([b_hh[:2 * H], np.zeros(H, b_hh.dtype)])
    xw = x.reshape(T * N, H_in) @ W_ih.T + (b_ih + b_hh)  # xw_t = x_t W_ih^T + b_ih + b_hh, every t in one product
    xw = xw.reshape(T, N, -1)
    state, hs, caches = state0, [state0[0]], []
    for t in range(T):
        *state, cache = cell.step(xw[t], *state, *step_weights)
        hs.append(state[0])
        caches.append(cache)
    hs = np.stack(hs)
    return hs, tuple(state), (x, hs, caches, tuple(s.shape for s in state0))


def _direction_backward(cell, saved, params, grad_hs, d_state):
    """Backpropagation through time for one direction of one layer.

    saved from ``_direction_forward``; params = (W_ih, W_hh, b_ih, b_hh, W_hr) Parameters (biases and
    W_hr may be None); grad_hs (T, N, R) = dL/dh_t from the output sequence, or None; d_state =
    dL/d(last state), like the state, each part an array or None. Accumulates the parameters'
    gradients and returns dx (T, N, H_in) and dL/d state0 (like state0).
    """
    x, hs, caches, state_shapes = saved
    W_ih, W_hh, b_ih, b_hh, W_hr = params
    T, N = len(caches), hs.shape[1]
    d_state = [np.zeros(shape, hs.dtype) if d is None else d for d, shape in zip(d_state, state_shapes)]
    dW_ih, dW_hh = np.zeros_like(W_ih.data), np.zeros_like(W_hh.data)
    dW_hr = None if W_hr is None else np.zeros_like(W_hr.data)
    db_ih, db_hh = np.zeros(W_ih.shape[0], hs.dtype), np.zeros(W_hh.shape[0], hs.dtype)
    ones, dx = np.ones(N, hs.dtype), [None] * T
    for t in reversed(range(T)):
        if grad_hs is not None:
            d_state[0] = d_state[0] + grad_hs[t]
        dxw_t, dhw_t, *d_state = cell.step_backward(*d_state, caches[t])
        if cell.projects:
            *d_state, dW_hr_t = d_state
            dW_hr += dW_hr_t  # dW_hr = sum_t dh_t^T m_t, m_t = o_t * tanh(c_t)
        dW_ih += dxw_t.T @ x[t]  # dW_ih = sum_t dxw_t^T x_t
        dW_hh += dhw_t.T @ hs[t]  # dW_hh = sum_t dhw_t^T h_{t-1}
        db_ih += ones @ dxw_t  # db_ih = sum_t 1^T dxw_t (as a BLAS product: faster than .sum(axis=0))
        db_hh += ones @ dhw_t  # db_hh = sum_t 1^T dhw_t
        dx[t] = dxw_t @ W_ih.data  # dx_t = dxw_t W_ih
    W_ih.accumulate_grad(dW_ih)
    W_hh.accumulate_grad(dW_hh)
    if W_hr is not None:
        W_hr.accumulate_grad(dW_hr)
    if b_ih is not None:
        b_ih.accumulate_grad(db_ih)
        b_hh.accumulate_grad(db_hh)
    return np.stack(dx), tuple(d_state)


def _data(params):
    """(W_ih, W_hh, b_ih, b_hh, W_hr) Parameters -> their arrays: zeros for absent biases, None for no W_hr."""
    W_ih, W_hh, b_ih, b_hh, W_hr = params
    zeros = np.zeros(W_ih.shape[0], W_ih.dtype)
    return (W_ih.data, W_hh.data, zeros if b_ih is None else b_ih.data, zeros if b_hh is None else b_hh.data,
            None if W_hr is None else W_hr.data)


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
                 bidirectional=False, proj_size=0, dtype=None, nonlinearity="tanh"):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size, bias)
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be an integer greater than zero, got {num_layers!r}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
            raise TypeError(f"{name}: proj_size should be of type int, got {type(proj_size).__name__}")
        if proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable projections, "
                             f"got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} "
                             f"and hidden_size={hidden_size}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] (the probability of an "
                             f"element being zeroed), got {dropout!r}")
        for flag, value in (("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: {flag} should be of type bool, got {type(value).__name__}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        self.nonlinearity, self.proj_size = nonlinearity, int(proj_size)
        self._cell = _PROJECTED_LSTM_MATH if proj_size > 0 else _CELL_MATH[self.mode, nonlinearity]
        dtype = as_float_dtype(dtype)
        gate_size = self._cell.gates * hidden_size
        real_hidden_size = self._real_hidden_size  # R: the width of h
        bound = 1 / math.sqrt(hidden_size)
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}",
                                        Parameter(init_uniform((gate_size, layer_input), bound, dtype)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        Parameter(init_uniform((gate_size, real_hidden_size), bound, dtype)))
                if bias:
                    for name in ("bias_ih", "bias_hh"):
                        self.register_parameter(f"{name}_l{layer}{suffix}",
                                                Parameter(init_uniform((gate_size,), bound, dtype)))
                if proj_size > 0:
                    self.register_parameter(f"weight_hr_l{layer}{suffix}",
                                            Parameter(init_uniform((proj_size, hidden_size), bound, dtype)))

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    @property
    def _real_hidden_size(self):
        """R, the width of h: proj_size for an LSTM with projections, else hidden_size."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _params(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
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
        """hx -> (h0,) or (h0, c0) for the LSTM, h0 (L*D, N, R) and c0 (L*D, N, H); zeros when hx is None."""
        widths = (("proj_size" if self.proj_size > 0 else "hidden_size", self._real_hidden_size),
                  ("hidden_size", self.hidden_size))[:2 if self._cell.has_cell else 1]
        shapes = [(self.num_layers * self._directions, batch, width) for _, width in widths]
        if hx is None:
            return tuple(np.zeros(shape, dtype) for shape in shapes)
        name = type(self).__name__
        if self._cell.has_cell:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name} expected hx to be a tuple (h0, c0) of arrays, got {type(hx).__name__}")
            states = tuple(hx)
        else:
            states = (hx,)
        for label, state, shape, (width_name, _) in zip(("h0", "c0"), states, shapes, widths):
            expected = shape if batched else (shape[0], shape[2])
            check_float(state, f"{name} {label}", dtype)
            if state.shape != expected:
                raise ValueError(
                    f"{name} expected {label} of shape {shape_str(expected)} (num_layers * num_directions, "
                    f"{'N, ' if batched else ''}{width_name}) for input with batch size {batch}, "
                    f"got {shape_str(state.shape)}"
                )
        return tuple(s if batched else s[:, None, :] for s in states)

    # -- forward --------------------------------------------------------------------------------

    def forward(self, input, hx=None):
        dtype = self.weight_ih_l0.dtype
        x, batched = self._check_input(input)  # (T, N, H_in)
        states0 = self._check_state(hx, x.shape[1], batched, dtype)  # (h0,) or (h0, c0): (L*D, N, R), (L*D, N, H)
        D = self._directions
        finals = tuple(np.empty_like(s) for s in states0)  # (h_n,) or (h_n, c_n)
        saved, scales = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(D):
                index = layer * D + direction
                sequence = layer_input if direction == 0 else layer_input[::-1]  # reverse reads t = T..1
                hs, last, cache = _direction_forward(self._cell, sequence, tuple(s[index] for s in states0),
                                                     *_data(self._params(layer, direction)))
                saved.append(cache)
                for final, state in zip(finals, last):
                    final[index] = state
                outputs.append(hs[1:] if direction == 0 else hs[:0:-1])
            layer_input = outputs[0] if D == 1 else np.concatenate(outputs, axis=2)  # (T, N, D*R)
            scale = None
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                scale = dropout_noise(layer_input.shape, self.dropout, dtype)
                layer_input = layer_input * scale
            scales.append(scale)
        output = layer_input  # (T, N, D*R)
        self._saved, self._dropout_scales = saved, scales
        self._batched, self._given_state, self._batch_size = batched, hx is not None, x.shape[1]
        if batched and self.batch_first:
            output = output.swapaxes(0, 1)
        if not batched:
            output, finals = output[:, 0], tuple(s[:, 0] for s in finals)
        self._output_shape, self._state_shapes = output.shape, tuple(s.shape for s in finals)
        output, finals = read_only(output), tuple(read_only(s) for s in finals)  # output views hs, which backward reads
        return (output, finals) if self._cell.has_cell else (output, finals[0])

    # -- backward -------------------------------------------------------------------------------

    def _unpack_grad(self, grad):
        """grad in the output's structure -> grad_output (T, N, D*R) and (grad_h_n,) or (grad_h_n, grad_c_n)."""
        name, has_cell = type(self).__name__, self._cell.has_cell
        if not isinstance(grad, (tuple, list)) or len(grad) != 2:
            raise TypeError(f"{name}.backward expects grads in the output's structure: (grad_output, "
                            f"{'(grad_h_n, grad_c_n)' if has_cell else 'grad_h_n'}), got {type(grad).__name__}")
        grad_output, grad_state = grad
        if has_cell:
            grad_finals = (None, None) if grad_state is None else tuple(grad_state)
        else:
            grad_finals = (grad_state,)
        for label, value, shape in zip(("grad_output", "grad_h_n", "grad_c_n"), (grad_output, *grad_finals),
                                       (self._output_shape, *self._state_shapes)):
            if value is not None and value.shape != shape:
                raise ValueError(f"{name}.backward: {label} has shape {shape_str(value.shape)}, "
                                 f"expected {shape_str(shape)} like the forward's result")
        if not self._batched:
            grad_output = None if grad_output is None else grad_output[:, None, :]
            grad_finals = tuple(None if g is None else g[:, None, :] for g in grad_finals)
        elif grad_output is not None and self.batch_first:
            grad_output = grad_output.swapaxes(0, 1)
        return grad_output, grad_finals

    def backward(self, grad):
        """grad = (dL/d output, dL/d h_n) -- (dL/d output, (dL/d h_n, dL/d c_n)) for the LSTM --, any part None.

        Returns dL/d input, or (dL/d input, dL/d h0) -- (dL/d input, (dL/d h0, dL/d c0)) for the
        LSTM -- when the forward was given an initial state.
        """
        grad_output, grad_finals = self._unpack_grad(grad)
        R, D = self._real_hidden_size, self._directions
        dtype = self.weight_ih_l0.dtype
        grad_states0 = tuple(np.zeros((self.num_layers * D, self._batch_size, width), dtype)
                             for width in (R, self.hidden_size)[:len(grad_finals)])
        grad_layer_output = grad_output  # dL/d(this layer's output sequence) (T, N, D*R), or None
        for layer in reversed(range(self.num_layers)):
            if grad_layer_output is not None and self._dropout_scales[layer] is not None:
                grad_layer_output = grad_layer_output * self._dropout_scales[layer]
            grad_layer_input = None
            for direction in range(D):
                index = layer * D + direction
                grad_hs = None  # dL/dh_t from the output sequence, (T, N, R)
                if grad_layer_output is not None:
                    grad_hs = grad_layer_output[:, :, direction * R:(direction + 1) * R]
                    grad_hs = grad_hs if direction == 0 else grad_hs[::-1]
                dx, d_state0 = _direction_backward(self._cell, self._saved[index], self._params(layer, direction),
                                                   grad_hs, tuple(None if g is None else g[index] for g in grad_finals))
                for grad_state0, d in zip(grad_states0, d_state0):
                    grad_state0[index] = d
                dx = dx if direction == 0 else dx[::-1]
                grad_layer_input = dx if grad_layer_input is None else grad_layer_input + dx
            grad_layer_output = grad_layer_input
        grad_input = grad_layer_output  # (T, N, H_in)
        if not self._batched:
            grad_input, grad_states0 = grad_input[:, 0], tuple(g[:, 0] for g in grad_states0)
        elif self.batch_first:
            grad_input = grad_input.swapaxes(0, 1)
        if not self._given_state:
            return grad_input
        return (grad_input, grad_states0) if self._cell.has_cell else (grad_input, grad_states0[0])

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            text += f", proj_size={self.proj_size}"
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
    ``recurrent_steps.rnn_tanh_step`` for the step and its derivative.
    """

    mode = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, nonlinearity=nonlinearity)


class LSTM(_RNNBase):
    r"""Long short-term memory, ``torch.nn.LSTM`` (gates i|f|g|o).

    forward(input, hx=None) with hx = (h0, c0) -> (output, (h_n, c_n)). See ``recurrent_steps.lstm_step``.

    With ``proj_size`` P > 0 (P < hidden_size), h is projected after every step,
    h_t = (o_t * tanh(c_t)) W_hr^T with weight_hr_l{k} (P, H): h0, h_n and each direction's output
    are P wide (c stays H wide), weight_hh is (4H, P) and a layer above the first reads D*P features.
    See ``recurrent_steps.lstm_proj_step``.
    """

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size,
                         dtype)


class GRU(_RNNBase):
    r"""Gated recurrent unit, ``torch.nn.GRU`` (gates r|z|n, b_hn inside the reset product).

    forward(input, hx=None) -> (output, h_n). See ``recurrent_steps.gru_step``.
    """

    mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype=dtype)


# -- single steps ------------------------------------------------------------------------------------


class _CellBase(Module):
    """One step of a recurrence: the layer's code with T = 1, on input (N, H_in) or unbatched (H_in,)."""

    mode = None

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, nonlinearity="tanh"):
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size, bias)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.bias, self.nonlinearity = bias, nonlinearity
        self._cell = _CELL_MATH[self.mode, nonlinearity]
        dtype = as_float_dtype(dtype)
        gate_size = self._cell.gates * hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = Parameter(init_uniform((gate_size, input_size), bound, dtype))
        self.weight_hh = Parameter(init_uniform((gate_size, hidden_size), bound, dtype))
        if bias:
            self.bias_ih = Parameter(init_uniform((gate_size,), bound, dtype))
            self.bias_hh = Parameter(init_uniform((gate_size,), bound, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _params(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None

    def _check(self, input, hx):
        """input (N, H_in) or (H_in,) and hx -> x (N, H_in) and the state as (h,) or (h, c), each (N, H)."""
        name, dtype, has_cell = type(self).__name__, self.weight_ih.dtype, self._cell.has_cell
        check_float(input, f"{name} input", dtype)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}(input_size={self.input_size}, hidden_size={self.hidden_size}) expected input of "
                             f"shape (N, {self.input_size}) or ({self.input_size},), got {shape_str(input.shape)}")
        batched = input.ndim == 2
        x = input if batched else input[None]
        if hx is None:
            return x, tuple(np.zeros((x.shape[0], self.hidden_size), dtype) for _ in range(2 if has_cell else 1))
        if has_cell and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{name} expected hx to be a tuple (h, c) of arrays, got {type(hx).__name__}")
        states = tuple(hx) if has_cell else (hx,)
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        for label, state in zip(("h", "c"), states):
            check_float(state, f"{name} {label}", dtype)
            if state.shape != expected:
                raise ValueError(f"{name} expected {label} of shape {shape_str(expected)} for input of shape "
                                 f"{shape_str(input.shape)}, got {shape_str(state.shape)}")
        return x, tuple(s if batched else s[None] for s in states)

    def forward(self, input, hx=None):
        x, state0 = self._check(input, hx)
        _, state, self._saved = _direction_forward(self._cell, x[None], state0, *_data(self._params()))
        self._batched, self._given_state = input.ndim == 2, hx is not None
        if not self._batched:
            state = tuple(s[0] for s in state)
        self._state_shape = state[0].shape
        state = tuple(read_only(s) for s in state)
        return state if self._cell.has_cell else state[0]

    def backward(self, grad):
        """grad = dL/dh' (RNNCell, GRUCell) or (dL/dh', dL/dc') (LSTMCell, either may be None).

        Returns dL/d input, or (dL/d input, dL/d h) -- (dL/d input, (dL/d h, dL/d c)) -- when hx was given.
        """
        name, has_cell = type(self).__name__, self._cell.has_cell
        if has_cell and (not isinstance(grad, (tuple, list)) or len(grad) != 2):
            raise TypeError(f"{name}.backward expects (grad_h, grad_c) like its output, got {type(grad).__name__}")
        grads = tuple(grad) if has_cell else (grad,)
        for value in grads:
            if value is not None and value.shape != self._state_shape:
                raise ValueError(f"{name}.backward: gradient of shape {shape_str(value.shape)}, expected "
                                 f"{shape_str(self._state_shape)} like the forward's result")
        grads = tuple(None if g is None else (g if self._batched else g[None]) for g in grads)  # (N, H)
        dx, d_state = _direction_backward(self._cell, self._saved, self._params(), None, grads)
        dx = dx[0]  # (N, H_in)
        if not self._batched:
            dx, d_state = dx[0], tuple(d[0] for d in d_state)
        if not self._given_state:
            return dx
        return (dx, d_state) if has_cell else (dx, d_state[0])

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
    """One LSTM step, ``torch.nn.LSTMCell``: forward(input, (h, c)) -> (h', c'). See ``recurrent_steps.lstm_step``."""

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__(input_size, hidden_size, bias, dtype)


class GRUCell(_CellBase):
    """One GRU step, ``torch.nn.GRUCell``: forward(input, h) -> h'. See ``recurrent_steps.gru_step``."""

    mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__(input_size, hidden_size, bias, dtype)
