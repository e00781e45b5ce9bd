"""Conv1d and Conv2d against torch: parity over configurations x padding modes x batched/unbatched,
gradient checks, properties, init, bad input."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples
from parity import check_module
from parity.transfer import torch_dtype
from scratchnet.gradcheck import gradcheck
from scratchnet.nn.conv import Conv1d, Conv2d

DTYPES = [np.float64, np.float32]
MODES = ["zeros", "reflect", "replicate", "circular"]
LAYERS = {"Conv1d": (Conv1d, torch.nn.Conv1d, 1), "Conv2d": (Conv2d, torch.nn.Conv2d, 2)}
NUMPY_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}

def twins(name, *args, dtype=np.float64, **kwargs):
    """A scratchnet layer and torch's with the same arguments (check_module copies torch's weights over)."""
    scratch_cls, torch_cls, _ = LAYERS[name]
    return scratch_cls(*args, dtype=dtype, **kwargs), torch_cls(*args, dtype=torch_dtype(dtype), **kwargs)


def side_pads(kernel, dilation, padding):
    """(before, after) per spatial axis, as torch pads it."""
    if padding == "same":
        return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    if padding == "valid":
        return [(0, 0) for _ in kernel]
    return [(p, p) for p in padding]


def smallest_size(dilated, before, after, mode):
    """The smallest input size torch accepts: one output, and the padding mode's own limit."""
    least = {"reflect": max(before, after) + 1, "circular": max(before, after)}.get(mode, 1)
    return max(1, dilated - before - after, least)


@st.composite
def conv_configs(draw, dims):
    """Constructor args and kwargs and an input shape that fits: any groups, kernel, stride, padding, dilation,
    padding_mode, bias, batched (N, C, *spatial) or unbatched (C, *spatial)."""
    def per_axis(low, high):
        return tuple(draw(st.integers(low, high)) for _ in range(dims))

    groups = draw(st.integers(1, 3))
    in_channels, out_channels = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel, dilation = per_axis(1, 4), per_axis(1, 3)
    mode = draw(st.sampled_from(MODES))
    padding = draw(st.sampled_from(["same", "valid", "int", "tuple"]))
    stride = 1 if padding == "same" else per_axis(1, 5)  # includes stride > kernel
    if padding == "int":
        padding = draw(st.integers(0, 2))
    elif padding == "tuple":
        padding = per_axis(0, 2)
    pads = side_pads(kernel, dilation, (padding,) * dims if isinstance(padding, int) else padding)
    dilated = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = [smallest_size(dk, *p, mode) + draw(st.integers(0, 4)) for dk, p in zip(dilated, pads)]
    batch = draw(st.sampled_from([(), (0,), (1,), (3,)]))  # (0,): an empty batch, which torch takes
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=draw(st.booleans()),
                  padding_mode=mode)
    return (in_channels, out_channels, kernel), kwargs, (*batch, in_channels, *size)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name", LAYERS)
@examples(40)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_conv_matches_torch(name, dtype, data, seed):
    args, kwargs, input_shape = data.draw(conv_configs(LAYERS[name][2]))
    scratch, twin = twins(name, *args, dtype=dtype, **kwargs)
    x = np.random.default_rng(seed).standard_normal(input_shape).astype(dtype)
    check_module(scratch, twin, x, seed=seed).assert_passed()


