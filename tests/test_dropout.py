"""Dropout, Dropout1d, Dropout2d: train/eval behaviour, the seeded mask, and parity with torch through a shared mask.

torch draws its mask from its own generator, so the two sides cannot draw the same one.
Parity is checked by drawing scratchnet's mask (exposed as ``Dropout.mask``), then running
torch's side as ``x * mask / (1 - p)`` -- exactly what torch.nn.Dropout computes for that mask --
and re-seeding scratchnet so that check_module's forward draws that same mask again.
"""

import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet
import scratchnet.nn as snn
from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.dropout import Dropout1d, Dropout2d

CHANNEL_DROPOUTS = {"Dropout1d": (Dropout1d, torch.nn.Dropout1d), "Dropout2d": (Dropout2d, torch.nn.Dropout2d)}


class MaskedDropout(torch.nn.Module):
    """torch.nn.Dropout's training-mode computation with a given mask."""

    def __init__(self, mask, p):
        super().__init__()
        self.mask, self.p = torch.tensor(mask), p

    def forward(self, x):
        return x * self.mask.to(x.dtype) / (1 - self.p)


def _drawn_mask(p, shape, dtype, seed=0):
    scratchnet.manual_seed(seed)
    drop = snn.Dropout(p)
    drop(np.zeros(shape, dtype=dtype))
    scratchnet.manual_seed(seed)
    return drop.mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_parity_with_a_shared_mask(p, dtype):
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(dtype)
    mask = _drawn_mask(p, x.shape, dtype)
    drop = snn.Dropout(p)
    check_module(drop, MaskedDropout(mask, p), x).assert_passed()
    np.testing.assert_array_equal(drop.mask, mask)  # the forward inside check_module drew the same mask


def test_torch_dropout_computes_x_times_mask_over_keep_probability():
    # Justifies MaskedDropout: torch's own output is x / (1 - p) where kept and 0 elsewhere.
    x = torch.randn(200, dtype=torch.float64) + 5
    y = torch.nn.Dropout(0.3)(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / 0.7, rtol=1e-15, atol=0)


def test_gradcheck_with_a_fixed_mask():
    class Reseeded(snn.Module):  # the same mask at every forward, so central differences see one function
        def __init__(self):
            super().__init__()
            self.drop = snn.Dropout(0.4)

        def forward(self, x):
            scratchnet.manual_seed(3)
            return self.drop(x)

        def backward(self, grad_output):
            return self.drop.backward(grad_output)

    assert gradcheck(Reseeded(), np.random.default_rng(1).standard_normal((4, 5))) == []


def test_mask_keeps_about_1_minus_p_and_scales_the_kept():
    scratchnet.manual_seed(0)
    drop = snn.Dropout(0.25)
    x = np.ones((200, 100))
    y = drop(x)
    assert abs(drop.mask.mean() - 0.75) < 0.01
    np.testing.assert_array_equal(y, np.where(drop.mask, 1 / 0.75, 0.0))


def test_same_seed_same_mask_and_fresh_mask_each_call():
    first = _drawn_mask(0.5, (5, 5), np.float64, seed=7)
    np.testing.assert_array_equal(first, _drawn_mask(0.5, (5, 5), np.float64, seed=7))
    drop = snn.Dropout(0.5)
    drop(np.ones((5, 5)))
    second = drop.mask
    drop(np.ones((5, 5)))
    assert not np.array_equal(second, drop.mask)


def test_eval_mode_and_p_zero_are_the_identity():
    x = np.random.default_rng(0).standard_normal((3, 4))
    drop = snn.Dropout(0.5).eval()
    assert drop(x) is x
    assert drop.backward(x) is x
    assert snn.Dropout(0.0)(x) is x


def test_p_one_zeroes_everything_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    drop = snn.Dropout(1.0)
    np.testing.assert_array_equal(drop(x), np.zeros_like(x))
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), np.zeros_like(x))
    np.testing.assert_array_equal(torch.nn.Dropout(1.0)(torch.tensor(x)).numpy(), np.zeros_like(x))


