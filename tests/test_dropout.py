"""Dropout: train/eval behaviour, the seeded mask, and parity with torch through a shared mask.

torch draws its mask from its own generator, so the two sides cannot draw the same one.
Parity is checked by drawing scratchnet's mask (exposed as ``Dropout.mask``), then running
torch's side as ``x * mask / (1 - p)`` -- exactly what torch.nn.Dropout computes for that mask --
and re-seeding scratchnet so that check_module's forward draws that same mask again.
"""

import numpy as np
import pytest
import torch

import scratchnet
import scratchnet.nn as snn
from parity import check_module
from scratchnet.gradcheck import gradcheck


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
