"""Conv2d against torch.nn.Conv2d: parity over random configurations, gradient checks, init, bad input."""

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
from scratchnet.nn import Conv2d

DTYPES = [np.float64, np.float32]

# torch notes that 'same' with an even kernel copies the input to pad it asymmetrically; so do we
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")


def twins(*args, dtype=np.float64, **kwargs):
    """A scratchnet Conv2d and torch's with the same arguments (check_module copies torch's weights over)."""
    return Conv2d(*args, dtype=dtype, **kwargs), torch.nn.Conv2d(*args, dtype=torch_dtype(dtype), **kwargs)


@st.composite
def conv_configs(draw):
    """Constructor kwargs and an input shape that fits: any groups, kernel, stride, padding, dilation."""
    groups = draw(st.integers(1, 3))
    in_channels, out_channels = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["same", "valid", "int", "pair"]))
    if padding == "same":
        stride = 1
        pads = [99, 99]  # the output keeps the input size: any size >= 1 fits
    else:
        stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))  # includes stride > kernel
        if padding == "int":
            padding = draw(st.integers(0, 2))
            pads = [padding, padding]
        elif padding == "pair":
            padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
            pads = list(padding)
        else:
            pads = [0, 0]
    dilated = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    # smallest size that gives one output (kernel as large as the padded input), up to a few more
    size = [max(1, dk - 2 * p) + draw(st.integers(0, 4)) for dk, p in zip(dilated, pads)]
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=draw(st.booleans()))
    return (in_channels, out_channels, kernel), kwargs, (draw(st.integers(1, 3)), in_channels, *size)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@examples(60)
@given(config=conv_configs(), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch(dtype, config, seed):
    args, kwargs, input_shape = config
    scratch, twin = twins(*args, dtype=dtype, **kwargs)
    x = np.random.default_rng(seed).standard_normal(input_shape).astype(dtype)
    check_module(scratch, twin, x, seed=seed).assert_passed()


@pytest.mark.parametrize("kwargs, input_shape", [
    (dict(kernel_size=5), (2, 2, 5, 5)),                                   # kernel as large as the input: 1x1 output
    (dict(kernel_size=3, dilation=2), (2, 2, 5, 5)),                       # dilated kernel as large as the input
    (dict(kernel_size=2, stride=5), (2, 2, 11, 9)),                        # stride larger than the kernel
    (dict(kernel_size=4, padding="same"), (2, 2, 6, 7)),                   # even kernel: torch pads 1 before, 2 after
    (dict(kernel_size=(2, 3), padding="same", dilation=(3, 1)), (1, 2, 5, 6)),
    (dict(kernel_size=3, padding="valid"), (1, 2, 4, 4)),
    (dict(kernel_size=1), (3, 2, 4, 4)),
])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_conv2d_edge_configurations(kwargs, input_shape, dtype):
    scratch, twin = twins(2, 4, dtype=dtype, **kwargs)
    x = np.random.default_rng(0).standard_normal(input_shape).astype(dtype)
    check_module(scratch, twin, x).assert_passed()


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(stride=2, padding=1),
    dict(padding="same", dilation=2),
    dict(kernel_size=2, padding="same"),
    dict(groups=2, stride=(1, 2), padding=(2, 0)),
    dict(bias=False, dilation=(2, 1)),
])
def test_conv2d_gradcheck(kwargs):
    kwargs = {"kernel_size": 3, **kwargs}
    scratch = Conv2d(2, 4, dtype=np.float64, **kwargs)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 6))
    assert gradcheck(scratch, x) == []


