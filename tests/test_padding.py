"""Padding: ZeroPad2d and ConstantPad2d against torch, and the shared pad / pad_backward of every mode
(what Conv1d/Conv2d's padding_mode runs) against torch's padding layers; gradient checks, the adjoint
property, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.module import Module
from scratchnet.nn.padding import ConstantPad2d, ZeroPad2d, check_padding, pad, pad_backward

DTYPES = [np.float64, np.float32]
TORCH_PAD = {"constant": lambda padding: torch.nn.ConstantPad2d(padding, 0.0),
             "reflect": torch.nn.ReflectionPad2d, "replicate": torch.nn.ReplicationPad2d,
             "circular": torch.nn.CircularPad2d}


class Pad(Module):
    """pad / pad_backward as a module, so check_module and gradcheck can drive them."""

    def __init__(self, padding, mode):
        super().__init__()
        self.padding, self.mode = padding, mode

    def forward(self, x):
        check_padding(x.shape, self.padding, self.mode, "Pad")
        self._shape = x.shape
        return pad(x, self.padding, self.mode)

    def backward(self, grad_output):
        return pad_backward(grad_output, self._shape, self.padding, self.mode)


@st.composite
def padded_inputs(draw, mode):
    """An input shape (*, H, W) and a (left, right, top, bottom) padding that ``mode`` accepts:
    constant may crop (negative amounts, down to an empty axis); reflect < size; circular <= size."""
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    leading = draw(st.sampled_from([(), (2,), (2, 3)]))

    def sides(n):
        if mode == "constant":
            before = draw(st.integers(-n, 3))
            return before, draw(st.integers(-(n + min(before, 0)), 3))   # crops at most what is left
        most = {"reflect": n - 1, "circular": n}.get(mode, 4)
        return draw(st.integers(0, most)), draw(st.integers(0, most))

    (top, bottom), (left, right) = sides(h), sides(w)
    return (*leading, h, w), (left, right, top, bottom)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("mode", list(TORCH_PAD))
@examples(25)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_pad_matches_torch_padding_layers(mode, dtype, data, seed):
    shape, padding = data.draw(padded_inputs(mode))
    if mode != "constant" and len(shape) == 2:
        shape = (1, *shape)  # torch's reflection/replication/circular layers take (C, H, W) or (N, C, H, W)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    check_module(Pad(padding, mode), TORCH_PAD[mode](padding), x, seed=seed).assert_passed()


@examples(25)
@given(mode=st.sampled_from(list(TORCH_PAD)), data=st.data(), seed=st.integers(0, 2**16))
def test_pad_backward_is_the_adjoint_of_pad(mode, data, seed):
    """Property: <pad(x), g> = <x, pad_backward(g)> for every x and g (the defining property of a backward)."""
    shape, padding = data.draw(padded_inputs(mode))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x_pad = pad(x, padding, mode)
    g = rng.standard_normal(x_pad.shape)
    assert np.vdot(x_pad, g) == pytest.approx(np.vdot(x, pad_backward(g, shape, padding, mode)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5), (4, 5)], ids=["batched", "unbatched", "2-D"])
@pytest.mark.parametrize("padding", [2, (1, 2, 0, 3), (-1, 2, -2, 0), (-3, 4, 0, -1), (-5, 0, -4, 0), [0, 0, 0, 0]])
@pytest.mark.parametrize("layer", ["ZeroPad2d", "ConstantPad2d"])
def test_constant_padding_layers_match_torch(layer, padding, shape, dtype):
    """Negative amounts crop, as torch allows, down to an empty axis ((-5, 0) on W = 5)."""
    args = (padding,) if layer == "ZeroPad2d" else (padding, -1.5)
    scratch = {"ZeroPad2d": ZeroPad2d, "ConstantPad2d": ConstantPad2d}[layer](*args)
    twin = getattr(torch.nn, layer)(*args)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    y = scratch(x)
    assert y.dtype == dtype
    check_module(scratch, twin, x).assert_passed()


@examples(20)
@given(data=st.data(), value=st.floats(-10, 10), seed=st.integers(0, 2**16))
def test_constant_pad2d_places_x_inside_a_field_of_value(data, value, seed):
    """Property, apart from torch: every pixel of y is value or the x pixel it sits on."""
    shape, padding = data.draw(padded_inputs("constant"))
    left, right, top, bottom = padding
    x = np.random.default_rng(seed).standard_normal(shape)
    y = ConstantPad2d(padding, value)(x)
    h, w = shape[-2:]
    assert y.shape == (*shape[:-2], h + top + bottom, w + left + right)
    for p in range(y.shape[-2]):
        for q in range(y.shape[-1]):
            i, j = p - top, q - left
            expected = x[..., i, j] if 0 <= i < h and 0 <= j < w else value
            np.testing.assert_array_equal(y[..., p, q], expected)


@pytest.mark.parametrize("module", [
    lambda: ZeroPad2d((1, -1, 2, 0)),
    lambda: ConstantPad2d(2, 3.0),
    lambda: Pad((2, 1, 0, 2), "reflect"),
    lambda: Pad((3, 1, 4, 2), "replicate"),
    lambda: Pad((3, 1, 2, 0), "circular"),
], ids=["ZeroPad2d", "ConstantPad2d", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape", [(2, 2, 3, 4), (2, 3, 4)], ids=["batched", "unbatched"])
def test_gradcheck(module, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    assert gradcheck(module(), x) == []


def test_gradcheck_catches_a_border_gradient_dropped():
    """Reflect padding copies x's pixels into the border: a backward that drops the border's gradient
    (constant padding's adjoint) is caught."""
    wrong = Pad((2, 1, 0, 2), "reflect")
    wrong.backward = lambda grad_output: pad_backward(grad_output, wrong._shape, wrong.padding, "constant")
    assert gradcheck(wrong, np.random.default_rng(1).standard_normal((2, 3, 4))) != []


@pytest.mark.parametrize("make, twin", [
    (lambda: ZeroPad2d(2), lambda: torch.nn.ZeroPad2d(2)),
    (lambda: ZeroPad2d([1, -1, 2, 0]), lambda: torch.nn.ZeroPad2d([1, -1, 2, 0])),
    (lambda: ConstantPad2d(1, 3.5), lambda: torch.nn.ConstantPad2d(1, 3.5)),
    (lambda: ConstantPad2d((1, 2, 3, 4), 2), lambda: torch.nn.ConstantPad2d((1, 2, 3, 4), 2)),
])
def test_attributes_and_repr_mirror_torch(make, twin):
    scratch, theirs = make(), twin()
    assert scratch.padding == theirs.padding and scratch.value == theirs.value
    assert repr(scratch) == repr(theirs)
    assert list(scratch.state_dict()) == list(theirs.state_dict()) == []


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("padding, shape, match", [
    ((-4, 0, 0, 0), (1, 5, 3), r"ZeroPad2d\(\(-4, 0, 0, 0\)\) padding \(-4, 0, 0, 0\) crops 4 from W = 3: "
                               r"negative padding can crop at most the whole axis"),
    ((-2, -2, 0, 0), (1, 5, 3), r"crops 4 from W = 3"),
    ((0, 0, -3, -3), (1, 5, 3), r"crops 6 from H = 5"),
    ((-5, 4, 0, 0), (1, 5, 3), r"crops 5 from W = 3"),
])
def test_cropping_more_than_the_axis_is_refused_like_torch(padding, shape, match):
    with pytest.raises(RuntimeError):
        torch.nn.ZeroPad2d(padding)(torch.zeros(shape))
    with pytest.raises(ValueError, match=match):
        ZeroPad2d(padding)(np.zeros(shape))


@pytest.mark.parametrize("shape", [(5,), ()])
def test_input_with_fewer_than_two_axes(shape):
    with pytest.raises(RuntimeError):
        torch.nn.ZeroPad2d(1)(torch.zeros(shape))
    with pytest.raises(ValueError, match=r"ZeroPad2d\(\(1, 1, 1, 1\)\) expected an input \(\*, H, W\) of at least "
                                         r"2 dimensions, got shape"):
        ZeroPad2d(1)(np.zeros(shape))


@pytest.mark.parametrize("padding", [(1, 2, 3), (1, 2, 3, 4, 5, 6), 1.5, (1, 2, 3, 4.0), True, "1", None])
def test_bad_padding_arguments(padding):
    """torch fails on these at the first call, or (a 6-tuple) pads three axes; we refuse them when built."""
    with pytest.raises(ValueError, match=r"ZeroPad2d expected padding to be an int or a 4-tuple \(left, right, top, "
                                         r"bottom\) of ints, got"):
        ZeroPad2d(padding)


@pytest.mark.parametrize("value", ["1", None, [1.0], True])
def test_bad_constant_value(value):
    with pytest.raises(TypeError, match=r"ConstantPad2d expected a real number value, got"):
        ConstantPad2d(1, value)


def test_non_float_input():
    with pytest.raises(TypeError, match=r"^ZeroPad2d\(\(1, 1, 1, 1\)\) input must have dtype float32 or float64, "
                                        r"got int64"):
        ZeroPad2d(1)(np.zeros((2, 3, 3), dtype=np.int64))
    with pytest.raises(TypeError, match=r"input must be a numpy.ndarray, got list"):
        ZeroPad2d(1)([[1.0, 2.0]])


@pytest.mark.parametrize("padding, mode, shape, match", [
    ((3, 0, 0, 0), "reflect", (1, 2, 3), r"Pad padding_mode='reflect' needs each padding smaller than the size it "
                                         r"pads: got \(3, 0\) for W = 3"),
    ((0, 0, 0, 3), "circular", (1, 2, 3), r"'circular' .* got \(0, 3\) for H = 2"),
    ((1, 1, 1, 1), "replicate", (1, 0, 3), r"'replicate' needs a non-empty H, got H = 0"),
    ((-1, 1, 1, 1), "replicate", (1, 3, 3), r"'replicate' needs non-negative padding, got \(-1, 1, 1, 1\)"),
])
def test_check_padding_refuses_what_torch_refuses(padding, mode, shape, match):
    if min(padding) >= 0:  # torch crops by its own rules there; no layer here passes such a padding (see check_padding)
        with pytest.raises(RuntimeError):
            TORCH_PAD[mode](padding)(torch.zeros(shape))
    with pytest.raises(ValueError, match=match):
        Pad(padding, mode)(np.zeros(shape))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("shape", [(0, 2, 4, 5), (1, 0, 4, 5), (0, 4, 5)], ids=["N=0", "C=0", "unbatched-C=0"])
@pytest.mark.parametrize("make, twin", [
    (lambda: ZeroPad2d(1), lambda: torch.nn.ZeroPad2d(1)),
    (lambda: ConstantPad2d((1, 2, 0, -1), 3.5), lambda: torch.nn.ConstantPad2d((1, 2, 0, -1), 3.5)),
])
def test_empty_batch_and_channels_match_torch(make, twin, shape, dtype):
    scratch, theirs = make(), twin()
    x = np.zeros(shape, dtype=dtype)
    assert scratch(x).shape == tuple(theirs(torch.tensor(x)).shape)
    check_module(scratch, theirs, x).assert_passed()


@pytest.mark.parametrize("make", [lambda: ZeroPad2d((1, 2, 0, 3)), lambda: ConstantPad2d(-1, 1.0)])
def test_backward_refuses_a_grad_output_not_of_the_outputs_shape(make):
    layer = make()
    name = type(layer).__name__
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward: call forward first"):
        layer.backward(np.zeros((2, 3, 4, 5)))
    y = layer(np.zeros((2, 3, 4, 8)))                    # (2, 3, 7, 11) or (2, 3, 2, 6): never square
    for g in [y.swapaxes(-1, -2), y[None], y[..., :-1], y.reshape(-1)]:  # transposed, extra axis, short, flat
        with pytest.raises(ValueError, match=rf"{name}.backward expected grad_output of the output's shape "
                                             rf"\({', '.join(map(str, y.shape))}\), got"):
            layer.backward(np.ascontiguousarray(g))
    assert layer.backward(np.ones_like(y)).shape == (2, 3, 4, 8)
