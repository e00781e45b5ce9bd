"""RNN, LSTM and GRU against torch.nn: parity, gradient checks, long sequences and bad input."""

import math

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

KINDS = ["RNN", "RNN-relu", "LSTM", "GRU"]


def make_pair(kind, input_size, hidden_size, dtype, **kwargs):
    """The same layer on both sides (check_module copies torch's weights into scratchnet's)."""
    name, _, nonlinearity = kind.partition("-")
    if nonlinearity:
        kwargs["nonlinearity"] = nonlinearity
    mine = getattr(snn, name)(input_size, hidden_size, dtype=dtype, **kwargs)
    theirs = getattr(torch.nn, name)(input_size, hidden_size, dtype=torch_dtype(dtype), **kwargs)
    return mine, theirs


class ScratchWithState(snn.Module):
    """Passes h0 (and c0) as separate arrays, so check_module and gradcheck can feed them."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h0, c0=None):
        return self.rnn(x, h0 if c0 is None else (h0, c0))

    def backward(self, grad):
        grad_x, grad_state = self.rnn.backward(grad)
        return (grad_x, *grad_state) if isinstance(grad_state, tuple) else (grad_x, grad_state)


class TorchWithState(torch.nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h0, c0=None):
        return self.rnn(x, h0 if c0 is None else (h0, c0))


def inputs_for(kind, T, N, input_size, hidden_size, layers_x_dirs, batch_first, batched, with_state, dtype, rng):
    x_shape = ((N, T) if batch_first else (T, N)) if batched else (T,)
    x = rng.standard_normal(x_shape + (input_size,)).astype(dtype)
    if not with_state:
        return [x]
    state_shape = (layers_x_dirs, N, hidden_size) if batched else (layers_x_dirs, hidden_size)
    states = [rng.standard_normal(state_shape).astype(dtype) for _ in range(2 if kind == "LSTM" else 1)]
    return [x, *states]


def grads_for(kind, output_shape, state_shape, use, dtype, rng):
    """dL/d(output) in the output's structure; the unused part is zeros (the same as None)."""
    def draw(shape, used):
        return rng.standard_normal(shape).astype(dtype) if used else np.zeros(shape, dtype)

    grad_output = draw(output_shape, use in ("both", "output"))
    grad_h = draw(state_shape, use in ("both", "state"))
    if kind == "LSTM":
        return (grad_output, (grad_h, draw(state_shape, use in ("both", "state"))))
    return (grad_output, grad_h)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@examples(30)
@given(
    kind=st.sampled_from(KINDS),
    input_size=st.integers(1, 4), hidden_size=st.integers(1, 5), num_layers=st.integers(1, 3),
    bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
    T=st.integers(1, 5), N=st.integers(1, 4), batched=st.booleans(), with_state=st.booleans(),
    use=st.sampled_from(["both", "output", "state"]), seed=st.integers(0, 2**16),
)
def test_layer_matches_torch(dtype, kind, input_size, hidden_size, num_layers, bidirectional, batch_first, bias,
                             T, N, batched, with_state, use, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    mine, theirs = make_pair(kind, input_size, hidden_size, dtype, num_layers=num_layers, bias=bias,
                             batch_first=batch_first, bidirectional=bidirectional)
    directions = 2 if bidirectional else 1
    inputs = inputs_for(kind, T, N, input_size, hidden_size, num_layers * directions, batch_first, batched,
                        with_state, dtype, rng)
    if with_state:
        mine, theirs = ScratchWithState(mine), TorchWithState(theirs)
    x_shape = inputs[0].shape
    output_shape = x_shape[:-1] + (directions * hidden_size,)
    state_shape = (num_layers * directions,) + ((N,) if batched else ()) + (hidden_size,)
    grad = grads_for(kind, output_shape, state_shape, use, dtype, rng)
    check_module(mine, theirs, *inputs, grad_output=grad).assert_passed()


@pytest.mark.parametrize("kind", KINDS)
def test_none_gradient_means_zero(kind):
    """backward((grad_output, None)) and backward((None, grad_h_n)) equal passing zeros for the unused part."""
    rng = np.random.default_rng(0)
    scratchnet.manual_seed(0)
    mine, _ = make_pair(kind, 3, 4, np.float64, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 2, 3))
    output, state = mine(x)
    h_n = state[0] if kind == "LSTM" else state
    g_out, g_h = rng.standard_normal(output.shape), rng.standard_normal(h_n.shape)
    zeros_out, zeros_h = np.zeros_like(g_out), np.zeros_like(g_h)

    def run(grad):
        mine.zero_grad()
        mine(x)
        dx = mine.backward(grad)
        return dx, {name: p.grad.copy() for name, p in mine.named_parameters()}

    pack = (lambda o, h: (o, (h, None))) if kind == "LSTM" else (lambda o, h: (o, h))
    pairs = [(pack(g_out, None), pack(g_out, zeros_h)), (pack(None, g_h), pack(zeros_out, g_h))]
    if kind == "LSTM":
        pairs.append(((g_out, None), (g_out, (zeros_h, zeros_h))))
    for with_none, with_zeros in pairs:
        dx_none, grads_none = run(with_none)
        dx_zeros, grads_zeros = run(with_zeros)
        np.testing.assert_array_equal(dx_none, dx_zeros)
        for name in grads_none:
            np.testing.assert_array_equal(grads_none[name], grads_zeros[name])
    assert np.abs(run(pack(g_out, None))[0]).max() > 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
