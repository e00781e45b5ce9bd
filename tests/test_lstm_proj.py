"""LSTM with projections (proj_size > 0) against torch.nn.LSTM: parity in float64 and float32 over layers,
directions, batch_first, unbatched input and initial states; gradient checks of the layer and of the
projected step; parameters, state_dict keys, repr and refusals as torch's."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples

import scratchnet
import scratchnet.nn as snn
from parity import check_module
from parity.transfer import scratch_to_torch, torch_dtype, torch_to_scratch
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import recurrent_steps

# torch's CPU LSTM says so on every projected call; it then runs its reference implementation.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


def make_pair(input_size, hidden_size, proj_size, dtype, **kwargs):
    return (snn.LSTM(input_size, hidden_size, proj_size=proj_size, dtype=dtype, **kwargs),
            torch.nn.LSTM(input_size, hidden_size, proj_size=proj_size, dtype=torch_dtype(dtype), **kwargs))


class ScratchWithState(snn.Module):
    """Passes h0 and c0 as separate arrays, so check_module and gradcheck can feed them."""

    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def forward(self, x, h0, c0):
        return self.lstm(x, (h0, c0))

    def backward(self, grad):
        grad_x, (grad_h0, grad_c0) = self.lstm.backward(grad)
        return grad_x, grad_h0, grad_c0


class TorchWithState(torch.nn.Module):
    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def forward(self, x, h0, c0):
        return self.lstm(x, (h0, c0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@examples(25)
@given(
    input_size=st.integers(1, 4), hidden_size=st.integers(2, 6), proj_fraction=st.floats(0, 0.99),
    num_layers=st.integers(1, 3), bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
    T=st.integers(1, 5), N=st.integers(1, 3), batched=st.booleans(), with_state=st.booleans(),
    use=st.sampled_from(["both", "output", "state"]), seed=st.integers(0, 2**16),
)
def test_projected_lstm_matches_torch(dtype, input_size, hidden_size, proj_fraction, num_layers, bidirectional,
                                      batch_first, bias, T, N, batched, with_state, use, seed):
    proj_size = 1 + int(proj_fraction * (hidden_size - 1))  # 1 .. hidden_size - 1
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    mine, theirs = make_pair(input_size, hidden_size, proj_size, dtype, num_layers=num_layers, bias=bias,
                             batch_first=batch_first, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    lead = ((N, T) if batch_first else (T, N)) if batched else (T,)
    state_lead = (num_layers * D, N) if batched else (num_layers * D,)
    inputs = [rng.standard_normal(lead + (input_size,)).astype(dtype)]
    if with_state:
        inputs += [rng.standard_normal(state_lead + (width,)).astype(dtype) for width in (proj_size, hidden_size)]
        mine, theirs = ScratchWithState(mine), TorchWithState(theirs)

    def draw(shape, used):
        return rng.standard_normal(shape).astype(dtype) if used else np.zeros(shape, dtype)

    grad = (draw(lead + (D * proj_size,), use != "state"),
            (draw(state_lead + (proj_size,), use != "output"), draw(state_lead + (hidden_size,), use != "output")))
    check_module(mine, theirs, *inputs, grad_output=grad).assert_passed()


@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
def test_gradcheck(with_state):
    rng = np.random.default_rng(0)
    scratchnet.manual_seed(0)
    mine = snn.LSTM(2, 4, num_layers=2, bidirectional=True, proj_size=3, dtype=np.float64)
    inputs = [rng.standard_normal((3, 2, 2))]
    if with_state:
        inputs += [rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 4))]  # h0 (L*D, N, P), c0 (L*D, N, H)
        mine = ScratchWithState(mine)
    assert gradcheck(mine, *inputs) == []


def test_gradcheck_batch_first_unbatched_without_bias():
    rng = np.random.default_rng(1)
    scratchnet.manual_seed(1)
    mine = snn.LSTM(2, 3, batch_first=True, bias=False, proj_size=1, dtype=np.float64)
    assert gradcheck(mine, rng.standard_normal((2, 4, 2))) == []
    assert gradcheck(mine, rng.standard_normal((4, 2))) == []


class ProjectedStep(snn.Module):
    """lstm_proj_step as a module of its arrays: backward returns the gradient of every argument,
    dW_hh = dhw_t^T h_prev from the step's dhw_t, and the step's own dW_hr_t."""

    def forward(self, xw_t, h_prev, c_prev, W_hh, W_hr):
        h, c, self._cache = recurrent_steps.lstm_proj_step(xw_t, h_prev, c_prev, W_hh, W_hr)
        self._h_prev = h_prev
        return h, c

    def backward(self, grad):
        dxw_t, dhw_t, dh_prev, dc_prev, dW_hr_t = recurrent_steps.lstm_proj_step_backward(*grad, self._cache)
        return dxw_t, dh_prev, dc_prev, dhw_t.T @ self._h_prev, dW_hr_t


def test_projected_step_is_its_derivative():
    rng = np.random.default_rng(2)
    N, H, P = 3, 4, 2
    args = [rng.standard_normal(shape) for shape in [(N, 4 * H), (N, P), (N, H), (4 * H, P), (P, H)]]
    assert gradcheck(ProjectedStep(), *args) == []


@examples(15)
@given(hidden_size=st.integers(2, 6), proj_fraction=st.floats(0, 0.99), T=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_projected_step_is_the_lstm_step_then_the_projection(hidden_size, proj_fraction, T, seed):
    """The one-layer projected LSTM is lstm_step's m = o * tanh(c) times W_hr^T at every step."""
    proj_size = 1 + int(proj_fraction * (hidden_size - 1))
    rng = np.random.default_rng(seed)
    scratchnet.manual_seed(seed)
    lstm = snn.LSTM(3, hidden_size, proj_size=proj_size, dtype=np.float64)
    x = rng.standard_normal((T, 2, 3))
    output, (h_n, c_n) = lstm(x)
    h, c = np.zeros((2, proj_size)), np.zeros((2, hidden_size))
    for t in range(T):
        xw_t = x[t] @ lstm.weight_ih_l0.data.T + lstm.bias_ih_l0.data + lstm.bias_hh_l0.data
        m, c, _ = recurrent_steps.lstm_step(xw_t, h, c, lstm.weight_hh_l0.data)
        h = m @ lstm.weight_hr_l0.data.T
        np.testing.assert_allclose(output[t], h, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_n[0], h, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c_n[0], c, rtol=1e-13, atol=1e-15)