GRID = [dict(kernel_size=3, padding=2, dilation=2, groups=2),    # padding as large as reflect allows on L = 3
        dict(kernel_size=2, padding="same"),                     # even kernel: 0 before, 1 after
        dict(kernel_size=3, padding=1, stride=2, bias=False)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs", GRID, ids=["padded-dilated-groups", "same-even", "strided"])
@pytest.mark.parametrize("name", LAYERS)
def test_every_padding_mode_batched_and_unbatched(name, kwargs, mode, batched, dtype):
    scratch, twin = twins(name, 4, 6, dtype=dtype, padding_mode=mode, **kwargs)
    spatial = (3, 5)[-LAYERS[name][2]:]
    x = np.random.default_rng(0).standard_normal(((2,) if batched else ()) + (4, *spatial)).astype(dtype)
    y = scratch(x)
    assert y.ndim == x.ndim and y.dtype == dtype
    check_module(scratch, twin, x).assert_passed()


@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(kernel_size=5), (2, 2, 5, 5)),                                   # kernel as large as the input: 1x1 output
    (dict(kernel_size=3, dilation=2), (2, 2, 5, 5)),                       # dilated kernel as large as the input
    (dict(kernel_size=2, stride=5), (2, 2, 11, 9)),                        # stride larger than the kernel
    (dict(kernel_size=4, padding="same"), (2, 2, 6, 7)),                   # even kernel: torch pads 1 before, 2 after
    (dict(kernel_size=(2, 3), padding="same", dilation=(3, 1)), (1, 2, 5, 6)),
    (dict(kernel_size=3, padding="valid"), (1, 2, 4, 4)),
    (dict(kernel_size=1), (3, 2, 4, 4)),
    (dict(kernel_size=3, padding=3, padding_mode="circular"), (1, 2, 3, 3)),  # circular wraps the whole input once
    (dict(kernel_size=3, padding=2, padding_mode="reflect"), (2, 3, 3)),      # reflect: padding = size - 1
    (dict(kernel_size=(1, 3), padding=(4, 1), padding_mode="replicate"), (2, 1, 4)),  # replicate: any padding
    (dict(kernel_size=4, padding=(1, 1), stride=3, padding_mode="reflect"), (1, 2, 5, 5)),
])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_conv2d_edge_configurations(kwargs, input_shape, dtype):
    scratch, twin = twins("Conv2d", 2, 4, dtype=dtype, **kwargs)
    x = np.random.default_rng(0).standard_normal(input_shape).astype(dtype)
    check_module(scratch, twin, x).assert_passed()


@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(kernel_size=5), (2, 2, 5)),
    (dict(kernel_size=(2,), stride=(5,)), (2, 11)),
    (dict(kernel_size=4, padding="same", dilation=3, padding_mode="reflect"), (1, 2, 6)),
    (dict(kernel_size=3, padding=(3,), padding_mode="circular"), (2, 3)),
    (dict(kernel_size=3, padding="valid", padding_mode="replicate"), (2, 2, 3)),
])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_conv1d_edge_configurations(kwargs, input_shape, dtype):
    scratch, twin = twins("Conv1d", 2, 4, dtype=dtype, **kwargs)
    x = np.random.default_rng(0).standard_normal(input_shape).astype(dtype)
    check_module(scratch, twin, x).assert_passed()


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs", [
    dict(padding=2, stride=2),
    dict(padding="same", dilation=2, groups=2),
    dict(kernel_size=2, padding="same", bias=False),
])
@pytest.mark.parametrize("name", LAYERS)
def test_gradcheck(name, kwargs, mode, batched):
    scratch = LAYERS[name][0](2, 4, **{"kernel_size": 3, **kwargs}, padding_mode=mode, dtype=np.float64)
    spatial = (4, 5)[-LAYERS[name][2]:]
    x = np.random.default_rng(1).standard_normal(((2,) if batched else ()) + (2, *spatial))
    assert gradcheck(scratch, x) == []