def test_gradcheck(kind, with_state):
    rng = np.random.default_rng(1)
    scratchnet.manual_seed(1)
    mine, _ = make_pair(kind, 2, 3, np.float64, num_layers=2, bidirectional=True)
    x = rng.standard_normal((3, 2, 2))
    if kind == "RNN-relu":
        x *= 3  # keep pre-activations away from the kink at 0, where central differences straddle it
    inputs = [x]
    if with_state:
        inputs += [rng.standard_normal((4, 2, 3)) for _ in range(2 if kind == "LSTM" else 1)]
        mine = ScratchWithState(mine)
    assert gradcheck(mine, *inputs) == []


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck_batch_first_unbatched(kind):
    rng = np.random.default_rng(2)
    scratchnet.manual_seed(2)
    mine, _ = make_pair(kind, 2, 3, np.float64, batch_first=True)
    assert gradcheck(mine, rng.standard_normal((2, 4, 2))) == []
    assert gradcheck(mine, rng.standard_normal((4, 2))) == []


@pytest.mark.parametrize("kind", KINDS)
def test_long_sequence_stays_finite_and_matches_torch(kind):
    """T = 200: the recurrence neither blows up nor drifts from torch over many steps."""
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    mine, theirs = make_pair(kind, 4, 8, np.float64, num_layers=2)
    x = rng.standard_normal((200, 3, 4))
    report = check_module(mine, theirs, x)
    report.assert_passed()
    output, _ = mine(x)
    assert np.isfinite(output).all()
    assert all(np.isfinite(p.grad).all() for p in mine.parameters())


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_parameters_mirror_torch(kind):
    mine, theirs = make_pair(kind, 3, 5, np.float32, num_layers=2, bidirectional=True)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert all(p.dtype == np.float32 for p in mine.parameters())
    no_bias, _ = make_pair(kind, 3, 5, np.float64, bias=False)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_init_is_uniform_within_one_over_sqrt_hidden(kind):
    scratchnet.manual_seed(0)
    mine, _ = make_pair(kind, 10, 100, np.float64)
    bound = 1 / math.sqrt(100)
    weights = np.concatenate([p.data.ravel() for p in mine.parameters()])
    assert np.abs(weights).max() <= bound
    assert np.abs(weights).max() > 0.99 * bound
    assert abs(weights.mean()) < 0.02 * bound
    assert weights.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)  # the std of U(-b, b)
    assert getattr(snn, kind)(2, 3).weight_ih_l0.dtype == scratchnet.get_default_dtype() == np.float32


def test_eval_mode_ignores_dropout_and_matches_torch():
    rng = np.random.default_rng(4)
    mine, theirs = make_pair("LSTM", 3, 4, np.float64, num_layers=3, dropout=0.5)
    theirs.eval()
    check_module(mine, theirs, rng.standard_normal((4, 2, 3))).assert_passed()


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers(kind):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6, 3))
    mine, _ = make_pair(kind, 3, 4, np.float64, num_layers=2, dropout=1.0)
    output, _ = mine.train()(x)
    # p = 1 drops everything between the layers: layer 1 sees zeros, and no gradient reaches layer 0.
    top, _ = make_pair(kind, 4, 4, np.float64)
    top.load_state_dict({name.replace("_l1", "_l0"): value for name, value in mine.state_dict().items() if "_l1" in name})
    np.testing.assert_allclose(output, top(np.zeros((4, 6, 4)))[0], rtol=1e-12, atol=1e-15)
    mine.backward((np.ones_like(output), None))
    assert np.all(mine.weight_ih_l0.grad == 0) and np.all(mine.weight_hh_l0.grad == 0)
    assert np.all(mine.weight_ih_l1.grad == 0) and np.any(mine.weight_hh_l1.grad != 0)  # its input is zero

    half, _ = make_pair(kind, 3, 4, np.float64, num_layers=2, dropout=0.5)
    train_out = half.train()(x)[0]
    eval_out = half.eval()(x)[0]
    assert not np.allclose(train_out, eval_out)


class FixedDropoutMask(snn.Module):
    """Reseeds scratchnet's generator before every forward: dropout draws the same mask on every call,
    so central differences differentiate one fixed function."""

    def __init__(self, inner, seed=11):
        super().__init__()
        self.inner, self.seed = inner, seed

    def forward(self, *inputs):
        scratchnet.manual_seed(self.seed)
        return self.inner(*inputs)

    def backward(self, grad):
        return self.inner.backward(grad)


