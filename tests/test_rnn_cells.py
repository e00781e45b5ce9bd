"""RNNCell, LSTMCell and GRUCell against torch.nn: parity, gradient checks, bad input, and cell = layer;
the step functions of ``scratchnet.nn.recurrent_steps`` checked against central differences."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples

import scratchnet
import scratchnet.nn as snn
from parity import check_module
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import recurrent_steps

KINDS = ["RNNCell", "RNNCell-relu", "LSTMCell", "GRUCell"]


def make_pair(kind, input_size, hidden_size, dtype, **kwargs):
    name, _, nonlinearity = kind.partition("-")
    if nonlinearity:
        kwargs["nonlinearity"] = nonlinearity
    return (getattr(snn, name)(input_size, hidden_size, dtype=dtype, **kwargs),
            getattr(torch.nn, name)(input_size, hidden_size, dtype=torch_dtype(dtype), **kwargs))


class ScratchWithState(snn.Module):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, h, c=None):
        return self.cell(x, h if c is None else (h, c))

    def backward(self, grad):
        grad_x, grad_state = self.cell.backward(grad)
        return (grad_x, *grad_state) if isinstance(grad_state, tuple) else (grad_x, grad_state)


class TorchWithState(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, h, c=None):
        return self.cell(x, h if c is None else (h, c))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@examples(30)
@given(kind=st.sampled_from(KINDS), input_size=st.integers(1, 5), hidden_size=st.integers(1, 6),
       N=st.integers(1, 5), batched=st.booleans(), with_state=st.booleans(), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_cell_matches_torch(dtype, kind, input_size, hidden_size, N, batched, with_state, bias, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    mine, theirs = make_pair(kind, input_size, hidden_size, dtype, bias=bias)
    lead = (N,) if batched else ()
    inputs = [rng.standard_normal(lead + (input_size,)).astype(dtype)]
    if with_state:
        inputs += [rng.standard_normal(lead + (hidden_size,)).astype(dtype)
                   for _ in range(2 if kind == "LSTMCell" else 1)]
        mine, theirs = ScratchWithState(mine), TorchWithState(theirs)
    check_module(mine, theirs, *inputs).assert_passed()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
def test_gradcheck(kind, with_state):
    rng = np.random.default_rng(0)
    scratchnet.manual_seed(0)
    mine, _ = make_pair(kind, 3, 4, np.float64)
    inputs = [rng.standard_normal((2, 3)) * (3 if kind.endswith("relu") else 1)]
    if with_state:
        inputs += [rng.standard_normal((2, 4)) for _ in range(2 if kind == "LSTMCell" else 1)]
        mine = ScratchWithState(mine)
    assert gradcheck(mine, *inputs) == []


def test_lstm_cell_gradient_from_h_or_c_only():
    rng = np.random.default_rng(1)
    mine, theirs = make_pair("LSTMCell", 3, 4, np.float64)
    x = rng.standard_normal((5, 3))
    for grad in [(rng.standard_normal((5, 4)), np.zeros((5, 4))), (np.zeros((5, 4)), rng.standard_normal((5, 4)))]:
        theirs.zero_grad()
        mine.zero_grad()
        check_module(mine, theirs, x, grad_output=grad).assert_passed()
    mine(x)
    with_none = mine.backward((grad[0], None))
    mine(x)
    np.testing.assert_array_equal(with_none, mine.backward((grad[0], np.zeros((5, 4)))))


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unrolled_cell_equals_layer(name):
    """The cell stepped over t = 1..T gives the layer's output at every step and its final state."""
    rng = np.random.default_rng(2)
    scratchnet.manual_seed(2)
    layer = getattr(snn, name)(3, 4, dtype=np.float64)
    cell = getattr(snn, name + "Cell")(3, 4, dtype=np.float64)
    cell.load_state_dict({key[:-3]: value for key, value in layer.state_dict().items()})  # weight_ih_l0 -> weight_ih
    x = rng.standard_normal((6, 2, 3))
    output, state = layer(x)
    h = c = np.zeros((2, 4))
    for t in range(6):
        h, c = cell(x[t], (h, c)) if name == "LSTM" else (cell(x[t], h), None)
        np.testing.assert_allclose(h, output[t], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, (state[0] if name == "LSTM" else state)[0], rtol=1e-13, atol=1e-15)


class OneStep(snn.Module):
    """A step function and its derivative as a module of its arrays, for gradcheck:
    forward(xw_t, *state_prev, W_hh[, b_hn]) -> state; backward returns the gradient of every argument,
    dW_hh = dhw_t^T h_prev from the step's dhw_t = dL/d(h_prev W_hh^T), and the GRU's
    db_hn = 1^T (n-block of dhw_t)."""

    def __init__(self, name, takes_b_hn):
        super().__init__()
        self.step = getattr(recurrent_steps, name + "_step")
        self.step_backward = getattr(recurrent_steps, name + "_step_backward")
        self.takes_b_hn = takes_b_hn

    def forward(self, xw_t, *rest):
        *state, self._cache = self.step(xw_t, *rest)
        self._h_prev = rest[0]
        return tuple(state)

    def backward(self, grad):
        dxw_t, dhw_t, *d_state_prev = self.step_backward(*grad, self._cache)
        H = self._h_prev.shape[1]
        d_weights = [dhw_t.T @ self._h_prev] + ([dhw_t[:, 2 * H:].sum(axis=0)] if self.takes_b_hn else [])
        return (dxw_t, *d_state_prev, *d_weights)


@pytest.mark.parametrize("name, gates", [("rnn_tanh", 1), ("rnn_relu", 1), ("lstm", 4), ("gru", 3)])
def test_step_functions_are_their_derivatives(name, gates):
    """Each *_step_backward against central differences of its *_step, with respect to every argument."""
    rng = np.random.default_rng(3)
    N, H = 4, 3
    xw_t = rng.standard_normal((N, gates * H)) * (3 if name == "rnn_relu" else 1)  # away from relu's kink
    state = [rng.standard_normal((N, H)) for _ in range(2 if name == "lstm" else 1)]
    weights = [rng.standard_normal((gates * H, H))] + ([rng.standard_normal(H)] if name == "gru" else [])
    assert gradcheck(OneStep(name, takes_b_hn=name == "gru"), xw_t, *state, *weights) == []


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_bad_input(kind):
    mine, _ = make_pair(kind, 3, 4, np.float64)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\) or \(3,\), got \(2, 5\)"):
        mine(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"got \(1, 2, 3\)"):
        mine(np.zeros((1, 2, 3)))
    state = (np.zeros((2, 5)), np.zeros((2, 4))) if kind == "LSTMCell" else np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"expected h of shape \(2, 4\) for input of shape \(2, 3\), got \(2, 5\)"):
        mine(np.zeros((2, 3)), state)
    with pytest.raises(TypeError, match="float32 but the parameters are float64"):
        mine(np.zeros((2, 3), np.float32))


def test_lstm_cell_state_must_be_a_pair():
    mine, _ = make_pair("LSTMCell", 3, 4, np.float64)
    with pytest.raises(TypeError, match=r"hx to be a tuple \(h, c\)"):
        mine(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected c of shape \(4,\) for input of shape \(3,\), got \(5,\)"):
        mine(np.zeros(3), (np.zeros(4), np.zeros(5)))


def test_cell_parameters_mirror_torch():
    for kind in ["RNNCell", "LSTMCell", "GRUCell"]:
        mine, theirs = make_pair(kind, 3, 5, np.float32)
        assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        snn.RNNCell(3, 4, nonlinearity="gelu")