def test_gradcheck_catches_a_wrong_backward():
    """The check above can fail: a backward off by a factor is caught."""
    scratch = Conv2d(1, 2, 3, padding=1, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((1, 1, 4, 4))
    correct = scratch.backward
    scratch.backward = lambda grad_output: correct(grad_output) * 0.5
    assert gradcheck(scratch, x) != []


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_gradcheck_catches_a_border_gradient_dropped(mode):
    """With padding_mode != 'zeros' the border copies x's pixels: a backward that drops the border's
    gradient (zero padding's adjoint) is caught, so the checks above test each mode's own backward."""
    scratch = Conv2d(1, 2, 3, padding=1, padding_mode=mode, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((1, 1, 4, 4))
    assert gradcheck(scratch, x) == []

    def zero_padding_adjoint(grad_output):
        scratch._pad_mode = "constant"
        try:
            return Conv2d.backward(scratch, grad_output)
        finally:
            scratch._pad_mode = mode
    scratch.backward = zero_padding_adjoint
    assert gradcheck(scratch, x) != []


def test_conv2d_is_a_matrix_product_of_patches():
    """A hand-computed output pixel: the kernel dotted with one input patch, plus the bias."""
    conv = Conv2d(2, 3, 3, stride=2, padding=1, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((1, 2, 7, 7))
    y = conv(x)
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patch = x_pad[0, :, 2 * 2:2 * 2 + 3, 2 * 1:2 * 1 + 3]  # output (h, w) = (2, 1)
    assert y[0, 1, 2, 1] == pytest.approx(float((conv.weight.data[1] * patch).sum() + conv.bias.data[1]), rel=1e-12)


def test_conv1d_is_a_dot_product_with_a_dilated_window():
    """A hand-computed output: y[o, l] = b[o] + sum_{c, i} W[o, c, i] x_pad[c, l s + i d]."""
    conv = Conv1d(2, 3, 3, stride=2, padding=2, dilation=2, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((2, 9))
    y = conv(x)
    x_pad = np.pad(x, ((0, 0), (2, 2)))
    window = x_pad[:, 2 * 3:2 * 3 + 5:2]  # output l = 3, taps 0, 2, 4
    assert y[1, 3] == pytest.approx(float((conv.weight.data[1] * window).sum() + conv.bias.data[1]), rel=1e-12)


@examples(15)
@given(name=st.sampled_from(list(LAYERS)), mode=st.sampled_from(MODES[1:]), data=st.data(),
       seed=st.integers(0, 2**16))
def test_padding_modes_match_numpy_pad(name, mode, data, seed):
    """An oracle apart from torch: padding_mode=m is a valid convolution of np.pad(x, mode=m's numpy name)."""
    dims = LAYERS[name][2]
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(dims))
    padding = tuple(data.draw(st.integers(0, 2)) for _ in range(dims))
    size = tuple(max(p + 1, k) + data.draw(st.integers(0, 3)) for k, p in zip(kernel, padding))  # fits every mode
    conv = LAYERS[name][0](2, 3, kernel, padding=padding, padding_mode=mode, dtype=np.float64)
    valid = LAYERS[name][0](2, 3, kernel, dtype=np.float64)
    valid.load_state_dict(conv.state_dict())
    x = np.random.default_rng(seed).standard_normal((2, 2, *size))
    x_pad = np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)), mode=NUMPY_PAD_MODE[mode])
    np.testing.assert_allclose(conv(x), valid(x_pad), rtol=1e-12, atol=1e-12)


@examples(20)
@given(name=st.sampled_from(list(LAYERS)), data=st.data(), seed=st.integers(0, 2**16))
def test_unbatched_is_a_batch_of_one(name, data, seed):
    """Property: y(x) = y(x[None])[0], and the same for dx and the parameter gradients."""
    args, kwargs, shape = data.draw(conv_configs(LAYERS[name][2]))
    conv = LAYERS[name][0](*args, **kwargs, dtype=np.float64)
    x = np.random.default_rng(seed).standard_normal(shape[-LAYERS[name][2] - 1:])   # (C, *spatial)
    y = conv(x)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = conv.backward(g)
    grads = [p.grad for p in conv.parameters()]
    conv.zero_grad()
    y_batched = conv(x[None])
    dx_batched = conv.backward(g[None])
    assert y.shape == y_batched.shape[1:] and dx.shape == x.shape
    np.testing.assert_array_equal(y, y_batched[0])
    np.testing.assert_array_equal(dx, dx_batched[0])
    for grad, p in zip(grads, conv.parameters(), strict=True):
        np.testing.assert_array_equal(grad, p.grad)