# -- parameters, repr, transfer -----------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(), dict(num_layers=3, bidirectional=True), dict(bias=False, num_layers=2)])
def test_parameters_and_state_dict_keys_mirror_torch(kwargs):
    mine, theirs = make_pair(3, 5, 2, np.float32, **kwargs)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape))
                                                                  for n, p in theirs.named_parameters()]
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert repr(mine) == repr(theirs)


def test_weights_transfer_by_name_both_ways():
    rng = np.random.default_rng(3)
    mine, theirs = make_pair(3, 5, 2, np.float64, num_layers=2, bidirectional=True)
    torch_to_scratch(theirs, mine)
    assert all(np.array_equal(mine.state_dict()[k], v.numpy()) for k, v in theirs.state_dict().items())
    scratchnet.manual_seed(4)
    other = snn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64)
    scratch_to_torch(other, theirs)
    x = rng.standard_normal((4, 2, 3))
    np.testing.assert_allclose(other(x)[0], theirs(torch.tensor(x))[0].detach().numpy(), rtol=1e-12, atol=1e-14)


def test_init_draws_weight_hr_from_one_over_sqrt_hidden():
    scratchnet.manual_seed(0)
    lstm = snn.LSTM(4, 100, proj_size=60, dtype=np.float64)
    bound = 1 / np.sqrt(100)
    assert np.abs(lstm.weight_hr_l0.data).max() <= bound
    assert lstm.weight_hr_l0.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)  # the std of U(-b, b)