def test_keeps_float32():
    drop = snn.Dropout(0.5)
    y = drop(np.ones((4, 4), dtype=np.float32))
    assert y.dtype == np.float32 and drop.backward(y).dtype == np.float32


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True])
def test_bad_probability(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        snn.Dropout(p)


def test_bad_input():
    with pytest.raises(TypeError, match="Dropout input must have dtype float32 or float64"):
        snn.Dropout()(np.arange(4))


def test_repr_matches_torch():
    for scratch, twin in [(snn.Dropout(0.3), torch.nn.Dropout(0.3)), (Dropout1d(), torch.nn.Dropout1d()),
                          (Dropout2d(0.2, inplace=True), torch.nn.Dropout2d(0.2, inplace=True))]:
        assert repr(scratch) == repr(twin)


@pytest.mark.parametrize("cls", [snn.Dropout, Dropout1d, Dropout2d])
def test_inplace_writes_into_the_input_as_torch(cls):
    x = np.ones((4, 3, 2, 2)[:3 if cls is Dropout1d else 4])
    scratchnet.manual_seed(0)
    y = cls(0.5, inplace=True)(x)
    assert y is x and set(np.unique(x)) <= {0.0, 2.0} and (x == 0).any()
    t = torch.ones(x.shape, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert getattr(torch.nn, cls.__name__)(0.5, inplace=True)(t) is t


# -- Dropout1d, Dropout2d: whole channels -------------------------------------------------------


class MaskedChannelDropout(torch.nn.Module):
    """torch's channel dropout in training with a given channel mask (N, C, 1, ...), broadcast over positions."""

    def __init__(self, mask, p):
        super().__init__()
        self.mask, self.p = torch.tensor(mask), p

    def forward(self, x):
        return x * self.mask.to(x.dtype) / (1 - self.p)


def test_torch_channel_dropout_zeroes_whole_channels_and_scales_the_rest():
    """Justifies MaskedChannelDropout: each (n, c) of torch's output is all 0 or all x / (1 - p)."""
    x = torch.rand(30, 20, 3, 4, dtype=torch.float64) + 1
    for y in (torch.nn.Dropout2d(0.3)(x), torch.nn.Dropout1d(0.3)(x[..., 0])[..., None]):
        kept = (y != 0).all(dim=-1, keepdim=True).all(dim=-2, keepdim=True)
        dropped = (y == 0).all(dim=-1, keepdim=True).all(dim=-2, keepdim=True)
        assert (kept | dropped).all()
        torch.testing.assert_close(y, x[..., :y.shape[-1]] * kept / 0.7, rtol=1e-15, atol=0)


def _channel_shapes(name):
    """Input shape and the mask shape torch uses for it."""
    if name == "Dropout1d":
        return st.sampled_from([((4, 3, 5), (4, 3, 1)), ((3, 5), (3, 1))])  # batched and unbatched
    return st.sampled_from([((2, 3, 4, 5), (2, 3, 1, 1)), ((2, 3, 4), (2, 3, 1)), ((5, 3), (5, 3))])


@pytest.mark.parametrize("name", CHANNEL_DROPOUTS)
@examples(15)
@given(data=st.data(), p=st.sampled_from([0.1, 0.5, 0.9]), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_channel_dropout_parity_with_a_shared_mask(name, data, p, seed, dtype):
    """Draw scratchnet's mask, check it has torch's shape for that input, then run torch's computation
    with it while check_module's forward re-draws the same mask from the same seed."""
    shape, mask_shape = data.draw(_channel_shapes(name))
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    drop = CHANNEL_DROPOUTS[name][0](p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dropout2d warns on 2-D and 3-D inputs (tested below)
        scratchnet.manual_seed(seed)
        drop(x)
        mask = drop.mask
        assert mask.shape == mask_shape
        scratchnet.manual_seed(seed)
        check_module(drop, MaskedChannelDropout(mask, p), x).assert_passed()
    np.testing.assert_array_equal(drop.mask, mask)


@pytest.mark.parametrize("name", CHANNEL_DROPOUTS)
@pytest.mark.parametrize("p,training", [(0.5, False), (0.0, True), (1.0, True)])
def test_channel_dropout_matches_torch_where_no_randomness_is_left(name, p, training, dtype):
    """eval and p = 0 are the identity, p = 1 zeroes everything: torch's own module is the twin."""
    scratch_cls, torch_cls = CHANNEL_DROPOUTS[name]
    twin = torch_cls(p).train(training)
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5)[:3 if name == "Dropout1d" else 4]).astype(dtype)
    check_module(scratch_cls(p), twin, x).assert_passed()


@pytest.mark.parametrize("name", CHANNEL_DROPOUTS)
@examples(15)
@given(n=st.integers(1, 3), c=st.integers(1, 4), positions=st.integers(1, 5), p=st.floats(0.05, 0.95),
       seed=st.integers(0, 2**16))
def test_channel_masks_are_constant_over_positions(name, n, c, positions, p, seed):
    shape = (n, c, positions) if name == "Dropout1d" else (n, c, positions, 2)
    x = np.random.default_rng(seed).uniform(1, 2, shape)
    scratchnet.manual_seed(seed)
    drop = CHANNEL_DROPOUTS[name][0](p)
    y = drop(x)
    np.testing.assert_array_equal(y, x * (drop.mask / (1 - p)))  # broadcast: one draw per (n, c)
    np.testing.assert_array_equal(drop.backward(np.ones(shape)), np.broadcast_to(drop.mask / (1 - p), shape))


@pytest.mark.parametrize("name", CHANNEL_DROPOUTS)
def test_channel_mask_keeps_about_1_minus_p(name):
    scratchnet.manual_seed(0)
    drop = CHANNEL_DROPOUTS[name][0](0.3)
    drop(np.ones((100, 100, 2)[:3] if name == "Dropout1d" else (100, 100, 1, 2)))
    assert drop.mask.size == 100 * 100 and abs(drop.mask.mean() - 0.7) < 0.015  # 3 standard errors: 0.014


@pytest.mark.parametrize("name", CHANNEL_DROPOUTS)
def test_channel_dropout_gradcheck_with_a_fixed_mask(name):
    class Reseeded(snn.Module):
        def __init__(self):
            super().__init__()
            self.drop = CHANNEL_DROPOUTS[name][0](0.5)

        def forward(self, x):
            scratchnet.manual_seed(4)
            return self.drop(x)

        def backward(self, grad_output):
            return self.drop.backward(grad_output)

    x = np.random.default_rng(2).standard_normal((3, 4, 3, 2)[:3 if name == "Dropout1d" else 4])
    assert gradcheck(Reseeded(), x) == []


@pytest.mark.parametrize("shape", [(3,), (3, 4), (2, 3, 4), (2, 3, 4, 5), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_dropout2d_warns_as_torch(shape, training):
    """torch warns on every rank but 4 (3-D: read as (N, C, L)), in eval too; the same texts here."""
    caught = {}
    for side, module in (("scratch", Dropout2d(0.5)), ("torch", torch.nn.Dropout2d(0.5))):
        module.train(training)
        x = np.ones(shape) if side == "scratch" else torch.ones(shape, dtype=torch.float64)
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            try:
                module(x)
            except (ValueError, RuntimeError):
                pass  # a 1-D input in training: refused by both (tested below)
        caught[side] = [str(w.message) for w in records]
    assert caught["scratch"] == caught["torch"]
    assert bool(caught["scratch"]) == (len(shape) != 4)


def test_dropout2d_refuses_fewer_than_2_dimensions_only_when_drawing():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
            torch.nn.Dropout2d(0.5)(torch.ones(3))
        with pytest.raises(ValueError, match=r"Dropout2d expected an input with at least 2 dimensions .*got \(3,\)"):
            Dropout2d(0.5)(np.ones(3))
        x = np.ones(3)
        assert Dropout2d(0.5).eval()(x) is x and Dropout2d(0.0)(x) is x  # as torch: nothing to draw


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_dropout1d_refuses_other_ranks_in_eval_too(shape, training):
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        torch.nn.Dropout1d(0.5).train(training)(torch.ones(shape))
    with pytest.raises(ValueError, match=r"Dropout1d expected a 2-D or 3-D input \(C, L\) or \(N, C, L\), got"):
        Dropout1d(0.5).train(training)(np.ones(shape))


@pytest.mark.parametrize("cls", [Dropout1d, Dropout2d])
def test_channel_dropout_bad_probability_and_input(cls):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        cls(1.5)
    with pytest.raises(TypeError, match=f"{cls.__name__} input must have dtype float32 or float64"):
        cls()(np.ones((2, 3, 4, 4), dtype=np.int64))


# -- torch's order of checks, repr, read-only inputs, backward's checks ---------------------------


def _run_with_warnings(module, x):
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        y = module(x)
    return y, [str(w.message) for w in records]


@pytest.mark.parametrize("cls", [snn.Dropout, Dropout1d, Dropout2d])
@pytest.mark.parametrize("shape", [(), (4,), (0,), (0, 3), (3, 0, 2), (0, 3, 2, 2), (2, 3, 2, 2)])
@pytest.mark.parametrize("p", [1, 1.0, 0.5])
def test_p_one_and_empty_inputs_follow_torchs_order(cls, shape, p):
    """torch: rank checks and warnings; then eval, p = 0 or an empty x return x; then p = 1 gives zeros;
    only then a mask is drawn (Dropout2d refusing fewer than 2 dimensions). So Dropout2d(1) zeroes a
    1-D input and every dropout returns an empty one as it is."""
    twin = getattr(torch.nn, cls.__name__)(p)
    x, t = np.ones(shape), torch.ones(shape, dtype=torch.float64)
    try:
        expected, expected_warnings = _run_with_warnings(twin, t)
    except RuntimeError:
        with pytest.raises(ValueError, match=f"{cls.__name__} expected"):
            _run_with_warnings(cls(p), x)
        assert cls is Dropout1d or (p == 0.5 and len(shape) < 2 and 0 not in shape)  # the refusals we expect
        return
    y, caught = _run_with_warnings(cls(p), x)
    assert caught == expected_warnings
    assert y.shape == tuple(expected.shape)
    assert y is x or expected is not t  # torch's unbatched Dropout1d returns a view of t; x itself is fine there
    if p == 1 or x.size == 0:  # no randomness left: the values agree exactly
        np.testing.assert_array_equal(y, expected.numpy())


@pytest.mark.parametrize("cls", [snn.Dropout, Dropout1d, Dropout2d])
@pytest.mark.parametrize("p", [0, 1, 0.5, 1.0])
def test_repr_keeps_p_as_given_like_torch(cls, p):
    assert repr(cls(p)) == repr(getattr(torch.nn, cls.__name__)(p))
    assert repr(cls(p, inplace=True)) == repr(getattr(torch.nn, cls.__name__)(p, inplace=True))


@pytest.mark.parametrize("p", [0.5, 1])
def test_integer_and_float_p_compute_the_same(p):
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    scratchnet.manual_seed(3)
    y_float = snn.Dropout(float(p))(x)
    scratchnet.manual_seed(3)
    y_given = snn.Dropout(np.float32(p) if p == 0.5 else p)(x)
    assert y_given.dtype == np.float32
    np.testing.assert_array_equal(y_given, y_float)


def _read_only(x):
    x.flags.writeable = False
    return x


@pytest.mark.parametrize("cls", [snn.Dropout, Dropout1d, Dropout2d])
def test_inplace_on_a_read_only_input_is_refused_clearly(cls):
    x = _read_only(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=rf"{cls.__name__}\(inplace=True\) cannot write into a read-only input "
                                         r"\(2, 3, 4\).*use inplace=False"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls(0.5, inplace=True)(x)
    assert (x == 1).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cls(0.5, inplace=True).eval()(x) is x  # nothing written: accepted, as torch returns x
        assert cls(0.0, inplace=True)(x) is x
        assert set(np.unique(cls(0.5)(x))) <= {0.0, 2.0}  # out of place: fine


def test_inplace_dropout_after_an_rnn_is_refused_and_out_of_place_works():
    from scratchnet.nn.rnn import RNN
    out, _ = RNN(3, 4)(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32))
    assert not out.flags.writeable  # the RNN's backward reads its output again
    with pytest.raises(ValueError, match="cannot write into a read-only input"):
        snn.Dropout(0.5, inplace=True)(out)
    assert snn.Dropout(0.5)(out).shape == out.shape


@pytest.mark.parametrize("cls", [snn.Dropout, Dropout1d, Dropout2d])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.filterwarnings("ignore:dropout2d")  # a 3-D input warns; the shapes are what is tested
def test_backward_checks_grad_output(cls, training):
    drop = cls(0.5).train(training)
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}.backward called before forward"):
        drop.backward(np.ones((2, 3, 4)))
    drop(np.ones((2, 3, 4)))
    for bad in [(1, 3, 4), (2, 3, 1), (3, 4), (2, 3, 4, 1)]:  # (1, 3, 4) and (2, 3, 1) would broadcast
        with pytest.raises(ValueError, match=rf"{cls.__name__}.backward expected grad_output of the output's shape "
                                             rf"\(2, 3, 4\), got {re.escape(str(bad))}"):
            drop.backward(np.ones(bad))
    assert drop.backward(np.ones((2, 3, 4))).shape == (2, 3, 4)