@examples(15)
@given(name=st.sampled_from(list(LAYERS)), data=st.data(), seed=st.integers(0, 2**16))
def test_circular_padding_makes_the_layer_shift_equivariant(name, data, seed):
    """Property: with circular 'same' padding and stride 1, rolling x along its last axis rolls y as much."""
    dims = LAYERS[name][2]
    kernel = tuple(2 * data.draw(st.integers(0, 2)) + 1 for _ in range(dims))   # odd: 'same' pads evenly
    size = tuple(k + data.draw(st.integers(0, 3)) for k in kernel)
    shift = data.draw(st.integers(1, size[-1] - 1)) if size[-1] > 1 else 0
    conv = LAYERS[name][0](2, 3, kernel, padding="same", padding_mode="circular", dtype=np.float64)
    x = np.random.default_rng(seed).standard_normal((2, 2, *size))
    np.testing.assert_allclose(conv(np.roll(x, shift, axis=-1)), np.roll(conv(x), shift, axis=-1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
def test_parameters_state_dict_and_init_match_torch(name):
    torch.manual_seed(0)
    dims = LAYERS[name][2]
    kernel = (3, 2)[-dims:]
    scratch, twin = twins(name, 8, 64, kernel, groups=4, dtype=np.float32)
    assert scratch.weight.shape == tuple(twin.weight.shape) == (64, 2, *kernel)
    assert list(scratch.state_dict()) == list(twin.state_dict()) == ["weight", "bias"]
    assert scratch.weight.dtype == np.float32 and scratch.bias.dtype == np.float32
    bound = 1 / np.sqrt(2 * np.prod(kernel))  # kaiming_uniform(a=sqrt(5)): 1/sqrt(fan_in), fan_in = C_in/G prod(k)
    for weights in (scratch.weight.data, twin.weight.detach().numpy(), scratch.bias.data, twin.bias.detach().numpy()):
        assert np.abs(weights).max() <= bound
        assert np.abs(weights).max() > 0.8 * bound
    # uniform on (-bound, bound): standard deviation bound / sqrt(3)
    assert scratch.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
    assert twin.weight.detach().numpy().std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
    no_bias, twin_no_bias = twins(name, 2, 3, 3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == list(twin_no_bias.state_dict()) == ["weight"]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(stride=2, padding=1, dilation=2, groups=2),
    dict(padding="same", padding_mode="reflect"),
    dict(padding="valid", padding_mode="circular", bias=False),
    dict(kernel_size=4, padding="same", dilation=3, padding_mode="replicate"),
    dict(padding=(2, 1)),
])
@pytest.mark.parametrize("name", LAYERS)
def test_attributes_and_repr_mirror_torch(name, kwargs):
    if name == "Conv1d" and kwargs.get("padding") == (2, 1):
        kwargs = {**kwargs, "padding": (2,)}
    scratch, twin = twins(name, 4, 6, **{"kernel_size": 3, **kwargs})
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode"):
        assert getattr(scratch, attr) == getattr(twin, attr), attr
    assert tuple(scratch._reversed_padding_repeated_twice) == tuple(twin._reversed_padding_repeated_twice)
    assert repr(scratch) == repr(twin)


def test_a_second_call_leaves_earlier_outputs_and_gradients_intact():
    """Each forward keeps its own patches: earlier outputs and gradients stay intact, backward uses the latest."""
    conv = Conv2d(2, 3, 3, padding=1, padding_mode="reflect", dtype=np.float64)
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 5, 5))
    y1 = conv(x1)
    y1_copy = y1.copy()
    grad1 = conv.backward(np.ones_like(y1))
    grad1_copy = grad1.copy()
    conv.zero_grad()
    y2 = conv(x2)
    grad2 = conv.backward(np.ones_like(y2))
    np.testing.assert_array_equal(y1, y1_copy)
    np.testing.assert_array_equal(grad1, grad1_copy)
    # and the second backward used the second input's patches
    fresh = Conv2d(2, 3, 3, padding=1, padding_mode="reflect", dtype=np.float64)
    fresh.load_state_dict(conv.state_dict())
    fresh(x2)
    np.testing.assert_array_equal(fresh.backward(np.ones_like(y2)), grad2)
    np.testing.assert_array_equal(fresh.weight.grad, conv.weight.grad)


# -- bad input: refused where torch refuses, with a message naming the problem ------------------


@pytest.mark.parametrize("name, shape, expected", [
    ("Conv2d", (2, 4, 8, 8), r"expected input of shape \(N, 3, H, W\) or \(3, H, W\), got \(2, 4, 8, 8\)"),
    ("Conv2d", (4, 8, 8), r"expected input of shape \(N, 3, H, W\) or \(3, H, W\), got \(4, 8, 8\)"),
    ("Conv2d", (8, 8), r"expected input of shape \(N, 3, H, W\) or \(3, H, W\), got \(8, 8\)"),
    ("Conv2d", (1, 1, 3, 8, 8), r"expected input of shape \(N, 3, H, W\) or \(3, H, W\), got \(1, 1, 3, 8, 8\)"),
    ("Conv1d", (2, 4, 8), r"expected input of shape \(N, 3, L\) or \(3, L\), got \(2, 4, 8\)"),
    ("Conv1d", (8,), r"expected input of shape \(N, 3, L\) or \(3, L\), got \(8,\)"),
    ("Conv1d", (1, 3, 8, 8), r"expected input of shape \(N, 3, L\) or \(3, L\), got \(1, 3, 8, 8\)"),
])
def test_wrong_input_shape_names_the_shapes(name, shape, expected):
    scratch, twin = twins(name, 3, 4, 3)
    with pytest.raises(RuntimeError):
        twin(torch.zeros(shape, dtype=torch.float64))
    with pytest.raises(ValueError, match=re.escape(f"{name}(3, 4, kernel_size=") + r".*\) " + expected):
        scratch(np.zeros(shape))