def test_proj_size_zero_is_the_plain_lstm():
    rng = np.random.default_rng(5)
    scratchnet.manual_seed(5)
    plain = snn.LSTM(3, 4, num_layers=2, dtype=np.float64)
    scratchnet.manual_seed(5)
    zero = snn.LSTM(3, 4, num_layers=2, proj_size=0, dtype=np.float64)
    assert list(zero.state_dict()) == list(plain.state_dict()) and zero.proj_size == 0
    x = rng.standard_normal((5, 2, 3))
    np.testing.assert_array_equal(zero(x)[0], plain(x)[0])
    assert repr(zero) == repr(torch.nn.LSTM(3, 4, num_layers=2, proj_size=0))


def test_eval_mode_dropout_and_train_mode_shapes():
    rng = np.random.default_rng(6)
    mine, theirs = make_pair(3, 5, 2, np.float64, num_layers=3, dropout=0.5, bidirectional=True)
    theirs.eval()
    check_module(mine.eval(), theirs, rng.standard_normal((4, 2, 3))).assert_passed()
    output, (h_n, c_n) = mine.train()(rng.standard_normal((4, 2, 3)))
    assert output.shape == (4, 2, 4) and h_n.shape == (6, 2, 2) and c_n.shape == (6, 2, 5)
    grad_x = mine.backward((np.ones_like(output), None))
    assert grad_x.shape == (4, 2, 3) and np.isfinite(grad_x).all()


# -- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("proj_size, kind, message", [
    (-1, ValueError, "proj_size should be a positive integer or zero to disable projections"),
    (4, ValueError, "proj_size has to be smaller than hidden_size"),
    (9, ValueError, "proj_size has to be smaller than hidden_size"),
])
def test_bad_proj_size_as_torch(proj_size, kind, message):
    with pytest.raises(kind, match=message):
        torch.nn.LSTM(3, 4, proj_size=proj_size)
    with pytest.raises(kind, match=message):
        snn.LSTM(3, 4, proj_size=proj_size)


def test_proj_size_must_be_an_int():
    with pytest.raises(TypeError, match="proj_size should be of type int, got float"):
        snn.LSTM(3, 4, proj_size=1.5)
    with pytest.raises(TypeError, match="proj_size should be of type int, got bool"):
        snn.LSTM(3, 4, proj_size=True)


def test_initial_state_of_the_wrong_width():
    mine, theirs = make_pair(3, 5, 2, np.float64, num_layers=2)
    x = np.zeros((4, 3, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 2\), got \[2, 3, 5\]"):
        theirs(torch.zeros(4, 3, 3, dtype=torch.float64), (torch.zeros(2, 3, 5, dtype=torch.float64),) * 2)
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 3, 2\) \(num_layers \* num_directions, N, "
                                         r"proj_size\) for input with batch size 3, got \(2, 3, 5\)"):
        mine(x, (np.zeros((2, 3, 5)), np.zeros((2, 3, 5))))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(2, 5\) \(num_layers \* num_directions, "
                                         r"hidden_size\) for input with batch size 1, got \(2, 2\)"):
        mine(np.zeros((4, 3)), (np.zeros((2, 2)), np.zeros((2, 2))))


def test_backward_gradient_of_the_wrong_width():
    mine, _ = make_pair(3, 5, 2, np.float64)
    output, (h_n, c_n) = mine(np.zeros((4, 3, 3)))
    with pytest.raises(ValueError, match=r"grad_h_n has shape \(1, 3, 5\), expected \(1, 3, 2\)"):
        mine.backward((None, (np.zeros((1, 3, 5)), None)))
    with pytest.raises(ValueError, match=r"grad_c_n has shape \(1, 3, 2\), expected \(1, 3, 5\)"):
        mine.backward((None, (None, np.zeros((1, 3, 2)))))