class BackwardIgnoresMask(FixedDropoutMask):
    """The negative control: a backward that forgets the dropout mask between the layers."""

    def backward(self, grad):
        rnn = self.inner.rnn
        rnn._dropout_scales = [None] * len(rnn._dropout_scales)
        return self.inner.backward(grad)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck_with_dropout_between_layers(kind):
    """0 < p < 1: the gradient flows back through the mask (and its 1 / (1 - p) scale) into the lower layer."""
    rng = np.random.default_rng(8)
    scratchnet.manual_seed(8)
    rnn, _ = make_pair(kind, 2, 3, np.float64, num_layers=2, dropout=0.4, bidirectional=True)
    states = [rng.standard_normal((4, 3, 3)) for _ in range(2 if kind == "LSTM" else 1)]  # (L*D, N, H)
    inputs = [rng.standard_normal((4, 3, 2)), *states]
    model = FixedDropoutMask(ScratchWithState(rnn)).train()
    train_output = model(*inputs)[0]
    np.testing.assert_array_equal(train_output, model(*inputs)[0])  # the same mask on every call
    assert not np.allclose(train_output, model.eval()(*inputs)[0])  # which drops something
    model.train()
    assert gradcheck(model, *inputs) == []
    assert np.any(rnn.weight_ih_l0.grad != 0)  # and keeps something: the lower layer gets a gradient
    assert gradcheck(BackwardIgnoresMask(ScratchWithState(rnn)).train(), *inputs) != []


def test_dtype_is_kept():
    rng = np.random.default_rng(6)
    for kind in ["RNN", "LSTM", "GRU"]:
        mine, _ = make_pair(kind, 3, 4, np.float32, num_layers=2, bidirectional=True)
        output, state = mine(rng.standard_normal((5, 2, 3)).astype(np.float32))
        grad_x = mine.backward((np.ones_like(output), None))
        assert output.dtype == grad_x.dtype == np.float32
        assert all(p.grad.dtype == np.float32 for p in mine.parameters())


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_wrong_feature_size(kind):
    mine, _ = make_pair(kind, 3, 4, np.float64)
    with pytest.raises(ValueError, match=r"expected input of shape \(T, N, 3\).*got \(5, 2, 7\): 7 features instead of 3"):
        mine(np.zeros((5, 2, 7)))
    batch_first, _ = make_pair(kind, 3, 4, np.float64, batch_first=True)
    with pytest.raises(ValueError, match=r"\(N, T, 3\)"):
        batch_first(np.zeros((5, 2, 7)))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_wrong_number_of_dimensions(kind):
    mine, _ = make_pair(kind, 3, 4, np.float64)
    with pytest.raises(ValueError, match=r"2-D or 3-D input .* got 4-D input of shape \(1, 5, 2, 3\)"):
        mine(np.zeros((1, 5, 2, 3)))
    with pytest.raises(ValueError, match=r"got 1-D input of shape \(3,\)"):
        mine(np.zeros(3))


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_initial_state_of_wrong_shape(kind):
    mine, _ = make_pair(kind, 3, 4, np.float64, num_layers=2)
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 5, 4\) .* got \(1, 5, 4\)"):
        mine(np.zeros((6, 5, 3)), np.zeros((1, 5, 4)))
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 4\) .* got \(2, 1, 4\)"):
        mine(np.zeros((6, 3)), np.zeros((2, 1, 4)))


def test_lstm_state_of_wrong_shape_or_type():
    mine, _ = make_pair("LSTM", 3, 4, np.float64, bidirectional=True)
    x, good = np.zeros((6, 5, 3)), np.zeros((2, 5, 4))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(2, 5, 4\) .* got \(2, 5, 3\)"):
        mine(x, (good, np.zeros((2, 5, 3))))
    with pytest.raises(TypeError, match=r"hx to be a tuple \(h0, c0\)"):
        mine(x, good)


def test_bad_dtype_and_empty_sequence():
    mine, _ = make_pair("GRU", 3, 4, np.float64)
    with pytest.raises(TypeError, match="float32 but the parameters are float64"):
        mine(np.zeros((2, 1, 3), np.float32))
    with pytest.raises(TypeError, match="h0 has dtype float32"):
        mine(np.zeros((2, 1, 3)), np.zeros((1, 1, 4), np.float32))
    with pytest.raises(ValueError, match=r"sequence length larger than 0, got input of shape \(0, 1, 3\)"):
        mine(np.zeros((0, 1, 3)))


def test_backward_gradient_of_wrong_shape():
    mine, _ = make_pair("LSTM", 3, 4, np.float64)
    output, _ = mine(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"grad_output has shape \(2, 5, 5\), expected \(2, 5, 4\)"):
        mine.backward((np.zeros((2, 5, 5)), None))
    with pytest.raises(TypeError, match=r"\(grad_output, \(grad_h_n, grad_c_n\)\)"):
        mine.backward(output)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        snn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
        snn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        snn.GRU(3, 0)
    with pytest.raises(ValueError, match="num_layers must be an integer greater than zero"):
        snn.GRU(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="batch_first should be of type bool"):
        snn.GRU(3, 4, batch_first=1)