@pytest.mark.parametrize("name, kwargs, shape, expected", [
    ("Conv2d", dict(padding=2, padding_mode="reflect"), (1, 1, 2, 5),
     r"padding_mode='reflect' needs each padding smaller than the size it pads: got \(2, 2\) for H = 2"),
    ("Conv2d", dict(padding=(0, 3), padding_mode="reflect"), (1, 5, 3),
     r"padding_mode='reflect' needs each padding smaller than the size it pads: got \(3, 3\) for W = 3"),
    ("Conv2d", dict(padding="same", padding_mode="reflect"), (1, 1, 1, 1),
     r"padding_mode='reflect' needs each padding smaller than the size it pads: got \(1, 1\) for H = 1"),
    ("Conv1d", dict(padding=2, padding_mode="reflect"), (1, 2),
     r"padding_mode='reflect' needs each padding smaller than the size it pads: got \(2, 2\) for L = 2"),
    ("Conv2d", dict(padding=4, padding_mode="circular"), (1, 1, 3, 3),
     r"padding_mode='circular' needs each padding at most the size it pads \(it would wrap around more than "
     r"once\): got \(4, 4\) for H = 3"),
    ("Conv1d", dict(padding=3, padding_mode="circular"), (2, 1, 2),
     r"padding_mode='circular' .* got \(3, 3\) for L = 2"),
    ("Conv2d", dict(), (1, 1, 2, 5), r"input \(1, 1, 2, 5\) padded to \(H, W\) = \(2, 5\) is smaller than the "
                                     r"dilated kernel \(3, 3\): the output size would be \(0, 3\) <= 0"),
    ("Conv2d", dict(dilation=3, padding=1), (1, 4, 4), r"padded to \(H, W\) = \(6, 6\) is smaller than the dilated "
                                                       r"kernel \(7, 7\): the output size would be \(0, 0\) <= 0"),
    ("Conv1d", dict(padding=1, padding_mode="replicate"), (1, 1, 0),
     r"takes an empty batch \(N = 0\) or C_in = 0, as torch does, but not an empty \(L\): got input shape \(1, 1, 0\)"),
    ("Conv2d", dict(padding=1), (1, 1, 0, 5), r"but not an empty \(H, W\): got input shape \(1, 1, 0, 5\)"),
    ("Conv1d", dict(dilation=2), (1, 1, 4), r"input \(1, 1, 4\) padded to \(L\) = \(4,\) is smaller than the "
                                            r"dilated kernel \(5,\): the output size would be \(0,\) <= 0"),
])
def test_inputs_too_small_for_the_padding_mode_or_kernel(name, kwargs, shape, expected):
    scratch, twin = twins(name, 1, 1, 3, **kwargs)
    with pytest.raises(RuntimeError):
        twin(torch.zeros(shape, dtype=torch.float64))
    with pytest.raises(ValueError, match=expected):
        scratch(np.zeros(shape))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("args, kwargs, match", [
    ((4, 6, 3), dict(groups=4), r"groups=4 must divide in_channels=4 and out_channels=6"),
    ((3, 6, 3), dict(groups=2), r"groups=2 must divide in_channels=3 and out_channels=6"),
    ((4, 4, 3), dict(groups=0), r"positive integer groups, got 0"),
    ((4, 4, 3), dict(padding="same", stride=2), r"padding='same' is not supported for strided convolutions"),
    ((4, 4, 3), dict(padding="full"), r"padding must be an int, a tuple, 'same' or 'valid', got 'full'"),
    ((4, 4, 3), dict(padding_mode="mirror"),
     r"padding_mode must be one of \('zeros', 'reflect', 'replicate', 'circular'\), got 'mirror'"),
])
def test_bad_constructor_arguments_torch_refuses_too(name, args, kwargs, match):
    with pytest.raises(ValueError):
        LAYERS[name][1](*args, **kwargs)
    with pytest.raises(ValueError, match=match):
        LAYERS[name][0](*args, **kwargs)