def test_gradcheck_catches_a_wrong_backward():
    """The check above can fail: a col2im that drops one kernel offset is caught."""
    scratch = Conv2d(1, 2, 3, padding=1, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((1, 1, 4, 4))
    correct = scratch.backward

    def wrong(grad_output):
        return correct(grad_output) * 0.5
    scratch.backward = wrong
    assert gradcheck(scratch, x) != []


def test_conv2d_is_a_matrix_product_of_patches():
    """A hand-computed output pixel: the kernel dotted with one input patch, plus the bias."""
    conv = Conv2d(2, 3, 3, stride=2, padding=1, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((1, 2, 7, 7))
    y = conv(x)
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patch = x_pad[0, :, 2 * 2:2 * 2 + 3, 2 * 1:2 * 1 + 3]  # output (h, w) = (2, 1)
    assert y[0, 1, 2, 1] == pytest.approx(float((conv.weight.data[1] * patch).sum() + conv.bias.data[1]), rel=1e-12)


def test_parameters_state_dict_and_init_match_torch():
    torch.manual_seed(0)
    scratch, twin = twins(8, 64, (3, 2), groups=4, dtype=np.float32)
    assert scratch.weight.shape == tuple(twin.weight.shape) == (64, 2, 3, 2)
    assert list(scratch.state_dict()) == list(twin.state_dict()) == ["weight", "bias"]
    assert scratch.weight.dtype == np.float32 and scratch.bias.dtype == np.float32
    bound = 1 / np.sqrt(2 * 3 * 2)  # kaiming_uniform(a=sqrt(5)): 1/sqrt(fan_in), fan_in = C_in/G kH kW
    for weights in (scratch.weight.data, twin.weight.detach().numpy(), scratch.bias.data, twin.bias.detach().numpy()):
        assert np.abs(weights).max() <= bound
        assert np.abs(weights).max() > 0.9 * bound
    # uniform on (-bound, bound): standard deviation bound / sqrt(3)
    assert scratch.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
    assert twin.weight.detach().numpy().std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
    no_bias, twin_no_bias = twins(2, 3, 3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == list(twin_no_bias.state_dict()) == ["weight"]


def test_attributes_mirror_torch():
    scratch, twin = twins(4, 6, 3, stride=(2, 1), padding=(1, 0), dilation=2, groups=2)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"):
        assert getattr(scratch, name) == getattr(twin, name), name
    same, twin_same = twins(4, 6, 2, padding="same")
    assert same.padding == twin_same.padding == "same"


def test_a_second_call_leaves_earlier_outputs_and_gradients_intact():
    """Each forward keeps its own patches: earlier outputs and gradients stay intact, backward uses the latest."""
    conv = Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    y1 = conv(x1)
    y1_copy = y1.copy()
    grad1 = conv.backward(np.ones_like(y1))
    grad1_copy = grad1.copy()
    conv.zero_grad()
    conv(x2)
    grad2 = conv.backward(np.ones_like(y1))
    np.testing.assert_array_equal(y1, y1_copy)
    np.testing.assert_array_equal(grad1, grad1_copy)
    # and the second backward used the second input's patches
    fresh = Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    fresh.load_state_dict(conv.state_dict())
    fresh(x2)
    np.testing.assert_array_equal(fresh.backward(np.ones_like(y1)), grad2)
    np.testing.assert_array_equal(fresh.weight.grad, conv.weight.grad)


# -- bad input --------------------------------------------------------------------------------


def test_wrong_channel_count_names_the_shapes():
    conv = Conv2d(3, 4, 3, dtype=np.float64)
    with pytest.raises(ValueError, match=r"expected input with 3 channels, shape \(N, 3, H, W\), got \(2, 4, 8, 8\)"):
        conv(np.zeros((2, 4, 8, 8)))


@pytest.mark.parametrize("shape", [(3, 8, 8), (8, 8), (1, 1, 3, 8, 8)])
def test_non_4d_input(shape):
    conv = Conv2d(3, 4, 3, dtype=np.float64)
    shape_text = re.escape(str(shape))
    with pytest.raises(ValueError, match=r"expected a 4-D input \(N, 3, H, W\), got shape " + shape_text):
        conv(np.zeros(shape))


def test_input_smaller_than_the_kernel():
    conv = Conv2d(1, 1, 3, dtype=np.float64)
    with pytest.raises(ValueError, match=r"input \(1, 1, 2, 5\) padded to \(H, W\) = \(2, 5\) is smaller than the "
                                         r"dilated kernel \(3, 3\): the output size would be \(0, 3\) <= 0"):
        conv(np.zeros((1, 1, 2, 5)))


def test_input_smaller_than_the_dilated_kernel():
    conv = Conv2d(1, 1, 3, dilation=3, padding=1, dtype=np.float64)  # dilated kernel 7x7, padded input 6x6
    with pytest.raises(ValueError, match=r"padded to \(H, W\) = \(6, 6\) is smaller than the dilated kernel \(7, 7\): "
                                         r"the output size would be \(0, 0\) <= 0"):
        conv(np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("args, kwargs, match", [
    ((4, 6, 3), dict(groups=4), r"groups=4 must divide in_channels=4 and out_channels=6"),
    ((3, 6, 3), dict(groups=2), r"groups=2 must divide in_channels=3 and out_channels=6"),
    ((4, 4, 3), dict(groups=0), r"positive integer groups, got 0"),
    ((4, 4, 3), dict(padding="same", stride=2), r"padding='same' is not supported for strided convolutions"),
    ((4, 4, 3), dict(padding="full"), r"padding must be an int, a pair, 'same' or 'valid', got 'full'"),
    ((4, 4, 0), dict(), r"kernel_size to be an int >= 1 or a pair of them, got 0"),
    ((4, 4, (3, 3, 3)), dict(), r"kernel_size to be an int >= 1 or a pair of them, got \(3, 3, 3\)"),
    ((4, 4, 3), dict(stride=0), r"stride to be an int >= 1"),
    ((4, 4, 3), dict(padding=-1), r"padding to be an int >= 0"),
    ((4, 4, 3), dict(padding_mode="reflect"), r"padding_mode='zeros' only"),
])
def test_bad_constructor_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2d(*args, **kwargs)


def test_dtype_mismatch_and_integer_input():
    conv = Conv2d(1, 1, 3, dtype=np.float64)
    with pytest.raises(TypeError, match=r"has dtype float32 but the parameters are float64"):
        conv(np.zeros((1, 1, 4, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"must have dtype float32 or float64, got int64"):
        conv(np.zeros((1, 1, 4, 4), dtype=np.int64))