@pytest.mark.parametrize("name, args, kwargs, match", [
    ("Conv2d", (4, 4, 0), dict(), r"kernel_size to be an int >= 1 or a pair of them, got 0"),
    ("Conv2d", (4, 4, (3, 3, 3)), dict(), r"kernel_size to be an int >= 1 or a pair of them, got \(3, 3, 3\)"),
    ("Conv1d", (4, 4, (3, 3)), dict(), r"kernel_size to be an int >= 1 or a 1-tuple of them, got \(3, 3\)"),
    ("Conv2d", (4, 4, 3), dict(stride=0), r"stride to be an int >= 1"),
    ("Conv1d", (4, 4, 3), dict(dilation=0), r"dilation to be an int >= 1"),
    ("Conv2d", (4, 4, 3), dict(padding=-1), r"padding to be an int >= 0"),
    ("Conv1d", (4, 4, 3), dict(padding=-1), r"padding to be an int >= 0"),
    ("Conv2d", (-1, 4, 3), dict(), r"non-negative integer in_channels, got -1"),
])
def test_bad_constructor_arguments_refused_early(name, args, kwargs, match):
    """torch builds these layers and fails at the first forward (or builds a broken one); we refuse them up front."""
    with pytest.raises(ValueError, match=match):
        LAYERS[name][0](*args, **kwargs)


@pytest.mark.parametrize("name", LAYERS)
def test_dtype_mismatch_and_integer_input(name):
    conv = LAYERS[name][0](1, 1, 3, dtype=np.float64)
    shape = (1, 1, 4, 4)[:LAYERS[name][2] + 2]
    with pytest.raises(TypeError, match=rf"^{name}.* input has dtype float32 but the parameters are float64"):
        conv(np.zeros(shape, dtype=np.float32))
    with pytest.raises(TypeError, match=r"must have dtype float32 or float64, got int64"):
        conv(np.zeros(shape, dtype=np.int64))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", LAYERS)
def test_an_empty_batch_matches_torch(name, mode, dtype):
    """N = 0 gives an empty output of torch's shape, zero parameter gradients and an empty dx."""
    scratch, twin = twins(name, 4, 6, 3, dtype=dtype, padding=1, groups=2, padding_mode=mode)
    x = np.zeros((0, 4, 5, 5)[:LAYERS[name][2] + 2], dtype=dtype)
    assert scratch(x).shape == tuple(twin(torch.tensor(x)).shape) == (0, 6, 5, 5)[:LAYERS[name][2] + 2]
    check_module(scratch, twin, x).assert_passed()


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize("name", LAYERS)
def test_no_output_channels_refused_at_forward_as_torch_does(name):
    scratch, twin = twins(name, 2, 0, 3)          # both build it (torch warns); neither runs it
    x = np.zeros((1, 2, 5, 5)[:LAYERS[name][2] + 2])
    with pytest.raises(RuntimeError, match="expected weight to be at least 1 at dimension 0"):
        twin(torch.tensor(x))
    with pytest.raises(ValueError, match=r"cannot run without output channels: torch expects the weight to be at "
                                         r"least 1 at dimension 0, got weight of size \(0, 2, 3"):
        scratch(x)


@pytest.mark.parametrize("padding", [0, 1, (1, 0), (0, 2), "valid", "same"])
@pytest.mark.parametrize("name", LAYERS)
def test_repr_matches_torch_for_every_padding_form(name, padding):
    padding = padding[:LAYERS[name][2]] if isinstance(padding, tuple) else padding
    scratch, twin = twins(name, 2, 4, 3, padding=padding)
    assert repr(scratch) == repr(twin)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("name", LAYERS)
def test_backward_refuses_a_grad_output_not_of_the_outputs_shape(name, batched):
    conv = LAYERS[name][0](2, 3, (2, 3)[:LAYERS[name][2]], dtype=np.float64)
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward: call forward first"):
        conv.backward(np.zeros((1, 3, 4, 3)))
    x = np.zeros(((2,) if batched else ()) + (2, 5, 7)[:LAYERS[name][2] + 1])
    y = conv(x)                                            # (.., 3, 4, 5) or (.., 3, 4): never square at the end
    for g in [y.swapaxes(-1, -2), y[None], y[..., :-1], y.reshape(-1)]:  # transposed, extra axis, short, flat
        with pytest.raises(ValueError, match=rf"expected grad_output of the output's shape "
                                             rf"{re.escape(str(y.shape))}, got {re.escape(str(g.shape))}"):
            conv.backward(np.ascontiguousarray(g))
    assert conv.backward(np.ones_like(y)).shape == x.shape  # the right shape still goes through
